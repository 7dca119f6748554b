"""The lifecycle of one authenticated WebSocket of an order client.

A client builds the socket (:class:`WsRpc`: address, reply matching, event handler) and the
venue's log-in (auth, login or subscribe messages, run once the socket is open); an
:class:`AuthenticatedConnection` around them keeps what is the same on every venue:

- ``ready`` only between a log-in that succeeded and the next drop: a socket that opened but
  failed to log in is closed, never left open unauthenticated; a socket that needs no log-in
  (``log_in`` None) is ready once connected;
- ``before_connect``, if given, runs before every connect (e.g. a fresh token in the address);
- a venue that ends the log-in on a socket that stays open (a subscription it terminated):
  ``logged_out`` makes the connection not ready, and only the log-in runs again, on the same
  socket, as a reconnect would (in the background, or by the next request);
- one connect at a time, whoever asks (``start``, a request through ``ensure``, the background
  reconnect);
- after a drop, unless the client is closing or the venue refused the credentials, one
  background task reconnects with backoff, retrying any failure but a refusal of the
  credentials; a request that comes first reconnects in the foreground;
- a refusal of the credentials holds until a log-in succeeds;
- a reconnect after ``start`` counts in ``counters.reconnects`` (a log-in again on the open
  socket does not);
- the background tasks (reconnects, keepalive pings, any the client spawns) end with ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from arbcore.venues.orders.base import WsRpc
from arbcore.venues.orders.types import AuthError, ClientCounters, OrderTimeoutError

FIRST_RETRY_S = 0.05
MAX_RETRY_S = 5.0
RECONNECT_TIMEOUT_S = 5.0


class AuthenticatedConnection:
    """One WebSocket and its log-in; takes over ``ws.on_disconnect``.

    ``log_in(timeout)`` runs on every (re)connect and raises to refuse it; it sets
    ``auth_refused`` when the venue refused the credentials (no background reconnect then: the
    next request tries again and raises). ``before_connect(timeout)``, if given, runs before
    every connect and raises to refuse it. ``ping()``, if given, is sent every ``ping_every``
    seconds from ``start`` on, for venues that close a quiet connection.
    """

    def __init__(
        self,
        ws: WsRpc,
        log_in: Callable[[float], Awaitable[None]] | None,
        counters: ClientCounters,
        *,
        before_connect: Callable[[float], Awaitable[None]] | None = None,
        ping: Callable[[], bytes] | None = None,
        ping_every: float = 20.0,
    ) -> None:
        self.ws = ws
        ws.on_disconnect = self._lost
        self.log_in = log_in
        self.before_connect = before_connect
        self.counters = counters
        self.ping = ping
        self.ping_every = ping_every
        self.ready = False
        self.started = False
        self.closing = False
        self.auth_refused = False
        self.tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None

    @property
    def usable(self) -> bool:
        return self.ready and self.ws.connected

    async def start(self, timeout: float = 5.0) -> None:
        """Connect and log in (raising what refused it); from now on drops reconnect by themselves."""
        self.closing = False
        async with self._lock:
            await self._open(timeout)
        self.started = True
        if self.ping is not None:
            self.spawn(self._keepalive(self.ping))

    async def close(self) -> None:
        self.closing = True
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.ws.close()

    async def ensure(self, timeout: float) -> None:
        """Return once the connection is logged in, reconnecting first if it is not."""
        if self.usable:
            return
        async with self._lock:
            if not self.usable:
                connected = await self._open(timeout)
                if connected and self.started:
                    self.counters.reconnects += 1

    def logged_out(self) -> None:
        """The venue ended the log-in on a socket that stays open: not ready until ``log_in`` has
        run again on that socket (in the background from ``start`` on, or by the next ``ensure``)."""
        self._lost()

    async def request(self, req_id: str, payload: bytes, timeout: float) -> Any:
        """An order-entry request on the socket; a timeout (outcome unknown) counts in ``counters.timeouts``."""
        try:
            return await self.ws.request(req_id, payload, timeout)
        except OrderTimeoutError:
            self.counters.timeouts += 1
            raise

    async def expect(self, req_id: str, timeout: float) -> Any:
        """The reply to a request the Rust order path wrote to this socket; as :meth:`request`."""
        try:
            return await self.ws.expect(req_id, timeout)
        except OrderTimeoutError:
            self.counters.timeouts += 1
            raise

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` in the background until it ends or ``close`` cancels it."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _open(self, timeout: float) -> bool:
        """Log in, connecting first unless the socket is still open; True if it connected."""
        self.ready = False
        connect = not self.ws.connected
        if connect:
            if self.before_connect is not None:
                await self.before_connect(timeout)
            await self.ws.connect(timeout)
        if self.log_in is not None:
            try:
                await self.log_in(timeout)
            except BaseException:
                await self.ws.close()  # never left connected but logged out
                raise
        self.ready, self.auth_refused = True, False
        return connect

    def _lost(self) -> None:
        self.ready = False
        if not self.started or self.closing or self.auth_refused:
            return
        # a failed log-in closes the socket, which lands here again: the running task retries
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = self.spawn(self._reconnect())

    async def _reconnect(self) -> None:
        delay = FIRST_RETRY_S
        while not self.closing and not self.auth_refused:
            try:
                await self.ensure(RECONNECT_TIMEOUT_S)
                return
            except AuthError:
                return  # a configuration problem: the next request tries again and raises it
            except Exception:  # the venue is down or refused the upgrade, the token, the subscribe...
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _keepalive(self, ping: Callable[[], bytes]) -> None:
        while not self.closing:
            await asyncio.sleep(self.ping_every)
            if self.ws.connected:
                with contextlib.suppress(OrderTimeoutError):
                    self.ws.send(ping())
