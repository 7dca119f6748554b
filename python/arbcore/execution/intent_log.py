"""The intent log: a decided ticket on disk in one ``write()``, before its first order leaves.

Why not SQLite on the order path: committing a ticket (its row, its reservations, both intents)
costs a few hundred microseconds of Python and SQLite even without an fsync, and the rule "the
journal knows every order before it may be at a venue" only needs the facts on disk, not indexed.
So the ticket path appends one line to this file (one syscall, a few microseconds), sends both
orders, and then writes the same facts into the SQLite journal (:meth:`Journal.flush`); every
other journal access flushes first, so SQLite never sees an event of an order before the order.

A ``write()`` that returned is in the kernel's page cache: it survives SIGKILL, the crash the
tests inflict. Surviving an OS crash or power loss needs an fsync per ticket (milliseconds on a
disk); ``fsync=True`` (the journal's ``durable_intents``) does it.

At open, the journal imports every line whose ticket SQLite lacks (the process died between the
write and the flush), in file order, then empties the file. A last line without its newline is a
write the crash cut short: its orders were never sent (the send follows the write's return), so
it is dropped. Any other unreadable line stops the import with :class:`IntentLogError`: dropping
an intent whose order may be at a venue would lose track of it.

One line: ``[ticket_id, instrument, buy_venue, sell_venue, detail, [ledger events], [intents]]``,
JSON, no secrets (the journal checks the line against its registered secrets before writing it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

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
    reservations, and its intents. ``detail`` is the ticket's detail as journal JSON text."""

    ticket_id: str
    instrument: str
    buy_venue: str
    sell_venue: str
    detail: str
    ledger_events: tuple[LedgerEvent, ...]
    intents: tuple[OrderIntent, ...]

    def to_line(self) -> bytes:
        """One JSON array and a newline, built in one ``orjson.dumps`` (this is on the order path)."""
        ledger = [
            [ev.kind, ev.venue, ev.ticket_id, ev.leg_id, ev.event_id,
             [[role, a.asset.name, a.asset.decimals, str(a.value)] for role, a in ev.amounts], ev.reason]
            for ev in self.ledger_events
        ]  # fmt: skip
        row = [self.ticket_id, self.instrument, self.buy_venue, self.sell_venue, self.detail, ledger,
               [_intent_row(i) for i in self.intents]]  # fmt: skip
        return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)

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
        i.qty_decimals, i.side.value, i.order_type.value, i.tif.value, str(i.qty),
        None if i.limit_price is None else str(i.limit_price), i.post_only,
    ]  # fmt: skip


def _intent_from_row(r: list[Any]) -> OrderIntent:
    return OrderIntent(
        r[0], r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7], int(r[8]), int(r[9]), Side(r[10]), OrderType(r[11]),
        TimeInForce(r[12]), int(r[13]), None if r[14] is None else int(r[14]), bool(r[15]),
    )  # fmt: skip


class IntentLog:
    """The append-only file; see the module docstring."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, line: bytes) -> None:
        """One line, whole, in one write (a short write is finished, never left half)."""
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if self.fsync:
            os.fsync(self._fd)

    def clear(self) -> None:
        """Every line is in SQLite: start the file over (O_APPEND writes go to the new end)."""
        os.ftruncate(self._fd, 0)

    def read(self) -> list[StagedTicket]:
        """The staged tickets in file order; a torn last line is dropped (see the module docstring)."""
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        out = []
        for n, line in enumerate(lines[:-1], 1):  # the part after the last newline is torn or empty
            try:
                out.append(StagedTicket.from_line(line))
            except (ValueError, KeyError, TypeError) as e:
                raise IntentLogError(f"{self.path}: line {n} unreadable ({e}); refusing to drop an intent") from None
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def staged_ticket_ids(journal_path: str | Path) -> list[str]:
    """Read only: the tickets in a journal's intent log (``<journal>-intents``), for reports. A
    running engine may still be about to flush them; after a crash the next start imports them."""
    p = Path(f"{journal_path}-intents")
    if not p.is_file():
        return []
    ids = []
    for line in p.read_bytes().split(b"\n")[:-1]:
        try:
            ids.append(str(orjson.loads(line)[0]))
        except (ValueError, IndexError, KeyError, TypeError):
            ids.append("<unreadable line>")
    return ids
