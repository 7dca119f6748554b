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
from arbcore.runner.plugins import TicketProposal, load_strategy
from arbcore.runner.session import TradingSession
from arbcore.runner.sim_cluster import SimCluster
from engine_helpers import config_text, crossing_plan, session, wait_live


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


HEDGES_ON_FILL = """
from arbcore.runner.plugins import Strategy, TicketProposal

class HedgesOnFill(Strategy):
    def on_fill(self, fill):
        if fill.instrument != "BTC/USDT":
            return None
        ask = self.context.best_ask("okx", "ETH/USDT")
        return [TicketProposal("ETH/USDT", "okx", None, 10_000, ask[0] + 1_000, None, "hedge on fill")]
"""


def _eth_tickets(s: TradingSession) -> list[object]:
    assert s.runner is not None
    return [r for r in s.runner.results if r.orders and r.orders[0].intent.instrument == "ETH/USDT"]


def test_proposals_returned_by_on_fill_are_executed(tmp_path: Path) -> None:
    """Every hook but on_start and on_stop may return proposals (README); on_fill's were dropped
    without a word (the session called the hook and ignored its answer), so a plug-in that
    hedges as its fills come in never traded."""
    venues = ["binance_spot", "okx"]
    text = (
        config_text(venues)
        .replace("[assets]\n", "[assets]\nETH = 8\n")
        .replace('BTC = "5"\n', 'BTC = "5"\nETH = "50"\n')
    )
    text += '\n[[instruments]]\nname = "ETH/USDT"\nprice_decimals = 2\nqty_decimals = 4\nsim_mid = "3000"\n'
    for v, symbol in (("binance_spot", "ETHUSDT"), ("okx", "ETH-USDT")):
        text += (f'[instruments.venues.{v}]\nsymbol = "{symbol}"\ntick = "0.01"\nlot = "0.0001"\nmin_qty = "0.0001"\n'
                 'min_notional = "5"\nmaker_fee = "1bps"\ntaker_fee = "5bps"\n')  # fmt: skip
    (tmp_path / "hedges.py").write_text(HEDGES_ON_FILL)
    config = parse_toml(text)

    async def main() -> None:
        s = TradingSession(
            config, load_strategy(str(tmp_path / "hedges.py"), config), journal_path=tmp_path / "j.sqlite"
        )
        await s.start()
        try:
            await wait_live(s)
            end = time.monotonic() + 10
            while s.host.context.best_ask("okx", "ETH/USDT") is None and time.monotonic() < end:
                await asyncio.sleep(0.02)
            assert s.runner is not None
            result = await s.runner.execute(crossing_plan(s, "binance_spot", "okx"))
            assert result.bought or result.sold, result
            while time.monotonic() < end and not _eth_tickets(s):
                await asyncio.sleep(0.02)
            eth = _eth_tickets(s)
            assert eth, "on_fill's hedge never became a ticket"
            assert not s.host.stopped
        finally:
            await s.stop()

    uvloop.run(main())


TOLD = """
from arbcore.runner.plugins import Strategy

class Told(Strategy):
    outcomes = []

    def on_ticket(self, ticket):
        self.outcomes.append(ticket)
"""


def test_a_strategy_is_told_how_its_tickets_ended_and_why_one_was_refused(tmp_path: Path) -> None:
    """A proposal the risk checks refused was said only in the log: the strategy never learned
    that, nor why, nor how its other tickets ended (it proposed the same refused ticket again and
    again). ``on_ticket`` tells it, the refusal's reasons included."""
    (tmp_path / "told.py").write_text(TOLD)

    async def main() -> None:
        async with session(["binance_spot", "okx"], tmp_path / "j.sqlite", strategy=str(tmp_path / "told.py")) as s:
            outcomes = s.host.strategy.outcomes  # type: ignore[attr-defined]
            bid = s.host.context.best_bid("okx", "BTC/USDT")
            assert bid is not None
            # 5 BTC at ~50000: over max_order_notional 100000
            s.submit(TicketProposal("BTC/USDT", None, "okx", 5 * 10**6, None, bid[0] - 5_000, "too big"))
            end = time.monotonic() + 10
            while not outcomes and time.monotonic() < end:
                await asyncio.sleep(0.02)
            (refused,) = outcomes
            assert (refused.instrument, refused.status, refused.reason) == ("BTC/USDT", "refused", "too big")
            assert any("max_order_notional" in r for r in refused.reasons), refused.reasons
            s.submit(TicketProposal("BTC/USDT", None, "okx", 10_000, None, bid[0] - 5_000, "small"))
            while len(outcomes) < 2 and time.monotonic() < end:
                await asyncio.sleep(0.02)
            small = outcomes[1]
            assert small.status != "refused" and small.reason == "small" and small.sold == 10_000, small

    uvloop.run(main())
