"""Bybit v5 spot order client: WebSocket order entry on ``/v5/trade``, fills and order updates on
the private stream ``/v5/private`` (topics ``order`` and ``execution``), queries, balances and
instrument rules over signed REST (``X-BAPI-*`` headers, venue-protocols.md §6.3-6.5).

Order entry (``op`` = ``order.create`` / ``order.cancel``, one order per request)::

    {"reqId":"c12","header":{"X-BAPI-TIMESTAMP":"1711001595207","X-BAPI-RECV-WINDOW":"5000"},
     "op":"order.create","args":[{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit",
     "qty":"0.01","price":"50000.1","timeInForce":"IOC","orderLinkId":"<32 hex>"}]}

The reply (``retCode`` 0, ``data.orderId``) is only an acknowledgement: Bybit processes the order
asynchronously and the outcome (fills, cancel, post-only cancellation) arrives on the private
stream, so ``place`` returns ACKED and fills reach ``on_report``. ``cancel`` likewise returns ACKED
(cancel accepted); the CANCELED update streams.

Order type / time in force / post-only, as sent:

========= ====== ========= ============= ================ ==========================================
type      tif    post_only ``orderType`` ``timeInForce``  notes
========= ====== ========= ============= ================ ==========================================
LIMIT     GTC    no        Limit         GTC
LIMIT     IOC    no        Limit         IOC
LIMIT     FOK    no        Limit         FOK
LIMIT     GTC    yes       Limit         PostOnly         would-take: acked, then Cancelled on stream
LIMIT     IOC/FOK yes      -             -                refused locally (ValueError)
MARKET    IOC    no        Market        IOC              ``marketUnit=baseCoin`` (qty in base)
MARKET    GTC    no        Market        IOC              Bybit runs every market order as IOC
MARKET    FOK    -         -             -                refused locally (ValueError)
========= ====== ========= ============= ================ ==========================================

Venue states -> ours: New/Untriggered/Triggered -> ACKED, PartiallyFilled -> PARTIALLY_FILLED,
Filled -> FILLED, Rejected -> REJECTED, Cancelled/PartiallyFilledCanceled/Deactivated -> CANCELED,
or EXPIRED when the order was IOC/FOK/Market (the venue cancelling an unfilled remainder).

Errors: ``10006``/``10018`` rate limit -> RateLimitedError (retry after ``X-Bapi-Limit-Reset-Timestamp``),
``10003``/``10004``/``10005``/``33004`` -> AuthError, ``10002`` (clock/recv window) -> VenueError,
``10016`` (internal error, outcome unknown) -> OrderTimeoutError, any other code on create -> a
REJECTED report with ``"<retCode> <retMsg>"`` as the reason (e.g. ``110072`` duplicate orderLinkId).
A cancel answered ``110001``/``170213`` (order does not exist / too late) is resolved by a query.

Fees: ``execFee`` is positive when charged (Fill.fee keeps that sign), in ``feeCurrency``.

Pacing: `arbcore.venues.ratelimit.bybit` (20 creates and 20 cancels per second per UID for spot,
600 REST requests per 5 s per IP) is waited on before each request and penalised by a 10006
reply or a 403 ban; ``options["rate_limit"] = False`` turns it off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Mapping
from typing import Any

import orjson

from arbcore.execution.orders import OrderState, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill, OrderIntent
from arbcore.venues import ratelimit
from arbcore.venues.orders.base import Http, OrderClient, WsRpc, ms_to_ns, now_ms
from arbcore.venues.orders.connection import AuthenticatedConnection
from arbcore.venues.orders.decimal_text import to_raw, to_text
from arbcore.venues.orders.registry import OrderClientConfig
from arbcore.venues.orders.types import (
    AuthError,
    InstrumentRules,
    OrderReport,
    OrderTimeoutError,
    RateLimitedError,
    VenueBalance,
    VenueError,
)
from arbcore.venues.signing.bybit import bybit_sign_request, bybit_ws_signature
from arbcore.venues.signing.common import encode_params

VENUE = "bybit"

LIVE_URLS: dict[str, str] = {
    "rest": "https://api.bybit.com",
    "ws_trade": "wss://stream.bybit.com/v5/trade",
    "ws_private": "wss://stream.bybit.com/v5/private",
}

RATE_LIMIT_CODES = frozenset({10006, 10018})
AUTH_CODES = frozenset({10003, 10004, 10005, 33004})
NOT_FOUND_CODES = frozenset({110001, 170213})
UNKNOWN_OUTCOME_CODES = frozenset({10016})
PING_INTERVAL_S = 20.0

_STATES = {
    "New": OrderState.ACKED,
    "Created": OrderState.ACKED,
    "Untriggered": OrderState.ACKED,
    "Triggered": OrderState.ACKED,
    "PartiallyFilled": OrderState.PARTIALLY_FILLED,
    "Filled": OrderState.FILLED,
    "Rejected": OrderState.REJECTED,
    "Cancelled": OrderState.CANCELED,
    "PartiallyFilledCanceled": OrderState.CANCELED,
    "Deactivated": OrderState.CANCELED,
}


def places(text: str) -> int:
    """Decimal places written in a venue's decimal text (``"0.00125"`` -> 5)."""
    frac = text.partition(".")[2]
    return len(frac)


def order_fields(intent: OrderIntent, category: str = "spot") -> dict[str, str]:
    """The ``order.create`` argument for ``intent`` (see the table in the module docstring)."""
    args: dict[str, str] = {
        "category": category,
        "symbol": intent.symbol,
        "side": "Buy" if intent.side is Side.BUY else "Sell",
    }
    if intent.order_type is OrderType.MARKET:
        if intent.post_only or intent.tif is TimeInForce.FOK:
            raise ValueError("Bybit market orders are always IOC: no FOK or post-only")
        args |= {"orderType": "Market", "qty": to_text(intent.qty, intent.qty_decimals)}
        args |= {"timeInForce": "IOC", "marketUnit": "baseCoin"}
    else:
        if intent.limit_price is None:
            raise ValueError("a limit order needs a price")
        if intent.post_only and intent.tif is not TimeInForce.GTC:
            raise ValueError(f"post-only cannot be {intent.tif}")
        tif = "PostOnly" if intent.post_only else intent.tif.value
        args |= {
            "orderType": "Limit",
            "qty": to_text(intent.qty, intent.qty_decimals),
            "price": to_text(intent.limit_price, intent.price_decimals),
            "timeInForce": tif,
        }
    args["orderLinkId"] = intent.client_order_id
    return args


def map_state(d: Mapping[str, Any]) -> OrderState:
    status = str(d.get("orderStatus", ""))
    state = _STATES.get(status)
    if state is None:
        raise VenueError(f"bybit: unknown orderStatus {status!r}")
    if state is OrderState.CANCELED and (d.get("timeInForce") in ("IOC", "FOK") or d.get("orderType") == "Market"):
        return OrderState.EXPIRED
    return state


def retry_after_s(reset_ms: Any, now: int | None = None) -> float:
    """Seconds until ``X-Bapi-Limit-Reset-Timestamp`` (1 s when the venue did not say)."""
    try:
        reset = int(reset_ms)
    except (TypeError, ValueError):
        return 1.0
    wait = (reset - (now_ms() if now is None else now)) / 1000
    return max(wait, 0.05)


def raise_for_code(code: int, msg: str, what: str, reset_ms: Any = None) -> None:
    """Raise for the codes that are not a reject of the order itself."""
    if code in RATE_LIMIT_CODES:
        raise RateLimitedError(f"bybit {what}: {code} {msg}", retry_after_s(reset_ms))
    if code in AUTH_CODES:
        raise AuthError(f"bybit {what}: {code} {msg}")
    if code in UNKNOWN_OUTCOME_CODES:
        raise OrderTimeoutError(f"bybit {what}: {code} {msg} (outcome unknown)")
    if code == 10002:
        raise VenueError(f"bybit {what}: {code} {msg}")


class BybitOrderClient(OrderClient):
    venue = VENUE

    def __init__(self, config: OrderClientConfig) -> None:
        super().__init__()
        self.config = config
        self.creds = config.credentials
        self.category = str(config.options.get("category", "spot"))
        self.recv_window = int(config.options.get("recv_window_ms", 5000))
        self.account_type = str(config.options.get("account_type", "UNIFIED"))
        self.http = Http(config.urls["rest"], "bybit rest")
        #: the documented per-UID order limits and per-IP REST limit, waited on before sending
        self.limiter = ratelimit.bybit() if config.options.get("rate_limit", True) else None
        self.trade = WsRpc(
            config.urls["ws_trade"], lambda m: _reply_id(m, "reqId"), self._on_trade_event, name="bybit trade"
        )
        self.private = WsRpc(
            config.urls["ws_private"], lambda m: _reply_id(m, "req_id"), self._on_private_event, name="bybit private"
        )
        self.trade_connection = AuthenticatedConnection(
            self.trade, self._auth_trade, self.counters, ping=lambda: self._ping("reqId"), ping_every=PING_INTERVAL_S
        )
        self.private_connection = AuthenticatedConnection(
            self.private,
            self._auth_private,
            self.counters,
            ping=lambda: self._ping("req_id"),
            ping_every=PING_INTERVAL_S,
        )
        self._ids = itertools.count(1)
        self._id_base = f"{time.time_ns() // 1000:x}"
        self._request_id_prefix = f"c{self._id_base}-"
        self._recv_window_text = str(self.recv_window)
        #: op -> the limiter's resolved charges, for ``_charges_of``'s limiter
        self._charges: dict[str, ratelimit.Charges] = {}
        self._charges_of: ratelimit.RateLimiter | None = None
        #: symbol -> (base, quote), for executions that do not name their fee currency
        self._assets: dict[str, tuple[str, str]] = {}

    # ---- connections ---------------------------------------------------------------------------

    def _rid(self, prefix: str) -> str:
        # unique across restarts too: Bybit refuses a reqId it has seen (20006)
        return f"{prefix}{self._id_base}-{next(self._ids)}"

    def _auth_frame(self, key: str | None) -> bytes:
        expires = now_ms() + 10_000
        sig = bybit_ws_signature(self.creds.secret, expires)
        frame: dict[str, Any] = {key: "auth"} if key else {}
        return orjson.dumps(frame | {"op": "auth", "args": [self.creds.api_key, expires, sig]})

    def _ping(self, key: str) -> bytes:
        return orjson.dumps({key: self._rid("p"), "op": "ping"})

    def _refuse_credentials(self) -> None:
        # one key serves both sockets: refused on one, neither reconnects in the background
        self.trade_connection.auth_refused = self.private_connection.auth_refused = True

    async def _auth_trade(self, timeout: float) -> None:
        # no reqId: the trade stream wants them unique, and its auth answer is matched by its op
        reply = await self.trade.request("auth", self._auth_frame(None), timeout)
        code = int(reply.get("retCode", -1))
        if code != 0:
            if code in AUTH_CODES:
                self._refuse_credentials()
            raise AuthError(f"bybit trade auth refused: {code} {reply.get('retMsg', '')}")

    async def _auth_private(self, timeout: float) -> None:
        reply = await self.private.request("auth", self._auth_frame("req_id"), timeout)
        if reply.get("success") is not True:
            self._refuse_credentials()
            raise AuthError(f"bybit private auth refused: {reply.get('ret_msg', '')}")
        sub = orjson.dumps({"req_id": "subscribe", "op": "subscribe", "args": ["order", "execution"]})
        reply = await self.private.request("subscribe", sub, timeout)
        if reply.get("success") is not True:
            raise VenueError(f"bybit private subscribe refused: {reply.get('ret_msg', '')}")

    async def start(self) -> None:
        await self.http.start()
        await self.trade_connection.start()
        await self.private_connection.start()

    async def close(self) -> None:
        await self.trade_connection.close()
        await self.private_connection.close()
        await self.http.close()

    # ---- stream events ---------------------------------------------------------------------------

    def _on_trade_event(self, msg: Any) -> None:
        """Pongs and late replies of requests that timed out: nothing to report."""

    def _on_private_event(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        topic = msg.get("topic")
        if topic not in ("order", "execution"):
            return
        try:
            for d in msg.get("data") or []:
                report = self.order_report(d) if topic == "order" else self.execution_report(d)
                if report is not None:
                    self.emit(report)
        except (KeyError, ValueError, TypeError, VenueError):
            self.counters.decode_errors += 1

    def _scales(self, symbol: str) -> tuple[int, int]:
        scales = self.config.scales.get(symbol)
        if scales is None:
            raise VenueError(f"bybit: no scales configured for {symbol!r}")
        return scales

    def order_report(self, d: Mapping[str, Any]) -> OrderReport:
        """An ``order`` topic entry or a ``/v5/order/realtime`` list entry (cumulative)."""
        _, qd = self._scales(str(d["symbol"]))
        reason = str(d.get("rejectReason") or "")
        if reason == "EC_NoError":
            reason = ""
        return OrderReport(
            VENUE,
            str(d.get("orderLinkId", "")),
            map_state(d),
            venue_order_id=str(d["orderId"]) if d.get("orderId") else None,
            filled_qty=to_raw(str(d.get("cumExecQty") or "0"), qd, "cumExecQty"),
            cumulative=True,
            reason=reason,
            venue_ns=ms_to_ns(d.get("updatedTime")),
        )

    def fill_of(self, d: Mapping[str, Any]) -> Fill:
        """One execution (stream or ``/v5/execution/list``) as a Fill."""
        symbol = str(d["symbol"])
        pd, qd = self._scales(symbol)
        fee_text = str(d.get("execFee") or "0")
        fee_asset = str(d.get("feeCurrency") or "")
        if not fee_asset:
            base, quote = self._assets.get(symbol, ("", ""))
            fee_asset = base if d.get("side") == "Buy" else quote
        return Fill(
            fill_id=str(d["execId"]),
            qty=to_raw(str(d["execQty"]), qd, "execQty"),
            price=to_raw(str(d["execPrice"]), pd, "execPrice"),
            fee=to_raw(fee_text, places(fee_text), "execFee"),
            fee_asset=fee_asset,
            fee_decimals=places(fee_text),
        )

    def execution_report(self, d: Mapping[str, Any]) -> OrderReport | None:
        """An ``execution`` topic entry: the fill alone (``cumulative=False``)."""
        if d.get("execType", "Trade") != "Trade":
            return None  # funding, settlement, ... not order fills
        _, qd = self._scales(str(d["symbol"]))
        leaves = to_raw(str(d.get("leavesQty") or "0"), qd, "leavesQty")
        return OrderReport(
            VENUE,
            str(d.get("orderLinkId", "")),
            OrderState.PARTIALLY_FILLED if leaves > 0 else OrderState.FILLED,
            venue_order_id=str(d["orderId"]) if d.get("orderId") else None,
            filled_qty=0,
            cumulative=False,
            fills=(self.fill_of(d),),
            venue_ns=ms_to_ns(d.get("execTime")),
        )

    # ---- order entry ---------------------------------------------------------------------------

    def _charges_for(self, limiter: ratelimit.RateLimiter, op: str) -> ratelimit.Charges:
        if self._charges_of is not limiter:
            self._charges, self._charges_of = {}, limiter
        charges = self._charges.get(op)
        if charges is None:
            charges = self._charges[op] = limiter.charges({f"{op.split('.')[1]}_{self.category}": 1})
        return charges

    def _order_charges(self, symbol: str) -> tuple[ratelimit.RateLimiter, ratelimit.Charges] | None:
        limiter = self.limiter
        return None if limiter is None else (limiter, self._charges_for(limiter, "order.create"))

    async def _trade_request(self, op: str, args: dict[str, str], timeout: float) -> dict[str, Any]:
        # Both sockets logged in and room in the limits: no suspension up to the socket write.
        trade = self.trade_connection
        if not trade.usable:
            await trade.ensure(timeout)
        if not self.private_connection.usable:
            await self.private_connection.ensure(timeout)
        limiter = self.limiter
        if limiter is not None:
            charges = self._charges_for(limiter, op)
            if not limiter.try_acquire(charges):
                await limiter.acquire(charges)  # queue behind earlier waiters, or wait for room
        rid = f"{self._request_id_prefix}{next(self._ids)}"
        frame = {
            "reqId": rid,
            "header": {"X-BAPI-TIMESTAMP": str(now_ms()), "X-BAPI-RECV-WINDOW": self._recv_window_text},
            "op": op,
            "args": [args],
        }
        reply = await trade.request(rid, orjson.dumps(frame), timeout)
        if not isinstance(reply, dict):
            raise VenueError(f"bybit {op}: malformed reply")
        return reply

    async def place(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        args = order_fields(intent, self.category)
        self._assets[intent.symbol] = (intent.base, intent.quote)
        t0 = time.perf_counter_ns()
        reply = await self._trade_request("order.create", args, timeout)
        self.counters.latencies_ns.append(time.perf_counter_ns() - t0)
        code = int(reply.get("retCode", -1))
        msg = str(reply.get("retMsg", ""))
        cid = intent.client_order_id
        if code == 0:
            self.counters.placed += 1
            data = reply.get("data") or {}
            oid = data.get("orderId") if isinstance(data, dict) else None
            return OrderReport(VENUE, cid, OrderState.ACKED, venue_order_id=str(oid) if oid else None)
        try:
            raise_for_code(code, msg, "order.create", (reply.get("header") or {}).get("X-Bapi-Limit-Reset-Timestamp"))
        except RateLimitedError as e:
            self.counters.rate_limited += 1
            if self.limiter is not None:
                self.limiter.penalise(e.retry_after)
            raise
        self.counters.rejected += 1
        return OrderReport(VENUE, cid, OrderState.REJECTED, reason=f"{code} {msg}")

    async def cancel(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        args = {"category": self.category, "symbol": intent.symbol, "orderLinkId": intent.client_order_id}
        reply = await self._trade_request("order.cancel", args, timeout)
        code = int(reply.get("retCode", -1))
        msg = str(reply.get("retMsg", ""))
        if code == 0:
            self.counters.canceled += 1
            data = reply.get("data") or {}
            oid = data.get("orderId") if isinstance(data, dict) else None
            # accepted: the CANCELED update (or a fill that won the race) comes on the stream
            return OrderReport(
                VENUE, intent.client_order_id, OrderState.ACKED, venue_order_id=str(oid) if oid else None
            )
        if code in NOT_FOUND_CODES:
            final = await self.query(intent, timeout)
            if final is not None:
                return final
            raise VenueError(f"bybit order.cancel: {code} {msg} (unknown orderLinkId)")
        raise_for_code(code, msg, "order.cancel", (reply.get("header") or {}).get("X-Bapi-Limit-Reset-Timestamp"))
        raise VenueError(f"bybit order.cancel: {code} {msg}")

    # ---- REST ------------------------------------------------------------------------------------

    async def _get(self, path: str, params: list[tuple[str, object]], timeout: float, *, signed: bool = True) -> Any:
        query = encode_params(params)
        headers: dict[str, str] = {}
        if signed:
            signed_req = bybit_sign_request(
                self.creds, timestamp_ms=now_ms(), query=query, recv_window_ms=self.recv_window
            )
            headers = dict(signed_req.headers)
        if self.limiter is not None:
            await self.limiter.acquire(1)
        status, resp_headers, raw = await self.http.call("GET", path, query=query, headers=headers, timeout=timeout)
        if self.limiter is not None:
            self.limiter.on_response(status, resp_headers)
        lower = {k.lower(): v for k, v in resp_headers.items()}
        if status == 403:  # the IP-level "access too frequent" ban (at least 10 minutes)
            self.counters.rate_limited += 1
            raise RateLimitedError(f"bybit GET {path}: HTTP 403 access too frequent", 600.0)
        if status == 401:
            raise AuthError(f"bybit GET {path}: HTTP 401")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise VenueError(f"bybit GET {path}: HTTP {status}, not JSON") from None
        code = int(body.get("retCode", -1)) if isinstance(body, dict) else -1
        if code == 0:
            return body.get("result") or {}
        msg = str(body.get("retMsg", "")) if isinstance(body, dict) else ""
        try:
            raise_for_code(code, msg, f"GET {path}", lower.get("x-bapi-limit-reset-timestamp"))
        except RateLimitedError:
            self.counters.rate_limited += 1
            raise
        raise VenueError(f"bybit GET {path}: {code} {msg}")

    async def _fills(self, symbol: str, order_id: str, timeout: float) -> tuple[Fill, ...]:
        fills: list[Fill] = []
        cursor = ""
        for _ in range(20):
            params: list[tuple[str, object]] = [("category", self.category), ("symbol", symbol), ("orderId", order_id)]
            params.append(("limit", 100))
            if cursor:
                params.append(("cursor", cursor))
            result = await self._get("/v5/execution/list", params, timeout)
            fills += [self.fill_of(d) for d in result.get("list") or [] if d.get("execType", "Trade") == "Trade"]
            cursor = str(result.get("nextPageCursor") or "")
            if not cursor:
                break
        return tuple(fills)

    async def query(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport | None:
        self.counters.queried += 1
        params: list[tuple[str, object]] = [
            ("category", self.category),
            ("symbol", intent.symbol),
            ("orderLinkId", intent.client_order_id),
        ]
        found: list[Any] = []
        # realtime holds open and recent orders; older finished ones are only in the history
        for path in ("/v5/order/realtime", "/v5/order/history"):
            result = await self._get(path, params, timeout)
            found = [d for d in result.get("list") or [] if d.get("orderLinkId") == intent.client_order_id]
            if found:
                break
        if not found:
            return None
        report = self.order_report(found[0])
        if report.filled_qty > 0 and report.venue_order_id:
            report = dataclasses.replace(report, fills=await self._fills(intent.symbol, report.venue_order_id, timeout))
        return report

    async def open_orders(self, timeout: float = 5.0) -> list[OrderReport]:
        out: list[OrderReport] = []
        cursor = ""
        for _ in range(20):
            params: list[tuple[str, object]] = [("category", self.category), ("openOnly", 0), ("limit", 50)]
            if cursor:
                params.append(("cursor", cursor))
            result = await self._get("/v5/order/realtime", params, timeout)
            out += [self.order_report(d) for d in result.get("list") or [] if d.get("symbol") in self.config.scales]
            cursor = str(result.get("nextPageCursor") or "")
            if not cursor:
                break
        return out

    async def balances(self, timeout: float = 5.0) -> list[VenueBalance]:
        result = await self._get("/v5/account/wallet-balance", [("accountType", self.account_type)], timeout)
        out: list[VenueBalance] = []
        for acct in result.get("list") or []:
            for c in acct.get("coin") or []:
                total = str(c.get("walletBalance") or "0")
                locked = str(c.get("locked") or "0")
                p = max(places(total), places(locked))
                available = to_text(to_raw(total, p) - to_raw(locked, p), p)
                out.append(VenueBalance(str(c["coin"]), total, available))
        return out

    async def instruments(self, symbols: list[str], timeout: float = 5.0) -> dict[str, InstrumentRules]:
        async def one(symbol: str) -> InstrumentRules:
            params: list[tuple[str, object]] = [("category", self.category), ("symbol", symbol)]
            result = await self._get("/v5/market/instruments-info", params, timeout, signed=False)
            for d in result.get("list") or []:
                if d.get("symbol") == symbol:
                    return self.rules_of(d)
            raise VenueError(f"bybit: instrument {symbol!r} not listed")

        rules = await asyncio.gather(*(one(s) for s in symbols))
        return {r.symbol: r for r in rules}

    def rules_of(self, d: Mapping[str, Any]) -> InstrumentRules:
        """A spot ``instruments-info`` entry at the configured scales."""
        symbol = str(d["symbol"])
        pd, qd = self._scales(symbol)
        if d.get("baseCoin") and d.get("quoteCoin"):
            self._assets[symbol] = (str(d["baseCoin"]), str(d["quoteCoin"]))
        lot_f = d.get("lotSizeFilter") or {}
        tick = to_raw(str(d["priceFilter"]["tickSize"]), pd, "tickSize")
        lot_text = lot_f.get("basePrecision") or lot_f.get("qtyStep")
        min_amt = lot_f.get("minOrderAmt") or lot_f.get("minNotionalValue") or "0"
        max_qty = lot_f.get("maxLimitOrderQty") or lot_f.get("maxOrderQty") or "0"
        return InstrumentRules(
            VENUE,
            symbol,
            pd,
            qd,
            tick=tick,
            lot=to_raw(str(lot_text), qd, "basePrecision"),
            min_qty=to_raw(str(lot_f.get("minOrderQty") or "0"), qd, "minOrderQty"),
            min_notional=to_raw(str(min_amt), pd + qd, "minOrderAmt"),
            max_qty=to_raw(str(max_qty), qd, "maxOrderQty"),
            base=d.get("baseCoin") or None,
            quote=d.get("quoteCoin") or None,
        )


def _reply_id(msg: Any, key: str) -> str | None:
    """The request a message answers: its echoed ``reqId``/``req_id``, else for the one auth and
    one subscribe of a connection their op (matched even if the venue does not echo the id)."""
    if isinstance(msg, dict):
        v = msg.get(key)
        if v is not None and v != "":
            return str(v)
        if msg.get("op") in ("auth", "subscribe"):
            return str(msg["op"])
    return None


def make_client(config: OrderClientConfig) -> OrderClient:
    return BybitOrderClient(config)
