"""Coinbase Advanced Trade order client: REST order entry (JWT per request), WS ``user`` channel.

Transport (venue-protocols.md §3.2-3.4, confirmed with docs search):

- Every REST call carries ``Authorization: Bearer <JWT>`` (ES256 / EdDSA, ``uri`` claim
  ``"METHOD host/path"``, built fresh per request by `arbcore.venues.signing.coinbase`); the host
  in the claim is the configured REST host (``api.coinbase.com`` in production).
- Orders: ``POST /api/v3/brokerage/orders``; cancel: ``POST /api/v3/brokerage/orders/batch_cancel``
  (by venue order id: the client keeps client id -> order id, learnt from the create reply or the
  stream, else found by listing the product's orders); query: ``GET
  /api/v3/brokerage/orders/historical/{order_id}`` plus ``GET .../orders/historical/fills
  ?order_ids=`` for the per-fill records (``trade_id``, ``price``, ``size``, ``commission``);
  open orders: ``GET .../orders/historical/batch?order_status=OPEN``; balances: ``GET
  /api/v3/brokerage/accounts`` (total = ``available_balance`` + ``hold``); metadata: ``GET
  /api/v3/brokerage/products/{product_id}`` (``price_increment``, ``base_increment``,
  ``base_min_size``, ``base_max_size``, ``quote_min_size``).
- Private stream: the ``user`` channel on the User Order Data endpoint
  (``wss://advanced-trade-ws-user.coinbase.com``), subscribed with a JWT (no ``uri`` claim), plus
  ``heartbeats`` to keep it open. It carries cumulative order state (``status``,
  ``cumulative_quantity``, ``leaves_quantity``, ``avg_price``, ``total_fees``), not fills: each
  increase of ``cumulative_quantity`` makes the client fetch the order's fills over REST and emit
  the ones it has not emitted yet, with Coinbase's real ``trade_id`` as the fill id.

Order configuration (``order_configuration``):

================================ =========================================================
intent                           Coinbase
================================ =========================================================
LIMIT GTC                        ``limit_limit_gtc {base_size, limit_price, post_only}``
LIMIT GTC post_only              ``limit_limit_gtc {..., post_only: true}``
LIMIT IOC                        ``sor_limit_ioc {base_size, limit_price}``
LIMIT FOK                        ``limit_limit_fok {base_size, limit_price}``
MARKET IOC                       ``market_market_ioc {base_size}``
MARKET FOK                       ``market_market_fok {base_size}``
post_only with IOC/FOK/MARKET    refused by this client (VenueError, nothing sent)
================================ =========================================================

Errors: HTTP 429 -> RateLimitedError (``Retry-After`` if sent, else 1 s); HTTP 401 ->
AuthError; ``success: false`` -> a REJECTED report, reason ``"<error>: <message>"`` from
``error_response``; a refused ``user`` subscribe -> AuthError.

Commissions are charged in the quote currency (the fills carry no fee asset; it is the
product's quote). Fee decimals are the places of the ``commission`` text.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from arbcore.execution.orders import TERMINAL_STATES, OrderState, OrderType, Side, TimeInForce
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
    OrderTimeoutError,
    RateLimitedError,
    VenueBalance,
    VenueError,
)
from arbcore.venues.signing.coinbase import coinbase_jwt, coinbase_sign_request

LIVE_URLS: dict[str, str] = {
    "rest": "https://api.coinbase.com",
    "ws_user": "wss://advanced-trade-ws-user.coinbase.com",
}

API = "/api/v3/brokerage"
DEFAULT_RETRY_AFTER_S = 1.0
#: pages of the product's orders searched for a client order id whose venue id is not known
MAX_SEARCH_PAGES = 4

STATUS = {
    "PENDING": OrderState.ACKED,
    "QUEUED": OrderState.ACKED,
    "OPEN": OrderState.ACKED,
    "CANCEL_QUEUED": OrderState.ACKED,
    "FILLED": OrderState.FILLED,
    "CANCELLED": OrderState.CANCELED,
    "EXPIRED": OrderState.EXPIRED,
    "FAILED": OrderState.REJECTED,
}


def places_of_text(text: str) -> int:
    exp = Decimal(text).as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def state_of(status: str, filled: int) -> OrderState:
    state = STATUS.get(status)
    if state is None:
        raise VenueError(f"coinbase: unknown order status {status!r}")
    if state is OrderState.ACKED and filled:
        return OrderState.PARTIALLY_FILLED
    return state


def order_configuration(intent: OrderIntent) -> dict[str, Any]:
    """The ``order_configuration`` for ``intent`` (see the table in the module docstring)."""
    size = to_text(intent.qty, intent.qty_decimals)
    if intent.post_only and (intent.order_type is not OrderType.LIMIT or intent.tif is not TimeInForce.GTC):
        raise VenueError("coinbase: post_only needs a GTC limit order (limit_limit_gtc)")
    if intent.order_type is OrderType.MARKET:
        if intent.tif is TimeInForce.GTC:
            raise VenueError("coinbase: a market order is IOC or FOK")
        key = "market_market_ioc" if intent.tif is TimeInForce.IOC else "market_market_fok"
        return {key: {"base_size": size}}
    if intent.limit_price is None:
        raise VenueError("coinbase: a limit order needs a limit price")
    price = to_text(intent.limit_price, intent.price_decimals)
    if intent.tif is TimeInForce.GTC:
        return {"limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": intent.post_only}}
    key = "sor_limit_ioc" if intent.tif is TimeInForce.IOC else "limit_limit_fok"
    return {key: {"base_size": size, "limit_price": price}}


def create_order_body(intent: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": intent.client_order_id,
        "product_id": intent.symbol,
        "side": "BUY" if intent.side is Side.BUY else "SELL",
        "order_configuration": order_configuration(intent),
    }


def reject_reason(reply: dict[str, Any]) -> str:
    err = reply.get("error_response") or {}
    parts = [str(err.get("error") or reply.get("failure_reason") or "UNKNOWN_FAILURE_REASON")]
    if err.get("message"):
        parts.append(str(err["message"]))
    return ": ".join(parts)


class CoinbaseOrderClient(OrderClient):
    venue = "coinbase"

    def __init__(self, config: OrderClientConfig) -> None:
        super().__init__()
        self.config = config
        self.creds = config.credentials
        self.host = urlsplit(config.urls["rest"]).netloc
        self.http = Http(config.urls["rest"], name="coinbase rest")
        self.ws = WsRpc(config.urls["ws_user"], self._request_id, self.on_stream, name="coinbase user")
        self.connection = AuthenticatedConnection(self.ws, self._subscribe, self.counters)
        # per order, the latest RECENT_ORDERS (base.remember)
        self._order_ids: dict[str, str] = {}  # client order id -> order id
        self._symbols: dict[str, str] = {}  # client order id -> product id
        self._cum: dict[str, int] = {}  # order id -> cumulative quantity seen on the stream
        self._states: dict[str, OrderState] = {}  # client order id -> last state seen
        self._seen_fills: dict[str, None] = {}  # (a dict: the oldest are dropped first)
        #: every private request draws on ``private``; a 429 stops them for its Retry-After
        self.limiter = ratelimit.coinbase() if config.options.get("rate_limit", True) else None
        self._private_charges: tuple[ratelimit.RateLimiter, ratelimit.Charges] | None = None

    def _order_charges(self, symbol: str) -> tuple[ratelimit.RateLimiter, ratelimit.Charges] | None:
        limiter = self.limiter
        if limiter is None:
            return None
        if self._private_charges is None or self._private_charges[0] is not limiter:
            self._private_charges = (limiter, limiter.charges(1))
        return self._private_charges

    # ---- connection ------------------------------------------------------------------------------

    @staticmethod
    def _request_id(msg: Any) -> str | None:
        if isinstance(msg, dict) and (msg.get("channel") == "subscriptions" or msg.get("type") == "error"):
            return "subscribe"
        return None

    async def start(self) -> None:
        await self.http.start()
        await self.connection.start()

    async def close(self) -> None:
        await self.connection.close()  # and the fills fetches in flight
        await self.http.close()

    async def _subscribe(self, timeout: float) -> None:
        jwt = coinbase_jwt(self.creds, now_s=int(time.time()))
        sub = {"type": "subscribe", "channel": "user", "product_ids": sorted(self.config.scales), "jwt": jwt}
        reply = await self.ws.request("subscribe", orjson.dumps(sub), timeout)
        if reply.get("type") == "error":
            message = str(reply.get("message", ""))
            if "auth" in message.lower() or "unauthorized" in message.lower():
                raise AuthError(f"coinbase user channel: {message}")
            raise VenueError(f"coinbase user channel: {message}")
        # most channels close after 60-90 s without messages; heartbeats keep the user channel open
        hb = {"type": "subscribe", "channel": "heartbeats", "jwt": coinbase_jwt(self.creds, now_s=int(time.time()))}
        self.ws.send(orjson.dumps(hb))

    # ---- REST ------------------------------------------------------------------------------------

    async def _rest(
        self, method: str, path: str, *, query: str = "", body: dict[str, Any] | None = None, timeout: float = 5.0
    ) -> tuple[int, Any]:
        lc = self._order_charges("")
        if lc is not None and not lc[0].try_acquire(lc[1]):
            wait = lc[0].wait_time(lc[1])
            if wait > timeout:
                raise RateLimitedError(f"coinbase {method} {path}: local rate limit", wait)
            await lc[0].acquire(lc[1])
        text = orjson.dumps(body).decode() if body is not None else ""
        signed = coinbase_sign_request(
            self.creds, now_s=int(time.time()), method=method, path=path, body=text, host=self.host
        )
        status, headers, raw = await self.http.call(
            method, path, query=query, body=text, headers=signed.headers, timeout=timeout
        )
        if status == 429:
            self.counters.rate_limited += 1
            try:
                retry = float(headers.get("Retry-After", DEFAULT_RETRY_AFTER_S))
            except ValueError:
                retry = DEFAULT_RETRY_AFTER_S
            retry = retry if retry > 0 else DEFAULT_RETRY_AFTER_S
            if self.limiter is not None:
                self.limiter.penalise(retry)
            raise RateLimitedError(f"coinbase {method} {path}: HTTP 429", retry)
        if status == 401:
            raise AuthError(f"coinbase {method} {path}: HTTP 401 Unauthorized")
        if status == 404:
            return status, None
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise VenueError(f"coinbase {method} {path}: HTTP {status}, not JSON") from None
        if status != 200:
            detail = parsed.get("message", "") if isinstance(parsed, dict) else ""
            raise VenueError(f"coinbase {method} {path}: HTTP {status} {detail}".rstrip())
        return status, parsed

    # ---- orders ----------------------------------------------------------------------------------

    def _scales(self, symbol: str) -> tuple[int, int]:
        try:
            return self.config.scales[symbol]
        except KeyError:
            raise VenueError(f"coinbase: no scales configured for {symbol!r}") from None

    async def place(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        cid = intent.client_order_id
        body = create_order_body(intent)
        remember(self._symbols, cid, intent.symbol)
        if not self.connection.usable:
            with contextlib.suppress(Exception):
                await self.connection.ensure(timeout)  # the stream comes back by itself; orders do not wait for it
        t0 = now_ms()
        try:
            _, reply = await self._rest("POST", f"{API}/orders", body=body, timeout=timeout)
        except OrderTimeoutError:
            self.counters.timeouts += 1
            raise
        self.counters.latencies_ns.append((now_ms() - t0) * 1_000_000)
        self.counters.placed += 1
        return self.parse_create_reply(cid, reply)

    def parse_create_reply(self, cid: str, reply: Any) -> OrderReport:
        if not isinstance(reply, dict):
            raise VenueError("coinbase create order: unexpected reply")
        if reply.get("success"):
            ok = reply.get("success_response") or {}
            order_id = str(ok.get("order_id") or reply.get("order_id") or "")
            if order_id:
                remember(self._order_ids, cid, order_id)
            return OrderReport(self.venue, cid, OrderState.ACKED, order_id or None)
        self.counters.rejected += 1
        return OrderReport(self.venue, cid, OrderState.REJECTED, reason=reject_reason(reply))

    async def _find_order(self, intent: OrderIntent, timeout: float) -> dict[str, Any] | None:
        """The order as Coinbase lists it, by client order id."""
        cid = intent.client_order_id
        order_id = self._order_ids.get(cid)
        if order_id is not None:
            status, body = await self._rest("GET", f"{API}/orders/historical/{quote(order_id)}", timeout=timeout)
            if status == 404 or not isinstance(body, dict):
                return None
            order = body.get("order")
            return order if isinstance(order, dict) else None
        cursor = ""
        for _ in range(MAX_SEARCH_PAGES):
            q = f"product_ids={quote(intent.symbol)}&limit=250" + (f"&cursor={quote(cursor)}" if cursor else "")
            _, body = await self._rest("GET", f"{API}/orders/historical/batch", query=q, timeout=timeout)
            for order in (body or {}).get("orders") or []:
                if order.get("client_order_id") == cid:
                    remember(self._order_ids, cid, str(order["order_id"]))
                    return dict(order)
            cursor = str((body or {}).get("cursor") or "")
            if not (body or {}).get("has_next") or not cursor:
                break
        return None

    async def cancel(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        order = await self._find_order(intent, timeout)
        if order is None:
            raise VenueError(f"coinbase cancel: unknown client order id {intent.client_order_id}")
        order_id = str(order["order_id"])
        try:
            _, reply = await self._rest(
                "POST", f"{API}/orders/batch_cancel", body={"order_ids": [order_id]}, timeout=timeout
            )
        except OrderTimeoutError:
            self.counters.timeouts += 1
            raise
        results = (reply or {}).get("results") or []
        if results and results[0].get("success"):
            self.counters.canceled += 1
        # Coinbase cancels asynchronously: answer with the order's state now (final, or still open)
        final = await self.query(intent, timeout)
        if final is None:
            reason = results[0].get("failure_reason", "") if results else ""
            raise VenueError(f"coinbase cancel: {reason or 'no result'}")
        return final

    async def query(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport | None:
        self.counters.queried += 1
        order = await self._find_order(intent, timeout)
        if order is None:
            return None
        report = self.rest_order_report(order, intent.symbol)
        if report.filled_qty and report.venue_order_id:
            fills = await self._fills(report.venue_order_id, intent.symbol, timeout)
            report = dataclasses.replace(report, fills=tuple(fills))
        return report

    def rest_order_report(self, order: dict[str, Any], symbol: str | None = None) -> OrderReport:
        sym = symbol or str(order.get("product_id", ""))
        _, qd = self._scales(sym)
        filled = to_raw(str(order.get("filled_size") or "0"), qd, "filled_size")
        state = state_of(str(order.get("status", "")), filled)
        reason = str(order.get("reject_reason") or order.get("cancel_message") or "")
        return OrderReport(
            self.venue, str(order.get("client_order_id", "")), state, str(order["order_id"]), filled, reason=reason
        )

    async def _fills(self, order_id: str, symbol: str, timeout: float) -> list[Fill]:
        out: list[Fill] = []
        cursor = ""
        while True:
            q = f"order_ids={quote(order_id)}" + (f"&cursor={quote(cursor)}" if cursor else "")
            _, body = await self._rest("GET", f"{API}/orders/historical/fills", query=q, timeout=timeout)
            out += [self.fill_of(f, symbol) for f in (body or {}).get("fills") or []]
            cursor = str((body or {}).get("cursor") or "")
            if not cursor:
                return out

    def fill_of(self, fill: dict[str, Any], symbol: str) -> Fill:
        """One entry of ``/orders/historical/fills``; the commission is in the product's quote."""
        pd, qd = self._scales(symbol)
        commission = str(fill.get("commission") or "0")
        places = places_of_text(commission)
        return Fill(
            str(fill["trade_id"]),
            to_raw(str(fill["size"]), qd, "size"),
            to_raw(str(fill["price"]), pd, "price"),
            to_raw(commission, places, "commission"),
            symbol.rsplit("-", 1)[-1],
            places,
        )

    async def open_orders(self, timeout: float = 5.0) -> list[OrderReport]:
        out: list[OrderReport] = []
        cursor = ""
        while True:
            q = "order_status=OPEN&limit=250" + (f"&cursor={quote(cursor)}" if cursor else "")
            _, body = await self._rest("GET", f"{API}/orders/historical/batch", query=q, timeout=timeout)
            for order in (body or {}).get("orders") or []:
                if order.get("product_id") in self.config.scales:
                    out.append(self.rest_order_report(order))
            cursor = str((body or {}).get("cursor") or "")
            if not (body or {}).get("has_next") or not cursor:
                return out

    # ---- the user channel --------------------------------------------------------------------------

    def on_stream(self, msg: Any) -> None:
        if not isinstance(msg, dict) or msg.get("channel") != "user":
            return
        for event in msg.get("events") or []:
            for order in event.get("orders") or []:
                try:
                    report = self.user_order_report(order)
                except (ValueError, KeyError, VenueError):
                    self.counters.decode_errors += 1
                    continue
                self.emit(report)

    def user_order_report(self, order: dict[str, Any]) -> OrderReport:
        """One order of a ``user`` snapshot or update; a quantity increase schedules a fills fetch."""
        cid = str(order.get("client_order_id", ""))
        order_id = str(order["order_id"])
        symbol = str(order.get("product_id") or self._symbols.get(cid, ""))
        _, qd = self._scales(symbol)
        cum = to_raw(str(order.get("cumulative_quantity") or "0"), qd, "cumulative_quantity")
        state = state_of(str(order.get("status", "")), cum)
        if cid:
            if cid not in self._order_ids:
                remember(self._order_ids, cid, order_id)
            if cid not in self._symbols:
                remember(self._symbols, cid, symbol)
            remember(self._states, cid, state)
        if cum > self._cum.get(order_id, 0):
            remember(self._cum, order_id, cum)
            self._spawn_fills(order_id, cid, symbol)
        reason = str(order.get("reject_reason") or order.get("cancel_reason") or "")
        return OrderReport(self.venue, cid, state, order_id, filled_qty=cum, reason=reason)

    def _spawn_fills(self, order_id: str, cid: str, symbol: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a message parsed outside a running client: nothing to fetch the fills with
        self.connection.spawn(self._emit_fills(order_id, cid, symbol))

    async def _emit_fills(self, order_id: str, cid: str, symbol: str) -> None:
        delay = 0.2
        for _ in range(4):
            try:
                fills = await self._fills(order_id, symbol, 5.0)
            except (RateLimitedError, OrderTimeoutError, VenueError) as e:
                await asyncio.sleep(e.retry_after if isinstance(e, RateLimitedError) else delay)
                delay *= 2
                continue
            new = [f for f in fills if f.fill_id not in self._seen_fills]
            for f in new:
                remember(self._seen_fills, f.fill_id, None)
            if new:
                state = self._states.get(cid, OrderState.PARTIALLY_FILLED)
                if state not in TERMINAL_STATES:
                    state = OrderState.PARTIALLY_FILLED
                self.emit(
                    OrderReport(
                        self.venue, cid, state, order_id, sum(f.qty for f in new), cumulative=False, fills=tuple(new)
                    )
                )
            if sum(f.qty for f in fills) >= self._cum.get(order_id, 0):
                return
            await asyncio.sleep(delay)  # the fills endpoint lags the stream: look again

    # ---- account and metadata ------------------------------------------------------------------------

    async def balances(self, timeout: float = 5.0) -> list[VenueBalance]:
        out: list[VenueBalance] = []
        cursor = ""
        while True:
            q = "limit=250" + (f"&cursor={quote(cursor)}" if cursor else "")
            _, body = await self._rest("GET", f"{API}/accounts", query=q, timeout=timeout)
            for acc in (body or {}).get("accounts") or []:
                avail = Decimal(str((acc.get("available_balance") or {}).get("value", "0")))
                hold = Decimal(str((acc.get("hold") or {}).get("value", "0")))
                out.append(VenueBalance(str(acc["currency"]), str(avail + hold), str(avail)))
            cursor = str((body or {}).get("cursor") or "")
            if not (body or {}).get("has_next") or not cursor:
                return out

    async def instruments(self, symbols: list[str], timeout: float = 5.0) -> dict[str, InstrumentRules]:
        out: dict[str, InstrumentRules] = {}
        for sym in symbols:
            status, body = await self._rest("GET", f"{API}/products/{quote(sym)}", timeout=timeout)
            if status == 404 or not isinstance(body, dict):
                raise VenueError(f"coinbase products: unknown product {sym!r}")
            out[sym] = self.rules_from_product(sym, body)
        return out

    def rules_from_product(self, symbol: str, product: dict[str, Any]) -> InstrumentRules:
        pd, qd = self._scales(symbol)
        max_text = product.get("base_max_size")
        min_quote = product.get("quote_min_size")
        return InstrumentRules(
            self.venue,
            symbol,
            pd,
            qd,
            tick=to_raw(str(product["price_increment"]), pd, "price_increment"),
            lot=to_raw(str(product["base_increment"]), qd, "base_increment"),
            min_qty=to_raw(str(product.get("base_min_size") or "0"), qd, "base_min_size"),
            min_notional=to_raw(str(min_quote), pd + qd, "quote_min_size") if min_quote else 0,
            max_qty=to_raw(str(max_text), qd, "base_max_size") if max_text else 0,
            base=product.get("base_currency_id") or None,
            quote=product.get("quote_currency_id") or None,
        )


def make_client(config: OrderClientConfig) -> OrderClient:
    return CoinbaseOrderClient(config)
