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

The recorder flushes the compressed stream every second (gzip's sync flush), so the file of a
recorder that was killed reads up to its last flush. Replay runs a file through the same Rust
decoders as the live engine and prints a summary; it uses only the recorded receive times, so the
same file always gives the same output. A file cut short (a killed recorder) or damaged replays up
to the first line that cannot be read, and the summary's "truncated" says where and why.
"""

from __future__ import annotations

import base64
import gzip
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

import arbcore
from arbcore._core import ConsolidatedBook, Feed
from arbcore.errors import ConfigError

FORMAT = "arbcore-frames"
VERSION = 1
#: seconds between the recorder's flushes: what a killed recorder can lose at most
FLUSH_INTERVAL = 1.0


class RecordingError(ValueError):
    """A file that is not a valid recording; the message names the line or the header field."""


_KINDS = {str: "a string", int: "an integer", dict: "an object", list: "a list"}


def _field(d: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``d[key]``, which must be a `kind` (int: not a bool); the ValueError names it otherwise."""
    if key not in d:
        raise ValueError(f"{where}.{key} is missing")
    v = d[key]
    if not isinstance(v, kind) or isinstance(v, bool):
        shown = orjson.dumps(v).decode()
        raise ValueError(f"{where}.{key} is {shown[:40]}, expected {_KINDS[kind]}")
    return v


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
    def from_json(d: dict[str, Any], where: str) -> SymbolSpec:
        """Raises ValueError naming the field (`where` is the symbol's place in the header)."""
        p = d.get("precision")
        if p is not None and not (
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in p)
        ):
            raise ValueError(f"{where}.precision is {orjson.dumps(p).decode()[:40]}, expected [price, qty]")
        return SymbolSpec(
            _field(d, "instrument", str, where),
            _field(d, "price_decimals", int, where),
            _field(d, "qty_decimals", int, where),
            _field(d, "tick_size", str, where),
            _field(d, "lot_size", str, where),
            (p[0], p[1]) if p else None,
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
    def from_json(d: Any, where: str) -> FeedSpec:
        """Raises ValueError naming the field (`where` is the feed's place in the header)."""
        if not isinstance(d, dict):
            raise ValueError(f"{where} is not an object")
        venue = _field(d, "venue", str, where)
        protocol = _field(d, "protocol", str, where)
        symbols: dict[str, Any] = _field(d, "symbols", dict, where)
        for k, v in symbols.items():
            if not isinstance(v, dict):
                raise ValueError(f"{where}.symbols[{k!r}] is not an object")
        return FeedSpec(
            venue,
            protocol,
            {k: SymbolSpec.from_json(v, f"{where}.symbols[{k!r}]") for k, v in symbols.items()},
            _field(d, "depth", int, where) if "depth" in d else 10,
        )


class Recorder:
    """Writes frames to a recording from a background thread, so the event loop only enqueues.
    Opening raises OSError for a path that cannot be written."""

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
        self._file.flush()
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
        # A timed flush, here rather than per frame: the event loop's side stays one enqueue. The
        # sync flush ends a deflate block, so a reader decompresses everything up to it; it goes
        # to the OS (enough for a killed process), not to the disk (no fsync).
        next_flush = time.monotonic() + FLUSH_INTERVAL
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_INTERVAL)
            except queue.Empty:
                item = b""
            if item is None:
                return
            if item:
                self._file.write(item)
            now = time.monotonic()
            if now >= next_flush:
                self._file.flush()
                next_flush = now + FLUSH_INTERVAL

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


#: what a cut or damaged compressed stream raises: EOFError (no end-of-stream marker: a killed
#: recorder), gzip.BadGzipFile (an OSError: CRC, length, header), zlib.error (a bad block)
_STREAM_ERRORS = (EOFError, OSError, zlib.error)
#: what a line that is not a frame raises (orjson's and binascii's errors are ValueErrors)
_LINE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def _why(e: BaseException) -> str:
    if isinstance(e, EOFError):
        return "the compressed data ends early (its writer did not close the file: killed?)"
    if isinstance(e, KeyError):
        return f"{e.args[0]!r} is missing"
    if isinstance(e, OSError | zlib.error):
        return f"unreadable compressed data ({e})"
    return str(e)


class Frames:
    """The frames of an open file, read lazily. Reading stops at the first line that cannot be
    read: where a killed recorder's last flush ended, or damage. Nothing past it is used (past a
    damaged spot a deflate stream can decode to wrong bytes); ``truncated`` says where and why.
    (gzip decompresses 8 KB at a time: a bad block loses the lines decompressed with it too; a
    stream that just ends, a killed recorder's, loses only its unfinished line.) A file whose
    first line cannot be read raises RecordingError."""

    def __init__(self, path: Path, f: IO[bytes], first_line: int, parse: Callable[[bytes, int], Frame | None]) -> None:
        self.path = path
        self.truncated: str | None = None
        self._f = f
        self._first_line = first_line
        self._parse = parse

    def __iter__(self) -> Iterator[Frame]:
        n = self._first_line
        with self._f:
            while True:
                try:
                    raw = self._f.readline()
                except _STREAM_ERRORS as e:
                    if n == 1:
                        raise RecordingError(f"{self.path}: cannot read: {_why(e)}") from None
                    self.truncated = f"line {n}: {_why(e)}"
                    return
                if not raw:
                    return
                try:
                    frame = self._parse(raw, n)
                except _LINE_ERRORS as e:
                    cut = "" if raw.endswith(b"\n") else " (the line is cut off)"
                    self.truncated = f"line {n}: {_why(e)}{cut}"
                    return
                if frame is not None:
                    yield frame
                n += 1

    def close(self) -> None:
        """For a file whose frames are not read."""
        self._f.close()


@dataclass
class Recording:
    feeds: list[FeedSpec]
    frames: Frames = field(repr=False)


def _open(path: Path) -> IO[bytes]:
    try:
        with path.open("rb") as f:
            magic = f.read(2)
        if magic == b"\x1f\x8b":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as e:
        raise RecordingError(f"{path}: {e.strerror or e}") from None


def _recorded_frame(raw: bytes, n: int) -> Frame:
    d = orjson.loads(raw)
    data = d["data"].encode() if "data" in d else base64.b64decode(d["b64"])
    return Frame(int(d["t"]), str(d["venue"]), int(d.get("conn", 0)), str(d["kind"]), data, d.get("symbol"))


def read_recording(path: Path) -> Recording:
    """Open a recording; frames are read lazily. Raises RecordingError for a file whose header
    cannot be read or is not a recording's."""
    f = _open(path)
    try:
        first = f.readline()
        if not first:
            raise RecordingError(f"{path}: empty file")
        try:
            header = orjson.loads(first)
        except orjson.JSONDecodeError as e:
            raise RecordingError(f"{path}: line 1 is not JSON ({e})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise RecordingError(f"{path}: line 1 is not an {FORMAT} header")
        feeds = header.get("feeds", [])
        if not isinstance(feeds, list):
            raise RecordingError(f"{path}: header: feeds is not a list")
        try:
            specs = [FeedSpec.from_json(x, f"feeds[{i}]") for i, x in enumerate(feeds)]
        except ValueError as e:
            raise RecordingError(f"{path}: header: {e}") from None
    except _STREAM_ERRORS as e:
        f.close()
        raise RecordingError(f"{path}: cannot read the header: {_why(e)}") from None
    except RecordingError:
        f.close()
        raise
    return Recording(specs, Frames(path, f, 2, _recorded_frame))


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
    summary["truncated"] = rec.frames.truncated
    return summary


def replay_raw(path: Path, spec: FeedSpec, top: int = 10) -> dict[str, Any]:
    """`replay` of a plain capture (see raw_frames)."""
    frames = raw_frames(path, spec.venue)
    summary = replay_frames(spec, frames, top)
    summary["truncated"] = frames.truncated
    return summary


def replay_frames(spec: FeedSpec, frames: Iterable[Frame], top: int = 10) -> dict[str, Any]:
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


def raw_frames(path: Path, venue: str) -> Frames:
    """A plain capture (one frame per line, no header): receive times are the line numbers, from 0."""

    def parse(raw: bytes, n: int) -> Frame | None:
        line = raw.rstrip(b"\r\n")
        return Frame(n - 1, venue, 0, "ws", line) if line else None

    return Frames(path, _open(path), 1, parse)
