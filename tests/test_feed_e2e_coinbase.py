"""End to end on loopback for Coinbase Advanced Trade: the simulated venue (level2 snapshot + updates,
heartbeats, one `sequence_num` per connection across all channels), the picows feed client, the
Rust decoder and the consolidated books. Two products share the connection, so a sequence fault
caused by one product's message breaks both books; both must resync (by resubscribing) and then
equal the simulator's true books, and no opportunity may come from a book while it is not LIVE."""

from __future__ import annotations

import pytest
import uvloop
from picows import WSMsgType

from arbcore.sim import CoinbaseSim, Fault, SimVenue
from arbcore.sim.coinbase import rfc3339_ns
from arbcore.venues import CLIENT_SPECS
from e2e_helpers import SEQUENCED, Expect, Setup, raw_client, run_fault_case, sim_venue, slow_snapshot_on_connect, until

BTC, ETH = "BTC-USD", "ETH-USD"
COINBASE = Setup(CLIENT_SPECS["coinbase"])
#: beyond what every venue shows (`e2e_helpers.common_rules`: a resync request and a new snapshot
#: for each broken book, decode errors from MALFORMED only)
EXPECT = {**SEQUENCED, Fault.MALFORMED: Expect(grew={"gaps": 1})}  # the truncated message's number is missing


def make_sim(symbols: tuple[str, ...] = (BTC, ETH), heartbeat_interval: float = 0.05) -> SimVenue:
    mids = {BTC: 6_000_000, ETH: 300_000}
    return sim_venue(CoinbaseSim(heartbeat_interval=heartbeat_interval), {s: mids[s] for s in symbols})


FAULTS = [None, Fault.DROP, Fault.DUPLICATE, Fault.REORDER, Fault.MALFORMED, Fault.DISCONNECT, Fault.STALL]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value if f else "clean")
def test_coinbase_fault_detected_and_resynced(fault: Fault | None) -> None:
    # the fault hits a BTC-USD message; the sequence is per connection, so both books break (and
    # each gets a new snapshot: resubscribe or new connection)
    uvloop.run(run_fault_case(make_sim(), COINBASE, [BTC, ETH], fault, target=BTC, affected=[BTC, ETH], expect=EXPECT))


def test_coinbase_single_product_drop() -> None:
    r = uvloop.run(run_fault_case(make_sim((BTC,)), COINBASE, [BTC], Fault.DROP, target=BTC, expect=EXPECT))
    assert r.after["gaps"] == r.before["gaps"] + 1
    assert r.after["resync_requests"] == 1


def test_coinbase_slow_snapshot_then_sync() -> None:
    """The level2 snapshot comes 0.5 s after the subscription: no update comes before it (the venue
    starts updates at the snapshot), the books stay SYNCING, then become LIVE and exact."""
    during, after = uvloop.run(slow_snapshot_on_connect(make_sim(), COINBASE, [BTC, ETH]))
    assert during["frames"] >= 2  # subscriptions acks and heartbeats
    assert after["snapshots"] == 2
    assert after["gaps"] == after["duplicates"] == after["out_of_order"] == after["decode_errors"] == 0


def test_coinbase_wire_format() -> None:
    """What a raw client sees: subscriptions acks, then the snapshot, then updates and heartbeats,
    numbered 0, 1, 2, ... across all channels."""

    async def case() -> list[dict[str, object]]:
        async with raw_client(make_sim((BTC,), heartbeat_interval=0.02)) as (transport, got):
            for msg in COINBASE.spec.subscribe([BTC]):
                transport.send(WSMsgType.TEXT, msg)
            transport.send(WSMsgType.TEXT, b'{"type":"subscribe","channel":"nope"}')
            await until(lambda: len(got) > 30 and any(m.get("channel") == "heartbeats" for m in got), "messages")
        return got

    got = uvloop.run(case())
    errors = [m for m in got if m.get("type") == "error"]
    assert len(errors) == 1
    msgs = [m for m in got if "channel" in m]
    assert [m["sequence_num"] for m in msgs] == list(range(len(msgs)))
    assert msgs[0]["channel"] == "subscriptions"
    assert msgs[0]["events"] == [{"subscriptions": {"level2": [BTC]}}]
    assert msgs[1]["channel"] == "l2_data"
    assert msgs[1]["events"][0]["type"] == "snapshot"  # type: ignore[index]
    kinds = {(m["channel"], m["events"][0].get("type")) for m in msgs[2:]}  # type: ignore[index]
    assert ("l2_data", "update") in kinds
    assert ("heartbeats", None) in kinds
    sides = {u["side"] for u in msgs[1]["events"][0]["updates"]}  # type: ignore[index]
    assert sides == {"bid", "offer"}


def test_rfc3339_ns() -> None:
    assert rfc3339_ns(1_675_974_770_714_964_855) == "2023-02-09T20:32:50.714964855Z"
    assert rfc3339_ns(1_675_974_770_396_251_350) == "2023-02-09T20:32:50.39625135Z"
    assert rfc3339_ns(1_675_974_770_000_000_000) == "2023-02-09T20:32:50Z"
