"""Exact decimal strings <-> integers: ``parse_decimal``, ``format_decimal`` and the book's helpers."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arbcore
from arbcore import ConsolidatedBook, DecimalError, format_decimal, parse_decimal

U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1


def reference_format(value: int, decimals: int) -> str:
    """Shortest exact decimal form of value / 10**decimals, written independently of arbcore."""
    whole, frac = divmod(value, 10**decimals)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:0{decimals}d}".rstrip("0")


def test_constants() -> None:
    assert arbcore.MAX_DECIMALS == 18
    assert arbcore.FEE_SCALE == 100_000_000


@pytest.mark.parametrize(
    ("text", "decimals", "raw"),
    [
        ("60000.01", 2, 6_000_001),
        ("60000", 2, 6_000_000),
        ("0.00012000", 8, 12_000),
        ("5e-05", 8, 5_000),
        ("5E-05", 8, 5_000),
        ("1E+3", 0, 1_000),
        ("1e3", 2, 100_000),
        ("1.5e1", 0, 15),
        ("150e-2", 1, 15),
        ("150e-2", 0, None),
        (".5", 1, 5),
        ("5.", 0, 5),
        ("0", 0, 0),
        ("0.0000", 2, 0),
        ("0e99", 0, 0),
        ("000123.4500", 2, 12_345),
        ("0.010", 2, 1),
        ("1", 18, 10**18),
        ("0.000000000000000001", 18, 1),
        ("18446744073709551615", 0, U64_MAX),
        (str(U128_MAX), 0, U128_MAX),
        ("3.40282366920938463463374607431768211455", 18, None),
        ("1.00000000000000000000000000000000000000000000000", 0, 1),
        ("0.00012" + "0" * 60, 8, 12_000),  # trailing zeros never overflow
        ("1" + "0" * 38, 0, 10**38),
    ],
)
def test_parse_venue_strings(text: str, decimals: int, raw: int | None) -> None:
    if raw is None:
        # more significant decimals than the scale holds: refused, never rounded
        with pytest.raises(DecimalError):
            parse_decimal(text, decimals)
        return
    assert parse_decimal(text, decimals) == raw


@pytest.mark.parametrize(
    ("raw", "decimals", "text"),
    [
        (6_000_001, 2, "60000.01"),
        (6_000_000, 2, "60000"),
        (12_000, 8, "0.00012"),
        (5_000, 8, "0.00005"),
        (0, 8, "0"),
        (0, 0, "0"),
        (1, 18, "0.000000000000000001"),
        (10**18, 18, "1"),
        (U64_MAX, 0, "18446744073709551615"),
        (U64_MAX, 18, "18.446744073709551615"),
        (U128_MAX, 18, "340282366920938463463.374607431768211455"),
    ],
)
def test_format_examples(raw: int, decimals: int, text: str) -> None:
    assert format_decimal(raw, decimals) == text


@settings(max_examples=500)
@given(st.integers(0, U64_MAX), st.integers(0, 18))
def test_round_trip_u64(value: int, decimals: int) -> None:
    text = format_decimal(value, decimals)
    assert text == reference_format(value, decimals)
    assert parse_decimal(text, decimals) == value
    assert Decimal(text) == Decimal(value).scaleb(-decimals)


@settings(max_examples=300)
@given(st.integers(0, U128_MAX), st.integers(0, 18))
def test_round_trip_u128(value: int, decimals: int) -> None:
    text = format_decimal(value, decimals)
    assert text == reference_format(value, decimals)
    assert parse_decimal(text, decimals) == value


_digits = st.text("0123456789", min_size=0, max_size=22)


@st.composite
def decimal_strings(draw: st.DrawFn) -> str:
    """Strings in the accepted grammar: digits[.digits][e|E[+|-]digits], with at least one digit."""
    int_part = draw(_digits)
    dot = draw(st.booleans())
    frac = draw(_digits) if dot else ""
    if not int_part and not frac:
        int_part = draw(st.text("0123456789", min_size=1, max_size=5))
    s = int_part + ("." if dot else "") + frac
    if draw(st.booleans()):
        e = draw(st.sampled_from(["e", "E"]))
        sign = draw(st.sampled_from(["", "+", "-"]))
        exp = draw(st.integers(0, 40))
        s += f"{e}{sign}{exp:0{draw(st.integers(1, 3))}d}"
    return s


@settings(max_examples=500)
@given(decimal_strings(), st.integers(0, 18))
def test_parse_matches_python_decimal(text: str, decimals: int) -> None:
    exact = Fraction(Decimal(text)) * 10**decimals
    if exact.denominator == 1 and exact.numerator <= U128_MAX:
        assert parse_decimal(text, decimals) == exact.numerator
    else:
        # not representable at the scale (would need rounding) or beyond u128: refused
        with pytest.raises(DecimalError) as info:
            parse_decimal(text, decimals)
        assert text in str(info.value)


@pytest.mark.parametrize(
    ("text", "decimals", "why"),
    [
        ("", 2, "no digits"),
        ("-1", 2, "negative"),
        ("-0", 2, "negative"),
        ("NaN", 2, "invalid character"),
        ("nan", 2, "invalid character"),
        ("inf", 2, "invalid character"),
        ("1.2.3", 2, "invalid character"),
        ("+1", 2, "invalid character"),
        (" 1", 2, "invalid character"),
        ("1 ", 2, "invalid character"),
        ("1,5", 2, "invalid character"),
        ("1_000", 2, "invalid character"),
        ("0x10", 2, "invalid character"),
        (".", 2, "no digits"),
        ("e5", 2, "invalid character"),
        ("1e", 2, "invalid character"),
        ("1e+", 2, "invalid character"),
        ("1e5.0", 2, "invalid character"),
        ("0.015", 2, "more than 2 decimals"),
        ("0.000000001", 8, "more than 8 decimals"),
        ("5e-05", 4, "more than 4 decimals"),
        ("1e-1000000000", 0, "more than 0 decimals"),
        ("1e40", 2, "too large"),
        (str(2**128), 0, "too large"),
        ("1" + "0" * 39, 0, "too large"),
        ("1", 19, "19"),
    ],
)
def test_parse_errors(text: str, decimals: int, why: str) -> None:
    with pytest.raises(DecimalError) as info:
        parse_decimal(text, decimals)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, arbcore.ArbcoreError)
    msg = str(err)
    assert f'"{text}"' in msg, msg
    assert why in msg, msg


def test_format_rejects_bad_scale() -> None:
    with pytest.raises(DecimalError, match="19"):
        format_decimal(1, 19)


@pytest.fixture
def book() -> ConsolidatedBook:
    return ConsolidatedBook("BTC/USDT", 2, 8)


def test_book_scales(book: ConsolidatedBook) -> None:
    assert (book.price_decimals, book.qty_decimals, book.notional_decimals) == (2, 8, 10)
    assert book.parse_price("60000.01") == 6_000_001
    assert book.parse_qty("0.00012000") == 12_000
    assert book.parse_qty("5e-05") == 5_000
    assert book.format_price(6_000_001) == "60000.01"
    assert book.format_qty(12_000) == "0.00012"
    assert book.format_notional(19_900_000_000) == "1.99"
    assert book.format_notional(-19_900_000_000) == "-1.99"
    assert book.format_notional(0) == "0"
    assert book.format_notional(-1) == "-0.0000000001"


def test_book_parse_is_u64(book: ConsolidatedBook) -> None:
    # prices and quantities are u64 raws: 2**64 - 1 fits, 2**64 does not
    assert book.parse_price("184467440737095516.15") == U64_MAX
    with pytest.raises(DecimalError, match=r"184467440737095516\.16"):
        book.parse_price("184467440737095516.16")
    with pytest.raises(DecimalError, match="too large"):
        book.parse_qty("184467440737.09551616")
    with pytest.raises(DecimalError, match="more than 2 decimals"):
        book.parse_price("60000.001")
    with pytest.raises(DecimalError, match='"abc"'):
        book.parse_qty("abc")


@settings(max_examples=300)
@given(st.integers(0, U64_MAX))
def test_book_price_qty_round_trip(raw: int) -> None:
    book = ConsolidatedBook("ETH/USDC", 6, 12)
    assert book.parse_price(book.format_price(raw)) == raw
    assert book.parse_qty(book.format_qty(raw)) == raw
    assert book.format_price(raw) == reference_format(raw, 6)
    assert book.format_qty(raw) == reference_format(raw, 12)
