"""One venue's book through ``ConsolidatedBook``: snapshots, deltas, depth, states, stamps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arbcore
from arbcore import ASK, BID, BROKEN, LIVE, STALE, SYNCING, ConsolidatedBook
from conftest import add_venue, make_btc_book

Level = tuple[int, int]


# --- construction and venues --------------------------------------------------------------------


def test_instrument_properties() -> None:
    book = ConsolidatedBook("BTC/USDT", 2, 8, instrument_id=9)
    assert book.instrument == "BTC/USDT"
    assert (book.base, book.quote, book.instrument_id) == ("BTC", "USDT", 9)
    assert (book.price_decimals, book.qty_decimals, book.notional_decimals) == (2, 8, 10)
    assert book.venues == []
    assert len(book) == 0
    assert ConsolidatedBook("ETH/BTC", 6, 4).instrument_id == 0


def test_add_venue_and_lookup() -> None:
    book = ConsolidatedBook("BTC/USDT", 2, 8)
    assert add_venue(book, "binance") == 0
    i = book.add_venue(
        "kraken",
        symbol="XBT/USDT",
        tick_size="0.1",
        lot_size="0.0001",
        min_qty="0.0002",
        min_notional="5.5",
        taker_fee="26bps",
        maker_fee="-0.5bps",
    )
    assert i == 1
    assert book.venues == ["binance", "kraken"]
    assert len(book) == 2
    assert book.venue_index("kraken") == 1
    assert book.venue_index(1) == 1
    assert book.venue_index("binance") == 0
    assert book.venue_spec("kraken") == {
        "name": "kraken",
        "symbol": "XBT/USDT",
        "tick_size": "0.1",
        "lot_size": "0.0001",
        "min_qty": "0.0002",
        "min_notional": "5.5",
        "taker_fee": "0.0026",
        "maker_fee": "-0.00005",
    }
    assert book.venue_spec(1) == book.venue_spec("kraken")
    assert book.venue_spec(0)["taker_fee"] == "0"
    assert "binance=SYNCING" in repr(book)
    assert "kraken=SYNCING" in repr(book)


@pytest.mark.parametrize(("fee", "text"), [("0.001", "0.001"), ("10bps", "0.001"), ("7.5bps", "0.00075")])
def test_fee_forms(fee: str, text: str) -> None:
    book = ConsolidatedBook("BTC/USDT", 2, 8)
    add_venue(book, "v", taker_fee=fee)
    assert book.venue_spec("v")["taker_fee"] == text


def test_balances_round_trip() -> None:
    book = make_btc_book(["a", "b"], fund=False)
    assert book.balance("a", "BTC") == "0"
    assert book.balance("a", "USDT") == "0"
    book.set_balance("a", "BTC", "1.23456789")
    book.set_balance(1, "USDT", "250000.0000000001")
    assert book.balance(0, "BTC") == "1.23456789"
    assert book.balance("b", "USDT") == "250000.0000000001"
    assert book.balance("b", "BTC") == "0"


# --- snapshots, deltas, depth -------------------------------------------------------------------


def test_fresh_book_is_empty_and_syncing(btc_book: ConsolidatedBook) -> None:
    assert btc_book.state("a") == SYNCING
    assert btc_book.state_name("a") == "SYNCING"
    assert btc_book.best_bid("a") is None
    assert btc_book.best_ask("a") is None
    assert btc_book.seq("a") == 0
    assert btc_book.timestamps("a") == (0, 0)
    assert btc_book.last_change("a") == ((None, None), (None, None))
    d = btc_book.depth("a", BID, 5)
    assert d.shape == (0, 2)
    assert d.dtype == np.uint64


def test_snapshot(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    bids = [("59999.5", "0.5"), ("60000", "1"), ("59000", "0"), ("59999.5", "0.75")]  # any order
    asks = [(6_000_100, 200_000_000), ("60002.00", "0.00000001")]
    assert b.apply_snapshot("a", bids, asks, seq=11, venue_ts=1_000, recv_ts=1_500) is True
    assert b.state("a") == LIVE
    assert b.state_name("a") == "LIVE"
    # repeated price keeps its last entry, zero quantity dropped, best first
    assert b.depth("a", BID, 10).tolist() == [[6_000_000, 100_000_000], [5_999_950, 75_000_000]]
    assert b.depth("a", ASK, 10).tolist() == [[6_000_100, 200_000_000], [6_000_200, 1]]
    assert b.best_bid("a") == (6_000_000, 100_000_000)
    assert b.best_ask("a") == (6_000_100, 200_000_000)
    assert b.seq("a") == 11
    assert b.timestamps("a") == (1_000, 1_500)
    assert b.last_change("a") == ((None, None), ((6_000_000, 100_000_000), (6_000_100, 200_000_000)))
    # the other venues are untouched
    assert b.state("b") == SYNCING
    assert b.best_bid("b") is None


def test_snapshot_replaces_everything(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1), (99, 1)], [(101, 1), (102, 1)])
    assert b.apply_snapshot("a", [(90, 5)], [], seq=2) is True
    assert b.depth("a", BID, 10).tolist() == [[90, 5]]
    assert b.depth("a", ASK, 10).tolist() == []
    assert b.best_ask("a") is None
    assert b.last_change("a") == (((100, 1), (101, 1)), ((90, 5), None))
    # an identical snapshot does not move the top
    assert b.apply_snapshot("a", [(90, 5)], [], seq=3) is False
    assert b.seq("a") == 3
    # snapshot with only default stamps resets them
    b.apply_snapshot("a", [], [])
    assert (b.seq("a"), b.timestamps("a")) == (0, (0, 0))


def test_depth_shapes(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100 - i, i + 1) for i in range(20)], [(200 + i, 7) for i in range(3)])
    d = b.depth("a", BID, 5)
    assert d.shape == (5, 2)
    assert d.dtype == np.uint64
    assert d.tolist() == [[100 - i, i + 1] for i in range(5)]
    assert b.depth("a", ASK, 100).shape == (3, 2)
    assert b.depth("a", ASK, 0).shape == (0, 2)
    assert b.depth("a", BID, 1000).shape == (20, 2)


def test_delta_semantics(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [("100", "1"), ("99", "2")], [("101", "3")], seq=1)
    # absolute quantity at an existing level, below the top: top unchanged
    assert b.apply_delta("a", BID, "99", "5") is False
    assert b.depth("a", BID, 5).tolist() == [[10_000, 100_000_000], [9_900, 500_000_000]]
    # new level that becomes the best bid
    assert b.apply_delta("a", BID, "100.5", "0.1") is True
    assert b.best_bid("a") == (10_050, 10_000_000)
    assert b.last_change("a") == (
        ((10_000, 100_000_000), (10_100, 300_000_000)),
        ((10_050, 10_000_000), (10_100, 300_000_000)),
    )
    # quantity change at the top is a top change
    assert b.apply_delta("a", ASK, 10_100, 1) is True
    assert b.best_ask("a") == (10_100, 1)
    # 0 deletes
    assert b.apply_delta("a", BID, "100.5", "0") is True
    assert b.best_bid("a") == (10_000, 100_000_000)
    # deleting an unknown level is fine and changes nothing
    before = b.depth("a", BID, 10).tolist(), b.depth("a", ASK, 10).tolist()
    assert b.apply_delta("a", BID, "42", "0") is False
    assert b.apply_delta("a", ASK, 999_999, 0) is False
    assert (b.depth("a", BID, 10).tolist(), b.depth("a", ASK, 10).tolist()) == before
    assert b.last_change("a") == (((10_000, 100_000_000), (10_100, 1)), ((10_000, 100_000_000), (10_100, 1)))
    # deleting the last ask empties that side
    assert b.apply_delta("a", ASK, 10_100, 0) is True
    assert b.best_ask("a") is None
    assert b.state("a") == LIVE


def test_delta_stamps(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1)], [(101, 1)], seq=5, venue_ts=50, recv_ts=55)
    b.apply_delta("a", BID, 99, 1)  # no stamp given: stamps kept
    assert (b.seq("a"), b.timestamps("a")) == (5, (50, 55))
    b.apply_delta("a", BID, 98, 1, seq=6)  # only seq: timestamps kept
    assert (b.seq("a"), b.timestamps("a")) == (6, (50, 55))
    b.apply_delta("a", BID, 97, 1, recv_ts=70)
    assert (b.seq("a"), b.timestamps("a")) == (6, (50, 70))
    b.apply_delta("a", BID, 96, 1, seq=7, venue_ts=80, recv_ts=90)
    assert (b.seq("a"), b.timestamps("a")) == (7, (80, 90))
    z = np.zeros(0, np.uint64)
    b.apply_deltas("a", np.zeros(0, np.uint8), z, z, seq=8, venue_ts=-1, recv_ts=100)
    assert (b.seq("a"), b.timestamps("a")) == (8, (-1, 100))
    b.apply_deltas("a", np.zeros(0, np.uint8), z, z)
    assert (b.seq("a"), b.timestamps("a")) == (8, (-1, 100))


def test_apply_deltas_batch(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1)], [(101, 1)])
    sides = np.array([BID, ASK, BID, BID], np.uint8)
    prices = np.array([100, 105, 99, 100], np.uint64)
    qtys = np.array([0, 4, 3, 9], np.int64)
    assert b.apply_deltas("a", sides, prices, qtys, seq=2) is True
    assert b.depth("a", BID, 10).tolist() == [[100, 9], [99, 3]]
    assert b.depth("a", ASK, 10).tolist() == [[101, 1], [105, 4]]
    assert b.last_change("a") == (((100, 1), (101, 1)), ((100, 9), (101, 1)))
    # a message whose net effect leaves the top as it was reports no change
    sides = np.array([BID, BID], np.uint8)
    assert b.apply_deltas("a", sides, np.array([100, 100], np.uint64), np.array([1, 9], np.uint64)) is False


def test_crossing_inside_one_message_is_fine(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1)], [(101, 1)])
    # the new bid at 102 crosses the old ask until the ask moves away later in the same message
    sides = np.array([BID, ASK, ASK, BID], np.uint8)
    prices = np.array([102, 103, 101, 100], np.uint64)
    qtys = np.array([1, 1, 0, 0], np.uint64)
    assert b.apply_deltas("a", sides, prices, qtys) is True
    assert b.state("a") == LIVE
    assert b.best_bid("a") == (102, 1)
    assert b.best_ask("a") == (103, 1)


def test_cumulative_qty(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [("100", "1"), ("99", "2"), ("98", "4")], [("101", "1"), ("102", "2"), ("104", "4")])
    one = 100_000_000
    assert b.cumulative_qty("a", BID, "99") == 3 * one
    assert b.cumulative_qty("a", BID, "98.5") == 3 * one
    assert b.cumulative_qty("a", BID, 10_000) == one
    assert b.cumulative_qty("a", BID, "100.01") == 0
    assert b.cumulative_qty("a", BID, 0) == 7 * one
    assert b.cumulative_qty("a", ASK, "102") == 3 * one
    assert b.cumulative_qty("a", ASK, "100.99") == 0
    assert b.cumulative_qty("a", ASK, 2**64 - 1) == 7 * one
    assert b.cumulative_qty("b", ASK, 2**64 - 1) == 0
    # sums beyond u64 are returned exactly
    b.apply_snapshot("b", [(100, 2**64 - 1), (99, 2**64 - 1)], [])
    assert b.cumulative_qty("b", BID, 0) == 2 * (2**64 - 1)


def test_clear(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1)], [(101, 2)], seq=3)
    b.clear("a")
    assert b.state("a") == SYNCING
    assert b.best_bid("a") is None
    assert b.best_ask("a") is None
    assert b.depth("a", BID, 10).shape == (0, 2)
    assert b.last_change("a") == (((100, 1), (101, 2)), (None, None))
    # deltas on a SYNCING book are stored but do not make it LIVE
    b.apply_delta("a", BID, 100, 1)
    assert b.state("a") == SYNCING
    assert b.best_bid("a") == (100, 1)
    b.apply_snapshot("a", [(100, 1)], [(101, 2)])
    assert b.state("a") == LIVE


# --- states ---------------------------------------------------------------------------------------


def test_crossing_delta_breaks_and_snapshot_repairs(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1)], [(101, 1)])
    assert b.apply_delta("a", BID, 101, 1) is True  # bid == ask: crossed
    assert b.state("a") == BROKEN
    assert b.state_name("a") == "BROKEN"
    # un-crossing by deltas does not repair: only a snapshot does
    b.apply_delta("a", BID, 101, 0)
    assert b.state("a") == BROKEN
    b.apply_snapshot("a", [(100, 1)], [(101, 1)])
    assert b.state("a") == LIVE
    # a crossed snapshot is BROKEN at once
    b.apply_snapshot("a", [(102, 1)], [(101, 1)])
    assert b.state("a") == BROKEN


def test_stale_and_back(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot("a", [(100, 1)], [(101, 1)], recv_ts=1_000)
    b.apply_snapshot("b", [(100, 1)], [(101, 1)], recv_ts=1_900)
    b.apply_snapshot("c", [(102, 1)], [(101, 1)], recv_ts=0)  # BROKEN: never marked STALE
    assert b.check_stale(2_000, 1_000) == []  # age exactly max_age is not stale
    assert b.check_stale(2_001, 1_000) == [0]
    assert b.state("a") == STALE
    assert b.state_name("a") == "STALE"
    assert b.check_stale(2_001, 1_000) == []  # already STALE: not reported twice
    assert b.check_stale(10_000, 1_000) == [1]
    assert [b.state(v) for v in range(3)] == [STALE, STALE, BROKEN]
    # the next update brings it back to LIVE, whether or not the top moves
    b.apply_delta("a", BID, 50, 1, recv_ts=10_000)
    assert b.state("a") == LIVE
    z = np.zeros(0, np.uint64)
    b.apply_deltas("b", np.zeros(0, np.uint8), z, z)
    assert b.state("b") == LIVE


def test_set_state(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    for s in (LIVE, STALE, BROKEN, SYNCING):
        b.set_state("a", s)
        assert b.state("a") == s
        assert b.state_name("a") == arbcore.STATE_NAMES[s]
    assert arbcore.STATE_NAMES == {SYNCING: "SYNCING", LIVE: "LIVE", STALE: "STALE", BROKEN: "BROKEN"}
    assert len({SYNCING, LIVE, STALE, BROKEN}) == 4
    assert {BID, ASK} == {0, 1}


def test_venue_by_index_or_name(btc_book: ConsolidatedBook) -> None:
    b = btc_book
    b.apply_snapshot(2, [(100, 1)], [(101, 1)], seq=4)
    b.apply_delta("c", ASK, 102, 5)
    assert b.depth("c", ASK, 5).tolist() == b.depth(2, ASK, 5).tolist() == [[101, 1], [102, 5]]
    for fn in (b.state, b.seq, b.timestamps, b.best_bid, b.best_ask, b.last_change, b.venue_spec):
        assert fn("c") == fn(2)
    assert b.best_bid("a") is None


def test_synthetic_stream_single_and_batched_agree() -> None:
    s = arbcore.synthetic_stream(3, 200, 3_000)
    again = arbcore.synthetic_stream(3, 200, 3_000)
    assert sorted(s) == sorted(again)
    assert all(np.array_equal(s[k], again[k]) for k in s)  # seeded: deterministic
    assert s["sides"].dtype == np.uint8
    assert s["prices"].dtype == np.uint64
    assert len(s["sides"]) == len(s["prices"]) == len(s["qtys"]) == 3_000
    book = ConsolidatedBook("BTC/USDT", 2, 8)
    add_venue(book, "one")
    add_venue(book, "many")
    bids = list(zip(s["bid_prices"].tolist(), s["bid_qtys"].tolist(), strict=True))
    asks = list(zip(s["ask_prices"].tolist(), s["ask_qtys"].tolist(), strict=True))
    for v in ("one", "many"):
        book.apply_snapshot(v, bids, asks)
    assert book.depth("one", BID, 1_000).shape == (200, 2)
    assert book.best_bid("one") == (int(s["bid_prices"][0]), int(s["bid_qtys"][0]))
    for side, p, q in zip(s["sides"].tolist(), s["prices"].tolist(), s["qtys"].tolist(), strict=True):
        book.apply_delta("one", side, p, q)
    book.apply_deltas("many", s["sides"], s["prices"], s["qtys"])
    for side in (BID, ASK):
        assert np.array_equal(book.depth("one", side, 100_000), book.depth("many", side, 100_000))
    assert book.heap_bytes() > 0


# --- property: deltas against a dict reference model --------------------------------------------


def ref_top(model: dict[int, dict[int, int]]) -> tuple[Level | None, Level | None]:
    bid = max(model[BID].items()) if model[BID] else None
    ask = min(model[ASK].items()) if model[ASK] else None
    return bid, ask


def ref_crossed(model: dict[int, dict[int, int]]) -> bool:
    bid, ask = ref_top(model)
    return bid is not None and ask is not None and bid[0] >= ask[0]


def ref_depth(model: dict[int, dict[int, int]], side: int) -> list[list[int]]:
    items = sorted(model[side].items(), reverse=side == BID)
    return [[p, q] for p, q in items]


def ref_set(model: dict[int, dict[int, int]], side: int, price: int, qty: int) -> None:
    if qty == 0:
        model[side].pop(price, None)
    else:
        model[side][price] = qty


PD, QD = 2, 3  # small scales so that decimal strings and raw ints both exercise parsing
_price = st.integers(1, 40)
_qty = st.one_of(st.just(0), st.integers(1, 2_000), st.just(2**64 - 1))
_delta = st.tuples(st.sampled_from([BID, ASK]), _price, _qty, st.booleans())
_level = st.tuples(_price, st.integers(0, 50))


@settings(max_examples=300)
@given(
    bids=st.lists(_level, max_size=12),
    asks=st.lists(_level, max_size=12),
    deltas=st.lists(_delta, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=8),
    int64=st.lists(st.booleans(), min_size=10, max_size=10),
)
def test_deltas_match_reference_model(
    bids: list[Level],
    asks: list[Level],
    deltas: list[tuple[int, int, int, bool]],
    cuts: list[int],
    int64: list[bool],
) -> None:
    book = ConsolidatedBook("X/Y", PD, QD)
    add_venue(book, "single", tick_size="0.01", lot_size="0.001")
    add_venue(book, "batched", tick_size="0.01", lot_size="0.001")

    model: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
    for p, q in bids:
        ref_set(model, BID, p, q)
    for p, q in asks:
        ref_set(model, ASK, p, q)
    for v in ("single", "batched"):
        book.apply_snapshot(v, bids, asks)
    state = BROKEN if ref_crossed(model) else LIVE
    assert book.state("single") == state
    assert book.depth("single", BID, 100).tolist() == ref_depth(model, BID)
    assert book.depth("single", ASK, 100).tolist() == ref_depth(model, ASK)

    # one message per delta, given as decimal strings or raw ints
    for k, (side, p, q, as_text) in enumerate(deltas):
        old = ref_top(model)
        ref_set(model, side, p, q)
        new = ref_top(model)
        if ref_crossed(model):
            state = BROKEN
        if as_text:
            price: int | str = format_raw(p, PD)
            qty: int | str = format_raw(q, QD)
        else:
            price, qty = p, q
        assert book.apply_delta("single", side, price, qty, seq=k + 1) is (old != new)
        assert book.last_change("single") == (old, new)
        assert book.state("single") == state
    assert book.depth("single", BID, 1_000).tolist() == ref_depth(model, BID)
    assert book.depth("single", ASK, 1_000).tolist() == ref_depth(model, ASK)
    bid, ask = ref_top(model)
    assert book.best_bid("single") == bid
    assert book.best_ask("single") == ask
    for limit in (0, 10, 20, 41):
        assert book.cumulative_qty("single", BID, limit) == sum(q for p, q in model[BID].items() if p >= limit)
        assert book.cumulative_qty("single", ASK, limit) == sum(q for p, q in model[ASK].items() if p <= limit)

    # the same deltas as numpy batches at random cut points give the identical book
    bounds = sorted({0, len(deltas), *(c for c in cuts if c <= len(deltas))})
    bmodel: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
    for p, q in bids:
        ref_set(bmodel, BID, p, q)
    for p, q in asks:
        ref_set(bmodel, ASK, p, q)
    bstate = BROKEN if ref_crossed(bmodel) else LIVE
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        chunk = deltas[lo:hi]
        old = ref_top(bmodel)
        for side, p, q, _ in chunk:
            ref_set(bmodel, side, p, q)
        if ref_crossed(bmodel):
            bstate = BROKEN
        use_i64 = int64[n % len(int64)] and all(q < 2**63 for _, _, q, _ in chunk)
        dtype = np.int64 if use_i64 else np.uint64
        sides = np.array([d[0] for d in chunk], np.uint8)
        prices = np.array([d[1] for d in chunk], dtype)
        qtys = np.array([d[2] for d in chunk], dtype)
        assert book.apply_deltas("batched", sides, prices, qtys, seq=n) is (old != ref_top(bmodel))
        assert book.state("batched") == bstate
    for side in (BID, ASK):
        assert np.array_equal(book.depth("batched", side, 1_000), book.depth("single", side, 1_000))


def format_raw(raw: int, decimals: int) -> str:
    """raw / 10**decimals as a venue would send it: always all decimals ("0.050")."""
    whole, frac = divmod(raw, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"
