"""The metrics endpoint of a trading session on the loopback simulators, auto-trading: tickets,
orders, fills, opportunities, latencies, PnL, open tickets, exposure and the kill switch carry the
engine's own figures (the session's stats, its journal), not just their # HELP lines."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path

import aiohttp
import uvloop

from arbcore.execution import Journal
from arbcore.runner.metrics import Registry, engine_metrics, start_metrics_server
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.runner.session_metrics import session_metrics
from arbcore.runner.snapshot import SnapshotBuilder, metrics_bridge
from arbcore.sim.server import Fault
from engine_helpers import make_config, wait_live

VENUES = ["binance_spot", "okx"]


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value, every sample line of a scrape."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def series(s: dict[str, float], name: str) -> dict[str, float]:
    """The samples of one metric: its labels text (``venue="okx",outcome="filled"``) -> value."""
    return {k[len(name) :].strip("{}"): v for k, v in s.items() if k == name or k.startswith(name + "{")}


async def scrape(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as c, c.get(url) as r:
        assert r.status == 200
        return samples(await r.text())


def test_metrics_carry_the_sessions_tickets_orders_fills_and_pnl(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"

    async def main() -> tuple[dict[str, float], dict[str, float], TradingSession]:
        config = make_config(VENUES, auto_trade=True)
        s = TradingSession(config, load_strategy(None, config), journal_path=journal)
        reg = Registry()
        m = engine_metrics(reg)
        session_metrics(reg, m, s)  # as `arbcore run` does: before start
        server = await start_metrics_server(reg, 0)
        try:
            await s.start()
            try:
                metrics_bridge(reg, m, SnapshotBuilder(config, s.books, {v: [f] for v, f in s.feeds.items()}))
                await wait_live(s)
                end = time.monotonic() + 20
                while s.stats.tickets < 5 and time.monotonic() < end:
                    await asyncio.sleep(0.05)
                assert s.stats.tickets >= 5, "no tickets from the auto-trading config"
                running = await scrape(server.url)
            finally:
                await s.stop()
            return running, await scrape(server.url), s  # after stop: every ticket ended and counted
        finally:
            await server.stop()

    running, final, s = uvloop.run(main())
    # while it ran: values, not just # HELP lines
    for name in ("arbcore_tickets_total", "arbcore_orders_total", "arbcore_fills_total", "arbcore_opportunities_total",
                 "arbcore_order_ack_seconds_count", "arbcore_order_fill_seconds_count",
                 "arbcore_feed_latency_seconds_count"):  # fmt: skip
        assert sum(series(running, name).values()) > 0, name
    assert series(running, "arbcore_open_tickets")[""] >= 0
    assert series(running, "arbcore_kill_switch") == {"": 0}

    # at the end: the session's own counts and its journal's
    tickets = series(final, "arbcore_tickets_total")
    assert tickets.pop('outcome="refused"', 0) == s.stats.refused
    assert sum(tickets.values()) == s.stats.tickets
    assert series(final, "arbcore_opportunities_total") == {"": s.stats.opportunities}
    assert s.stats.opportunities >= s.stats.tickets
    with Journal(journal) as j:
        first_outcome: dict[str, str] = {}
        for tid, _ns, status, detail in j.ticket_outcomes():
            first_outcome.setdefault(tid, status)  # how it ended (a later sweep may relabel it)
            if detail.get("sweep") is True:  # a sweep's own last word: what it left, if anything
                first_outcome[tid] = status
        assert len(j.tickets()) == s.stats.tickets
        orders = j.orders()
        fills = Counter(o.intent.venue for o in orders for e in j.events(o.client_order_id) if e.fill is not None)
    assert tickets == {f'outcome="{k}"': n for k, n in Counter(first_outcome.values()).items()}
    by_state = Counter((o.intent.venue, o.state.value.lower()) for o in orders)
    assert series(final, "arbcore_orders_total") == {
        f'venue="{v}",outcome="{st}"': n for (v, st), n in by_state.items()
    }
    assert series(final, "arbcore_fills_total") == {f'venue="{v}"': n for v, n in fills.items()}
    acks = series(final, "arbcore_order_ack_seconds_count")
    assert set(acks) <= {f'venue="{v}"' for v in VENUES} and 0 < sum(acks.values()) <= len(orders)
    first_fills = series(final, "arbcore_order_fill_seconds_count")
    assert sum(first_fills.values()) == sum(1 for o in orders if o.filled_qty), first_fills

    assert series(final, "arbcore_realised_pnl") == {
        f'quote="{q}"': amount / 10**decimals for q, (amount, decimals) in s.stats.realised.items()
    }
    assert s.stats.realised, "no realised PnL after the tickets"
    assert series(final, "arbcore_open_tickets") == {"": 0}
    assert series(final, "arbcore_net_exposure") == {'asset="BTC"': float(s.risk.net_position("BTC"))}
    assert series(final, "arbcore_strategy_errors_total") == {'strategy="taker"': 0}


def test_the_kill_switch_metric_and_status(tmp_path: Path) -> None:
    """Engaged (as SIGUSR1 does): the metric says 1 and the dashboard's status says why."""

    async def main() -> None:
        config = make_config(VENUES)
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        reg = Registry()
        session_metrics(reg, engine_metrics(reg), s)
        await s.start()
        try:
            snap = SnapshotBuilder(config, s.books, {v: [f] for v, f in s.feeds.items()})
            assert series(samples(reg.render()), "arbcore_kill_switch") == {"": 0}
            assert snap.state(1.0, s.host, kill_switch=s.risk.kill.reason).strategy_status == "running"
            s.engage_kill("SIGUSR1")
            assert series(samples(reg.render()), "arbcore_kill_switch") == {"": 1}
            state = snap.state(1.0, s.host, kill_switch=s.risk.kill.reason)
            assert state.strategy_status == "kill switch engaged: SIGUSR1"
        finally:
            await s.stop()

    uvloop.run(main())


def test_counters_hold_across_a_reconnect_and_the_kill_switch_and_a_venue_down_reads_syncing(tmp_path: Path) -> None:
    """Scraped as Prometheus does while the feed of one venue is dropped (it reconnects and
    resyncs), the kill switch engages, and that venue goes away for good: no counter or histogram
    bucket ever goes down, and the gone venue's books read SYNCING (0), not their last LIVE."""

    async def main() -> list[dict[str, float]]:
        config = make_config(VENUES)
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        reg = Registry()
        m = engine_metrics(reg)
        session_metrics(reg, m, s)
        await s.start()
        try:
            metrics_bridge(reg, m, SnapshotBuilder(config, s.books, {v: [f] for v, f in s.feeds.items()}))
            await wait_live(s)
            scrapes = [samples(reg.render())]
            okx = s.sim_venues["okx"]
            okx.inject(Fault.DISCONNECT)
            end = time.monotonic() + 10
            while s.feeds["okx"].reconnects == 0 or not s.view.book_status("okx", "BTC/USDT")[0]:
                assert time.monotonic() < end, "okx never reconnected and resynced"
                scrapes.append(samples(reg.render()))
                await asyncio.sleep(0.02)
            s.engage_kill("test")
            scrapes.append(samples(reg.render()))
            await okx.stop()  # gone: the feed retries, its books stay SYNCING
            await asyncio.sleep(0.3)
            scrapes.append(samples(reg.render()))
            return scrapes
        finally:
            await s.stop()

    scrapes = uvloop.run(main())
    monotonic = ("_total{", "_total ", "_bucket{", "_count{", "_count ")
    for before, after in itertools.pairwise(scrapes):
        for key, value in before.items():
            if any(k in key + " " for k in monotonic):
                assert after.get(key, 0) >= value, (key, value, after.get(key))
    last = scrapes[-1]
    assert series(last, "arbcore_feed_errors_total")['venue="okx",kind="reconnects"'] >= 1
    assert series(last, "arbcore_kill_switch") == {"": 1}
    assert series(last, "arbcore_book_state")['venue="okx",instrument="BTC/USDT"'] == 0  # SYNCING
    assert series(last, "arbcore_book_state")['venue="binance_spot",instrument="BTC/USDT"'] == 1  # LIVE
