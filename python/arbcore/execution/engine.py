"""The order engine: every order goes journal -> venue -> (reply, stream, query) -> journal + ledger.

One `Executor` per process owns the ledger, the journal and one order client per venue. It knows
each order it sent (`LiveOrder`) and applies whatever the venues say about it, from whichever path
arrives first, exactly once:

- a fill is applied once per venue fill id (the journal and the ledger both key on it), so the
  same fill seen in the place reply, on the private stream and in a query answer counts once;
- a terminal state releases what the leg still has reserved (idempotent: keyed by order);
- an unknown outcome (timeout, connection lost with the request in flight) is resolved by
  querying the venue with the order's deterministic client order id, never by sending again.

Tickets (`arbcore.execution.ticket`) are built on `submit` + `wait_done`. Restart reconciliation
(`recover`) follows the order in `journal.py`'s docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arbcore.execution.amounts import Amount, Asset, Rounding, rescale
from arbcore.execution.errors import ReconcileConflictError
from arbcore.execution.journal import Journal
from arbcore.execution.ledger import Ledger, Reconciliation
from arbcore.execution.orders import TERMINAL_STATES, EventKind, OrderState, Side
from arbcore.execution.records import Fill, OrderIntent
from arbcore.execution.risk import RiskGate
from arbcore.venues.orders.base import OrderClient
from arbcore.venues.orders.decimal_text import to_raw
from arbcore.venues.orders.types import (
    AuthError,
    OrderClientError,
    OrderReport,
    OrderTimeoutError,
    RateLimitedError,
)

log = logging.getLogger("arbcore.engine")

_STATE_EVENT = {
    OrderState.ACKED: EventKind.ACK,
    OrderState.CANCELED: EventKind.CANCEL,
    OrderState.REJECTED: EventKind.REJECT,
    OrderState.EXPIRED: EventKind.EXPIRE,
}


#: the scale of ``LiveOrder.base_fees``: fees come at the venue's precision, finer than the lot
BASE_FEE_DECIMALS = 18


@dataclass(slots=True)  # two per ticket, built on the order path
class LiveOrder:
    intent: OrderIntent
    state: OrderState = OrderState.INTENT
    filled: int = 0  # applied fills, qty_decimals
    venue_filled: int = 0  # the venue's latest cumulative figure (fills may lag it)
    quote_filled: int = 0  # sum price*qty of applied fills, price+qty decimals
    base_fees: int = 0  # fees paid in the base asset, at BASE_FEE_DECIMALS (a fee can be finer than a lot)
    venue_order_id: str | None = None
    fill_ids: set[str] = field(default_factory=set)
    reason: str = ""
    # perf_counter_ns: when it left, when the venue's reply came, when its first fill was applied
    sent_ns: int = 0
    reply_ns: int = 0
    fill_ns: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def cid(self) -> str:
        return self.intent.client_order_id

    @property
    def done(self) -> bool:
        """Terminal, and every fill the venue counted has been applied."""
        return self.state in TERMINAL_STATES and self.filled >= self.venue_filled

    @property
    def avg_price(self) -> Decimal | None:
        return Decimal(self.quote_filled) / self.filled if self.filled else None


@dataclass
class EngineCounters:
    orders_sent: int = 0
    rejects: int = 0
    timeouts: int = 0
    queries: int = 0
    rate_limited: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    unknown_reports: int = 0
    ledger_overdraws: int = 0


class Executor:
    def __init__(
        self,
        journal: Journal,
        ledger: Ledger,
        clients: Mapping[str, OrderClient],
        assets: Mapping[str, Asset],
        risk: RiskGate,
        *,
        place_timeout: float = 2.0,
        query_attempts: int = 5,
    ) -> None:
        self.journal = journal
        self.ledger = ledger
        self.clients = dict(clients)
        self.assets = dict(assets)
        self.risk = risk
        self.place_timeout = place_timeout
        self.query_attempts = query_attempts
        self.orders: dict[str, LiveOrder] = {}  # live and recent orders; forget() drops a finished ticket's
        self.by_ticket: dict[str, list[LiveOrder]] = {}
        self.counters = EngineCounters()
        #: per venue, the differences (asset, venue minus ledger) its last reconciliation found
        #: (``settled`` adopts a repeat)
        self._unsettled: dict[str, frozenset[tuple[str, int | None]]] = {}
        self._hook: Callable[[str, LiveOrder], None] | None = None
        #: called when :attr:`hook` is set or cleared (the Rust order path stops writing itself)
        self.watch_hook: Callable[[], None] | None = None
        for client in self.clients.values():
            client.on_report = self.on_report

    @property
    def hook(self) -> Callable[[str, LiveOrder], None] | None:
        """Test hook (crash tests): called with "send" before an order is handed to its client,
        "sent" once the client has it, "fill" after a fill is journaled and applied."""
        return self._hook

    @hook.setter
    def hook(self, fn: Callable[[str, LiveOrder], None] | None) -> None:
        self._hook = fn
        if self.watch_hook is not None:
            self.watch_hook()

    # ---- sending ---------------------------------------------------------------------------------

    def track(self, intent: OrderIntent) -> LiveOrder:
        """Journal the intent (committed before this returns) and start tracking it."""
        self.journal.write_intent(intent)
        return self.follow(intent)

    def follow(self, intent: OrderIntent) -> LiveOrder:
        """Start tracking an intent the caller has already put on disk (``Journal.stage``)."""
        order = self.orders.get(intent.client_order_id)
        if order is None:
            order = self.orders[intent.client_order_id] = LiveOrder(intent)
            self.by_ticket.setdefault(intent.ticket_id, []).append(order)
        return order

    def base_fees(self, ticket_id: str) -> int:
        """Fees the ticket's orders (hedges and unwinds too) paid in the base asset, at
        ``BASE_FEE_DECIMALS``:
        a venue that takes its fee from what a buy receives leaves the ticket short by that much."""
        return sum(o.base_fees for o in self.by_ticket.get(ticket_id, ()))

    def forget(self, ticket_id: str) -> None:
        """Drop a finished ticket's done orders from memory (the journal keeps them): a process
        that trades for weeks must not hold every order it ever sent. Orders not done stay."""
        kept = []
        for o in self.by_ticket.pop(ticket_id, ()):
            if o.done:
                self.orders.pop(o.cid, None)
            else:
                kept.append(o)
        if kept:
            self.by_ticket[ticket_id] = kept
        else:  # every order done, its fills applied: the ledger's share of it goes too
            self.ledger.retire(ticket_id)

    async def send(self, order: LiveOrder) -> LiveOrder:
        """Place a tracked order and apply the venue's answer; an unknown outcome is queried."""
        intent = order.intent
        client = self.clients[intent.venue]
        order.sent_ns = time.perf_counter_ns()
        self.counters.orders_sent += 1
        if self.hook is not None:
            self.hook("send", order)
        if self.hook is None:
            return await self.settle(order, client.place(intent, timeout=self.place_timeout))
        placing = asyncio.ensure_future(client.place(intent, timeout=self.place_timeout))
        await asyncio.sleep(0)
        self.hook("sent", order)
        return await self.settle(order, placing)

    def sent_by_path(self, order: LiveOrder, rid: str, sent_ns: int) -> Coroutine[Any, Any, LiveOrder]:
        """An order whose frame the Rust order path wrote (request id ``rid``): its outcome, as
        :meth:`send` applies it."""
        order.sent_ns = sent_ns
        self.counters.orders_sent += 1
        intent = order.intent
        return self.settle(order, self.clients[intent.venue].placed(intent, rid, timeout=self.place_timeout))

    async def settle(self, order: LiveOrder, placing: Awaitable[OrderReport]) -> LiveOrder:
        """Apply what became of a placed order; an unknown outcome is queried, never resent."""
        intent = order.intent
        try:
            report = await placing
        except OrderTimeoutError as e:
            self.counters.timeouts += 1
            self.risk.breaker.record_error(intent.venue, "timeout")
            self._event(order, EventKind.UNKNOWN, detail={"why": str(e)})
            await self.resolve(order)
            return order
        except RateLimitedError as e:
            self.counters.rate_limited += 1
            self.risk.breaker.record_error(intent.venue, "rate limit")
            self._refused(order, f"rate limited, retry after {e.retry_after:g} s")
            return order
        except (AuthError, OrderClientError) as e:
            self.risk.breaker.record_error(intent.venue, type(e).__name__)
            self._refused(order, f"{type(e).__name__}: {e}")
            return order
        order.reply_ns = time.perf_counter_ns()
        self.apply(order, report)
        return order

    def _refused(self, order: LiveOrder, reason: str) -> None:
        """The venue did nothing with the request (rate limit, auth, transport refusal): an error
        the caller counted for the breaker, not also a reject."""
        self.apply(order, OrderReport(order.intent.venue, order.cid, OrderState.REJECTED, reason=reason), reject=False)

    async def resolve(self, order: LiveOrder) -> None:
        """Ask the venue what became of an order whose outcome is unknown (never resend)."""
        client = self.clients[order.intent.venue]
        delay = 0.05
        for _ in range(self.query_attempts):
            if order.done:
                return
            self.counters.queries += 1
            try:
                report = await client.query(order.intent, timeout=self.place_timeout)
            except OrderClientError as e:
                log.warning("query %s on %s failed: %s", order.cid, order.intent.venue, e)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            unknown = report is None
            if report is None:
                # the venue never received it: nothing to wait for, nothing to release but the reservation
                report = OrderReport(order.intent.venue, order.cid, OrderState.REJECTED, reason="unknown at venue")
            self.apply(order, report, query=True, reject=not unknown)  # (unknown: not a venue reject)
            return
        log.error("order %s on %s: outcome still unknown after %d queries", order.cid, order.intent.venue,
                  self.query_attempts)  # fmt: skip

    async def wait_done(self, order: LiveOrder, timeout: float) -> bool:
        """Wait until the order is terminal with all fills applied; query once if it is not by then."""
        deadline = time.monotonic() + timeout
        while not order.done:
            left = deadline - time.monotonic()
            if left <= 0:
                await self.resolve(order)
                return order.done
            order.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(order.changed.wait(), left)
        return True

    async def cancel(self, order: LiveOrder) -> None:
        if order.state in TERMINAL_STATES:
            return
        try:
            report = await self.clients[order.intent.venue].cancel(order.intent, timeout=self.place_timeout)
        except OrderClientError as e:
            log.warning("cancel %s on %s: %s; querying", order.cid, order.intent.venue, e)
            if self.orders.get(order.cid) is order:
                await self.resolve(order)
            return
        if self.orders.get(order.cid) is not order:
            return  # done while the cancel was out and forgotten with its ticket (fills applied): old news
        self.apply(order, report)

    async def cancel_all(self) -> int:
        """Cancel every open order this engine knows (kill switch, shutdown). Returns how many."""
        open_orders = [o for o in self.orders.values() if o.state not in TERMINAL_STATES]
        await asyncio.gather(*(self.cancel(o) for o in open_orders))
        return len(open_orders)

    # ---- what venues say --------------------------------------------------------------------------

    def on_report(self, report: OrderReport) -> None:
        """Private-stream events from every client."""
        order = self.orders.get(report.client_order_id)
        if order is None:
            self.counters.unknown_reports += 1  # not ours, or from before a restart (recover handles those)
            return
        try:
            self.apply(order, report)
        except Exception:  # a bad event must not kill the stream reader; the order is re-queried
            log.exception("applying %s to %s failed; resolving by query", report, order.cid)
            asyncio.get_running_loop().create_task(self.resolve(order))

    def apply(self, order: LiveOrder, report: OrderReport, *, query: bool = False, reject: bool = True) -> None:
        """Apply one venue report: new fills first (each once), then the state. ``reject``: a
        REJECTED state counts as a venue reject for the circuit breaker."""
        for fill in report.fills:
            self._apply_fill(order, fill, report.venue_ns)
        if report.venue_order_id and not order.venue_order_id:
            order.venue_order_id = report.venue_order_id
        if report.cumulative:
            order.venue_filled = max(order.venue_filled, report.filled_qty)
        state = report.state
        if query:
            self._event(order, EventKind.QUERY, reported=state, detail={"venue_filled": report.filled_qty})
        elif state in _STATE_EVENT and report.cumulative:
            self._event(order, _STATE_EVENT[state], detail={"reason": report.reason} if report.reason else None)
        if state is OrderState.REJECTED:
            self.counters.rejects += 1
            if reject:
                self.risk.breaker.record_reject(order.intent.venue, report.reason or "reject")
            order.reason = report.reason
        # terminal with every fill applied (fills may trail the terminal state on some venues)
        self._finish(order)
        order.changed.set()

    def _apply_fill(self, order: LiveOrder, fill: Fill, venue_ns: int | None) -> None:
        if fill.fill_id in order.fill_ids:
            self.counters.duplicate_fills += 1
            return
        i = order.intent
        ev = self.journal.append_event(order.cid, EventKind.FILL, fill=fill, venue_ns=venue_ns)
        order.fill_ids.add(fill.fill_id)
        if ev is None:  # journaled before (a restart): the ledger has it too
            return
        if not order.filled:
            order.fill_ns = time.perf_counter_ns()
        order.filled += fill.qty
        order.quote_filled += fill.price * fill.qty
        order.state = ev.state_after
        self.counters.fills += 1
        base, quote = self.assets[i.base], self.assets[i.quote]
        nd = i.price_decimals + i.qty_decimals
        if i.side is Side.BUY:
            spend = Amount(quote, quote.units(fill.price * fill.qty, nd, Rounding.UP))
            receive = Amount(base, base.units(fill.qty, i.qty_decimals, Rounding.DOWN))
        else:
            spend = Amount(base, base.units(fill.qty, i.qty_decimals, Rounding.UP))
            receive = Amount(quote, quote.units(fill.price * fill.qty, nd, Rounding.DOWN))
        fee = None
        if fill.fee and fill.fee_asset == i.base:  # held base the ticket's qty does not show
            order.base_fees += rescale(fill.fee, fill.fee_decimals, BASE_FEE_DECIMALS, Rounding.DOWN)
        if fill.fee and fill.fee_asset:
            fa = self.assets.get(fill.fee_asset) or self._new_asset(fill.fee_asset, fill.fee_decimals)
            fee = Amount(fa, fa.units(fill.fee, fill.fee_decimals, Rounding.UP))
        result = self.ledger.convert_fill(
            i.ticket_id, i.leg_id, f"{order.cid}:{fill.fill_id}", spend=spend, receive=receive, fee=fee,
            allow_available=True,
        )  # fmt: skip
        if result.from_available:
            # the venue filled beyond what was reserved (a better price never does this; a fee in
            # an unreserved asset does): the ledger follows the venue and says so
            self.counters.ledger_overdraws += 1
            log.warning("fill %s of %s used unreserved funds: %s", fill.fill_id, order.cid, result.from_available)
        sign = 1 if i.side is Side.BUY else -1
        moved = sign * Decimal(fill.qty).scaleb(-i.qty_decimals)
        if fill.fee and fill.fee_asset == i.base:  # the position is what the account holds: net of a base fee
            moved -= Decimal(fill.fee).scaleb(-fill.fee_decimals)
        self.risk.on_fill(i.venue, i.base, moved)
        if self.hook is not None:
            self.hook("fill", order)

    def _new_asset(self, name: str, decimals: int) -> Asset:
        asset = self.assets[name] = Asset(name, max(decimals, 8))
        return asset

    def _finish(self, order: LiveOrder) -> None:
        if order.state in TERMINAL_STATES and order.done:
            i = order.intent
            self.ledger.release_remaining(i.ticket_id, i.leg_id, f"{order.cid}:final", order.state.value)

    def _event(
        self,
        order: LiveOrder,
        kind: EventKind,
        *,
        reported: OrderState | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        ev = self.journal.append_event(
            order.cid, kind, reported_state=reported, venue_order_id=order.venue_order_id, detail=detail
        )
        if ev is not None:
            order.state = ev.state_after
            if order.state in TERMINAL_STATES and order.done:
                self._finish(order)

    # ---- restart ----------------------------------------------------------------------------------

    async def recover(self) -> list[str]:
        """Reconcile every order the journal has open with its venue; returns what was found.

        Fills the journal lacks are applied (journal and ledger, by fill id); orders the venue
        never saw are closed as rejected (they were never sent, or never arrived), never resent.
        """
        notes: list[str] = []
        for rec in self.journal.open_orders():
            order = LiveOrder(rec.intent, rec.state, rec.filled_qty, rec.filled_qty, venue_order_id=rec.venue_order_id)
            order.fill_ids = {e.fill.fill_id for e in self.journal.events(rec.client_order_id) if e.fill is not None}
            self.orders[rec.client_order_id] = order
            if rec.intent.venue not in self.clients:
                notes.append(f"{rec.client_order_id}: venue {rec.intent.venue} not configured; left open")
                continue
            await self.resolve(order)
            notes.append(
                f"{rec.intent.venue} {rec.client_order_id} ({rec.intent.ticket_id}/{rec.intent.leg_id}): "
                f"journal {rec.state.value} filled {rec.filled_qty} -> venue {order.state.value} filled {order.filled}"
            )
            if order.state not in TERMINAL_STATES:
                await self.cancel(order)
        # reservations of orders that ended before the crash but whose release was not journaled;
        # only the tickets the ledger still holds are read (a retired one's legs hold nothing)
        for rec in self.journal.orders_of(self.ledger.held_tickets()):
            if rec.state in TERMINAL_STATES and self.ledger.holds(rec.intent.ticket_id, rec.intent.leg_id):
                i = rec.intent
                self.ledger.release_remaining(i.ticket_id, i.leg_id, f"{rec.client_order_id}:final", rec.state.value)
        return notes

    def _busy(self, venue: str) -> bool:
        return any(o.intent.venue == venue and o.state not in TERMINAL_STATES for o in self.orders.values())

    async def reconcile_balances(
        self, adopt: bool = False, settled: bool = False, *, quiet: bool = False
    ) -> dict[str, Reconciliation]:
        """Compare the ledger with each venue's balances; differences are logged and journaled.

        A venue with an order in flight, or whose ledger changed while its balances were asked
        for, is left out (compared next time): its fill may be in the venue's answer and not yet
        in the ledger, which is no difference (unless ``adopt``: the start, nothing in flight).

        ``adopt``: the venue's totals replace the ledger's (the start, after recovery: the journal
        cannot know of deposits, withdrawals or trades made elsewhere since). ``settled``: a
        difference is adopted once two calls in a row found the very same one on a quiet venue
        (an outside change, not a fill on its way, which moves the ledger in between), with a
        warning that has the numbers (``adopt``'s caller reports its own: ``Reconciliation``).
        A venue total below what is reserved on it is never adopted (:class:`ReconcileConflictError`):
        reported only. ``quiet``: a difference is not logged here (the caller words it)."""
        out: dict[str, Reconciliation] = {}
        for venue, client in self.clients.items():
            changes = self.ledger.changes
            if not adopt and self._busy(venue):
                continue
            balances = await client.balances()
            if not adopt and (self.ledger.changes != changes or self._busy(venue)):
                continue
            reported: dict[Asset, int] = {}
            for b in balances:
                asset = self.assets.get(b.asset)
                if asset is None:
                    continue  # an asset this engine does not trade
                reported[asset] = to_raw(b.total, asset.decimals, f"{venue} {b.asset} balance")
            rec = self.ledger.reconcile(venue, reported)
            self.journal.write_balance_snapshot(venue, "venue", reported)
            # the difference, not the totals: trades between two reconciliations move the ledger
            # and the venue alike (compared with the totals, a trading venue never settled)
            found = frozenset((d.asset.name, d.diff) for d in rec.mismatches)
            seen_before, self._unsettled[venue] = self._unsettled.get(venue), found
            if adopt or (settled and not rec.ok and found == seen_before):
                rec = self._adopt(venue, reported, rec, quiet=adopt)
            elif not rec.ok and not quiet:
                log.warning("%s balances differ from the ledger: %s", venue, rec.describe())
            out[venue] = rec
        return out

    def _adopt(self, venue: str, reported: Mapping[Asset, int], rec: Reconciliation, quiet: bool) -> Reconciliation:
        """The venue's totals into the ledger, or ``rec`` unchanged if they fall below a reservation."""
        try:
            adopted = self.ledger.reconcile(venue, reported, adopt=True)
        except ReconcileConflictError as e:
            log.warning("%s balances differ from the ledger: %s; not adopted: %s", venue, rec.describe(), e)
            return rec
        self._unsettled.pop(venue, None)
        if not quiet:
            log.warning("%s balances differ from the ledger, the venue's adopted: %s", venue, rec.describe())
        return adopted
