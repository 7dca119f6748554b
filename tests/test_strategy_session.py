"""A plug-in in a running session: positions counted from the run's start (the venues' balances,
not the config's paper ones), and a plug-in that fails has its open orders cancelled while the
engine runs on."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import uvloop

from arbcore.runner.config import parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.runner.sim_cluster import SimCluster
from engine_helpers import config_text, session, wait_live


def test_positions_count_from_the_venues_balances_at_start(tmp_path: Path) -> None:
    """The venues hold 5 BTC each, the engine's config says 4 (a live venue's config says nothing):
    the balances adopted at start are the run's start, so the net position is flat and the hedger
    has nothing to hedge. Before, positions counted from the config's 4 (or 0): net long 2 BTC at
    start, and the hedger's first timer sold them."""
    venues = ["binance_spot", "okx"]
    sims_config = parse_toml(config_text(venues))
    config = parse_toml(config_text(venues).replace('BTC = "5"', 'BTC = "4"').replace('"taker"', '"hedger"'))

    async def main() -> None:
        cluster = SimCluster.from_config(sims_config)
        await cluster.start()
        host = load_strategy(None, config)
        s = TradingSession(config, host, journal_path=tmp_path / "j.sqlite", external=cluster.endpoints(sims_config))
        await s.start()
        try:
            await wait_live(s)
            ctx = host.context
            assert ctx.balance("okx", "BTC") == 5 * 10**8
            assert ctx.position("okx", "BTC") == 0 and ctx.net_position("BTC") == 0
            assert host.on_timer(time.time_ns()) == []
        finally:
            await s.stop()
            await cluster.stop()

    uvloop.run(main())


FAILS = """
from arbcore.runner.plugins import Strategy

class FailsLater(Strategy):
    ticks = 0

    def on_timer(self, now_ns):
        self.ticks += 1
        if self.ticks == 2:
            raise RuntimeError("bug on tick 2")
"""


def test_a_failing_plugin_has_its_open_orders_cancelled(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """README: a plug-in that raises is stopped, "its open orders are cancelled and the engine keeps
    running". Before, `arbcore run` gave the host no on_stopped: nothing was cancelled."""
    (tmp_path / "fails.py").write_text(FAILS)

    async def main() -> None:
        async with session(["binance_spot", "okx"], tmp_path / "j.sqlite", str(tmp_path / "fails.py")) as s:
            end = time.monotonic() + 5
            while "open orders cancelled" not in caplog.text and time.monotonic() < end:
                await asyncio.sleep(0.02)
            assert s.host.stopped and s.host.error_text == "in on_timer: RuntimeError: bug on tick 2"
            assert s._accepting and all(  # the engine runs on
                b.state_name(v) == "LIVE" for b in s.books.values() for v in b.venues
            )

    with caplog.at_level(logging.INFO, logger="arbcore.session"):
        uvloop.run(main())
    assert "strategy FailsLater stopped: 0 open orders cancelled, the engine runs on" in caplog.text
