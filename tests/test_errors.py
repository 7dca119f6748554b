"""Error classes: where each is raised, its hierarchy, its message, and that a failed call changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import arbcore
from arbcore import (
    ASK,
    BID,
    LIVE,
    ArbcoreError,
    BookInputError,
    ConfigError,
    ConsolidatedBook,
    DecimalError,
    UnknownVenueError,
)
from conftest import add_venue, book_state, levels, make_btc_book


def test_hierarchy() -> None:
    assert issubclass(DecimalError, ArbcoreError)
    assert issubclass(DecimalError, ValueError)
    assert issubclass(ConfigError, ArbcoreError)
    assert issubclass(ConfigError, ValueError)
    assert issubclass(UnknownVenueError, ArbcoreError)
    assert issubclass(UnknownVenueError, LookupError)
    assert issubclass(BookInputError, ArbcoreError)
    assert issubclass(BookInputError, ValueError)
    assert issubclass(ArbcoreError, Exception)
    # the classes the extension raises are the ones the package exports
    assert arbcore.errors.DecimalError is DecimalError
    with pytest.raises(DecimalError) as info:
        arbcore.parse_decimal("x", 2)
    assert type(info.value) is DecimalError


@pytest.fixture
def book() -> ConsolidatedBook:
    """BTC/USDT with venues a, b, c; a and b LIVE with two levels a side, funded."""
    b = make_btc_book(["a", "b", "c"])
    b.apply_snapshot("a", levels(b, [("100", "1"), ("99", "2")]), levels(b, [("101", "1"), ("102", "2")]), seq=5)
    b.apply_snapshot("b", levels(b, [("98", "1")]), levels(b, [("99.5", "3")]), seq=6, venue_ts=7, recv_ts=8)
    b.set_max_notional("1000")
    b.set_min_edge_bps("1")
    return b


def expect_unchanged(
    book: ConsolidatedBook, call: Callable[[], object], exc: type[Exception], *needles: str
) -> Exception:
    """Run `call`, expect `exc` whose message contains every needle, and the book unchanged."""
    before = book_state(book)
    opps_before = book.detect().tobytes()
    spec_before = [book.venue_spec(v) for v in range(len(book))]
    venues_before = book.venues
    with pytest.raises(exc) as info:
        call()
    err = info.value
    assert isinstance(err, ArbcoreError)
    for n in needles:
        assert n in str(err), (n, str(err))
    assert book_state(book) == before
    assert book.venues == venues_before
    assert [book.venue_spec(v) for v in range(len(book))] == spec_before
    assert book.detect().tobytes() == opps_before
    return err


# --- DecimalError --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ([("100", "1"), ("99.999", "1")], '"99.999"'),
        ([("100", "1"), ("99", "-1")], '"-1"'),
        ([("100", "1"), ("99", "0.000000001")], '"0.000000001"'),
        ([("100", "1"), (-5, 1)], "-5"),
        ([("100", "1"), (2**64, 1)], str(2**64)),
        ([("100", "1"), (1.5, 1)], "1.5"),
        ([("100", "1"), ("NaN", "1")], '"NaN"'),
        ([("100", "1"), ("", "1")], '""'),
    ],
)
def test_snapshot_with_one_bad_level(book: ConsolidatedBook, bad: list[tuple[object, object]], needle: str) -> None:
    expect_unchanged(book, lambda: book.apply_snapshot("a", [("50", "1")], bad, seq=99), DecimalError, needle)
    expect_unchanged(book, lambda: book.apply_snapshot("a", bad, [("500", "1")], seq=99), DecimalError, needle)


@pytest.mark.parametrize(
    ("price", "qty", "needle"),
    [
        ("100.001", "1", '"100.001"'),
        ("100", "1e-9", '"1e-9"'),
        (-1, 1, "-1"),
        (1, -1, "-1"),
        (2**64, 1, str(2**64)),
        ("184467440737095516.16", 1, '"184467440737095516.16"'),
        (None, 1, "None"),
        (100, 1.0, "1.0"),
    ],
)
def test_delta_bad_decimal(book: ConsolidatedBook, price: object, qty: object, needle: str) -> None:
    expect_unchanged(book, lambda: book.apply_delta("a", BID, price, qty, seq=99), DecimalError, needle)


def test_settings_bad_decimal(book: ConsolidatedBook) -> None:
    expect_unchanged(book, lambda: book.set_balance("a", "BTC", "0.000000001"), DecimalError, '"0.000000001"')
    expect_unchanged(book, lambda: book.set_balance("a", "USDT", "-5"), DecimalError, '"-5"')
    expect_unchanged(book, lambda: book.set_balance("a", "USDT", "1e40"), DecimalError, '"1e40"')
    expect_unchanged(book, lambda: book.set_max_notional("abc"), DecimalError, '"abc"')
    expect_unchanged(book, lambda: book.set_min_edge_bps("0.00001"), DecimalError, '"0.00001"')
    expect_unchanged(book, lambda: book.set_min_edge_bps("-1"), DecimalError, '"-1"')
    expect_unchanged(book, lambda: book.cumulative_qty("a", BID, "1.001"), DecimalError, '"1.001"')
    with pytest.raises(DecimalError, match=r'"1\.001"'):
        book.parse_price("1.001")
    with pytest.raises(DecimalError, match='"x"'):
        book.parse_qty("x")


# --- BookInputError ------------------------------------------------------------------------------


def u8(*v: int) -> np.ndarray:
    return np.array(v, np.uint8)


def u64(*v: int) -> np.ndarray:
    return np.array(v, np.uint64)


def i64(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


@pytest.mark.parametrize(
    ("sides", "prices", "qtys", "needle"),
    [
        (u8(0, 1, 2, 0), u64(50, 500, 60, 70), u64(1, 1, 1, 1), "entry 2"),  # bad side in the middle
        (u8(0, 1, 0), u64(50, 500), u64(1, 1, 1), "length"),
        (u8(0, 1), u64(50, 500), u64(1, 1, 1), "length"),
        (u8(0, 1, 0), u64(50, 500, 60), u64(1, 1), "length"),
        (u8(0, 1, 0), i64(50, 500, -60), i64(1, 1, 1), "prices[2] = -60"),
        (u8(0, 1, 0), i64(50, 500, 60), i64(1, -1, 1), "qtys[1] = -1"),
        (u8(0, 1), np.array([50, 500], np.uint32), u64(1, 1), "prices"),
        (u8(0, 1), u64(50, 500), np.array([1.0, 1.0]), "qtys"),
        (u8(0, 1), [50, 500], u64(1, 1), "prices"),
        (u8(0, 1), u64(50, 500, 60, 70)[::2], u64(1, 1), "contiguous"),
        (u8(0, 1), u64(50, 500), i64(1, 2, 3, 4)[::2], "contiguous"),
        (u8(0, 1), np.array([[50, 500]], np.uint64), u64(1, 1), "prices"),
    ],
)
def test_apply_deltas_bad_batch(
    book: ConsolidatedBook, sides: np.ndarray, prices: object, qtys: object, needle: str
) -> None:
    expect_unchanged(book, lambda: book.apply_deltas("a", sides, prices, qtys, seq=99), BookInputError, needle)


def test_bad_side_and_state(book: ConsolidatedBook) -> None:
    expect_unchanged(book, lambda: book.apply_delta("a", 2, "50", "1", seq=99), BookInputError, "side 2")
    expect_unchanged(book, lambda: book.depth("a", 7, 5), BookInputError, "side 7")
    expect_unchanged(book, lambda: book.cumulative_qty("a", 255, 1), BookInputError, "side 255")
    expect_unchanged(book, lambda: book.merged_depth(3, 5), BookInputError, "side 3")
    expect_unchanged(book, lambda: book.set_state("a", 4), BookInputError, "state 4")


# --- UnknownVenueError ---------------------------------------------------------------------------


@pytest.mark.parametrize(("venue", "needle"), [(3, "3"), (-1, "-1"), ("nope", '"nope"'), (1.0, "1.0"), (None, "None")])
def test_unknown_venue(book: ConsolidatedBook, venue: object, needle: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: book.apply_snapshot(venue, [("50", "1")], []),
        lambda: book.apply_delta(venue, BID, "50", "1"),
        lambda: book.apply_deltas(venue, u8(0), u64(50), u64(1)),
        lambda: book.clear(venue),
        lambda: book.set_state(venue, LIVE),
        lambda: book.set_balance(venue, "BTC", "1"),
        lambda: book.balance(venue, "BTC"),
        lambda: book.state(venue),
        lambda: book.state_name(venue),
        lambda: book.seq(venue),
        lambda: book.timestamps(venue),
        lambda: book.best_bid(venue),
        lambda: book.best_ask(venue),
        lambda: book.last_change(venue),
        lambda: book.depth(venue, BID, 5),
        lambda: book.cumulative_qty(venue, ASK, 1),
        lambda: book.venue_index(venue),
        lambda: book.venue_spec(venue),
    ]
    for call in calls:
        err = expect_unchanged(book, call, UnknownVenueError, needle)
        assert isinstance(err, LookupError)


def test_unknown_venue_is_checked_first(book: ConsolidatedBook) -> None:
    # a bad venue with otherwise bad input still reports the venue
    expect_unchanged(book, lambda: book.apply_delta("zz", 9, "x", "y"), UnknownVenueError, '"zz"')


# --- ConfigError ---------------------------------------------------------------------------------


def test_bad_asset(book: ConsolidatedBook) -> None:
    expect_unchanged(book, lambda: book.set_balance("a", "ETH", "1"), ConfigError, '"ETH"', "BTC", "USDT")
    expect_unchanged(book, lambda: book.set_balance("a", "btc", "1"), ConfigError, '"btc"')
    expect_unchanged(book, lambda: book.balance("a", "ETH"), ConfigError, '"ETH"')


@pytest.mark.parametrize(
    ("rules", "field", "value"),
    [
        ({"tick_size": "0.001"}, "tick_size", "0.001"),  # finer than price_decimals 2
        ({"tick_size": "0"}, "tick_size", "0"),
        ({"tick_size": "-0.01"}, "tick_size", "-0.01"),
        ({"lot_size": "0.000000001"}, "lot_size", "0.000000001"),  # finer than qty_decimals 8
        ({"lot_size": "0"}, "lot_size", "0"),
        ({"lot_size": "abc"}, "lot_size", "abc"),
        ({"min_qty": "0.000000001"}, "min_qty", "0.000000001"),
        ({"min_notional": "0.00000000001"}, "min_notional", "0.00000000001"),
        ({"min_notional": "five"}, "min_notional", "five"),
        ({"taker_fee": "-1bps"}, "taker_fee", "-1bps"),
        ({"taker_fee": "1"}, "taker_fee", "1"),
        ({"taker_fee": "10000bps"}, "taker_fee", "10000bps"),
        ({"taker_fee": "0.000000001"}, "taker_fee", "0.000000001"),
        ({"taker_fee": "ten"}, "taker_fee", "ten"),
        ({"maker_fee": "1.5"}, "maker_fee", "1.5"),
        ({"maker_fee": "0.1bp"}, "maker_fee", "0.1bp"),
        ({"symbol": ""}, "symbol", ""),
    ],
)
def test_add_venue_bad_rule_names_field(book: ConsolidatedBook, rules: dict[str, str], field: str, value: str) -> None:
    err = expect_unchanged(book, lambda: add_venue(book, "new", **rules), ConfigError, f'{field} = "{value}"')
    assert isinstance(err, ValueError)
    assert len(book) == 3
    with pytest.raises(UnknownVenueError):
        book.venue_index("new")


def test_add_venue_empty_name(book: ConsolidatedBook) -> None:
    expect_unchanged(book, lambda: add_venue(book, ""), ConfigError, "venue")


def test_duplicate_venue(book: ConsolidatedBook) -> None:
    expect_unchanged(book, lambda: add_venue(book, "b"), ConfigError, '"b"', "already")


def test_too_many_venues() -> None:
    book = ConsolidatedBook("BTC/USDT", 2, 8)
    assert arbcore.MAX_VENUES == 16
    for i in range(16):
        assert add_venue(book, f"v{i}") == i
    book.apply_snapshot("v15", [(1, 1)], [(2, 1)])
    expect_unchanged(book, lambda: add_venue(book, "v16"), ConfigError, '"v16"', "16")
    assert len(book) == 16
    assert book.venues == [f"v{i}" for i in range(16)]
    # all 16 take part in detection
    book.set_balance("v0", "USDT", "100")
    book.set_balance("v15", "BTC", "1")
    book.apply_snapshot("v0", [], [(1, 1)])
    book.apply_snapshot("v15", [(3, 1)], [(4, 1)])
    assert [(int(r["buy_venue"]), int(r["sell_venue"])) for r in book.opportunities()] == [(0, 15)]


@pytest.mark.parametrize(
    ("name", "pd", "qd", "needle"),
    [
        ("BTCUSDT", 2, 8, 'instrument = "BTCUSDT"'),
        ("BTC/", 2, 8, 'instrument = "BTC/"'),
        ("/USDT", 2, 8, 'instrument = "/USDT"'),
        ("BTC/USDT/X", 2, 8, 'instrument = "BTC/USDT/X"'),
        ("BTC/BTC", 2, 8, 'instrument = "BTC/BTC"'),
        ("", 2, 8, 'instrument = ""'),
        ("BTC/USDT", 19, 0, 'price_decimals = "19"'),
        ("BTC/USDT", 12, 8, 'qty_decimals = "8"'),
        ("BTC/USDT", 0, 19, 'qty_decimals = "19"'),
    ],
)
def test_bad_instrument(name: str, pd: int, qd: int, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        ConsolidatedBook(name, pd, qd)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_extreme_valid_scales() -> None:
    assert ConsolidatedBook("A/B", 18, 0).notional_decimals == 18
    assert ConsolidatedBook("A/B", 0, 18).notional_decimals == 18
    assert ConsolidatedBook("A/B", 0, 0).notional_decimals == 0


# --- integers outside the native argument types ---------------------------------------------------
# Every other bad venue index, side, state or scale raises the matching arbcore error naming the
# value (tests above). These inputs are equally bad, but are stopped by PyO3's conversion to the
# Rust argument type (i64 / u8 / u128) before the binding's own check, so they escape as a bare
# OverflowError that is not an ArbcoreError and does not name the value.


def test_huge_venue_index_is_unknown_venue(book: ConsolidatedBook) -> None:
    expect_unchanged(book, lambda: book.state(2**64), UnknownVenueError, str(2**64))
    expect_unchanged(book, lambda: book.apply_delta(-(2**63) - 1, BID, 1, 1), UnknownVenueError, str(-(2**63) - 1))


def test_out_of_range_side_is_book_input_error(book: ConsolidatedBook) -> None:
    for side in (-1, 256):
        expect_unchanged(book, lambda s=side: book.apply_delta("a", s, "50", "1"), BookInputError, f"side {side}")
        expect_unchanged(book, lambda s=side: book.depth("a", s, 5), BookInputError, f"side {side}")


def test_out_of_range_state_is_book_input_error(book: ConsolidatedBook) -> None:
    for state in (-1, 256):
        expect_unchanged(book, lambda s=state: book.set_state("a", s), BookInputError, f"state {state}")


def test_out_of_range_scale_and_value_are_decimal_errors() -> None:
    with pytest.raises(DecimalError, match="256"):
        arbcore.parse_decimal("1", 256)
    with pytest.raises(DecimalError, match="-1"):
        arbcore.format_decimal(-1, 2)
