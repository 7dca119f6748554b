"""Residual checkpoints: what a start's :func:`~arbcore.execution.residuals.load_residuals` needs
of the journal's tickets and outcomes, saved with each ledger checkpoint, so that a start reads
only the tickets and outcomes journaled after it.

A start used to read every ticket and every outcome of the journal (1.3-2.4 s per 100k tickets)
to find the few residuals still open. What it needs is a fold over them, :class:`ResidualState`:

- ``residual``: the tickets whose last outcome is "residual" with a quantity other than zero;
- ``pending``: the tickets with no outcome yet (in flight, or interrupted by a crash);
- ``unsettled``: the sweeps without their own outcome (``"sweep": true``): one that wrote it is
  finished even when a later sweep absorbed what it left (that outcome, its last, is not its
  own), so never finished a second time;
- ``drift``: per instrument, base fees paid (``base_fees``) and units absorbed (``fee_drift_absorbed``)
  over every outcome, in the order the outcomes first name the instrument;
- ``qty_decimals``: per instrument, as its latest order has them (a query over every order took
  0.15 s per 100k tickets at each start), folded over the orders by rowid.

Each is a function of the rows alone (not of any process's memory), and folding the rows after
``(ticket_rowid, outcome_seq)`` into the state at that position gives the state a fold of every
row gives: a checkpoint plus its tail equals a full read (orders are never deleted, and their
instrument and decimals never change). The row is written in the ledger
checkpoint's transaction (same moments, same crash-safety: the whole row or none of it), its
positions read in that transaction. A journal without one (from before these checkpoints) or
with one that does not fit is read in full, as before.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson

from arbcore.execution.checkpoint_rows import latest_row, replace_row, row_id

log = logging.getLogger(__name__)

RESIDUAL_TABLE = "residual_checkpoints"

#: the body's layout; a checkpoint of another is not used (the journal is read in full instead)
RESIDUAL_FORMAT = 1


@dataclass
class ResidualState:
    """The fold of a journal's tickets up to ``ticket_rowid`` and outcomes up to ``outcome_seq``."""

    ticket_rowid: int = 0
    last_ticket: str = ""  # the ticket at ticket_rowid: a VACUUM may renumber rowids (then not used)
    outcome_seq: int = 0
    residual: dict[str, int] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    unsettled: set[str] = field(default_factory=set)
    drift: dict[str, list[int]] = field(default_factory=dict)  # instrument -> [base fees paid, units absorbed]
    order_rowid: int = 0
    last_order: str = ""  # the order at order_rowid (as last_ticket)
    latest_order: dict[str, tuple[int, int]] = field(default_factory=dict)  # instrument -> (created_ns, qty decimals)

    @property
    def qty_decimals(self) -> dict[str, int]:
        return {instrument: qd for instrument, (_, qd) in self.latest_order.items()}

    def advance(self, conn: sqlite3.Connection) -> None:
        """Fold in the tickets and outcomes journaled after this state's position."""
        # json_type: the key is there, whatever its value ("sweep_of" in detail)
        for rowid, ticket_id, sweep in conn.execute(
            "SELECT rowid, ticket_id, json_type(detail, '$.sweep_of') IS NOT NULL FROM tickets "
            "WHERE rowid > ? ORDER BY rowid",
            (self.ticket_rowid,),
        ):
            self.pending.add(ticket_id)
            if sweep:
                self.unsettled.add(ticket_id)
            self.ticket_rowid, self.last_ticket = rowid, ticket_id
        for seq, ticket_id, instrument, status, text in conn.execute(
            "SELECT o.seq, o.ticket_id, coalesce(t.instrument, ''), o.status, o.detail FROM ticket_outcomes o "
            "LEFT JOIN tickets t ON t.ticket_id = o.ticket_id WHERE o.seq > ? ORDER BY o.seq",
            (self.outcome_seq,),
        ):
            self._outcome(ticket_id, instrument, status, orjson.loads(text))
            self.outcome_seq = seq
        for rowid, cid, instrument, qd, ns in conn.execute(
            "SELECT rowid, client_order_id, instrument, qty_decimals, created_ns FROM orders WHERE rowid > ? "
            "ORDER BY rowid",
            (self.order_rowid,),
        ):
            if instrument not in self.latest_order or ns > self.latest_order[instrument][0]:
                self.latest_order[instrument] = (ns, qd)
            self.order_rowid, self.last_order = rowid, cid

    def _outcome(self, ticket_id: str, instrument: str, status: str, detail: dict[str, Any]) -> None:
        self.pending.discard(ticket_id)
        if detail.get("sweep") is True:
            self.unsettled.discard(ticket_id)
        qty = int(str(detail.get("residual", "0"))) if status == "residual" else 0
        if qty:
            self.residual[ticket_id] = qty
        else:
            self.residual.pop(ticket_id, None)
        d = self.drift.setdefault(instrument, [0, 0])
        d[0] += int(str(detail.get("base_fees", "0")))
        d[1] += int(str(detail.get("fee_drift_absorbed", "0")))

    def encode(self) -> str:
        return orjson.dumps({
            "position": [self.ticket_rowid, self.outcome_seq],
            "last_ticket": self.last_ticket,
            "residual": [[t, str(q)] for t, q in self.residual.items()],
            "pending": sorted(self.pending),
            "unsettled": sorted(self.unsettled),
            "drift": [[i, str(paid), str(absorbed)] for i, (paid, absorbed) in self.drift.items()],
            "orders": [self.order_rowid, self.last_order, [[i, ns, qd] for i, (ns, qd) in self.latest_order.items()]],
        }).decode()  # fmt: skip

    @classmethod
    def decode(cls, text: str) -> ResidualState:
        d = orjson.loads(text)
        ticket_rowid, outcome_seq = d["position"]
        order_rowid, last_order, latest = d["orders"]
        return cls(
            int(ticket_rowid), str(d["last_ticket"]), int(outcome_seq),
            {str(t): int(q) for t, q in d["residual"]},
            {str(t) for t in d["pending"]},
            {str(t) for t in d["unsettled"]},
            {str(i): [int(paid), int(absorbed)] for i, paid, absorbed in d["drift"]},
            int(order_rowid), str(last_order), {str(i): (int(ns), int(qd)) for i, ns, qd in latest},
        )  # fmt: skip


def _latest(conn: sqlite3.Connection, where: str) -> ResidualState | None:
    """The latest usable residual checkpoint; None (with a warning when one was there but is not
    usable) to read the journal in full."""
    row = latest_row(conn, RESIDUAL_TABLE)
    if row is None:
        return None
    fmt, body = row
    (last_outcome,) = conn.execute("SELECT coalesce(max(seq), 0) FROM ticket_outcomes").fetchone()
    problem = ""
    if fmt != RESIDUAL_FORMAT:
        problem = f"its format is {fmt}, this code reads {RESIDUAL_FORMAT}"
    else:
        try:
            state = ResidualState.decode(body)
        except (ValueError, KeyError, TypeError) as e:
            problem = f"its body is unreadable ({type(e).__name__})"
        else:
            if state.outcome_seq > last_outcome:
                problem = f"it covers ticket outcome {state.outcome_seq}, the journal's last is {last_outcome}"
            elif row_id(conn, "tickets", "ticket_id", state.ticket_rowid) != state.last_ticket:
                problem = f"its ticket {state.last_ticket!r} is not at row {state.ticket_rowid} (renumbered)"
            elif row_id(conn, "orders", "client_order_id", state.order_rowid) != state.last_order:
                problem = f"its order {state.last_order!r} is not at row {state.order_rowid} (renumbered)"
    if problem:
        log.warning("%s: residual checkpoint not used, %s: every ticket and outcome is read", where, problem)
        return None
    return state


def residual_state(conn: sqlite3.Connection, where: str) -> tuple[ResidualState, bool]:
    """The fold of every ticket and outcome of the journal: the latest residual checkpoint and
    the rows after it, or every row when there is none (or it does not fit: then True)."""
    latest = _latest(conn, where)
    state = latest or ResidualState()
    state.advance(conn)
    return state, latest is None


def insert_residual_checkpoint(conn: sqlite3.Connection, where: str) -> ResidualState:
    """Store the journal's residual state as the latest checkpoint, in the caller's transaction
    (which holds the write lock: the positions are the journal's last rows); the older one goes."""
    state, _ = residual_state(conn, where)
    replace_row(conn, RESIDUAL_TABLE, RESIDUAL_FORMAT, state.encode())
    return state
