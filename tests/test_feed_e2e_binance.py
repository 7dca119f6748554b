"""End to end on loopback for Binance spot and USD-M: the simulated venue (WS diff depth stream +
REST snapshot), the picows feed client, the Rust decoder and the consolidated book. For each fault
kind: the fault is detected (or, where the venue's documented rule absorbs it, absorbed), no
opportunity comes from the book while it is not LIVE, the book resyncs from a new REST snapshot,
and it then equals the simulator's true book."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp
import pytest
import uvloop
from picows import WSMsgType

import arbcore
from arbcore.sim import BinanceSim, Fault, SimVenue
from arbcore.venues import CLIENT_SPECS
from e2e_helpers import (
    SEQUENCED,
    Expect,
    Setup,
    freeze_and_compare,
    raw_client,
    run_fault_case,
    running,
    sim_venue,
    slow_snapshot_on_connect,
    until,
)

BTC, ETH = "BTCUSDT", "ETHUSDT"
SETUPS = {"spot": Setup(CLIENT_SPECS["binance_spot"]), "usdm": Setup(CLIENT_SPECS["binance_usdm"])}
#: Spot's documented rule ignores an event with u <= the book's id: a duplicate is absorbed (counted
#: as ignored), the book stays LIVE and correct. USD-M detects it by `pu`.
EXPECT = {
    "spot": {**SEQUENCED, Fault.DUPLICATE: Expect(grew={"ignored": 1}, same=("resyncs",))},
    "usdm": SEQUENCED,
}


def make_sim(market: str = "spot", symbols: tuple[str, ...] = (BTC,), *, combined: bool = False) -> SimVenue:
    mids = {BTC: 6_000_000, ETH: 300_000}
    return sim_venue(BinanceSim(market, combined=combined), {s: mids[s] for s in symbols})


def snapshots_served(sim: SimVenue, symbol: str = BTC) -> int:
    proto = sim.protocol
    assert isinstance(proto, BinanceSim)
    return proto.snapshot_requests.get(symbol, 0)


FAULTS = [None, Fault.DROP, Fault.DUPLICATE, Fault.REORDER, Fault.MALFORMED, Fault.DISCONNECT, Fault.STALL]


@pytest.mark.parametrize("market", ["spot", "usdm"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value if f else "clean")
def test_binance_fault_detected_and_resynced(market: str, fault: Fault | None) -> None:
    sim = make_sim(market)
    absorbed = market == "spot" and fault is Fault.DUPLICATE
    affected = [] if absorbed else None
    uvloop.run(run_fault_case(sim, SETUPS[market], [BTC], fault, target=BTC, affected=affected, expect=EXPECT[market]))
    if fault is None:
        assert snapshots_served(sim) == 1
    elif fault is not Fault.STALL and not absorbed:
        assert snapshots_served(sim) >= 2  # every resync of a Binance book is a new REST snapshot


@pytest.mark.parametrize("fault", [None, Fault.DROP], ids=lambda f: f.value if f else "clean")
def test_binance_combined_stream(fault: Fault | None) -> None:
    """The `/stream` endpoint wraps every event as {"stream":..,"data":..}."""
    sim = make_sim("spot", combined=True)
    r = uvloop.run(run_fault_case(sim, SETUPS["spot"], [BTC], fault, target=BTC, expect=SEQUENCED))
    assert r.after["gaps"] == r.before["gaps"] + (1 if fault else 0)


@pytest.mark.parametrize(
    ("market", "fault"),
    [("spot", Fault.DROP), ("spot", Fault.MALFORMED), ("usdm", Fault.DROP), ("usdm", Fault.DUPLICATE)],
    ids=lambda x: x if isinstance(x, str) else x.value,
)
def test_binance_fault_breaks_only_its_book(market: str, fault: Fault) -> None:
    """Two symbols on one connection: a fault in one symbol's stream resyncs that book only (a
    REORDER cannot be aimed at one symbol there: the engine holds a frame back per connection)."""
    sim = make_sim(market, (BTC, ETH))
    uvloop.run(
        run_fault_case(sim, SETUPS[market], [BTC, ETH], fault, target=BTC, unaffected=[ETH], expect=EXPECT[market])
    )
    assert snapshots_served(sim, ETH) == 1
    assert snapshots_served(sim, BTC) >= 2


@pytest.mark.parametrize("market", ["spot", "usdm"])
def test_binance_slow_snapshot_then_sync(market: str) -> None:
    """The REST snapshot takes 0.5 s: the events are buffered meanwhile (the book stays SYNCING and
    yields nothing), then the snapshot and the buffered events make it LIVE and exact."""
    during, after = uvloop.run(slow_snapshot_on_connect(make_sim(market), SETUPS[market], [BTC]))
    assert during["applied"] == 0  # buffered, not applied
    assert after["snapshots"] == 1


def test_binance_stale_snapshot_is_fetched_again() -> None:
    """The first two REST snapshots were captured before the client's first buffered event
    (`lastUpdateId` < its `U`): each is refused and fetched again, then the book syncs exactly."""

    async def case() -> None:
        sim = make_sim("spot")
        proto = sim.protocol
        assert isinstance(proto, BinanceSim)
        async with running(sim, SETUPS["spot"], [BTC]) as rig:
            # captured before the client subscribed: older than anything it will buffer
            proto.freeze_snapshot(sim, BTC, count=2)
            client, book = rig.feed_client, rig.legs[BTC].book
            await until(lambda: book.state(0) == arbcore.LIVE, "sync after stale snapshots")
            assert proto.stale_served == 2
            assert proto.snapshot_requests[BTC] == 3
            c = client.counters()
            assert c["resyncs"] == 2  # the two refusals (StaleSnapshot)
            assert c["snapshots"] == 1
            await freeze_and_compare(rig)

    uvloop.run(case())


def test_binance_wire_format() -> None:
    """What a raw client sees on `/ws`: the SUBSCRIBE ack, then depthUpdate events whose `U` is the
    previous `u` + 1; bad stream names are refused; the REST snapshot chains to the stream."""
    spec = SETUPS["spot"].spec

    async def case() -> tuple[list[dict[str, Any]], dict[str, Any], int, int]:
        sim = make_sim("spot")
        async with raw_client(sim) as (transport, got):
            for msg in spec.subscribe([BTC]):
                transport.send(WSMsgType.TEXT, msg)
            transport.send(WSMsgType.TEXT, b'{"method":"SUBSCRIBE","params":["BTCUSDT@depth"],"id":"x"}')
            transport.send(WSMsgType.TEXT, b'{"method":"LIST_SUBSCRIPTIONS","id":7}')
            await until(lambda: len(got) > 20, "events")
            u_before = got[-1]["u"]  # the snapshot, requested now, covers at least this event
            async with aiohttp.ClientSession() as http:
                assert spec.snapshot_path is not None
                async with http.get(sim.rest_url + spec.snapshot_path(BTC)) as resp:
                    snap = await resp.json()
                async with http.get(sim.rest_url + "/api/v3/depth?symbol=NOPE") as resp:
                    bad_status = resp.status
        return got, snap, bad_status, u_before

    got, snap, bad_status, u_before = uvloop.run(case())
    assert got[0] == {"result": None, "id": 1}
    assert got[1]["id"] == "x" and got[1]["error"]["code"] == 2
    assert got[2] == {"result": ["btcusdt@depth@100ms"], "id": 7}
    events = got[3:]
    assert all(e["e"] == "depthUpdate" and e["s"] == BTC and e["E"] > 0 for e in events)
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(events))
    assert snap["lastUpdateId"] >= u_before
    assert 0 < len(snap["bids"]) <= 50 and 0 < len(snap["asks"]) <= 50
    assert bad_status == 400
