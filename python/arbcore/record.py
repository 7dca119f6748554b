"""Recording and replay of raw venue frames.

File format (gzip-compressed JSON lines, one object per line; documented in the README):

- line 1, the header::

    {"type": "header", "format": "arbcore-frames", "version": 1, "created_ns": <int>,
     "feeds": [{"venue": "bybit", "protocol": "bybit", "depth": 10,
                "symbols": {"BTCUSDT": {"instrument": "BTC/USDT", "price_decimals": 2,
                                        "qty_decimals": 6, "tick_size": "0.01", "lot_size": "0.000001",
                                        "precision": [2, 6]}}}]}

- then one line per frame, in receive order::

    {"t": <local receive time, ns>, "venue": "bybit", "conn": <connection number>,
     "kind": "ws" | "rest", "data": "<frame text exactly as received>"}

  REST snapshot bodies carry `"symbol"`; a frame that is not UTF-8 is stored as `"b64"` instead
  of `"data"`.

Replay runs a file through the same Rust decoders as the live engine and prints a summary;
it uses only the recorded receive times, so the same file always gives the same output.
"""

from __future__ import annotations

import base64
import gzip
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

import arbcore
from arbcore._core import ConsolidatedBook, Feed

FORMAT = "arbcore-frames"
VERSION = 1


@dataclass(frozen=True)
class SymbolSpec:
    instrument: str
    price_decimals: int
    qty_decimals: int
    tick_size: str
    lot_size: str
    precision: tuple[int, int] | None = None  # venue (price, qty) precision, for Kraken's checksum

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "instrument": self.instrument,
            "price_decimals": self.price_decimals,
            "qty_decimals": self.qty_decimals,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
        }
        if self.precision is not None:
            d["precision"] = list(self.precision)
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> SymbolSpec:
        p = d.get("precision")
        return SymbolSpec(
            str(d["instrument"]),
            int(d["price_decimals"]),
            int(d["qty_decimals"]),
            str(d["tick_size"]),
            str(d["lot_size"]),
            (int(p[0]), int(p[1])) if p else None,
        )


@dataclass(frozen=True)
class FeedSpec:
    venue: str
    protocol: str
    symbols: dict[str, SymbolSpec]
    depth: int = 10

    def to_json(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "protocol": self.protocol,
            "depth": self.depth,
            "symbols": {k: v.to_json() for k, v in self.symbols.items()},
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> FeedSpec:
        return FeedSpec(
            str(d["venue"]),
            str(d["protocol"]),
            {k: SymbolSpec.from_json(v) for k, v in d["symbols"].items()},
            int(d.get("depth", 10)),
        )


class Recorder:
    """Writes frames to a recording from a background thread, so the event loop only enqueues."""

    def __init__(self, path: Path, feeds: list[FeedSpec]) -> None:
        self.path = path
        self.frames = 0
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._file = gzip.open(path, "wb", compresslevel=5)  # noqa: SIM115 (closed in close())
        header = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "created_ns": time.time_ns(),
            "feeds": [f.to_json() for f in feeds],
        }
        self._file.write(orjson.dumps(header) + b"\n")
        self._thread = threading.Thread(target=self._drain, name="arbcore-recorder", daemon=True)
        self._thread.start()

    def frame(self, recv_ns: int, venue: str, conn: int, kind: str, data: bytes, *, symbol: str | None = None) -> None:
        line: dict[str, Any] = {"t": recv_ns, "venue": venue, "conn": conn, "kind": kind}
        if symbol is not None:
            line["symbol"] = symbol
        try:
            line["data"] = data.decode()
        except UnicodeDecodeError:
            line["b64"] = base64.b64encode(data).decode()
        self._queue.put(orjson.dumps(line) + b"\n")
        self.frames += 1

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._file.write(item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._file.close()


@dataclass
class Frame:
    t: int
    venue: str
    conn: int
    kind: str
    data: bytes
    symbol: str | None = None


@dataclass
class Recording:
    feeds: list[FeedSpec]
    frames: Iterator[Frame] = field(repr=False)


class RecordingError(ValueError):
    """A file that is not a valid recording; the message names the line."""


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def read_recording(path: Path) -> Recording:
    """Open a recording; frames are read lazily."""
    f = _open(path)
    first = f.readline()
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError as e:
        f.close()
        raise RecordingError(f"{path}: line 1 is not JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        f.close()
        raise RecordingError(f"{path}: line 1 is not an {FORMAT} header")
    feeds = [FeedSpec.from_json(x) for x in header.get("feeds", [])]

    def frames() -> Iterator[Frame]:
        with f:
            for n, raw in enumerate(f, start=2):
                try:
                    d = orjson.loads(raw)
                    data = d["data"].encode() if "data" in d else base64.b64decode(d["b64"])
                    yield Frame(
                        int(d["t"]), str(d["venue"]), int(d.get("conn", 0)), str(d["kind"]), data, d.get("symbol")
                    )
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                    raise RecordingError(f"{path}: line {n}: {e}") from None

    return Recording(feeds, frames())


def build_books(
    spec: FeedSpec,
) -> tuple[list[ConsolidatedBook], dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
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


def replay(path: Path, venue: str, top: int = 10) -> dict[str, Any]:
    """Run a recording's frames for `venue` through the decoders; return the summary."""
    rec = read_recording(path)
    spec = next((f for f in rec.feeds if f.venue == venue), None)
    if spec is None:
        names = ", ".join(f.venue for f in rec.feeds) or "none"
        raise RecordingError(f"{path}: no feed for venue {venue!r} (recorded: {names})")
    return replay_frames(spec, (fr for fr in rec.frames if fr.venue == venue), top)


def replay_frames(spec: FeedSpec, frames: Iterator[Frame], top: int = 10) -> dict[str, Any]:
    books, symbols, precisions = build_books(spec)
    feed = Feed(spec.protocol, books, symbols, precisions or None, spec.depth)
    last_conn: int | None = None
    for fr in frames:
        if fr.conn != last_conn:
            feed.reset_connection()
            last_conn = fr.conn
        if fr.kind == "rest":
            ref = symbols.get(fr.symbol or "")
            if ref is not None:
                feed.on_snapshot(ref[0], ref[1], fr.data, fr.t)
        else:
            feed.on_frame(fr.data, fr.t)
    c = feed.counters()
    out_books: dict[str, Any] = {}
    for sym, (i, v) in sorted(symbols.items()):
        b = books[i]
        out_books[sym] = {
            "instrument": b.instrument,
            "state": b.state_name(v),
            "seq": b.seq(v),
            "bids": [[b.format_price(p), b.format_qty(q)] for p, q in b.depth(v, arbcore.BID, top).tolist()],
            "asks": [[b.format_price(p), b.format_qty(q)] for p, q in b.depth(v, arbcore.ASK, top).tolist()],
        }
    return {
        "venue": spec.venue,
        "protocol": spec.protocol,
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
        "books": out_books,
    }


def raw_frames(path: Path, venue: str) -> Iterator[Frame]:
    """A plain capture (one frame per line, no header): receive times are the line numbers."""
    with _open(path) as f:
        for n, raw in enumerate(f):
            line = raw.rstrip(b"\r\n")
            if line:
                yield Frame(n, venue, 0, "ws", line)
