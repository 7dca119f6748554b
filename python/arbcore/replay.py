"""Replay of a recording (`arbcore.record`): its frames through the same Rust decoders as the live
engine, into books of their own, and a summary of what happened.

The replay does to the books what the live client did between frames too: a new connection
forgets every sequence and sets every book SYNCING until its snapshot (`FeedClient._on_connected`),
and the events a version 2 file holds (a connection lost, a book gone stale, a book reset to be
resubscribed) are applied where they were recorded. So the books before each frame are the ones
the live client had when that frame came. It uses only the recorded receive times: the same file
always gives the same output.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import arbcore
from arbcore import _core
from arbcore._core import ConsolidatedBook, Feed
from arbcore.errors import ConfigError
from arbcore.record import FeedSpec, Frame, RecordingError, raw_frames, read_recording

#: the summary's "events" keeps the first this many; "events_omitted" counts the rest
MAX_EVENTS = 1000

#: a feed's books, its symbols' (book index, venue index), and its Kraken precisions
Built = tuple[list[ConsolidatedBook], dict[str, tuple[int, int]], dict[str, tuple[int, int]]]


def build_books(spec: FeedSpec) -> Built:
    """One consolidated book per instrument of a feed, the venue added to each."""
    books: list[ConsolidatedBook] = []
    index: dict[str, int] = {}
    symbols: dict[str, tuple[int, int]] = {}
    precisions: dict[str, tuple[int, int]] = {}
    for sym, s in spec.symbols.items():
        if s.instrument not in index:
            index[s.instrument] = len(books)
            books.append(ConsolidatedBook(s.instrument, s.price_decimals, s.qty_decimals, len(books)))
        book = books[index[s.instrument]]
        v = book.add_venue(spec.venue, symbol=sym, tick_size=s.tick_size, lot_size=s.lot_size)
        symbols[sym] = (index[s.instrument], v)
        if s.precision is not None:
            precisions[sym] = s.precision
    return books, symbols, precisions


class Replayer:
    """One feed's books, moved by its recorded lines one at a time (:meth:`apply`). Raises
    ConfigError for a spec the books or the decoder refuse. ``built``: books shared with other
    feeds (an engine's, :mod:`arbcore.engine_replay`), as ``build_books`` gives them."""

    def __init__(self, spec: FeedSpec, built: Built | None = None) -> None:
        self.spec = spec
        self.books, self.symbols, precisions = built if built is not None else build_books(spec)
        self.feed = Feed(spec.protocol, self.books, self.symbols, precisions or None, spec.depth)
        self._by_ref = {ref: sym for sym, ref in self.symbols.items()}
        self._conn: int | None = None
        self.connections = 0
        #: what happened, in order: connections, their loss, resyncs and their reasons, decode
        #: errors, books gone stale or reset (the first MAX_EVENTS)
        self.events: list[dict[str, Any]] = []
        self.events_omitted = 0

    def apply(self, fr: Frame) -> None:
        if fr.conn != self._conn:
            # what the live client did on connecting: sequences restart, no book is LIVE before
            # its snapshot (the previous connection's books were, to the last frame it sent)
            self.feed.reset_connection()
            self._set_all(_core.SYNCING)
            self._conn = fr.conn
            self.connections += 1
            self._event(fr, "connected")
        kind = fr.kind
        if kind == "ws":
            code = self.feed.on_frame(fr.data, fr.t)
        elif kind == "rest":
            ref = self.symbols.get(fr.symbol or "")
            if ref is None:
                return
            code = self.feed.on_snapshot(ref[0], ref[1], fr.data, fr.t)
        elif kind == "disconnected":
            self._set_all(_core.SYNCING)
            self._event(fr, "disconnected")
            return
        else:  # "stale", "reset": one book
            ref = self.symbols.get(fr.symbol or "")
            if ref is None:
                return
            book, v = self.books[ref[0]], ref[1]
            if kind == "stale":
                if book.state(v) == _core.LIVE:  # (as check_stale: only a LIVE book goes stale)
                    book.set_state(v, _core.STALE)
            else:
                self.feed.reset(ref[0], v)
                book.set_state(v, _core.SYNCING)
            self._event(fr, kind, fr.symbol)
            return
        if code == _core.FRAME_RESYNC:
            self._event(fr, "resync", self._symbol_of(self.feed.last_book()), self.feed.last_reason())
        elif code == _core.FRAME_ERROR:
            self._event(fr, "decode_error", self._symbol_of(self.feed.last_book()), self.feed.last_error())

    def _set_all(self, state: int) -> None:
        for i, v in self.symbols.values():
            self.books[i].set_state(v, state)

    def _symbol_of(self, ref: tuple[int, int] | None) -> str | None:
        return None if ref is None else self._by_ref.get(ref)

    def _event(self, fr: Frame, what: str, symbol: str | None = None, reason: str | None = None) -> None:
        if len(self.events) >= MAX_EVENTS:
            self.events_omitted += 1
            return
        e: dict[str, Any] = {"t": fr.t, "conn": fr.conn, "event": what}
        if symbol is not None:
            e["symbol"] = symbol
        if reason:
            e["reason"] = reason[:200]
        self.events.append(e)

    def book_view(self, symbol: str, top: int = 10) -> dict[str, Any]:
        """One book as the summary shows it: state, sequence and top levels as decimal strings."""
        i, v = self.symbols[symbol]
        b = self.books[i]
        return {
            "instrument": b.instrument,
            "state": b.state_name(v),
            "seq": b.seq(v),
            "bids": [[b.format_price(p), b.format_qty(q)] for p, q in b.depth(v, arbcore.BID, top).tolist()],
            "asks": [[b.format_price(p), b.format_qty(q)] for p, q in b.depth(v, arbcore.ASK, top).tolist()],
        }

    def summary(self, top: int = 10) -> dict[str, Any]:
        c = self.feed.counters()
        return {
            "venue": self.spec.venue,
            "protocol": self.spec.protocol,
            "frames": c["frames"],
            "applied": c["applied"],
            "snapshots": c["snapshots"],
            "decode_errors": c["decode_errors"],
            "gaps": c["gaps"],
            "duplicates": c["duplicates"],
            "out_of_order": c["out_of_order"],
            "checksums_ok": c["checksum_ok"],
            "checksums_failed": c["checksum_failed"],
            "resyncs": c["resyncs"],
            "connections": self.connections,
            "events": self.events,
            "events_omitted": self.events_omitted,
            "books": {sym: self.book_view(sym, top) for sym in sorted(self.symbols)},
        }


def replay(path: Path, venue: str, top: int = 10) -> dict[str, Any]:
    """Run a recording's frames for `venue` through the decoders; return the summary. Raises
    RecordingError (a ValueError) for a file that is not a recording or whose header the books
    or the decoder refuse; a file cut short gives the summary of what could be read, and its
    "truncated" says where and why (None for a whole file)."""
    rec = read_recording(path)
    spec = next((f for f in rec.feeds if f.venue == venue), None)
    if spec is None:
        rec.frames.close()
        names = ", ".join(f.venue for f in rec.feeds) or "none"
        raise RecordingError(f"{path}: no feed for venue {venue!r} (recorded: {names})")
    try:
        summary = replay_frames(spec, (fr for fr in rec.frames if fr.venue == venue), top)
    except ConfigError as e:  # the header's instruments or protocol, refused by the books or the decoder
        rec.frames.close()
        raise RecordingError(f"{path}: header: feed {venue!r}: {e}") from None
    summary["version"] = rec.version
    summary["truncated"] = rec.frames.truncated
    return summary


def replay_raw(path: Path, spec: FeedSpec, top: int = 10) -> dict[str, Any]:
    """`replay` of a plain capture (see raw_frames)."""
    frames = raw_frames(path, spec.venue)
    summary = replay_frames(spec, frames, top)
    summary["truncated"] = frames.truncated
    return summary


def replay_frames(spec: FeedSpec, frames: Iterable[Frame], top: int = 10) -> dict[str, Any]:
    r = Replayer(spec)
    for fr in frames:
        r.apply(fr)
    return r.summary(top)
