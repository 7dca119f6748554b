"""Workload (d): five venues, consolidated best price and opportunity detection per update.

Five seeded streams (one per venue, `synthetic_stream(100 + v)`, quantities scaled to 0.001..1
BTC), interleaved one message of 10 deltas at a time. Venue 4 (2 bps taker) is quoted
DRIFT_TICKS above the others, close to the break-even against venue 2 (5 bps): as the mids walk,
pairs cross after fees and uncross again, so detection does real work, not only quick rejects.

arbcore, per message: `apply_deltas` (numpy, one call), `consolidated_bid/ask()`, then
- `consolidated`: nothing more (the cost without detection);
- `refresh`: `refresh()`, incremental exact detection of the pairs whose venue's top moved;
- `opportunities`: `opportunities()`, the same plus the numpy record array a strategy reads.
Detection cost per top-of-book change = (refresh - consolidated) / top changes, measured side by
side in `test_five_venues_detection_added` (chunks of both loops interleaved, GC paused), which
also reports the apply-only cost of the same run; `benches/detect/five_venues.rs` is the same
stream in Rust.

Pure-Python baseline: five sorted-dict books, consolidated best bid/ask, and for every ordered
pair a top-of-book-only cross test after both fees (no depth walk, lots, balances or limits:
less work than arbcore's exact search). No peer has a multi-venue consolidated view or
detection, so they are not in this workload.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import arbcore
from conftest import N_DELTAS
from peers import arbcore_full, sorted_dict_full
from sorted_dict_book import SortedDictBook

VENUES = 5
FEES = ("10bps", "7.5bps", "5bps", "10bps", "2bps")
FEE_E8 = (100_000, 75_000, 50_000, 100_000, 20_000)  # the same, at 1e-8
DRIFT_TICKS = 4_200  # venue 4 above the rest: 5 bps + 2 bps of 60,000.00 is ~4,200 ticks
QTY_SCALE = 100_000
PER_MESSAGE = 10
DEPTH = 1000
ROUNDS = 7
PAIRED_REPS = 5
CHUNK = 1000  # messages per timed chunk of the paired measurement


@dataclass(frozen=True)
class Message:
    venue: int
    sides: Any
    prices: Any
    qtys: Any
    triples: list[tuple[int, int, int]]


@dataclass(frozen=True)
class FiveVenues:
    snapshots: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]
    messages: list[Message]
    deltas: int
    top_changes: int
    reference: list[tuple[list[list[int]], list[list[int]]]]


def new_book(f: FiveVenues) -> arbcore.ConsolidatedBook:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=8)
    for v, fee in enumerate(FEES):
        name = f"v{v}"
        book.add_venue(name, symbol="BTCUSDT", tick_size="0.01", lot_size="0.00001", min_notional="5", taker_fee=fee)
        book.set_balance(name, "USDT", "10000000")
        book.set_balance(name, "BTC", "1000")
        bids, asks = f.snapshots[v]
        book.apply_snapshot(v, bids, asks, seq=1)
    return book


@pytest.fixture(scope="module")
def five() -> FiveVenues:
    per_venue = N_DELTAS // VENUES
    per_venue -= per_venue % PER_MESSAGE
    snapshots, per_venue_msgs = [], []
    for v in range(VENUES):
        s = arbcore.synthetic_stream(100 + v, DEPTH, per_venue)
        shift = DRIFT_TICKS if v == VENUES - 1 else 0
        bids = list(zip((s["bid_prices"] + shift).tolist(), (s["bid_qtys"] * QTY_SCALE).tolist(), strict=True))
        asks = list(zip((s["ask_prices"] + shift).tolist(), (s["ask_qtys"] * QTY_SCALE).tolist(), strict=True))
        snapshots.append((bids, asks))
        sides = np.ascontiguousarray(s["sides"], dtype=np.uint8)
        prices = np.ascontiguousarray(s["prices"] + shift, dtype=np.uint64)
        qtys = np.ascontiguousarray(s["qtys"] * QTY_SCALE, dtype=np.uint64)
        msgs = []
        for i in range(0, per_venue, PER_MESSAGE):
            sl, pl, ql = sides[i : i + PER_MESSAGE], prices[i : i + PER_MESSAGE], qtys[i : i + PER_MESSAGE]
            msgs.append(Message(v, sl, pl, ql, list(zip(sl.tolist(), pl.tolist(), ql.tolist(), strict=True))))
        per_venue_msgs.append(msgs)
    messages = [m for group in zip(*per_venue_msgs, strict=True) for m in group]
    ref_books = [SortedDictBook(b, a) for b, a in snapshots]
    for m in messages:
        apply = ref_books[m.venue].apply
        for s_, p, q in m.triples:
            apply(s_, p, q)
    f = FiveVenues(snapshots, messages, per_venue * VENUES, 0, [sorted_dict_full(b) for b in ref_books])
    book = new_book(f)
    moved = sum(bool(book.apply_deltas(m.venue, m.sides, m.prices, m.qtys)) for m in messages)
    return FiveVenues(snapshots, messages, f.deltas, moved, f.reference)


@pytest.fixture(autouse=True)
def _gc_paused() -> Iterator[None]:
    """Python's cyclic GC collected, frozen and paused while these benchmarks run (as `timeit`
    does): the fixture holds ~100,000 message objects, so a GC pass costs milliseconds and lands
    on whichever loop happens to allocate at that moment, whoever the contender."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _check(book: arbcore.ConsolidatedBook, f: FiveVenues) -> None:
    for v in range(VENUES):
        assert arbcore_full(book, v) == f.reference[v], f"venue {v} differs from the sorted-dict replay"


def _info(benchmark: Any, f: FiveVenues, role: str, peer: str, path: str, **more: Any) -> None:
    benchmark.extra_info.update(
        deltas=f.deltas,
        messages=len(f.messages),
        top_changes=f.top_changes,
        workload="d",
        role=role,
        peer=peer,
        path=path,
        **more,
    )


def test_five_venues_arbcore_consolidated(benchmark: Any, five: FiveVenues) -> None:
    def run(book: arbcore.ConsolidatedBook) -> arbcore.ConsolidatedBook:
        apply, cb, ca = book.apply_deltas, book.consolidated_bid, book.consolidated_ask
        for m in five.messages:
            apply(m.venue, m.sides, m.prices, m.qtys)
            cb()
            ca()
        return book

    book = benchmark.pedantic(run, setup=lambda: ((new_book(five),), {}), rounds=ROUNDS, iterations=1)
    _info(benchmark, five, "arbcore", "arbcore", "per message: apply_deltas + consolidated best bid/ask")
    _check(book, five)


def test_five_venues_arbcore_refresh(benchmark: Any, five: FiveVenues) -> None:
    def run(book: arbcore.ConsolidatedBook) -> tuple[arbcore.ConsolidatedBook, int]:
        apply, cb, ca, refresh = book.apply_deltas, book.consolidated_bid, book.consolidated_ask, book.refresh
        evaluated = 0
        for m in five.messages:
            apply(m.venue, m.sides, m.prices, m.qtys)
            cb()
            ca()
            evaluated += refresh()
        return book, evaluated

    book, evaluated = benchmark.pedantic(run, setup=lambda: ((new_book(five),), {}), rounds=ROUNDS, iterations=1)
    _info(
        benchmark,
        five,
        "arbcore",
        "arbcore",
        "per message: apply_deltas + consolidated + refresh()",
        pairs_evaluated=evaluated,
    )
    _check(book, five)


def test_five_venues_arbcore_opportunities(benchmark: Any, five: FiveVenues) -> None:
    def run(book: arbcore.ConsolidatedBook) -> tuple[arbcore.ConsolidatedBook, int]:
        apply, cb, ca, opps = book.apply_deltas, book.consolidated_bid, book.consolidated_ask, book.opportunities
        found = 0
        for m in five.messages:
            apply(m.venue, m.sides, m.prices, m.qtys)
            cb()
            ca()
            found += len(opps()) > 0
        return book, found

    book, found = benchmark.pedantic(run, setup=lambda: ((new_book(five),), {}), rounds=ROUNDS, iterations=1)
    _info(
        benchmark,
        five,
        "arbcore",
        "arbcore",
        "per message: apply_deltas + consolidated + opportunities() array",
        messages_with_opportunity=found,
    )
    _check(book, five)
    assert found > 0, "the workload is meant to produce opportunities"


def test_five_venues_sorted_dict(benchmark: Any, five: FiveVenues) -> None:
    scale = 100_000_000

    def run(books: list[SortedDictBook]) -> tuple[list[SortedDictBook], int]:
        found = 0
        for m in five.messages:
            apply = books[m.venue].apply
            for s, p, q in m.triples:
                apply(s, p, q)
            tops = [(b.best_bid(), b.best_ask()) for b in books]
            bids = [(t[0][0], v) for v, t in enumerate(tops) if t[0]]
            asks = [(t[1][0], v) for v, t in enumerate(tops) if t[1]]
            max(bids)
            min(asks)
            crossing = 0
            for ask, a in asks:
                cost = ask * (scale + FEE_E8[a])
                for bid, b in bids:
                    if a != b and bid * (scale - FEE_E8[b]) > cost:
                        crossing += 1
            found += crossing > 0
        return books, found

    def setup() -> tuple[tuple[list[SortedDictBook]], dict[str, Any]]:
        return ([SortedDictBook(b, a) for b, a in five.snapshots],), {}

    books, found = benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    _info(
        benchmark,
        five,
        "baseline",
        "sorteddict",
        "per message: apply + consolidated best + top-of-book cross test of all 20 pairs",
        messages_with_cross=found,
    )
    assert [sorted_dict_full(b) for b in books] == five.reference


def test_five_venues_detection_added(benchmark: Any, five: FiveVenues) -> None:
    """What detection adds per top-of-book change, beside the apply-only cost of the same run.

    The `consolidated` and `refresh` loops above, measured side by side in chunks of CHUNK
    messages: each of PAIRED_REPS reps runs two fresh books through the stream, one with
    `refresh()` per message and one without, alternating which goes first, and times every
    chunk of each. Per chunk the median over the reps is kept; the sums over chunks are the
    with/without totals (GC paused, see `_gc_paused`). Load from other processes on the shared
    machine hits both loops of a chunk alike, and a burst in one rep does not move a median of
    five."""
    import time

    chunks = [five.messages[i : i + CHUNK] for i in range(0, len(five.messages), CHUNK)]
    clock = time.perf_counter_ns

    def time_chunk(book: arbcore.ConsolidatedBook, detect: bool, chunk: list[Message]) -> int:
        apply, cb, ca, refresh = book.apply_deltas, book.consolidated_bid, book.consolidated_ask, book.refresh
        t0 = clock()
        if detect:
            for m in chunk:
                apply(m.venue, m.sides, m.prices, m.qtys)
                cb()
                ca()
                refresh()
        else:
            for m in chunk:
                apply(m.venue, m.sides, m.prices, m.qtys)
                cb()
                ca()
        return clock() - t0

    def run() -> tuple[float, float, float, float]:
        without: list[list[int]] = [[] for _ in chunks]
        with_: list[list[int]] = [[] for _ in chunks]
        for rep in range(PAIRED_REPS):
            plain, detecting = new_book(five), new_book(five)
            for k, chunk in enumerate(chunks):
                if (rep + k) % 2 == 0:
                    without[k].append(time_chunk(plain, False, chunk))
                    with_[k].append(time_chunk(detecting, True, chunk))
                else:
                    with_[k].append(time_chunk(detecting, True, chunk))
                    without[k].append(time_chunk(plain, False, chunk))
            _check(plain, five)
            _check(detecting, five)
        med = sum(float(np.median(c)) for c in without), sum(float(np.median(c)) for c in with_)
        low = sum(float(np.min(c)) for c in without), sum(float(np.min(c)) for c in with_)
        return med[0], med[1], low[0], low[1]

    without, with_, without_min, with_min = benchmark.pedantic(run, rounds=1, iterations=1)
    added = with_ - without
    msgs, tops = len(five.messages), five.top_changes
    _info(
        benchmark,
        five,
        "arbcore",
        "arbcore",
        f"paired: refresh() loop minus consolidated-only loop, chunks of {CHUNK} messages, "
        f"median of {PAIRED_REPS} alternating reps per chunk",
        without_median_ns=without,
        with_median_ns=with_,
        added_per_top_change_ns=added / tops,
        added_per_message_ns=added / msgs,
        apply_only_per_message_ns=without / msgs,
        apply_only_per_top_change_ns=without / tops,
        added_per_top_change_min_ns=(with_min - without_min) / tops,
    )
    benchmark.extra_info["workload"] = "d-paired"
