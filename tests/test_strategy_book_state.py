"""A strategy hears of its books' states: ``on_book_state`` when a venue's book for an instrument
changes state, and ``context.book_state`` reading the book itself (before, nothing called the
hook and the context said SYNCING for a LIVE book)."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import uvloop

from arbcore.sim.server import Fault
from engine_helpers import session

PLUGIN = """
from arbcore.runner.plugins import Strategy

class Watcher(Strategy):
    def __init__(self, context):
        super().__init__(context)
        self.heard = []

    def on_book_state(self, venue, instrument, state):
        self.heard.append((venue, instrument, state, self.context.book_state(venue, instrument)))
"""


async def _wait_for(cond: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(cond) and cond():
            return True
        await asyncio.sleep(0.01)
    return False


def test_on_book_state_hears_live_then_a_resync_and_the_context_agrees(tmp_path: Path) -> None:
    (tmp_path / "watcher.py").write_text(PLUGIN)
    heard: list[tuple[str, str, str, str]] = []

    async def main() -> None:
        async with session(["binance_spot", "okx"], tmp_path / "j.sqlite", str(tmp_path / "watcher.py")) as s:
            host = s.host
            got = host.strategy.heard  # type: ignore[attr-defined]
            live = {("binance_spot", "BTC/USDT", "LIVE", "LIVE"), ("okx", "BTC/USDT", "LIVE", "LIVE")}
            assert await _wait_for(lambda: live <= set(got), 2.0), got
            assert host.context.book_state("okx", "BTC/USDT") == "LIVE"
            # okx drops every connection and answers the resubscription's snapshot 0.3 s late:
            # its book resyncs (SYNCING for at least that long), then is LIVE again
            sim = s.sim_venues["okx"]
            sim.inject(Fault.SLOW_SNAPSHOT, seconds=0.3)
            sim.inject(Fault.DISCONNECT)
            n = len(got)
            okx_after = lambda: [st for v, _, st, _ in got[n:] if v == "okx"]  # noqa: E731
            assert await _wait_for(lambda: okx_after()[-1:] == ["LIVE"], 5.0), got[n:]
            assert okx_after()[0] == "SYNCING", got[n:]
            assert all(st == seen for _, _, st, seen in got), got  # the context said what the hook heard
            assert not host.stopped
        heard.extend(got)

    uvloop.run(main())
    # only changes: never the same state twice in a row for one book
    for venue in ("binance_spot", "okx"):
        states = [st for v, _, st, _ in heard if v == venue]
        assert all(a != b for a, b in itertools.pairwise(states)), (venue, states)
