"""Bybit end to end on loopback: a simulated venue speaking the real protocol, the picows feed
client, the Rust decoder and the consolidated book. For each fault kind: the fault is detected, no
opportunity comes from the book while it is not LIVE, the book resyncs, and it then equals the
simulator's true book (the rig and the checks are `e2e_helpers.run_fault_case`)."""

from __future__ import annotations

import pytest
import uvloop

from arbcore.sim import BybitSim, Fault, SimVenue
from arbcore.venues import CLIENT_SPECS
from e2e_helpers import SEQUENCED, Setup, run_fault_case, sim_venue, slow_snapshot_on_connect

SYMBOL = "BTCUSDT"
BYBIT = Setup(CLIENT_SPECS["bybit"])


def make_sim() -> SimVenue:
    return sim_venue(BybitSim(), {SYMBOL: 6_000_000})


CASES = [None, Fault.DROP, Fault.DUPLICATE, Fault.REORDER, Fault.MALFORMED, Fault.DISCONNECT, Fault.STALL]


@pytest.mark.parametrize("fault", CASES, ids=lambda f: f.value if f else "clean")
def test_bybit_fault_detected_and_resynced(fault: Fault | None) -> None:
    # DROP and REORDER leave a hole in `u`, DUPLICATE repeats it; the rest is common to all venues
    uvloop.run(run_fault_case(make_sim(), BYBIT, [SYMBOL], fault, expect=SEQUENCED))


def test_bybit_slow_snapshot_then_sync() -> None:
    """Deltas before the late snapshot are not applied: the book stays SYNCING until it comes."""
    uvloop.run(slow_snapshot_on_connect(make_sim(), BYBIT, [SYMBOL]))
