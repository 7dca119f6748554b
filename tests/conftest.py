"""Shared fixtures and helpers for the arbcore Python API tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import arbcore
from arbcore import ASK, BID, ConsolidatedBook

# Hypothesis profiles: "default" keeps the whole suite well under 30 s on 2 cores; "ci" is the
# same but derandomized, so CI failures reproduce.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

#: BTC/USDT at price_decimals 2, qty_decimals 8 (notional_decimals 10), as in the demo.
BTC_PD, BTC_QD = 2, 8


def add_venue(book: ConsolidatedBook, name: str, **rules: str) -> int:
    """Add a venue with permissive defaults (tick 0.01, lot 1e-8, no minimums, no fees)."""
    spec = {"symbol": "BTCUSDT", "tick_size": "0.01", "lot_size": "0.00000001"}
    spec.update(rules)
    return book.add_venue(name, **spec)


def make_btc_book(names: Iterable[str] = ("a", "b", "c"), *, fund: bool = True, **rules: str) -> ConsolidatedBook:
    """A BTC/USDT book with the given venues, each funded generously unless ``fund`` is False."""
    book = ConsolidatedBook("BTC/USDT", BTC_PD, BTC_QD, instrument_id=42)
    for n in names:
        add_venue(book, n, **rules)
        if fund:
            book.set_balance(n, "BTC", "1000")
            book.set_balance(n, "USDT", "100000000")
    return book


def levels(book: ConsolidatedBook, pairs: Iterable[tuple[str, str]]) -> list[tuple[int, int]]:
    """Decimal-string (price, qty) pairs -> raw int pairs at the book's scales."""
    return [(book.parse_price(p), book.parse_qty(q)) for p, q in pairs]


def book_state(book: ConsolidatedBook) -> list[tuple[object, ...]]:
    """Everything observable about each venue's book, to check that a failed call changed nothing."""
    out: list[tuple[object, ...]] = []
    for v in range(len(book)):
        out.append(
            (
                book.state(v),
                book.seq(v),
                book.timestamps(v),
                book.depth(v, BID, 10_000).tolist(),
                book.depth(v, ASK, 10_000).tolist(),
                book.last_change(v),
                book.balance(v, book.base),
                book.balance(v, book.quote),
            )
        )
    return out


@pytest.fixture
def btc_book() -> ConsolidatedBook:
    return make_btc_book()


@pytest.fixture
def btc_book_factory() -> Callable[..., ConsolidatedBook]:
    return make_btc_book


def records(opps: np.ndarray) -> list[dict[str, object]]:
    """Opportunity records as plain dicts of Python ints/floats."""
    names = arbcore.OPPORTUNITY_DTYPE.names or ()
    return [{n: r[n].item() for n in names} for r in opps]
