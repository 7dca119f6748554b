"""Order entry: ``place()`` up to the socket write, for the two venues of the e2e bench
(binance_spot over the WS API, okx over its private WS), against the in-repo simulators on
loopback (`arbcore.sim.orders.rig.OrderRig`: a real client, a real socket, a real venue).

Timed: what the engine does for one leg (``Executor.send`` -> ``start_now(client.place(...))``,
execution/eager.py): the first step of ``place()``, from the call until the coroutine first
suspends to wait for its reply. On an open connection with room in the limits that step builds
the request, draws on the rate limiter, signs (Binance), encodes, writes the frame to the socket
(``transport.send``, the write syscall included) and arms the reply timer. Not timed: the reply.

Between rounds (untimed): the previous order's reply is awaited, then the loop idles ``gap_s``.
With 5 ms, as in the e2e bench (one ticket every ~5 ms), the caches are cold-ish when the order
goes, and that is most of the cost; ``gap_s=0`` is the same path back to back.

Orders are IOC buys 200.00 under the bid: they expire at once, nothing fills, balances stay.
Rate limits: each client's own preset, on a clock that advances 0.2 s per reading, so the whole
admission path runs (windows filling and expiring) but never makes an order wait; the venue's
real numbers would stop this bench after 100 (Binance) or 60 (OKX) orders.

The loop does not run while an order is timed: the target marks it as the running loop for the
call (what ``asyncio.get_running_loop`` reads), as it is inside the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from arbcore.execution.eager import start_now
from arbcore.execution.orders import OrderState, Side
from arbcore.execution.records import OrderIntent
from arbcore.sim.orders.rig import OrderRig
from arbcore.venues import ratelimit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_order_clients import intent

ROUNDS = 400
WARMUP = 20
_seq = itertools.count(1)


def _ticking(step_s: float) -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: next(ticks) * step_s


def _intent(rig: OrderRig, price: int) -> OrderIntent:
    it = intent(rig, Side.BUY, 10_000, price, ticket=f"bench{next(_seq)}-{time.time_ns()}")
    it.client_order_id  # noqa: B018 -- derived when the engine journals the intent, before place()
    return it


class PlaceBench:
    """One rig on its own loop; ``setup`` and ``place`` are pytest-benchmark's setup and target."""

    def __init__(self, venue: str, gap_s: float) -> None:
        self.loop = uvloop.new_event_loop()
        self.rig = OrderRig(venue)
        self.gap_s = gap_s
        self.task: asyncio.Task[Any] | None = None
        self.loop.run_until_complete(self.rig.start())
        client: Any = self.rig.client
        preset = ratelimit.binance_spot if venue == "binance_spot" else ratelimit.okx
        client.limiter = preset(clock=_ticking(0.2))
        bid = self.rig.venue.instruments[self.rig.symbol].process.book.best_bid()
        assert bid is not None
        self.price = bid - 20_000
        self.placed = 0
        self.states: list[OrderState] = []

    async def _between(self) -> None:
        if self.task is not None:
            report = await self.task
            self.states.append(report.state)
            self.task = None
        await asyncio.sleep(self.gap_s)

    def setup(self) -> tuple[tuple[OrderIntent], dict[str, Any]]:
        self.loop.run_until_complete(self._between())
        self.placed += 1  # (one timed place() follows each setup: counted here, out of the timed call)
        return (_intent(self.rig, self.price),), {}

    def place(self, intent: OrderIntent) -> None:
        asyncio._set_running_loop(self.loop)
        try:
            self.task = start_now(self.rig.client.place(intent, timeout=5.0))
        finally:
            asyncio._set_running_loop(None)

    def close(self) -> None:
        self.loop.run_until_complete(self._between())
        self.loop.run_until_complete(self.rig.stop())
        self.loop.close()


@pytest.fixture
def place_bench(request: pytest.FixtureRequest) -> Iterator[Callable[[str, float], PlaceBench]]:
    made: list[PlaceBench] = []

    def make(venue: str, gap_s: float) -> PlaceBench:
        made.append(PlaceBench(venue, gap_s))
        return made[-1]

    yield make
    for b in made:
        b.close()


@pytest.mark.parametrize("gap_s", [0.005, 0.0], ids=["idle5ms", "back_to_back"])
@pytest.mark.parametrize("venue", ["binance_spot", "okx"])
def test_order_place_to_wire(
    benchmark: Any, place_bench: Callable[[str, float], PlaceBench], venue: str, gap_s: float
) -> None:
    b = place_bench(venue, gap_s)
    benchmark.pedantic(b.place, setup=b.setup, rounds=ROUNDS, warmup_rounds=WARMUP, iterations=1)
    b.loop.run_until_complete(b._between())
    # every order reached the venue and was answered (IOC under the bid: expired or acked, then expired);
    # counted, not ROUNDS + WARMUP: with the benchmark disabled (pytest's default here) pedantic places one
    assert b.placed and len(b.states) == b.placed
    assert set(b.states) <= {OrderState.EXPIRED, OrderState.ACKED}, set(b.states)
    benchmark.extra_info.update(
        workload="order_place",
        venue=venue,
        gap_s=gap_s,
        path="place() first step: request built, limiter, signed, on the socket, reply timer armed",
    )
