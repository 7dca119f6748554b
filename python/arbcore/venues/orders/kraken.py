"""Kraken Spot order client: WebSocket v2 order entry and ``executions`` stream, REST for the rest.

Transport (venue-protocols.md §4.4-4.5, confirmed with docs search):

- REST ``POST /0/private/GetWebSocketsToken`` (signed ``API-Key`` / ``API-Sign``, strictly
  increasing ``nonce``) gives a token; a fresh one is fetched on every (re)connect.
- One WebSocket to ws-auth (``wss://ws-auth.kraken.com/v2``) carries ``add_order`` /
  ``cancel_order`` (answered by ``req_id``) and the ``executions`` channel (subscribed with
  ``snap_orders: true``), whose events become :class:`OrderReport` via ``emit``.
- REST ``OpenOrders`` / ``ClosedOrders`` filtered by ``cl_ord_id`` answer ``query``;
  ``BalanceEx`` gives balances (total ``balance``, available ``balance - hold_trade``); public
  ``AssetPairs`` gives ``tick_size``, ``lot_decimals``, ``ordermin``, ``costmin``.

Order fields (``add_order`` params):

============================ ===================================================
intent                       Kraken v2
============================ ===================================================
LIMIT / MARKET               ``order_type`` ``limit`` / ``market``
TimeInForce.GTC              ``time_in_force: "gtc"``
TimeInForce.IOC              ``time_in_force: "ioc"``
TimeInForce.FOK              refused by this client (VenueError, nothing sent):
                             Kraken spot offers only gtc, gtd and ioc
post_only                    ``post_only: true`` (GTC limit only; refused otherwise)
client order id              ``cl_ord_id`` (UUID form)
============================ ===================================================

Kraken v2 sends prices and quantities as JSON **numbers**; they are read through their shortest
float repr (what Kraken printed) and converted exactly; this client sends numbers the same way,
written from the exact decimal text. Fee decimals are the places of the fee text Kraken sent.

Error mapping: ``EOrder:Rate limit exceeded`` / ``EAPI:Rate limit exceeded`` /
``EGeneral:Too many requests`` -> RateLimitedError; ``EAPI:Invalid key`` / ``EAPI:Invalid
signature`` / ``EGeneral:Permission denied`` / ``ESession:Invalid session`` /
``EAccount:Invalid permissions`` -> AuthError; any other ``add_order`` error -> a REJECTED report
with Kraken's text. ``EAPI:Invalid nonce`` on a read is retried once with a new nonce (reads are
idempotent; concurrent requests may arrive out of nonce order).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill, OrderIntent
from arbcore.venues import ratelimit
from arbcore.venues.orders.base import Http, OrderClient, WsRpc, now_ms, remember
from arbcore.venues.orders.connection import AuthenticatedConnection
from arbcore.venues.orders.decimal_text import to_raw, to_text
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.orders.types import (
    AuthError,
    InstrumentRules,
    OrderReport,
    RateLimitedError,
    VenueBalance,
    VenueError,
)
from arbcore.venues.signing.kraken import KrakenNonce, kraken_sign_request

LIVE_URLS: dict[str, str] = {
    "rest": "https://api.kraken.com",
    "ws_auth": "wss://ws-auth.kraken.com/v2",
}

#: Kraken's legacy asset codes (REST balances, AssetPairs) -> common names (as WS v2 prints them)
ASSET_NAMES = {
    "XXBT": "BTC",
    "XBT": "BTC",
    "XETH": "ETH",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "XLTC": "LTC",
    "XXRP": "XRP",
    "XXLM": "XLM",
    "XETC": "ETC",
    "XXMR": "XMR",
    "XZEC": "ZEC",
    "XMLN": "MLN",
    "XREP": "REP",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZCAD": "CAD",
    "ZJPY": "JPY",
    "ZAUD": "AUD",
    "ZCHF": "CHF",
}

RATE_LIMIT_ERRORS = ("EOrder:Rate limit exceeded", "EAPI:Rate limit exceeded", "EGeneral:Too many requests")
AUTH_ERRORS = (
    "EAPI:Invalid key",
    "EAPI:Invalid signature",
    "EGeneral:Permission denied",
    "ESession:Invalid session",
    "EAccount:Invalid permissions",
)
#: Kraken's rate-limit counters decay by about one unit per second or two
RATE_LIMIT_RETRY_S = 2.0

TIF = {TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc"}

#: executions ``order_status`` / REST ``status`` -> our state (REST ``open`` and ``closed`` refined by quantity)
STATUS = {
    "pending_new": OrderState.SENT,
    "new": OrderState.ACKED,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
}


def asset_name(code: str) -> str:
    return ASSET_NAMES.get(code, code)


def pair_assets(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """An AssetPairs entry's (base, quote) by common name, from its ``wsname`` ("XBT/USD"): that
    names them by their altnames, never the X/Z-prefixed legacy codes of ``base``/``quote``."""
    ws = str(entry.get("wsname", ""))
    if "/" not in ws:
        return None
    base, quote = ws.split("/", 1)
    return asset_name(base), asset_name(quote)


def text_of(value: Any) -> str:
    """A JSON number or string as Kraken printed it (floats through their shortest repr)."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def places_of_text(text: str) -> int:
    exp = Decimal(text).as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def number(raw: int, decimals: int) -> orjson.Fragment:
    """A JSON number written from the exact decimal text (no float in between)."""
    return orjson.Fragment(to_text(raw, decimals).encode())


def classify_error(text: str) -> type[Exception] | None:
    if any(text.startswith(e) for e in RATE_LIMIT_ERRORS):
        return RateLimitedError
    if any(text.startswith(e) for e in AUTH_ERRORS):
        return AuthError
    return None


def raise_for_error(text: str, what: str) -> None:
    """Raise RateLimitedError / AuthError for those errors (the text never holds a secret)."""
    kind = classify_error(text)
    if kind is RateLimitedError:
        raise RateLimitedError(f"kraken {what}: {text}", RATE_LIMIT_RETRY_S)
    if kind is AuthError:
        raise AuthError(f"kraken {what}: {text}")


class KrakenOrderClient(OrderClient):
    venue = "kraken"

    def __init__(self, config: OrderClientConfig) -> None:
        super().__init__()
        self.config = config
        self.creds = config.credentials
        self.http = Http(config.urls["rest"], name="kraken rest")
        self.nonce = KrakenNonce()
        self.ws = WsRpc(config.urls["ws_auth"], self._request_id, self.on_stream, name="kraken ws-auth")
        self.connection = AuthenticatedConnection(self.ws, self._subscribe, self.counters)
        self.token: str | None = None
        self._req_ids = itertools.count(1)
        #: per client order id: symbol (to find scales) and last cumulative fill from the stream
        #: (the latest ``RECENT_ORDERS``)
        self._symbols: dict[str, str] = {}
        self._cum: dict[str, int] = {}
        #: new orders draw on the pair's trading counter (``trade:<pair>``); a rate-limit reply
        #: holds them for its retry time, cancels and queries go on
        self.limiter = ratelimit.kraken() if config.options.get("rate_limit", True) else None
        self._add_charges: dict[str, ratelimit.Charges] = {}
        self._charges_of: ratelimit.RateLimiter | None = None

    def _order_charges(self, symbol: str) -> tuple[ratelimit.RateLimiter, ratelimit.Charges] | None:
        limiter = self.limiter
        if limiter is None:
            return None
        if self._charges_of is not limiter:
            self._add_charges, self._charges_of = {}, limiter
        charges = self._add_charges.get(symbol)
        if charges is None:
            cost = {f"trade:{symbol}": float(ratelimit.kraken_trade_cost("add"))}
            charges = self._add_charges[symbol] = limiter.charges(cost)
        return limiter, charges

    # ---- connection ------------------------------------------------------------------------------

    @staticmethod
    def _request_id(msg: Any) -> str | None:
        if isinstance(msg, dict) and "method" in msg and msg.get("req_id") is not None:
            return str(msg["req_id"])
        return None

    async def start(self) -> None:
        await self.http.start()
        await self.connection.start()

    async def close(self) -> None:
        await self.connection.close()
        await self.http.close()

    async def _subscribe(self, timeout: float) -> None:
        # a fresh token for every connection (the socket is open already; the token is REST)
        result = await self._private("/0/private/GetWebSocketsToken", [], timeout)
        token = result.get("token") if isinstance(result, dict) else None
        if not isinstance(token, str):
            raise VenueError("kraken GetWebSocketsToken: no token in the reply")
        self.token = token
        rid = next(self._req_ids)
        sub = {
            "method": "subscribe",
            "params": {"channel": "executions", "token": token, "snap_orders": True, "snap_trades": False},
            "req_id": rid,
        }
        reply = await self.ws.request(str(rid), orjson.dumps(sub), timeout)
        if not reply.get("success"):
            err = str(reply.get("error", "subscribe refused"))
            raise_for_error(err, "subscribe executions")
            raise VenueError(f"kraken subscribe executions: {err}")

    # ---- REST ------------------------------------------------------------------------------------

    async def _private(self, path: str, params: list[tuple[str, object]], timeout: float) -> Any:
        for attempt in range(2):
            signed = kraken_sign_request(self.creds, path, params, self.nonce())
            status, _, raw = await self.http.call(
                "POST", path, body=signed.body, headers=dict(signed.headers), timeout=timeout
            )
            errors, result = self._decode(path, status, raw)
            if errors:
                text = str(errors[0])
                if text.startswith("EAPI:Invalid nonce") and attempt == 0:
                    continue
                raise_for_error(text, path)
                raise VenueError(f"kraken {path}: {text}")
            return result
        raise VenueError(f"kraken {path}: no reply")  # pragma: no cover (loop always returns or raises)

    async def _public(self, path: str, timeout: float) -> Any:
        status, _, raw = await self.http.call("GET", path, timeout=timeout)
        errors, result = self._decode(path, status, raw)
        if errors:
            raise_for_error(str(errors[0]), path)
            raise VenueError(f"kraken {path}: {errors[0]}")
        return result

    @staticmethod
    def _decode(path: str, status: int, raw: bytes) -> tuple[list[Any], Any]:
        if status == 429:
            raise RateLimitedError(f"kraken {path}: HTTP 429", RATE_LIMIT_RETRY_S)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise VenueError(f"kraken {path}: HTTP {status}, not JSON") from None
        if not isinstance(body, dict):
            raise VenueError(f"kraken {path}: HTTP {status}, unexpected reply")
        errors = body.get("error") or []
        if not errors and status != 200:
            raise VenueError(f"kraken {path}: HTTP {status}")
        return list(errors), body.get("result")

    # ---- orders ----------------------------------------------------------------------------------

    def _scales(self, symbol: str) -> tuple[int, int]:
        try:
            return self.config.scales[symbol]
        except KeyError:
            raise VenueError(f"kraken: no scales configured for {symbol!r}") from None

    def build_add_order(self, intent: OrderIntent, token: str, req_id: int) -> dict[str, Any]:
        """The ``add_order`` request for ``intent`` (see the mapping table in the module docstring)."""
        if intent.tif not in TIF:
            raise VenueError(f"kraken: time in force {intent.tif} is not offered by Kraken spot (gtc, gtd, ioc only)")
        if intent.post_only and (intent.order_type is not OrderType.LIMIT or intent.tif is not TimeInForce.GTC):
            raise VenueError("kraken: post_only needs a GTC limit order")
        params: dict[str, Any] = {
            "order_type": "limit" if intent.order_type is OrderType.LIMIT else "market",
            "side": "buy" if intent.side is Side.BUY else "sell",
            "order_qty": number(intent.qty, intent.qty_decimals),
            "symbol": intent.symbol,
            "time_in_force": TIF[intent.tif],
            "cl_ord_id": intent.client_order_id,
            "token": token,
        }
        if intent.order_type is OrderType.LIMIT:
            if intent.limit_price is None:
                raise VenueError("kraken: a limit order needs a limit price")
            params["limit_price"] = number(intent.limit_price, intent.price_decimals)
        if intent.post_only:
            params["post_only"] = True
        return {"method": "add_order", "params": params, "req_id": req_id}

    async def place(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        cid = intent.client_order_id
        remember(self._symbols, cid, intent.symbol)
        if not self.connection.usable:  # logged in: no suspension up to the socket write
            await self.connection.ensure(timeout)
        assert self.token is not None
        lc = self._order_charges(intent.symbol)
        if lc is not None and not lc[0].try_acquire(lc[1]):
            wait = lc[0].wait_time(lc[1])
            if wait > timeout:
                raise RateLimitedError(f"kraken add_order: local rate limit for {intent.symbol}", wait)
            await lc[0].acquire(lc[1])
        rid = next(self._req_ids)
        payload = orjson.dumps(self.build_add_order(intent, self.token, rid))
        t0 = now_ms()
        reply = await self.connection.request(str(rid), payload, timeout)
        self.counters.latencies_ns.append((now_ms() - t0) * 1_000_000)
        self.counters.placed += 1
        try:
            return self.parse_add_order_reply(cid, reply)
        except RateLimitedError as e:
            if self.limiter is not None:
                self.limiter.penalise(e.retry_after, (f"trade:{intent.symbol}",))
            raise

    def parse_add_order_reply(self, cid: str, reply: dict[str, Any]) -> OrderReport:
        if reply.get("success"):
            result = reply.get("result") or {}
            return OrderReport(self.venue, cid, OrderState.ACKED, venue_order_id=result.get("order_id"))
        err = str(reply.get("error", "add_order refused"))
        if classify_error(err) is RateLimitedError:
            self.counters.rate_limited += 1
        raise_for_error(err, "add_order")
        self.counters.rejected += 1
        return OrderReport(self.venue, cid, OrderState.REJECTED, reason=err)

    async def cancel(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        cid = intent.client_order_id
        await self.connection.ensure(timeout)
        assert self.token is not None
        rid = next(self._req_ids)
        msg = {"method": "cancel_order", "params": {"cl_ord_id": [cid], "token": self.token}, "req_id": rid}
        reply = await self.connection.request(str(rid), orjson.dumps(msg), timeout)
        if reply.get("success"):
            self.counters.canceled += 1
            result = reply.get("result") or {}
            # the executions stream (same socket) reported any fills before this reply
            return OrderReport(
                self.venue, cid, OrderState.CANCELED, result.get("order_id"), filled_qty=self._cum.get(cid, 0)
            )
        err = str(reply.get("error", "cancel_order refused"))
        raise_for_error(err, "cancel_order")
        # not open any more (or never was): the order's final state, if Kraken knows it
        final = await self.query(intent, timeout)
        if final is None:
            raise VenueError(f"kraken cancel_order: {err}")
        return final

    async def query(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport | None:
        self.counters.queried += 1
        cid = intent.client_order_id
        params: list[tuple[str, object]] = [("trades", "true"), ("cl_ord_id", cid)]
        for path, key in (("/0/private/OpenOrders", "open"), ("/0/private/ClosedOrders", "closed")):
            result = await self._private(path, params, timeout)
            orders = (result or {}).get(key) or {}
            for txid, order in orders.items():
                if order.get("cl_ord_id") == cid:
                    report = self.rest_order_report(txid, order, intent.symbol)
                    trade_ids = [str(t) for t in order.get("trades") or []]
                    if trade_ids:
                        trades = await self._private("/0/private/QueryTrades", [("txid", ",".join(trade_ids))], timeout)
                        fills = tuple(self.rest_fill(t, trades[t], intent.symbol) for t in trade_ids if t in trades)
                        report = dataclasses.replace(report, fills=fills)
                    return report
        return None

    def rest_fill(self, trade_id: str, trade: dict[str, Any], symbol: str) -> Fill:
        """One QueryTrades entry as a fill; REST fees are in the quote currency (no ``fcib`` flag is sent)."""
        pd, qd = self._scales(symbol)
        fee_text = str(trade.get("fee", "0"))
        places = places_of_text(fee_text)
        return Fill(
            trade_id,
            to_raw(str(trade["vol"]), qd, "vol"),
            to_raw(str(trade["price"]), pd, "price"),
            to_raw(fee_text, places, "fee"),
            symbol.rsplit("/", 1)[-1],
            places,
        )

    async def open_orders(self, timeout: float = 5.0) -> list[OrderReport]:
        result = await self._private("/0/private/OpenOrders", [], timeout)
        out: list[OrderReport] = []
        for txid, order in ((result or {}).get("open") or {}).items():
            with contextlib.suppress(VenueError):  # a pair this client has no scales for is not ours
                out.append(self.rest_order_report(txid, order, None))
        return out

    def _symbol_from_rest(self, order: dict[str, Any]) -> str:
        pair = str((order.get("descr") or {}).get("pair", ""))
        if pair in self.config.scales:
            return pair
        if "/" in pair:
            base, quote = pair.split("/", 1)
            sym = f"{asset_name(base)}/{asset_name(quote)}"
            if sym in self.config.scales:
                return sym
        cid = order.get("cl_ord_id")
        if cid in self._symbols:
            return self._symbols[cid]
        raise VenueError(f"kraken: order pair {pair!r} has no configured scales")

    def rest_order_report(self, txid: str, order: dict[str, Any], symbol: str | None) -> OrderReport:
        """One order of OpenOrders / ClosedOrders (REST strings) as a report."""
        sym = symbol or self._symbol_from_rest(order)
        _, qd = self._scales(sym)
        vol = to_raw(str(order.get("vol", "0")), qd, "vol")
        done = to_raw(str(order.get("vol_exec", "0")), qd, "vol_exec")
        status = str(order.get("status", ""))
        if status in ("pending", "open"):
            state = OrderState.PARTIALLY_FILLED if done else OrderState.ACKED
        elif status == "closed":
            state = OrderState.FILLED if done >= vol else OrderState.EXPIRED
        elif status == "canceled":
            state = OrderState.CANCELED
        elif status == "expired":
            state = OrderState.EXPIRED
        else:
            raise VenueError(f"kraken: unknown order status {status!r}")
        return OrderReport(
            self.venue,
            str(order.get("cl_ord_id") or ""),
            state,
            txid,
            filled_qty=done,
            reason=str(order.get("reason") or ""),
        )

    # ---- the executions stream ---------------------------------------------------------------------

    def on_stream(self, msg: Any) -> None:
        if not isinstance(msg, dict) or msg.get("channel") != "executions":
            return
        for item in msg.get("data") or []:
            try:
                report = self.execution_report(item)
            except (ValueError, KeyError, VenueError):
                self.counters.decode_errors += 1
                continue
            if report is not None:
                self.emit(report)

    def execution_report(self, item: dict[str, Any]) -> OrderReport | None:
        """One entry of an ``executions`` snapshot or update as a report (None for pending_new)."""
        cid = str(item.get("cl_ord_id") or "")
        exec_type = item.get("exec_type")
        status = str(item.get("order_status", exec_type or ""))
        state = STATUS.get(status)
        if exec_type in ("canceled", "expired", "filled"):
            state = STATUS[str(exec_type)]
        if state is None:
            raise VenueError(f"kraken: unknown order status {status!r}")
        if state is OrderState.SENT:
            return None  # pending_new: "new" follows once the order is live
        symbol = str(item.get("symbol") or self._symbols.get(cid, ""))
        pd, qd = self._scales(symbol)
        fills: tuple[Fill, ...] = ()
        if exec_type == "trade":
            fee, fee_asset, fee_places = 0, "", 0
            for f in item.get("fees") or []:
                text = text_of(f["qty"])
                fee_places = places_of_text(text)
                fee, fee_asset = to_raw(text, fee_places, "fee"), asset_name(str(f["asset"]))
                break
            fills = (
                Fill(
                    str(item["exec_id"]),
                    to_raw(text_of(item["last_qty"]), qd, "last_qty"),
                    to_raw(text_of(item["last_price"]), pd, "last_price"),
                    fee,
                    fee_asset,
                    fee_places,
                ),
            )
        cum = item.get("cum_qty")
        if cum is not None:
            filled = to_raw(text_of(cum), qd, "cum_qty")
            remember(self._cum, cid, max(filled, self._cum.get(cid, 0)))
        else:
            filled = self._cum.get(cid, 0)
        return OrderReport(
            self.venue,
            cid,
            state,
            item.get("order_id"),
            filled_qty=filled,
            fills=fills,
            reason=str(item.get("reason") or ""),
        )

    # ---- account and metadata ------------------------------------------------------------------------

    async def balances(self, timeout: float = 5.0) -> list[VenueBalance]:
        result = await self._private("/0/private/BalanceEx", [], timeout)
        out: list[VenueBalance] = []
        for code, entry in (result or {}).items():
            total = Decimal(str(entry.get("balance", "0")))
            hold = Decimal(str(entry.get("hold_trade", "0")))
            out.append(VenueBalance(asset_name(code), str(total), str(total - hold)))
        return out

    async def instruments(self, symbols: list[str], timeout: float = 5.0) -> dict[str, InstrumentRules]:
        result = await self._public("/0/public/AssetPairs", timeout)
        by_ws: dict[str, dict[str, Any]] = {}
        for entry in (result or {}).values():
            assets = pair_assets(entry)
            if assets is not None:
                by_ws["/".join(assets)] = entry
        out: dict[str, InstrumentRules] = {}
        for sym in symbols:
            entry = by_ws.get(sym)
            if entry is None:
                raise VenueError(f"kraken AssetPairs: unknown pair {sym!r}")
            out[sym] = self.rules_from_pair(sym, entry)
        return out

    def rules_from_pair(self, symbol: str, entry: dict[str, Any]) -> InstrumentRules:
        pd, qd = self._scales(symbol)
        lot_decimals = int(entry["lot_decimals"])
        if lot_decimals > qd:
            raise VenueError(f"kraken {symbol}: lot_decimals {lot_decimals} finer than the {qd} configured")
        tick_text = entry.get("tick_size")
        tick = to_raw(str(tick_text), pd, "tick_size") if tick_text else 10 ** (pd - int(entry["pair_decimals"]))
        costmin = entry.get("costmin")
        assets = pair_assets(entry)
        return InstrumentRules(
            self.venue,
            symbol,
            pd,
            qd,
            tick=tick,
            lot=10 ** (qd - lot_decimals),
            min_qty=to_raw(str(entry.get("ordermin", "0")), qd, "ordermin"),
            min_notional=to_raw(str(costmin), pd + qd, "costmin") if costmin else 0,
            base=assets[0] if assets else None,
            quote=assets[1] if assets else None,
        )


def make_client(config: OrderClientConfig) -> OrderClient:
    return KrakenOrderClient(config)
