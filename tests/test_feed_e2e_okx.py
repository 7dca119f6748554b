"""OKX end to end on loopback: the simulated OKX v5 venue (`OkxSim`), the picows feed client, the
Rust `okx` decoder and the consolidated book. For each fault kind: the fault is detected, no
opportunity comes from the book while it is not LIVE, the book resyncs (unsubscribe + subscribe,
a new snapshot), and it then equals the simulator's true book. The simulator sends the legacy
non-zero checksum, so a corrupted checksum is caught too."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
import uvloop

import arbcore
from arbcore.feed_client import FeedClient
from arbcore.sim import Fault, OkxSim, SimInstrument, SimVenue
from arbcore.venues import CLIENT_SPECS
from arbcore.venues.base import VenueClientSpec

try:  # shared e2e helpers, wherever they live
    from e2e_helpers import until  # type: ignore[import-not-found]
except ImportError:
    from test_feed_e2e import until

SYMBOL = "BTC-USDT"


@dataclass
class Rig:
    sim: SimVenue
    client: FeedClient
    book: arbcore.ConsolidatedBook
    states_seen: list[int] = field(default_factory=list)
    opps_while_not_live: int = 0

    def equal_to_truth(self) -> bool:
        bids, asks = self.sim.true_book(SYMBOL)
        got_b = [tuple(x) for x in self.book.depth(0, arbcore.BID, 1000).tolist()]
        got_a = [tuple(x) for x in self.book.depth(0, arbcore.ASK, 1000).tolist()]
        return got_b == bids and got_a == asks

    def opps_from_sim(self) -> bool:
        return bool(np.any(self.book.opportunities()["buy_venue"] == 0))


def make_book() -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=8)
    # venue 0 is fed by the simulator; venue 1 is a static counterpart whose bid is far above any
    # simulated ask, so venue 0 yields an opportunity whenever (and only when) it is LIVE
    for name in ("sim", "static"):
        book.add_venue(name, symbol=SYMBOL, tick_size="0.1", lot_size="0.00001", taker_fee="1bps")
        book.set_balance(name, "USDT", "1000000")
        book.set_balance(name, "BTC", "100")
    book.apply_snapshot("static", [("90000", "5")], [("90001", "5")])
    return book


@contextlib.asynccontextmanager
async def rig(
    protocol: OkxSim | None = None, spec: VenueClientSpec | None = None, *, seed: int = 11
) -> AsyncIterator[Rig]:
    # OKX BTC-USDT: tick 0.1, sizes on a 0.00001 grid: prices and sizes print as "60000",
    # "60000.1", "0.0012" (trimmed), which is what the decoder rebuilds for the checksum
    sim = SimVenue(
        protocol or OkxSim(),
        [SimInstrument(SYMBOL, 2, 8, tick=10, lot=1000, mid=6_000_000, depth=50)],
        seed=seed,
        interval=0.005,
    )
    await sim.start()
    book = make_book()
    r = Rig(sim, None, book)  # type: ignore[arg-type]

    def on_read() -> None:
        st = book.state(0)
        r.states_seen.append(st)
        if st != arbcore.LIVE and r.opps_from_sim():
            r.opps_while_not_live += 1

    r.client = FeedClient(
        spec or CLIENT_SPECS["okx"], sim.ws_url, [book], {SYMBOL: (0, 0)}, on_read=on_read, stale_after=0.3, seed=3
    )
    task = asyncio.get_running_loop().create_task(r.client.run())
    try:
        yield r
    finally:
        r.client.stop()
        await asyncio.wait_for(task, 5)
        await sim.stop()


async def first_sync(r: Rig) -> None:
    await until(
        lambda: r.book.state(0) == arbcore.LIVE and r.client.feed.counters()["applied"] > 20, "first sync", timeout=4
    )
    assert r.opps_from_sim()


async def freeze_and_compare(r: Rig) -> None:
    """Freeze the simulator, let the last frames drain: the book equals the truth."""
    r.sim.inject(Fault.STALL, seconds=60)
    await until(r.equal_to_truth, "book == simulator truth", timeout=2)
    assert r.book.state(0) == arbcore.LIVE
    assert r.opps_while_not_live == 0


async def fault_case(fault: Fault) -> tuple[dict[str, int], dict[str, int], float]:
    """Inject one fault after the first sync; returns counters before/after and the time from
    the injection until the book was LIVE again."""
    async with rig() as r:
        await first_sync(r)
        before = r.client.counters()
        seen = len(r.states_seen)
        t0 = time.monotonic()
        if fault is Fault.SLOW_SNAPSHOT:
            # a resync (forced by a bad checksum) whose snapshot is slow: the book stays out of
            # detection until the late snapshot arrives
            r.sim.inject(Fault.SLOW_SNAPSHOT, seconds=0.5)
            r.sim.inject(Fault.CORRUPT_CHECKSUM)
        elif fault is Fault.STALL:
            r.sim.inject(Fault.STALL, seconds=0.8)
        else:
            r.sim.inject(fault)
        if fault is Fault.STALL:
            await until(lambda: r.book.state(0) == arbcore.STALE, "STALE", timeout=3)
            assert not r.opps_from_sim()
        else:
            # the state is sampled at every drained read, so a fast resync is not missed
            await until(lambda: any(s != arbcore.LIVE for s in r.states_seen[seen:]), f"{fault.value} detected", 3)
            if r.book.state(0) != arbcore.LIVE:  # it may already have resynced
                assert not r.opps_from_sim()
        await until(lambda: r.book.state(0) == arbcore.LIVE, "resync", timeout=3)
        elapsed = time.monotonic() - t0
        after = r.client.counters()
        await freeze_and_compare(r)
        return before, after, elapsed


def grew(before: dict[str, int], after: dict[str, int], *keys: str) -> bool:
    return sum(after[k] for k in keys) > sum(before[k] for k in keys)


FAULTS = [
    Fault.DROP,
    Fault.DUPLICATE,
    Fault.REORDER,
    Fault.CORRUPT_CHECKSUM,
    Fault.MALFORMED,
    Fault.DISCONNECT,
    Fault.STALL,
    Fault.SLOW_SNAPSHOT,
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value)
def test_okx_fault_detected_and_resynced(fault: Fault) -> None:
    before, after, elapsed = uvloop.run(fault_case(fault))
    assert after["snapshots"] >= 1
    if fault is Fault.DROP:
        assert grew(before, after, "gaps")  # prevSeqId no longer matches the last seqId
    elif fault is Fault.REORDER:
        assert grew(before, after, "gaps", "out_of_order")
    elif fault is Fault.DUPLICATE:
        assert grew(before, after, "duplicates")  # seqId equal to the last one
    elif fault is Fault.CORRUPT_CHECKSUM:
        assert grew(before, after, "checksum_failed")
    elif fault is Fault.MALFORMED:
        # the truncated push fails to decode; the next one shows the gap it left
        assert grew(before, after, "decode_errors")
        assert grew(before, after, "gaps")
    elif fault is Fault.DISCONNECT:
        assert after["reconnects"] >= 1
    elif fault is Fault.STALL:
        # silence is not a gap: the chain continues after the stall, no resync is needed
        assert after["resync_requests"] == before["resync_requests"]
        assert after["gaps"] == before["gaps"]
    elif fault is Fault.SLOW_SNAPSHOT:
        assert grew(before, after, "checksum_failed")
        assert elapsed >= 0.45  # LIVE only after the late snapshot
    if fault not in (Fault.STALL, Fault.DISCONNECT):
        assert after["resync_requests"] > before["resync_requests"]
    if fault is not Fault.MALFORMED:
        assert after["decode_errors"] == before["decode_errors"]


def test_okx_clean_run_checksums_and_ping() -> None:
    """No fault: every push verifies its checksum and chains; `ping` is answered with `pong`."""

    async def case() -> None:
        proto = OkxSim()
        spec = dataclasses.replace(CLIENT_SPECS["okx"], ping_interval=0.05)
        async with rig(proto, spec) as r:
            await first_sync(r)
            await until(lambda: proto.pings >= 2, "pings answered", timeout=2)
            c = r.client.counters()
            assert c["checksum_ok"] >= c["applied"] > 20
            assert c["gaps"] == c["duplicates"] == c["out_of_order"] == c["checksum_failed"] == 0
            assert c["decode_errors"] == 0  # `pong` is a control frame
            assert c["resync_requests"] == 0
            await freeze_and_compare(r)

    uvloop.run(case())


def test_okx_sequence_reset_is_accepted() -> None:
    """After maintenance OKX may restart seqId (seqId < prevSeqId): it still chains, so the book
    stays LIVE with no resync."""

    async def case() -> None:
        proto = OkxSim(reset_every=10)
        async with rig(proto) as r:
            await first_sync(r)
            resets = proto.resets
            await until(lambda: proto.resets >= resets + 3, "three sequence resets", timeout=3)
            c = r.client.counters()
            assert c["resync_requests"] == 0
            assert c["gaps"] == c["out_of_order"] == c["duplicates"] == 0
            assert r.book.state(0) == arbcore.LIVE
            await freeze_and_compare(r)

    uvloop.run(case())


def test_okx_live_checksum_zero_is_not_checked() -> None:
    """The live venue sends `checksum: 0` (deprecated): the decoder relies on seqId alone."""

    async def case() -> None:
        async with rig(OkxSim(checksum=False)) as r:
            await first_sync(r)
            r.sim.inject(Fault.DROP)
            await until(lambda: r.client.counters()["gaps"] >= 1, "gap", timeout=3)
            await until(lambda: r.book.state(0) == arbcore.LIVE, "resync", timeout=3)
            assert r.client.counters()["checksum_ok"] == 0
            await freeze_and_compare(r)

    uvloop.run(case())


def test_okx_slow_snapshot_on_connect() -> None:
    async def case() -> None:
        sim = SimVenue(OkxSim(), [SimInstrument(SYMBOL, 2, 8, tick=10, lot=1000, mid=6_000_000)], interval=0.005)
        await sim.start()
        sim.inject(Fault.SLOW_SNAPSHOT, seconds=0.5)
        book = make_book()
        client = FeedClient(CLIENT_SPECS["okx"], sim.ws_url, [book], {SYMBOL: (0, 0)}, seed=1)
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            t0 = time.monotonic()
            await until(client.connected.is_set, "connect", timeout=3)
            await asyncio.sleep(0.2)
            assert book.state(0) == arbcore.SYNCING  # nothing before the snapshot
            assert not np.any(book.opportunities()["buy_venue"] == 0)
            await until(lambda: book.state(0) == arbcore.LIVE, "late snapshot", timeout=3)
            assert time.monotonic() - t0 >= 0.45
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
            await sim.stop()

    uvloop.run(case())
