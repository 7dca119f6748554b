"""Market-data feed client: one picows WebSocket connection to one venue, frames handed to Rust.

Per frame: one `Feed.on_frame(bytes, recv_ns)` call (decode, sequence/checksum, apply) and a
branch on the small int it returns. Detection runs once per drained socket read (picows
`last_in_buffer`), not once per frame. The client answers the venue's ping rules, reconnects
with exponential backoff and jitter, resubscribes and resyncs, marks silent books STALE, and
keeps counters and a receive-latency histogram. One client failing never touches another's books.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from picows import WSListener, WSMsgType, WSTransport, ws_connect

from arbcore import _core
from arbcore._core import ConsolidatedBook, Feed
from arbcore.venues.base import VenueClientSpec
from arbcore.venues.shown_url import shown_url

if TYPE_CHECKING:
    from arbcore._core import TakenTicket

#: a book that breaks again within this long of its last resubscribe is resubscribed after a
#: delay, doubled each time from RESUBSCRIBE_BACKOFF[0] up to [1] (seconds). Why: a fault that
#: lasts (a venue's precision other than the decoder's, a venue sending bad checksums) broke the
#: book on its first update after each snapshot, and the client resubscribed at once, every
#: time: ~5,000 times a second on loopback, a storm a real venue answers with a ban. One fault
#: now and then still resyncs at once.
RESUBSCRIBE_CALM_S = 2.0
RESUBSCRIBE_BACKOFF = (0.1, 5.0)
#: :attr:`FeedClient.errors` keeps the latest this many (a venue down for a day is a connect
#: error every few seconds)
ERRORS_KEPT = 100

log = logging.getLogger("arbcore.feed")

# Read once: an enum member's lookup on its class costs ~0.2 µs hot per frame (see _Listener).
_TEXT, _BINARY, _CLOSE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CLOSE
_time_ns = time.time_ns
#: picows' own frame maker (its tests'; not exported): a twin's warm-up frame goes through the
#: connection's listener code like a received one. Without it the twin's handler is called directly.
_make_ws_frame: Callable[..., Any] | None = getattr(
    importlib.import_module("picows.picows"), "_make_test_ws_frame", None
)


class FrameSink(Protocol):
    """Receives every frame as received, and what the client does to its books that no frame
    shows, in the same order (see arbcore.record: a replay does the same at the same point)."""

    def frame(
        self, recv_ns: int, venue: str, conn: int, kind: str, data: bytes, *, symbol: str | None = None
    ) -> None: ...

    def event(self, t_ns: int, venue: str, conn: int, kind: str, *, symbol: str | None = None) -> None: ...


@dataclass
class LatencyHistogram:
    """Receive time minus venue event time, in power-of-two microsecond buckets."""

    buckets: list[int] = field(default_factory=lambda: [0] * 32)
    count: int = 0

    def add(self, ns: int) -> None:
        us = max(0, ns) // 1000
        self.buckets[min(31, us.bit_length())] += 1
        self.count += 1

    def percentile(self, q: float) -> int:
        """Upper bound (µs) of the bucket holding quantile q."""
        target, seen = q * self.count, 0
        for i, n in enumerate(self.buckets):
            seen += n
            if n and seen >= target:
                return (1 << i) - 1 if i else 0
        return 0


@dataclass
class BookSlot:
    book: ConsolidatedBook
    instrument: int
    venue: int
    symbol: str


def _empty_like(book: ConsolidatedBook) -> ConsolidatedBook:
    """A book with ``book``'s instrument and venues (same indices), and no levels."""
    out = ConsolidatedBook(book.instrument, book.price_decimals, book.qty_decimals, book.instrument_id)
    for venue in book.venues:
        spec = book.venue_spec(venue)
        out.add_venue(spec.pop("name"), **spec)
    return out


class _Listener(WSListener):
    """picows' callbacks for one connection. ``on_ws_frame`` is on the way from a book frame to an
    order (a frame that opens a spread): it reads ``frame.msg_type`` once (picows makes a Python
    enum member per read, ~0.2 µs hot) and compares identities with module constants (the
    ``in (WSMsgType.TEXT, WSMsgType.BINARY)`` it replaces took ~0.6 µs hot)."""

    def __init__(self, client: FeedClient) -> None:
        self.client = client
        self._on_frame = client._on_frame

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.client._on_connected(transport)

    def on_ws_frame(self, transport: WSTransport | None, frame: Any) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            self._on_frame(frame.get_payload_as_bytes(), frame.last_in_buffer)
        elif kind is _CLOSE and transport is not None:  # (None: a twin's warm-up, never a CLOSE)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.client._on_disconnected()


class FeedClient:
    """Keeps the books of one venue connection in sync, forever, until `stop()`."""

    def __init__(
        self,
        spec: VenueClientSpec,
        url: str,
        books: list[ConsolidatedBook],
        symbols: dict[str, tuple[int, int]],
        *,
        rest_url: str | None = None,
        on_read: Callable[[], None] | None = None,
        stale_after: float | None = None,
        backoff_initial: float = 0.05,
        backoff_max: float = 5.0,
        seed: int | None = None,
        recorder: FrameSink | None = None,
        feed_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if len(symbols) > spec.max_symbols_per_connection:
            raise ValueError(
                f"{spec.name}: {len(symbols)} symbols exceed {spec.max_symbols_per_connection} per connection"
            )
        self.spec = spec
        #: the venue's name in recordings: the config's (two venues may speak one protocol)
        self.name = name or spec.name
        self.url = url
        self.rest_url = rest_url
        self.books = books
        self.slots = {sym: BookSlot(books[i], i, v, sym) for sym, (i, v) in symbols.items()}
        self._by_ref = {(s.instrument, s.venue): s for s in self.slots.values()}
        # venue-specific decoder settings (Kraken: depth from the spec, precisions from the caller)
        kwargs = {**spec.feed_kwargs, **(feed_kwargs or {})}
        self.feed = Feed(spec.feed_protocol, books, symbols, **kwargs)
        self._warm_args = (symbols, kwargs)  # for the scratch decoder of warm_decoder()
        self._warm_frame: bytes | None = None  # the last update this connection applied
        self._twin: _WarmTwin | None = None  # warm_decoder's
        self._twin_listener: _Listener | None = None  # the twin's, fed a picows frame of _warm_frame
        self._warm_ws: tuple[bytes, Any] | None = None  # (_warm_frame it was made of, that frame)
        self.on_read = on_read
        #: a ticket the order path attached to this feed started (``Feed.attach_taker``): its writes
        self.on_taken: Callable[[TakenTicket], object] | None = None
        self.tickets_started = 0  # by on_taken: tickets written in this feed's frame callback
        self.recorder = recorder
        self.stale_ns = int((stale_after if stale_after is not None else spec.stale_after) * 1e9)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rng = random.Random(seed)
        self.latency = LatencyHistogram()
        self.reconnects = 0
        self.callback_errors = 0
        self.conn_id = 0
        self.resync_requests = 0
        self.errors: list[str] = []  # the latest ERRORS_KEPT, oldest first
        self.connected = asyncio.Event()
        self._transport: WSTransport | None = None
        self._dirty = False
        self._stopping = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._snapshot_pending: set[str] = set()
        self._http: aiohttp.ClientSession | None = None
        #: per symbol: when it was last resubscribed and the delay that waited for it
        self._resubscribed: dict[str, tuple[float, float]] = {}
        self._resubscribe_later: dict[str, asyncio.TimerHandle] = {}  # symbol -> its delayed resubscribe

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, subscribe and keep going; returns only after `stop()`."""
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch_stale()))
        if self.spec.ping is not None:
            self._tasks.append(loop.create_task(self._ping_loop()))
        delay = self.backoff_initial
        try:
            while not self._stopping:
                try:
                    transport, _ = await ws_connect(lambda: _Listener(self), self.url, websocket_handshake_timeout=5)
                    delay = self.backoff_initial
                    await transport.wait_disconnected()
                except (TimeoutError, OSError, ConnectionError) as e:
                    self._error(f"connect: {self._shown(e)}")
                    log.warning("%s: cannot connect to %s: %s", self.spec.name, shown_url(self.url), self._shown(e))
                except Exception as e:  # picows raises its own handshake errors
                    self._error(f"connect: {type(e).__name__}: {self._shown(e)}")
                    log.warning("%s: connection failed: %s", self.spec.name, self._shown(e))
                if self._stopping:
                    break
                self.reconnects += 1
                # exponential backoff with full jitter
                await asyncio.sleep(self.rng.uniform(0, delay))
                delay = min(self.backoff_max, delay * 2)
        finally:
            for t in self._tasks:
                t.cancel()
            if self._http is not None:
                await self._http.close()

    def _error(self, err: str) -> None:
        self.errors.append(err)
        if len(self.errors) > ERRORS_KEPT:
            del self.errors[0]

    def stop(self) -> None:
        self._stopping = True
        if self._transport is not None:
            self._transport.disconnect()

    # -- connection events ----------------------------------------------------------------------
    def _on_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self.conn_id += 1
        self.feed.reset_connection()  # sequences restart per connection (Coinbase)
        self._snapshot_pending.clear()
        self._cancel_resubscribes()  # the subscribe below covers every book
        for slot in self.slots.values():
            slot.book.set_state(slot.venue, _core.SYNCING)
        for msg in self.spec.subscribe(list(self.slots)):
            transport.send(WSMsgType.TEXT, msg)
        self.connected.set()

    def _on_disconnected(self) -> None:
        self._transport = None
        self.connected.clear()
        self._cancel_resubscribes()
        # the stream is gone: nothing from it may feed detection until it resyncs
        for slot in self.slots.values():
            slot.book.set_state(slot.venue, _core.SYNCING)
        if self.recorder is not None and not self._stopping:  # (its own stop is no venue's doing)
            self.recorder.event(_time_ns(), self.name, self.conn_id, "disconnected")
        self._mark_dirty()

    def _on_frame(self, data: bytes, last_in_buffer: int) -> None:
        recv = _time_ns()
        if self.recorder is not None:
            self.recorder.frame(recv, self.name, self.conn_id, "ws", data)
        on_taken = self.on_taken
        if on_taken is None:
            code = self.feed.on_frame(data, recv)
        else:
            # the order path decides in the decode's call (Feed.on_frame_take): a ticket it
            # started goes straight to its writes, before anything else of this frame
            out = self.feed.on_frame_take(data, recv, last_in_buffer)
            if isinstance(out, int):  # (an exact int: the C check is a flag test)
                code = out
            else:
                try:
                    if on_taken(out) is not None:
                        self.tickets_started += 1
                except Exception as e:
                    self._callback_failed(e)
                code = self.feed.last_code
        if code in (_core.FRAME_APPLIED_TOP, _core.FRAME_SYNCED, _core.FRAME_RESYNC):
            self._dirty = True
        if last_in_buffer and self._dirty:
            # detection (and the strategy, maybe a ticket) first: the bookkeeping below can wait.
            # _mark_dirty written out: on the frame that opens a spread a Python call costs
            # ~1.5 µs cold (this and FastPath.take's _ready written out: 0.2-3.4 µs p50 less on
            # the wire in three paired runs of the e2e rounds, the variant flipped each round)
            self._dirty = False
            on_read = self.on_read
            if on_read is not None:
                try:
                    on_read()
                except Exception as e:
                    self._callback_failed(e)
        if code >= _core.FRAME_APPLIED and code <= _core.FRAME_SYNCED:
            if code != _core.FRAME_SYNCED:
                self._warm_frame = data  # (a reference, no copy)
            ref = self.feed.last_book()
            if ref is not None:
                slot = self._by_ref.get(ref)
                if slot is not None:
                    venue_ts = slot.book.timestamps(slot.venue)[0]
                    if venue_ts:
                        self.latency.add(recv - venue_ts)
        elif code == _core.FRAME_RESYNC:
            self._resync(self.feed.last_book(), self.feed.last_reason())
        elif code == _core.FRAME_BUFFERED and self.spec.snapshot_path is not None:
            self._request_snapshot(self.feed.last_book())
        elif code == _core.FRAME_ERROR:
            err = self.feed.last_error() or "decode error"
            self._error(err)
            log.warning("%s: %s", self.spec.name, err)

    def warm_decoder(self) -> None:
        """``[run] keep_warm_ms``: the last update this connection applied, handled again by a twin
        of this connection (:class:`_WarmTwin`: the same frame handler, :meth:`_on_frame`, on a
        scratch decoder of the same venue that replays each frame on copies of this connection's
        books, ``Feed.follow``), sharing no state with the live one. Why: the order path's dry runs
        keep the decision warm, but the decoder and the frame handler run only when a frame
        comes; on a quiet book, the frame that opens a spread found them cold. Profiled e2e
        rounds: a 51-level OKX update 12.6 µs p50 cold, 7.1 µs with the frame parsed again, 6.0
        µs with it also applied and checksummed on the copies; with the twin's handler the
        Python from the frame callback to the decode as well (see :class:`_WarmTwin`), from
        picows' frame object on (a frame made of the same bytes, through a listener of the twin)."""
        frame = self._warm_frame
        if frame is None:
            return
        twin = self._twin
        if twin is None:
            symbols, kwargs = self._warm_args
            books = [_empty_like(b) for b in self.books]
            twin = self._twin = _WarmTwin(self.spec, self.url, books, symbols, feed_kwargs=kwargs)
            twin.feed.follow(self.feed)
        # the same branch of the handler as this connection's frames take
        twin.on_taken = None if self.on_taken is None else _never_taken
        if _make_ws_frame is None:
            twin._on_frame(frame, 1)
            return
        made = self._warm_ws
        if made is None or made[0] is not frame:
            made = self._warm_ws = (frame, _make_ws_frame(_TEXT, frame, True, False))
        listener = self._twin_listener
        if listener is None:
            listener = self._twin_listener = _Listener(twin)
        listener.on_ws_frame(None, made[1])

    def _mark_dirty(self) -> None:
        """Run the per-read callback (detection, strategy). Its failure is reported, never allowed
        to take the feed down: picows would otherwise drop the connection on the exception."""
        if self.on_read is None:
            return
        try:
            self.on_read()
        except Exception as e:
            self._callback_failed(e)

    def _callback_failed(self, e: Exception) -> None:
        self.callback_errors += 1
        if self.callback_errors <= 10:
            log.exception("%s: on_read callback failed: %s", self.spec.name, e)

    # -- resync ---------------------------------------------------------------------------------------
    def _resync(self, ref: tuple[int, int] | None, reason: str) -> None:
        slot = self._by_ref.get(ref) if ref is not None else None
        if slot is None or self._transport is None or slot.symbol in self._resubscribe_later:
            return
        self.resync_requests += 1
        log.info("%s %s: resync (%s)", self.spec.name, slot.symbol, reason)
        if self.spec.snapshot_path is not None:
            # REST-synced venues (Binance): the decoder is already buffering again; fetch a snapshot
            self._request_snapshot(ref)
            return
        # one fault may break several books at once (Coinbase's sequence is per connection):
        # resubscribe the reported book and every other BROKEN book of the connection
        for s in [slot, *(o for o in self.slots.values() if o is not slot and o.book.state(o.venue) == _core.BROKEN)]:
            if s.symbol in self._resubscribe_later:
                continue
            self._reset_book(s)
            now = time.monotonic()
            last, delay = self._resubscribed.get(s.symbol, (-RESUBSCRIBE_CALM_S, 0.0))
            delay = (
                min(max(2 * delay, RESUBSCRIBE_BACKOFF[0]), RESUBSCRIBE_BACKOFF[1])
                if now - last < RESUBSCRIBE_CALM_S
                else 0.0
            )
            if delay:
                log.info("%s %s: broke again %.2f s after its resubscribe: resubscribing in %.1f s",
                         self.spec.name, s.symbol, now - last, delay)  # fmt: skip
                self._resubscribed[s.symbol] = (now + delay, delay)
                self._resubscribe_later[s.symbol] = asyncio.get_running_loop().call_later(delay, self._resubscribe, s)
            else:
                self._resubscribed[s.symbol] = (now, 0.0)
                self._resubscribe(s)

    def _resubscribe(self, s: BookSlot) -> None:
        self._resubscribe_later.pop(s.symbol, None)
        if self._transport is None:
            return  # the connection is gone: its reconnect subscribes every book
        # what came since the fault is not a snapshot's base; and a snapshot that came during the
        # delay (an earlier resubscribe's) made the book LIVE, whose updates the reset decoder
        # now ignores until the new snapshot: not LIVE meanwhile
        self._reset_book(s)
        self._mark_dirty()
        for msg in self.spec.resubscribe(s.symbol):
            self._transport.send(WSMsgType.TEXT, msg)

    def _reset_book(self, s: BookSlot) -> None:
        """Forget the book's sequence, SYNCING until its next snapshot (recorded: replay does it too)."""
        self.feed.reset(s.instrument, s.venue)
        s.book.set_state(s.venue, _core.SYNCING)
        if self.recorder is not None:
            self.recorder.event(_time_ns(), self.name, self.conn_id, "reset", symbol=s.symbol)

    def _cancel_resubscribes(self) -> None:
        for handle in self._resubscribe_later.values():
            handle.cancel()
        self._resubscribe_later.clear()

    def _request_snapshot(self, ref: tuple[int, int] | None) -> None:
        slot = self._by_ref.get(ref) if ref is not None else None
        if slot is None or slot.symbol in self._snapshot_pending:
            return
        self._snapshot_pending.add(slot.symbol)
        self._tasks.append(asyncio.get_running_loop().create_task(self._fetch_snapshot(slot)))

    async def _fetch_snapshot(self, slot: BookSlot) -> None:
        """The venue's REST snapshot step: fetch, hand the body to Rust, retry if it is stale."""
        assert self.spec.snapshot_path is not None
        if self.rest_url is None:
            self.errors.append(f"{slot.symbol}: no REST URL for snapshots")
            return
        url = self.rest_url + self.spec.snapshot_path(slot.symbol)
        if self._http is None:
            # one keep-alive session per client: no handshake on the resync path
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            for attempt in range(20):
                try:
                    async with self._http.get(url) as resp:
                        body = await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError) as e:
                    self.errors.append(f"snapshot {slot.symbol}: {self._shown(e)}")
                    await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
                    continue
                if status != 200:
                    self.errors.append(f"snapshot {slot.symbol}: HTTP {status}")
                    await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
                    continue
                recv = time.time_ns()
                if self.recorder is not None:
                    self.recorder.frame(recv, self.name, self.conn_id, "rest", body, symbol=slot.symbol)
                code = self.feed.on_snapshot(slot.instrument, slot.venue, body, recv)
                if code == _core.FRAME_SYNCED:
                    self._mark_dirty()
                    return
                if code == _core.FRAME_ERROR:
                    self.errors.append(f"snapshot {slot.symbol}: {self.feed.last_error()}")
                # stale snapshot (or buffer restarted): the documented answer is to fetch again
                await asyncio.sleep(0.02)
        finally:
            self._snapshot_pending.discard(slot.symbol)

    def _shown(self, e: BaseException) -> str:
        """An error's text with this client's URLs as logs may show them (picows' and aiohttp's
        errors quote the URL whole: a token or a password in it would be logged)."""
        text = str(e)
        for url in (self.url, self.rest_url):
            if url:
                text = text.replace(url, shown_url(url))
        return text

    # -- timers -----------------------------------------------------------------------------------------
    async def _watch_stale(self) -> None:
        interval = min(0.1, self.stale_ns / 4e9)
        while True:
            await asyncio.sleep(interval)
            now = time.time_ns()
            changed = False
            for slot in self.slots.values():
                if slot.book.check_stale(now, self.stale_ns, slot.venue):
                    changed = True
                    if self.recorder is not None:
                        self.recorder.event(now, self.name, self.conn_id, "stale", symbol=slot.symbol)
            if changed:
                self._mark_dirty()

    async def _ping_loop(self) -> None:
        assert self.spec.ping is not None
        while True:
            await asyncio.sleep(self.spec.ping_interval)
            if self._transport is not None:
                self._transport.send(WSMsgType.TEXT, self.spec.ping)

    # -- reports ------------------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        c: dict[str, int] = dict(self.feed.counters())
        c["reconnects"] = self.reconnects
        c["callback_errors"] = self.callback_errors
        c["resync_requests"] = self.resync_requests
        c["latency_p50_us"] = self.latency.percentile(0.5)
        c["latency_p99_us"] = self.latency.percentile(0.99)
        return c


def _never_taken(_: object) -> None:
    """A twin's ``on_taken``: its scratch feed never takes (``Feed.follow``)."""


class _WarmTwin(FeedClient):
    """A twin of a connection for :meth:`FeedClient.warm_decoder`: never connected, its feed a
    scratch decoder that replays each frame on copies of the live connection's books. It runs the
    live connection's frame handler (:meth:`FeedClient._on_frame`, inherited: the same code, so
    the same caches), with nothing that reaches out: no recorder, no ``on_read``, no resync or
    snapshot request (overridden here; a replay that fails touches only the copies)."""

    def _resync(self, ref: tuple[int, int] | None, reason: str) -> None:
        return

    def _request_snapshot(self, ref: tuple[int, int] | None) -> None:
        return


def shard_symbols(spec: VenueClientSpec, symbols: dict[str, tuple[int, int]]) -> list[dict[str, tuple[int, int]]]:
    """Split a venue's symbols into groups that each fit one connection (the venue's limit)."""
    items = sorted(symbols.items())
    n = max(1, spec.max_symbols_per_connection)
    return [dict(items[i : i + n]) for i in range(0, len(items), n)]
