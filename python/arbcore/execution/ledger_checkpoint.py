"""Ledger checkpoints: the whole ledger saved in the journal at a known ledger event, so that a
start loads the latest and replays only the events journaled after it.

A start used to replay every ledger event ever journaled (~30 us each: a day's million took half
a minute, and a desk's journal only grows). A checkpoint row holds :meth:`Ledger.snapshot` as
JSON and ``ledger_seq``, the last ``ledger_events.seq`` it covers; it is written in one SQLite
transaction that reads that seq, so a killed process leaves either the whole row or none of it.
Only the latest row is kept: a start needs no other, and the events stay as the audit trail.

Equal to a full replay: applying an event is a function of the ledger's state and the event, and
the snapshot is the whole state (every map in its insertion order, which decides the order of
later results and of ``held_tickets``), so replaying the same tail from it ends where a full
replay ends: same balances, reservations, results and errors.

Idempotence keys: the ledger remembers the applied event ids (with their first results) of the
tickets it still holds, and forgets them when a ticket is retired (``Ledger.retire``); so does
the snapshot, nothing more or less. An event replayed after the checkpoint of a held ticket is
still found applied (same result; other content: ``EventConflictError``), and one of a retired
ticket finds no reservation (``UnknownReservationError``), as after a full replay, whose ledger
forgot that ticket at its retire event too. The set does not grow with the journal: it is the
live tickets' (a few entries each).

The checkpoint must match the journaled events: it is written only when every change of the
ledger is in the journal or staged to it (staged tickets are flushed first, in order), never
inside ``Ledger.capture`` (:class:`CheckpointError`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from arbcore.execution.amounts import Asset
from arbcore.execution.errors import JournalError
from arbcore.execution.ledger import FillResult, Ledger, LedgerEvent, LedgerSnapshot
from arbcore.execution.records import ledger_event_from_dict, ledger_event_to_dict

log = logging.getLogger(__name__)

#: not in the journal's SCHEMA (``journal_schema.TABLES``): a journal from before checkpoints has
#: no such table and reads as before (every event replayed); a writable open adds it
CHECKPOINT_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    local_ns   INTEGER NOT NULL,
    ledger_seq INTEGER NOT NULL,
    format     INTEGER NOT NULL,
    body       TEXT NOT NULL
) STRICT;
"""

#: the body's layout; a checkpoint of another is not used (every event is replayed instead)
CHECKPOINT_FORMAT = 1


class CheckpointError(JournalError):
    """A checkpoint that would not match the journal (the ledger is inside ``capture``)."""


@dataclass(frozen=True)
class RestoredLedger:
    ledger: Ledger
    checkpoint_seq: int  # the last ledger event the checkpoint covered; 0: no checkpoint used
    replayed: int  # events applied after it

    @property
    def fresh(self) -> bool:
        """Nothing journaled: no checkpoint and no event."""
        return not self.checkpoint_seq and not self.replayed


def _result_to_json(r: FillResult | Mapping[str, int]) -> dict[str, Any]:
    def amounts(m: Mapping[str, int]) -> dict[str, str]:
        return {k: str(v) for k, v in m.items()}

    if isinstance(r, FillResult):
        return {"applied": r.applied, "deltas": amounts(r.deltas), "from_reservation": amounts(r.from_reservation),
                "from_available": amounts(r.from_available)}  # fmt: skip
    return {"released": amounts(r)}


def _result_from_json(d: Mapping[str, Any]) -> FillResult | dict[str, int]:
    def amounts(m: Mapping[str, str]) -> dict[str, int]:
        return {k: int(v) for k, v in m.items()}

    if "released" in d:
        return amounts(d["released"])
    return FillResult(d["applied"], amounts(d["deltas"]), amounts(d["from_reservation"]), amounts(d["from_available"]))


def encode_snapshot(s: LedgerSnapshot) -> str:
    """The snapshot as the checkpoint's JSON body (amounts as decimal text: beyond 64 bits)."""
    return orjson.dumps({
        "changes": s.changes,
        "assets": [[a.name, a.decimals] for a in s.assets],
        "balances": [[v, n, str(total), str(reserved)] for v, n, total, reserved in s.balances],
        "legs": [[t, leg, venue, list(names)] for t, leg, venue, names in s.legs],
        "reservations": [[*key, venue, str(amount), str(left)] for key, venue, amount, left in s.reservations],
        "tickets": [[t, list(legs)] for t, legs in s.tickets],
        "applied": [[ledger_event_to_dict(ev), _result_to_json(r)] for ev, r in s.applied],
        "ticket_events": [[t, [list(k) for k in keys]] for t, keys in s.ticket_events],
    }).decode()  # fmt: skip


def decode_snapshot(text: str) -> LedgerSnapshot:
    d = orjson.loads(text)
    return LedgerSnapshot(
        int(d["changes"]),
        tuple(Asset(name, dec) for name, dec in d["assets"]),
        tuple((v, n, int(total), int(reserved)) for v, n, total, reserved in d["balances"]),
        tuple((t, leg, venue, tuple(names)) for t, leg, venue, names in d["legs"]),
        tuple(((t, leg, n), venue, int(amount), int(left)) for t, leg, n, venue, amount, left in d["reservations"]),
        tuple((t, tuple(legs)) for t, legs in d["tickets"]),
        tuple((ledger_event_from_dict(ev), _result_from_json(r)) for ev, r in d["applied"]),
        tuple((t, tuple((leg, e) for leg, e in keys)) for t, keys in d["ticket_events"]),
    )


def checkpoint_body(ledger: Ledger) -> str:
    """The ledger's checkpoint body; refused inside ``capture`` (its changes are not journaled yet)."""
    if ledger.capturing:
        raise CheckpointError("no ledger checkpoint inside Ledger.capture: its changes are not in the journal yet")
    return encode_snapshot(ledger.snapshot())


def insert_checkpoint(conn: sqlite3.Connection, local_ns: int, body: str) -> int:
    """Store ``body`` as the latest checkpoint, at the journal's last ledger event, in the caller's
    transaction (which must hold the write lock: nothing may be appended in between); the older
    checkpoint goes. Returns the ledger event it covers."""
    (seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_events").fetchone()
    cur = conn.execute(
        "INSERT INTO ledger_checkpoints (local_ns, ledger_seq, format, body) VALUES (?, ?, ?, ?)",
        (local_ns, seq, CHECKPOINT_FORMAT, body),
    )
    conn.execute("DELETE FROM ledger_checkpoints WHERE seq < ?", (cur.lastrowid,))
    return int(seq)


def _latest(conn: sqlite3.Connection, where: str) -> tuple[int, Ledger] | None:
    """The latest usable checkpoint: its ledger event and its ledger; None (with a warning when one
    was there but is not usable) to replay every event."""
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='ledger_checkpoints'").fetchone()
    if has is None:  # a journal from before checkpoints, opened read-only
        return None
    row = conn.execute("SELECT ledger_seq, format, body FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return None
    seq, fmt, body = row
    (last,) = conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_events").fetchone()
    problem = ""
    if fmt != CHECKPOINT_FORMAT:
        problem = f"its format is {fmt}, this code reads {CHECKPOINT_FORMAT}"
    elif seq > last:
        problem = f"it covers ledger event {seq}, the journal's last is {last}"
    else:
        try:
            ledger = Ledger.restore(decode_snapshot(body))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            problem = f"its body is unreadable ({type(e).__name__})"
        else:
            bad = ledger.violations()
            if bad:
                problem = f"its ledger is unsound ({bad[0]})"
    if problem:
        log.warning("%s: ledger checkpoint not used, %s: every ledger event is replayed", where, problem)
        return None
    return seq, ledger


def restore_ledger(
    conn: sqlite3.Connection,
    read_events: Callable[[int], list[LedgerEvent]],
    sink: Callable[[LedgerEvent], None] | None,
    where: str,
) -> RestoredLedger:
    """The ledger as the journal leaves it: the latest checkpoint plus the events after it
    (``read_events(seq)``: those after ``seq``), or every event when there is none."""
    latest = _latest(conn, where)
    if latest is None:
        events = read_events(0)
        return RestoredLedger(Ledger.replay(events, sink), 0, len(events))
    seq, ledger = latest
    tail = read_events(seq)
    for ev in tail:
        ledger.apply(ev)
    ledger.set_sink(sink)
    return RestoredLedger(ledger, seq, len(tail))


class LedgerCheckpoints:
    """When a running session writes its ledger's checkpoint: once ``every`` changes were made
    since the last (``Ledger.changes``: retirements not counted), at a quiet moment (no ticket in
    flight), or at twice that whatever is in flight, so a busy desk's next start stays bounded."""

    def __init__(self, write: Callable[[Ledger], int], ledger: Ledger, every: int, *, since: int = 0) -> None:
        """``since``: changes not covered by a checkpoint already (the events a start replayed)."""
        self._write = write
        self.ledger = ledger
        self.every = every
        self._at = ledger.changes - since
        self.written = 0
        self.last_s = 0.0  # how long the last write took

    @property
    def pending(self) -> int:
        """Changes since the last checkpoint."""
        return self.ledger.changes - self._at

    def due(self, *, quiet: bool) -> bool:
        return self.pending >= (self.every if quiet else 2 * self.every)

    def write(self) -> int:
        """Write one now; returns the ledger event it covers. A write that fails (a full disk)
        counts as one for when the next is due: tried again after ``every`` more changes, not at
        every timer tick (each try encodes the whole ledger and logs a warning)."""
        t0 = time.perf_counter()
        try:
            seq = self._write(self.ledger)
        finally:
            self.last_s = time.perf_counter() - t0
            self._at = self.ledger.changes
        self.written += 1
        log.debug("ledger checkpoint at ledger event %d in %.1f ms", seq, self.last_s * 1e3)
        return seq
