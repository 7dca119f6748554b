"""Kraken end to end on loopback: the simulated Kraken WS v2 venue (`KrakenSim`), the picows feed
client, the Rust `kraken` decoder and the consolidated book. For each fault kind: the fault is
detected, no opportunity comes from the book while it is not LIVE, the book resyncs (unsubscribe
+ subscribe, a new snapshot), and it then equals the simulator's true book: its top `depth`
levels, since the client truncates to the subscribed depth.

Kraken v2 has no sequence numbers: the CRC-32 of the top 10 levels on every message is the only
integrity check, so DROP, REORDER and MALFORMED are caught only when they leave the book
different from the venue's (see the notes at each case). The book's price decimals (2) differ from
Kraken's price precision for the pair (1), so the checksum only verifies if the client passes the
venue precisions to the decoder."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import uvloop

import arbcore
from arbcore.sim import Fault, KrakenSim, SimVenue
from arbcore.venues import CLIENT_SPECS
from arbcore.venues.kraken import DEPTH, kraken_spec
from e2e_helpers import (
    BookSpec,
    Expect,
    Setup,
    first_sync,
    freeze_and_compare,
    run_fault_case,
    running,
    sim_venue,
    slow_snapshot_on_connect,
    until,
)

SYMBOL = "BTC/USD"
#: Kraken's BTC/USD precisions: price 1 decimal, qty 8 decimals (printed in full: 0.12300000)
PRECISION = (1, 8)
KRAKEN = Setup(
    CLIENT_SPECS["kraken"],
    BookSpec("BTC/USD", qty_decimals=8, tick_size="0.1", lot_size="0.001"),
    feed_kwargs={"precisions": {SYMBOL: PRECISION}},
    truth_depth=DEPTH,
)


def make_sim(protocol: KrakenSim | None = None) -> SimVenue:
    # 50 levels per side on the venue; subscribers see the top `depth` of them
    return sim_venue(
        protocol or KrakenSim({SYMBOL: PRECISION}), {SYMBOL: 6_000_000}, qty_decimals=8, tick=10, lot=100_000
    )


#: Messages each fault hits. Without sequence numbers a lost update is seen only through the next
#: checksum, i.e. only if it leaves the book wrong: when the next update happens to rewrite every
#: level the lost one changed (measured: ~0.4% of single updates with this simulator) the book is
#: right again and nothing is (or needs to be) detected. Losing three consecutive updates and
#: having a fourth repair them all did not happen once in 9000 trials, so DROP and MALFORMED hit
#: three updates, which makes "detected" a deterministic assertion.
COUNT = {Fault.DROP: 3, Fault.MALFORMED: 3}
#: beyond what every venue shows (`e2e_helpers.common_rules`: a resync request and a new snapshot
#: for every fault but STALL and DISCONNECT, decode errors from MALFORMED only)
EXPECT = {
    # the only integrity check: the book (or the checksum) no longer matches
    Fault.DROP: Expect(grew={"checksum_failed": 1}),
    Fault.REORDER: Expect(grew={"checksum_failed": 1}),
    Fault.CORRUPT_CHECKSUM: Expect(grew={"checksum_failed": 1}),
    Fault.MALFORMED: Expect(grew={"checksum_failed": 1}),  # the updates it lost leave the book wrong
    # silence breaks nothing: updates verify again after the stall, no resync is needed
    Fault.STALL: Expect(same=("checksum_failed",)),
    Fault.SLOW_SNAPSHOT: Expect(grew={"checksum_failed": 1}),  # the resync's trigger
}
FAULTS = [f for f in Fault if f is not Fault.DUPLICATE]  # DUPLICATE: see test_kraken_duplicate_is_harmless


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value)
def test_kraken_fault_detected_and_resynced(fault: Fault) -> None:
    uvloop.run(run_fault_case(make_sim(), KRAKEN, [SYMBOL], fault, count=COUNT.get(fault, 1), expect=EXPECT))


def test_kraken_duplicate_is_harmless() -> None:
    """DUPLICATE cannot be detected on Kraken v2, and need not be: an update carries absolute
    quantities (and deletes) for the levels it changes, so applying it a second time right after
    the first changes nothing, and truncating to the depth again changes nothing either. What the
    protocol guarantees, and what is asserted: the duplicates are delivered, their checksums (and
    every later one) verify, the book never leaves LIVE nor needs a resync, and it equals the
    truth."""
    # every copy was decoded and verified: no failure, no decode error, no resync
    expect = Expect(grew={"checksum_ok": 16}, same=("checksum_failed",))
    uvloop.run(
        run_fault_case(
            make_sim(), KRAKEN, [SYMBOL], Fault.DUPLICATE, count=5, affected=[], unaffected=[SYMBOL], expect=expect
        )
    )


def test_kraken_clean_run_checksums_ping_heartbeat() -> None:
    """No fault: every message verifies its checksum; `ping` gets a `pong` and heartbeats arrive,
    all decoded as control frames."""

    async def case() -> None:
        proto = KrakenSim({SYMBOL: PRECISION}, heartbeat_interval=0.05)
        setup = dataclasses.replace(KRAKEN, spec=dataclasses.replace(KRAKEN.spec, ping_interval=0.05))
        async with running(make_sim(proto), setup, [SYMBOL]) as rig:
            await first_sync(rig)
            await until(lambda: proto.pings >= 2 and proto.heartbeats >= 2, "pings and heartbeats", timeout=2)
            c = rig.feed_client.counters()
            assert c["checksum_ok"] >= c["applied"] > 20
            assert c["checksum_failed"] == c["decode_errors"] == c["resync_requests"] == 0
            await freeze_and_compare(rig)

    uvloop.run(case())


def test_kraken_depth_25_truncates_to_the_subscribed_depth() -> None:
    """At depth 25 the checksum still covers the top 10 only; levels pushed out of the top 25 get
    no delete, and the client's truncation keeps exactly the venue's top 25."""

    async def case() -> None:
        setup = dataclasses.replace(KRAKEN, spec=kraken_spec(25), truth_depth=25)
        async with running(make_sim(), setup, [SYMBOL]) as rig:
            await first_sync(rig)
            await until(lambda: rig.feed_client.counters()["applied"] > 100, "100 updates", timeout=4)
            c = rig.feed_client.counters()
            assert c["checksum_failed"] == c["resync_requests"] == 0
            await freeze_and_compare(rig)
            # levels beyond the 10 the checksum covers are held too (and equal the truth), and no
            # more than the subscribed 25 (the venue's book is sometimes thinner than 25)
            book = rig.legs[SYMBOL].book
            for side in (arbcore.BID, arbcore.ASK):
                assert 10 < len(book.depth(0, side, 1000)) <= 25

    uvloop.run(case())


def test_kraken_without_venue_precisions_never_syncs() -> None:
    """The hook matters: without Kraken's precisions the decoder rebuilds the price digits at the
    book's 2 decimals instead of Kraken's 1, every snapshot fails its checksum, and the book never
    becomes LIVE (so it never feeds detection)."""

    async def case() -> None:
        async with running(make_sim(), dataclasses.replace(KRAKEN, feed_kwargs={}), [SYMBOL]) as rig:
            await until(lambda: rig.feed_client.counters()["checksum_failed"] >= 3, "failed snapshots", timeout=3)
            assert rig.feed_client.counters()["snapshots"] == 0
            leg = rig.legs[SYMBOL]
            assert leg.state != arbcore.LIVE
            assert arbcore.LIVE not in leg.states
            assert rig.opps_while_not_live == 0

    uvloop.run(case())


def test_a_book_that_keeps_breaking_is_resubscribed_with_backoff() -> None:
    """A fault that lasts (here the venue's precisions missing, so every snapshot fails its
    checksum) made the client resubscribe on each failure at once: hundreds of unsubscribe and
    subscribe pairs a second on loopback, what a real venue answers with a ban. A book that
    breaks again soon after its resubscribe now waits 0.1 s, then 0.2, 0.4, ... (up to 5 s)."""
    import time

    from arbcore.feed_client import RESUBSCRIBE_BACKOFF

    async def case() -> None:
        async with running(make_sim(), dataclasses.replace(KRAKEN, feed_kwargs={}), [SYMBOL]) as rig:
            await until(lambda: rig.feed_client.resync_requests >= 1, "a first resync", timeout=3)
            t0 = time.monotonic()
            await until(lambda: rig.feed_client.resync_requests >= 4, "backed-off resyncs", timeout=5)
            # at once, then after 0.1 + 0.2 s at least: never a storm
            assert time.monotonic() - t0 >= RESUBSCRIBE_BACKOFF[0] * 3 * 0.9
            await asyncio.sleep(0.5)
            assert rig.feed_client.resync_requests <= 6, rig.feed_client.resync_requests

    uvloop.run(case())


def test_kraken_slow_snapshot_on_connect() -> None:
    uvloop.run(slow_snapshot_on_connect(make_sim(), KRAKEN, [SYMBOL]))
