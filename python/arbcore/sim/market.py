"""Several simulated venues quoting the same instruments around shared seeded mids.

Each instrument has one random-walk mid; every venue follows it with its own lag and noise
(`MidProcess`), so cross-venue spreads open and close as they do between real venues.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable, Hashable, Sequence

from arbcore.sim.book import MidProcess
from arbcore.sim.server import SimInstrument, SimProtocol, SimVenue


class SimMarket:
    def __init__(
        self,
        venues: list[tuple[SimProtocol, list[SimInstrument]]],
        *,
        seed: int = 1,
        interval: float = 0.01,
        lags: list[int] | None = None,
        jump_bps: float = 3.0,
        mid_keys: Sequence[Sequence[Hashable]] | None = None,
    ) -> None:
        rng = random.Random(seed)
        self.interval = interval
        lags = lags or [v * 2 for v in range(len(venues))]
        # instrument i of every venue shares mid i (venues name the same instrument differently);
        # with ``mid_keys`` (one key per instrument of each venue), instruments of one key share
        # a mid: venues that list different instruments
        self.mids: list[MidProcess] = []
        by_key: dict[Hashable, MidProcess] = {}
        self.venues: list[SimVenue] = []
        for v, (protocol, instruments) in enumerate(venues):
            fns: dict[str, Callable[[], int]] = {}
            keys = range(len(instruments)) if mid_keys is None else mid_keys[v]
            for inst, key in zip(instruments, keys, strict=True):
                mp = by_key.get(key)
                if mp is None:
                    # venue noise ~0.5 bps of the price, rare dislocations of ~`jump_bps`
                    mp = by_key[key] = MidProcess(
                        random.Random(rng.random()),
                        inst.mid,
                        inst.tick,
                        len(venues),
                        lags,
                        noise=inst.mid * 0.5e-4,
                        jump=inst.mid * jump_bps * 1e-4,
                    )
                    self.mids.append(mp)
                fns[inst.symbol] = functools.partial(mp.venue_mid, v)
            self.venues.append(
                SimVenue(protocol, instruments, seed=rng.randint(1, 1 << 30), interval=interval, mid_fns=fns)
            )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for v in self.venues:
            await v.start()
        self._task = asyncio.get_running_loop().create_task(self._advance())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for v in self.venues:
            await v.stop()

    async def _advance(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for mp in self.mids:
                mp.advance()
