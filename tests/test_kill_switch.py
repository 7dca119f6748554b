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
