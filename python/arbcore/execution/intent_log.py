"""The intent log: a decided ticket on disk in one store, before its first order leaves.

Why not SQLite on the order path: committing a ticket (its row, its reservations, both intents)
costs a few hundred microseconds of Python and SQLite even without an fsync, and the rule "the
journal knows every order before it may be at a venue" only needs the facts on disk, not indexed.
So the ticket path stores one record in this file (a memory copy into a shared file mapping, see
:class:`IntentLog`), sends both orders, and then writes the same facts into the SQLite journal
(:meth:`Journal.flush`); every other journal access flushes first, so SQLite never sees an event
of an order before the order.

A store into the mapping is in the kernel's page cache at once: it survives SIGKILL, the crash
the tests inflict. Surviving an OS crash or power loss needs an msync per ticket (milliseconds on
a disk); ``fsync=True`` (the journal's ``durable_intents``) does it.

At open, the journal imports every record whose ticket SQLite lacks (the process died between
the store and the flush), in order, then empties the file. A record without a valid header and
CRC at the end is a store the crash cut short: its orders were never sent (the send follows the
store), so it is dropped. A damaged record with data after it stops the import with
:class:`IntentLogError`: dropping an intent whose order may be at a venue would lose track of it.

A record: little-endian u32 length, u32 CRC-32, then JSON ``[ticket_id, instrument, buy_venue,
sell_venue, detail, [ledger events], [intents]]``; no secrets (the journal checks the payload
against its registered secrets before storing it). Length 0 ends the log.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import zlib
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from arbcore._core import LogTail
from arbcore.execution.amounts import Amount, Asset
from arbcore.execution.errors import JournalError
from arbcore.execution.ledger import LedgerEvent
from arbcore.execution.orders import OrderType, Side, TimeInForce
from arbcore.execution.records import OrderIntent


class IntentLogError(JournalError):
    """The intent log has a line that cannot be read (not a torn last write)."""


@dataclass(frozen=True)
class StagedTicket:
    """Everything a ticket journals before its orders leave: its row, the ledger events of its
    reservations, and its intents. ``detail`` is the ticket's detail as journal JSON text, or
    None for later orders of a ticket already journaled (a hedge, an unwind): no ticket row."""

    ticket_id: str
    instrument: str
    buy_venue: str
    sell_venue: str
    detail: str | None
    ledger_events: tuple[LedgerEvent, ...]
    intents: tuple[OrderIntent, ...]

    def to_line(self) -> bytes:
        """The record's JSON array, built in one ``orjson.dumps`` (this is on the order path)."""
        ledger = [
            [ev.kind, ev.venue, ev.ticket_id, ev.leg_id, ev.event_id,
             [[role, a.asset.name, a.asset.decimals, str(a.value)] for role, a in ev.amounts], ev.reason]
            for ev in self.ledger_events
        ]  # fmt: skip
        row = [self.ticket_id, self.instrument, self.buy_venue, self.sell_venue, self.detail, ledger,
               [_intent_row(i) for i in self.intents]]  # fmt: skip
        return orjson.dumps(row)

    @classmethod
    def from_line(cls, line: bytes) -> StagedTicket:
        tid, instrument, buy, sell, detail, ledger, intents = orjson.loads(line)
        events = tuple(
            LedgerEvent(kind, venue, ticket, leg, event,
                        tuple((role, Amount(Asset(name, dec), int(v))) for role, name, dec, v in amounts), reason)
            for kind, venue, ticket, leg, event, amounts, reason in ledger
        )  # fmt: skip
        return cls(tid, instrument, buy, sell, detail, events, tuple(_intent_from_row(r) for r in intents))


def _intent_row(i: OrderIntent) -> list[Any]:
    return [
        i.ticket_id, i.leg_id, i.attempt, i.venue, i.symbol, i.instrument, i.base, i.quote, i.price_decimals,
        i.qty_decimals, i.side, i.order_type, i.tif, str(i.qty),  # str enums: orjson writes their values
        None if i.limit_price is None else str(i.limit_price), i.post_only,
    ]  # fmt: skip


def _intent_from_row(r: list[Any]) -> OrderIntent:
    return OrderIntent(
        r[0], r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7], int(r[8]), int(r[9]), Side(r[10]), OrderType(r[11]),
        TimeInForce(r[12]), int(r[13]), None if r[14] is None else int(r[14]), bool(r[15]),
    )  # fmt: skip


_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
CAPACITY = 1 << 20  # bytes; a ticket's record is ~0.5 KB and the log is emptied at every flush


def _scan(data: bytes | mmap.mmap, path: Path) -> tuple[list[bytes], int]:
    """The complete records of a log image and where the next one goes. A record whose header
    is missing or whose CRC fails is a store the crash cut short if nothing follows it (dropped);
    with data after it, the file is damaged and :class:`IntentLogError` says where."""
    out: list[bytes] = []
    off = 0
    size = len(data)
    while off + _HEADER.size <= size:
        n, crc = _HEADER.unpack_from(data, off)
        if n == 0:
            break
        payload = bytes(data[off + _HEADER.size : off + _HEADER.size + n])
        if len(payload) != n or zlib.crc32(payload) != crc:
            rest = data[off + _HEADER.size + min(n, size) :] if n <= size else b""
            if any(rest):
                raise IntentLogError(
                    f"{path}: record at byte {off} damaged with data after it; refusing to drop an intent"
                )
            break  # torn: its orders were never sent
        out.append(payload)
        off += _HEADER.size + n
    return out, off


class IntentLog:
    """The log file, mapped into memory; see the module docstring.

    Why a mapping and not ``write()``: a store into a shared file mapping is a memory copy into
    the page cache, with no syscall and no file-size or mtime update on the order path (a
    ``write()`` that extends a file costs tens of microseconds cold); the page cache survives
    the process, so a SIGKILL loses nothing, exactly as with ``write()``. The file is created at
    its full size with real zeros, so a store never has to allocate a block. A record's payload
    is stored before its header, so a crash between the two leaves no record at all.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False, capacity: int = CAPACITY) -> None:
        self.path = Path(path)
        self.fsync = fsync
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # one engine per journal: a second one would store its records over the first's
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IntentLogError(f"{self.path}: in use by another process (another engine on this journal?)") from None
        try:
            if os.fstat(fd).st_size < capacity:
                os.lseek(fd, 0, os.SEEK_END)
                os.write(fd, bytes(capacity - os.fstat(fd).st_size))
                os.fsync(fd)
            self._mm = mmap.mmap(fd, 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd  # held open for the lock; the kernel drops it with the process, even on SIGKILL
        try:
            self._records, used = _scan(self._mm, self.path)
        except BaseException:
            self.close()
            raise
        # A store the crash cut short leaves its payload past the end (its header never came).
        # Zeroed at the next clear(): a shorter record stored over it would otherwise be followed
        # by those bytes, read at the next open as a damaged record with data after it. Until
        # then every byte past the end is zero, which the dry store relies on.
        dirty = len(self._mm) if any(self._mm[used:]) else 0
        #: the stores (Rust: ``arbcore._core.LogTail``), also the order path's own (``tail``)
        self.tail = LogTail(self._mm, used, dirty, fsync)

    @property
    def used(self) -> int:
        """Bytes stored (the next record's offset)."""
        return self.tail.used

    def _stored(self, got: int, n: int) -> bool:
        if got == -1:
            raise IntentLogError(f"{self.path}: a {n}-byte record exceeds the log's {len(self._mm)} bytes")
        return got == 1

    def append(self, payload: bytes) -> bool:
        """Store one record; False when it does not fit (flush, :meth:`clear`, and append again)."""
        return self._stored(self.tail.append(payload), len(payload))

    def append_framed(self, record: bytes, dry: bool = False) -> bool:
        """:meth:`append` for a record already framed (length, CRC-32, payload: the Rust order
        path's). The payload is written first and the header last, as :meth:`append` does.

        ``dry`` (the order path's dry run, ``[run] keep_warm_ms``): the same stores, of zeros,
        where the record would go, which holds only zeros (see ``__init__`` and :meth:`clear`):
        nothing changes, even on a crash in between, but the code and the very pages of the
        next store are warm. False, nothing written, while a torn store's bytes are there."""
        return self._stored(self.tail.append_framed(record, dry), len(record) - _HEADER.size)

    def clear(self) -> None:
        """Every record is in SQLite: zero what was used (and a torn store's bytes) and start over."""
        self.tail.clear()

    def read(self) -> list[StagedTicket]:
        """The staged tickets found when the log was opened, in the order they were stored."""
        out = []
        for k, payload in enumerate(self._records, 1):
            try:
                out.append(StagedTicket.from_line(payload))
            except (ValueError, KeyError, TypeError) as e:
                raise IntentLogError(f"{self.path}: record {k} unreadable ({e}); refusing to drop an intent") from None
        return out

    def close(self) -> None:
        if not self._mm.closed:
            self._mm.close()
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock
            self._fd = -1


def staged_ticket_ids(
    journal_path: str | Path, known_orders: Callable[[list[str]], Container[str]] | None = None
) -> list[str]:
    """Read only: the tickets in a journal's intent log (``<journal>-intents``), for reports; with
    ``known_orders`` (given the log's client order ids, those SQLite has), only those with an
    order SQLite lacks. A running engine may still be about to flush them; after a crash the next
    start imports them."""
    p = Path(f"{journal_path}-intents")
    if not p.is_file():
        return []
    staged: list[StagedTicket | None] = []
    for payload in _scan(p.read_bytes(), p)[0]:
        try:
            staged.append(StagedTicket.from_line(payload))
        except (ValueError, IndexError, KeyError, TypeError):
            staged.append(None)
    known = known_orders([i.client_order_id for t in staged if t for i in t.intents]) if known_orders else None
    return [
        "<unreadable record>" if t is None else t.ticket_id
        for t in staged
        if t is None or known is None or any(i.client_order_id not in known for i in t.intents)
    ]
