"""The arbitrage ticket: two legs decided together, validated together, sent together, and followed
until the exposure they leave is zero (or reported).

1. **Validate every leg before anything is sent**: quantity on both venues' lot grids and above
   their minimums, price on the tick, minimum notional, both books LIVE and younger than the
   staleness bound, risk limits, funds reserved for both legs (fees and rounding included). One
   failure refuses the whole ticket and releases anything already reserved.
2. **Send both legs concurrently** as IOC (or the venue's nearest equivalent: the client modules
   map `TimeInForce.IOC` explicitly, e.g. OKX `ordType=ioc`, Coinbase `sor_limit_ioc`).
3. If the fills differ, the **residual** (bought minus sold) is **hedged** within `hedge_timeout`
   on the best LIVE venue at a worst-price limit (the ticket's expected price moved by
   `loss_budget_bps`); what is left is **unwound** on the venue that over-filled, within the same
   loss budget: at once when no venue is within the hedge's bound and the unwind's venue is
   within its own (the price the missing leg wanted is gone; waiting for it is holding exposure).
   The residual is tracked until zero and reported, journaled with the outcome.

Every order has the deterministic client order id of (ticket, leg, attempt); hedge and unwind
attempts are legs of their own ("hedge1", "unwind1", ...), so a restart finds all of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import orjson

from arbcore._core import next_ticket_seq
from arbcore.execution.amounts import Asset, buy_reservation, sell_reservation, signed_decimal
from arbcore.execution.eager import start_now
from arbcore.execution.engine import BASE_FEE_DECIMALS, Executor, LiveOrder
from arbcore.execution.errors import LedgerError
from arbcore.execution.fast_path import FastPath, Sent
from arbcore.execution.intent_log import StagedTicket
from arbcore.execution.orders import OrderType, Side, TimeInForce
from arbcore.execution.pnl import TicketPnl
from arbcore.execution.records import OrderIntent
from arbcore.execution.risk import LegRisk
from arbcore.venues.orders.types import InstrumentRules

log = logging.getLogger("arbcore.ticket")


@dataclass(frozen=True)
class Market:
    """One instrument on one venue as the engine trades it."""

    venue: str
    symbol: str
    instrument: str  # canonical, e.g. "BTC/USDT"
    base: Asset
    quote: Asset
    rules: InstrumentRules  # tick, lot, minimums, fees at the instrument's scales
    # copies of the rules' scales: plain attributes, read several times per ticket
    price_decimals: int = field(init=False)
    qty_decimals: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "price_decimals", self.rules.price_decimals)
        object.__setattr__(self, "qty_decimals", self.rules.qty_decimals)


class MarketView(Protocol):
    """What the ticket needs from the market-data side (the consolidated books)."""

    def book_status(self, venue: str, instrument: str) -> tuple[bool, int]:
        """(LIVE, nanoseconds since the book last changed)."""
        ...

    def best_price(self, venue: str, instrument: str, side: Side) -> int | None:
        """The price a taker order of ``side`` would meet first (best ask for a buy), raw."""
        ...


@dataclass(frozen=True)
class TicketParams:
    max_book_age_ns: int = 2_000_000_000
    leg_timeout: float = 3.0  # for both legs to be terminal with their fills
    hedge_timeout: float = 2.0
    loss_budget_bps: int = 20  # worst price for hedge/unwind, from the expected price
    # quote units a hedge/unwind may give up on one ticket (config `execution.loss_budget`); the
    # worst price is the tighter of this and the bps bound
    loss_budget_quote: Decimal | None = None
    max_attempts: int = 3  # per hedge and per unwind


@dataclass(frozen=True)
class TicketPlan:
    instrument: str
    buy: Market
    sell: Market
    qty: int  # qty_decimals (both markets share the instrument's scales)
    buy_limit: int  # worst buy price, raw
    sell_limit: int  # worst sell price, raw
    reason: str = ""


@dataclass
class TicketResult:
    ticket_id: str
    status: str  # refused | done | hedged | unwound | residual
    reasons: list[str] = field(default_factory=list)
    bought: int = 0
    sold: int = 0
    residual: int = 0  # bought - sold after hedge/unwind, qty_decimals
    hedge_lag_ns: int = 0
    decision_to_wire_ns: int = 0
    #: every order the ticket sent: its legs, then its hedges and unwinds, as they were when it ended
    orders: list[LiveOrder] = field(default_factory=list)
    pnl: TicketPnl | None = None  # realised net of fees, from the journaled fills, once it ended


#: a ticket the order path started: (ticket id, its orders on the wire, perf_counter_ns of its decision)
Started = tuple[str, Sent, int]

#: how long after a ticket's orders left its staged records are written into SQLite
FLUSH_DELAY_S = 0.001

#: every ticket id starts with this: unique across runs (process id and start time)
TICKET_PREFIX = f"T{os.getpid():x}{time.time_ns() // 1_000_000:x}-"


def new_ticket_id() -> str:
    """Unique across runs, ordered within one run: the sequence is the Rust order path's too,
    which numbers the tickets the built-in taker starts there (``FastPath.take``)."""
    return f"{TICKET_PREFIX}{next_ticket_seq()}"


def _on_grid(value: int, step: int) -> bool:
    return step <= 0 or value % step == 0


class TicketRunner:
    def __init__(
        self,
        executor: Executor,
        markets: dict[tuple[str, str], Market],
        view: MarketView,
        params: TicketParams | None = None,
    ) -> None:
        self.ex = executor
        self.markets = markets
        self.view = view
        self._params = params or TicketParams()
        #: called when :attr:`params` is replaced (the Rust order path's copy follows at once)
        self.watch_params: Callable[[], None] | None = None
        # ticket -> (instrument, open residual in qty_decimals, bought - sold), nonzero only; see residuals.py
        self.residuals: dict[str, tuple[str, int]] = {}
        # instrument -> [base the two-legged tickets (and the sweeps) paid away as fees, negated,
        # at BASE_FEE_DECIMALS; the instrument's qty_decimals]: Binance and OKX take a buy's fee
        # from the base it receives, so every flat ticket leaves its account that much short; the
        # sweeper flattens it with the residuals (see residuals.py)
        self._fee_drift: dict[str, list[int]] = {}
        # the latest results, for dashboards and tests; the journal has every one
        self.results: deque[TicketResult] = deque(maxlen=1000)
        #: the Rust order path (fast_path.py), set by whoever has the books; None: Python only
        self.fast: FastPath | None = None

    @property
    def params(self) -> TicketParams:
        return self._params

    @params.setter
    def params(self, params: TicketParams) -> None:
        self._params = params
        if self.watch_params is not None:
            self.watch_params()

    # ---- 1. validation ---------------------------------------------------------------------------

    def check(self, plan: TicketPlan) -> list[str]:
        out = self._check_leg(plan.buy, Side.BUY, plan.qty, plan.buy_limit)
        out += self._check_leg(plan.sell, Side.SELL, plan.qty, plan.sell_limit)
        legs = [self._leg_risk(plan.buy, Side.BUY, plan.qty, plan.buy_limit),
                self._leg_risk(plan.sell, Side.SELL, plan.qty, plan.sell_limit)]  # fmt: skip
        out += self.ex.risk.check(legs)
        out += self._rate_room(plan.buy, Side.BUY) + self._rate_room(plan.sell, Side.SELL)
        return out

    def _rate_room(self, m: Market, side: Side) -> list[str]:
        """Room for the leg in its venue's rate limits now: a leg its client would hold back (or
        refuse) must not leave its partner on the wire alone, nor be hedged there."""
        wait = self.ex.clients[m.venue].order_wait(m.symbol)
        return [f"{m.venue} {side.value}: rate limit: room for an order in {wait:.3f} s"] if wait > 0 else []

    def _check_leg(self, m: Market, side: Side, qty: int, price: int) -> list[str]:
        """Venue rules (lot, minimums, tick, notional) and the book (LIVE, fresh) for one leg."""
        out: list[str] = []
        r, qd, pd = m.rules, m.qty_decimals, m.price_decimals
        if not _on_grid(qty, r.lot) or qty < max(r.min_qty, 1):
            out.append(f"qty {signed_decimal(qty, qd)} not on lot {signed_decimal(r.lot, qd)} or below min "
                       f"{signed_decimal(r.min_qty, qd)}")  # fmt: skip
        if r.max_qty and qty > r.max_qty:
            out.append(f"qty {signed_decimal(qty, qd)} above max {signed_decimal(r.max_qty, qd)}")
        if price <= 0 or not _on_grid(price, r.tick):
            out.append(f"price {signed_decimal(price, pd)} not on tick {signed_decimal(r.tick, pd)}")
        if price * qty < r.min_notional:
            out.append(f"notional {signed_decimal(price * qty, pd + qd)} below min "
                       f"{signed_decimal(r.min_notional, pd + qd)}")  # fmt: skip
        live, age = self.view.book_status(m.venue, m.instrument)
        if not live:
            out.append("book not LIVE")
        elif age > self.params.max_book_age_ns:
            out.append(f"book {age / 1e6:.0f} ms old > {self.params.max_book_age_ns / 1e6:.0f} ms")
        if out:  # the text only when something failed: this runs on every ticket
            return [f"{m.venue} {side.value}: {why}" for why in out]
        return out

    @staticmethod
    def _leg_risk(m: Market, side: Side, qty: int, price: int) -> LegRisk:
        q = Decimal(qty).scaleb(-m.qty_decimals)
        return LegRisk(m.venue, m.base.name, 1 if side is Side.BUY else -1, q,
                       q * Decimal(price).scaleb(-m.price_decimals))  # fmt: skip

    def _reserve(self, ticket_id: str, leg: str, m: Market, side: Side, *, qty: int, price: int) -> None:
        if side is Side.BUY:
            amt = buy_reservation(
                price, qty, price_decimals=m.price_decimals, qty_decimals=m.qty_decimals,
                fee_rate=m.rules.taker_fee or 0, quote=m.quote,
            )  # fmt: skip
        else:
            amt = sell_reservation(qty, m.qty_decimals, m.base)
        self.ex.ledger.reserve(ticket_id, leg, m.venue, amt.asset, amt.value)

    def _intent(self, ticket_id: str, leg: str, m: Market, side: Side, *, qty: int, price: int) -> OrderIntent:
        return OrderIntent(
            ticket_id=ticket_id, leg_id=leg, attempt=0, venue=m.venue, symbol=m.symbol, instrument=m.instrument,
            base=m.base.name, quote=m.quote.name, price_decimals=m.price_decimals, qty_decimals=m.qty_decimals,
            side=side, order_type=OrderType.LIMIT, tif=TimeInForce.IOC, qty=qty, limit_price=price,
        )  # fmt: skip

    def _stage(
        self,
        ticket_id: str,
        legs: list[tuple[OrderIntent, Market]],
        reasons: list[str],
        *,
        instrument: str,
        venues: tuple[str, str],
        detail: Mapping[str, object] | None,
    ) -> bool:
        """Reserve every leg's funds (all or none) and put the ticket on disk (``Journal.stage``).
        False, with the reason in ``reasons``, when funds are short: nothing stays reserved."""
        ledger = self.ex.ledger
        with ledger.capture() as events:
            done: list[OrderIntent] = []
            try:
                for intent, m in legs:
                    self._reserve(ticket_id, intent.leg_id, m, intent.side, qty=intent.qty,
                                  price=intent.limit_price or 0)  # fmt: skip
                    done.append(intent)
            except LedgerError as e:
                reasons.append(f"funds: {e}")
                for intent in done:
                    ledger.release_remaining(ticket_id, intent.leg_id, "refused", "refused")
        journal = self.ex.journal
        if reasons:
            journal.append_ledger_events(events)  # the reserve and its release, for the audit trail
            ledger.retire(ticket_id)  # nothing held: forgotten, as a finished ticket is
            return False
        # the detail's keys are this method's callers' own (nothing to redact): plain orjson, ~1 us
        text = None if detail is None else orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()
        journal.stage(StagedTicket(ticket_id, instrument, venues[0], venues[1], text,
                                   tuple(events), tuple(i for i, _ in legs)))  # fmt: skip
        return True

    def _flush_soon(self) -> None:
        """The staged ticket goes into SQLite a moment after its orders left, not in the same
        callback: the few hundred microseconds of SQLite then do not stand between the orders and
        whatever the loop has to read next. Nothing can overtake it: any other journal access
        (a venue's reply, a fill) flushes first, and the intent log already holds it on disk."""
        asyncio.get_running_loop().call_later(FLUSH_DELAY_S, self.ex.journal.flush)

    # ---- 2. both legs ----------------------------------------------------------------------------

    async def execute(self, plan: TicketPlan, started: Started | None = None) -> TicketResult:
        """Run a two-leg ticket. ``started``: one the order path already sent (``FastPath.take``:
        its id, its orders on the wire, and when it was decided)."""
        risk = self.ex.risk
        sent: Sent | None
        if started is not None:
            ticket_id, sent, t0 = started
        else:
            t0 = time.perf_counter_ns()
            ticket_id = new_ticket_id()
            fast = self.fast
            sent = None if fast is None else fast.send_pair(ticket_id, plan)
        result = TicketResult(ticket_id, "refused")
        if sent is not None:  # both legs are on the wire (fast_path.py)
            buy, sell, sends, wire_ns = sent
            result.decision_to_wire_ns = wire_ns - t0
            risk.open_tickets += 1
        else:
            reasons = self.check(plan)
            if reasons:
                return self._refused(result, reasons)
            # The reservations, the ticket and both intents go to disk in one write (the intent log)
            # before either order leaves, and into SQLite right after both are on the wire.
            buy_i = self._intent(ticket_id, "buy", plan.buy, Side.BUY, qty=plan.qty, price=plan.buy_limit)
            sell_i = self._intent(ticket_id, "sell", plan.sell, Side.SELL, qty=plan.qty, price=plan.sell_limit)
            detail = {"qty": str(plan.qty), "expected_buy_price": str(plan.buy_limit),
                      "expected_sell_price": str(plan.sell_limit), "reason": plan.reason}  # fmt: skip
            if not self._stage(ticket_id, [(buy_i, plan.buy), (sell_i, plan.sell)], reasons,
                               instrument=plan.instrument, venues=(plan.buy.venue, plan.sell.venue),
                               detail=detail):  # fmt: skip
                return self._refused(result, reasons)
            buy, sell = self.ex.follow(buy_i), self.ex.follow(sell_i)
            risk.open_tickets += 1
            # Each send runs now up to its socket write: both orders are on the wire here.
            sends = [start_now(self.ex.send(buy)), start_now(self.ex.send(sell))]
            result.decision_to_wire_ns = time.perf_counter_ns() - t0
        self._flush_soon()
        try:
            await asyncio.gather(*sends)
            await asyncio.gather(self.ex.wait_done(buy, self.params.leg_timeout),
                                 self.ex.wait_done(sell, self.params.leg_timeout))  # fmt: skip
            result.bought, result.sold = buy.filled, sell.filled
            residual = buy.filled - sell.filled
            result.status = "done" if buy.filled or sell.filled else "missed"
            if residual:
                t_h = time.perf_counter_ns()
                residual = await self._fix_residual(ticket_id, plan, residual, result)
                result.hedge_lag_ns = time.perf_counter_ns() - t_h
            result.residual = residual
            if residual:
                result.status = "residual"
                self.residuals[ticket_id] = (plan.instrument, residual)
                # dust no venue can trade (lot, minimum quantity or notional) is routine after a
                # partial fill: the sweeper nets it with others, one INFO line; more is an ERROR
                dust = self._dust(plan, residual)
                level, note = (logging.INFO, ": dust below every venue's lot, minimum quantity or notional, "
                               "swept once netted") if dust else (logging.ERROR, "")  # fmt: skip
                log.log(level, "ticket %s left a residual of %s %s after hedge and unwind%s", ticket_id,
                        signed_decimal(residual, plan.buy.qty_decimals), plan.buy.base.name, note)  # fmt: skip
            self._record_outcome(ticket_id, plan, result)
        finally:
            risk.open_tickets -= 1
            self._drift(plan.buy, ticket_id)
            result.orders = list(self.ex.by_ticket.get(ticket_id, ()))  # (forget drops them)
            self.ex.forget(ticket_id)
        self.results.append(result)
        return result

    def _drift(self, m: Market, ticket_id: str) -> None:
        fees = self.ex.base_fees(ticket_id)
        if fees:
            self.add_fee_drift(m.instrument, m.qty_decimals, -fees)

    def add_fee_drift(self, instrument: str, qty_decimals: int, amount: int) -> None:
        """``amount`` (at ``BASE_FEE_DECIMALS``, signed) joins ``instrument``'s fee drift."""
        d = self._fee_drift.setdefault(instrument, [0, qty_decimals])
        d[0] += amount

    def fee_drift(self) -> dict[str, int]:
        """The base paid as fees per instrument, negated, in whole qty units (toward zero), nonzero only."""
        out = {}
        for inst, (amount, qd) in self._fee_drift.items():
            scale = 10 ** (BASE_FEE_DECIMALS - qd)
            units = -(-amount // scale) if amount < 0 else amount // scale
            if units:
                out[inst] = units
        return out

    def absorb_fee_drift(self, instrument: str, units: int) -> None:
        """``units`` (qty units) of the drift are now in a sweep's net: take them out."""
        d = self._fee_drift.get(instrument)
        if d is not None and units:
            d[0] -= units * 10 ** (BASE_FEE_DECIMALS - d[1])

    async def execute_one(self, m: Market, side: Side, qty: int, limit: int, reason: str = "",
                          *, sweep: Mapping[str, object] | None = None) -> TicketResult:  # fmt: skip
        """A one-legged ticket (a strategy's hedge): one IOC on ``m`` at ``limit`` at worst, under the
        same rules, risk limits, reservation and journal as a two-legged one. What it does not fill
        is reported, not chased: the strategy sees the fill and decides again. ``sweep``: the
        residual sweeper's, with what it sweeps (journaled in the ticket's detail before the order
        leaves, for a restart that finds it interrupted); its base fees join :attr:`fee_drift` (a
        strategy's are its own)."""
        ticket_id = new_ticket_id()
        result = TicketResult(ticket_id, "refused")
        reasons = self._check_leg(m, side, qty, limit) + self.ex.risk.check([self._leg_risk(m, side, qty, limit)])
        # room in the venue's rate limits now, as a two-legged ticket's check: an order that waited
        # in the limiter would hold a kill switch's cancels behind it
        reasons += self._rate_room(m, side)
        if reasons:
            return self._refused(result, reasons)
        leg = "buy" if side is Side.BUY else "sell"
        intent = self._intent(ticket_id, leg, m, side, qty=qty, price=limit)
        detail = {"qty": str(qty), f"expected_{leg}_price": str(limit), "reason": reason, "one_legged": True,
                  **(sweep or {})}  # fmt: skip
        reasons = []
        venues = (m.venue, "-") if side is Side.BUY else ("-", m.venue)
        if not self._stage(ticket_id, [(intent, m)], reasons, instrument=m.instrument, venues=venues, detail=detail):
            return self._refused(result, reasons)
        order = self.ex.follow(intent)
        self.ex.risk.open_tickets += 1
        try:
            sending = start_now(self.ex.send(order))
            self._flush_soon()
            await sending
            await self.ex.wait_done(order, self.params.leg_timeout)
            result.orders.append(order)
            result.bought, result.sold = (order.filled, 0) if side is Side.BUY else (0, order.filled)
            result.status = "done" if order.filled else "missed"
            ex_detail = {"bought": str(result.bought), "sold": str(result.sold), "one_legged": True,
                         "legs": {leg: {"venue": m.venue, "state": order.state.value, "filled": str(order.filled),
                                        "reason": order.reason}}}  # fmt: skip
            fees = self.ex.base_fees(ticket_id) if sweep is not None else 0
            if fees:  # a sweep's base fees join the drift (as _record_outcome's)
                ex_detail["base_fees"] = str(fees)
            self.ex.journal.write_ticket_outcome(ticket_id, result.status, ex_detail)
            self._realise(ticket_id, result)  # its fees: the dashboard's PnL, the report's and the daily loss agree
        finally:
            self.ex.risk.open_tickets -= 1
            if sweep is not None:
                self._drift(m, ticket_id)
            self.ex.forget(ticket_id)
        self.results.append(result)
        return result

    def _refused(self, result: TicketResult, reasons: list[str]) -> TicketResult:
        result.reasons = reasons
        self.results.append(result)
        return result

    # ---- 3. residual -----------------------------------------------------------------------------

    async def _fix_residual(self, ticket_id: str, plan: TicketPlan, residual: int, result: TicketResult) -> int:
        """Hedge (best LIVE venue, then) unwind (the venue that over-filled). Returns what is left."""
        p = self.params
        side = Side.SELL if residual > 0 else Side.BUY
        expected = plan.sell_limit if side is Side.SELL else plan.buy_limit
        worst = self._worst(expected, side, abs(residual), plan.buy)
        deadline = time.monotonic() + p.hedge_timeout
        n = 0
        while residual and time.monotonic() < deadline and n < p.max_attempts:
            if not any(m.rules.sendable(abs(residual), _on_tick(worst, side, m)) for m in self._markets_of(plan)):
                break  # dust on every venue: no venue's book can change that (the ticket's last line says so)
            target = self.hedge_venue(plan.instrument, side, worst, qty=abs(residual))
            if target is None:
                if not self._hedge_after_wait(plan.instrument, side, worst, abs(residual), deadline) and (
                    self._unwind_open(plan, residual)
                ):
                    # the far side's price is gone (the leg that missed met a moved book) while the
                    # near side still takes the excess back within the budget: unwind now rather
                    # than hold the exposure for the rest of the hedge timeout hoping it returns.
                    # Not when a venue within the hedge's bound only waits for rate-limit room
                    # that comes back before the deadline: its price is not gone
                    break
                await asyncio.sleep(0.02)  # no LIVE venue within the loss budget yet
                continue
            n += 1
            m, price = target
            done = await self._one_leg(ticket_id, f"hedge{n}", m, side, qty=abs(residual), seen=price, worst=worst)
            residual -= done if side is Side.SELL else -done
            result.status = "hedged"
        if not residual:
            return 0
        # unwind: undo the excess where it was made, within the same budget
        side, m, worst = self._unwind_terms(plan, residual)
        for k in range(1, p.max_attempts + 1):
            if not m.rules.sendable(abs(residual), _on_tick(worst, side, m)):
                if not self._dust(plan, residual):  # (dust is said once, by the ticket's last line)
                    self._cannot_send(ticket_id, f"unwind{k}", m, abs(residual))  # once: its rules stay as they are
                break
            best = self.view.best_price(m.venue, m.instrument, side)
            if best is None or (best < worst if side is Side.SELL else best > worst) or self._rate_room(m, side):
                # (an order its client would refuse for its rate limits is a sure reject: not sent)
                await asyncio.sleep(0.05)
                continue
            done = await self._one_leg(ticket_id, f"unwind{k}", m, side, qty=abs(residual), seen=best, worst=worst)
            residual -= done if side is Side.SELL else -done
            result.status = "unwound"
            if not residual:
                break
        return residual

    def _unwind_terms(self, plan: TicketPlan, residual: int) -> tuple[Side, Market, int]:
        """The unwind of ``residual``: its side, the venue that over-filled, its worst price (the
        leg's own limit moved by the loss budget)."""
        side = Side.SELL if residual > 0 else Side.BUY
        m = plan.buy if residual > 0 else plan.sell
        expected = plan.buy_limit if residual > 0 else plan.sell_limit
        return side, m, self._worst(expected, side, abs(residual), plan.buy)

    def _unwind_open(self, plan: TicketPlan, residual: int) -> bool:
        """Whether the unwind could go now: its venue LIVE and fresh, breaker closed, room in its
        rate limits, its touch within the unwind's worst price, the residual sendable there."""
        side, m, worst = self._unwind_terms(plan, residual)
        live, age = self.view.book_status(m.venue, m.instrument)
        best = self.view.best_price(m.venue, m.instrument, side)
        if not live or age > self.params.max_book_age_ns or best is None:
            return False
        if self.ex.risk.breaker.is_open(m.venue) or self._rate_room(m, side):
            return False
        within = best >= worst if side is Side.SELL else best <= worst
        return within and m.rules.sendable(abs(residual), _on_tick(worst, side, m)) > 0

    def _hedge_after_wait(self, instrument: str, side: Side, worst: int, qty: int, deadline: float) -> bool:
        """Whether a venue that :meth:`hedge_venue` passed over for its rate limits alone (LIVE,
        fresh, breaker closed, ``qty`` sendable, its touch within ``worst``) has room again before
        ``deadline``: the hedge waits for it rather than unwind."""
        left = deadline - time.monotonic()
        for (venue, inst), m in self.markets.items():
            if inst != instrument or self.ex.risk.breaker.is_open(venue):
                continue
            wait = self.ex.clients[venue].order_wait(m.symbol)
            if not 0 < wait < left or not m.rules.sendable(qty, _on_tick(worst, side, m)):
                continue
            live, age = self.view.book_status(venue, inst)
            price = self.view.best_price(venue, inst, side)
            if not live or age > self.params.max_book_age_ns or price is None:
                continue
            if price >= worst if side is Side.SELL else price <= worst:
                return True
        return False

    def _worst(self, expected: int, side: Side, qty: int, m: Market) -> int:
        """The worst price a hedge or unwind of ``qty`` may take: the bps bound, tightened so that
        ``qty`` at that price gives up at most the quote loss budget."""
        move = expected * self.params.loss_budget_bps // 10_000
        budget = self.params.loss_budget_quote
        if budget is not None and qty > 0:
            # budget (quote) / qty (base) is a price move; at raw scales: B * 10^pd * 10^qd / qty_raw
            per_unit = budget.scaleb(m.price_decimals + m.qty_decimals) / qty
            move = min(move, int(per_unit))  # int() truncates toward zero: never looser than the budget
        return expected - move if side is Side.SELL else expected + move

    def _dust(self, plan: TicketPlan, residual: int) -> bool:
        """Whether no venue of the plan's instrument could take an order for ``residual``."""
        return not any(m.rules.sendable(abs(residual), plan.buy_limit) for m in self._markets_of(plan))

    def _markets_of(self, plan: TicketPlan) -> list[Market]:
        return [m for (_, inst), m in self.markets.items() if inst == plan.instrument]

    def hedge_venue(self, instrument: str, side: Side, worst: int, qty: int = 0) -> tuple[Market, int] | None:
        """The LIVE, fresh venue (breaker closed, room in its rate limits) with the best price for
        ``side`` within ``worst``; with ``qty``, among those whose rules let an order for it out."""
        best: tuple[Market, int] | None = None
        for (venue, inst), m in self.markets.items():
            if inst != instrument or self.ex.risk.breaker.is_open(venue) or self._rate_room(m, side):
                continue
            if qty and not m.rules.sendable(qty, _on_tick(worst, side, m)):
                continue
            live, age = self.view.book_status(venue, inst)
            if not live or age > self.params.max_book_age_ns:
                continue
            price = self.view.best_price(venue, inst, side)
            if price is None or (price < worst if side is Side.SELL else price > worst):
                continue
            if best is None or (price > best[1] if side is Side.SELL else price < best[1]):
                best = (m, price)
        return best

    async def _one_leg(
        self, ticket_id: str, leg: str, m: Market, side: Side, *, qty: int, seen: int, worst: int
    ) -> int:
        """One IOC at ``worst`` (at most), sized down to the venue's lot; returns the quantity filled."""
        price = _on_tick(worst, side, m)
        wanted, qty = qty, m.rules.sendable(qty, price)
        if not qty:
            self._cannot_send(ticket_id, leg, m, wanted)
            return 0
        intent = self._intent(ticket_id, leg, m, side, qty=qty, price=price)
        reasons: list[str] = []
        venues = (m.venue, "-") if side is Side.BUY else ("-", m.venue)
        if not self._stage(ticket_id, [(intent, m)], reasons, instrument=m.instrument, venues=venues, detail=None):
            log.error("%s %s on %s: cannot reserve funds: %s", ticket_id, leg, m.venue, "; ".join(reasons))
            return 0
        order = self.ex.follow(intent)
        sending = start_now(self.ex.send(order))
        self._flush_soon()
        await sending
        await self.ex.wait_done(order, self.params.leg_timeout)
        qd, pd = m.qty_decimals, m.price_decimals
        log.info("%s %s %s %s %s on %s at worst %s (seen %s): filled %s", ticket_id, leg, side.value,
                 signed_decimal(qty, qd), m.base.name, m.venue, signed_decimal(price, pd), signed_decimal(seen, pd),
                 signed_decimal(order.filled, qd))  # fmt: skip
        return order.filled

    @staticmethod
    def _cannot_send(ticket_id: str, leg: str, m: Market, qty: int) -> None:
        r, qd = m.rules, m.qty_decimals
        sizes = [signed_decimal(x, qd) for x in (qty, r.lot, r.min_qty)]
        log.warning("%s %s on %s: %s %s is below its lot %s, min qty %s or min notional %s: cannot be sent",
                    ticket_id, leg, m.venue, sizes[0], m.base.name, *sizes[1:],
                    signed_decimal(r.min_notional, m.price_decimals + qd))  # fmt: skip

    def _record_outcome(self, ticket_id: str, plan: TicketPlan, r: TicketResult) -> None:
        detail = {
            "bought": str(r.bought), "sold": str(r.sold), "residual": str(r.residual),
            "hedge_lag_ns": r.hedge_lag_ns, "decision_to_wire_ns": r.decision_to_wire_ns,
            "legs": {o.intent.leg_id: {"venue": o.intent.venue, "state": o.state.value, "filled": str(o.filled),
                                       "avg_price": str(o.avg_price) if o.avg_price is not None else None,
                                       "reason": o.reason}
                     for o in self.ex.by_ticket.get(ticket_id, ())},
        }  # fmt: skip
        fees = self.ex.base_fees(ticket_id)
        if fees:  # what joins the fee drift (_drift, right after): journaled with it, for a restart
            detail["base_fees"] = str(fees)
        self.ex.journal.write_ticket_outcome(ticket_id, r.status, detail)
        self._realise(ticket_id, r)

    def _realise(self, ticket_id: str, r: TicketResult) -> None:
        """The ticket's realised PnL net of fees, from its journaled fills: on the result, and
        into the risk gate's daily loss."""
        try:
            pnl = self.ex.journal.ticket_pnl(ticket_id)
        except (ValueError, LookupError):
            return
        r.pnl = pnl
        self.ex.risk.on_realised(Decimal(pnl.realised).scaleb(-pnl.notional_decimals), pnl.quote)


def _on_tick(price: int, side: Side, m: Market) -> int:
    """A worst price on ``m``'s tick, never worse than ``price`` (a buy rounds down, a sell up)."""
    tick = max(m.rules.tick, 1)
    return price // tick * tick if side is Side.BUY else -(-price // tick) * tick
