"""The garbage collector kept off the ticket's path (``arbcore.runner.gc_pacer``): frozen start
heap, collections only from the polling loop with ``[run] busy_poll``, the process's collector
given back as it was at stop."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from arbcore.runner.gc_pacer import GcPacer
from engine_helpers import session


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """Each test leaves the process's collector as it found it, even when it fails."""
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_paced_collects_only_when_polled_and_as_cpython_would() -> None:
    gc.set_threshold(100, 2, 2)
    now = [0.0]
    p = GcPacer(full_every_s=10, clock=lambda: now[0])
    p.start(paced=True)
    assert not gc.isenabled() and gc.get_freeze_count() > 0
    # garbage cycles beyond the threshold: nothing collects them until poll
    for _ in range(300):
        Cycle()
    assert gc.get_count()[0] > 100
    assert p.poll() == 0 and gc.get_count()[0] < 100
    assert p.poll() == -1  # nothing due
    # generations as CPython picks them: a middle one once three young ones ran (count > 2), ...
    gens = []
    for _ in range(12):
        for _ in range(150):
            Cycle()
        gens.append(p.poll())
    assert gens[:3] == [0, 0, 1] and 2 not in gens, gens  # a full one is due, but not 10 s after the start
    # meanwhile young and middle ones as before, not a middle one each time
    assert gens == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0], gens
    now[0] = 10.0
    for _ in range(12):
        for _ in range(150):
            Cycle()
        gens.append(p.poll())
    assert gens[12:].count(2) == 1, gens  # then one, and none again within 10 s
    assert p.collections == [gens.count(0) + 1, gens.count(1), gens.count(2)]
    p.stop()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_unpaced_freezes_and_leaves_automatic_collection_on() -> None:
    p = GcPacer()
    p.start(paced=False)
    assert gc.isenabled() and gc.get_freeze_count() > 0
    assert p.poll() == -1
    p.stop()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_stop_keeps_a_collector_that_was_off_off() -> None:
    gc.disable()
    p = GcPacer()
    p.start(paced=True)
    p.stop()
    assert not gc.isenabled()


@pytest.mark.parametrize("busy_poll", [False, True])
def test_a_session_paces_the_collector_with_busy_poll(busy_poll: bool, tmp_path: Path) -> None:
    """With busy_poll the engine's loop collects (automatic collection off while it runs); without
    it CPython does; either way the start's heap is frozen and the collector is back at stop."""
    seen: dict[str, object] = {}

    async def main() -> None:
        run = f"busy_poll = {str(busy_poll).lower()}\n"
        async with session(["binance_spot", "okx"], tmp_path / "j.sqlite", auto_trade=True, run=run) as s:
            seen["enabled"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
            garbage = gc.get_threshold()[0] * 3
            for _ in range(garbage):
                Cycle()
            await asyncio.sleep(0.05)
            seen["collections"] = sum(s.gc.collections)

    uvloop.run(main())
    assert seen["enabled"] is not busy_poll and isinstance(seen["frozen"], int) and seen["frozen"] > 1000
    assert (seen["collections"] > 0) == busy_poll, seen
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_busy_poll_that_ends_gives_collection_back_to_cpython(tmp_path: Path) -> None:
    """The polling loop gone while the session runs (here: its task cancelled): automatic
    collection is on again, so garbage cycles do not pile up with nothing to collect them."""
    seen: dict[str, bool] = {}

    async def main() -> None:
        run = "busy_poll = true\n"
        async with session(["binance_spot", "okx"], tmp_path / "j.sqlite", auto_trade=True, run=run) as s:
            seen["paced"] = not gc.isenabled() and s.gc.paced
            poll = next(t for t in s._feed_tasks if "busy_poll" in repr(t.get_coro()))
            poll.cancel()
            await asyncio.sleep(0.01)
            seen["released"] = gc.isenabled() and not s.gc.paced

    uvloop.run(main())
    assert seen == {"paced": True, "released": True}, seen
