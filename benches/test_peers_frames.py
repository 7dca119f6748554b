"""Workload (c): raw Binance Spot diff-depth frames (bytes, 10 levels each, the seeded stream).

arbcore: one `Feed.on_frame(bytes)` call per frame; JSON, decimal text, the U/u sequence rule and
the book update all happen in Rust. Peers: what a Python handler has to do for them, per frame:
`orjson.loads`, the decimal strings to integers, then the peer's own apply (nautilus: build the
delta objects and one `OrderBookDeltas` per frame, then `apply_deltas`, its per-message path).
`orjson` + conversion alone, with no book, is the floor of any such handler.

Every final book (all levels) is asserted equal to the sorted-dict replay of the same deltas.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import arbcore
from conftest import Stream
from peers import (
    HAVE_NAUTILUS,
    HAVE_ORDER_BOOK,
    Nautilus,
    arbcore_feed,
    arbcore_full,
    binance_frames,
    order_book_full,
    order_book_new,
    reference_full,
    sorted_dict_full,
)
from sorted_dict_book import SortedDictBook

ROUNDS = 3
PER_FRAME = 10


@pytest.fixture(scope="module")
def frames(stream: Stream) -> list[bytes]:
    return binance_frames(stream, PER_FRAME)


def _n(frames: list[bytes]) -> int:
    return len(frames) * PER_FRAME


def _info(benchmark: Any, frames: list[bytes], role: str, peer: str, path: str) -> None:
    size = sum(len(f) for f in frames) / len(frames)
    benchmark.extra_info.update(
        deltas=_n(frames), frames=len(frames), frame_bytes=round(size), workload="c", role=role, peer=peer, path=path
    )


def test_arbcore_binance_frames(benchmark: Any, stream: Stream, frames: list[bytes]) -> None:
    def run(book: arbcore.ConsolidatedBook, feed: Any) -> tuple[arbcore.ConsolidatedBook, Any]:
        on = feed.on_frame
        for f in frames:
            on(f, 0)
        return book, feed

    book, feed = benchmark.pedantic(run, setup=lambda: (arbcore_feed(stream), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, frames, "arbcore", "arbcore", "Feed.on_frame(bytes): decode + sequence + apply in Rust")
    counters = feed.counters()
    assert feed.last_error() is None, counters
    assert arbcore_full(book) == reference_full(stream, _n(frames))


def test_orjson_parse_floor(benchmark: Any, frames: list[bytes]) -> None:
    """orjson.loads + decimal text to int for every level, no book: any Python handler's floor."""

    def run() -> int:
        loads, total = orjson.loads, 0
        for f in frames:
            m = loads(f)
            for p, q in m["b"]:
                total += int(p.replace(".", "")) + int(q.replace(".", ""))
            for p, q in m["a"]:
                total += int(p.replace(".", "")) + int(q.replace(".", ""))
        return total

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    _info(benchmark, frames, "floor", "floor", "orjson.loads + text to int, no book")


def test_sorted_dict_binance_frames(benchmark: Any, stream: Stream, frames: list[bytes]) -> None:
    def run(book: SortedDictBook) -> SortedDictBook:
        loads, apply = orjson.loads, book.apply
        for f in frames:
            m = loads(f)
            for p, q in m["b"]:
                apply(0, int(p.replace(".", "")), int(q.replace(".", "")))
            for p, q in m["a"]:
                apply(1, int(p.replace(".", "")), int(q.replace(".", "")))
        return book

    book = benchmark.pedantic(
        run, setup=lambda: ((SortedDictBook(stream.bids, stream.asks),), {}), rounds=ROUNDS, iterations=1
    )
    _info(benchmark, frames, "baseline", "sorteddict", "orjson.loads + text to int + sorted-dict apply")
    assert sorted_dict_full(book) == reference_full(stream, _n(frames))


@pytest.mark.skipif(not HAVE_ORDER_BOOK, reason="order_book is not installed (bench venv)")
def test_order_book_binance_frames(benchmark: Any, stream: Stream, frames: list[bytes]) -> None:
    def run(ob: Any) -> Any:
        loads, bids, asks = orjson.loads, ob.bids, ob.asks
        for f in frames:
            m = loads(f)
            for side, levels in ((bids, m["b"]), (asks, m["a"])):
                for p, q in levels:
                    price, qty = int(p.replace(".", "")), int(q.replace(".", ""))
                    if qty:
                        side[price] = qty
                    else:
                        del side[price]
        return ob

    ob = benchmark.pedantic(run, setup=lambda: ((order_book_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, frames, "peer", "order_book", "orjson.loads + text to int + set / del")
    assert order_book_full(ob) == reference_full(stream, _n(frames))


@pytest.fixture(scope="module")
def nt() -> Nautilus:
    if not HAVE_NAUTILUS:
        pytest.skip("nautilus_trader is not installed (bench venv)")
    return Nautilus()


def test_nautilus_cython_binance_frames(benchmark: Any, stream: Stream, frames: list[bytes], nt: Nautilus) -> None:
    def run(book: Any) -> Any:
        loads, apply, batch = orjson.loads, book.apply_deltas, nt.c_batch
        mk, up, dl, ps, qs = nt.c_delta.from_raw, nt.c_update, nt.c_delete, nt.ps, nt.qs
        iid, (buy, sell) = nt.c_iid, nt.c_sides
        for f in frames:
            m = loads(f)
            seq = m["u"]
            deltas = []
            for side, levels in ((buy, m["b"]), (sell, m["a"])):
                for p, q in levels:
                    qty = int(q.replace(".", ""))
                    price = int(p.replace(".", "")) * ps
                    deltas.append(mk(iid, up if qty else dl, side, price, 2, qty * qs, 8, 0, 0, seq, 0, 0))
            apply(batch(deltas))
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.c_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(
        benchmark,
        frames,
        "peer",
        "nautilus Cython",
        "orjson.loads + OrderBookDelta.from_raw per level + OrderBookDeltas + apply_deltas",
    )
    assert nt.c_full(book) == reference_full(stream, _n(frames))


def test_nautilus_pyo3_binance_frames(benchmark: Any, stream: Stream, frames: list[bytes], nt: Nautilus) -> None:
    n = nt.n

    def run(book: Any) -> Any:
        loads, apply, batch = orjson.loads, book.apply_deltas, nt.p_batch
        delta, order, price_raw, qty_raw = n.OrderBookDelta, n.BookOrder, n.Price.from_raw, n.Quantity.from_raw
        up, dl, ps, qs = nt.p_update, nt.p_delete, nt.ps, nt.qs
        iid, (buy, sell) = nt.p_iid, nt.p_sides
        for f in frames:
            m = loads(f)
            seq = m["u"]
            deltas = []
            for side, levels in ((buy, m["b"]), (sell, m["a"])):
                for p, q in levels:
                    qty = int(q.replace(".", ""))
                    o = order(side, price_raw(int(p.replace(".", "")) * ps, 2), qty_raw(qty * qs, 8), 0)
                    deltas.append(delta(iid, up if qty else dl, o, 0, seq, 0, 0))
            apply(batch(deltas))
        return book

    book = benchmark.pedantic(run, setup=lambda: ((nt.p_new(stream),), {}), rounds=ROUNDS, iterations=1)
    _info(
        benchmark,
        frames,
        "peer",
        "nautilus PyO3",
        "orjson.loads + Price, Quantity, BookOrder, OrderBookDelta per level + OrderBookDeltas + apply_deltas",
    )
    assert nt.p_full(book) == reference_full(stream, _n(frames))
