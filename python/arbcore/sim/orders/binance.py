"""Binance Spot and USD-M order entry, as the simulator speaks it (``venue.protocol.market`` picks
``"spot"`` or ``"usdm"``; see `arbcore.venues.orders.binance` for the client side).

Served beside the market data of `arbcore.sim.binance.BinanceSim`:

- WebSocket API on ``/ws-api/v3`` (spot) or ``/ws-fapi/v1`` (USD-M): ``order.place``,
  ``order.cancel``, ``order.status``, ``openOrders.status`` (spot), ``account.status`` (spot),
  ``v2/account.balance`` and ``account.balance`` (USD-M), ``myTrades`` and
  ``userDataStream.subscribe.signature`` (spot), ``ping``, ``time``. Every signed request is
  verified as Binance does: the params but ``signature`` sorted by name, ``k=v`` joined by ``&``,
  HMAC-SHA256 with the account's secret (-1022 "Signature for this request is not valid."
  otherwise), ``timestamp`` within ``recvWindow`` (-1021), a known ``apiKey`` (-2015, -2014 when
  missing).
- Spot private events go to the WS API connection that subscribed, wrapped as
  ``{"subscriptionId":n,"event":{"e":"executionReport",..}}``; on a cancel, ``c`` is the cancel
  request's own client id and ``C`` the order's, as on the real venue.
- USD-M private events: ``POST /fapi/v1/listenKey`` (key header only) gives a key; a WebSocket on
  ``/ws/<listenKey>`` receives ``ORDER_TRADE_UPDATE`` events. ``PUT``/``DELETE`` keep alive / close.
- REST: ``GET /api/v3/exchangeInfo`` (``symbol=`` or ``symbols=["..",..]``), ``GET /fapi/v1/exchangeInfo``,
  ``GET /fapi/v1/openOrders`` and ``GET /fapi/v1/userTrades`` (signed REST: the query string and
  body before ``&signature=`` are HMACed, key in ``X-MBX-APIKEY``).

Refusals (SimExchange `Refusal` -> Binance code and message):

======================== ================================================ ===========================================
refusal                  spot                                             USD-M
======================== ================================================ ===========================================
RATE_LIMIT               429, -1015 Too many new orders; ...              429, -1015 Too many new orders; ...
FAULT_REJECT             -2010 Order was rejected. (*)                    -2010 Order was rejected. (*)
UNKNOWN_SYMBOL           -1121 Invalid symbol.                            -1121 Invalid symbol.
BAD_QTY                  -1013 Filter failure: LOT_SIZE                   -4004 Quantity less than min quantity. /
                                                                          -1111 Precision is over the maximum ...
BAD_PRICE                -1013 Filter failure: PRICE_FILTER               -4014 Price not increased by tick size.
MIN_NOTIONAL             -1013 Filter failure: NOTIONAL                   -4164 Order's notional must be no smaller ...
INSUFFICIENT_BALANCE     -2010 Account has insufficient balance ...       -2019 Margin is insufficient.
DUPLICATE_CLIENT_ID      -2010 Duplicate order sent.                      -4116 ClientOrderId is duplicated.
POST_ONLY_WOULD_TAKE     -2010 Order would immediately match and take.    -5022 Due to the order could not be
                                                                          executed as maker, the Post Only order ...
======================== ================================================ ===========================================

(*) an injected fault has no real counterpart; -2010 is the venue's generic new-order rejection.

Unknown order: ``order.status`` -2013 "Order does not exist."; ``order.cancel`` -2011 "Unknown order
sent." (also for an order no longer open, as on the venue).

Simulator simplification: USD-M is a futures venue (positions, margin, PnL in USDT), but this
simulator settles its fills like spot, moving both BTC and USDT balances, and reports both in
``v2/account.balance`` (``balance`` = total, ``availableBalance`` = total - held). Fees are charged
in USDT (``fee_in_received`` is False for USD-M). No positions, margin or funding are modelled.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.sim.exchange import Refusal, SimAccount, SimFill, SimOrder, SubmitResult
from arbcore.sim.fmt import decimal_text, fixed_text, now_ms, parse_raw, places_of
from arbcore.sim.orders.common import PrivateFanout, account_for, exchange_of, rest_reply, ws_reply
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_text

SPOT_WS_API = "/ws-api/v3"
USDM_WS_API = "/ws-fapi/v1"
USER_STREAM_PREFIX = "/ws/"

_STATUS = {
    OrderState.ACKED: "NEW",
    OrderState.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderState.FILLED: "FILLED",
    OrderState.CANCELED: "CANCELED",
    OrderState.EXPIRED: "EXPIRED",
    OrderState.REJECTED: "REJECTED",
}

_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}
_TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}

_SPOT_REFUSALS: dict[Refusal, tuple[int, int, str]] = {
    Refusal.RATE_LIMIT: (429, -1015, "Too many new orders; current limit is 50 orders per 10 SECOND."),
    Refusal.FAULT_REJECT: (400, -2010, "Order was rejected."),
    Refusal.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Refusal.BAD_QTY: (400, -1013, "Filter failure: LOT_SIZE"),
    Refusal.BAD_PRICE: (400, -1013, "Filter failure: PRICE_FILTER"),
    Refusal.MIN_NOTIONAL: (400, -1013, "Filter failure: NOTIONAL"),
    Refusal.INSUFFICIENT_BALANCE: (400, -2010, "Account has insufficient balance for requested action."),
    Refusal.DUPLICATE_CLIENT_ID: (400, -2010, "Duplicate order sent."),
    Refusal.POST_ONLY_WOULD_TAKE: (400, -2010, "Order would immediately match and take."),
}

_USDM_REFUSALS: dict[Refusal, tuple[int, int, str]] = {
    Refusal.RATE_LIMIT: (429, -1015, "Too many new orders; current limit is 300 orders per 10 SECOND."),
    Refusal.FAULT_REJECT: (400, -2010, "Order was rejected."),
    Refusal.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Refusal.BAD_QTY: (400, -1111, "Precision is over the maximum defined for this asset."),
    Refusal.BAD_PRICE: (400, -4014, "Price not increased by tick size."),
    Refusal.MIN_NOTIONAL: (
        400,
        -4164,
        "Order's notional must be no smaller than {min} (unless you choose reduce only).",
    ),
    Refusal.INSUFFICIENT_BALANCE: (400, -2019, "Margin is insufficient."),
    Refusal.DUPLICATE_CLIENT_ID: (400, -4116, "ClientOrderId is duplicated."),
    Refusal.POST_ONLY_WOULD_TAKE: (
        400,
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected. "
        "The order will not be recorded in the order history",
    ),
}

SIGNATURE_INVALID = (400, -1022, "Signature for this request is not valid.")


class _RefusedError(Exception):
    def __init__(self, status: int, code: int, msg: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.data = status, code, msg, data


def _mandatory(name: str) -> _RefusedError:
    return _RefusedError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _param_text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def signature_payload(params: dict[str, Any]) -> str:
    """The simulator's own rendering of Binance's WS API payload (every param but ``signature``,
    sorted by name, ``name=value`` joined by ``&``; JSON true/false as ``true``/``false``)."""
    return "&".join([f"{k}={_param_text(params[k])}" for k in sorted(params) if k != "signature"])


#: secret -> HMAC-SHA256 keyed with it, copied per message (keying once per account, not per request)
_KEYED: dict[str, hmac.HMAC] = {}


def _hmac_hex(secret: str, payload: str) -> str:
    keyed = _KEYED.get(secret)
    if keyed is None:
        if len(_KEYED) >= 1024:
            _KEYED.clear()
        keyed = _KEYED[secret] = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(payload.encode())
    return mac.hexdigest()


def _random_client_id() -> str:
    return secrets.token_urlsafe(16)[:22]


class _Fanout(PrivateFanout):
    """PrivateFanout that first binds USD-M user-stream connections (``/ws/<listenKey>``) to their
    account: they never send a message, so the key in their path is all there is."""

    def __init__(
        self,
        venue: SimVenue,
        render: Callable[[SimConnection, SimOrder, SimFill | None], list[bytes]],
        listen_keys: dict[str, str],
    ) -> None:
        self.listen_keys = listen_keys
        super().__init__(venue, render)

    def on_order(self, order: SimOrder, fill: SimFill | None) -> None:
        for conn in self.venue.connections if self.listen_keys else ():  # USD-M only: spot has none
            if conn.private and "account" not in conn.state and conn.path.startswith(USER_STREAM_PREFIX):
                account = self.listen_keys.get(conn.path[len(USER_STREAM_PREFIX) :])
                if account is not None:
                    conn.state["account"] = account
                    conn.state["private_subs"] = True
        super().on_order(order, fill)


class BinanceOrderSide:
    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.exchange = exchange_of(venue)
        market = getattr(venue.protocol, "market", "spot")
        if market not in ("spot", "usdm"):
            raise ValueError(f"binance order side: market {market!r}")
        self.futures = market == "usdm"
        self.ws_api_path = USDM_WS_API if self.futures else SPOT_WS_API
        self.ws_paths: tuple[str, ...] = (USDM_WS_API, USER_STREAM_PREFIX + "*") if self.futures else (SPOT_WS_API,)
        self.refusals = _USDM_REFUSALS if self.futures else _SPOT_REFUSALS
        self.listen_keys: dict[str, str] = {}  # listenKey -> api key
        self._sub_ids = itertools.count(0)
        self._cancel_ids: dict[str, str] = {}  # order id -> the cancel request's client id (spot)
        #: methods served, in order (tests read it)
        self.requests: list[str] = []
        self.fanout = _Fanout(venue, self._render_event, self.listen_keys)
        self._handler_table = self._handlers()
        self._scales: dict[str, tuple[int, int, int, int, int, int]] = {}

    # ---- text -----------------------------------------------------------------------------------

    def _price(self, symbol: str, raw: int | None) -> str:
        spec = self.venue.instruments[symbol].spec
        if self.futures:
            places = places_of(spec.tick, spec.price_decimals)
            return fixed_text(raw or 0, spec.price_decimals, places)
        return decimal_text(raw or 0, spec.price_decimals, max(8, spec.price_decimals))

    def _qty(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        if self.futures:
            return fixed_text(raw, spec.qty_decimals, places_of(spec.lot, spec.qty_decimals))
        return decimal_text(raw, spec.qty_decimals, max(8, spec.qty_decimals))

    def _quote(self, symbol: str, raw: int) -> str:
        """A notional (price x qty, at price_decimals + qty_decimals)."""
        spec = self.venue.instruments[symbol].spec
        d = spec.price_decimals + spec.qty_decimals
        return decimal_text(raw, d, max(8, d))

    def _asset(self, asset: str, raw: int) -> str:
        d = self.exchange.assets.get(asset, 8)
        return decimal_text(raw, d, max(8, d))

    # ---- order objects --------------------------------------------------------------------------

    def _spot_type(self, o: SimOrder) -> str:
        if o.order_type is OrderType.MARKET:
            return "MARKET"
        return "LIMIT_MAKER" if o.post_only else "LIMIT"

    def _tif(self, o: SimOrder) -> str:
        if self.futures and o.post_only:
            return "GTX"
        return o.tif.value

    def order_object(self, o: SimOrder, *, resp: str = "RESULT", query: bool = False) -> dict[str, Any]:
        """The venue's order object: a place reply (ACK/RESULT/FULL), or with ``query`` a status answer."""
        head: dict[str, Any]
        if self.futures:
            spec = self.venue.instruments[o.symbol].spec
            avg = o.quote_filled * 10 ** max(0, 8 - spec.price_decimals) // o.filled if o.filled else 0
            head = {
                "orderId": int(o.order_id),
                "symbol": o.symbol,
                "status": _STATUS[o.state],
                "clientOrderId": o.client_id,
            }
            if resp == "ACK":
                return head | {"updateTime": o.updated_ms}
            head |= {
                "price": self._price(o.symbol, o.price),
                "avgPrice": to_text(avg, 8, 8) if spec.price_decimals <= 8 else "0",
                "origQty": self._qty(o.symbol, o.qty),
                "executedQty": self._qty(o.symbol, o.filled),
                "cumQty": self._qty(o.symbol, o.filled),
                "cumQuote": self._quote(o.symbol, o.quote_filled),
                "timeInForce": self._tif(o),
                "type": o.order_type.value.upper(),
                "reduceOnly": False,
                "closePosition": False,
                "side": o.side.value.upper(),
                "positionSide": "BOTH",
                "stopPrice": "0",
                "workingType": "CONTRACT_PRICE",
                "priceProtect": False,
                "origType": o.order_type.value.upper(),
                "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "goodTillDate": 0,
            }
            if query:
                head["time"] = o.created_ms
            head["updateTime"] = o.updated_ms
            return head
        head = {"symbol": o.symbol, "orderId": int(o.order_id), "orderListId": -1, "clientOrderId": o.client_id}
        if not query:
            head["transactTime"] = o.updated_ms
        if resp == "ACK":
            return head
        pd, pp, qd, qp, nd, np_ = self._spot_scales(o.symbol)
        head |= {
            "price": decimal_text(o.price or 0, pd, pp),
            "origQty": decimal_text(o.qty, qd, qp),
            "executedQty": decimal_text(o.filled, qd, qp),
            "origQuoteOrderQty": "0.00000000",
            "cummulativeQuoteQty": decimal_text(o.quote_filled, nd, np_),
            "status": _STATUS[o.state],
            "timeInForce": o.tif.value,
            "type": self._spot_type(o),
            "side": _SIDE[o.side],
        }
        if query:
            head |= {
                "stopPrice": "0.00000000",
                "icebergQty": "0.00000000",
                "time": o.created_ms,
                "updateTime": o.updated_ms,
                "isWorking": True,
                "workingTime": o.created_ms,
            }
        else:
            head["workingTime"] = o.created_ms
        head["selfTradePreventionMode"] = "EXPIRE_MAKER"
        if resp == "FULL":
            head["fills"] = [
                {
                    "price": self._price(o.symbol, f.price),
                    "qty": self._qty(o.symbol, f.qty),
                    "commission": self._asset(f.fee_asset, f.fee),
                    "commissionAsset": f.fee_asset,
                    "tradeId": int(f.fill_id),
                }
                for f in o.fills
            ]
        return head

    # ---- private events ------------------------------------------------------------------------

    @staticmethod
    def _exec_type(o: SimOrder, fill: SimFill | None) -> str:
        if fill is not None:
            return "TRADE"
        return {OrderState.CANCELED: "CANCELED", OrderState.EXPIRED: "EXPIRED", OrderState.REJECTED: "REJECTED"}.get(
            o.state, "NEW"
        )

    def _render_event(self, conn: SimConnection, o: SimOrder, fill: SimFill | None) -> list[bytes]:
        now = now_ms()
        x = self._exec_type(o, fill)
        if self.futures:
            ev_o = {
                "s": o.symbol,
                "c": o.client_id,
                "S": o.side.value.upper(),
                "o": o.order_type.value.upper(),
                "f": self._tif(o),
                "q": self._qty(o.symbol, o.qty),
                "p": self._price(o.symbol, o.price),
                "ap": self._price(o.symbol, fill.price if fill else 0) if fill else "0",
                "sp": "0",
                "x": x,
                "X": _STATUS[o.state],
                "i": int(o.order_id),
                "l": self._qty(o.symbol, fill.qty if fill else 0),
                "z": self._qty(o.symbol, o.filled),
                "L": self._price(o.symbol, fill.price if fill else 0),
                "T": o.updated_ms,
                "t": int(fill.fill_id) if fill else 0,
                "b": "0",
                "a": "0",
                "m": fill.maker if fill else False,
                "R": False,
                "wt": "CONTRACT_PRICE",
                "ot": o.order_type.value.upper(),
                "ps": "BOTH",
                "cp": False,
                "rp": "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_MAKER",
                "pm": "NONE",
                "gtd": 0,
            }
            if fill is not None:
                ev_o["N"] = fill.fee_asset
                ev_o["n"] = self._asset(fill.fee_asset, fill.fee)
            return [orjson.dumps({"e": "ORDER_TRADE_UPDATE", "E": now, "T": o.updated_ms, "o": ev_o})]
        canceled = x == "CANCELED"
        # spot text inline (this runs for every order update): the same as _qty / _price / _quote
        pd, pp, qd, qp, nd, np_ = self._spot_scales(o.symbol)
        ev = {
            "e": "executionReport",
            "E": now,
            "s": o.symbol,
            "c": self._cancel_ids.get(o.order_id, o.client_id) if canceled else o.client_id,
            "S": _SIDE[o.side],
            "o": self._spot_type(o),
            "f": o.tif.value,
            "q": decimal_text(o.qty, qd, qp),
            "p": decimal_text(o.price or 0, pd, pp),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": o.client_id if canceled else "",
            "x": x,
            "X": _STATUS[o.state],
            "r": "NONE",
            "i": int(o.order_id),
            "l": decimal_text(fill.qty if fill else 0, qd, qp),
            "z": decimal_text(o.filled, qd, qp),
            "L": decimal_text(fill.price if fill else 0, pd, pp),
            "n": self._asset(fill.fee_asset, fill.fee) if fill else "0",
            "N": fill.fee_asset if fill else None,
            "T": o.updated_ms,
            "t": int(fill.fill_id) if fill else -1,
            "v": 0,
            "I": int(o.order_id) * 2,
            "w": o.is_open and fill is None,
            "m": fill.maker if fill else False,
            "M": False,
            "O": o.created_ms,
            "Z": decimal_text(o.quote_filled, nd, np_),
            "Y": decimal_text(fill.price * fill.qty, nd, np_) if fill else "0.00000000",
            "Q": "0.00000000",
            "W": o.created_ms,
            "V": "EXPIRE_MAKER",
        }
        return [orjson.dumps({"subscriptionId": conn.state.get("subscription_id", 0), "event": ev})]

    def _spot_scales(self, symbol: str) -> tuple[int, int, int, int, int, int]:
        """(decimals, places) of a spot price, quantity and notional of ``symbol``: what _price,
        _qty and _quote print with."""
        got = self._scales.get(symbol)
        if got is None:
            spec = self.venue.instruments[symbol].spec
            pd, qd = spec.price_decimals, spec.qty_decimals
            nd = pd + qd
            got = self._scales[symbol] = (pd, max(8, pd), qd, max(8, qd), nd, max(8, nd))
        return got

    # ---- authentication -------------------------------------------------------------------------

    def _authenticate(self, params: dict[str, Any]) -> SimAccount:
        api_key = params.get("apiKey")
        if not isinstance(api_key, str) or not api_key:
            raise _RefusedError(401, -2014, "API-key format invalid.")
        account = account_for(self.venue, api_key)
        if account is None:
            raise _RefusedError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        self._check_time(params.get("timestamp"), params.get("recvWindow", 5000))
        sig = params.get("signature")
        if not isinstance(sig, str) or not hmac.compare_digest(
            _hmac_hex(account.secret, signature_payload(params)), sig.lower()
        ):
            raise _RefusedError(*SIGNATURE_INVALID)
        return account

    @staticmethod
    def _check_time(ts: Any, window: Any) -> None:
        try:
            ts_i, window_i = int(ts), int(window)
        except (TypeError, ValueError):
            raise _mandatory("timestamp") from None
        now = now_ms()
        if ts_i > 10**14:  # microseconds
            ts_i //= 1000
        if ts_i >= now + 1000 or now - ts_i > window_i:
            raise _RefusedError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    # ---- WebSocket API ---------------------------------------------------------------------------

    def on_private_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        if conn.path.startswith(USER_STREAM_PREFIX):
            return  # the user stream carries no requests we serve
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            conn.send(orjson.dumps({"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}))
            return
        if not isinstance(msg, dict):
            conn.send(orjson.dumps({"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}))
            return
        req_id = msg.get("id")
        method = msg.get("method")
        params = msg.get("params") or {}
        self.requests.append(str(method))
        result: SubmitResult | None = None
        try:
            if not isinstance(params, dict):
                raise _RefusedError(400, -1100, "Illegal characters found in parameter 'params'.")
            handler = self._handler_table.get(str(method))
            if handler is None:
                raise _RefusedError(400, -1020, "Unsupported operation.")
            answer, result = handler(conn, params)
            frame = orjson.dumps({"id": req_id, "status": 200, "result": answer})
        except _RefusedError as e:
            error: dict[str, Any] = {"code": e.code, "msg": e.msg}
            if e.data is not None:
                error["data"] = e.data
            frame = orjson.dumps({"id": req_id, "status": e.status, "error": error})
        ws_reply(conn, frame, result)

    def _handlers(self) -> dict[str, Callable[[SimConnection, dict[str, Any]], tuple[Any, SubmitResult | None]]]:
        common = {
            "ping": lambda c, p: ({}, None),
            "time": lambda c, p: ({"serverTime": now_ms()}, None),
            "order.place": self._place,
            "order.cancel": self._cancel,
            "order.status": self._status,
        }
        if self.futures:
            return common | {"v2/account.balance": self._futures_balance, "account.balance": self._futures_balance}
        return common | {
            "openOrders.status": self._open_orders,
            "account.status": self._account,
            "userDataStream.subscribe.signature": self._subscribe,
            "myTrades": self._my_trades,
        }

    def _symbol(self, params: dict[str, Any]) -> str:
        symbol = params.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise _mandatory("symbol")
        if symbol not in self.exchange.markets:
            raise _RefusedError(400, -1121, "Invalid symbol.")
        return symbol

    def _decimal(self, params: dict[str, Any], name: str, decimals: int) -> int:
        text = params.get(name)
        if not isinstance(text, str) or not text:
            raise _mandatory(name)
        try:
            return parse_raw(text, decimals, name)
        except ValueError:
            if self.futures:
                raise _RefusedError(400, -1111, "Precision is over the maximum defined for this asset.") from None
            raise _RefusedError(400, -1111, f"Parameter '{name}' has too much precision.") from None

    def _place(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        symbol = self._symbol(params)
        spec = self.venue.instruments[symbol].spec
        side_text = params.get("side")
        if side_text not in ("BUY", "SELL"):
            raise _mandatory("side")
        side = Side.BUY if side_text == "BUY" else Side.SELL
        kind = params.get("type")
        tif_text = params.get("timeInForce")
        post_only = False
        price: int | None = None
        if kind == "MARKET":
            order_type, tif = OrderType.MARKET, TimeInForce.IOC
        elif kind == "LIMIT" or (kind == "LIMIT_MAKER" and not self.futures):
            order_type = OrderType.LIMIT
            if kind == "LIMIT_MAKER" or (tif_text == "GTX" and self.futures):
                post_only, tif = True, TimeInForce.GTC
            elif tif_text in _TIFS:
                tif = _TIFS[tif_text]
            else:
                raise _mandatory("timeInForce")
            price = self._decimal(params, "price", spec.price_decimals)
        else:
            raise _RefusedError(400, -1116, "Invalid orderType.")
        qty = self._decimal(params, "quantity", spec.qty_decimals)
        client_id = params.get("newClientOrderId") or _random_client_id()
        result = self.exchange.submit(
            account.api_key,
            symbol,
            side=side,
            order_type=order_type,
            tif=tif,
            qty=qty,
            price=price,
            client_id=str(client_id),
            post_only=post_only,
        )
        if result.refusal is not None:
            raise self._refusal(result.refusal, symbol, qty)
        assert result.order is not None
        default = "ACK" if self.futures or kind == "LIMIT_MAKER" else "FULL"
        resp = params.get("newOrderRespType", default)
        if resp not in (("ACK", "RESULT") if self.futures else ("ACK", "RESULT", "FULL")):
            raise _mandatory("newOrderRespType")
        return self.order_object(result.order, resp=str(resp)), result

    def _refusal(self, refusal: Refusal, symbol: str, qty: int) -> _RefusedError:
        status, code, msg = self.refusals[refusal]
        market = self.exchange.markets.get(symbol)
        if refusal is Refusal.RATE_LIMIT:
            now = now_ms()
            return _RefusedError(status, code, msg, {"serverTime": now, "retryAfter": now + 1000})
        if self.futures and market is not None:
            if refusal is Refusal.BAD_QTY and qty < max(market.min_qty, 1):
                return _RefusedError(400, -4004, "Quantity less than min quantity.")
            if refusal is Refusal.MIN_NOTIONAL:
                return _RefusedError(status, code, msg.format(min=self._notional_text(symbol, market.min_notional)))
        return _RefusedError(status, code, msg)

    def _notional_text(self, symbol: str, raw: int) -> str:
        spec = self.venue.instruments[symbol].spec
        return to_text(raw, spec.price_decimals + spec.qty_decimals)

    def _find(self, account: SimAccount, symbol: str, params: dict[str, Any]) -> SimOrder | None:
        oid = params.get("orderId")
        cid = params.get("origClientOrderId")
        if oid is None and not cid:
            raise _RefusedError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        return self.exchange.find(
            account.api_key, symbol, client_id=str(cid) if cid else None, order_id=str(oid) if oid is not None else None
        )

    def _cancel(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        symbol = self._symbol(params)
        order = self._find(account, symbol, params)
        if order is None or not order.is_open:
            raise _RefusedError(400, -2011, "Unknown order sent.")
        cancel_id = str(params.get("newClientOrderId") or _random_client_id())
        if not self.futures:
            self._cancel_ids[order.order_id] = cancel_id
        self.exchange.cancel(account.api_key, symbol, order_id=order.order_id)
        obj = self.order_object(order)
        if not self.futures:
            obj = {
                "symbol": obj["symbol"],
                "origClientOrderId": order.client_id,
                "orderId": obj["orderId"],
                "orderListId": -1,
                "clientOrderId": cancel_id,
            } | {
                k: v
                for k, v in obj.items()
                if k not in ("symbol", "orderId", "orderListId", "clientOrderId", "workingTime")
            }
        return obj, None

    def _status(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        symbol = self._symbol(params)
        order = self._find(account, symbol, params)
        if order is None:
            raise _RefusedError(400, -2013, "Order does not exist.")
        return self.order_object(order, query=True), None

    def _open_orders(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        symbol = self._symbol(params) if "symbol" in params else None
        orders = self.exchange.open_orders(account.api_key, symbol)
        return [self.order_object(o, query=True) for o in orders], None

    def trade_rows(self, account: SimAccount, symbol: str, order_id: str | None) -> list[dict[str, Any]]:
        """Account trades (spot ``myTrades`` / USD-M ``userTrades`` rows), optionally of one order."""
        rows = []
        for o in self.exchange.orders.values():
            if o.account != account.api_key or o.symbol != symbol or (order_id is not None and o.order_id != order_id):
                continue
            for f in o.fills:
                row: dict[str, Any] = {
                    "symbol": symbol,
                    "id": int(f.fill_id),
                    "orderId": int(o.order_id),
                    "price": self._price(symbol, f.price),
                    "qty": self._qty(symbol, f.qty),
                    "quoteQty": self._quote(symbol, f.price * f.qty),
                    "commission": self._asset(f.fee_asset, f.fee),
                    "commissionAsset": f.fee_asset,
                    "time": f.ts_ms,
                }
                if self.futures:
                    row |= {
                        "side": o.side.value.upper(),
                        "positionSide": "BOTH",
                        "buyer": o.side is Side.BUY,
                        "maker": f.maker,
                        "realizedPnl": "0",
                    }
                else:
                    row |= {"orderListId": -1, "isBuyer": o.side is Side.BUY, "isMaker": f.maker, "isBestMatch": True}
                rows.append(row)
        rows.sort(key=lambda r: int(r["id"]))
        return rows

    def _my_trades(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        symbol = self._symbol(params)
        oid = params.get("orderId")
        return self.trade_rows(account, symbol, str(oid) if oid is not None else None), None

    def _assets_of(self, account: SimAccount) -> list[str]:
        return sorted(set(self.exchange.assets) | set(account.balances))

    def _account(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        omit = params.get("omitZeroBalances") is True
        balances = []
        for asset in self._assets_of(account):
            total = account.balances.get(asset, 0)
            held = account.held.get(asset, 0)
            if omit and total == 0 and held == 0:
                continue
            balances.append(
                {"asset": asset, "free": self._asset(asset, total - held), "locked": self._asset(asset, held)}
            )
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }, None

    def _futures_balance(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        rows = []
        for asset in self._assets_of(account):
            total = account.balances.get(asset, 0)
            free = account.available(asset)
            rows.append(
                {
                    "accountAlias": "SgsR",
                    "asset": asset,
                    "balance": self._asset(asset, total),
                    "crossWalletBalance": self._asset(asset, total),
                    "crossUnPnl": "0.00000000",
                    "availableBalance": self._asset(asset, free),
                    "maxWithdrawAmount": self._asset(asset, free),
                    "marginAvailable": True,
                    "updateTime": now_ms(),
                }
            )
        return rows, None

    def _subscribe(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = self._authenticate(params)
        if conn.state.get("account") == account.api_key and "subscription_id" in conn.state:
            # one subscription per account per connection; the venue's refusal text is not documented
            return {"subscriptionId": conn.state["subscription_id"]}, None
        sid = next(self._sub_ids)
        conn.state["account"] = account.api_key
        conn.state["private_subs"] = True
        conn.state["subscription_id"] = sid
        return {"subscriptionId": sid}, None

    # ---- REST --------------------------------------------------------------------------------------

    def _symbol_info(self, symbol: str) -> dict[str, Any]:
        spec = self.venue.instruments[symbol].spec
        market = self.exchange.markets[symbol]
        pd, qd = spec.price_decimals, spec.qty_decimals
        max_price = 1_000_000 * 10**pd
        max_qty = 9_000 * 10**qd
        min_price = self._price(symbol, spec.tick)
        if not self.futures:
            return {
                "symbol": symbol,
                "status": "TRADING",
                "baseAsset": market.base,
                "baseAssetPrecision": 8,
                "quoteAsset": market.quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": [
                    "LIMIT",
                    "LIMIT_MAKER",
                    "MARKET",
                    "STOP_LOSS",
                    "STOP_LOSS_LIMIT",
                    "TAKE_PROFIT",
                    "TAKE_PROFIT_LIMIT",
                ],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "otoAllowed": True,
                "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True,
                "cancelReplaceAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": min_price,
                        "maxPrice": self._price(symbol, max_price),
                        "tickSize": self._price(symbol, spec.tick),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": self._qty(symbol, market.min_qty),
                        "maxQty": self._qty(symbol, max_qty),
                        "stepSize": self._qty(symbol, spec.lot),
                    },
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": self._quote(symbol, market.min_notional),
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    },
                    {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            }
        return {
            "symbol": symbol,
            "pair": symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": market.base,
            "quoteAsset": market.quote,
            "marginAsset": market.quote,
            "pricePrecision": places_of(spec.tick, pd),
            "quantityPrecision": places_of(spec.lot, qd),
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": ["PoW"],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "minPrice": min_price,
                    "maxPrice": self._price(symbol, max_price),
                    "filterType": "PRICE_FILTER",
                    "tickSize": self._price(symbol, spec.tick),
                },
                {
                    "stepSize": self._qty(symbol, spec.lot),
                    "filterType": "LOT_SIZE",
                    "maxQty": self._qty(symbol, max_qty),
                    "minQty": self._qty(symbol, market.min_qty),
                },
                {
                    "stepSize": self._qty(symbol, spec.lot),
                    "filterType": "MARKET_LOT_SIZE",
                    "maxQty": self._qty(symbol, max_qty),
                    "minQty": self._qty(symbol, market.min_qty),
                },
                {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
                {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
                {"notional": self._notional_text(symbol, market.min_notional), "filterType": "MIN_NOTIONAL"},
                {
                    "multiplierDown": "0.9500",
                    "multiplierUp": "1.0500",
                    "multiplierDecimal": "4",
                    "filterType": "PERCENT_PRICE",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }

    @staticmethod
    def _rest_error(status: int, code: int, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    def _rest_account(self, request: web.Request) -> SimAccount:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise _RefusedError(401, -2014, "API-key format invalid.")
        account = account_for(self.venue, key)
        if account is None:
            raise _RefusedError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return account

    async def _rest_signed(self, request: web.Request) -> tuple[SimAccount, dict[str, str]]:
        account = self._rest_account(request)
        raw = request.rel_url.raw_query_string
        body = await request.text()
        total = raw + body
        signed, sep, sig = total.rpartition("&signature=")
        if not sep or "&" in sig:
            raise _mandatory("signature")
        params = dict(parse_qsl(signed, keep_blank_values=True))
        self._check_time(params.get("timestamp"), params.get("recvWindow", "5000"))
        if not hmac.compare_digest(_hmac_hex(account.secret, signed), sig.lower()):
            raise _RefusedError(*SIGNATURE_INVALID)
        return account, params

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        async def exchange_info(request: web.Request) -> web.Response:
            symbols = list(self.exchange.markets)
            if not self.futures:
                try:
                    if "symbol" in request.query:
                        symbols = [request.query["symbol"]]
                    elif "symbols" in request.query:
                        listed = orjson.loads(request.query["symbols"])
                        if not isinstance(listed, list):
                            raise ValueError
                        symbols = [str(s) for s in listed]
                except ValueError:
                    return self._rest_error(400, -1100, "Illegal characters found in parameter 'symbols'.")
                if any(s not in self.exchange.markets for s in symbols):
                    return self._rest_error(400, -1121, "Invalid symbol.")
            now = now_ms()
            limits = (
                [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
                ]
                if self.futures
                else [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
                ]
            )
            body: dict[str, Any] = {"timezone": "UTC", "serverTime": now}
            if self.futures:
                body["futuresType"] = "U_MARGINED"
            body |= {"rateLimits": limits, "exchangeFilters": [], "symbols": [self._symbol_info(s) for s in symbols]}
            return web.Response(body=orjson.dumps(body), content_type="application/json")

        if not self.futures:
            return [web.get("/api/v3/exchangeInfo", exchange_info)]

        async def listen_key(request: web.Request) -> web.Response:
            try:
                account = self._rest_account(request)
            except _RefusedError as e:
                return self._rest_error(e.status, e.code, e.msg)
            existing = next((k for k, a in self.listen_keys.items() if a == account.api_key), None)
            if request.method == "POST":
                key = existing or secrets.token_urlsafe(48)[:64]
                self.listen_keys[key] = account.api_key
                return web.json_response({"listenKey": key})
            if existing is None:
                return self._rest_error(400, -1125, "This listenKey does not exist.")
            if request.method == "DELETE":
                del self.listen_keys[existing]
            return web.json_response({})

        async def open_orders(request: web.Request) -> web.Response:
            try:
                account, params = await self._rest_signed(request)
                symbol = params.get("symbol")
                if symbol is not None and symbol not in self.exchange.markets:
                    raise _RefusedError(400, -1121, "Invalid symbol.")
            except _RefusedError as e:
                return self._rest_error(e.status, e.code, e.msg)
            orders = self.exchange.open_orders(account.api_key, symbol)
            body = orjson.dumps([self.order_object(o, query=True) for o in orders])
            return await rest_reply(request, web.Response(body=body, content_type="application/json"))

        async def user_trades(request: web.Request) -> web.Response:
            try:
                account, params = await self._rest_signed(request)
                symbol = params.get("symbol")
                if symbol is None:
                    raise _mandatory("symbol")
                if symbol not in self.exchange.markets:
                    raise _RefusedError(400, -1121, "Invalid symbol.")
            except _RefusedError as e:
                return self._rest_error(e.status, e.code, e.msg)
            rows = self.trade_rows(account, symbol, params.get("orderId"))
            return await rest_reply(request, web.Response(body=orjson.dumps(rows), content_type="application/json"))

        return [
            web.get("/fapi/v1/exchangeInfo", exchange_info),
            web.get("/fapi/v1/userTrades", user_trades),
            web.post("/fapi/v1/listenKey", listen_key),
            web.put("/fapi/v1/listenKey", listen_key),
            web.delete("/fapi/v1/listenKey", listen_key),
            web.get("/fapi/v1/openOrders", open_orders),
        ]


def make_order_side(venue: SimVenue) -> BinanceOrderSide:
    return BinanceOrderSide(venue)


def sim_urls(venue: SimVenue) -> dict[str, str]:
    if getattr(venue.protocol, "market", "spot") == "usdm":
        return {
            "rest": venue.rest_url,
            "ws_api": venue.url_for(USDM_WS_API),
            "user_stream": venue.url_for(USER_STREAM_PREFIX.rstrip("/")),
        }
    return {"rest": venue.rest_url, "ws_api": venue.url_for(SPOT_WS_API)}
