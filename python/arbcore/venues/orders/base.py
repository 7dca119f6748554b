"""The order-client contract every venue implements, and the transport pieces they share.

A venue module (``arbcore.venues.orders.<venue>``) turns :class:`OrderIntent` into the venue's
request, signs it exactly as the venue documents, and turns every reply, private-stream event
and query answer into an :class:`OrderReport`. The engine never sees venue JSON.

Outcome rules every client keeps (the engine relies on them):

- ``place`` returns the venue's immediate answer (ACKED, REJECTED, or a FILLED/EXPIRED result
  where the venue answers with the result). A refusal for rate limit raises :class:`RateLimitedError`
  (nothing was done); bad credentials raise :class:`AuthError`.
- If no answer arrives within ``timeout``, or the connection drops with the request in flight,
  ``place``/``cancel`` raise :class:`OrderTimeoutError`: the order may or may not exist. The engine
  then calls ``query``; a client never re-sends an order on its own.
- ``query`` returns None only when the venue says it does not know the client order id.
- Private-stream events go to ``on_report`` as they arrive, in venue order.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import orjson
from picows import WSListener, WSMsgType, WSTransport, ws_connect

from arbcore.execution.records import OrderIntent
from arbcore.venues.orders.types import (
    ClientCounters,
    InstrumentRules,
    OrderReport,
    OrderTimeoutError,
    VenueBalance,
    VenueError,
)
from arbcore.venues.ratelimit import Charges, RateLimiter
from arbcore.venues.shown_url import shown_url

ReportSink = Callable[[OrderReport], None]
K = TypeVar("K")
V = TypeVar("V")

#: how many orders a client keeps its own per-order facts of (symbol, cumulative fill, fill ids
#: seen): an IOC is done within seconds, and a map of every order sent grows as long as the
#: engine runs (days); the oldest go first
RECENT_ORDERS = 10_000


def remember(d: dict[K, V], key: K, value: V) -> None:
    """``d[key] = value``, then the oldest entries dropped beyond :data:`RECENT_ORDERS` (dicts
    keep insertion order)."""
    d[key] = value
    while len(d) > RECENT_ORDERS:
        del d[next(iter(d))]


class OrderClient(abc.ABC):
    """One venue account. Construct, ``await start()``, use, ``await close()``."""

    venue: str

    def __init__(self) -> None:
        self.on_report: ReportSink | None = None
        self.counters = ClientCounters()
        #: the venue's documented limits, waited on before sending (None: none; set by the client)
        self.limiter: RateLimiter | None = None
        #: symbol -> (limiter, its version) when `prime` found room for an order there (None, 0: no limiter)
        self._primed: dict[str, tuple[RateLimiter | None, int]] = {}
        #: called when :meth:`_order_socket` stops handing out a socket that is still connected
        #: (the Rust order path writes on a socket it was given while it stays connected)
        self.on_order_socket_lost: Callable[[], None] | None = None

    def emit(self, report: OrderReport) -> None:
        self.counters.stream_events += 1
        if self.on_report is not None:
            self.on_report(report)

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect order entry and the private stream; return when both are ready (authenticated)."""

    # ---- the Rust order path (arbcore.execution.fast_path) --------------------------------------
    # A client that supports it lets `arbcore._core.OrderPath` write its limit IOC frames (the same
    # bytes `place` writes), hands out the socket when an order may go now, and reads the reply.

    def configure_order_path(self, path: Any, venue: int) -> bool:
        """Register this client's encoder as ``venue`` of ``path``; False when it has none."""
        return False

    def _order_socket(self) -> WSTransport | None:
        """The order-entry socket if orders may be written to it now (connected, logged in)."""
        return None

    def _order_charges(self, symbol: str) -> tuple[RateLimiter, Charges] | None:
        """The limiter and what one order on ``symbol`` costs in it (None: no limiter)."""
        return None

    def order_wait(self, symbol: str) -> float:
        """Seconds before this client's limiter would let an order on ``symbol`` go (0: now).
        A ticket checks both legs with it before sending either: a leg that would wait (or be
        refused locally) must not leave its partner on the wire alone."""
        lc = self._order_charges(symbol)
        if lc is None:
            return 0.0
        limiter, charges = lc
        return 0.0 if limiter.room_for(charges) else max(limiter.wait_time(charges), 1e-6)

    def fast_transport(self, symbol: str) -> WSTransport | None:
        """The order socket, if an order on ``symbol`` may be written to it now (connected, ready,
        its rate-limit charge taken); None: use :meth:`place`."""
        t = self._order_socket()
        return t if t is not None and self._take_order_charge(symbol) else None

    def _take_order_charge(self, symbol: str) -> bool:
        """An order's rate-limit charge on ``symbol`` spent now, if it fits and nobody waits first."""
        lc = self._order_charges(symbol)
        return lc is None or lc[0].try_acquire(lc[1])

    def prime(self, symbol: str) -> None:
        """Check now, off the order path, that an order on ``symbol`` has room in the limiter:
        :meth:`primed_transport` then hands out the socket without touching the limiter for as
        long as nothing has changed it (time alone only frees room). Already primed on the
        unchanged limiter: nothing to check again (the order path's dry runs prime every 0.1 ms,
        and a dry run that overlaps a book frame's arrival delays it)."""
        got = self._primed.get(symbol)
        if got is not None:
            limiter = got[0]
            if limiter is self.limiter and (limiter is None or got[1] == limiter.version):
                return
        lc = self._order_charges(symbol)
        if lc is None:
            self._primed[symbol] = (None, 0)
        elif lc[0].room_for(lc[1]):
            self._primed[symbol] = (lc[0], lc[0].version)
        else:
            self._primed.pop(symbol, None)

    def primed_transport(self, symbol: str) -> WSTransport | None:
        """The order socket if :meth:`prime` found room for an order on ``symbol`` and the limiter
        is unchanged since (the same object, the same version): write the order now, then
        :meth:`settle_primed` spends its charge. None: use :meth:`fast_transport` (which checks
        and spends first). On the way to the wire: a dict lookup and two compares, no call but
        the socket's (paired e2e rounds of this with the previous check, which also asked
        ``_order_charges``, among the other changes of 9303ac6: 1.0-2.3 µs p50 less)."""
        got = self._primed.get(symbol)
        if got is None:
            return None
        limiter = got[0]
        if limiter is not self.limiter or (limiter is not None and got[1] != limiter.version):
            return None
        return self._order_socket()

    def settle_primed(self, symbol: str) -> None:
        """The charge of the order :meth:`primed_transport` let through, spent (then primed again)."""
        lc = self._order_charges(symbol)
        if lc is not None:
            lc[0].spend(lc[1])
            self.prime(symbol)

    async def placed(self, intent: OrderIntent, rid: str, timeout: float = 5.0) -> OrderReport:
        """The outcome of a frame the order path wrote with request id ``rid``: as :meth:`place`
        from its write on."""
        raise NotImplementedError(f"{self.venue}: no order path")

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def place(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport: ...

    @abc.abstractmethod
    async def cancel(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport:
        """Cancel by client order id. An order already terminal comes back with its final state."""

    @abc.abstractmethod
    async def query(self, intent: OrderIntent, timeout: float = 5.0) -> OrderReport | None:
        """The order's state by client order id, cumulative, WITH its per-fill records (``fills``,
        from the venue's trades/executions endpoint where the order status lacks them): restart
        reconciliation applies exactly the fills it has not journaled yet, by fill id."""

    @abc.abstractmethod
    async def open_orders(self, timeout: float = 5.0) -> list[OrderReport]: ...

    @abc.abstractmethod
    async def balances(self, timeout: float = 5.0) -> list[VenueBalance]: ...

    @abc.abstractmethod
    async def instruments(self, symbols: list[str], timeout: float = 5.0) -> dict[str, InstrumentRules]:
        """Trading rules from the venue's metadata endpoint, at the scales the client was configured with."""


# ---- WebSocket request/response over picows ------------------------------------------------------


class _RpcListener(WSListener):
    def __init__(self, rpc: WsRpc) -> None:
        self.rpc = rpc

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            self.rpc.on_message(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.rpc.on_disconnected(self)


_TEXT = WSMsgType.TEXT


def _expire(fut: asyncio.Future[Any], name: str, req_id: str, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(OrderTimeoutError(f"{name}: no reply to request {req_id} within {timeout:g} s"))


class WsRpc:
    """One WebSocket carrying requests that the venue answers with a matching id, plus unsolicited
    events (the private stream). ``request_id(msg)`` extracts the id from an incoming message or
    returns None for an event, which goes to ``on_event``.

    If the socket drops, every request in flight fails with :class:`OrderTimeoutError` (the venue may
    have acted on it) and ``on_disconnect`` runs; ``connect()`` again to resume.
    """

    def __init__(
        self,
        url: str,
        request_id: Callable[[Any], str | None],
        on_event: Callable[[Any], None],
        on_disconnect: Callable[[], None] | None = None,
        name: str = "ws",
    ) -> None:
        self.url = url
        self.hide: tuple[str, ...] = ()  # what of the URL is a key (a listenKey): never in messages
        self.request_id = request_id
        self.on_event = on_event
        self.on_disconnect = on_disconnect
        self.name = name
        self.transport: WSTransport | None = None
        self._listener: _RpcListener | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self.decode_errors = 0

    @property
    def connected(self) -> bool:
        return self.transport is not None and not self.transport.is_disconnected

    async def connect(self, timeout: float = 5.0) -> None:
        listener = _RpcListener(self)
        try:
            transport, _ = await asyncio.wait_for(
                ws_connect(lambda: listener, self.url, websocket_handshake_timeout=timeout), timeout
            )
        except (OSError, TimeoutError) as e:
            why = str(e) or f"no answer within {timeout:g} s"  # (a timeout's text is empty)
            raise VenueError(f"{self.name}: cannot connect to {shown_url(self.url, self.hide)}: {why}") from None
        self.transport, self._listener = transport, listener

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.transport.wait_disconnected(), 2)
        self.transport = None

    def send(self, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_disconnected:
            raise OrderTimeoutError(f"{self.name}: not connected")
        transport.send(_TEXT, payload)

    async def request(self, req_id: str, payload: bytes, timeout: float) -> Any:
        """Send and wait for the message whose id is ``req_id``. OrderTimeoutError if none arrives.

        The order path: on an open socket the payload is written before the first suspension
        (a caller started with ``start_now`` has it on the wire when that returns), and what
        follows the write is one timer, not ``asyncio.wait_for``'s waiter and callbacks."""
        fut = self._register(req_id)
        try:
            transport = self.transport
            if transport is None or transport.is_disconnected:
                raise OrderTimeoutError(f"{self.name}: not connected")
            transport.send(_TEXT, payload)
        except BaseException:
            self._pending.pop(req_id, None)
            raise
        return await self._reply(fut, req_id, timeout)

    async def expect(self, req_id: str, timeout: float) -> Any:
        """Wait for the reply to a request already written to this socket (the Rust order path
        writes its frames itself, then calls this before the loop can read the reply)."""
        fut = self._register(req_id)
        if not self.connected:  # lost right after the write: the venue may have it (unknown outcome)
            self._pending.pop(req_id, None)
            raise OrderTimeoutError(f"{self.name}: connection lost with request {req_id} in flight")
        return await self._reply(fut, req_id, timeout)

    def _register(self, req_id: str) -> asyncio.Future[Any]:
        pending = self._pending
        if req_id in pending:
            raise VenueError(f"{self.name}: request id {req_id!r} already in flight")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pending[req_id] = fut
        return fut

    async def _reply(self, fut: asyncio.Future[Any], req_id: str, timeout: float | None) -> Any:
        try:
            if timeout is None:
                return await fut
            timer = fut.get_loop().call_later(timeout, _expire, fut, self.name, req_id, timeout)
            try:
                return await fut
            finally:
                timer.cancel()
        finally:
            self._pending.pop(req_id, None)

    def on_message(self, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self.decode_errors += 1
            return
        rid = self.request_id(msg)
        if rid is not None:
            fut = self._pending.get(rid)
            if fut is not None and not fut.done():
                fut.set_result(msg)
                return
        self.on_event(msg)

    def on_disconnected(self, listener: _RpcListener) -> None:
        if listener is not self._listener:
            return  # an older connection closing late
        self.transport = None
        for rid, fut in list(self._pending.items()):
            if not fut.done():
                fut.set_exception(OrderTimeoutError(f"{self.name}: connection lost with request {rid} in flight"))
        if self.on_disconnect is not None:
            self.on_disconnect()


# ---- REST over a warm aiohttp session ------------------------------------------------------------


class Http:
    """A keep-alive HTTP session (connections stay warm between orders)."""

    def __init__(self, base_url: str, name: str = "rest") -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=8, keepalive_timeout=60, force_close=False)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: str = "",
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send exactly ``body`` (the signed text) and return status, headers, raw body.

        A timeout or a dropped connection raises :class:`OrderTimeoutError` (outcome unknown).
        """
        if self._session is None:
            await self.start()
        assert self._session is not None
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        try:
            async with self._session.request(
                method,
                url,
                data=body.encode() if body else None,
                headers=headers or {},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                raw = await resp.read()
                return resp.status, {k: v for k, v in resp.headers.items()}, raw
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as e:
            raise OrderTimeoutError(f"{self.name}: {method} {path}: no reply ({type(e).__name__})") from None
        except aiohttp.ClientError as e:
            raise VenueError(f"{self.name}: {method} {path}: {type(e).__name__}: {e}") from None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_ns(v: Any) -> int | None:
    """A venue's epoch milliseconds (number or text) in nanoseconds; None if absent or malformed."""
    try:
        return int(v) * 1_000_000
    except (TypeError, ValueError):
        return None
