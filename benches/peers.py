"""Adapters for the peers measured beside arbcore, all fed the same seeded stream (conftest.py).

Peers live only in the benchmark virtualenv (.venv-bench, benches/requirements-peers.txt); a
peer that is not installed is skipped and BENCHMARKS.md says so. Each adapter can list its
whole final book as `[[price, qty], ...]` in integer ticks and lots, best first, so every
benchmark can assert that the peer's book equals arbcore's (and the sorted-dict reference).

Prices are at 2 decimals (ticks of 0.01) and quantities at 8 (lots of 1e-8) throughout.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

import arbcore
from arbcore import _core
from conftest import Stream
from sorted_dict_book import SortedDictBook

Book = tuple[list[list[int]], list[list[int]]]
PRICE_DEC = 2
QTY_DEC = 8
ALL_LEVELS = 1 << 30


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


HAVE_NAUTILUS = installed("nautilus_trader")
HAVE_ORDER_BOOK = installed("order_book")


def arbcore_full(book: arbcore.ConsolidatedBook, venue: int = 0) -> Book:
    return book.depth(venue, arbcore.BID, ALL_LEVELS).tolist(), book.depth(venue, arbcore.ASK, ALL_LEVELS).tolist()


def sorted_dict_full(book: SortedDictBook) -> Book:
    return [[-k, v] for k, v in book.bids.items()], [[k, v] for k, v in book.asks.items()]


_REF: dict[tuple[int, int], Book] = {}


def reference_full(stream: Stream, n: int | None = None) -> Book:
    """The final book after the first `n` deltas (default all), replayed on the sorted dict."""
    n = stream.n if n is None else n
    key = (id(stream), n)
    if key not in _REF:
        ref = SortedDictBook(stream.bids, stream.asks)
        for s, p, q in zip(stream.side_list[:n], stream.price_list[:n], stream.qty_list[:n], strict=True):
            ref.apply(s, p, q)
        _REF[key] = sorted_dict_full(ref)
    return _REF[key]


# ---- Binance Spot frames -------------------------------------------------------------------


def _px(p: int) -> str:
    return f"{p // 100}.{p % 100:02d}"


def _qty(q: int) -> str:
    return f"{q // 100_000_000}.{q % 100_000_000:08d}"


def _levels(levels: Iterable[tuple[int, int]]) -> str:
    return ",".join(f'["{_px(p)}","{_qty(q)}"]' for p, q in levels)


def binance_snapshot(stream: Stream) -> bytes:
    """The REST depth snapshot body (`GET /api/v3/depth`) of the stream's starting book."""
    return (f'{{"lastUpdateId":0,"bids":[{_levels(stream.bids)}],"asks":[{_levels(stream.asks)}]}}').encode()


def binance_frames(stream: Stream, per_frame: int = 10) -> list[bytes]:
    """The stream as Binance Spot diff-depth events (`<symbol>@depth`), `per_frame` levels each."""
    frames = []
    s, p, q = stream.side_list, stream.price_list, stream.qty_list
    for k, start in enumerate(range(0, stream.n - stream.n % per_frame, per_frame)):
        idx = range(start, start + per_frame)
        bids = _levels((p[i], q[i]) for i in idx if s[i] == 0)
        asks = _levels((p[i], q[i]) for i in idx if s[i] == 1)
        frames.append(
            (
                f'{{"e":"depthUpdate","E":{1_700_000_000_000 + k},"s":"BTCUSDT",'
                f'"U":{start + 1},"u":{start + per_frame},"b":[{bids}],"a":[{asks}]}}'
            ).encode()
        )
    return frames


def arbcore_feed(stream: Stream) -> tuple[arbcore.ConsolidatedBook, Any]:
    """A fresh book on the starting snapshot, synced through the Binance Spot decoder."""
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=PRICE_DEC, qty_decimals=QTY_DEC)
    book.add_venue("binance", symbol="BTCUSDT", tick_size="0.01", lot_size="0.00000001")
    feed = arbcore.Feed("binance_spot", [book], {"BTCUSDT": (0, 0)})
    code = feed.on_snapshot(0, 0, binance_snapshot(stream), 0)
    assert code == _core.FRAME_SYNCED, (code, feed.last_error())
    return book, feed


def text_to_int(s: str) -> int:
    """Fixed-width decimal text to an integer at its own scale ("60000.01" -> 6000001)."""
    return int(s.replace(".", ""))


# ---- order_book (cryptofeed's C book) ------------------------------------------------------


def order_book_new(stream: Stream) -> Any:
    from order_book import OrderBook

    ob = OrderBook()
    bids, asks = ob.bids, ob.asks
    for p, q in stream.bids:
        bids[p] = q
    for p, q in stream.asks:
        asks[p] = q
    return ob


def order_book_full(ob: Any) -> Book:
    return [list(x) for x in ob.bids.to_list()], [list(x) for x in ob.asks.to_list()]


# ---- nautilus_trader -----------------------------------------------------------------------


class Nautilus:
    """Both of nautilus_trader's Python APIs on an L2_MBP book: the PyO3 one
    (`nautilus_trader.core.nautilus_pyo3`) and the Cython one (`nautilus_trader.model`).
    Raw values are at nautilus' FIXED_PRECISION (16 on the high-precision Linux wheels)."""

    def __init__(self) -> None:
        from nautilus_trader.core import nautilus_pyo3 as n
        from nautilus_trader.model import objects
        from nautilus_trader.model.book import OrderBook
        from nautilus_trader.model.data import OrderBookDelta, OrderBookDeltas
        from nautilus_trader.model.enums import BookAction, BookType, OrderSide
        from nautilus_trader.model.identifiers import InstrumentId

        self.n = n
        fixed = int(objects.FIXED_PRECISION)
        self.ps = 10 ** (fixed - PRICE_DEC)
        self.qs = 10 ** (fixed - QTY_DEC)
        # PyO3
        self.p_iid = n.InstrumentId.from_str("BTCUSDT.BINANCE")
        self.p_sides = (n.OrderSide.BUY, n.OrderSide.SELL)
        self.p_add, self.p_update, self.p_delete = n.BookAction.ADD, n.BookAction.UPDATE, n.BookAction.DELETE
        # Cython
        self.c_book_cls, self.c_delta, self.c_deltas = OrderBook, OrderBookDelta, OrderBookDeltas
        self.c_iid = InstrumentId.from_str("BTCUSDT.BINANCE")
        self.c_sides = (OrderSide.BUY, OrderSide.SELL)
        self.c_add, self.c_update, self.c_delete = BookAction.ADD, BookAction.UPDATE, BookAction.DELETE
        self.c_l2 = BookType.L2_MBP

    # PyO3 API
    def p_delta(self, action: Any, side: int, price: int, qty: int, seq: int) -> Any:
        n = self.n
        px = n.Price.from_raw(price * self.ps, PRICE_DEC)
        order = n.BookOrder(self.p_sides[side], px, n.Quantity.from_raw(qty * self.qs, QTY_DEC), 0)
        return n.OrderBookDelta(self.p_iid, action, order, 0, seq, 0, 0)

    def p_deltas(self, sides: list[int], prices: list[int], qtys: list[int]) -> list[Any]:
        up, dl, mk = self.p_update, self.p_delete, self.p_delta
        return [
            mk(up if q else dl, s, p, q, i + 1) for i, (s, p, q) in enumerate(zip(sides, prices, qtys, strict=True))
        ]

    def p_new(self, stream: Stream) -> Any:
        book = self.n.OrderBook(self.p_iid, self.n.BookType.L2_MBP)
        snap = [self.p_delta(self.p_add, 0, p, q, 0) for p, q in stream.bids]
        snap += [self.p_delta(self.p_add, 1, p, q, 0) for p, q in stream.asks]
        book.apply_deltas(self.n.OrderBookDeltas(self.p_iid, snap))
        return book

    def p_batch(self, deltas: list[Any]) -> Any:
        return self.n.OrderBookDeltas(self.p_iid, deltas)

    def p_full(self, book: Any) -> Book:
        ps, qs = self.ps, self.qs

        def side(levels: list[Any]) -> list[list[int]]:
            return [[lv.price.raw // ps, lv.size_raw() // qs] for lv in levels]

        return side(book.bids()), side(book.asks())

    # Cython API
    def c_delta_raw(self, action: Any, side: int, price: int, qty: int, seq: int) -> Any:
        return self.c_delta.from_raw(
            self.c_iid, action, self.c_sides[side], price * self.ps, PRICE_DEC, qty * self.qs, QTY_DEC, 0, 0, seq, 0, 0
        )

    def c_deltas_list(self, sides: list[int], prices: list[int], qtys: list[int]) -> list[Any]:
        up, dl, mk = self.c_update, self.c_delete, self.c_delta_raw
        return [
            mk(up if q else dl, s, p, q, i + 1) for i, (s, p, q) in enumerate(zip(sides, prices, qtys, strict=True))
        ]

    def c_new(self, stream: Stream) -> Any:
        book = self.c_book_cls(self.c_iid, self.c_l2)
        snap = [self.c_delta_raw(self.c_add, 0, p, q, 0) for p, q in stream.bids]
        snap += [self.c_delta_raw(self.c_add, 1, p, q, 0) for p, q in stream.asks]
        book.apply_deltas(self.c_deltas(self.c_iid, snap))
        return book

    def c_batch(self, deltas: list[Any]) -> Any:
        return self.c_deltas(self.c_iid, deltas)

    def c_full(self, book: Any) -> Book:
        ps, qs = self.ps, self.qs

        def side(levels: list[Any]) -> list[list[int]]:
            return [[lv.price.raw // ps, sum(o.size.raw for o in lv.orders()) // qs] for lv in levels]

        return side(book.bids()), side(book.asks())
