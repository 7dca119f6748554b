"""The crash-safe journal: tickets, orders, order events, ledger events and balance snapshots.

One SQLite file in WAL mode. Rules:

- **Intent first.** Nothing may be sent before the journal has its intent on disk. Two ways:
  :meth:`Journal.write_intent` commits to SQLite (``synchronous=FULL`` by default: the WAL is
  fsynced) before it returns; the ticket path instead calls :meth:`Journal.stage`, one store into
  the intent log (``intent_log.py``), and the same rows reach SQLite at :meth:`Journal.flush` or
  before any other access of this journal, whichever comes first. After any crash the journal
  knows every order that may be at a venue (the log is imported when the journal opens), and
  its deterministic client order id, so restart reconciliation queries the venue by that id.
- Every other event is appended with a local timestamp (integer ns) in its own transaction at
  ``synchronous=NORMAL`` by default: in WAL mode that survives a killed process (only an OS crash
  can lose the last few), and what it could lose is what the venue still knows and reconciliation
  re-reads. ``durable_events=True`` makes every commit FULL.
- Amounts are stored as integer decimal text: quantities are u64 and notionals u128 in the core,
  beyond SQLite's signed 64-bit INTEGER.
- A fill is keyed by (client order id, fill id): a replayed fill is stored once.
- Secrets never go in: detail values under secret-looking keys are redacted, and any text that
  contains a registered secret (``secrets=``) is refused with :class:`SecretInJournalError` before
  anything is written.

Restart, in this order (the engine's job; each step is idempotent, so a crash during it is fine):

1. ``ledger = journal.ledger_replay(sink=journal.append_ledger_event)``: the ledger as journaled
   (its latest checkpoint and the events after it: ``ledger_checkpoint.py``).
2. For each of :meth:`Journal.open_orders`: query the venue by client order id; append the
   missing fills (keyed by fill id, so known ones are skipped) and a QUERY event with the venue's
   state; apply the same fills to the ledger (keyed the same way) and release what a terminal
   order no longer needs. An order the venue never saw is resolved from its answer, never resent
   under a new id.
3. ``ledger.reconcile(venue, balances)`` per venue, journaling the venue's balances with
   :meth:`Journal.write_balance_snapshot`; any difference is reported, adopted only on purpose.

This class is blocking and single-threaded (the connection stays on the thread that opened it).
The trading session calls it on the event loop: its commits are WAL appends without an fsync
(``synchronous=NORMAL``, tens of microseconds) and the order path only stages into the intent
log before sending. :class:`arbcore.execution.async_journal.AsyncJournal` runs it on a worker
thread instead, for callers that want every commit fsynced without stalling a loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from arbcore.execution.amounts import Asset, Rounding, rescale
from arbcore.execution.checkpoint_rows import replace_row, table_schema
from arbcore.execution.daily_pnl import (
    DAILY_PNL_FORMAT,
    DAILY_PNL_TABLE,
    daily_pnl,
    insert_daily_pnl_checkpoint,
    sum_realised,
)
from arbcore.execution.errors import (
    FillConflictError,
    IntentConflictError,
    JournalError,
    JournalOpenError,
    OverfillError,
    SecretInJournalError,
    UnknownOrderError,
)
from arbcore.execution.intent_log import IntentLog, StagedTicket, staged_ticket_ids
from arbcore.execution.journal_readonly import connect_readonly
from arbcore.execution.journal_schema import SCHEMA, SCHEMA_VERSION, schema_problem
from arbcore.execution.ledger import Balance, Ledger, LedgerEvent
from arbcore.execution.ledger_checkpoint import (
    CHECKPOINT_SCHEMA,
    RestoredLedger,
    checkpoint_body,
    insert_checkpoint,
    restore_ledger,
)
from arbcore.execution.orders import TERMINAL_STATES, EventKind, OrderState, OrderType, Side, TimeInForce, next_state
from arbcore.execution.pnl import PairPnl, PnlFill, TicketPnl, pair_pnl, ticket_pnl
from arbcore.execution.records import (
    Fill,
    OrderEvent,
    OrderIntent,
    OrderRecord,
    TicketRecord,
    dump_detail,
    ledger_event_from_json,
    ledger_event_to_json,
    opt_int,
)
from arbcore.execution.residual_checkpoint import (
    RESIDUAL_FORMAT,
    RESIDUAL_TABLE,
    ResidualState,
    insert_residual_checkpoint,
    residual_state,
)

#: the tickets created at or after a time (one parameter): what a report since then covers
_TICKETS_SINCE = "SELECT ticket_id FROM tickets WHERE created_ns >= ?"


class Journal:
    """Blocking journal on one SQLite file; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], int] = time.time_ns,
        secrets: Iterable[str] = (),
        durable_events: bool = False,
        durable_intents: bool = True,
        intent_log: bool | str | Path = False,
        readonly: bool = False,
    ) -> None:
        """``readonly``: read an existing journal and never write to its file (reports; see
        ``journal_readonly``), :class:`JournalOpenError` if it is not a journal of this schema
        version; writes then fail (SQLite refuses them). Otherwise the file is created if need be."""
        self.path = Path(path)
        self.readonly = readonly
        self._clock = clock
        self._secrets = tuple(s for s in secrets if s)
        self._secret_bytes = tuple(s.encode() for s in self._secrets)  # the intent log checks bytes
        self._event_sync = "FULL" if durable_events else "NORMAL"
        # FULL fsyncs the WAL before an intent returns (survives an OS crash, costs a disk flush,
        # milliseconds); NORMAL survives a killed process (the SIGKILL crash tests) at ~10 us.
        self._intent_sync = "FULL" if durable_intents else "NORMAL"
        #: staged in the intent log, not yet in SQLite, with the time each was staged: its ticket's
        #: time in SQLite (a flush comes later: the ticket's row must say when it was decided)
        self._pending: list[tuple[StagedTicket, int]] = []
        self._sync = ""
        self._batching = False
        self._log: IntentLog | None = None
        if readonly:
            if intent_log:
                raise ValueError("a read-only journal has no intent log")
            self._conn = connect_readonly(self.path)
            try:
                problem = schema_problem(self._conn)
                if problem is not None:
                    raise JournalOpenError(f"{self.path}: {problem}")
            except BaseException:
                self._conn.close()
                raise
            return
        # Autocommit mode: every write below runs in an explicit BEGIN IMMEDIATE ... COMMIT.
        self._conn = sqlite3.connect(self.path, isolation_level=None)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"{self.path}: could not enable WAL (journal_mode={mode})")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._set_sync("FULL")
        # executescript commits any open transaction first, so the script brings its own.
        sides = table_schema(RESIDUAL_TABLE) + table_schema(DAILY_PNL_TABLE)  # (the ledger checkpoint's rows beside it)
        self._db.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}{CHECKPOINT_SCHEMA}{sides}"
            f"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
        )
        version = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        if int(version) != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"{self.path}: schema version {version}, this code reads {SCHEMA_VERSION}")
        if intent_log:
            log_path = Path(f"{self.path}-intents") if intent_log is True else Path(intent_log)
            try:
                self._log = IntentLog(log_path, fsync=durable_intents)
                self._import_log()
            except BaseException:
                self.close()
                raise

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection, after the staged tickets are in it: nothing in SQLite (a read or an
        event of one of their orders) may come before them."""
        if self._pending:
            self.flush()
        return self._conn

    def close(self) -> None:
        if self._pending:
            self.flush()
        self._conn.close()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ---------------------------------------------------------------------------

    def _set_sync(self, level: str) -> None:
        if self._sync != level:  # the pragma must be set outside a transaction
            self._db.execute(f"PRAGMA synchronous={level}")
            self._sync = level

    @contextmanager
    def _tx(self, sync: str | None = None) -> Iterator[None]:
        if self._batching:
            yield  # inside batch(): its one COMMIT covers this write
            return
        if self._pending:
            self.flush()  # staged tickets first, in their own commit at the intents' durability
        self._set_sync(sync or self._event_sync)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction with one commit, at the intents' durability.

        The ticket path writes the ticket, both reservations and both intents before the first
        order leaves; one commit instead of five is most of the decision-to-wire time that SQLite
        takes (a commit is a WAL write, ~15 us with synchronous=NORMAL, an fsync with FULL). The
        guarantee is unchanged: all of it is on disk before ``batch`` returns, or none of it.
        """
        if self._batching:
            yield
            return
        if self._pending:
            self.flush()
        self._set_sync(self._intent_sync)
        self._db.execute("BEGIN IMMEDIATE")
        self._batching = True
        try:
            yield
        except BaseException:
            self._batching = False
            self._db.execute("ROLLBACK")
            raise
        self._batching = False
        self._db.execute("COMMIT")

    # ---- staged tickets (intent log) --------------------------------------------------------

    def stage(self, t: StagedTicket) -> None:
        """Put a decided ticket on disk before its orders are sent.

        With an intent log: one record stored (see ``intent_log``); SQLite gets it at the next
        :meth:`flush` or at any other access of this journal, whichever comes first. Without one:
        written to SQLite now, in one transaction. Either way it is on disk when this returns.
        """
        if self._log is None:
            self._write_staged(t, self._clock())
            return
        self.store_record(t.to_line())
        self._pending.append((t, self._clock()))

    @property
    def has_intent_log(self) -> bool:
        return self._log is not None

    @property
    def intent_log(self) -> IntentLog | None:
        """The intent log itself, for a caller that stores framed records (``IntentLog.append_framed``)
        and turns to :meth:`store_framed` when it is full."""
        return self._log

    def store_record(self, line: bytes) -> None:
        """Store a ticket's intent record (``StagedTicket.to_line``) in the intent log; needs one.
        (The Rust order path stores its own with :meth:`store_framed`, then calls :meth:`staged`
        once its orders left.)"""
        log = self._log
        if log is None:
            raise JournalError("store_record needs a journal with an intent log")
        if any(s in line for s in self._secret_bytes):
            raise SecretInJournalError("refused to journal a value containing a registered secret")
        if not log.append(line):  # the log is full: make room (SQLite takes what it holds)
            self.flush()
            log.append(line)

    def store_framed(self, record: bytes, dry: bool = False) -> None:
        """:meth:`store_record` for a record the Rust order path framed (length, CRC-32, payload)
        and checked against :attr:`secret_bytes` itself. ``dry``: the order path's dry run, which
        changes nothing (``IntentLog.append_framed``)."""
        log = self._log
        if log is None:
            raise JournalError("store_framed needs a journal with an intent log")
        if not log.append_framed(record, dry) and not dry:  # the log is full: make room (SQLite takes what it holds)
            self.flush()
            log.append_framed(record)

    @property
    def secret_bytes(self) -> tuple[bytes, ...]:
        """The registered secrets, encoded: no journal record may contain one."""
        return self._secret_bytes

    def staged(self, t: StagedTicket) -> None:
        """The ticket whose record :meth:`store_framed` stored: owed to SQLite at the next flush."""
        self._pending.append((t, self._clock()))

    def flush(self) -> None:
        """Write the staged tickets into SQLite (one transaction) and empty the intent log."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            with self.batch():
                for t, ns in pending:
                    self._write_staged(t, ns)
        except BaseException:
            self._pending = pending + self._pending  # still owed to SQLite; the log keeps them meanwhile
            raise
        if self._log is not None and not self._pending:
            self._log.clear()

    def _write_staged(self, t: StagedTicket, created_ns: int) -> None:
        with self.batch():
            if t.detail is not None:
                self.write_ticket(t.ticket_id, t.instrument, t.buy_venue, t.sell_venue, detail_text=t.detail,
                                  created_ns=created_ns)  # fmt: skip
            for ev in t.ledger_events:
                self.append_ledger_event(ev)
            for intent in t.intents:
                self.write_intent(intent)

    def _import_log(self) -> None:
        """At open: tickets the log has and SQLite lacks (a crash came between write and flush)."""
        assert self._log is not None
        # a record is all-or-nothing in SQLite (one transaction): its first order tells. Only the
        # log's ids are looked up (reading every order id took ~0.3 s per 100k tickets at each open)
        staged = [t for t in self._log.read() if t.intents]
        known = self._known_orders([t.intents[0].client_order_id for t in staged])
        missing = [t for t in staged if t.intents[0].client_order_id not in known]
        if missing:
            with self.batch():
                for t in missing:  # (when each was staged is not in the log: now)
                    self._write_staged(t, self._clock())
        self._log.clear()

    def staged_only(self) -> list[str]:
        """Read only: tickets with orders in this journal's intent log that SQLite lacks (another
        process's log: a running engine about to flush, or a crashed one its next start imports)."""
        return staged_ticket_ids(self.path, self._known_orders)

    def _known_orders(self, client_order_ids: list[str]) -> set[str]:
        """Those of these client order ids SQLite has (looked up, not every order read)."""
        if not client_order_ids:
            return set()
        rows = self._db.execute(
            "SELECT client_order_id FROM orders WHERE client_order_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(client_order_ids).decode(),),
        )
        return {r[0] for r in rows}

    def append_ledger_events(self, events: Iterable[LedgerEvent]) -> None:
        """Several ledger changes in one transaction (a refused ticket's reserve and release)."""
        with self.batch():
            for ev in events:
                self.append_ledger_event(ev)

    def _guard(self, *texts: str | None) -> None:
        for t in texts:
            if t and any(s in t for s in self._secrets):
                raise SecretInJournalError("refused to journal a value containing a registered secret")

    # ---- tickets and intents ----------------------------------------------------------------

    def write_ticket(
        self,
        ticket_id: str,
        instrument: str,
        buy_venue: str,
        sell_venue: str,
        detail: Mapping[str, Any] | None = None,
        *,
        detail_text: str | None = None,
        created_ns: int | None = None,
    ) -> None:
        """Record a decided ticket; idempotent for identical content, IntentConflictError otherwise.
        ``detail_text`` is the detail already as :func:`dump_detail` text (a staged ticket's);
        ``created_ns`` when it was decided (default: now)."""
        d = detail_text if detail_text is not None else dump_detail(detail)
        self._guard(ticket_id, instrument, buy_venue, sell_venue, d)
        # Insert first, compare only on a key conflict: a new ticket (the hot path) costs one statement.
        ns = self._clock() if created_ns is None else created_ns
        try:
            with self._tx():
                row = (ticket_id, ns, instrument, buy_venue, sell_venue, d)
                self._db.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?)", row)
        except sqlite3.IntegrityError:
            row = self._db.execute(
                "SELECT instrument, buy_venue, sell_venue, detail FROM tickets WHERE ticket_id=?", (ticket_id,)
            ).fetchone()
            if row is None:
                raise
            if tuple(row) != (instrument, buy_venue, sell_venue, d):
                raise IntentConflictError(f"ticket {ticket_id!r} exists with other content: {tuple(row)}") from None

    def write_ticket_outcome(self, ticket_id: str, status: str, detail: Mapping[str, Any] | None = None) -> None:
        """Append how a ticket ended (or a later change: a residual hedged after restart, say)."""
        d = dump_detail(detail)
        self._guard(ticket_id, status, d)
        with self._tx():
            self._db.execute(
                "INSERT INTO ticket_outcomes (ticket_id, local_ns, status, detail) VALUES (?, ?, ?, ?)",
                (ticket_id, self._clock(), status, d),
            )

    def ticket_outcomes(
        self, ticket_id: str | None = None, *, since_ns: int | None = None
    ) -> list[tuple[str, int, str, dict[str, Any]]]:
        """(ticket_id, local_ns, status, detail) in journal order; the last row per ticket is current.
        Every ticket's, one's, or (``since_ns``) those of the tickets created at or after it."""
        q = "SELECT ticket_id, local_ns, status, detail FROM ticket_outcomes"
        if ticket_id is not None:
            rows = self._db.execute(q + " WHERE ticket_id=? ORDER BY seq", (ticket_id,))
        elif since_ns is not None:
            rows = self._db.execute(q + f" WHERE ticket_id IN ({_TICKETS_SINCE}) ORDER BY seq", (since_ns,))
        else:
            rows = self._db.execute(q + " ORDER BY seq")
        return [(r[0], r[1], r[2], orjson.loads(r[3])) for r in rows]

    def write_intent(self, intent: OrderIntent, detail: Mapping[str, Any] | None = None) -> str:
        """Durably record an order before it is sent; returns its client order id.

        Idempotent: the same (ticket, leg, attempt) with the same fields returns the same id and
        writes nothing; with different fields it raises :class:`IntentConflictError`. The ticket must
        have been written first.
        """
        cid = intent.client_order_id
        if intent.qty <= 0 or (intent.limit_price is None) != (intent.order_type is OrderType.MARKET):
            raise ValueError(f"intent {cid}: qty {intent.qty}, {intent.order_type} with limit {intent.limit_price}")
        d = dump_detail(detail)
        self._guard(intent.ticket_id, intent.leg_id, intent.venue, intent.symbol, intent.instrument, d)
        now = self._clock()
        i = intent
        # Insert first (one statement for a new intent, the hot path); on a key conflict, compare.
        try:
            with self._tx(sync=self._intent_sync):
                self._db.execute(
                    "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        cid, i.ticket_id, i.leg_id, i.attempt, i.venue, i.symbol, i.instrument, i.base, i.quote,
                        i.price_decimals, i.qty_decimals, i.side.value, i.order_type.value, i.tif.value,
                        int(i.post_only), str(i.qty), None if i.limit_price is None else str(i.limit_price),
                        OrderState.INTENT.value, "0", None, now, now,
                    ),
                )  # fmt: skip
                self._insert_event(
                    cid, EventKind.INTENT, now=now, venue_ns=None, state=OrderState.INTENT, fill=None,
                    venue_order_id=None, detail=d,
                )  # fmt: skip
        except sqlite3.IntegrityError:
            existing = self._order_or_none(cid)
            if existing is None:
                raise  # not a duplicate: e.g. the ticket was never written
            if existing.intent != intent:
                raise IntentConflictError(f"intent {cid} exists with other fields: {existing.intent}") from None
        return cid

    # ---- order events -----------------------------------------------------------------------

    def append_event(
        self,
        client_order_id: str,
        kind: EventKind,
        *,
        venue_ns: int | None = None,
        fill: Fill | None = None,
        reported_state: OrderState | None = None,
        venue_order_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> OrderEvent | None:
        """Append one event and update the order's state; returns it, or None for a replayed fill.

        ``fill`` is required for FILL events; ``reported_state`` (the venue's answer mapped to
        :class:`OrderState`) for QUERY events. A fill beyond the order's quantity raises
        :class:`OverfillError`; a known fill id with other numbers :class:`FillConflictError`.
        """
        if kind is EventKind.INTENT:
            raise ValueError("intents are written with write_intent")
        if (fill is not None) != (kind is EventKind.FILL):
            raise ValueError(f"{kind} event for {client_order_id}: fill {fill!r}")
        d = dump_detail(detail)
        self._guard(venue_order_id, d, fill.fill_id if fill else None)
        with self._tx():
            order = self._order_or_none(client_order_id)
            if order is None:
                raise UnknownOrderError(f"no order {client_order_id!r} in the journal")
            filled = order.filled_qty
            if fill is not None:
                prior = self._db.execute(
                    "SELECT fill_qty, fill_price, fee, fee_asset, fee_decimals FROM order_events "
                    "WHERE client_order_id=? AND fill_id=?",
                    (client_order_id, fill.fill_id),
                ).fetchone()
                if prior is not None:
                    same = (str(fill.qty), str(fill.price), str(fill.fee), fill.fee_asset, fill.fee_decimals)
                    if tuple(prior) != same:
                        raise FillConflictError(
                            f"fill {fill.fill_id!r} of {client_order_id} was {tuple(prior)}, now {same}"
                        )
                    return None
                if fill.qty <= 0 or filled + fill.qty > order.intent.qty:
                    raise OverfillError(
                        f"fill {fill.fill_id!r} of {fill.qty} on {client_order_id}: "
                        f"filled {filled} of {order.intent.qty}"
                    )
                filled += fill.qty
            state = next_state(order.state, kind, filled, order.intent.qty, reported_state)
            now = self._clock()
            vid = venue_order_id or order.venue_order_id
            seq = self._insert_event(
                client_order_id, kind, now=now, venue_ns=venue_ns, state=state, fill=fill,
                venue_order_id=venue_order_id, detail=d,
            )  # fmt: skip
            self._db.execute(
                "UPDATE orders SET state=?, filled_qty=?, venue_order_id=?, updated_ns=? WHERE client_order_id=?",
                (state.value, str(filled), vid, now, client_order_id),
            )
        return OrderEvent(seq, client_order_id, kind, now, venue_ns, state, fill, venue_order_id, orjson.loads(d))

    def _insert_event(
        self,
        cid: str,
        kind: EventKind,
        *,
        now: int,
        venue_ns: int | None,
        state: OrderState,
        fill: Fill | None,
        venue_order_id: str | None,
        detail: str,
    ) -> int:
        f = fill
        cur = self._db.execute(
            "INSERT INTO order_events (client_order_id, kind, local_ns, venue_ns, state_after, fill_id, fill_qty, "
            "fill_price, fee, fee_asset, fee_decimals, venue_order_id, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                cid, kind.value, now, venue_ns, state.value,
                f and f.fill_id, f and str(f.qty), f and str(f.price), f and str(f.fee),
                f and f.fee_asset, f and f.fee_decimals, venue_order_id, detail,
            ),
        )  # fmt: skip
        assert cur.lastrowid is not None
        return cur.lastrowid

    # ---- reading orders ---------------------------------------------------------------------

    _ORDER_COLS = (
        "client_order_id, ticket_id, leg_id, attempt, venue, symbol, instrument, base_asset, quote_asset, "
        "price_decimals, qty_decimals, side, order_type, tif, post_only, qty, limit_price, state, filled_qty, "
        "venue_order_id, created_ns, updated_ns"
    )

    @staticmethod
    def _order_from_row(r: tuple[Any, ...]) -> OrderRecord:
        intent = OrderIntent(
            r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
            Side(r[11]), OrderType(r[12]), TimeInForce(r[13]), int(r[15]), opt_int(r[16]), bool(r[14]),
        )  # fmt: skip
        return OrderRecord(r[0], intent, OrderState(r[17]), int(r[18]), r[19], r[20], r[21])

    def _order_or_none(self, cid: str) -> OrderRecord | None:
        row = self._db.execute(f"SELECT {self._ORDER_COLS} FROM orders WHERE client_order_id=?", (cid,)).fetchone()
        return None if row is None else self._order_from_row(row)

    def order(self, client_order_id: str) -> OrderRecord:
        o = self._order_or_none(client_order_id)
        if o is None:
            raise UnknownOrderError(f"no order {client_order_id!r} in the journal")
        return o

    def orders(self, ticket_id: str | None = None, *, since_ns: int | None = None) -> list[OrderRecord]:
        """Orders in the order they were created: every one, one ticket's, or (``since_ns``) those
        of the tickets created at or after it."""
        q = f"SELECT {self._ORDER_COLS} FROM orders"
        if ticket_id is not None:
            rows = self._db.execute(q + " WHERE ticket_id=? ORDER BY created_ns, rowid", (ticket_id,))
        elif since_ns is not None:
            rows = self._db.execute(
                q + f" WHERE ticket_id IN ({_TICKETS_SINCE}) ORDER BY created_ns, rowid", (since_ns,)
            )
        else:
            rows = self._db.execute(q + " ORDER BY created_ns, rowid")
        return [self._order_from_row(r) for r in rows]

    def orders_of(self, ticket_ids: Collection[str]) -> list[OrderRecord]:
        """The orders of these tickets, in the order they were created (as :meth:`orders`): one
        query, however many (the ids go in as one JSON array)."""
        if not ticket_ids:
            return []
        rows = self._db.execute(
            f"SELECT {self._ORDER_COLS} FROM orders WHERE ticket_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY created_ns, rowid",
            (orjson.dumps(list(ticket_ids)).decode(),),
        )
        return [self._order_from_row(r) for r in rows]

    def open_orders(self) -> list[OrderRecord]:
        """Orders whose last state is not terminal: what restart reconciliation must query."""
        marks = ",".join("?" * len(TERMINAL_STATES))
        rows = self._db.execute(
            f"SELECT {self._ORDER_COLS} FROM orders WHERE state NOT IN ({marks}) ORDER BY created_ns, rowid",
            tuple(s.value for s in TERMINAL_STATES),
        )
        return [self._order_from_row(r) for r in rows]

    def events(self, client_order_id: str | None = None, *, since_ns: int | None = None) -> list[OrderEvent]:
        """Order events in the order they were journaled: of all orders, one, or (``since_ns``) the
        orders of the tickets created at or after it."""
        q = (
            "SELECT seq, client_order_id, kind, local_ns, venue_ns, state_after, fill_id, fill_qty, fill_price, "
            "fee, fee_asset, fee_decimals, venue_order_id, detail FROM order_events"
        )
        if client_order_id is not None:
            rows = self._db.execute(q + " WHERE client_order_id=? ORDER BY seq", (client_order_id,))
        elif since_ns is not None:
            rows = self._db.execute(
                q + " WHERE client_order_id IN "
                f"(SELECT client_order_id FROM orders WHERE ticket_id IN ({_TICKETS_SINCE})) ORDER BY seq",
                (since_ns,),
            )
        else:
            rows = self._db.execute(q + " ORDER BY seq")
        out = []
        for r in rows:
            fill = None if r[6] is None else Fill(r[6], int(r[7]), int(r[8]), int(r[9]), r[10], r[11])
            out.append(
                OrderEvent(r[0], r[1], EventKind(r[2]), r[3], r[4], OrderState(r[5]), fill, r[12], orjson.loads(r[13]))
            )
        return out

    def tickets(self, since_ns: int | None = None) -> list[TicketRecord]:
        """Every ticket in the order they were created, or those created at or after ``since_ns``."""
        q = "SELECT ticket_id, created_ns, instrument, buy_venue, sell_venue, detail FROM tickets"
        rows = (
            self._db.execute(q + " WHERE created_ns >= ? ORDER BY created_ns, rowid", (since_ns,))
            if since_ns is not None
            else self._db.execute(q + " ORDER BY created_ns, rowid")
        )
        return [TicketRecord(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5])) for r in rows]

    def tickets_of(self, ticket_ids: Collection[str]) -> list[TicketRecord]:
        """These tickets, in the order they were created (as :meth:`tickets`): one query."""
        if not ticket_ids:
            return []
        rows = self._db.execute(
            "SELECT ticket_id, created_ns, instrument, buy_venue, sell_venue, detail FROM tickets "
            "WHERE ticket_id IN (SELECT value FROM json_each(?)) ORDER BY created_ns, rowid",
            (orjson.dumps(list(ticket_ids)).decode(),),
        )
        return [TicketRecord(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5])) for r in rows]

    def residual_state(self) -> ResidualState:
        """What a start needs of every ticket and outcome to restore the residuals: the latest
        residual checkpoint and the rows after it (see ``residual_checkpoint``). Read in full, it
        is saved: else the next periodic checkpoint, in the middle of trading, reads it all again."""
        state, full = residual_state(self._db, str(self.path))
        if full and not self.readonly:
            with self._tx():
                replace_row(self._db, RESIDUAL_TABLE, RESIDUAL_FORMAT, state.encode())
        return state

    # ---- ledger -----------------------------------------------------------------------------

    def append_ledger_event(self, ev: LedgerEvent) -> None:
        """Journal one applied ledger change (pass this as the ledger's ``sink``)."""
        body = ledger_event_to_json(ev)
        self._guard(body)
        with self._tx():
            self._db.execute("INSERT INTO ledger_events (local_ns, body) VALUES (?, ?)", (self._clock(), body))

    def ledger_events(self, after: int = 0) -> list[LedgerEvent]:
        """The journaled ledger events in order: every one, or those whose seq is above ``after``."""
        rows = self._db.execute("SELECT body FROM ledger_events WHERE seq > ? ORDER BY seq", (after,))
        return [ledger_event_from_json(b) for (b,) in rows]

    def ledger_replay(self, sink: Callable[[LedgerEvent], None] | None = None) -> Ledger:
        """The ledger as the journaled events leave it; ``sink`` (usually this journal) gets later changes."""
        return self.ledger_restore(sink).ledger

    def ledger_restore(self, sink: Callable[[LedgerEvent], None] | None = None) -> RestoredLedger:
        """:meth:`ledger_replay`, saying how: from the latest ledger checkpoint and the events after
        it, or from every event (none, or a journal from before checkpoints); see ``ledger_checkpoint``."""
        return restore_ledger(self._db, self.ledger_events, sink, str(self.path))

    def write_ledger_checkpoint(self, ledger: Ledger) -> int:
        """Save ``ledger`` (this journal's, every change of it journaled or staged here) as the
        checkpoint a start loads; returns the last ledger event it covers."""
        body = checkpoint_body(ledger)
        self._guard(body)
        with self._tx():  # (staged tickets are flushed first: their events come before it)
            ns = self._clock()
            seq = insert_checkpoint(self._db, ns, body)
            # at the same moment, in the same transaction: what load_residuals at start reads (from
            # its previous row and the rows since). Not the day's realised total: folding in the
            # tickets since took ~0.2 s per 1,400 tickets, on the event loop, while trading (see
            # save_realised_today)
            insert_residual_checkpoint(self._db, str(self.path))
            return seq

    def save_realised_today(self) -> None:
        """Save today's realised total (the tickets since its last row folded in) for the next
        start's :meth:`realised_today`. At a clean stop and by a start itself, not with each
        periodic checkpoint: its cost grows with the tickets since the last row (a crash leaves
        the next start that many tickets to fold, at most what a full read of the day costs)."""
        with self._tx():
            insert_daily_pnl_checkpoint(self._db, self.ticket_pnls_of, self._clock(), str(self.path))

    def write_balance_snapshot(
        self, venue: str, source: str, balances: Mapping[Asset, int] | Mapping[Asset, Balance]
    ) -> None:
        """Record balances as seen (``source`` "venue") or as the ledger has them ("ledger")."""
        now = self._clock()
        rows = []
        for asset, b in balances.items():
            total, reserved = (b.total, str(b.reserved)) if isinstance(b, Balance) else (b, None)
            rows.append((now, venue, source, asset.name, asset.decimals, str(total), reserved))
        self._guard(venue, source)
        with self._tx():
            self._db.executemany(
                "INSERT INTO balance_snapshots (local_ns, venue, source, asset, decimals, total, reserved) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def balance_snapshots(self, venue: str | None = None) -> list[tuple[int, str, str, Asset, int, int | None]]:
        """(local_ns, venue, source, asset, total, reserved) rows in journal order."""
        q = "SELECT local_ns, venue, source, asset, decimals, total, reserved FROM balance_snapshots"
        rows = (
            self._db.execute(q + " WHERE venue=? ORDER BY seq", (venue,))
            if venue is not None
            else self._db.execute(q + " ORDER BY seq")
        )
        return [(r[0], r[1], r[2], Asset(r[3], r[4]), int(r[5]), opt_int(r[6])) for r in rows]

    # ---- PnL --------------------------------------------------------------------------------

    def ticket_pnl(self, ticket_id: str) -> TicketPnl:
        """Realised PnL net of fees of one ticket, from its journaled fills (see ``pnl``)."""
        orders = self.orders(ticket_id)
        if not orders:
            raise UnknownOrderError(f"no orders for ticket {ticket_id!r}")
        first = orders[0].intent
        for o in orders:
            scales = (o.intent.base, o.intent.quote, o.intent.price_decimals, o.intent.qty_decimals)
            if scales != (first.base, first.quote, first.price_decimals, first.qty_decimals):
                raise ValueError(f"ticket {ticket_id!r} mixes instruments or scales: {o.intent}")
        rows = self._db.execute(
            "SELECT o.side, e.fill_qty, e.fill_price, e.fee, e.fee_asset, e.fee_decimals FROM order_events e "
            "JOIN orders o ON o.client_order_id = e.client_order_id "
            "WHERE o.ticket_id=? AND e.fill_id IS NOT NULL ORDER BY e.seq",
            (ticket_id,),
        )
        fills = (PnlFill(Side(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4], r[5]) for r in rows)
        return ticket_pnl(
            ticket_id,
            fills,
            base=first.base,
            quote=first.quote,
            price_decimals=first.price_decimals,
            qty_decimals=first.qty_decimals,
        )

    def _pnl_rows(
        self, mine: str, args: tuple[Any, ...], fill_seq: int | None = None
    ) -> tuple[dict[str, list[tuple[str, str, int, int]]], dict[str, list[PnlFill]]]:
        """Per ticket, its orders' scales (in ticket_pnl's order) and its fills, of the orders that
        ``mine`` (a condition on ``o``, the orders) selects; ``fill_seq``: the fills up to that event."""
        scales: dict[str, list[tuple[str, str, int, int]]] = {}  # per ticket, its orders' in ticket_pnl's order
        for tid, base, quote, pd, qd in self._db.execute(
            "SELECT o.ticket_id, o.base_asset, o.quote_asset, o.price_decimals, o.qty_decimals FROM orders o "
            f"WHERE 1{mine} ORDER BY o.created_ns, o.rowid",
            args,
        ):
            scales.setdefault(tid, []).append((base, quote, pd, qd))
        upto, upto_args = ("", ()) if fill_seq is None else (" AND e.seq <= ?", (fill_seq,))
        fills: dict[str, list[PnlFill]] = {}
        for tid, side, qty, price, fee, fee_asset, fee_dec in self._db.execute(
            "SELECT o.ticket_id, o.side, e.fill_qty, e.fill_price, e.fee, e.fee_asset, e.fee_decimals "
            "FROM order_events e JOIN orders o ON o.client_order_id = e.client_order_id "
            f"WHERE e.fill_id IS NOT NULL{mine}{upto} ORDER BY e.seq",
            args + upto_args,
        ):
            fills.setdefault(tid, []).append(PnlFill(Side(side), int(qty), int(price), int(fee), fee_asset, fee_dec))
        return scales, fills

    def ticket_pnls_of(
        self, ticket_ids: Collection[str], *, upto: tuple[int, int] | None = None
    ) -> dict[str, TicketPnl]:
        """:meth:`ticket_pnls` with ``skip_mixed`` of these tickets only; ``upto`` (an order's
        rowid, an order event's seq): as the journal had them when those were its last rows."""
        mine = " AND o.ticket_id IN (SELECT value FROM json_each(?))"
        args: tuple[Any, ...] = (orjson.dumps(list(ticket_ids)).decode(),)
        if upto is not None:
            mine, args = mine + " AND o.rowid <= ?", (*args, upto[0])
        scales, fills = self._pnl_rows(mine, args, None if upto is None else upto[1])
        return self._pnls_of(self.tickets_of(ticket_ids), scales, fills, skip_mixed=True)

    def ticket_pnls(
        self, since_ns: int | None = None, *, skip_mixed: bool = False, tickets: Iterable[TicketRecord] | None = None
    ) -> dict[str, TicketPnl]:
        """:meth:`ticket_pnl` of every ticket with orders, or of those created at or after
        ``since_ns``, in ticket order (``tickets``: those of ``self.tickets(since_ns)`` the caller
        has read already, or some of them). Two queries for all of them: two per ticket took a
        minute over a day's journal (reports; the daily loss at start when :meth:`realised_today`
        cannot use its running total). A ticket that mixes instruments or scales raises ValueError
        as :meth:`ticket_pnl` does, or is left out with ``skip_mixed``."""
        mine, args = ("", ()) if since_ns is None else (f" AND o.ticket_id IN ({_TICKETS_SINCE})", (since_ns,))
        scales, fills = self._pnl_rows(mine, args)
        return self._pnls_of(self.tickets(since_ns) if tickets is None else tickets, scales, fills, skip_mixed)

    def _pnls_of(
        self,
        tickets: Iterable[TicketRecord],
        scales: Mapping[str, list[tuple[str, str, int, int]]],
        fills: Mapping[str, list[PnlFill]],
        skip_mixed: bool,
    ) -> dict[str, TicketPnl]:
        out: dict[str, TicketPnl] = {}
        for t in tickets:
            sc = scales.get(t.ticket_id)
            if sc is None:
                continue
            base, quote, pd, qd = sc[0]
            if any(x != sc[0] for x in sc):
                if skip_mixed:
                    continue
                self.ticket_pnl(t.ticket_id)  # raises its ValueError, naming the order
            out[t.ticket_id] = ticket_pnl(
                t.ticket_id, fills.get(t.ticket_id, ()), base=base, quote=quote, price_decimals=pd, qty_decimals=qd
            )
        return out

    def realised_today(self, day_ns: int) -> dict[str, Decimal]:
        """Per quote, the realised PnL of the tickets created at or after ``day_ns`` (the start of
        this UTC day): the sum of their :meth:`ticket_pnls` (``skip_mixed``), as ``Decimal``, from
        the day's running total and the tickets that changed since (``daily_pnl``)."""
        state = daily_pnl(self._db, self.ticket_pnls_of, day_ns, str(self.path))
        totals = state.totals()
        if totals is None:
            return sum_realised(self.ticket_pnls(since_ns=day_ns, skip_mixed=True).values())
        if not self.readonly:  # (saved, as residual_state's: the next start folds from here)
            with self._tx():
                replace_row(self._db, DAILY_PNL_TABLE, DAILY_PNL_FORMAT, state.encode())
        return totals

    def ticket_base_fees(self, ticket_id: str, decimals: int) -> int:
        """The fees a ticket's journaled fills paid in their instrument's base asset, at
        ``decimals`` (each fill's fee rounded down, as ``Executor`` counts ``LiveOrder.base_fees``)."""
        rows = self._db.execute(
            "SELECT e.fee, e.fee_decimals FROM order_events e JOIN orders o ON o.client_order_id = e.client_order_id "
            "WHERE o.ticket_id=? AND e.fill_id IS NOT NULL AND e.fee_asset = o.base_asset",
            (ticket_id,),
        )
        return sum(rescale(int(fee), int(dec), decimals, Rounding.DOWN) for fee, dec in rows if fee)

    def pnl_by_venue_pair(self) -> list[PairPnl]:
        """Realised PnL net of fees per (buy venue, sell venue, quote), over every ticket with orders."""
        tickets = self.tickets()
        pnls = self.ticket_pnls(tickets=tickets)
        return pair_pnl((t.buy_venue, t.sell_venue, pnls[t.ticket_id]) for t in tickets if t.ticket_id in pnls)
