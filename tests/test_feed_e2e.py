"""End to end on loopback: a simulated venue speaking the real protocol, the picows feed client,
the Rust decoder and the consolidated book. For each fault kind: the fault is detected, no
opportunity comes from the book while it is not LIVE, the book resyncs, and it then equals the
simulator's true book."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import uvloop

import arbcore
from arbcore.feed_client import FeedClient
from arbcore.sim import BybitSim, Fault, SimInstrument, SimVenue
from arbcore.venues import CLIENT_SPECS

SYMBOL = "BTCUSDT"
TIMEOUT = 10.0


@dataclass
class Rig:
    sim: SimVenue
    client: FeedClient
    book: arbcore.ConsolidatedBook
    states_seen: list[int]
    opps_while_not_live: int


def make_book() -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=6)
    # venue 0 is fed by the simulator; venue 1 is a static counterpart whose bid is far above
    # any simulated ask, so venue 0 yields an opportunity whenever (and only when) it is LIVE
    for name in ("sim", "static"):
        book.add_venue(name, symbol=SYMBOL, tick_size="0.01", lot_size="0.000001", taker_fee="1bps")
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


def equal_to_truth(rig: Rig) -> bool:
    bids, asks = rig.sim.true_book(SYMBOL)
    got_b = [tuple(x) for x in rig.book.depth(0, arbcore.BID, 1000).tolist()]
    got_a = [tuple(x) for x in rig.book.depth(0, arbcore.ASK, 1000).tolist()]
    return got_b == bids and got_a == asks


async def run_case(protocol_name: str, fault: Fault | None, **fault_kw: float) -> dict[str, int]:
    sim = SimVenue(
        BybitSim(),
        [SimInstrument(SYMBOL, 2, 6, tick=1, lot=1000, mid=6_000_000, depth=50)],
        seed=11,
        interval=0.005,
    )
    await sim.start()
    book = make_book()
    rig = Rig(sim, None, book, [], 0)  # type: ignore[arg-type]

    def on_read() -> None:
        st = book.state(0)
        rig.states_seen.append(st)
        opps = book.opportunities()
        if st != arbcore.LIVE and np.any(opps["buy_venue"] == 0):
            rig.opps_while_not_live += 1

    client = FeedClient(
        CLIENT_SPECS[protocol_name],
        sim.ws_url,
        [book],
        {SYMBOL: (0, 0)},
        on_read=on_read,
        stale_after=0.3,
        seed=3,
    )
    rig.client = client
    task = asyncio.get_running_loop().create_task(client.run())
    try:
        await until(lambda: book.state(0) == arbcore.LIVE and client.feed.counters()["applied"] > 20, "first sync")
        assert len(book.opportunities()) >= 1
        if fault is not None:
            before = client.counters()
            seen = len(rig.states_seen)
            sim.inject(fault, **fault_kw)
            if fault is Fault.STALL:
                await until(lambda: book.state(0) == arbcore.STALE, "STALE")
                assert not np.any(book.opportunities()["buy_venue"] == 0)
            else:
                # the state is sampled at every drained read, so a fast resync is not missed
                await until(lambda: any(s != arbcore.LIVE for s in rig.states_seen[seen:]), f"{fault.value} detected")
                if book.state(0) != arbcore.LIVE:  # it may already have resynced
                    assert not np.any(book.opportunities()["buy_venue"] == 0)
            await until(lambda: book.state(0) == arbcore.LIVE, "resync")
            after = client.counters()
            if fault in (Fault.DROP, Fault.REORDER):
                assert after["gaps"] + after["out_of_order"] > before["gaps"] + before["out_of_order"]
            if fault is Fault.DUPLICATE:
                assert after["duplicates"] > before["duplicates"]
            if fault is Fault.MALFORMED:
                assert after["decode_errors"] > before["decode_errors"]
            if fault is Fault.DISCONNECT:
                assert client.reconnects >= 1
        # freeze the simulator and let the last frames drain: the book equals the truth
        sim.inject(Fault.STALL, seconds=60)
        await until(lambda: equal_to_truth(rig), "book == simulator truth", timeout=3)
        assert rig.opps_while_not_live == 0
        return client.counters()
    finally:
        client.stop()
        await asyncio.wait_for(task, 5)
        await sim.stop()


CASES = [None, Fault.DROP, Fault.DUPLICATE, Fault.REORDER, Fault.MALFORMED, Fault.DISCONNECT, Fault.STALL]


@pytest.mark.parametrize("fault", CASES, ids=lambda f: f.value if f else "clean")
def test_bybit_fault_detected_and_resynced(fault: Fault | None) -> None:
    kw = {"seconds": 0.8} if fault is Fault.STALL else {}
    counters = uvloop.run(run_case("bybit", fault, **kw))
    assert counters["frames"] > 0


def test_bybit_slow_snapshot_then_sync() -> None:
    async def case() -> None:
        sim = SimVenue(BybitSim(), [SimInstrument(SYMBOL, 2, 6, tick=1, lot=1000, mid=6_000_000)], interval=0.005)
        await sim.start()
        sim.inject(Fault.SLOW_SNAPSHOT, seconds=0.5)
        book = make_book()
        client = FeedClient(CLIENT_SPECS["bybit"], sim.ws_url, [book], {SYMBOL: (0, 0)}, seed=1)
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            t0 = time.monotonic()
            await until(client.connected.is_set, "connect")
            await asyncio.sleep(0.2)
            assert book.state(0) == arbcore.SYNCING  # deltas before the snapshot are not applied
            await until(lambda: book.state(0) == arbcore.LIVE, "late snapshot")
            assert time.monotonic() - t0 >= 0.45
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
            await sim.stop()

    uvloop.run(case())
