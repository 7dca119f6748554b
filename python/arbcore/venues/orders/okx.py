"""OKX v5 spot order client: order entry and the ``orders`` channel on one logged-in WebSocket
(``/ws/v5/private``), queries, fills, balances and instrument rules over signed REST
(``OK-ACCESS-*`` headers with the passphrase; venue-protocols.md §5.3-5.5).

Order entry::

    {"id":"o12","op":"order","args":[{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"ioc",
     "sz":"0.01","px":"50000.1","clOrdId":"<32 hex>"}]}

answered ``{"id":"o12","op":"order","code":"0","msg":"","data":[{"ordId":..,"clOrdId":..,"sCode":"0",
"sMsg":"Order placed",..}],..}``: the order was accepted (ACKED); fills and the final state come on
the ``orders`` channel (instType SPOT), each push carrying the last fill (``tradeId``, ``fillSz``,
``fillPx``, ``fillFee`` negative when charged, ``fillFeeCcy``) and the cumulative ``accFillSz``.
``cancel-order`` likewise returns ACKED (cancel accepted) and the ``canceled`` push follows.

On OKX the time in force is part of ``ordType``:

========= ======= ========= ============ =====================================================
type      tif     post_only ``ordType``  notes
========= ======= ========= ============ =====================================================
LIMIT     GTC     no        limit
LIMIT     IOC     no        ioc
LIMIT     FOK     no        fok
LIMIT     GTC     yes       post_only    would-take: accepted, then canceled (cancelSource 31)
LIMIT     IOC/FOK yes       -            refused locally (ValueError)
MARKET    IOC/GTC no        market       ``tgtCcy=base_ccy`` (size in base); IOC by nature
MARKET    FOK     -         -            refused locally (ValueError)
========= ======= ========= ============ =====================================================

States: live -> ACKED, partially_filled -> PARTIALLY_FILLED, filled -> FILLED, canceled /
mmp_canceled -> CANCELED, or EXPIRED for ioc/fok/market/optimal_limit_ioc orders (the venue
cancelling an unfilled remainder).

Errors: ``50011``/``50061`` rate limit -> RateLimitedError (OKX sends no reset time: 1 s),
``50111``-``50113`` / ``50100``-``50105`` and WS login failures (``60009`` etc.) -> AuthError,
``50102`` (timestamp expired) -> AuthError as well (a clock problem the operator must fix),
a non-zero ``sCode`` on an order -> REJECTED with ``"<sCode> <sMsg>"`` (e.g. ``51016`` duplicate
clOrdId). A cancel answered ``51400``-``51402`` (already filled/canceled/unknown) is resolved by
a query; a query answered ``51603`` (Order does not exist) returns None.

Fees: ``fillFee``/``fee`` are negative when charged; Fill.fee is the charge, so its sign is flipped.

Pacing: `arbcore.venues.ratelimit.okx` (60 orders and 60 cancels per 2 s per instrument, 1000
orders per 2 s per sub-account) is waited on before each op and penalised by a 50011 reply;
``options["rate_limit"] = False`` turns it off. Options: ``td_mode`` (default ``cash``),
``simulated`` (adds ``x-simulated-trading: 1`` for OKX demo trading on REST).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson
from picows import WSTransport

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
    RateLimitedError,
    VenueBalance,
    VenueError,
)
from arbcore.venues.signing.common import encode_params
from arbcore.venues.signing.okx import okx_sign_request, okx_ws_login

VENUE = "okx"

LIVE_URLS: dict[str, str] = {
    "rest": "https://www.okx.com",
    "ws_private": "wss://ws.okx.com:8443/ws/v5/private",
}

RATE_LIMIT_CODES = frozenset({"50011", "50061"})
AUTH_CODES = frozenset(
    {"50100", "50101", "50102", "50103", "50104", "50105", "50111", "50112", "50113", "50114"}
    | {"60004", "60005", "60006", "60007", "60008", "60009", "60011", "60024"}
)
CANCEL_TOO_LATE_CODES = frozenset({"51400", "51401", "51402"})
ORDER_NOT_FOUND = "51603"
RATE_LIMIT_RETRY_S = 1.0
PING_INTERVAL_S = 20.0
_SEEN_FILLS = 10_000

_STATES = {
    "live": OrderState.ACKED,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "mmp_canceled": OrderState.CANCELED,
}
_IMMEDIATE = frozenset({"ioc", "fok", "market", "optimal_limit_ioc"})
_LIMIT_ORD_TYPES = {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}


def places(text: str) -> int:
    return len(text.partition(".")[2])


def ord_type(intent: OrderIntent) -> str:
    """OKX's ``ordType`` for ``intent`` (the table in the module docstring)."""
    if intent.order_type is OrderType.MARKET:
        if intent.post_only or intent.tif is TimeInForce.FOK:
            raise ValueError("OKX market orders are immediate-or-cancel: no FOK or post-only")
        return "market"
    if intent.post_only:
        if intent.tif is not TimeInForce.GTC:
            raise ValueError(f"post-only cannot be {intent.tif}")
        return "post_only"
    return _LIMIT_ORD_TYPES[intent.tif]


def order_fields(intent: OrderIntent, td_mode: str = "cash") -> dict[str, str]:
    """The ``order`` op argument for ``intent``."""
    args = {
        "instId": intent.symbol,
        "tdMode": td_mode,
        "side": "buy" if intent.side is Side.BUY else "sell",
        "ordType": ord_type(intent),
        "sz": to_text(intent.qty, intent.qty_decimals),
    }
    if intent.order_type is OrderType.MARKET:
        args["tgtCcy"] = "base_ccy"
    else:
        if intent.limit_price is None:
            raise ValueError("a limit order needs a price")
        args["px"] = to_text(intent.limit_price, intent.price_decimals)
    args["clOrdId"] = intent.client_order_id
    return args


def map_state(d: Mapping[str, Any]) -> OrderState:
    text = str(d.get("state", ""))
    state = _STATES.get(text)
    if state is None:
        raise VenueError(f"okx: unknown order state {text!r}")
    if state is OrderState.CANCELED and d.get("ordType") in _IMMEDIATE:
        return OrderState.EXPIRED
    return state


def charged_fee(text: str) -> tuple[int, int]:
    """OKX fee text (negative = charged) -> (charge as a raw int, its decimals)."""
    p = places(text)
    return -to_raw(text, p, "fee"), p


def raise_for_code(code: str, msg: str, what: str) -> None:
    if code in RATE_LIMIT_CODES:
        raise RateLimitedError(f"okx {what}: {code} {msg}", RATE_LIMIT_RETRY_S)
    if code in AUTH_CODES:
        raise AuthError(f"okx {what}: {code} {msg}")


class OkxOrderClient(OrderClient):
    venue = VENUE

    def __init__(self, config: OrderClientConfig) -> None:
        super().__init__()
        self.config = config
        self.creds = config.credentials
        if self.creds.passphrase is None:
            raise AuthError("okx: credentials need a passphrase")
        self.td_mode = str(config.options.get("td_mode", "cash"))
        self.simulated = bool(config.options.get("simulated", False))
        self.http = Http(config.urls["rest"], "okx rest")
        #: the documented per-instrument order/cancel limits, waited on before sending
        self.limiter = ratelimit.okx() if config.options.get("rate_limit", True) else None
        self.ws = WsRpc(config.urls["ws_private"], self._request_id, self._on_event, name="okx private")
        # OKX closes a connection after 30 s without data; the text "ping" is answered "pong"
        self.connection = AuthenticatedConnection(
            self.ws, self._login, self.counters, ping=lambda: b"ping", ping_every=PING_INTERVAL_S
        )
        self._ids = itertools.count(1)
        self._id_base = f"{time.time_ns() // 1000:x}x"
        self._op_id_prefix = f"o{self._id_base}"
        #: (op, instId) -> the limiter's resolved charges, for ``_charges_of``'s limiter
        self._charges: dict[tuple[str, str], ratelimit.Charges] = {}
        self._charges_of: ratelimit.RateLimiter | None = None
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()

    # ---- connection ------------------------------------------------------------------------------

    @staticmethod
    def _request_id(msg: Any) -> str | None:
        if not isinstance(msg, dict):
            return None
        if msg.get("id"):
            return str(msg["id"])
        # login answers (and login errors) carry no id; at most one login is in flight
        if msg.get("event") in ("login", "error"):
            return "login"
        if msg.get("event") == "subscribe":
            return "subscribe"  # the one subscription of a connection, should the ack lack its id
        return None

    def _rid(self, prefix: str) -> str:
        return f"{prefix}{self._id_base}{next(self._ids)}"  # alphanumeric, at most 32

    async def _login(self, timeout: float) -> None:
        reply = await self.ws.request("login", okx_ws_login(self.creds, now_ms() // 1000).encode(), timeout)
        if reply.get("event") != "login" or str(reply.get("code")) != "0":
            self.connection.auth_refused = True
            raise AuthError(f"okx login refused: {reply.get('code')} {reply.get('msg', '')}")
        sub = {"id": "subscribe", "op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"}]}
        reply = await self.ws.request("subscribe", orjson.dumps(sub), timeout)
        if reply.get("event") != "subscribe":
            raise VenueError(f"okx orders subscribe refused: {reply.get('code')} {reply.get('msg', '')}")

    async def start(self) -> None:
        await self.http.start()
        await self.connection.start()

    async def close(self) -> None:
        await self.connection.close()
        await self.http.close()

    # ---- stream ----------------------------------------------------------------------------------

    def _on_event(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        arg = msg.get("arg") or {}
        if arg.get("channel") != "orders" or "data" not in msg:
            return
        try:
            for d in msg["data"]:
                report = self.order_report(d)
                if report.fills:
                    fresh = tuple(f for f in report.fills if self._first_time(f.fill_id))
                    report = _with_fills(report, fresh)
                self.emit(report)
        except (KeyError, ValueError, TypeError, VenueError):
            self.counters.decode_errors += 1

    def _first_time(self, fill_id: str) -> bool:
        if fill_id in self._seen:
            return False
        self._seen.add(fill_id)
        self._seen_order.append(fill_id)
        if len(self._seen_order) > _SEEN_FILLS:
            self._seen.discard(self._seen_order.popleft())
        return True

    def _scales(self, symbol: str) -> tuple[int, int]:
        scales = self.config.scales.get(symbol)
        if scales is None:
            raise VenueError(f"okx: no scales configured for {symbol!r}")
        return scales

    def order_report(self, d: Mapping[str, Any]) -> OrderReport:
        """An ``orders`` channel entry or a ``/api/v5/trade/order`` entry: cumulative, plus the
        last fill when the entry carries one."""
        pd, qd = self._scales(str(d["instId"]))
        fills: tuple[Fill, ...] = ()
        trade_id = str(d.get("tradeId") or "")
        fill_sz = str(d.get("fillSz") or "0")
        if trade_id and to_raw(fill_sz, qd, "fillSz") > 0:
            fee_text = str(d.get("fillFee") or d.get("fee") or "0")
            fee_ccy = str(d.get("fillFeeCcy") or d.get("feeCcy") or "")
            fee, fee_places = charged_fee(fee_text)
            fills = (
                Fill(
                    trade_id,
                    to_raw(fill_sz, qd, "fillSz"),
                    to_raw(str(d["fillPx"]), pd, "fillPx"),
                    fee,
                    fee_ccy,
                    fee_places,
                ),
            )
        reason = ""
        if d.get("cancelSourceReason"):
            reason = str(d["cancelSourceReason"])
        elif d.get("cancelSource"):
            reason = f"cancelSource {d['cancelSource']}"
        return OrderReport(
            VENUE,
            str(d.get("clOrdId", "")),
            map_state(d),
            venue_order_id=str(d["ordId"]) if d.get("ordId") else None,
            filled_qty=to_raw(str(d.get("accFillSz") or "0"), qd, "accFillSz"),
            cumulative=True,
            fills=fills,
            reason=reason,
            venue_ns=ms_to_ns(d.get("uTime")),
        )

    def fill_of(self, d: Mapping[str, Any]) -> Fill:
        """One ``/api/v5/trade/fills`` entry."""
        pd, qd = self._scales(str(d["instId"]))
        fee, fee_places = charged_fee(str(d.get("fee") or "0"))
        return Fill(
            str(d["tradeId"]),
            to_raw(str(d["fillSz"]), qd, "fillSz"),
            to_raw(str(d["fillPx"]), pd, "fillPx"),
            fee,
            str(d.get("feeCcy") or ""),
            fee_places,
        )

    # ---- order entry -----------------------------------------------------------------------------

    def _charges_for(self, limiter: ratelimit.RateLimiter, op: str, inst_id: str) -> ratelimit.Charges:
        if self._charges_of is not limiter:
            self._charges, self._charges_of = {}, limiter
        charges = self._charges.get((op, inst_id))
        if charges is None:
            family = "order" if op == "order" else "cancel"
            cost = {f"{family}:{inst_id}": 1.0} | ({"subaccount": 1.0} if op == "order" else {})
            charges = self._charges[op, inst_id] = limiter.charges(cost)
        return charges

    async def _op(self, op: str, args: dict[str, str], timeout: float) -> tuple[str, str, dict[str, Any]]:
        """Send one op; (code, msg, the order's data entry) after the rate-limit/auth checks.

        On a logged-in connection with room in the limits this runs without suspending up to the
        socket write: every await below returns at once or is the reply's."""
        connection = self.connection
        if not connection.usable:
            await connection.ensure(timeout)
        limiter = self.limiter
        if limiter is not None:
            charges = self._charges_for(limiter, op, args["instId"])
            if not limiter.try_acquire(charges):
                await limiter.acquire(charges)  # queue behind earlier waiters, or wait for room
        rid = f"{self._op_id_prefix}{next(self._ids)}"
        frame = orjson.dumps({"id": rid, "op": op, "args": [args]})
        return self._op_result(op, await connection.request(rid, frame, timeout))

    def _op_result(self, op: str, reply: Any) -> tuple[str, str, dict[str, Any]]:
        if not isinstance(reply, dict):
            raise VenueError(f"okx {op}: malformed reply")
        data = reply.get("data") or []
        entry: dict[str, Any] = data[0] if data and isinstance(data[0], dict) else {}
        top, top_msg = str(reply.get("code", "")), str(reply.get("msg", ""))
        code, msg = (str(entry.get("sCode", "")), str(entry.get("sMsg", ""))) if entry else (top, top_msg)
        for c, m in ((top, top_msg), (code, msg)):
            try:
                raise_for_code(c, m, op)
            except RateLimitedError as e:
                self.counters.rate_limited += 1
                if self.limiter is not None:
                    self.limiter.penalise(e.retry_after)
                raise
        if not entry and top != "0":
            raise VenueError(f"okx {op}: {top} {top_msg}")
        return code, msg, entry

    async def place(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        args = order_fields(intent, self.td_mode)
        t0 = time.perf_counter_ns()
        return self._place_outcome(intent, t0, await self._op("order", args, timeout))

    def _place_outcome(self, intent: OrderIntent, t0: int, result: tuple[str, str, dict[str, Any]]) -> OrderReport:
        code, msg, entry = result
        self.counters.latencies_ns.append(time.perf_counter_ns() - t0)
        cid = intent.client_order_id
        if code == "0":
            self.counters.placed += 1
            oid = entry.get("ordId")
            return OrderReport(VENUE, cid, OrderState.ACKED, venue_order_id=str(oid) if oid else None)
        self.counters.rejected += 1
        return OrderReport(VENUE, cid, OrderState.REJECTED, reason=f"{code} {msg}")

    def configure_order_path(self, path: Any, venue: int) -> bool:
        # request ids "r<base><n>": never one of _op's "o<base><n>"
        path.set_okx(venue, td_mode=self.td_mode, prefix=f"r{self._id_base}")
        return True

    def _order_socket(self) -> WSTransport | None:
        return self.ws.transport if self.connection.usable else None

    def _order_charges(self, symbol: str) -> tuple[ratelimit.RateLimiter, ratelimit.Charges] | None:
        limiter = self.limiter
        return None if limiter is None else (limiter, self._charges_for(limiter, "order", symbol))

    async def placed(self, intent: OrderIntent, rid: str, timeout: float = 5.0) -> OrderReport:
        t0 = time.perf_counter_ns()
        return self._place_outcome(intent, t0, self._op_result("order", await self.connection.expect(rid, timeout)))

    async def cancel(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        args = {"instId": intent.symbol, "clOrdId": intent.client_order_id}
        code, msg, entry = await self._op("cancel-order", args, timeout)
        if code == "0":
            self.counters.canceled += 1
            oid = entry.get("ordId")
            # accepted: the canceled push (or a fill that won the race) follows on the orders channel
            return OrderReport(
                VENUE, intent.client_order_id, OrderState.ACKED, venue_order_id=str(oid) if oid else None
            )
        if code in CANCEL_TOO_LATE_CODES:
            final = await self.query(intent, timeout)
            if final is not None:
                return final
        raise VenueError(f"okx cancel-order: {code} {msg}")

    # ---- REST ------------------------------------------------------------------------------------

    async def _get(self, path: str, params: list[tuple[str, object]], timeout: float, *, signed: bool = True) -> Any:
        """The ``data`` of a GET; ``(code, msg)`` errors raised as VenueError except where handled."""
        code, msg, data = await self._get_raw(path, params, timeout, signed=signed)
        if code != "0":
            raise VenueError(f"okx GET {path}: {code} {msg}")
        return data

    async def _get_raw(
        self, path: str, params: list[tuple[str, object]], timeout: float, *, signed: bool = True
    ) -> tuple[str, str, Any]:
        query = encode_params(params)
        request_path = f"{path}?{query}" if query else path
        headers: dict[str, str] = {}
        if signed:
            req = okx_sign_request(
                self.creds, epoch_ms=now_ms(), method="GET", request_path=request_path, simulated=self.simulated
            )
            headers = dict(req.headers)
        status, _, raw = await self.http.call("GET", path, query=query, headers=headers, timeout=timeout)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise VenueError(f"okx GET {path}: HTTP {status}, not JSON") from None
        if not isinstance(body, dict):
            raise VenueError(f"okx GET {path}: HTTP {status}, malformed body")
        code, msg = str(body.get("code", "")), str(body.get("msg", ""))
        try:
            raise_for_code(code, msg, f"GET {path}")
        except RateLimitedError:
            self.counters.rate_limited += 1
            raise
        if status == 429:
            self.counters.rate_limited += 1
            raise RateLimitedError(f"okx GET {path}: HTTP 429", RATE_LIMIT_RETRY_S)
        if status == 401:
            raise AuthError(f"okx GET {path}: HTTP 401 {code} {msg}")
        return code, msg, body.get("data") or []

    async def _fills(self, symbol: str, order_id: str, timeout: float) -> tuple[Fill, ...]:
        fills: list[Fill] = []
        after = ""
        for _ in range(20):
            params: list[tuple[str, object]] = [("instType", "SPOT"), ("instId", symbol), ("ordId", order_id)]
            if after:
                params.append(("after", after))
            params.append(("limit", 100))
            data = await self._get("/api/v5/trade/fills", params, timeout)
            fills += [self.fill_of(d) for d in data]
            if len(data) < 100:
                break
            after = str(data[-1].get("billId") or "")
            if not after:
                break
        return tuple(fills)

    async def query(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport | None:
        self.counters.queried += 1
        params: list[tuple[str, object]] = [("instId", intent.symbol), ("clOrdId", intent.client_order_id)]
        code, msg, data = await self._get_raw("/api/v5/trade/order", params, timeout)
        if code == ORDER_NOT_FOUND:
            return None
        if code != "0":
            raise VenueError(f"okx GET /api/v5/trade/order: {code} {msg}")
        if not data:
            return None
        report = self.order_report(data[0])
        fills: tuple[Fill, ...] = ()
        if report.filled_qty > 0 and report.venue_order_id:
            fills = await self._fills(intent.symbol, report.venue_order_id, timeout)
        return _with_fills(report, fills)

    async def open_orders(self, timeout: float = 5.0) -> list[OrderReport]:
        out: list[OrderReport] = []
        after = ""
        for _ in range(20):
            params: list[tuple[str, object]] = [("instType", "SPOT")]
            if after:
                params.append(("after", after))
            data = await self._get("/api/v5/trade/orders-pending", params, timeout)
            out += [_with_fills(self.order_report(d), ()) for d in data if d.get("instId") in self.config.scales]
            if len(data) < 100:
                break
            after = str(data[-1].get("ordId") or "")
        return out

    async def balances(self, timeout: float = 5.0) -> list[VenueBalance]:
        data = await self._get("/api/v5/account/balance", [], timeout)
        out: list[VenueBalance] = []
        for acct in data:
            for d in acct.get("details") or []:
                total = str(d.get("cashBal") or d.get("eq") or "0")
                avail = d.get("availBal")
                out.append(VenueBalance(str(d["ccy"]), total, str(avail) if avail not in (None, "") else None))
        return out

    async def instruments(self, symbols: list[str], timeout: float = 5.0) -> dict[str, InstrumentRules]:
        async def one(symbol: str) -> InstrumentRules:
            params: list[tuple[str, object]] = [("instType", "SPOT"), ("instId", symbol)]
            for d in await self._get("/api/v5/public/instruments", params, timeout, signed=False):
                if d.get("instId") == symbol:
                    return self.rules_of(d)
            raise VenueError(f"okx: instrument {symbol!r} not listed")

        rules = await asyncio.gather(*(one(s) for s in symbols))
        return {r.symbol: r for r in rules}

    def rules_of(self, d: Mapping[str, Any]) -> InstrumentRules:
        """A SPOT ``/api/v5/public/instruments`` entry; OKX publishes no notional minimum (0)."""
        symbol = str(d["instId"])
        pd, qd = self._scales(symbol)
        max_text = str(d.get("maxLmtSz") or "0")
        try:
            max_qty = to_raw(max_text, qd, "maxLmtSz")
        except ValueError:
            max_qty = 0
        return InstrumentRules(
            VENUE,
            symbol,
            pd,
            qd,
            tick=to_raw(str(d["tickSz"]), pd, "tickSz"),
            lot=to_raw(str(d["lotSz"]), qd, "lotSz"),
            min_qty=to_raw(str(d["minSz"]), qd, "minSz"),
            min_notional=0,
            max_qty=max_qty,
            base=d.get("baseCcy") or None,
            quote=d.get("quoteCcy") or None,
        )


def _with_fills(r: OrderReport, fills: tuple[Fill, ...]) -> OrderReport:
    return OrderReport(
        r.venue, r.client_order_id, r.state, r.venue_order_id, r.filled_qty, r.cumulative, fills, r.reason, r.venue_ns
    )


def make_client(config: OrderClientConfig) -> OrderClient:
    return OkxOrderClient(config)
