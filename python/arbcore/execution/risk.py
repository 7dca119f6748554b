"""Pre-trade risk: limits checked on every ticket before anything is reserved or sent, a circuit
breaker per venue, and the kill switch.

Limits are exact decimals in the quote (notional, loss) or base (position) currency, from
configuration. A breach refuses the ticket and is logged with the numbers that caused it, once
per kind of breach a second (``RefusalLog``: a strategy proposes again on every book update).
Positions are net base quantities since start, per venue and across venues, fed by fills.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from arbcore.execution.refusal_log import RefusalLog

log = logging.getLogger("arbcore.risk")


@dataclass(frozen=True)
class RiskLimits:
    max_order_notional: Decimal = Decimal("100000")  # quote, per order
    max_ticket_notional: Decimal = Decimal("200000")  # quote, both legs together
    #: |net base position| per venue, by base asset (missing asset: no limit)
    max_position: Mapping[str, Decimal] = field(default_factory=dict)
    #: |net base position| summed across venues, by base asset
    max_net_position: Mapping[str, Decimal] = field(default_factory=dict)
    max_daily_loss: Decimal = Decimal("1000")  # quote, realised net of fees, since the day began (UTC)
    max_open_tickets: int = 4
    #: this many errors (timeouts, transport and rate-limit refusals), or this many venue rejects,
    #: within the window open the venue's breaker; each kind counts against its own limit
    breaker_errors: int = 5
    breaker_rejects: int = 5
    breaker_window_s: float = 10.0
    breaker_cooldown_s: float = 30.0


class LegRisk(NamedTuple):  # a tuple: built twice per ticket on the order path
    venue: str
    base: str
    side_sign: int  # +1 buy, -1 sell
    qty: Decimal  # base
    notional: Decimal  # quote, at the limit price


class CircuitBreaker:
    """Opens after ``breaker_errors`` errors, or ``breaker_rejects`` rejects, within
    ``breaker_window_s`` on one venue, and stays open for ``breaker_cooldown_s``: no new ticket
    uses that venue meanwhile."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._errors: dict[tuple[str, str], deque[float]] = {}  # (venue, "errors" | "rejects")
        self._open_until: dict[str, float] = {}
        #: called with (venue, seconds) when a breaker opens (the Rust order path's copy)
        self.watch: Callable[[str, float], None] | None = None

    def record_error(self, venue: str, what: str, now: float | None = None) -> None:
        """An error on ``venue``: a timeout, a transport or rate-limit refusal."""
        self._record(venue, "errors", self.limits.breaker_errors, what, now)

    def record_reject(self, venue: str, what: str, now: float | None = None) -> None:
        """The venue rejected an order."""
        self._record(venue, "rejects", self.limits.breaker_rejects, what, now)

    def _record(self, venue: str, kind: str, limit: int, what: str, now: float | None) -> None:
        now = time.monotonic() if now is None else now
        q = self._errors.setdefault((venue, kind), deque())
        q.append(now)
        while q and q[0] < now - self.limits.breaker_window_s:
            q.popleft()
        if len(q) >= limit and not self.is_open(venue, now):
            self._open_until[venue] = now + self.limits.breaker_cooldown_s
            if self.watch is not None:
                self.watch(venue, self.limits.breaker_cooldown_s)
            log.warning(
                "circuit breaker OPEN for %s: %d %s in %.1f s (max %d; last: %s); closed again in %.0f s",
                venue, len(q), kind, self.limits.breaker_window_s, limit, what, self.limits.breaker_cooldown_s,
            )  # fmt: skip

    def is_open(self, venue: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self._open_until.get(venue, 0.0) > now

    def open_venues(self) -> list[str]:
        now = time.monotonic()
        return sorted(v for v, t in self._open_until.items() if t > now)


class KillSwitch:
    """Engaged by a call (CLI command, signal handler) or by a file appearing at ``path``.
    Once engaged it stays engaged for the life of the process: the engine cancels open orders and
    refuses new tickets."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._path_str = str(self.path) if self.path is not None else None  # os.path: a bare stat per ticket
        self.reason = ""
        #: each called once when the switch engages (the Rust order path's copy, the session)
        self.watchers: list[Callable[[], None]] = []

    @property
    def engaged(self) -> bool:
        if not self.reason and self._path_str is not None and os.path.exists(self._path_str):
            self.engage(f"kill file {self.path} present")
        return bool(self.reason)

    def engage(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
            log.error("KILL SWITCH engaged: %s", reason)
            for watch in self.watchers:
                watch()


class RiskGate:
    def __init__(self, limits: RiskLimits, kill: KillSwitch | None = None) -> None:
        self._limits = limits
        #: called when :attr:`limits` is replaced (the Rust order path's copy follows at once)
        self.watch_limits: Callable[[], None] | None = None
        self.kill = kill or KillSwitch()
        self.breaker = CircuitBreaker(limits)
        self.positions: dict[tuple[str, str], Decimal] = {}  # (venue, base) -> net qty
        self._net: dict[str, Decimal] = {}  # base -> net qty across venues, kept with positions
        #: today's realised PnL net of fees, per quote asset (each against max_daily_loss: a loss in
        #: one quote is not offset by, nor added to, another's)
        self.realised: dict[str, Decimal] = {}
        self._day = time.gmtime().tm_yday
        self._open_tickets = 0
        self.breaches = 0
        self._breach_log = RefusalLog(log, level=logging.WARNING, what="ticket refused by risk")
        #: called with (venue, base, net position) after every fill, and with the open-ticket
        #: count when it changes (the Rust order path's copies)
        self.watch_position: Callable[[str, str, Decimal], None] | None = None
        self.watch_open_tickets: Callable[[int], None] | None = None

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: RiskLimits) -> None:
        self._limits = limits
        if self.watch_limits is not None:
            self.watch_limits()

    @property
    def open_tickets(self) -> int:
        return self._open_tickets

    @open_tickets.setter
    def open_tickets(self, n: int) -> None:
        self._open_tickets = n
        if self.watch_open_tickets is not None:
            self.watch_open_tickets(n)

    def on_fill(self, venue: str, base: str, moved: Decimal) -> None:
        """A fill moved ``venue``'s ``base`` position by ``moved`` (signed: + bought, net of any
        fee the venue took in ``base``, as the account holds it and the report counts it)."""
        key = (venue, base)
        pos = self.positions[key] = self.positions.get(key, Decimal(0)) + moved
        self._net[base] = self._net.get(base, Decimal(0)) + moved
        if self.watch_position is not None:
            self.watch_position(venue, base, pos)

    def on_realised(self, pnl: Decimal, quote: str) -> None:
        """A ticket's realised PnL net of fees, in its instrument's ``quote`` asset."""
        day = time.gmtime().tm_yday
        if day != self._day:
            self._day, self.realised = day, {}
        total = self.realised[quote] = self.realised.get(quote, Decimal(0)) + pnl
        if -total > self.limits.max_daily_loss:
            self.kill.engage(f"daily loss {-total} {quote} exceeds max_daily_loss {self.limits.max_daily_loss}")

    def net_position(self, base: str) -> Decimal:
        return self._net.get(base, Decimal(0))

    def check(self, legs: list[LegRisk]) -> list[str]:
        """Every limit this ticket would breach (empty: allowed). Logged with the numbers."""
        lim = self.limits
        out: list[str] = []
        killed = self.kill.engaged
        if killed:
            out.append(f"kill switch engaged ({self.kill.reason})")
        if self.open_tickets >= lim.max_open_tickets:
            out.append(f"open tickets {self.open_tickets} >= max_open_tickets {lim.max_open_tickets}")
        for quote, realised in self.realised.items():
            if -realised > lim.max_daily_loss:
                out.append(f"daily loss {-realised} {quote} > max_daily_loss {lim.max_daily_loss}")
        total = sum((leg.notional for leg in legs), Decimal(0))
        if total > lim.max_ticket_notional:
            out.append(f"ticket notional {total} > max_ticket_notional {lim.max_ticket_notional}")
        net_change: dict[str, Decimal] = {}
        now = time.monotonic()
        for leg in legs:
            if self.breaker.is_open(leg.venue, now):
                out.append(f"{leg.venue}: circuit breaker open")
            if leg.notional > lim.max_order_notional:
                out.append(f"{leg.venue} order notional {leg.notional} > max_order_notional {lim.max_order_notional}")
            cap = lim.max_position.get(leg.base)
            before = self.positions.get((leg.venue, leg.base), Decimal(0))
            after = before + leg.side_sign * leg.qty
            if cap is not None and abs(after) > cap and abs(after) > abs(before):  # (as the net's, below)
                out.append(f"{leg.venue} {leg.base} position would be {after}, max_position {cap}")
            net_change[leg.base] = net_change.get(leg.base, Decimal(0)) + leg.side_sign * leg.qty
        for base, change in net_change.items():
            cap = lim.max_net_position.get(base)
            if cap is None:
                continue
            before = self.net_position(base)
            after = before + change
            if abs(after) > cap and abs(after) > abs(before):
                out.append(f"net {base} position would be {after}, max_net_position {cap}")
        if out:
            self.breaches += 1
            if not killed:  # the kill switch's one line when it engaged says why, not a line per ticket
                self._breach_log.log(out)
        return out
