"""The pure-Python baseline: an L2 book on `sortedcontainers.SortedDict`, the usual way a
Python trading script keeps a book. Measured in the same run as arbcore."""

from __future__ import annotations

from sortedcontainers import SortedDict


class SortedDictBook:
    def __init__(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        # bids keyed by negated price so index 0 is the best on both sides
        self.bids: SortedDict = SortedDict({-p: q for p, q in bids if q})
        self.asks: SortedDict = SortedDict({p: q for p, q in asks if q})

    def apply(self, side: int, price: int, qty: int) -> None:
        levels, key = (self.bids, -price) if side == 0 else (self.asks, price)
        if qty == 0:
            levels.pop(key, None)
        else:
            levels[key] = qty

    def best_bid(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        k, q = self.bids.peekitem(0)
        return -k, q

    def best_ask(self) -> tuple[int, int] | None:
        if not self.asks:
            return None
        k, q = self.asks.peekitem(0)
        return k, q

    def top(self, n: int = 10) -> tuple[list[list[int]], list[list[int]]]:
        bids = [[-k, self.bids[k]] for k in self.bids.islice(0, n)]
        asks = [[k, self.asks[k]] for k in self.asks.islice(0, n)]
        return bids, asks
