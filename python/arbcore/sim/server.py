"""A simulated venue on loopback: a picows WebSocket server (and an aiohttp REST server where
the protocol needs one) that speaks one venue's real wire protocol, moved by a seeded process,
with faults injected on demand or on a schedule. It always knows its true book.

The protocol specifics (subscribe messages, frame layouts, sequence numbers, checksums, REST
snapshots) live in one module per venue (`arbcore.sim.<venue>`); this module is the shared engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from picows import WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from arbcore.sim.book import Delta, Level, MidProcess, VenueBookProcess


class Fault(enum.Enum):
    DROP = "drop"  # a book message is not delivered (its sequence number is used up)
    DUPLICATE = "duplicate"  # a book message is delivered twice
    REORDER = "reorder"  # two consecutive book messages are delivered swapped
    CORRUPT_CHECKSUM = "corrupt_checksum"  # a book message carries a wrong checksum
    MALFORMED = "malformed"  # a book message is replaced by a truncated frame
    DISCONNECT = "disconnect"  # every connection is closed by the server
    STALL = "stall"  # the venue goes silent for `seconds`, then resumes
    SLOW_SNAPSHOT = "slow_snapshot"  # snapshots (REST or WS) are delayed by `seconds`


@dataclass
class SimInstrument:
    """One instrument on the simulated venue, at the engine's scales."""

    symbol: str
    price_decimals: int
    qty_decimals: int
    tick: int  # raw, at price_decimals
    lot: int  # raw, at qty_decimals
    mid: int  # starting mid, raw
    depth: int = 50


@dataclass
class InstrumentState:
    spec: SimInstrument
    process: VenueBookProcess
    mid_fn: Callable[[], int] | None
    seq: dict[str, int] = field(default_factory=dict)  # protocol-owned counters


class SimProtocol(Protocol):
    name: str
    ws_path: str

    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None: ...
    def on_step(self, venue: SimVenue, inst: InstrumentState, deltas: list[Delta]) -> None: ...
    def update_frame(
        self, venue: SimVenue, conn: SimConnection, inst: InstrumentState, deltas: list[Delta]
    ) -> bytes: ...
    def snapshot_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState) -> bytes | None: ...
    def corrupt_checksum(self, frame: bytes) -> bytes: ...
    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]: ...


class SimOrderSide(Protocol):
    """A venue's order entry and private stream (``arbcore.sim.orders.<venue>``), served beside
    its market data by the same SimVenue. ``ws_paths`` are the private/trade WebSocket paths."""

    ws_paths: tuple[str, ...]

    def on_private_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None: ...
    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]: ...


def _text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


#: perf_counter_ns at the entry of the REST handler now running (set per request, task-local)
_rest_recv_ns: contextvars.ContextVar[int | None] = contextvars.ContextVar("sim_rest_recv_ns", default=None)


class SimConnection(WSListener):
    def __init__(self, venue: SimVenue, path: str = "") -> None:
        self.venue = venue
        self.path = path
        self.private = False  # set by the factory for an order-entry / private-stream path
        self.transport: WSTransport | None = None
        self.subs: set[str] = set()
        self.state: dict[str, Any] = {}
        self.held: bytes | None = None  # a frame held back by REORDER
        #: perf_counter_ns at the entry of the frame callback for the last data frame (benchmarks)
        self.recv_ns = 0
        #: frames for this connection held while one of its frames is handled (see `flush`)
        self._held_out: list[bytes] | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.venue.connections.add(self)

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            self.recv_ns = time.perf_counter_ns()
            venue = self.venue
            if self.private and venue.stand_off_s:
                time.sleep(venue.stand_off_s)  # benchmarks only (see SimVenue.stand_off_s)
            venue.serving = self
            self._held_out = []
            try:
                if self.private and venue.order_side is not None:
                    venue.order_side.on_private_message(venue, self, frame.get_payload_as_bytes())
                else:
                    venue.protocol.on_client_message(venue, self, frame.get_payload_as_bytes())
            finally:
                venue.serving = None
                self.flush()
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.venue.connections.discard(self)

    def send(self, data: bytes) -> None:
        """Send one text frame. While one of this connection's own frames is being handled, the
        answers (a reply and the private events it caused) are held and written together when
        the handling ends: the same frames in the same order, one write instead of one each."""
        if self._held_out is not None:
            self._held_out.append(data)
        elif self.transport is not None and not self.transport.is_disconnected:
            self.transport.send(WSMsgType.TEXT, data)

    def flush(self) -> None:
        """Write the held frames now, in order (before dropping the connection, for one)."""
        held, self._held_out = self._held_out, None
        transport = self.transport
        if not held or transport is None or transport.is_disconnected:
            return
        if len(held) == 1:
            transport.send(WSMsgType.TEXT, held[0])
        else:
            transport.underlying_transport.write(b"".join([_text_frame(f) for f in held]))

    def drop(self) -> None:
        """Close the TCP connection without a closing handshake (frames sent so far go first)."""
        self.flush()
        if self.transport is not None:
            self.transport.disconnect(graceful=False)


@web.middleware
async def _stamp_request(request: web.Request, handler: Any) -> web.StreamResponse:
    token = _rest_recv_ns.set(time.perf_counter_ns())
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        _rest_recv_ns.reset(token)


@dataclass
class _Pending:
    fault: Fault
    symbol: str | None
    count: int


class SimVenue:
    """One simulated venue. `await start()`, then point a feed client at `ws_url`."""

    def __init__(
        self,
        protocol: SimProtocol,
        instruments: list[SimInstrument],
        *,
        seed: int = 1,
        interval: float = 0.01,
        deltas_per_step: int = 4,
        mid_fns: dict[str, Callable[[], int]] | None = None,
    ) -> None:
        self.protocol = protocol
        self.rng = random.Random(seed)
        self.interval = interval
        self.deltas_per_step = deltas_per_step
        self.instruments: dict[str, InstrumentState] = {}
        self._own_mids: dict[str, MidProcess] = {}
        for spec in instruments:
            proc = VenueBookProcess(random.Random(self.rng.random()), spec.mid, spec.tick, spec.lot, spec.depth)
            fn = (mid_fns or {}).get(spec.symbol)
            if fn is None:
                self._own_mids[spec.symbol] = MidProcess(random.Random(self.rng.random()), spec.mid, spec.tick, 1, [0])
            self.instruments[spec.symbol] = InstrumentState(spec, proc, fn)
        self.connections: set[SimConnection] = set()
        self.pending: list[_Pending] = []
        self.stalled_until = 0.0
        self.snapshot_delay = 0.0
        self.steps = 0
        self.sent_frames = 0
        self.last_send_ns = 0
        self._ws_server: asyncio.Server | None = None
        self._rest_runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self.ws_port = 0
        self.rest_port = 0
        #: order side (matching engine, accounts, order-entry protocol); see `attach_orders`
        self.exchange: Any = None
        self.order_side: SimOrderSide | None = None
        #: the connection whose frame is being handled right now (None between frames)
        self.serving: SimConnection | None = None
        #: benchmarks on a host with fewer cores than processes (benches/e2e_sims.py): once the
        #: arrival of an order-entry frame is stamped, the process sleeps this long before handling
        #: it. Another simulated venue sharing the core then reads (and stamps) its own order in the
        #: meantime, as a venue on its own host would, instead of after this one's whole handling
        #: (~300 µs of Python). Blocks the loop: never set outside a benchmark.
        self.stand_off_s = 0.0

    def request_recv_ns(self) -> int | None:
        """perf_counter_ns when the request being served now was received: the entry of the WS
        frame callback for the frame being handled, or of the REST handler running in this task;
        None outside a request. Benchmarks read it (e.g. from a wrapped ``exchange.submit``)."""
        if self.serving is not None:
            return self.serving.recv_ns
        return _rest_recv_ns.get()

    def attach_orders(self, exchange: Any, order_side: SimOrderSide) -> None:
        """Give this venue an order side; call before ``start()``."""
        self.exchange = exchange
        self.order_side = order_side

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1") -> None:
        def factory(request: WSUpgradeRequest) -> SimConnection | None:
            path = request.path.decode().split("?")[0].rstrip("/")
            if path == self.protocol.ws_path.rstrip("/"):
                return SimConnection(self, path)
            paths = self.order_side.ws_paths if self.order_side is not None else ()
            if any(path == p.rstrip("/") or (p.endswith("/*") and path.startswith(p[:-1])) for p in paths):
                conn = SimConnection(self, path)
                conn.private = True
                return conn
            return None

        self._ws_server = await ws_create_server(factory, host, 0)
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        routes = self.protocol.rest_routes(self)
        if self.order_side is not None:
            routes = routes + self.order_side.rest_routes(self)
        if routes:
            app = web.Application(middlewares=[_stamp_request])
            app.add_routes(routes)
            self._rest_runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
            await self._rest_runner.setup()
            site = web.TCPSite(self._rest_runner, host, 0)
            await site.start()
            self.rest_port = int(self._rest_runner.addresses[0][1])
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for c in list(self.connections):
            if c.transport is not None:
                c.transport.disconnect()
        if self._ws_server is not None:
            self._ws_server.close()
        if self._rest_runner is not None:
            await self._rest_runner.cleanup()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}{self.protocol.ws_path}"

    def url_for(self, ws_path: str) -> str:
        return f"ws://127.0.0.1:{self.ws_port}{ws_path}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    # -- truth and faults ---------------------------------------------------------------------
    def true_book(self, symbol: str, n: int | None = None) -> tuple[list[Level], list[Level]]:
        st = self.instruments[symbol]
        return st.process.book.top(n if n is not None else st.spec.depth)

    def inject(self, fault: Fault, *, symbol: str | None = None, count: int = 1, seconds: float = 0.0) -> None:
        """Inject a fault now: message faults hit the next `count` book messages (of `symbol`)."""
        loop_time = asyncio.get_running_loop().time()
        if fault is Fault.DISCONNECT:
            for c in list(self.connections):
                c.drop()
        elif fault is Fault.STALL:
            self.stalled_until = loop_time + seconds
        elif fault is Fault.SLOW_SNAPSHOT:
            self.snapshot_delay = seconds
        else:
            self.pending.append(_Pending(fault, symbol, count))

    def schedule(self, delay: float, fault: Fault, **kwargs: Any) -> None:
        asyncio.get_running_loop().call_later(delay, lambda: self.inject(fault, **kwargs))

    async def send_snapshot(self, conn: SimConnection, symbol: str) -> None:
        """Send the WS snapshot for a new subscription (after any injected delay)."""
        if self.snapshot_delay:
            await asyncio.sleep(self.snapshot_delay)
        frame = self.protocol.snapshot_frame(self, conn, self.instruments[symbol])
        if frame is not None:
            conn.send(frame)

    # -- the clock ------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            if loop.time() < self.stalled_until:
                continue
            self.step()

    def step(self) -> None:
        self.steps += 1
        for symbol, st in self.instruments.items():
            deltas: list[Delta] = []
            if st.mid_fn is not None:
                st.process.move_to(st.mid_fn(), deltas)
            else:
                mp = self._own_mids[symbol]
                mp.advance()
                st.process.move_to(mp.venue_mid(0), deltas)
            deltas += st.process.step(self.deltas_per_step)
            if self.exchange is not None:
                # resting orders the new book crosses fill now, taking the liquidity they meet
                deltas += self.exchange.match_resting(symbol)
            self.publish(symbol, deltas)

    def publish(self, symbol: str, deltas: list[Delta]) -> None:
        """Send one book message with ``deltas`` (already applied to the true book) to subscribers."""
        if not deltas:
            return
        # one message carries one final value per level, as venues send them
        last: dict[tuple[int, int], int] = {}
        for side, price, qty in deltas:
            last[(side, price)] = qty
        deltas = [(side, price, qty) for (side, price), qty in last.items()]
        st = self.instruments[symbol]
        self.protocol.on_step(self, st, deltas)
        for conn in list(self.connections):
            if symbol in conn.subs:
                self._deliver(conn, symbol, self.protocol.update_frame(self, conn, st, deltas))

    def _take_fault(self, symbol: str) -> Fault | None:
        for p in self.pending:
            if p.symbol in (None, symbol):
                p.count -= 1
                if p.count <= 0:
                    self.pending.remove(p)
                return p.fault
        return None

    def _deliver(self, conn: SimConnection, symbol: str, frame: bytes) -> None:
        fault = self._take_fault(symbol)
        if fault is Fault.DROP:
            return
        if fault is Fault.MALFORMED:
            frame = frame[: len(frame) // 2]
        elif fault is Fault.CORRUPT_CHECKSUM:
            frame = self.protocol.corrupt_checksum(frame)
        elif fault is Fault.REORDER:
            conn.held = frame
            return
        self.last_send_ns = time.perf_counter_ns()  # benchmarks: when the last book frame left
        conn.send(frame)
        self.sent_frames += 1
        if fault is Fault.DUPLICATE:
            conn.send(frame)
        if conn.held is not None:
            held, conn.held = conn.held, None
            conn.send(held)
