"""Shared workload for the Python benchmarks: one seeded stream, the same for every contender.

The stream comes from the Rust generator (`arbcore.synthetic_stream`, rust/synth.rs), so the
criterion benches and these measure the same deltas: a 1,000-level snapshot per side, 1M
deltas, ~90% within 50 ticks of the touch, ~25% deletions, a slowly walking mid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

import arbcore

N_DELTAS = int(os.environ.get("ARBCORE_BENCH_DELTAS", "1000000"))
DEPTH = 1000
SEED = 42


@dataclass(frozen=True)
class Stream:
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    sides: npt.NDArray[np.uint8]
    prices: npt.NDArray[np.uint64]
    qtys: npt.NDArray[np.uint64]
    side_list: list[int]
    price_list: list[int]
    qty_list: list[int]

    @property
    def n(self) -> int:
        return len(self.side_list)


@pytest.fixture(scope="session")
def stream() -> Stream:
    s = arbcore.synthetic_stream(SEED, DEPTH, N_DELTAS)
    bids = list(zip(s["bid_prices"].tolist(), s["bid_qtys"].tolist(), strict=True))
    asks = list(zip(s["ask_prices"].tolist(), s["ask_qtys"].tolist(), strict=True))
    sides = np.ascontiguousarray(s["sides"], dtype=np.uint8)
    prices = np.ascontiguousarray(s["prices"], dtype=np.uint64)
    qtys = np.ascontiguousarray(s["qtys"], dtype=np.uint64)
    return Stream(bids, asks, sides, prices, qtys, sides.tolist(), prices.tolist(), qtys.tolist())


def new_arbcore_book(stream: Stream) -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=8)
    book.add_venue("bench", symbol="BTCUSDT", tick_size="0.01", lot_size="0.00000001")
    book.apply_snapshot(0, stream.bids, stream.asks)
    return book


def arbcore_top(book: arbcore.ConsolidatedBook, n: int = 10) -> tuple[list[list[int]], list[list[int]]]:
    return book.depth(0, arbcore.BID, n).tolist(), book.depth(0, arbcore.ASK, n).tolist()
