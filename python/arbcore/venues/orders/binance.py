"""Binance Spot and USD-M futures order clients (``binance_spot``, ``binance_usdm``).

Transport (venue-protocols.md sections 1.3-1.5 and 2.2-2.3):

- Order entry, cancel, query and balances go over the **WebSocket API**, kept connected:
  spot ``wss://ws-api.binance.com:443/ws-api/v3``, USD-M ``wss://ws-fapi.binance.com/ws-fapi/v1``.
  Requests are ``{"id":..,"method":..,"params":{..}}``; replies ``{"id":..,"status":200,"result":..}``
  or ``{"id":..,"status":4xx,"error":{"code":..,"msg":..,"data":{..}}}``.
- REST (``Http``, kept warm) for metadata (``GET /api/v3/exchangeInfo``, ``GET /fapi/v1/exchangeInfo``)
  and for what USD-M's WS API lacks: open orders (``GET /fapi/v1/openOrders``, signed as REST:
  query string in send order + ``&signature=``, key in ``X-MBX-APIKEY``) and the listenKey
  (``POST``/``PUT /fapi/v1/listenKey``, key header only).
- Private stream: spot subscribes on the same WS API connection with
  ``userDataStream.subscribe.signature`` (events arrive as ``{"subscriptionId":n,"event":{..}}``,
  ``executionReport``); USD-M opens ``<user_stream>/<listenKey>`` (``ORDER_TRADE_UPDATE``) and
  keeps the key alive with a ``PUT`` every ``listen_key_keepalive_s`` (default 1800 s).
- Each socket is an `arbcore.venues.orders.connection.AuthenticatedConnection`: a dropped one is
  re-opened in the background, and at the latest by the next call. Spot's log-in is the
  subscription (a refusal of the key or signature stops the background retries); when the venue
  ends it (``eventStreamTerminated``) the same socket subscribes again. USD-M's WS API socket has
  no log-in (every request is signed); its user stream gets a new listenKey before each connect,
  and reconnects when the key expires. Events sent while a socket was down are not replayed: the
  engine resolves open orders by ``query``.

What goes on the wire is in `arbcore.venues.orders.binance_requests` (order fields per intent,
WS API signing, request weights) and how answers are read in `arbcore.venues.orders.binance_replies`
(order status, error codes and what each one raises).

USD-M is a futures account: ``balances`` returns the USDT-margined wallet (``v2/account.balance``:
``balance`` as the total, ``availableBalance`` as available).

``query`` adds the order's fills (``InstrumentRules`` aside, the only place the engine needs them
outside the stream): spot ``myTrades`` by ``orderId`` over the WS API, USD-M ``GET /fapi/v1/userTrades``.

Pacing: `arbcore.venues.ratelimit.binance_spot` / ``binance_usdm`` (request weight per method,
order counts for new orders); a wait longer than the call's timeout is refused locally with
RateLimitedError. A -1003 or 418 reply stops every request for its ``retryAfter``; -1015 (order
count) stops new orders for its ``retryAfter`` without blocking cancels and queries.

Options: ``recv_window_ms`` (default 5000), ``listen_key_keepalive_s`` (1800), ``maker_fee`` and
``taker_fee`` (FEE_SCALE units, copied into InstrumentRules since exchangeInfo has no fee tier),
``rate_limit`` (default True).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
import urllib.parse
from collections.abc import Awaitable, Mapping
from typing import Any

import orjson
from picows import WSTransport

from arbcore.execution.orders import OrderState
from arbcore.execution.records import Fill, OrderIntent
from arbcore.venues import ratelimit
from arbcore.venues.orders.base import Http, OrderClient, WsRpc, now_ms
from arbcore.venues.orders.binance_replies import (
    ORDER_NOT_FOUND,
    UNKNOWN_ORDER,
    BinanceApiError,
    add_text,
    raise_for_error,
    report_from_event,
    report_from_order,
    rules_from_symbol,
    trades_to_fills,
)
from arbcore.venues.orders.binance_requests import (
    WEIGHTS,
    order_params,
    order_payload_tail,
    ws_sign,
    ws_signature_payload,
)
from arbcore.venues.orders.connection import AuthenticatedConnection
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
from arbcore.venues.signing.binance import API_KEY_HEADER, binance_sign_request
from arbcore.venues.signing.common import KeyedHmac

LIVE_URLS_BY_VENUE: dict[str, dict[str, str]] = {
    "binance_spot": {
        "rest": "https://api.binance.com",
        "ws_api": "wss://ws-api.binance.com:443/ws-api/v3",
    },
    "binance_usdm": {
        "rest": "https://fapi.binance.com",
        "ws_api": "wss://ws-fapi.binance.com/ws-fapi/v1",
        "user_stream": "wss://fstream.binance.com/ws",
    },
}
#: This module serves two venues; ``LIVE_URLS`` is the spot one, ``live_urls(venue)`` picks either.
LIVE_URLS: dict[str, str] = LIVE_URLS_BY_VENUE["binance_spot"]


def live_urls(venue: str) -> dict[str, str]:
    return dict(LIVE_URLS_BY_VENUE[venue])


# ---- the client ---------------------------------------------------------------------------------


class BinanceClient(OrderClient):
    def __init__(self, config: OrderClientConfig) -> None:
        super().__init__()
        if config.venue not in LIVE_URLS_BY_VENUE:
            raise ValueError(f"binance client: unknown venue {config.venue!r}")
        self.venue = config.venue
        self.futures = config.venue == "binance_usdm"
        self.config = config
        self.creds = config.credentials
        self.scales = dict(config.scales)
        self.recv_window = int(config.options.get("recv_window_ms", 5000))
        self.keepalive_s = float(config.options.get("listen_key_keepalive_s", 1800.0))
        self.http = Http(config.urls["rest"], name=f"{self.venue} rest")
        self.ws = WsRpc(config.urls["ws_api"], self._response_id, self._on_ws_event, name=f"{self.venue} ws-api")
        #: the WS API socket; spot's log-in is the user data subscription, USD-M's requests are signed
        self.connection = AuthenticatedConnection(self.ws, None if self.futures else self._subscribe, self.counters)
        self.stream: WsRpc | None = None
        self.stream_connection: AuthenticatedConnection | None = None
        if self.futures:
            self.stream = WsRpc(
                config.urls["user_stream"],  # the listenKey is appended before each connect
                lambda _msg: None,
                self._on_stream_event,
                name=f"{self.venue} user-stream",
            )
            self.stream_connection = AuthenticatedConnection(
                self.stream, None, self.counters, before_connect=self._new_listen_key
            )
        self._ids = itertools.count(1)
        self._subscription_id: int | None = None
        self._listen_key: str | None = None
        self.limiter: ratelimit.RateLimiter | None = None
        if config.options.get("rate_limit", True):
            self.limiter = ratelimit.binance_usdm() if self.futures else ratelimit.binance_spot()
        # per-client constants of the order path
        self._id_prefix = "f" if self.futures else "s"
        self._mac = KeyedHmac(self.creds.secret.encode())
        #: an order's sorted signature payload starts with its apiKey (the first name in order)
        self._order_mac = self._mac.extended(f"apiKey={self.creds.api_key}&")
        self._place_charges: ratelimit.Charges = ()
        self._place_charges_of: ratelimit.RateLimiter | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.http.start()
        await self.connection.start()
        if self.stream_connection is not None:
            await self.stream_connection.start()
            self.stream_connection.spawn(self._keepalive_loop(self.stream_connection))

    async def close(self) -> None:
        await self.connection.close()
        if self.stream_connection is not None:
            await self.stream_connection.close()  # and the listenKey keepalive
        await self.http.close()

    # ---- connections -----------------------------------------------------------------------------

    @staticmethod
    def _response_id(msg: Any) -> str | None:
        if isinstance(msg, dict) and "status" in msg and msg.get("id") is not None:
            return str(msg["id"])
        return None

    def _next_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids)}"

    async def _subscribe(self, timeout: float) -> None:
        """Spot's log-in on the WS API socket: the signed user data subscription."""
        try:
            result = await self._send("userDataStream.subscribe.signature", {}, timeout)
        except BinanceApiError as e:
            raise VenueError(f"{self.venue}: user data subscription refused: {e}") from None
        except OrderTimeoutError as e:
            # the caller's own request was not sent yet: not an unknown outcome
            raise VenueError(f"{self.venue}: user data subscription: {e}") from None
        except AuthError:
            self.connection.auth_refused = True  # no background retries: the next call raises it again
            raise
        sid = result.get("subscriptionId") if isinstance(result, dict) else None
        self._subscription_id = sid if isinstance(sid, int) else None

    async def _new_listen_key(self, timeout: float) -> None:
        """Before each connect of the USD-M user stream: a new listenKey (REST) in its address."""
        assert self.stream is not None
        try:
            status, headers, raw = await self.http.call(
                "POST", "/fapi/v1/listenKey", headers={API_KEY_HEADER: self.creds.api_key}, timeout=timeout
            )
            body = self._rest_json(status, headers, raw)
        except OrderTimeoutError as e:
            raise VenueError(f"{self.venue}: listenKey: {e}") from None
        if not isinstance(body, dict) or not isinstance(body.get("listenKey"), str):
            raise VenueError(f"{self.venue}: listenKey reply without a key")
        self._listen_key = body["listenKey"]
        self.stream.url = f"{self.config.urls['user_stream'].rstrip('/')}/{self._listen_key}"
        self.stream.hide = (self._listen_key,)

    async def _keepalive_loop(self, stream: AuthenticatedConnection) -> None:
        while not stream.closing:
            await asyncio.sleep(self.keepalive_s)
            try:
                status, headers, raw = await self.http.call(
                    "PUT", "/fapi/v1/listenKey", headers={API_KEY_HEADER: self.creds.api_key}
                )
                self._rest_json(status, headers, raw)
            except Exception:  # the key expired: the stream reconnects with a new one
                await stream.ws.close()

    # ---- requests --------------------------------------------------------------------------------

    async def _pace(self, method: str, timeout: float) -> None:
        """Draw the request's weight (and an order count for a new order) from the limiter; a wait
        longer than ``timeout`` is a local rate-limit refusal (nothing is sent)."""
        if self.limiter is None:
            return
        cost = self._cost(method)
        wait = self.limiter.wait_time(cost)
        if wait > timeout:
            raise RateLimitedError(f"{self.venue}: local rate limit for {method}", wait)
        await self.limiter.acquire(cost)

    @staticmethod
    def _cost(method: str) -> dict[str, float]:
        cost: dict[str, float] = {"weight": float(WEIGHTS.get(method, 1))}
        if method == "order.place":
            cost["orders"] = 1.0
        return cost

    def _penalise(self, e: RateLimitedError, status: int, code: int) -> None:
        # -1003 (request weight, IP-wide) and 418 (IP ban) stop every request; -1015 counts orders
        # only: new orders wait out its retryAfter, cancels and queries go on
        if self.limiter is not None and (status == 418 or code == -1003):
            self.limiter.penalise(e.retry_after)
        elif self.limiter is not None and code == -1015:
            self.limiter.penalise(e.retry_after, ("orders",))

    async def _send(self, method: str, params: Mapping[str, object], timeout: float, signed: bool = True) -> Any:
        """One WS API request on the open connection; the result, or raise per ``raise_for_error``."""
        await self._pace(method, timeout)
        body: dict[str, object] = dict(params)
        if signed:
            body["timestamp"] = now_ms()
            if self.recv_window != 5000:
                body["recvWindow"] = self.recv_window
            body = ws_sign(self.creds, body, self._mac)
        rid = self._next_id()
        msg = await self.ws.request(rid, orjson.dumps({"id": rid, "method": method, "params": body}), timeout)
        return self._result(msg)

    def _sign_order(self, body: dict[str, object]) -> None:
        """Sign `order_params` output in place, as `ws_sign` would (same names, same order)."""
        body["timestamp"] = now_ms()
        if self.recv_window != 5000:
            body["recvWindow"] = self.recv_window
        tail = order_payload_tail(body)
        body["apiKey"] = self.creds.api_key
        if tail is None:
            body["signature"] = self._mac.hexdigest(ws_signature_payload(body))
        else:
            body["signature"] = self._order_mac.hexdigest(tail)

    def _result(self, msg: Any) -> Any:
        """A WS API reply's result, or raise per ``raise_for_error``."""
        status = msg.get("status") if isinstance(msg, dict) else None
        if status == 200:
            return msg.get("result")
        error = msg.get("error") if isinstance(msg, dict) else None
        error = error if isinstance(error, dict) else {}
        status = status if isinstance(status, int) else 0
        try:
            raise_for_error(self.venue, status, error)
        except RateLimitedError as e:
            self._penalise(e, status, error.get("code", 0))
            raise
        return None  # unreachable: raise_for_error always raises

    async def _call(self, method: str, params: Mapping[str, object], timeout: float) -> Any:
        await self.connection.ensure(timeout)
        return await self._send(method, params, timeout)

    def _rest_json(self, status: int, headers: Mapping[str, str], raw: bytes) -> Any:
        if self.limiter is not None:
            self.limiter.on_response(status, headers)  # usage headers, and Retry-After on 418/429
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        if status == 200:
            return body
        error = body if isinstance(body, dict) else {"code": 0, "msg": f"HTTP {status}"}
        raise_for_error(self.venue, status, error, headers)
        return None

    async def _rest_signed(self, method: str, path: str, params: Mapping[str, object], timeout: float) -> Any:
        await self._pace(path, timeout)
        signed = binance_sign_request(self.creds, params, timestamp_ms=now_ms(), recv_window_ms=self.recv_window)
        status, headers, raw = await self.http.call(
            method, path, query=signed.query, headers=dict(signed.headers), timeout=timeout
        )
        return self._rest_json(status, headers, raw)

    def _scales_of(self, symbol: str) -> tuple[int, int]:
        try:
            return self.scales[symbol]
        except KeyError:
            raise VenueError(f"{self.venue}: no scales configured for {symbol}") from None

    # ---- the contract ----------------------------------------------------------------------------

    async def place(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        # On an open, subscribed connection with room in the limits this runs without suspending
        # up to the socket write: every await below returns at once or is the reply's.
        params = order_params(intent, self.futures)
        ws = self.ws
        if not self.connection.usable:
            await self.connection.ensure(timeout)
        t0 = time.perf_counter_ns()
        if not self._take_order_charge(intent.symbol):
            try:
                await self._pace("order.place", timeout)  # wait for room, or refuse locally
            except RateLimitedError:
                self.counters.rate_limited += 1
                raise
        self._sign_order(params)
        rid = f"{self._id_prefix}{next(self._ids)}"
        reply = ws.request(rid, orjson.dumps({"id": rid, "method": "order.place", "params": params}), timeout)
        return await self._place_outcome(intent, t0, reply)

    async def _place_outcome(self, intent: OrderIntent, t0: int, reply: Awaitable[Any]) -> OrderReport:
        try:
            result = self._result(await reply)
        except OrderTimeoutError:
            self.counters.timeouts += 1
            raise
        except RateLimitedError:
            self.counters.rate_limited += 1
            raise
        except BinanceApiError as e:
            self.counters.rejected += 1
            return OrderReport(self.venue, intent.client_order_id, OrderState.REJECTED, reason=f"{e.msg} ({e.code})")
        self.counters.latencies_ns.append(time.perf_counter_ns() - t0)
        self.counters.placed += 1
        return report_from_order(self.venue, result, intent.price_decimals, intent.qty_decimals, intent.client_order_id)

    def configure_order_path(self, path: Any, venue: int) -> bool:
        # request ids "<prefix>r<n>": never one of place()'s "<prefix><n>"
        path.set_binance(venue, futures=self.futures, api_key=self.creds.api_key, secret=self.creds.secret,
                         recv_window=None if self.recv_window == 5000 else self.recv_window,
                         prefix=f"{self._id_prefix}r")  # fmt: skip
        return True

    def _order_socket(self) -> WSTransport | None:
        return self.ws.transport if self.connection.usable else None

    def _order_charges(self, symbol: str) -> tuple[ratelimit.RateLimiter, ratelimit.Charges] | None:
        limiter = self.limiter
        if limiter is None:
            return None
        if self._place_charges_of is not limiter:
            self._place_charges = limiter.charges(self._cost("order.place"))
            self._place_charges_of = limiter
        return limiter, self._place_charges

    async def placed(self, intent: OrderIntent, rid: str, timeout: float = 5.0) -> OrderReport:
        return await self._place_outcome(intent, time.perf_counter_ns(), self.ws.expect(rid, timeout))

    async def cancel(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        params = {"symbol": intent.symbol, "origClientOrderId": intent.client_order_id}
        try:
            result = await self._call("order.cancel", params, timeout)
        except OrderTimeoutError:
            self.counters.timeouts += 1
            raise
        except BinanceApiError as e:
            if e.code in (UNKNOWN_ORDER, ORDER_NOT_FOUND):
                # Binance refuses to cancel an order that is no longer open: read its final state
                final = await self.query(intent, timeout)
                if final is not None:
                    return final
            raise VenueError(f"{self.venue}: cancel refused: {e.code} {e.msg}") from None
        self.counters.canceled += 1
        return report_from_order(self.venue, result, intent.price_decimals, intent.qty_decimals, intent.client_order_id)

    async def query(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport | None:
        params = {"symbol": intent.symbol, "origClientOrderId": intent.client_order_id}
        self.counters.queried += 1
        try:
            result = await self._call("order.status", params, timeout)
        except BinanceApiError as e:
            if e.code == ORDER_NOT_FOUND:
                return None
            raise VenueError(f"{self.venue}: query refused: {e.code} {e.msg}") from None
        report = report_from_order(
            self.venue, result, intent.price_decimals, intent.qty_decimals, intent.client_order_id
        )
        if report.filled_qty > 0 and report.venue_order_id is not None:
            fills = await self._order_trades(intent, report.venue_order_id, timeout)
            report = dataclasses.replace(report, fills=fills)
        return report

    async def _order_trades(self, intent: OrderIntent, order_id: str, timeout: float) -> tuple[Fill, ...]:
        """The order's trades (spot ``myTrades`` over the WS API, USD-M ``GET /fapi/v1/userTrades``)."""
        params: dict[str, object] = {"symbol": intent.symbol, "orderId": int(order_id)}
        try:
            if self.futures:
                trades = await self._rest_signed("GET", "/fapi/v1/userTrades", params, timeout)
            else:
                trades = await self._call("myTrades", params, timeout)
        except BinanceApiError as e:
            raise VenueError(f"{self.venue}: trades query refused: {e.code} {e.msg}") from None
        return trades_to_fills(trades, intent.price_decimals, intent.qty_decimals)

    async def open_orders(self, timeout: float = 5.0) -> list[OrderReport]:
        try:
            if self.futures:
                result = await self._rest_signed("GET", "/fapi/v1/openOrders", {}, timeout)
            else:
                result = await self._call("openOrders.status", {}, timeout)
        except BinanceApiError as e:
            raise VenueError(f"{self.venue}: open orders refused: {e.code} {e.msg}") from None
        out = []
        for order in result or ():
            symbol = str(order.get("symbol"))
            if symbol in self.scales:  # orders on instruments this engine does not trade are not ours
                out.append(report_from_order(self.venue, order, *self.scales[symbol]))
        return out

    async def balances(self, timeout: float = 5.0) -> list[VenueBalance]:
        try:
            if self.futures:
                rows = await self._call("v2/account.balance", {}, timeout)
                return [VenueBalance(str(r["asset"]), str(r["balance"]), str(r["availableBalance"])) for r in rows]
            acct = await self._call("account.status", {"omitZeroBalances": True}, timeout)
        except BinanceApiError as e:
            raise VenueError(f"{self.venue}: balances refused: {e.code} {e.msg}") from None
        return [
            VenueBalance(str(b["asset"]), add_text(str(b["free"]), str(b["locked"])), str(b["free"]))
            for b in acct.get("balances", ())
        ]

    async def instruments(self, symbols: list[str], timeout: float = 5.0) -> dict[str, InstrumentRules]:
        if self.futures:
            path, query = "/fapi/v1/exchangeInfo", ""
        else:
            listed = "[" + ",".join(f'"{s}"' for s in symbols) + "]"
            path, query = "/api/v3/exchangeInfo", "symbols=" + urllib.parse.quote(listed, safe="")
        await self._pace(path, timeout)
        status, headers, raw = await self.http.call("GET", path, query=query, timeout=timeout)
        try:
            info = self._rest_json(status, headers, raw)
        except BinanceApiError as e:
            raise VenueError(f"{self.venue}: exchangeInfo refused: {e.code} {e.msg}") from None
        wanted = set(symbols)
        out: dict[str, InstrumentRules] = {}
        for sym in info.get("symbols", ()):
            name = str(sym.get("symbol"))
            if name in wanted:
                pd, qd = self._scales_of(name)
                try:
                    out[name] = rules_from_symbol(self.venue, sym, pd, qd, self.config.options)
                except (KeyError, ValueError) as e:
                    raise VenueError(f"{self.venue}: {name} trading rules unusable at our scales: {e}") from None
        missing = wanted - set(out)
        if missing:
            raise VenueError(f"{self.venue}: exchangeInfo does not list {sorted(missing)}")
        return out

    # ---- private stream --------------------------------------------------------------------------

    def _emit_event(self, ev: Any) -> None:
        try:
            report = report_from_event(self.venue, ev, self.scales)
        except (KeyError, ValueError, TypeError):
            self.counters.decode_errors += 1
            return
        if report is not None:
            self.emit(report)

    def _on_ws_event(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        ev = msg.get("event")
        if isinstance(ev, dict):
            if ev.get("e") == "eventStreamTerminated":  # the socket stays open: subscribe again on it
                self.connection.logged_out()
                if self.on_order_socket_lost is not None:
                    self.on_order_socket_lost()
                return
            self._emit_event(ev)

    def _on_stream_event(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        if msg.get("e") == "listenKeyExpired" and self.stream_connection is not None:
            self.stream_connection.spawn(self.stream_connection.ws.close())  # reconnects with a new key
            return
        self._emit_event(msg)


def make_client(config: OrderClientConfig) -> OrderClient:
    return BinanceClient(config)
