"""Feed-client behaviour that does not depend on one venue: callback isolation, sharding, latency."""

from __future__ import annotations

import asyncio
import time

import uvloop

import arbcore
from arbcore.feed_client import FeedClient, LatencyHistogram, shard_symbols
from arbcore.sim import BybitSim, SimInstrument, SimVenue
from arbcore.venues import CLIENT_SPECS


def test_a_failing_callback_does_not_take_the_feed_down() -> None:
    async def case() -> tuple[int, int, dict[str, int]]:
        sim = SimVenue(BybitSim(), [SimInstrument("BTCUSDT", 2, 6, tick=1, lot=1, mid=6_000_000)], interval=0.005)
        await sim.start()
        book = arbcore.ConsolidatedBook("BTC/USDT", 2, 6)
        book.add_venue("bybit", symbol="BTCUSDT", tick_size="0.01", lot_size="0.000001")
        calls = 0

        def strategy() -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("strategy bug")

        client = FeedClient(CLIENT_SPECS["bybit"], sim.ws_url, [book], {"BTCUSDT": (0, 0)}, on_read=strategy)
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            end = time.monotonic() + 5
            while client.feed.counters()["applied"] < 50:
                assert time.monotonic() < end, "feed stopped"
                await asyncio.sleep(0.01)
            return calls, book.state(0), client.counters()
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
            await sim.stop()

    calls, state, counters = uvloop.run(case())
    assert calls > 10 and counters["callback_errors"] == calls
    assert counters["reconnects"] == 0 and state == arbcore.LIVE


def test_symbols_are_sharded_by_the_venue_limit() -> None:
    spec = CLIENT_SPECS["bybit"]
    symbols = {f"S{i:02d}": (i, 0) for i in range(23)}
    shards = shard_symbols(spec, symbols)
    assert [len(s) for s in shards] == [10, 10, 3]
    assert {k for s in shards for k in s} == set(symbols)


def test_latency_histogram_percentiles() -> None:
    h = LatencyHistogram()
    for us in [10] * 90 + [1000] * 10:
        h.add(us * 1000)
    assert h.count == 100
    assert h.percentile(0.5) == 15  # bucket [8, 16) us
    assert h.percentile(0.99) == 1023
