"""The simulator's true book and the seeded processes that move it.

Prices and quantities are raw integers at the instrument's scales, the same scales the engine's
books use, so a test compares the engine's book with the simulator's truth level by level.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

Level = tuple[int, int]
Delta = tuple[int, int, int]  # (side 0 bid / 1 ask, price, qty; 0 deletes)


@dataclass
class TrueBook:
    """An exact L2 book: dict per side, sorted on demand (the simulator is not the hot path)."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def apply(self, side: int, price: int, qty: int) -> None:
        levels = self.bids if side == 0 else self.asks
        if qty == 0:
            levels.pop(price, None)
        else:
            levels[price] = qty

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks

    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None


class VenueBookProcess:
    """One venue's book for one instrument around its own mid.

    Each step sets or deletes a few levels near the touch (about a quarter deletions), keeps at
    most `depth` levels per side (emitting the deletes), and never crosses: when the mid moves,
    the levels it passes are deleted first.
    """

    def __init__(self, rng: random.Random, mid: int, tick: int, lot: int, depth: int) -> None:
        self.rng = rng
        self.tick = tick
        self.lot = lot
        self.depth = depth
        self.mid = self._on_tick(mid)
        self.book = TrueBook()
        for i in range(1, depth + 1):
            if self.mid - i * tick > 0:  # a mid fewer than `depth` ticks above zero: no bid at or below 0
                self.book.apply(0, self.mid - i * tick, self._qty())
            self.book.apply(1, self.mid + i * tick, self._qty())

    def _on_tick(self, price: int) -> int:
        return max(self.tick, price - price % self.tick)

    def _qty(self) -> int:
        return self.lot * self.rng.randint(1, 500)

    def move_to(self, mid: int, out: list[Delta]) -> None:
        self.mid = self._on_tick(mid)
        for p in [p for p in self.book.bids if p >= self.mid]:
            self.book.apply(0, p, 0)
            out.append((0, p, 0))
        for p in [p for p in self.book.asks if p <= self.mid]:
            self.book.apply(1, p, 0)
            out.append((1, p, 0))

    def step(self, n: int) -> list[Delta]:
        out: list[Delta] = []
        for _ in range(n):
            side = self.rng.randint(0, 1)
            levels = self.book.bids if side == 0 else self.book.asks
            if levels and self.rng.random() < 0.25:
                near = sorted(levels, key=lambda p: -p if side == 0 else p)[:10]
                price = self.rng.choice(near)
                qty = 0
            else:
                dist = self.rng.randint(1, 20) * self.tick
                price = self.mid - dist if side == 0 else self.mid + dist
                if price <= 0:
                    continue
                qty = self._qty()
            self.book.apply(side, price, qty)
            out.append((side, price, qty))
        self._trim(out)
        return out

    def _trim(self, out: list[Delta]) -> None:
        for side, levels in ((0, self.book.bids), (1, self.book.asks)):
            if len(levels) > self.depth:
                ordered = sorted(levels, key=lambda p: -p if side == 0 else p)
                for p in ordered[self.depth :]:
                    levels.pop(p)
                    out.append((side, p, 0))


class MidProcess:
    """A common seeded random-walk mid with per-venue noise and lag, so cross-venue spreads open
    and close as they do between real venues."""

    def __init__(
        self,
        rng: random.Random,
        start: int,
        step: int,
        venues: int,
        lag: list[int],
        *,
        noise: float | None = None,
        jump: float | None = None,
    ) -> None:
        self.rng = rng
        self.history = [start]
        self.step_size = step
        self.lag = lag
        self.noise = [0.0] * venues
        self.noise_sd = noise if noise is not None else float(step)  # raw price units
        self.jump = jump if jump is not None else float(step * 40)

    def advance(self) -> None:
        self.history.append(self.history[-1] + self.rng.randint(-2, 2) * self.step_size)
        if len(self.history) > 1000:
            del self.history[:500]
        for v in range(len(self.noise)):
            jump = self.jump if self.rng.random() < 0.02 else 0.0
            self.noise[v] = 0.8 * self.noise[v] + self.rng.gauss(0, self.noise_sd) + self.rng.choice((-1, 1)) * jump

    def venue_mid(self, v: int) -> int:
        lagged = self.history[max(0, len(self.history) - 1 - self.lag[v])]
        return int(lagged + self.noise[v])
