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

This module holds the order side itself (WS API requests, refusals, the private-event fan-out);
`arbcore.sim.orders.binance_requests` checks requests, `arbcore.sim.orders.binance_render` renders
the venue's objects and events, `arbcore.sim.orders.binance_rest` serves the REST routes.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from arbcore.execution.orders import OrderType, Side, TimeInForce
from arbcore.sim.exchange import Refusal, SimAccount, SimFill, SimOrder, SubmitResult
from arbcore.sim.fmt import now_ms
from arbcore.sim.orders import binance_rest
from arbcore.sim.orders.binance_render import BinanceRenderer
from arbcore.sim.orders.binance_requests import (
    RefusedError,
    authenticate,
    decimal_param,
    mandatory,
    random_client_id,
    signature_payload,
    symbol_param,
)
from arbcore.sim.orders.common import PrivateFanout, exchange_of, ws_reply
from arbcore.sim.server import SimConnection, SimVenue

#: signature_payload is re-exported: the tests compare the client's WS API payload with it
__all__ = ["BinanceOrderSide", "make_order_side", "signature_payload", "sim_urls"]

SPOT_WS_API = "/ws-api/v3"
USDM_WS_API = "/ws-fapi/v1"
USER_STREAM_PREFIX = "/ws/"
#: :attr:`BinanceOrderSide.requests` keeps the methods of the latest this many requests
REQUESTS_KEPT = 1000

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
        #: methods of the latest REQUESTS_KEPT requests served, in order (tests read it; a list of
        #: every request grew with each order a rehearsal placed)
        self.requests: deque[str] = deque(maxlen=REQUESTS_KEPT)
        self.renderer = BinanceRenderer(venue, futures=self.futures, cancel_ids=self._cancel_ids)
        self.fanout = _Fanout(venue, self.renderer.order_event, self.listen_keys)
        self._handler_table = self._handlers()

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
                raise RefusedError(400, -1100, "Illegal characters found in parameter 'params'.")
            handler = self._handler_table.get(str(method))
            if handler is None:
                raise RefusedError(400, -1020, "Unsupported operation.")
            answer, result = handler(conn, params)
            frame = orjson.dumps({"id": req_id, "status": 200, "result": answer})
        except RefusedError as e:
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

    def _place(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        symbol = symbol_param(self.exchange, params)
        spec = self.venue.instruments[symbol].spec
        side_text = params.get("side")
        if side_text not in ("BUY", "SELL"):
            raise mandatory("side")
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
                raise mandatory("timeInForce")
            price = decimal_param(params, "price", spec.price_decimals, futures=self.futures)
        else:
            raise RefusedError(400, -1116, "Invalid orderType.")
        qty = decimal_param(params, "quantity", spec.qty_decimals, futures=self.futures)
        client_id = params.get("newClientOrderId") or random_client_id()
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
            raise mandatory("newOrderRespType")
        return self.renderer.order_object(result.order, resp=str(resp)), result

    def _refusal(self, refusal: Refusal, symbol: str, qty: int) -> RefusedError:
        status, code, msg = self.refusals[refusal]
        market = self.exchange.markets.get(symbol)
        if refusal is Refusal.RATE_LIMIT:
            now = now_ms()
            return RefusedError(status, code, msg, {"serverTime": now, "retryAfter": now + 1000})
        if self.futures and market is not None:
            if refusal is Refusal.BAD_QTY and qty < max(market.min_qty, 1):
                return RefusedError(400, -4004, "Quantity less than min quantity.")
            if refusal is Refusal.MIN_NOTIONAL:
                return RefusedError(
                    status, code, msg.format(min=self.renderer.notional_text(symbol, market.min_notional))
                )
        return RefusedError(status, code, msg)

    def _find(self, account: SimAccount, symbol: str, params: dict[str, Any]) -> SimOrder | None:
        oid = params.get("orderId")
        cid = params.get("origClientOrderId")
        if oid is None and not cid:
            raise RefusedError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        return self.exchange.find(
            account.api_key, symbol, client_id=str(cid) if cid else None, order_id=str(oid) if oid is not None else None
        )

    def _cancel(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        symbol = symbol_param(self.exchange, params)
        order = self._find(account, symbol, params)
        if order is None or not order.is_open:
            raise RefusedError(400, -2011, "Unknown order sent.")
        cancel_id = str(params.get("newClientOrderId") or random_client_id())
        if not self.futures:
            self._cancel_ids[order.order_id] = cancel_id
        self.exchange.cancel(account.api_key, symbol, order_id=order.order_id)
        obj = self.renderer.order_object(order)
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
        account = authenticate(self.venue, params)
        symbol = symbol_param(self.exchange, params)
        order = self._find(account, symbol, params)
        if order is None:
            raise RefusedError(400, -2013, "Order does not exist.")
        return self.renderer.order_object(order, query=True), None

    def _open_orders(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        symbol = symbol_param(self.exchange, params) if "symbol" in params else None
        orders = self.exchange.open_orders(account.api_key, symbol)
        return [self.renderer.order_object(o, query=True) for o in orders], None

    def _my_trades(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        symbol = symbol_param(self.exchange, params)
        oid = params.get("orderId")
        return self.renderer.trade_rows(account, symbol, str(oid) if oid is not None else None), None

    def _account(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        return self.renderer.account_status(account, omit_zero=params.get("omitZeroBalances") is True), None

    def _futures_balance(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        return self.renderer.futures_balances(account), None

    def _subscribe(self, conn: SimConnection, params: dict[str, Any]) -> tuple[Any, SubmitResult | None]:
        account = authenticate(self.venue, params)
        if conn.state.get("account") == account.api_key and "subscription_id" in conn.state:
            # one subscription per account per connection; the venue's refusal text is not documented
            return {"subscriptionId": conn.state["subscription_id"]}, None
        sid = next(self._sub_ids)
        conn.state["account"] = account.api_key
        conn.state["private_subs"] = True
        conn.state["subscription_id"] = sid
        return {"subscriptionId": sid}, None

    # ---- REST --------------------------------------------------------------------------------------

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return binance_rest.rest_routes(self.renderer, self.listen_keys)


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
