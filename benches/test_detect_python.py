"""Detection cost seen from Python: five venues, a top-of-book change, then opportunities().

The Rust-only figure (no Python call) is in benches/detect.rs; this one includes the PyO3 call
and the numpy record array, i.e. what a strategy script pays per refresh.
"""

from __future__ import annotations

from typing import Any

import arbcore

FEES = ("10bps", "7.5bps", "5bps", "10bps", "2bps")
CHANGES = 2000


def five_venue_book() -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=8)
    for i, fee in enumerate(FEES):
        name = f"v{i}"
        book.add_venue(name, symbol="BTCUSDT", tick_size="0.01", lot_size="0.00001", min_notional="5", taker_fee=fee)
        book.set_balance(name, "USDT", "1000000")
        book.set_balance(name, "BTC", "20")
        # 100 levels each, venues' mids a few ticks apart: tops do not cross after fees
        mid = 6_000_000 + 3 * i
        bids = [(mid - 1 - k, 10_000_000) for k in range(100)]
        asks = [(mid + 1 + k, 10_000_000) for k in range(100)]
        book.apply_snapshot(name, bids, asks, seq=1)
    return book


def test_refresh_after_top_change_no_cross(benchmark: Any) -> None:
    book = five_venue_book()
    assert len(book.detect()) == 0

    def run() -> int:
        found = 0
        for k in range(CHANGES):
            book.apply_delta(0, arbcore.BID, 5_999_999, 10_000_000 + (k & 1))
            found += len(book.opportunities())
        return found

    assert benchmark.pedantic(run, rounds=5, iterations=1) == 0
    benchmark.extra_info.update(deltas=CHANGES, role="arbcore", path="delta + opportunities(), no cross, 5 venues")


def test_refresh_after_top_change_crossing(benchmark: Any) -> None:
    book = five_venue_book()
    # venue 0's bid 0.5% above the others' asks: 4 crossing pairs after every change
    cross = 6_030_000

    def run() -> int:
        found = 0
        for k in range(CHANGES):
            book.apply_delta(0, arbcore.BID, cross, 10_000_000 + (k & 1))
            found += len(book.opportunities())
        return found

    book.apply_delta(0, arbcore.ASK, 6_040_000, 10_000_000)
    for p in range(6_000_001, 6_000_101):
        book.apply_delta(0, arbcore.ASK, p, 0)
    assert benchmark.pedantic(run, rounds=5, iterations=1) == 4 * CHANGES
    benchmark.extra_info.update(deltas=CHANGES, role="arbcore", path="delta + opportunities(), 4 crossing pairs")
