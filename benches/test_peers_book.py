"""Workloads (a) L2 apply and (b) apply + best bid/ask after each, for the peers: nautilus_trader
(PyO3 and Cython APIs, prebuilt deltas, single and batch `apply_deltas`) and cryptofeed's
`order_book`. arbcore and the sorted-dict book run the same stream in test_book_python.py.

Every run's final book (all levels, both sides) is asserted equal to the sorted-dict replay,
which test_book_python.py asserts equal to arbcore's: a benchmark of a wrong book is worthless.
Building the peers' delta objects is not timed (their fastest path: prebuilt deltas).
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Stream
from peers import HAVE_NAUTILUS, HAVE_ORDER_BOOK, Nautilus, order_book_full, order_book_new, reference_full

ROUNDS = 5
PER_MESSAGE = 10
BBO_PREFIX = 200_000

needs_nautilus = pytest.mark.skipif(not HAVE_NAUTILUS, reason="nautilus_trader is not installed (bench venv)")
needs_order_book = pytest.mark.skipif(not HAVE_ORDER_BOOK, reason="order_book is not installed (bench venv)")


@pytest.fixture(scope="module")
def nt() -> Nautilus:
    return Nautilus()


@pytest.fixture(scope="module")
def pyo3_deltas(nt: Nautilus, stream: Stream) -> list[Any]:
    return nt.p_deltas(stream.side_list, stream.price_list, stream.qty_list)


@pytest.fixture(scope="module")
def cython_deltas(nt: Nautilus, stream: Stream) -> list[Any]:
    return nt.c_deltas_list(stream.side_list, stream.price_list, stream.qty_list)


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + PER_MESSAGE] for i in range(0, len(items), PER_MESSAGE)]


def _info(benchmark: Any, stream: Stream, workload: str, peer: str, path: str) -> None:
    benchmark.extra_info.update(deltas=stream.n, workload=workload, role="peer", peer=peer, path=path)


# ---- (a) apply -----------------------------------------------------------------------------


@needs_nautilus
def test_nautilus_pyo3_whole_stream_batch(benchmark: Any, stream: Stream, nt: Nautilus, pyo3_deltas: list[Any]) -> None:
    batch = nt.p_batch(pyo3_deltas)
    book = benchmark.pedantic(
        lambda b: b.apply_deltas(batch) or b, setup=lambda: ((nt.p_new(stream),), {}), rounds=ROUNDS, iterations=1
    )
    _info(benchmark, stream, "a", "nautilus PyO3", "prebuilt deltas, whole stream in one apply_deltas")
    assert nt.p_full(book) == reference_full(stream)


@needs_nautilus
def test_nautilus_pyo3_per_message_batch(benchmark: Any, stream: Stream, nt: Nautilus, pyo3_deltas: list[Any]) -> None:
    batches = [nt.p_batch(c) for c in _chunks(pyo3_deltas)]

    def run(book: Any) -> Any:
        apply = book.apply_deltas
        for b in batches:
            apply(b)
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.p_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, stream, "a", "nautilus PyO3", "prebuilt OrderBookDeltas of 10, apply_deltas per message")
    assert nt.p_full(book) == reference_full(stream)


@needs_nautilus
def test_nautilus_pyo3_per_delta(benchmark: Any, stream: Stream, nt: Nautilus, pyo3_deltas: list[Any]) -> None:
    def run(book: Any) -> Any:
        apply = book.apply_delta
        for d in pyo3_deltas:
            apply(d)
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.p_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, stream, "a", "nautilus PyO3", "prebuilt deltas, apply_delta each")
    assert nt.p_full(book) == reference_full(stream)


@needs_nautilus
def test_nautilus_cython_whole_stream_batch(
    benchmark: Any, stream: Stream, nt: Nautilus, cython_deltas: list[Any]
) -> None:
    batch = nt.c_batch(cython_deltas)
    book = benchmark.pedantic(
        lambda b: b.apply_deltas(batch) or b, setup=lambda: ((nt.c_new(stream),), {}), rounds=ROUNDS, iterations=1
    )
    _info(benchmark, stream, "a", "nautilus Cython", "prebuilt deltas, whole stream in one apply_deltas")
    assert nt.c_full(book) == reference_full(stream)


@needs_nautilus
def test_nautilus_cython_per_message_batch(
    benchmark: Any, stream: Stream, nt: Nautilus, cython_deltas: list[Any]
) -> None:
    batches = [nt.c_batch(c) for c in _chunks(cython_deltas)]

    def run(book: Any) -> Any:
        apply = book.apply_deltas
        for b in batches:
            apply(b)
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.c_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, stream, "a", "nautilus Cython", "prebuilt OrderBookDeltas of 10, apply_deltas per message")
    assert nt.c_full(book) == reference_full(stream)


@needs_order_book
def test_order_book_apply(benchmark: Any, stream: Stream) -> None:
    def run(ob: Any) -> Any:
        sides = (ob.bids, ob.asks)
        for s, p, q in zip(stream.side_list, stream.price_list, stream.qty_list, strict=True):
            if q:
                sides[s][p] = q
            else:
                del sides[s][p]
        return ob

    ob = benchmark.pedantic(run, setup=lambda: ((order_book_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, stream, "a", "order_book", "set / del per delta (plain ints)")
    assert order_book_full(ob) == reference_full(stream)


# ---- (b) apply + best bid/ask after each ---------------------------------------------------


@needs_nautilus
def test_nautilus_pyo3_apply_bbo(benchmark: Any, stream: Stream, nt: Nautilus, pyo3_deltas: list[Any]) -> None:
    def run(book: Any) -> Any:
        apply, bb, ba = book.apply_delta, book.best_bid_price, book.best_ask_price
        for d in pyo3_deltas:
            apply(d)
            bb()
            ba()
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.p_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, stream, "b", "nautilus PyO3", "prebuilt deltas, apply_delta + best bid/ask prices")
    assert nt.p_full(book) == reference_full(stream)


@needs_nautilus
def test_nautilus_cython_apply_bbo(benchmark: Any, stream: Stream, nt: Nautilus, cython_deltas: list[Any]) -> None:
    def run(book: Any) -> Any:
        apply, bb, ba = book.apply_delta, book.best_bid_price, book.best_ask_price
        for d in cython_deltas:
            apply(d)
            bb()
            ba()
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.c_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, stream, "b", "nautilus Cython", "prebuilt deltas, apply_delta + best bid/ask prices")
    assert nt.c_full(book) == reference_full(stream)


@needs_order_book
def test_order_book_apply_bbo(benchmark: Any, stream: Stream) -> None:
    """order_book re-sorts a side on the first index() after a change (~6 us on a 1,000-level
    side here), so this one runs the first BBO_PREFIX deltas only, 3 rounds."""
    n = min(stream.n, BBO_PREFIX)
    sl, pl, ql = stream.side_list[:n], stream.price_list[:n], stream.qty_list[:n]

    def run(ob: Any) -> Any:
        bids, asks = ob.bids, ob.asks
        sides = (bids, asks)
        bb, ba = bids.index, asks.index
        for s, p, q in zip(sl, pl, ql, strict=True):
            if q:
                sides[s][p] = q
            else:
                del sides[s][p]
            bb(0)
            ba(0)
        return ob

    ob = benchmark.pedantic(run, setup=lambda: ((order_book_new(stream),), {}), rounds=3, iterations=1)
    _info(benchmark, stream, "b", "order_book", f"set / del + bids.index(0), asks.index(0); first {n:,} deltas")
    benchmark.extra_info["deltas"] = n
    assert order_book_full(ob) == reference_full(stream, n)
