"""Recording of raw venue frames, and reading a recording back (replay: `arbcore.replay`).

File format (gzip-compressed JSON lines, one object per line; documented in the README):

- line 1, the header::

    {"type": "header", "format": "arbcore-frames", "version": 2, "created_ns": <int>,
     "feeds": [{"venue": "bybit", "protocol": "bybit", "depth": 10,
                "symbols": {"BTCUSDT": {"instrument": "BTC/USDT", "price_decimals": 2,
                                        "qty_decimals": 6, "tick_size": "0.01", "lot_size": "0.000001",
                                        "precision": [2, 6]}}}]}

- then one line per frame, in receive order::

    {"t": <local receive time, ns>, "venue": "bybit", "conn": <connection number>,
     "kind": "ws" | "rest", "data": "<frame text exactly as received>"}

  REST snapshot bodies carry `"symbol"`; a frame that is not UTF-8 is stored as `"b64"` instead
  of `"data"`.

- (version 2) between the frames, in the same order, what the live client did to its books
  that no frame shows, so that replay does the same at the same point::

    {"t": <ns>, "venue": "bybit", "conn": <n>, "kind": "disconnected"}  every book SYNCING
    {"t": <ns>, "venue": "bybit", "conn": <n>, "kind": "stale", "symbol": "BTCUSDT"}  silent too long
    {"t": <ns>, "venue": "bybit", "conn": <n>, "kind": "reset", "symbol": "BTCUSDT"}  sequence
        forgotten to resubscribe, the book SYNCING until its new snapshot

  A version 1 file has no such lines; a reader refuses a version it does not know.

- (version 3, `arbcore run --record`) the header also has ``"engine"``: the consolidated books
  as the session built them (instruments, each venue's symbol, grids, minimums and fees, the
  detector's min edge, the built-in taker's rule), enough to rebuild them without the config (no
  key, no environment value: the config's secrets are never read for it); the feeds' ``venue``
  is the config's venue name. Between the frames, what detection depends on that no frame shows,
  and what the engine detected, at the point in the stream where it happened::

    {"t": <ns>, "kind": "balance", "instrument": "BTC/USDT", "venue": "okx", "asset": "BTC",
     "amount": "2.5"}                        what the session gave the book (book.set_balance)
    {"t": <ns>, "kind": "detect", "instrument": 0, "records": [[...record...], ...]}
        a read's detection on one instrument (its index in the header's instruments):
        book.opportunities()'s records, every field in the dtype's order; or "count": 0 where
        the built-in taker looked (FastPath.take) and the book had none
    {"t": <ns>, "kind": "taken", "instrument": 0, "buy": "okx", "sell": "binance", "qty": <raw>,
     "buy_limit": <raw>, "sell_limit": <raw>, "records": [[...], ...]}
        a ticket the built-in taker started in the order path, with the records it picked from

The recorder flushes the compressed stream every second (gzip's sync flush), so the file of a
recorder that was killed reads up to its last flush. A file cut short (a killed recorder) or
damaged reads up to the first line that cannot be read, and `Frames.truncated` says where and why.
"""

from __future__ import annotations

import base64
import gzip
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

FORMAT = "arbcore-frames"
#: the version this recorder writes: 2 for one feed client's recording (`arbcore record`), 3 for
#: an engine's (`arbcore run --record`: a header with "engine", and ENGINE_KINDS lines)
VERSION = 2
ENGINE_VERSION = 3
#: the versions this reader reads: 1 (frames only), 2 (frames and the client's book events), 3
READABLE_VERSIONS = (1, 2, 3)
#: the lines of the frames' kinds, (version 2) of the live client's own book events, and
#: (version 3) of the engine's balances and decisions
FRAME_KINDS = ("ws", "rest")
EVENT_KINDS = ("disconnected", "stale", "reset")
ENGINE_KINDS = ("balance", "detect", "taken")
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
            _depth(d, where),
        )


#: the deepest book a feed's header may ask for (Kraken's deepest subscription is 1000 levels)
MAX_DEPTH = 10_000


def _depth(d: dict[str, Any], where: str) -> int:
    """A feed's ``depth`` (10 when absent): 1 to MAX_DEPTH (the decoder took a negative one for
    an OverflowError, and 0 or a huge one without a word)."""
    if "depth" not in d:
        return 10
    v: int = _field(d, "depth", int, where)
    if not 1 <= v <= MAX_DEPTH:
        raise ValueError(f"{where}.depth is {v}, expected 1 to {MAX_DEPTH}")
    return v


#: lines the writer may fall behind before the recording is stopped (:meth:`Recorder.check_backlog`):
#: ~100 MB of queued frames, minutes of a default run's ~750 lines a second against a stalled disk
MAX_BACKLOG = 200_000
#: how long closing waits for the writer to write what is queued (a stalled disk: the file then
#: reads up to its last flush, as a killed recorder's does)
CLOSE_WAIT_S = 10.0


class Recorder:
    """Writes frames to a recording from a background thread, so the event loop only enqueues (a
    tuple of what it has; the thread makes the JSON line). Opening raises OSError for a path
    that cannot be written. A write that fails later (a full disk) stops the writing:
    :attr:`error` says why, the file keeps what was flushed before it, and nothing raises on
    the event loop's side. ``engine``: an engine recording's header part (version 3)."""

    def __init__(self, path: Path, feeds: list[FeedSpec], engine: dict[str, Any] | None = None) -> None:
        self.path = path
        self.frames = 0
        #: why writing stopped (the OSError's text), or None
        self.error: str | None = None
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._balances: dict[tuple[str, str, str], str] = {}  # the last written, per book, venue and asset
        self._file = gzip.open(path, "wb", compresslevel=5)  # noqa: SIM115 (closed in close())
        header: dict[str, Any] = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION if engine is None else ENGINE_VERSION,
            "created_ns": time.time_ns(),
            "feeds": [f.to_json() for f in feeds],
        }
        if engine is not None:
            header["engine"] = engine
        try:
            self._file.write(orjson.dumps(header) + b"\n")
            self._file.flush()
        except OSError:
            self._close_file()
            raise
        self._thread = threading.Thread(target=self._drain, name="arbcore-recorder", daemon=True)
        self._thread.start()

    def frame(self, recv_ns: int, venue: str, conn: int, kind: str, data: bytes, *, symbol: str | None = None) -> None:
        if self.error is not None:
            return
        self._queue.put((_frame_line, recv_ns, venue, conn, kind, data, symbol))
        self.frames += 1

    def event(self, t_ns: int, venue: str, conn: int, kind: str, *, symbol: str | None = None) -> None:
        """One of the live client's own book events (`EVENT_KINDS`), in order with the frames."""
        if self.error is not None:
            return
        self._queue.put((_event_line, t_ns, venue, conn, kind, symbol))

    def balance(self, t_ns: int, instrument: str, venue: str, asset: str, amount: str) -> None:
        """A balance the engine gave an instrument's book (version 3); the same amount again is
        not written (the session sets every balance after each ticket)."""
        if self.error is not None or self._balances.get((instrument, venue, asset)) == amount:
            return
        self._balances[(instrument, venue, asset)] = amount
        self._queue.put((_balance_line, t_ns, instrument, venue, asset, amount))

    def detected(self, t_ns: int, instrument: int, records: Any) -> None:
        """A read's detection on one instrument (version 3): ``book.opportunities()``'s record
        array (not copied: the book makes a new one per call), or the taker's count (an int)."""
        if self.error is not None:
            return
        self._queue.put((_detect_line, t_ns, instrument, records))

    def taken(self, t_ns: int, instrument: int, pick: tuple[str, str, int, int, int], records: Any) -> None:
        """A ticket the built-in taker started (version 3): (buy venue, sell venue, qty, buy
        limit, sell limit), and the records it picked from."""
        if self.error is not None:
            return
        self._queue.put((_taken_line, t_ns, instrument, pick, records))

    def _drain(self) -> None:
        # A timed flush, here rather than per frame: the event loop's side stays one enqueue. The
        # sync flush ends a deflate block, so a reader decompresses everything up to it; it goes
        # to the OS (enough for a killed process), not to the disk (no fsync).
        next_flush = time.monotonic() + FLUSH_INTERVAL
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_INTERVAL)
            except queue.Empty:
                item = ()
            if item is None:
                return
            if self.error is not None:
                continue  # drained, so that what is still enqueued does not pile up
            try:
                if item:
                    self._file.write(item[0](*item[1:]))
                now = time.monotonic()
                if now >= next_flush:
                    self._file.flush()
                    next_flush = now + FLUSH_INTERVAL
            except OSError as e:
                self.error = e.strerror or str(e)

    @property
    def backlog(self) -> int:
        """Lines enqueued and not yet written."""
        return self._queue.qsize()

    def check_backlog(self, limit: int = MAX_BACKLOG) -> bool:
        """Stop recording (:attr:`error` says why) when the writer is more than ``limit`` lines
        behind: a disk that stalls blocks the writer while the event loop goes on enqueueing, and
        the queue would grow without bound. Called from a timer, not per frame (the event loop's
        side stays one enqueue). Returns whether it stopped the recording."""
        n = self.backlog
        if self.error is None and n > limit:
            self.error = f"the writer fell {n} lines behind (a stalled disk?)"
            return True
        return False

    def close(self, wait: float = CLOSE_WAIT_S) -> None:
        """Write what is queued and close the file; a failure is kept in :attr:`error`, not raised.
        A writer still blocked after ``wait`` s (a stalled disk) is left behind (a daemon thread)
        with :attr:`error` saying so, and the file is not closed under it."""
        self._queue.put(None)
        self._thread.join(wait)
        if self._thread.is_alive():
            if self.error is None:
                self.error = f"the writer was still blocked {wait:g} s after the stop (a stalled disk?)"
            return
        self._close_file()

    def _close_file(self) -> None:
        # (GzipFile.close closes the file descriptor even when the compressor's end cannot be
        # written: the file then reads up to its last flush, as a killed recorder's does)
        try:
            self._file.close()
        except OSError as e:
            if self.error is None:
                self.error = e.strerror or str(e)


def _frame_line(  # noqa: PLR0917 (the fields of Recorder.frame's queued tuple)
    recv_ns: int, venue: str, conn: int, kind: str, data: bytes, symbol: str | None
) -> bytes:
    line: dict[str, Any] = {"t": recv_ns, "venue": venue, "conn": conn, "kind": kind}
    if symbol is not None:
        line["symbol"] = symbol
    try:
        line["data"] = data.decode()
    except UnicodeDecodeError:
        line["b64"] = base64.b64encode(data).decode()
    return orjson.dumps(line) + b"\n"


def _event_line(t_ns: int, venue: str, conn: int, kind: str, symbol: str | None) -> bytes:
    line: dict[str, Any] = {"t": t_ns, "venue": venue, "conn": conn, "kind": kind}
    if symbol is not None:
        line["symbol"] = symbol
    return orjson.dumps(line) + b"\n"


def _balance_line(t_ns: int, instrument: str, venue: str, asset: str, amount: str) -> bytes:
    line = {"t": t_ns, "kind": "balance", "instrument": instrument, "venue": venue, "asset": asset, "amount": amount}
    return orjson.dumps(line) + b"\n"


def _detect_line(t_ns: int, instrument: int, records: Any) -> bytes:
    line: dict[str, Any] = {"t": t_ns, "kind": "detect", "instrument": instrument}
    if isinstance(records, int):
        line["count"] = records
    else:
        line["records"] = records.tolist()
    return orjson.dumps(line) + b"\n"


def _taken_line(t_ns: int, instrument: int, pick: tuple[str, str, int, int, int], records: Any) -> bytes:
    buy, sell, qty, buy_limit, sell_limit = pick
    line = {"t": t_ns, "kind": "taken", "instrument": instrument, "buy": buy, "sell": sell, "qty": qty,
            "buy_limit": buy_limit, "sell_limit": sell_limit, "records": records.tolist()}  # fmt: skip
    return orjson.dumps(line) + b"\n"


@dataclass
class Frame:
    """One line after the header: a frame (kind "ws" or "rest"), one of the live client's book
    events (an `EVENT_KINDS` kind; its data is empty), or (version 3) one of the engine's
    (`ENGINE_KINDS`: its venue is "", the line's object is in ``engine``)."""

    t: int
    venue: str
    conn: int
    kind: str
    data: bytes
    symbol: str | None = None
    line: int = 0  # its line number in the file (the header is line 1)
    engine: dict[str, Any] | None = None


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
    version: int = VERSION
    #: (version 3) the header's "engine": the books as the session built them
    engine: dict[str, Any] | None = None


def _open(path: Path) -> IO[bytes]:
    try:
        with path.open("rb") as f:
            magic = f.read(2)
        if magic == b"\x1f\x8b":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as e:
        raise RecordingError(f"{path}: {e.strerror or e}") from None


def _frame_parser(version: int) -> Callable[[bytes, int], Frame]:
    """The line reader of a recording of `version`: a frame's line, or (version 2) an event's,
    whose data is empty, or (version 3) an engine line, kept whole."""
    kinds: tuple[str, ...] = FRAME_KINDS + EVENT_KINDS if version >= 2 else FRAME_KINDS
    if version >= ENGINE_VERSION:
        kinds += ENGINE_KINDS

    def parse(raw: bytes, n: int) -> Frame:
        d = orjson.loads(raw)
        kind = d["kind"]
        if kind not in kinds:
            raise ValueError(f"kind {orjson.dumps(kind).decode()[:40]} is not one of {', '.join(kinds)}")
        if kind in ENGINE_KINDS:
            return Frame(int(d["t"]), "", 0, kind, b"", None, n, d)
        if kind in EVENT_KINDS:
            symbol = None if kind == "disconnected" else str(d["symbol"])
            return Frame(int(d["t"]), str(d["venue"]), int(d["conn"]), kind, b"", symbol, n)
        data = d["data"].encode() if "data" in d else base64.b64decode(d["b64"])
        return Frame(int(d["t"]), str(d["venue"]), int(d.get("conn", 0)), kind, data, d.get("symbol"), n)

    return parse


def read_recording(path: Path) -> Recording:
    """Open a recording; frames are read lazily. Raises RecordingError for a file whose header
    cannot be read, is not a recording's, or is of a version this reader does not know."""
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
        version = header.get("version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            # a later format may mean other things by the same fields: refused, not guessed at
            shown = "missing" if "version" not in header else orjson.dumps(version).decode()[:40]
            known = ", ".join(map(str, READABLE_VERSIONS))
            raise RecordingError(
                f"{path}: header: version is {shown}; this arbcore reads versions {known} (a newer arbcore wrote it?)"
            )
        feeds = header.get("feeds", [])
        if not isinstance(feeds, list):
            raise RecordingError(f"{path}: header: feeds is not a list")
        try:
            specs = [FeedSpec.from_json(x, f"feeds[{i}]") for i, x in enumerate(feeds)]
        except ValueError as e:
            raise RecordingError(f"{path}: header: {e}") from None
        engine = header.get("engine")
        if engine is not None and not isinstance(engine, dict):
            raise RecordingError(f"{path}: header: engine is not an object")
        if engine is not None and version < ENGINE_VERSION:  # (its lines would be refused: nothing compared)
            raise RecordingError(f"{path}: header: engine in a version {version} file (engine recordings are "
                                 f"version {ENGINE_VERSION})")  # fmt: skip
    except _STREAM_ERRORS as e:
        f.close()
        raise RecordingError(f"{path}: cannot read the header: {_why(e)}") from None
    except RecordingError:
        f.close()
        raise
    return Recording(specs, Frames(path, f, 2, _frame_parser(version)), version, engine)


def raw_frames(path: Path, venue: str) -> Frames:
    """A plain capture (one frame per line, no header): receive times are the line numbers, from 0."""

    def parse(raw: bytes, n: int) -> Frame | None:
        line = raw.rstrip(b"\r\n")
        return Frame(n - 1, venue, 0, "ws", line) if line else None

    return Frames(path, _open(path), 1, parse)
