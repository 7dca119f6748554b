"""The consolidated view: best bid/ask across LIVE venues, raw and net of taker fee; merged depth."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

import numpy as np
import pytest

from arbcore import ASK, BID, BROKEN, FEE_SCALE, LIVE, STALE, SYNCING, ConsolidatedBook
from conftest import levels, make_btc_book

ONE = 100_000_000  # 1 BTC raw at qty_decimals 8
FEES = {"a": "10bps", "b": "5bps", "c": "0.0015"}


@pytest.fixture
def book() -> ConsolidatedBook:
    """a, b, c with taker fees 10, 5 and 15 bps and one-level books.

    bids: a 100.00 x1, b 100.04 x2, c 100.05 x3; asks: a 101.00 x1, b 101.02 x2, c 100.99 x3.
    """
    b = make_btc_book([])
    for name, fee in FEES.items():
        b.add_venue(name, symbol="BTCUSDT", tick_size="0.01", lot_size="0.0001", taker_fee=fee)
    b.apply_snapshot("a", levels(b, [("100.00", "1")]), levels(b, [("101.00", "1")]))
    b.apply_snapshot("b", levels(b, [("100.04", "2")]), levels(b, [("101.02", "2")]))
    b.apply_snapshot("c", levels(b, [("100.05", "3")]), levels(b, [("100.99", "3")]))
    return b


def test_raw_best(book: ConsolidatedBook) -> None:
    assert book.consolidated_bid() == (2, 10_005, 3 * ONE)
    assert book.consolidated_ask() == (2, 10_099, 3 * ONE)
    assert book.consolidated_bid(net=False) == book.consolidated_bid()


def test_net_best_by_hand(book: ConsolidatedBook) -> None:
    # bid net of fee, floored to the price scale:
    #   a 10000 * 0.999 = 9990, b 10004 * 0.9995 = 9998.998 -> 9998, c 10005 * 0.9985 = 9989.9925 -> 9989
    assert book.consolidated_bid(net=True) == (1, 9_998, 2 * ONE)
    # ask including fee, rounded up:
    #   a 10100 * 1.001 = 10110.1 -> 10111, b 10102 * 1.0005 = 10107.051 -> 10108,
    #   c 10099 * 1.0015 = 10114.1485 -> 10115
    assert book.consolidated_ask(net=True) == (1, 10_108, 2 * ONE)


def test_net_best_matches_fractions(book: ConsolidatedBook) -> None:
    fee = {"a": Fraction(1, 1000), "b": Fraction(5, 10_000), "c": Fraction(15, 10_000)}
    bid_net = {v: floor(book.best_bid(v)[0] * (1 - f)) for v, f in fee.items()}
    ask_net = {v: ceil(book.best_ask(v)[0] * (1 + f)) for v, f in fee.items()}
    assert bid_net == {"a": 9_990, "b": 9_998, "c": 9_989}
    assert ask_net == {"a": 10_111, "b": 10_108, "c": 10_115}
    assert FEE_SCALE == 10**8


def test_broken_and_stale_excluded(book: ConsolidatedBook) -> None:
    book.set_state("b", BROKEN)
    assert book.consolidated_bid(net=True) == (0, 9_990, ONE)
    assert book.consolidated_ask(net=True) == (0, 10_111, ONE)
    assert book.consolidated_bid() == (2, 10_005, 3 * ONE)
    book.set_state("c", STALE)
    assert book.consolidated_bid() == (0, 10_000, ONE)
    assert book.consolidated_ask() == (0, 10_100, ONE)
    book.set_state("a", SYNCING)
    assert book.consolidated_bid() is None
    assert book.consolidated_ask() is None
    assert book.consolidated_bid(net=True) is None
    assert book.consolidated_ask(net=True) is None
    assert book.merged_depth(BID, 5).shape == (0, 2)
    # a real crossing delta breaks the venue the same way
    book.set_state("a", LIVE)
    book.apply_delta("a", BID, 10_100, 1)
    assert book.state("a") == BROKEN
    assert book.consolidated_bid() is None


def test_syncing_book_with_levels_is_excluded() -> None:
    b = make_btc_book(["a", "b"])
    b.apply_delta("a", BID, 10_000, 5)  # deltas before any snapshot: SYNCING
    b.apply_snapshot("b", [(9_000, 1)], [(9_100, 1)])
    assert b.consolidated_bid() == (1, 9_000, 1)
    assert b.merged_depth(BID, 5).tolist() == [[9_000, 1]]


def test_ties() -> None:
    b = make_btc_book(["a", "b", "c"])
    b.apply_snapshot("a", [(100, 5)], [(200, 5)])
    b.apply_snapshot("b", [(100, 7)], [(200, 7)])
    b.apply_snapshot("c", [(100, 7)], [(200, 7)])
    # raw: same price -> larger quantity, then lower index
    assert b.consolidated_bid() == (1, 100, 7)
    assert b.consolidated_ask() == (1, 200, 7)
    # net (same fees): equal net price -> lower index
    assert b.consolidated_bid(net=True) == (0, 100, 5)
    assert b.consolidated_ask(net=True) == (0, 200, 5)


def test_merged_depth(book: ConsolidatedBook) -> None:
    b = book
    b.apply_delta("a", BID, "99", "1")
    b.apply_delta("b", BID, "100.00", "5")
    b.apply_delta("c", BID, "99", "0.5")
    b.apply_delta("a", ASK, "101.02", "0.25")
    d = b.merged_depth(BID, 10)
    assert d.dtype == np.uint64
    assert d.tolist() == [[10_005, 3 * ONE], [10_004, 2 * ONE], [10_000, 6 * ONE], [9_900, ONE + ONE // 2]]
    assert b.merged_depth(BID, 3).tolist() == d[:3].tolist()
    assert b.merged_depth(BID, 0).shape == (0, 2)
    assert b.merged_depth(ASK, 10).tolist() == [
        [10_099, 3 * ONE],
        [10_100, ONE],
        [10_102, 2 * ONE + ONE // 4],
    ]
    assert b.merged_depth(ASK, 2).tolist() == [[10_099, 3 * ONE], [10_100, ONE]]
    b.set_state("b", BROKEN)
    assert b.merged_depth(BID, 10).tolist() == [[10_005, 3 * ONE], [10_000, ONE], [9_900, ONE + ONE // 2]]
    assert b.merged_depth(ASK, 10).tolist() == [[10_099, 3 * ONE], [10_100, ONE], [10_102, ONE // 4]]
    assert b.check_stale(10**12, 1) == [0, 2]
    assert b.merged_depth(ASK, 10).shape == (0, 2)


def test_merged_depth_matches_reference() -> None:
    rng = np.random.default_rng(5)
    b = make_btc_book([f"v{i}" for i in range(5)])
    expected: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
    for v in range(5):
        bp = rng.choice(np.arange(900, 1000), size=30, replace=False)
        ap = rng.choice(np.arange(1000, 1100), size=30, replace=False)
        bq = rng.integers(1, 1000, size=30)
        aq = rng.integers(1, 1000, size=30)
        b.apply_snapshot(
            v,
            list(zip(bp.tolist(), bq.tolist(), strict=True)),
            list(zip(ap.tolist(), aq.tolist(), strict=True)),
        )
        if v == 3:
            b.set_state(v, BROKEN)
            continue
        for p, q in zip(bp.tolist(), bq.tolist(), strict=True):
            expected[BID][p] = expected[BID].get(p, 0) + q
        for p, q in zip(ap.tolist(), aq.tolist(), strict=True):
            expected[ASK][p] = expected[ASK].get(p, 0) + q
    for n in (1, 7, 40, 500):
        want_bid = sorted(expected[BID].items(), reverse=True)[:n]
        want_ask = sorted(expected[ASK].items())[:n]
        assert b.merged_depth(BID, n).tolist() == [list(x) for x in want_bid]
        assert b.merged_depth(ASK, n).tolist() == [list(x) for x in want_ask]
