"""The one end-to-end rig on loopback, for every venue: a simulated venue (any `SimProtocol`), the
picows feed client, the Rust decoder and one consolidated book per simulated instrument. Venue 0
of each book is fed by the simulator; venue 1 is a static counterpart whose bid is far above any
simulated ask, so venue 0 yields an opportunity whenever (and only when) its book is LIVE.

A venue's test file describes its venue once (`Setup`: client spec, book scales, decoder
settings, how deep the book the client keeps is) and runs its cases through `run_fault_case`,
`slow_snapshot_on_connect` or, for anything else, `running` + `first_sync` + `freeze_and_compare`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from picows import WSListener, WSTransport, ws_connect

import arbcore
from arbcore.feed_client import FeedClient
from arbcore.sim import Fault, SimInstrument, SimProtocol, SimVenue
from arbcore.venues import VenueClientSpec

TIMEOUT = 10.0
#: how long the books may take to equal the truth once the simulator is frozen
TRUTH_TIMEOUT = 3.0
#: how long a STALL or a SLOW_SNAPSHOT lasts unless a case says otherwise
FAULT_SECONDS = {Fault.STALL: 0.8, Fault.SLOW_SNAPSHOT: 0.5}
#: slack on "LIVE no sooner than the late snapshot" (timer granularity)
LATE_SLACK = 0.05


# -- the venue under test -------------------------------------------------------------------------
@dataclass(frozen=True)
class BookSpec:
    """The engine's scales for the simulated instrument (price decimals are 2 throughout)."""

    instrument: str = "BTC/USDT"
    qty_decimals: int = 6
    tick_size: str = "0.01"
    lot_size: str = "0.000001"


@dataclass(frozen=True)
class Setup:
    """One venue as the end-to-end cases run it."""

    spec: VenueClientSpec
    book: BookSpec = BookSpec()
    #: passed to `FeedClient(feed_kwargs=...)` (Kraken: the venue's per-symbol `precisions`)
    feed_kwargs: Mapping[str, Any] | None = None
    #: levels per side of the simulator's book that the client keeps (Kraken: the subscribed
    #: depth, since the decoder truncates to it); None: all of them
    truth_depth: int | None = None


def sim_venue(
    protocol: SimProtocol, mids: Mapping[str, int], *, qty_decimals: int = 6, tick: int = 1, lot: int = 1000
) -> SimVenue:
    """A simulated venue with one instrument per `mids` entry (raw mid at 2 price decimals), 50
    levels per side on a `tick`/`lot` raw grid, moving every 5 ms from seed 11."""
    insts = [SimInstrument(sym, 2, qty_decimals, tick=tick, lot=lot, mid=mid) for sym, mid in mids.items()]
    return SimVenue(protocol, insts, seed=11, interval=0.005)


def make_book(symbol: str, spec: BookSpec = BookSpec()) -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook(spec.instrument, price_decimals=2, qty_decimals=spec.qty_decimals)
    base, quote = spec.instrument.split("/")
    for name in ("sim", "static"):
        book.add_venue(name, symbol=symbol, tick_size=spec.tick_size, lot_size=spec.lot_size, taker_fee="1bps")
        book.set_balance(name, quote, "1000000")
        book.set_balance(name, base, "100")
    book.apply_snapshot("static", [("90000", "5")], [("90001", "5")])
    return book


async def until(cond: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def opps_from_sim(book: arbcore.ConsolidatedBook) -> bool:
    return bool(np.any(book.opportunities()["buy_venue"] == 0))


# -- the rig --------------------------------------------------------------------------------------
@dataclass
class Leg:
    """One simulated instrument: its venue symbol, its book, and its state at every drained read."""

    symbol: str
    book: arbcore.ConsolidatedBook
    states: list[int] = field(default_factory=list)

    @property
    def state(self) -> int:
        return self.book.state(0)


@dataclass
class Rig:
    sim: SimVenue
    legs: dict[str, Leg]
    truth_depth: int | None = None
    client: FeedClient | None = None
    opps_while_not_live: int = 0

    def on_read(self) -> None:
        for leg in self.legs.values():
            st = leg.state
            leg.states.append(st)
            if st != arbcore.LIVE and opps_from_sim(leg.book):
                self.opps_while_not_live += 1

    def all_live(self) -> bool:
        return all(leg.state == arbcore.LIVE for leg in self.legs.values())

    def equal_to_truth(self, symbol: str) -> bool:
        bids, asks = self.sim.true_book(symbol, self.truth_depth)
        book = self.legs[symbol].book
        got_b = [tuple(x) for x in book.depth(0, arbcore.BID, 1000).tolist()]
        got_a = [tuple(x) for x in book.depth(0, arbcore.ASK, 1000).tolist()]
        return got_b == bids and got_a == asks

    def all_equal_truth(self) -> bool:
        return all(self.equal_to_truth(sym) for sym in self.legs)

    def mark(self) -> dict[str, int]:
        return {sym: len(leg.states) for sym, leg in self.legs.items()}

    def left_live_since(self, mark: dict[str, int], symbol: str) -> bool:
        return any(s != arbcore.LIVE for s in self.legs[symbol].states[mark[symbol] :])

    @property
    def feed_client(self) -> FeedClient:
        assert self.client is not None
        return self.client


@contextlib.asynccontextmanager
async def running(
    sim: SimVenue, setup: Setup, symbols: Sequence[str], *, stale_after: float = 0.3, seed: int = 3
) -> AsyncIterator[Rig]:
    """Start `sim` and a feed client for `symbols` (book i feeds symbol i); stop both on exit."""
    await sim.start()
    rig = Rig(sim, {sym: Leg(sym, make_book(sym, setup.book)) for sym in symbols}, setup.truth_depth)
    client = FeedClient(
        setup.spec,
        sim.ws_url,
        [rig.legs[sym].book for sym in symbols],
        {sym: (i, 0) for i, sym in enumerate(symbols)},
        rest_url=sim.rest_url if sim.rest_port else None,
        on_read=rig.on_read,
        stale_after=stale_after,
        seed=seed,
        feed_kwargs=dict(setup.feed_kwargs) if setup.feed_kwargs is not None else None,
    )
    rig.client = client
    task = asyncio.get_running_loop().create_task(client.run())
    try:
        yield rig
    finally:
        client.stop()
        await asyncio.wait_for(task, 5)
        await sim.stop()


async def first_sync(rig: Rig) -> None:
    """Every book LIVE with updates applied; each then yields an opportunity."""
    applied = 20 * len(rig.legs)
    await until(
        lambda: rig.all_live() and rig.feed_client.feed.counters()["applied"] > applied, "first sync", timeout=TIMEOUT
    )
    for leg in rig.legs.values():
        assert opps_from_sim(leg.book), f"{leg.symbol}: no opportunity while LIVE"


async def freeze_and_compare(rig: Rig) -> None:
    """Freeze the simulator, let the last frames drain: every book equals the simulator's truth (the
    top `truth_depth` levels where the client keeps only those) and is LIVE, and no opportunity came
    from a book while it was not LIVE."""
    rig.sim.inject(Fault.STALL, seconds=60)
    await until(rig.all_equal_truth, "book == simulator truth", timeout=TRUTH_TIMEOUT)
    assert rig.all_live(), (
        f"equal to the truth but not LIVE: { {s: g.book.state_name(0) for s, g in rig.legs.items()} }"
    )
    assert rig.opps_while_not_live == 0


# -- counter expectations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    """What the client's counters must show from before a fault to after the resync. A key may be a
    sum of counters, "gaps+out_of_order"."""

    #: key -> least increase
    grew: Mapping[str, int] = field(default_factory=dict)
    #: keys that did not change
    same: tuple[str, ...] = ()
    #: key -> exact value afterwards
    equal: Mapping[str, int] = field(default_factory=dict)
    #: key -> least value afterwards
    at_least: Mapping[str, int] = field(default_factory=dict)

    def __or__(self, other: Expect) -> Expect:
        return Expect(
            {**self.grew, **other.grew},
            tuple(dict.fromkeys(self.same + other.same)),
            {**self.equal, **other.equal},
            {**self.at_least, **other.at_least},
        )

    def check(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        def v(c: Mapping[str, int], key: str) -> int:
            return sum(c[k] for k in key.split("+"))

        bad = [
            f"{k} grew by {v(after, k) - v(before, k)} < {n}"
            for k, n in self.grew.items()
            if v(after, k) - v(before, k) < n
        ]
        bad += [f"{k} changed {v(before, k)} -> {v(after, k)}" for k in self.same if v(after, k) != v(before, k)]
        bad += [f"{k} = {v(after, k)} != {n}" for k, n in self.equal.items() if v(after, k) != n]
        bad += [f"{k} = {v(after, k)} < {n}" for k, n in self.at_least.items() if v(after, k) < n]
        assert not bad, f"{'; '.join(bad)} (before {dict(before)}, after {dict(after)})"


#: a clean run: nothing went wrong, nothing was resynced
CLEAN = Expect(
    equal=dict.fromkeys(
        ("gaps", "duplicates", "out_of_order", "decode_errors", "checksum_failed", "resyncs", "reconnects"), 0
    )
)

#: what a venue with sequence numbers shows for the message faults
SEQUENCED: dict[Fault | None, Expect] = {
    Fault.DROP: Expect(grew={"gaps+out_of_order": 1}),
    Fault.REORDER: Expect(grew={"gaps+out_of_order": 1}),
    Fault.DUPLICATE: Expect(grew={"duplicates": 1}),
}


def common_rules(fault: Fault | None, affected: int) -> Expect:
    """What every venue's client shows for a fault that breaks `affected` books: every frame was
    counted, the books synced from a snapshot and the rig's per-read callback never failed; a
    truncated frame is a decode error and nothing else is; a broken book makes the client request
    a resync and gets a new snapshot (a dropped connection: a reconnect and new snapshots); a
    silent venue breaks no chain (no resync), and a fault the venue's rules absorb needs none; a
    clean run shows no fault at all (`CLEAN`)."""
    e = Expect(at_least={"frames": 1, "snapshots": 1}, equal={"callback_errors": 0})
    if fault is None:
        return e | CLEAN
    if fault is Fault.MALFORMED:
        e |= Expect(grew={"decode_errors": 1})
    else:
        e |= Expect(same=("decode_errors",))
    if fault is Fault.DISCONNECT:
        e |= Expect(at_least={"reconnects": 1})
    if fault is Fault.STALL or not affected:
        return e | Expect(same=("resync_requests",))
    if fault is not Fault.DISCONNECT:
        e |= Expect(grew={"resync_requests": 1})
    return e | Expect(grew={"snapshots": affected})


# -- the cases --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultResult:
    before: dict[str, int]  # the client's counters at the fault
    after: dict[str, int]  # ... and once every book was LIVE again
    elapsed: float  # seconds from the fault until every book was LIVE again


async def run_fault_case(
    sim: SimVenue,
    setup: Setup,
    symbols: Sequence[str],
    fault: Fault | None,
    *,
    target: str | None = None,
    affected: Sequence[str] | None = None,
    unaffected: Sequence[str] = (),
    count: int = 1,
    seconds: float | None = None,
    trigger: Fault = Fault.CORRUPT_CHECKSUM,
    expect: Expect | Mapping[Fault | None, Expect] = Expect(),
) -> FaultResult:
    """Sync, inject `fault`, and check that every book in `affected` leaves LIVE, that no opportunity
    comes from a book while it is not LIVE, that every book resyncs, that the books in `unaffected`
    stay LIVE throughout, that afterwards every book equals the simulator's truth, and that the
    counters show `common_rules` and `expect` (or `expect[fault]`, where it is a table by fault).

    Message faults hit the next `count` messages of `target` (any symbol's if None). STALL and
    SLOW_SNAPSHOT last `seconds` (default `FAULT_SECONDS`); SLOW_SNAPSHOT is a resync forced by a
    `trigger` fault whose snapshot comes that late, and the books must not be LIVE before it.
    `affected` defaults to `target`, or to all books for connection-wide faults; an empty
    `affected` is a fault the venue's rules absorb: it is delivered, updates go on after it, and
    no book needs a resync."""
    if affected is None:
        connection_wide = fault in (Fault.DISCONNECT, Fault.STALL) or target is None
        affected = list(symbols) if connection_wide else [target]
    if seconds is None:
        seconds = FAULT_SECONDS.get(fault, 0.0) if fault is not None else 0.0
    async with running(sim, setup, symbols) as rig:
        client = rig.feed_client
        await first_sync(rig)
        before = client.counters()
        mark = rig.mark()
        t0 = time.monotonic()
        if fault is Fault.SLOW_SNAPSHOT:
            sim.inject(Fault.SLOW_SNAPSHOT, seconds=seconds)
            sim.inject(trigger, symbol=target, count=count)
        elif fault in (Fault.STALL, Fault.DISCONNECT):
            sim.inject(fault, seconds=seconds)
        elif fault is not None:
            sim.inject(fault, symbol=target, count=count)
        if fault is Fault.STALL:
            await until(lambda: all(rig.legs[s].state == arbcore.STALE for s in affected), "STALE")
            for s in affected:
                assert not opps_from_sim(rig.legs[s].book)
        elif fault is not None and affected:
            # the state is sampled at every drained read, so a fast resync is not missed
            await until(lambda: all(rig.left_live_since(mark, s) for s in affected), f"{fault.value} detected")
            for s in affected:
                if rig.legs[s].state != arbcore.LIVE:  # it may already have resynced
                    assert not opps_from_sim(rig.legs[s].book)
        elif fault is not None:
            # a fault the venue's rules absorb: wait until it was delivered and more came after
            await until(lambda: not sim.pending, f"{fault.value} delivered")
            applied = client.feed.counters()["applied"]
            await until(lambda: client.feed.counters()["applied"] > applied + 10, "updates after the fault")
        await until(rig.all_live, "resync")
        elapsed = time.monotonic() - t0
        for s in unaffected:
            assert not rig.left_live_since(mark, s), f"{s} left LIVE though the fault hit {target}"
        after = client.counters()
        await freeze_and_compare(rig)
    if fault is Fault.SLOW_SNAPSHOT:
        assert elapsed >= seconds - LATE_SLACK, f"LIVE {elapsed:.3f} s after the fault, before the late snapshot"
    if not isinstance(expect, Expect):
        expect = expect.get(fault, Expect())
    (common_rules(fault, len(affected)) | expect).check(before, after)
    return FaultResult(before, after, elapsed)


async def slow_snapshot_on_connect(
    sim: SimVenue, setup: Setup, symbols: Sequence[str], *, seconds: float = 0.5
) -> tuple[dict[str, int], dict[str, int]]:
    """Every snapshot comes `seconds` late: after connecting, the books stay SYNCING and yield no
    opportunity until it arrives, then become LIVE (no sooner) and equal the truth. Returns the
    client's counters while waiting and once LIVE."""
    sim.inject(Fault.SLOW_SNAPSHOT, seconds=seconds)
    async with running(sim, setup, symbols) as rig:
        client = rig.feed_client
        t0 = time.monotonic()
        await until(client.connected.is_set, "connect")
        await asyncio.sleep(0.2)
        during = client.counters()
        for leg in rig.legs.values():
            assert leg.state == arbcore.SYNCING, f"{leg.symbol}: not SYNCING before its snapshot"
            assert not opps_from_sim(leg.book)
        await until(rig.all_live, "late snapshot")
        assert time.monotonic() - t0 >= seconds - LATE_SLACK
        after = client.counters()
        await freeze_and_compare(rig)
    return during, after


@contextlib.asynccontextmanager
async def raw_client(sim: SimVenue) -> AsyncIterator[tuple[WSTransport, list[Any]]]:
    """Start `sim` and connect a bare WebSocket client: yields its transport and every message it
    receives, parsed as JSON."""
    got: list[Any] = []

    class Listener(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            got.append(orjson.loads(frame.get_payload_as_bytes()))

    await sim.start()
    try:
        transport, _ = await ws_connect(Listener, sim.ws_url)
        try:
            yield transport, got
        finally:
            transport.disconnect()
    finally:
        await sim.stop()
