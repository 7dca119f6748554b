"""The kill file on an auto-trading session against the loopback simulators: present at start, not
one ticket is made; appearing while tickets run, trading stops at once (not at the next timer
tick), in one ERROR line, without a refusal line per ticket."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import uvloop

from arbcore.execution import Journal
from arbcore.runner.config import parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from engine_helpers import config_text, wait_live

VENUES = ["binance_spot", "okx"]


def kill_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "kill" in r.getMessage().lower()]


def auto_trading(tmp_path: Path, kill: Path) -> TradingSession:
    # a long timer period: trading must not wait for the timer to notice the kill file
    config = parse_toml(config_text(VENUES, auto_trade=True).replace("timer_ms = 200", "timer_ms = 5000"))
    return TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite", kill_file=kill)


def test_a_kill_file_present_at_start_means_not_one_ticket(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kill = tmp_path / "KILL"
    kill.touch()

    async def main() -> None:
        s = auto_trading(tmp_path, kill)
        await s.start()
        try:
            await wait_live(s)
            await asyncio.sleep(1.0)  # the auto-trading config makes tickets well within this
            assert s.runner is not None
            assert not s.runner.results, list(s.runner.results)[:3]
            assert s.stats.tickets == s.stats.refused == 0
            assert s.risk.kill.reason == f"kill file {kill} present"
        finally:
            await s.stop()

    with caplog.at_level(logging.INFO):
        uvloop.run(main())
    lines = kill_lines(caplog)
    assert len(lines) <= 2, [r.getMessage() for r in lines]
    assert [r.levelname for r in lines if r.levelno >= logging.WARNING] == ["ERROR"], [r.getMessage() for r in lines]
    with Journal(tmp_path / "j.sqlite") as j:
        assert not j.tickets()


def test_a_kill_file_appearing_stops_trading_at_once_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kill = tmp_path / "KILL"

    async def main() -> tuple[float, int, int]:
        s = auto_trading(tmp_path, kill)
        await s.start()
        try:
            await wait_live(s)
            end = time.monotonic() + 20
            while s.stats.tickets < 2 and time.monotonic() < end:
                await asyncio.sleep(0.01)
            assert s.stats.tickets >= 2, "no tickets from the auto-trading config"
            caplog.clear()
            t0 = time.monotonic()
            kill.touch()
            while s._accepting and time.monotonic() - t0 < 10:
                await asyncio.sleep(0.005)
            took = time.monotonic() - t0
            stopped_ns = time.time_ns()
            await asyncio.sleep(1.0)  # tickets would go on being refused meanwhile
            return took, stopped_ns, s.stats.refused
        finally:
            await s.stop()

    with caplog.at_level(logging.INFO):
        took, stopped_ns, refused = uvloop.run(main())
    assert took < 0.5, f"trading stopped {took:.2f} s after the kill file appeared"
    assert refused <= 1  # at most the ticket whose risk check found the file
    lines = kill_lines(caplog)
    loud = [r.getMessage() for r in lines if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and loud[0] == f"KILL SWITCH engaged: kill file {kill} present", loud
    assert len(lines) <= 3, [r.getMessage() for r in lines]
    with Journal(tmp_path / "j.sqlite") as j:
        created = [t.created_ns for t in j.tickets()]
    assert created and max(created) < stopped_ns


def test_cancel_all_answered_after_the_ticket_ended_is_no_error(tmp_path: Path) -> None:
    """The kill switch (or a failed strategy) cancels every open order while a ticket runs; the
    venue's answer to a cancel can come after the ticket ended and the engine forgot it (its
    orders done, its ledger share retired). That answer is old news, not an error: it raised
    UnknownReservationError out of ``cancel_all`` ("Task exception was never retrieved", the
    "N open orders cancelled" line never written)."""
    from arbcore.execution.eager import start_now
    from engine_helpers import live_crossing_plan, session

    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite") as s:
            assert s.runner is not None and s.executor is not None
            executor = s.executor
            plan = await live_crossing_plan(s, "binance_spot", "okx")
            ticket = start_now(s.runner.execute(plan))  # both legs on the wire, not answered yet
            open_now = [o for o in executor.orders.values() if not o.done]
            assert open_now, "the legs were answered before cancel_all could see them"
            for client in s.clients.values():
                original = client.cancel

                async def late_cancel(intent, timeout=None, _original=original):  # type: ignore[no-untyped-def]
                    await asyncio.shield(ticket)  # the answer comes once the ticket has ended
                    return await _original(intent, timeout=timeout)

                client.cancel = late_cancel  # type: ignore[method-assign]
            n = await executor.cancel_all()
            assert n == len(open_now)
            result = ticket.result()
            assert all(o.cid not in executor.orders for o in open_now), "the ticket's orders were not forgotten"
            assert result.status in ("done", "hedged", "unwound", "residual", "missed"), result.status
            for (venue, asset), bal in executor.ledger.balances().items():
                assert bal.reserved == 0, (venue, asset, bal)

    uvloop.run(main())
