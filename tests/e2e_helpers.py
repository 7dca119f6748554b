"""Generic end-to-end rig on loopback: a simulated venue (any `SimProtocol`), the picows feed client,
the Rust decoder and one consolidated book per simulated instrument. Venue 0 of each book is fed by
the simulator; venue 1 is a static counterpart whose bid is far above any simulated ask, so venue 0
yields an opportunity whenever (and only when) its book is LIVE."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import arbcore
from arbcore.feed_client import FeedClient
from arbcore.sim import Fault, SimVenue
from arbcore.venues import VenueClientSpec

TIMEOUT = 10.0


def make_book(symbol: str) -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=6)
    for name in ("sim", "static"):
        book.add_venue(name, symbol=symbol, tick_size="0.01", lot_size="0.000001", taker_fee="1bps")
        book.set_balance(name, "USDT", "1000000")
        book.set_balance(name, "BTC", "100")
    book.apply_snapshot("static", [("90000", "5")], [("90001", "5")])
    return book


async def until(cond: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def equal_to_truth(sim: SimVenue, book: arbcore.ConsolidatedBook, symbol: str, venue: int = 0) -> bool:
    bids, asks = sim.true_book(symbol)
    got_b = [tuple(x) for x in book.depth(venue, arbcore.BID, 1000).tolist()]
    got_a = [tuple(x) for x in book.depth(venue, arbcore.ASK, 1000).tolist()]
    return got_b == bids and got_a == asks


def opps_from_sim(book: arbcore.ConsolidatedBook) -> bool:
    return bool(np.any(book.opportunities()["buy_venue"] == 0))


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

    def all_equal_truth(self) -> bool:
        return all(equal_to_truth(self.sim, leg.book, sym) for sym, leg in self.legs.items())

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
    sim: SimVenue, spec: VenueClientSpec, symbols: Sequence[str], *, stale_after: float = 0.3, seed: int = 3
) -> AsyncIterator[Rig]:
    """Start `sim` and a feed client for `symbols` (book i feeds symbol i); stop both on exit."""
    await sim.start()
    rig = Rig(sim, {sym: Leg(sym, make_book(sym)) for sym in symbols})
    books = [rig.legs[sym].book for sym in symbols]
    client = FeedClient(
        spec,
        sim.ws_url,
        books,
        {sym: (i, 0) for i, sym in enumerate(symbols)},
        rest_url=sim.rest_url if sim.rest_port else None,
        on_read=rig.on_read,
        stale_after=stale_after,
        seed=seed,
    )
    rig.client = client
    task = asyncio.get_running_loop().create_task(client.run())
    try:
        yield rig
    finally:
        client.stop()
        await asyncio.wait_for(task, 5)
        await sim.stop()


async def freeze_and_compare(rig: Rig) -> None:
    """Freeze the simulator, let the last frames drain: every book equals the simulator's truth."""
    rig.sim.inject(Fault.STALL, seconds=60)
    await until(rig.all_equal_truth, "book == simulator truth", timeout=3)
    assert rig.opps_while_not_live == 0


async def run_fault_case(
    sim: SimVenue,
    spec: VenueClientSpec,
    symbols: Sequence[str],
    fault: Fault | None,
    *,
    target: str | None = None,
    affected: Sequence[str] | None = None,
    unaffected: Sequence[str] = (),
    seconds: float = 0.8,
) -> tuple[dict[str, int], dict[str, int]]:
    """Sync, inject `fault` (message faults hit `target`'s messages), check that every book in
    `affected` (default: `target`, or all for connection-wide faults) leaves LIVE, that no
    opportunity comes from a book while it is not LIVE, that every book resyncs, that the books in
    `unaffected` stay LIVE throughout, and that afterwards every book equals the simulator's
    truth. Returns the client's counters before the fault and after the resync."""
    if affected is None:
        connection_wide = fault in (Fault.DISCONNECT, Fault.STALL) or target is None
        affected = list(symbols) if connection_wide else [target]
    async with running(sim, spec, symbols) as rig:
        client = rig.feed_client
        await until(lambda: rig.all_live() and client.feed.counters()["applied"] > 20 * len(symbols), "first sync")
        for leg in rig.legs.values():
            assert opps_from_sim(leg.book), f"{leg.symbol}: no opportunity while LIVE"
        before = client.counters()
        if fault is not None:
            mark = rig.mark()
            sim.inject(fault, symbol=target, seconds=seconds)
            if fault is Fault.STALL:
                await until(lambda: all(rig.legs[s].state == arbcore.STALE for s in affected), "STALE")
                for s in affected:
                    assert not opps_from_sim(rig.legs[s].book)
            elif affected:
                # the state is sampled at every drained read, so a fast resync is not missed
                await until(lambda: all(rig.left_live_since(mark, s) for s in affected), f"{fault.value} detected")
                for s in affected:
                    if rig.legs[s].state != arbcore.LIVE:  # it may already have resynced
                        assert not opps_from_sim(rig.legs[s].book)
            else:
                # a fault the venue's rules absorb: wait until it was delivered and more came after
                await until(lambda: not sim.pending, f"{fault.value} delivered")
                applied = client.feed.counters()["applied"]
                await until(lambda: client.feed.counters()["applied"] > applied + 10, "updates after the fault")
            await until(rig.all_live, "resync")
            for s in unaffected:
                assert not rig.left_live_since(mark, s), f"{s} left LIVE though the fault hit {target}"
        after = client.counters()
        await freeze_and_compare(rig)
        return before, after
