"""Today's realised PnL at start, from a running per-UTC-day total saved at each clean stop (and
by each start), so that a start reads only the tickets that changed after it.

The daily-loss restore summed :meth:`Journal.ticket_pnls` of every ticket created today (UTC):
0.6-1.4 s at each start for a desk that trades all day. :class:`DailyPnl` keeps that sum as of
the journal's last ticket, order and fill event (``ticket_rowid``, ``order_rowid``, ``fill_seq``),
per quote and notional scale, as exact integers. A ticket's PnL is a function of its orders'
scales and its fills alone, so only a ticket of today created after that position, or with an
order or a fill after it, can differ from what the total counted (a fill can come after an
order's terminal state: a late one, or recovery's); such a ticket's contribution then is taken
out (its PnL computed with the rows up to the position) and its current one put in.

The same numbers as the full read, to the Decimal: the full read adds each ticket's
``Decimal(realised).scaleb(-notional_decimals)`` in ticket order, exact while every partial sum
has at most 28 digits (the context's precision), so it equals the exact sum at the finest scale
(its exponent the smallest addend's). The total is used only where that holds (the absolute
values summed stay below 10**28), and its quotes in the full read's order (by the first ticket
that counts in each), else the full read. Without a usable row of the day, the day's tickets
are read (as the full read does) and saved as one (``Journal.realised_today``).
One row in one transaction: a killed process leaves the whole row or none. Not written with the
periodic ledger checkpoints: folding the tickets since took ~0.2 s per 1,400 tickets on the event
loop while trading; after a crash the next start folds them (at most the full read's cost).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from arbcore.execution.checkpoint_rows import latest_row, replace_row, row_id
from arbcore.execution.pnl import TicketPnl

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 10**9  # a UTC day: the daily loss limit's (RiskGate.on_realised)

DAILY_PNL_TABLE = "daily_pnl_checkpoints"

#: the body's layout; a checkpoint of another is not used (the day's tickets are read instead)
DAILY_PNL_FORMAT = 1

#: the realised PnL of these tickets (:meth:`Journal.ticket_pnls_of`), ``upto`` a position
Pnls = Callable[..., dict[str, TicketPnl]]

#: beyond it, Decimal additions in context precision (28 digits) may round: the full read decides
_EXACT = 10**28


def sum_realised(pnls: Iterable[TicketPnl]) -> dict[str, Decimal]:
    """Per quote asset, as the risk gate keeps it, in ticket order: the full read."""
    totals: dict[str, Decimal] = {}
    for pnl in pnls:
        totals[pnl.quote] = totals.get(pnl.quote, Decimal(0)) + Decimal(pnl.realised).scaleb(-pnl.notional_decimals)
    return totals


@dataclass
class DailyPnl:
    """The tickets created on ``day_ns`` (UTC) up to a journal position, their PnL summed."""

    day_ns: int
    ticket_rowid: int = 0
    order_rowid: int = 0
    fill_seq: int = 0
    #: the rows at the rowids (a VACUUM may renumber rowids: then not used)
    last_ticket: str = ""
    last_order: str = ""
    #: quote -> the first ticket counted in it, as (created_ns, ticket rowid); None: not known
    first: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    #: (quote, notional decimals) -> [tickets, sum of realised, sum of |realised|]
    sums: dict[tuple[str, int], list[int]] = field(default_factory=dict)

    def advance(self, conn: sqlite3.Connection, pnls: Pnls) -> None:
        """Bring the sums to the journal's last rows (read first: a row added meanwhile waits)."""
        position = _position(conn)
        fresh = not self.ticket_rowid and not self.order_rowid and not self.fill_seq
        # today's tickets that may differ from what the sums counted: every one the first time
        query = "SELECT rowid, ticket_id, created_ns FROM tickets WHERE created_ns >= :day AND rowid <= :t1"
        if not fresh:
            query += (
                " AND (rowid > :t0 OR ticket_id IN (SELECT ticket_id FROM orders WHERE rowid > :o0 AND rowid <= :o1)"
                " OR ticket_id IN (SELECT o.ticket_id FROM order_events e JOIN orders o"
                " ON o.client_order_id = e.client_order_id"
                " WHERE e.seq > :f0 AND e.seq <= :f1 AND e.fill_id IS NOT NULL))"
            )
        args = {"day": self.day_ns, "t0": self.ticket_rowid, "t1": position[0], "o0": self.order_rowid,
                "o1": position[2], "f0": self.fill_seq, "f1": position[4]}  # fmt: skip
        keys = {t: (ns, rowid) for rowid, t, ns in conn.execute(query, args)}
        old = [t for t, (_, rowid) in keys.items() if rowid <= self.ticket_rowid]
        removed = pnls(old, upto=(self.order_rowid, self.fill_seq)).items() if old else []
        added = pnls(list(keys), upto=(position[2], position[4])).items() if keys else []
        for _, pnl in removed:
            self._count(pnl, -1)
        back = {(pnl.quote, keys[t]) for t, pnl in added}
        for t, pnl in removed:
            if all(not s[0] for (q, _), s in self.sums.items() if q == pnl.quote):
                self.first.pop(pnl.quote, None)  # none counted any more: the next to come is the first
            elif self.first.get(pnl.quote) == keys[t] and (pnl.quote, keys[t]) not in back:
                self.first[pnl.quote] = None  # the first left (a ticket now mixed, say): the next not known
        for t, pnl in sorted(added, key=lambda x: keys[x[0]]):
            self._count(pnl, 1)
            first = self.first.setdefault(pnl.quote, keys[t])
            if first is not None and keys[t] < first:
                self.first[pnl.quote] = keys[t]
        self.ticket_rowid, self.last_ticket, self.order_rowid, self.last_order, self.fill_seq = position

    def _count(self, pnl: TicketPnl, sign: int) -> None:
        s = self.sums.setdefault((pnl.quote, pnl.notional_decimals), [0, 0, 0])
        s[0] += sign
        s[1] += sign * pnl.realised
        s[2] += sign * abs(pnl.realised)

    def totals(self) -> dict[str, Decimal] | None:
        """What :func:`sum_realised` of the day's tickets gives; None when the sums cannot tell."""
        out: list[tuple[tuple[int, int], str, Decimal]] = []
        for quote, first in self.first.items():
            mine = {nd: s for (q, nd), s in self.sums.items() if q == quote and s[0]}
            if not mine:
                continue  # no ticket counts in it any more
            if first is None:
                return None
            nd = max(mine)
            if sum(s[2] * 10 ** (nd - d) for d, s in mine.items()) >= _EXACT:
                return None
            out.append((first, quote, Decimal(sum(s[1] * 10 ** (nd - d) for d, s in mine.items())).scaleb(-nd)))
        return {quote: total for _, quote, total in sorted(out)}

    def encode(self) -> str:
        return orjson.dumps({
            "day_ns": self.day_ns,
            "position": [self.ticket_rowid, self.last_ticket, self.order_rowid, self.last_order, self.fill_seq],
            "first": [[q, list(k) if k else None] for q, k in self.first.items()],
            "sums": [[q, nd, *(str(x) for x in s)] for (q, nd), s in self.sums.items()],
        }).decode()  # fmt: skip

    @classmethod
    def decode(cls, text: str) -> DailyPnl:
        d = orjson.loads(text)
        rowid, last_ticket, order_rowid, last_order, fill_seq = d["position"]
        return cls(
            int(d["day_ns"]), int(rowid), int(order_rowid), int(fill_seq), str(last_ticket), str(last_order),
            {str(q): (int(k[0]), int(k[1])) if k else None for q, k in d["first"]},
            {(str(q), int(nd)): [int(n), int(total), int(absolute)] for q, nd, n, total, absolute in d["sums"]},
        )  # fmt: skip


def _position(conn: sqlite3.Connection) -> tuple[int, str, int, str, int]:
    """The journal's last ticket and order (rowid, id) and last order event."""
    ticket = conn.execute("SELECT rowid, ticket_id FROM tickets ORDER BY rowid DESC LIMIT 1").fetchone() or (0, "")
    order = conn.execute("SELECT rowid, client_order_id FROM orders ORDER BY rowid DESC LIMIT 1").fetchone() or (0, "")
    (seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM order_events").fetchone()
    return int(ticket[0]), str(ticket[1]), int(order[0]), str(order[1]), int(seq)


def _latest(conn: sqlite3.Connection, day_ns: int, where: str) -> DailyPnl | None:
    """The latest usable row of ``day_ns``; None (with a warning when one of that day was there
    but is not usable) to read the day's tickets."""
    row = latest_row(conn, DAILY_PNL_TABLE)
    if row is None:
        return None
    fmt, body = row
    if fmt != DAILY_PNL_FORMAT:
        log.warning("%s: daily PnL checkpoint not used, its format is %s, this code reads %s", where, fmt,
                    DAILY_PNL_FORMAT)  # fmt: skip
        return None
    try:
        state = DailyPnl.decode(body)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        log.warning("%s: daily PnL checkpoint not used, its body is unreadable (%s)", where, type(e).__name__)
        return None
    if state.day_ns != day_ns:
        return None  # another day's (the first start of a day, say): today's tickets are read
    position = _position(conn)
    at = (row_id(conn, "tickets", "ticket_id", state.ticket_rowid),
          row_id(conn, "orders", "client_order_id", state.order_rowid))  # fmt: skip
    if at != (state.last_ticket, state.last_order) or state.fill_seq > position[4]:
        log.warning("%s: daily PnL checkpoint not used, its position is not the journal's", where)
        return None
    return state


def daily_pnl(conn: sqlite3.Connection, pnls: Pnls, day_ns: int, where: str) -> DailyPnl:
    """The sums of ``day_ns``'s tickets as the journal leaves them: the latest row and the
    tickets that changed after it, or every ticket of the day."""
    state = _latest(conn, day_ns, where) or DailyPnl(day_ns)
    state.advance(conn, pnls)
    return state


def insert_daily_pnl_checkpoint(conn: sqlite3.Connection, pnls: Pnls, local_ns: int, where: str) -> None:
    """Store today's sums (the day of ``local_ns``) as the latest row, in the caller's transaction
    (which holds the write lock: the position is the journal's last rows); the older one goes."""
    state = daily_pnl(conn, pnls, local_ns - local_ns % DAY_NS, where)
    if None in state.first.values():  # which ticket comes first in a quote is lost: the day read again
        state = DailyPnl(state.day_ns)
        state.advance(conn, pnls)
    replace_row(conn, DAILY_PNL_TABLE, DAILY_PNL_FORMAT, state.encode())
