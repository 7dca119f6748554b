"""Issue 2 benchmarks from Python, each beside the pure-Python sorted-dict book.

Every benchmark checks its whole final book against the sorted-dict replay (peers.reference_full):
a fast wrong book is worthless.
`extra_info["deltas"]` lets benches/report.py turn medians into ns per delta.
"""

from __future__ import annotations

from typing import Any

import arbcore
from conftest import Stream, new_arbcore_book
from peers import arbcore_full, reference_full, sorted_dict_full
from sorted_dict_book import SortedDictBook

ROUNDS = 5


def test_baseline_sorted_dict_apply(benchmark: Any, stream: Stream) -> None:
    def setup() -> tuple[tuple[SortedDictBook], dict[str, Any]]:
        return (SortedDictBook(stream.bids, stream.asks),), {}

    def run(book: SortedDictBook) -> SortedDictBook:
        apply = book.apply
        for s, p, q in zip(stream.side_list, stream.price_list, stream.qty_list, strict=True):
            apply(s, p, q)
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        deltas=stream.n, role="baseline", peer="sorteddict", workload="a", path="sorteddict apply"
    )
    assert sorted_dict_full(book) == reference_full(stream)


def test_baseline_sorted_dict_apply_bbo(benchmark: Any, stream: Stream) -> None:
    def setup() -> tuple[tuple[SortedDictBook], dict[str, Any]]:
        return (SortedDictBook(stream.bids, stream.asks),), {}

    def run(book: SortedDictBook) -> SortedDictBook:
        apply, bb, ba = book.apply, book.best_bid, book.best_ask
        for s, p, q in zip(stream.side_list, stream.price_list, stream.qty_list, strict=True):
            apply(s, p, q)
            bb()
            ba()
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        deltas=stream.n, role="baseline", peer="sorteddict", workload="b", path="sorteddict apply + best bid/ask"
    )
    assert sorted_dict_full(book) == reference_full(stream)


def test_arbcore_numpy_batch_whole_stream(benchmark: Any, stream: Stream) -> None:
    def setup() -> tuple[tuple[arbcore.ConsolidatedBook], dict[str, Any]]:
        return (new_arbcore_book(stream),), {}

    def run(book: arbcore.ConsolidatedBook) -> arbcore.ConsolidatedBook:
        book.apply_deltas(0, stream.sides, stream.prices, stream.qtys)
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        deltas=stream.n, role="arbcore", peer="arbcore", workload="a", path="numpy batch, one call"
    )
    assert arbcore_full(book) == reference_full(stream)


def test_arbcore_numpy_batch_per_message(benchmark: Any, stream: Stream) -> None:
    """Ten deltas per call, the size of a typical venue depth frame."""
    n10 = stream.n - stream.n % 10
    chunks = [(stream.sides[i : i + 10], stream.prices[i : i + 10], stream.qtys[i : i + 10]) for i in range(0, n10, 10)]

    def setup() -> tuple[tuple[arbcore.ConsolidatedBook], dict[str, Any]]:
        return (new_arbcore_book(stream),), {}

    def run(book: arbcore.ConsolidatedBook) -> arbcore.ConsolidatedBook:
        apply = book.apply_deltas
        for s, p, q in chunks:
            apply(0, s, p, q)
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        deltas=n10, role="arbcore", peer="arbcore", workload="a", path="numpy batch, 10 deltas per call"
    )
    if n10 == stream.n:
        assert arbcore_full(book) == reference_full(stream)


def test_arbcore_single_delta_per_call(benchmark: Any, stream: Stream) -> None:
    def setup() -> tuple[tuple[arbcore.ConsolidatedBook], dict[str, Any]]:
        return (new_arbcore_book(stream),), {}

    def run(book: arbcore.ConsolidatedBook) -> arbcore.ConsolidatedBook:
        apply = book.apply_delta
        for s, p, q in zip(stream.side_list, stream.price_list, stream.qty_list, strict=True):
            apply(0, s, p, q)
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        deltas=stream.n, role="arbcore", peer="arbcore", workload="a", path="one delta per call, plain ints"
    )
    assert arbcore_full(book) == reference_full(stream)


def test_arbcore_single_delta_and_bbo(benchmark: Any, stream: Stream) -> None:
    def setup() -> tuple[tuple[arbcore.ConsolidatedBook], dict[str, Any]]:
        return (new_arbcore_book(stream),), {}

    def run(book: arbcore.ConsolidatedBook) -> arbcore.ConsolidatedBook:
        apply, bb, ba = book.apply_delta, book.best_bid, book.best_ask
        for s, p, q in zip(stream.side_list, stream.price_list, stream.qty_list, strict=True):
            apply(0, s, p, q)
            bb(0)
            ba(0)
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        deltas=stream.n, role="arbcore", peer="arbcore", workload="b", path="one delta per call + best bid/ask"
    )
    assert arbcore_full(book) == reference_full(stream)


def test_python_loop_floor(benchmark: Any, stream: Stream) -> None:
    """The bare loop over the three lists: what every per-delta path above pays before any call."""

    def run() -> None:
        for _s, _p, _q in zip(stream.side_list, stream.price_list, stream.qty_list, strict=True):
            pass

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(deltas=stream.n, role="floor", path="bare Python loop over the deltas")
