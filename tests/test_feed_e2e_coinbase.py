"""End to end on loopback for Coinbase Advanced Trade: the simulated venue (level2 snapshot + updates,
heartbeats, one `sequence_num` per connection across all channels), the picows feed client, the
Rust decoder and the consolidated books. Two products share the connection, so a sequence fault
caused by one product's message breaks both books; both must resync (by resubscribing) and then
equal the simulator's true books, and no opportunity may come from a book while it is not LIVE."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import uvloop

import arbcore
from arbcore.sim import CoinbaseSim, Fault, SimInstrument, SimVenue
from arbcore.sim.coinbase import rfc3339_ns
from arbcore.venues import CLIENT_SPECS
from e2e_helpers import freeze_and_compare, run_fault_case, running, until

BTC, ETH = "BTC-USD", "ETH-USD"
SPEC = CLIENT_SPECS["coinbase"]


def make_sim(symbols: tuple[str, ...] = (BTC, ETH), heartbeat_interval: float = 0.05) -> SimVenue:
    mids = {BTC: 6_000_000, ETH: 300_000}
    return SimVenue(
        CoinbaseSim(heartbeat_interval=heartbeat_interval),
        [SimInstrument(s, 2, 6, tick=1, lot=1000, mid=mids[s], depth=50) for s in symbols],
        seed=11,
        interval=0.005,
    )


FAULTS = [None, Fault.DROP, Fault.DUPLICATE, Fault.REORDER, Fault.MALFORMED, Fault.DISCONNECT, Fault.STALL]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value if f else "clean")
def test_coinbase_fault_detected_and_resynced(fault: Fault | None) -> None:
    # the fault hits a BTC-USD message; the sequence is per connection, so both books break
    before, after = uvloop.run(run_fault_case(make_sim(), SPEC, [BTC, ETH], fault, target=BTC, affected=[BTC, ETH]))
    assert after["frames"] > 0
    if fault is None:
        for k in ("gaps", "duplicates", "out_of_order", "decode_errors", "resyncs", "reconnects"):
            assert after[k] == 0, (k, after)
        return
    if fault in (Fault.DROP, Fault.REORDER):
        assert after["gaps"] + after["out_of_order"] > before["gaps"] + before["out_of_order"]
    if fault is Fault.DUPLICATE:
        assert after["duplicates"] > before["duplicates"]
    if fault is Fault.MALFORMED:
        assert after["decode_errors"] > before["decode_errors"]
        assert after["gaps"] > before["gaps"]  # the truncated message's number is missing
    if fault is Fault.DISCONNECT:
        assert after["reconnects"] >= 1
    if fault is not Fault.STALL:
        # a new snapshot for each book (resubscribe or new connection)
        assert after["snapshots"] >= before["snapshots"] + 2


def test_coinbase_single_product_drop() -> None:
    before, after = uvloop.run(run_fault_case(make_sim((BTC,)), SPEC, [BTC], Fault.DROP, target=BTC))
    assert after["gaps"] == before["gaps"] + 1
    assert after["resync_requests"] == 1


def test_coinbase_slow_snapshot_then_sync() -> None:
    """The level2 snapshot comes 0.5 s after the subscription: no update comes before it (the venue
    starts updates at the snapshot), the books stay SYNCING, then become LIVE and exact."""

    async def case() -> None:
        sim = make_sim()
        sim.inject(Fault.SLOW_SNAPSHOT, seconds=0.5)
        async with running(sim, SPEC, [BTC, ETH]) as rig:
            client = rig.feed_client
            t0 = time.monotonic()
            await until(client.connected.is_set, "connect")
            await asyncio.sleep(0.2)
            assert all(leg.state == arbcore.SYNCING for leg in rig.legs.values())
            assert client.feed.counters()["frames"] >= 2  # subscriptions acks and heartbeats
            await until(rig.all_live, "late snapshot")
            assert time.monotonic() - t0 >= 0.45
            c = client.counters()
            assert c["snapshots"] == 2
            assert c["gaps"] == c["duplicates"] == c["out_of_order"] == c["decode_errors"] == 0
            await freeze_and_compare(rig)

    uvloop.run(case())


def test_coinbase_wire_format() -> None:
    """What a raw client sees: subscriptions acks, then the snapshot, then updates and heartbeats,
    numbered 0, 1, 2, ... across all channels."""

    async def case() -> list[dict[str, object]]:
        from picows import WSListener, WSMsgType, WSTransport, ws_connect

        sim = make_sim((BTC,), heartbeat_interval=0.02)
        await sim.start()
        got: list[dict[str, object]] = []

        class L(WSListener):
            def on_ws_frame(self, transport: WSTransport, frame: object) -> None:
                got.append(orjson.loads(frame.get_payload_as_bytes()))  # type: ignore[attr-defined]

        transport, _ = await ws_connect(L, sim.ws_url)
        try:
            for msg in SPEC.subscribe([BTC]):
                transport.send(WSMsgType.TEXT, msg)
            transport.send(WSMsgType.TEXT, b'{"type":"subscribe","channel":"nope"}')
            await until(lambda: len(got) > 30 and any(m.get("channel") == "heartbeats" for m in got), "messages")
        finally:
            transport.disconnect()
            await sim.stop()
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
