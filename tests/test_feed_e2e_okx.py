"""OKX end to end on loopback: the simulated OKX v5 venue (`OkxSim`), the picows feed client, the
Rust `okx` decoder and the consolidated book. For each fault kind: the fault is detected, no
opportunity comes from the book while it is not LIVE, the book resyncs (unsubscribe + subscribe,
a new snapshot), and it then equals the simulator's true book. The simulator sends the legacy
non-zero checksum, so a corrupted checksum is caught too."""

from __future__ import annotations

import dataclasses

import pytest
import uvloop

import arbcore
from arbcore.sim import Fault, OkxSim, SimVenue
from arbcore.venues import CLIENT_SPECS
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

SYMBOL = "BTC-USDT"
# OKX BTC-USDT: tick 0.1, sizes on a 0.00001 grid: prices and sizes print as "60000", "60000.1",
# "0.0012" (trimmed), which is what the decoder rebuilds for the checksum
OKX = Setup(CLIENT_SPECS["okx"], BookSpec(qty_decimals=8, tick_size="0.1", lot_size="0.00001"))


def make_sim(protocol: OkxSim | None = None) -> SimVenue:
    return sim_venue(protocol or OkxSim(), {SYMBOL: 6_000_000}, qty_decimals=8, tick=10, lot=1000)


#: beyond what every venue shows (`e2e_helpers.common_rules`: a resync request and a new snapshot
#: for every fault but STALL and DISCONNECT, decode errors from MALFORMED only)
EXPECT = {
    Fault.DROP: Expect(grew={"gaps": 1}),  # prevSeqId no longer matches the last seqId
    Fault.REORDER: Expect(grew={"gaps+out_of_order": 1}),
    Fault.DUPLICATE: Expect(grew={"duplicates": 1}),  # seqId equal to the last one
    Fault.CORRUPT_CHECKSUM: Expect(grew={"checksum_failed": 1}),
    # the truncated push fails to decode; the next one shows the gap it left
    Fault.MALFORMED: Expect(grew={"gaps": 1}),
    # silence is not a gap: the chain continues after the stall, no resync is needed
    Fault.STALL: Expect(same=("gaps",)),
    Fault.SLOW_SNAPSHOT: Expect(grew={"checksum_failed": 1}),  # the resync's trigger
}
FAULTS = list(Fault)  # every kind, CORRUPT_CHECKSUM included


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value)
def test_okx_fault_detected_and_resynced(fault: Fault) -> None:
    uvloop.run(run_fault_case(make_sim(), OKX, [SYMBOL], fault, expect=EXPECT))


def test_okx_clean_run_checksums_and_ping() -> None:
    """No fault: every push verifies its checksum and chains; `ping` is answered with `pong`."""

    async def case() -> None:
        proto = OkxSim()
        setup = dataclasses.replace(OKX, spec=dataclasses.replace(OKX.spec, ping_interval=0.05))
        async with running(make_sim(proto), setup, [SYMBOL]) as rig:
            await first_sync(rig)
            await until(lambda: proto.pings >= 2, "pings answered", timeout=2)
            c = rig.feed_client.counters()
            assert c["checksum_ok"] >= c["applied"] > 20
            assert c["gaps"] == c["duplicates"] == c["out_of_order"] == c["checksum_failed"] == 0
            assert c["decode_errors"] == 0  # `pong` is a control frame
            assert c["resync_requests"] == 0
            await freeze_and_compare(rig)

    uvloop.run(case())


def test_okx_sequence_reset_is_accepted() -> None:
    """After maintenance OKX may restart seqId (seqId < prevSeqId): it still chains, so the book
    stays LIVE with no resync."""

    async def case() -> None:
        proto = OkxSim(reset_every=10)
        async with running(make_sim(proto), OKX, [SYMBOL]) as rig:
            await first_sync(rig)
            resets = proto.resets
            await until(lambda: proto.resets >= resets + 3, "three sequence resets", timeout=3)
            c = rig.feed_client.counters()
            assert c["resync_requests"] == 0
            assert c["gaps"] == c["out_of_order"] == c["duplicates"] == 0
            assert rig.legs[SYMBOL].state == arbcore.LIVE
            await freeze_and_compare(rig)

    uvloop.run(case())


def test_okx_live_checksum_zero_is_not_checked() -> None:
    """The live venue sends `checksum: 0` (deprecated): the decoder relies on seqId alone, which
    still catches a dropped push."""
    expect = Expect(grew={"gaps": 1}, equal={"checksum_ok": 0})
    uvloop.run(run_fault_case(make_sim(OkxSim(checksum=False)), OKX, [SYMBOL], Fault.DROP, expect=expect))


def test_okx_slow_snapshot_on_connect() -> None:
    uvloop.run(slow_snapshot_on_connect(make_sim(), OKX, [SYMBOL]))
