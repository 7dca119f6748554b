"""Feed-client behaviour that does not depend on one venue: callback isolation, sharding, latency."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import uvloop

import arbcore
from arbcore import feed_client
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


def test_cross_venue_opportunities_appear_and_vanish_and_one_venue_failing_spares_the_other() -> None:
    """Two simulated venues (Bybit and OKX protocols) around one shared mid with different lags:
    opportunities between them open and close; a disconnect on one leaves the other LIVE."""
    from arbcore.sim import Fault, OkxSim, SimMarket

    async def case() -> tuple[int, int, list[int], int]:
        insts = [
            [SimInstrument("BTCUSDT", 2, 6, tick=1, lot=1000, mid=6_000_000, depth=20)],
            [SimInstrument("BTC-USDT", 2, 6, tick=1, lot=1000, mid=6_000_000, depth=20)],
        ]
        market = SimMarket([(BybitSim(), insts[0]), (OkxSim(), insts[1])], seed=4, interval=0.005, lags=[0, 6])
        await market.start()
        book = arbcore.ConsolidatedBook("BTC/USDT", 2, 6)
        for name, sym in (("bybit", "BTCUSDT"), ("okx", "BTC-USDT")):
            book.add_venue(name, symbol=sym, tick_size="0.01", lot_size="0.001", taker_fee="0.5bps")
            book.set_balance(name, "USDT", "10000000")
            book.set_balance(name, "BTC", "100")
        had_opp = [False]
        appear = vanish = 0
        okx_states: list[int] = []

        def on_read() -> None:
            nonlocal appear, vanish
            now = len(book.opportunities()) > 0
            if now and not had_opp[0]:
                appear += 1
            if had_opp[0] and not now:
                vanish += 1
            had_opp[0] = now
            okx_states.append(book.state(1))

        clients = [
            FeedClient(CLIENT_SPECS["bybit"], market.venues[0].ws_url, [book], {"BTCUSDT": (0, 0)}, on_read=on_read),
            FeedClient(CLIENT_SPECS["okx"], market.venues[1].ws_url, [book], {"BTC-USDT": (0, 1)}, on_read=on_read),
        ]
        tasks = [asyncio.get_running_loop().create_task(c.run()) for c in clients]
        try:
            end = time.monotonic() + 8
            while appear < 3 or vanish < 3:
                assert time.monotonic() < end, f"opportunities appeared {appear}, vanished {vanish}"
                await asyncio.sleep(0.02)
            okx_states.clear()
            market.venues[0].inject(Fault.DISCONNECT)
            while clients[0].reconnects < 1 or book.state(0) != arbcore.LIVE:
                assert time.monotonic() < end, "bybit did not come back"
                await asyncio.sleep(0.01)
            # copy: stopping the clients below runs on_read again (books go SYNCING on disconnect)
            return appear, vanish, list(okx_states), clients[1].reconnects
        finally:
            for c in clients:
                c.stop()
            for t in tasks:
                await asyncio.wait_for(t, 5)
            await market.stop()

    appear, vanish, okx_states, okx_reconnects = uvloop.run(case())
    assert appear >= 3 and vanish >= 3
    assert okx_states and all(s == arbcore.LIVE for s in okx_states), sorted(set(okx_states))
    assert okx_reconnects == 0


def test_scheduled_faults_fire_on_time_and_are_recovered() -> None:
    """Faults on a schedule (not only on demand): a gap after 0.2 s, a disconnect after 0.5 s."""
    from arbcore.sim import Fault

    async def case() -> dict[str, int]:
        sim = SimVenue(BybitSim(), [SimInstrument("BTCUSDT", 2, 6, tick=1, lot=1, mid=6_000_000)], interval=0.005)
        await sim.start()
        book = arbcore.ConsolidatedBook("BTC/USDT", 2, 6)
        book.add_venue("bybit", symbol="BTCUSDT", tick_size="0.01", lot_size="0.000001")
        client = FeedClient(CLIENT_SPECS["bybit"], sim.ws_url, [book], {"BTCUSDT": (0, 0)}, seed=2)
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            end = time.monotonic() + 8
            while book.state(0) != arbcore.LIVE:
                assert time.monotonic() < end
                await asyncio.sleep(0.005)
            sim.schedule(0.2, Fault.DROP)
            sim.schedule(0.5, Fault.DISCONNECT)
            await asyncio.sleep(0.1)
            assert client.counters()["gaps"] == 0  # not yet
            while client.reconnects < 1 or client.counters()["gaps"] < 1 or book.state(0) != arbcore.LIVE:
                assert time.monotonic() < end, client.counters()
                await asyncio.sleep(0.01)
            return client.counters()
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
            await sim.stop()

    c = uvloop.run(case())
    assert c["gaps"] >= 1 and c["reconnects"] >= 1 and c["decode_errors"] == 0


def test_a_snapshot_during_a_delayed_resubscribe_does_not_leave_the_book_live_and_frozen() -> None:
    """Coinbase: a gap resubscribes at once; a second gap before that snapshot waits (backoff).
    That first snapshot then comes and makes the book LIVE; when the delayed resubscribe fires it
    resets the decoder, which ignores updates until the new snapshot: the book must not stay LIVE
    (it did: its prices frozen while detection and tickets read them)."""
    import orjson

    from e2e_helpers import make_book

    symbol, seq = "BTC-USD", [0]

    def frame(kind: str, bid: str, ask: str, skip: int = 0) -> bytes:
        seq[0] += skip
        at = "2023-02-09T20:32:50Z"
        levels = [{"side": side, "event_time": at, "price_level": p, "new_quantity": "1"}
                  for side, p in (("bid", bid), ("offer", ask))]  # fmt: skip
        body = {"channel": "l2_data", "client_id": "", "timestamp": "2023-02-09T20:32:50Z", "sequence_num": seq[0],
                "events": [{"type": kind, "product_id": symbol, "updates": levels}]}  # fmt: skip
        seq[0] += 1
        return orjson.dumps(body)

    class Transport:
        def __init__(self) -> None:
            self.sent: list[object] = []

        def send(self, _kind: object, msg: object) -> None:
            self.sent.append(msg)

        def disconnect(self) -> None:
            pass

    async def main() -> None:
        book = make_book(symbol)
        fc = FeedClient(CLIENT_SPECS["coinbase"], "ws://127.0.0.1:1", [book], {symbol: (0, 0)})
        fc._on_connected(Transport())  # type: ignore[arg-type]
        fc._on_frame(frame("snapshot", "60000", "60001"), 1)
        assert book.state("sim") == arbcore.LIVE
        fc._on_frame(frame("update", "60000", "60001", skip=5), 1)  # a gap: resubscribed at once
        fc._on_frame(frame("update", "60000", "60001", skip=5), 1)  # another: resubscribed later
        assert list(fc._resubscribe_later) == [symbol]
        fc._on_frame(frame("snapshot", "60010", "60011"), 1)  # the first resubscribe's snapshot
        assert book.state("sim") == arbcore.LIVE
        await asyncio.sleep(0.2)  # the delayed resubscribe fires
        assert book.state("sim") != arbcore.LIVE
        fc.stop()

    uvloop.run(main())


def test_a_connect_failure_logs_the_address_without_its_credentials(caplog: pytest.LogCaptureFixture) -> None:
    """A feed URL may carry a user, a password or a token (a gateway's, a proxy's); the
    connection warning printed the URL whole."""

    async def case(url: str) -> None:
        book = arbcore.ConsolidatedBook("BTC/USDT", 2, 6)
        book.add_venue("bybit", symbol="BTCUSDT", tick_size="0.01", lot_size="0.000001")
        client = FeedClient(CLIENT_SPECS["bybit"], url, [book], {"BTCUSDT": (0, 0)})
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            end = time.monotonic() + 5
            while not client.errors:
                assert time.monotonic() < end, "no connect attempt"
                await asyncio.sleep(0.01)
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)

    with caplog.at_level(logging.WARNING, logger="arbcore.feed"):
        uvloop.run(case("ws://desk:hunter2@127.0.0.1:1/v5/public/spot?token=t0ken"))
        # picows' own error quotes the URL whole (a scheme it does not take)
        uvloop.run(case("http://desk:hunter2@127.0.0.1:1/v5/public/spot?token=t0ken"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "cannot connect to ws://***@127.0.0.1:1/v5/public/spot?token=***" in text, text
    assert "http://***@127.0.0.1:1/v5/public/spot?token=*** isn't a valid URL" in text, text
    assert "hunter2" not in text and "t0ken" not in text and "desk" not in text


def test_a_feed_that_cannot_connect_keeps_its_latest_errors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every failed connect added a line to ``errors`` for good (a venue down for a day: one every
    few seconds, held as long as the engine runs); decode errors were kept up to 100, the first
    ones. Both now keep the latest ``ERRORS_KEPT``, the last one being the latest."""
    monkeypatch.setattr(feed_client, "ERRORS_KEPT", 5, raising=False)

    async def case() -> FeedClient:
        book = arbcore.ConsolidatedBook("BTC/USDT", 2, 6)
        book.add_venue("bybit", symbol="BTCUSDT", tick_size="0.01", lot_size="0.000001")
        client = FeedClient(CLIENT_SPECS["bybit"], "ws://127.0.0.1:1/v5/public/spot", [book], {"BTCUSDT": (0, 0)},
                            backoff_initial=0.0, backoff_max=0.0)  # fmt: skip
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            end = time.monotonic() + 10
            while client.reconnects < 20:
                assert time.monotonic() < end, f"{client.reconnects} connect attempts"
                await asyncio.sleep(0.01)
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
        return client

    logging.getLogger("arbcore.feed").disabled = True
    try:
        client = uvloop.run(case())
    finally:
        logging.getLogger("arbcore.feed").disabled = False
    assert len(client.errors) == 5 and all(e.startswith("connect: ") for e in client.errors)
    client._error("newest")
    assert len(client.errors) == 5 and client.errors[-1] == "newest"
