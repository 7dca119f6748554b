"""The ticket's order path through Rust (``arbcore._core.OrderPath``): decide, record, write both
frames, in one call and two socket writes.

Why: between opportunities the engine idles, so the order path runs with cold caches, where
each CPython call costs ~1.5 µs; the Python ticket path (``ticket.py``: rules, risk, ledger,
intent record, two clients' encoding and signing) makes ~300 of them. ``OrderPath.prepare``
does the same checks on integers, builds the intent record (``StagedTicket.to_line``'s bytes)
and both signed frames (the clients' ``place`` bytes), and returns them. Then, in one
synchronous stretch of the event loop (nothing else can run in between):

1. each client hands out its order socket if an order may go now (connected, logged in, its
   rate-limit charge taken): ``fast_transport``;
2. the record (framed and checked against the journal's secrets in Rust) goes to the intent log
   (``IntentLog.append_framed``; ``Journal.store_framed`` when the log is full): on disk before
   the orders;
3. both frames are written;
4. only then the Python bookkeeping the Python path does before sending: intents, orders
   followed, reservations in the ledger (the Rust copy said they fit), the ticket staged for
   SQLite, and each reply awaited (``Executor.sent_by_path``).

A ticket the built-in taker decides in Rust (``OrderPath.take``, a feed's ``on_frame_take``) goes
further: when both its markets are armed (:meth:`FastPath._arm`: the client would hand out its
socket now, see ``rust/python/wire.rs``), steps 2 and 3 happen in that same Rust call, and
:meth:`FastPath.started` spends the charges and does step 4 (paired e2e rounds: 4.3 µs p50 less
from the decision to the last order segment, 79% of 100 pairs faster).

Anything the Rust path does not accept (a refusal, a venue it has no encoder for, a client not
ready, a test hook set) goes the Python way, which words the refusal: this is a fast *accept*
path, never a second set of rules. Its state (available funds, positions, open tickets, kill
switch, breakers) is a copy the Python ledger and risk gate push on every change
(``watch`` callbacks), always between tickets.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

import orjson
from picows import WSMsgType

import arbcore
from arbcore.execution.eager import start_now
from arbcore.execution.engine import Executor, LiveOrder
from arbcore.execution.errors import LedgerError
from arbcore.execution.intent_log import StagedTicket
from arbcore.execution.orders import Side

if TYPE_CHECKING:
    from arbcore._core import Feed, TakenTicket
    from arbcore.execution.ticket import Market, TicketPlan, TicketRunner

log = logging.getLogger("arbcore.fast_path")

_TEXT = WSMsgType.TEXT
_E18 = Decimal(10) ** 18

#: (buy market, sell market, the instrument's book) per (buy venue, sell venue, instrument)
Pair = tuple[int, int, arbcore.ConsolidatedBook]
Sent = tuple[LiveOrder, LiveOrder, list["asyncio.Task[LiveOrder]"], int]
#: (intent record framed for the intent log, buy frame, sell frame, buy request id, sell request id)
Prepared = tuple[bytes, bytes, bytes, str, str]
#: a ticket :meth:`FastPath.take` started: (plan, (ticket id, sent, decision ns), opportunities, records looked at)
Taken = tuple["TicketPlan", tuple[str, Sent, int], int, int]


def _at18(d: Decimal) -> int:
    """A limit at 18 decimals, floored: for an integer x at that scale, x > floor(L) iff x > L."""
    return int((d * _E18).to_integral_value(ROUND_FLOOR))


class FastPath:
    def __init__(self, runner: TicketRunner, books: Mapping[str, arbcore.ConsolidatedBook]) -> None:
        self.runner = runner
        self.ex: Executor = runner.ex
        self.path = arbcore.OrderPath()
        self._venues: dict[str, int] = {}
        self._assets: dict[str, int] = {}
        self._markets: dict[tuple[str, str], int] = {}
        self._pairs: dict[tuple[str, str, str], Pair] = {}
        self._by_index: dict[int, Market] = {}  # market index -> the runner's market
        self._armed: dict[str, int] = {}  # instrument -> its armed taker
        self._shared_limiter: set[tuple[str, str]] = set()  # (buy, sell) venues whose clients share one
        from arbcore.execution.ticket import TICKET_PREFIX, TicketPlan  # ticket.py imports this module

        self._prefix, self._plan = TICKET_PREFIX, TicketPlan
        #: the intent log, where the records go (``Journal.store_framed``'s, one call nearer the wire)
        log = runner.ex.journal.intent_log
        if log is None:
            raise ValueError("the order path needs a journal with an intent log (FastPath.build checks)")
        self._intent_log = log
        #: the session's follow-up of a ticket this path started (after both writes)
        self.on_started: Callable[[str, Taken], None] | None = None
        self.mismatches = 0  # reservations the Python ledger refused after a Rust pass (never, if mirrored)
        self.accepted = 0
        self.taken = 0  # of them, tickets the built-in taker started here (take)
        self.written_by_path = 0  # of them, tickets whose frames the order path wrote itself (arm_wire)
        self.declined = 0
        self.path.set_wire_store(log.tail, _TEXT)
        self._build(books)
        self._mirror()
        self.path.set_secrets(list(self.ex.journal.secret_bytes))

    @classmethod
    def build(cls, runner: TicketRunner, books: Mapping[str, arbcore.ConsolidatedBook]) -> FastPath | None:
        """The order path for ``runner``'s markets, or None when none of them can use it (or the
        journal has no intent log, which is where its records go)."""
        if not runner.ex.journal.has_intent_log:
            return None
        fast = cls(runner, books)
        return fast if fast._pairs else None

    # ---- set-up ------------------------------------------------------------------------------

    def _asset(self, name: str, decimals: int) -> int:
        i = self._assets.get(name)
        if i is None:
            i = self._assets[name] = self.path.add_asset(name, decimals)
        return i

    def _build(self, books: Mapping[str, arbcore.ConsolidatedBook]) -> None:
        ex, path = self.ex, self.path
        for venue, client in ex.clients.items():
            i = path.add_venue(venue)
            if client.configure_order_path(path, i):
                self._venues[venue] = i
                client.on_order_socket_lost = functools.partial(self.disarm, venue)
        for (venue, inst), m in self.runner.markets.items():
            v = self._venues.get(venue)
            book = books.get(inst)
            if v is None or book is None or venue not in book.venues:
                continue
            r = m.rules
            i = self._markets[(venue, inst)] = path.add_market(
                v, book.venue_index(venue), symbol=m.symbol, instrument=inst,
                base=self._asset(m.base.name, m.base.decimals), quote=self._asset(m.quote.name, m.quote.decimals),
                price_decimals=m.price_decimals, qty_decimals=m.qty_decimals, tick=r.tick, lot=r.lot,
                min_qty=r.min_qty, max_qty=r.max_qty or 0, min_notional=r.min_notional, taker_fee=r.taker_fee or 0,
            )  # fmt: skip
            self._by_index[i] = m
        for (bv, inst), b in self._markets.items():
            for (sv, inst2), s in self._markets.items():
                if inst2 == inst and sv != bv:
                    self._pairs[(bv, sv, inst)] = (b, s, books[inst])
                    lb, ls = (getattr(ex.clients[v], "limiter", None) for v in (bv, sv))
                    if lb is not None and lb is ls:  # room for one order each is not room for both
                        self._shared_limiter.add((bv, sv))
        self.prime()

    def _mirror(self) -> None:
        """Copy the ledger's and the risk gate's state in, and follow their changes."""
        ex, path = self.ex, self.path
        self._push_limits()
        for (venue, name), bal in ex.ledger.balances().items():
            self._on_balance(venue, name, bal.available)
        for (venue, base), qty in ex.risk.positions.items():
            self._on_position(venue, base, qty)
        path.set_open_tickets(ex.risk.open_tickets)
        kill = ex.risk.kill
        path.set_halted(bool(kill.reason))
        path.set_kill_file(None if kill.path is None else str(kill.path))
        for venue in ex.risk.breaker.open_venues():
            self._on_breaker(venue, ex.risk.limits.breaker_cooldown_s)
        ex.ledger.watch = self._on_balance
        ex.risk.watch_position = self._on_position
        ex.risk.watch_open_tickets = path.set_open_tickets
        ex.risk.breaker.watch = self._on_breaker
        kill.watchers.append(self._on_kill)
        # replaced limits reach the Rust copy at once: a ticket it writes itself is never checked
        # against the old ones (the Python route drops such a ticket in `started` instead)
        ex.risk.watch_limits = self._push_limits
        self.runner.watch_params = self._push_limits
        ex.watch_hook = self._on_hook

    def _push_limits(self) -> None:
        """The risk limits and the ticket's book-age bound (again whenever either is replaced)."""
        path, lim, params = self.path, self.ex.risk.limits, self.runner.params
        self._limits, self._params = lim, params
        path.set_limits(_at18(lim.max_order_notional), _at18(lim.max_ticket_notional), lim.max_open_tickets,
                        params.max_book_age_ns)  # fmt: skip
        for name, a in self._assets.items():
            cap, net = lim.max_position.get(name), lim.max_net_position.get(name)
            path.set_position_limits(a, None if cap is None else _at18(cap), None if net is None else _at18(net))

    def _on_balance(self, venue: str, asset: str, available: int) -> None:
        v, a = self._venues.get(venue), self._assets.get(asset)
        if v is not None and a is not None:
            self.path.set_available(v, a, available)

    def _on_position(self, venue: str, base: str, qty: Decimal) -> None:
        v, a = self._venues.get(venue), self._assets.get(base)
        if v is not None and a is not None:
            self.path.set_position(v, a, int(qty * _E18))  # exact: quantities have at most 18 decimals

    def _on_breaker(self, venue: str, seconds: float) -> None:
        v = self._venues.get(venue)
        if v is not None:
            self.path.open_breaker(v, seconds)

    def _on_kill(self) -> None:
        self.path.set_halted(True)

    def _on_hook(self) -> None:
        if self.ex.hook is not None:  # the crash tests drive the Python path's send moments
            self.path.disarm_wire()

    def _arm(self, market: int) -> None:
        """Let the order path write ``market``'s leg itself while its client's socket stays
        connected and its limiter unchanged, if the client would hand the socket out now
        (``primed_transport``); see ``rust/python/wire.rs``."""
        m = self._by_index[market]
        client = self.ex.clients[m.venue]
        t = None if self.ex.hook is not None else client.primed_transport(m.symbol)
        if t is None:
            self.path.disarm_wire(market)
        else:
            limiter = client.limiter
            self.path.arm_wire(market, t, limiter, 0 if limiter is None else limiter.version)

    def disarm(self, venue: str) -> None:
        """``venue``'s markets no longer written by the order path itself until the next
        :meth:`prime` finds its client ready (a client whose order socket stopped taking orders
        while still connected calls this: ``OrderClient.on_order_socket_lost``)."""
        for i, m in self._by_index.items():
            if m.venue == venue:
                self.path.disarm_wire(i)

    # ---- the ticket --------------------------------------------------------------------------

    def send_pair(self, ticket_id: str, plan: TicketPlan) -> Sent | None:
        """Both legs of ``plan`` on the wire, or None (nothing sent, nothing changed: the caller
        runs the Python path). Returns the orders, their outcome tasks and when they left."""
        pair = self._pairs.get((plan.buy.venue, plan.sell.venue, plan.instrument))
        if pair is None or not self._ready():
            return None
        bi, si, book = pair
        out = self.path.prepare(ticket_id, book, bi, si, plan.qty, plan.buy_limit, plan.sell_limit, plan.reason)
        if out is None:
            self.declined += 1
            return None
        return self._send(ticket_id, plan, out)

    def _ready(self) -> bool:
        """Whether a ticket may take this path now (and its limits are the current ones).
        :meth:`take` has the same lines written out: keep them equal."""
        if self.ex.hook is not None:  # the crash tests drive the Python path's send moments
            return False
        if self.ex.risk.limits is not self._limits or self.runner.params is not self._params:
            self._push_limits()  # frozen dataclasses: replaced, never changed in place
        return True

    def _send(self, ticket_id: str, plan: TicketPlan, prepared: Prepared) -> Sent | None:
        wire_ns = self._write(plan.buy, plan.sell, prepared)
        return None if wire_ns is None else self._sent(ticket_id, plan, prepared, wire_ns)

    def _write(self, buy: Market, sell: Market, prepared: Prepared, dry: bool = False) -> int | None:
        """The record stored and both frames written (when they left), or None: nothing written.

        Each leg's rate-limit charge: when the client found room for an order beforehand and its
        limiter has not changed since (``primed_transport``: time alone only frees room), the
        charge is spent right after the writes, off the way to the wire; otherwise it is taken
        first (``fast_transport``). ``dry``: up to the writes, which it leaves out (see :meth:`take`)."""
        record, buy_frame, sell_frame, _, _ = prepared
        clients = self.ex.clients
        cb, cs = clients[buy.venue], clients[sell.venue]
        tb, ts = cb.primed_transport(buy.symbol), cs.primed_transport(sell.symbol)
        primed = tb is not None and ts is not None and (buy.venue, sell.venue) not in self._shared_limiter
        log = self._intent_log
        if dry:
            log.append_framed(record, True)
            return None
        if not primed:
            # a leg whose client is not ready now: the Python path paces it (a charge the first
            # leg took here stays spent: the limiter errs on the slow side)
            tb = cb.fast_transport(buy.symbol)
            ts = cs.fast_transport(sell.symbol) if tb is not None else None
            if ts is None or tb is None:
                self.declined += 1
                return None
        assert tb is not None and ts is not None  # (for mypy: both paths above ensure it)
        if not log.append_framed(record):
            self.ex.journal.store_framed(record)  # the log is full: the journal makes room first
        tb.send(_TEXT, buy_frame)
        ts.send(_TEXT, sell_frame)
        wire_ns = time.perf_counter_ns()
        if primed:
            cb.settle_primed(buy.symbol)
            cs.settle_primed(sell.symbol)
        else:
            cb.prime(buy.symbol)
            cs.prime(sell.symbol)
        return wire_ns

    def prime(self) -> None:
        """Each market's client checks its room for an order ahead (``OrderClient.prime``), and
        each market whose arm no longer holds is armed again if its client is ready."""
        clients = self.ex.clients
        for m in self._by_index.values():
            clients[m.venue].prime(m.symbol)
        for i in self.path.stale_wires():
            self._arm(i)

    def _sent(self, ticket_id: str, plan: TicketPlan, prepared: Prepared, wire_ns: int) -> Sent:
        """Both legs are out: follow them (the Python path's bookkeeping, after the fact)."""
        _, _, _, buy_rid, sell_rid = prepared
        self.accepted += 1
        buy, sell = self._book_keep(ticket_id, plan)
        ex = self.ex
        sends = [start_now(ex.sent_by_path(buy, buy_rid, wire_ns)), start_now(ex.sent_by_path(sell, sell_rid, wire_ns))]
        return buy, sell, sends, wire_ns

    # ---- the built-in taker ------------------------------------------------------------------

    def arm_taker(self, instrument: str, min_edge_bps: float, cap: int | None, lots: Mapping[str, int]) -> bool:
        """Let :meth:`take` decide for the built-in taker strategy on ``instrument`` (its
        ``min_edge_bps``, its ``max_qty`` cap and the venues' lots as its configuration has them).
        False when no pair of the instrument's venues can use this path."""
        book = next((b for (_, _, inst), (_, _, b) in self._pairs.items() if inst == instrument), None)
        if book is None:
            return False
        markets = [self._markets.get((v, instrument)) for v in book.venues]
        lot_list = [lots.get(v, 0) for v in book.venues]
        self._armed[instrument] = self.path.arm_taker(markets, min_edge_bps=min_edge_bps, cap=cap, lots=lot_list)
        return True

    def warm_steps(self, books: Mapping[str, arbcore.ConsolidatedBook]) -> list[Callable[[], object]]:
        """A dry run's parts, to run in order: :meth:`prime` (each client's room for an order
        checked ahead, stale arms armed again), then each armed instrument's path run dry
        (:meth:`take` with ``dry``: nothing sent, stored or counted). Parts, so that a caller may
        poll its sockets between two (``WarmLoop.busy_poll``)."""
        steps: list[Callable[[], object]] = [self.prime]
        for instrument in self._armed:
            book = books.get(instrument)
            if book is not None:
                steps.append(functools.partial(self.take, instrument, book, True))
        return steps

    def take(self, instrument: str, book: arbcore.ConsolidatedBook, dry: bool = False) -> Taken | int:
        """After a read of ``book``: if the armed taker takes an opportunity and the order path
        accepts it, its ticket with both legs on the wire: (plan, started, opportunities, records
        the strategy looked at). Otherwise the number of opportunities (0: nothing for the
        strategy) or -1 (not armed, or the Python route decides: the strategy, then the ticket).
        The feeds' ``on_frame_take`` runs the same decision in the decode's call (see :meth:`attach`).

        ``dry`` (``[run] keep_warm_ms``): the same code up to the socket writes, which it leaves
        out, with no effect (``OrderPath.take``'s dry run); returns -1. Why not a separate warm-up
        method: on the hosts measured, code not run in the last few ms costs ~5-10x its hot time,
        and a twin function keeps only itself warm."""
        armed = self._armed.get(instrument)
        ex = self.ex
        if armed is None or ex.hook is not None:  # _ready(), written out (a call is ~1.5 µs cold)
            return -1
        if ex.risk.limits is not self._limits or self.runner.params is not self._params:
            self._push_limits()
        out = self.path.take(armed, self._prefix, book, dry)
        if isinstance(out, int):
            return out
        got = self.started(out, dry)
        return -1 if got is None else got

    def started(self, out: TakenTicket, dry: bool = False) -> Taken | None:
        """A ticket the order path decided (``OrderPath.take``'s, or a feed's ``on_frame_take``'s:
        the feed calls this itself): its record stored and both frames written (here, unless the
        order path wrote them itself: then their charges are spent and the markets armed again),
        then followed and handed to :attr:`on_started`. Returns it, or None: nothing written (a
        client not ready, a test hook, limits replaced since the decision, or ``dry``); the
        Python route then takes the book again (the feed's read callback)."""
        ticket_id, record, bf, sf, brid, srid, bm, sm, qty, bl, sl, (reason, n, calls, t0, written) = out
        buy, sell, prepared = self._by_index[bm], self._by_index[sm], (record, bf, sf, brid, srid)
        if written > 0:  # the order path stored the record and wrote both frames itself
            self.written_by_path += 1
            clients = self.ex.clients
            clients[buy.venue].settle_primed(buy.symbol)
            clients[sell.venue].settle_primed(sell.symbol)
            wire_ns = written
        else:
            ex = self.ex
            if ex.hook is not None or ex.risk.limits is not self._limits or self.runner.params is not self._params:
                self._push_limits()  # (the decision used the limits before: it is dropped)
                return None
            if written < 0:  # a dry run's checks and store, done in the order path
                return None
            got = self._write(buy, sell, prepared, dry)
            if got is None:
                return None
            wire_ns = got
        self._arm(bm)  # (their limiters' versions changed with the charges just spent)
        self._arm(sm)
        self.taken += 1
        plan = self._plan(buy.instrument, buy, sell, qty, bl, sl, reason)
        taken = (plan, (ticket_id, self._sent(ticket_id, plan, prepared, wire_ns), t0), n, calls)
        if self.on_started is not None:
            self.on_started(buy.instrument, taken)
        return taken

    def attach(self, feed: Feed, books: Sequence[arbcore.ConsolidatedBook]) -> bool:
        """Let ``feed`` (over ``books``, by instrument index) start the armed takers' tickets in
        its ``on_frame_take``; False when none of its books has one."""
        armed = [self._armed.get(b.instrument) for b in books]
        if not any(a is not None for a in armed):
            return False
        feed.attach_taker(self.path, armed, self._prefix)
        return True

    def set_open(self, instrument: str, open: bool) -> None:
        """Whether the feeds may start ``instrument``'s tickets (closed while one is in flight)."""
        armed = self._armed.get(instrument)
        if armed is not None:
            self.path.set_taker_open(armed, open)

    def _book_keep(self, ticket_id: str, plan: TicketPlan) -> tuple[LiveOrder, LiveOrder]:
        """What the Python path does before sending, done after: the same intents, reservations
        and staged ticket (``tests/test_order_path.py`` checks the record equals this one)."""
        runner, ex = self.runner, self.ex
        legs: list[tuple[str, Market, Side, int]] = [("buy", plan.buy, Side.BUY, plan.buy_limit),
                                                     ("sell", plan.sell, Side.SELL, plan.sell_limit)]  # fmt: skip
        intents = [runner._intent(ticket_id, leg, m, side, qty=plan.qty, price=price) for leg, m, side, price in legs]
        orders = [ex.follow(i) for i in intents]
        with ex.ledger.capture() as events:
            for leg, m, side, price in legs:
                try:
                    runner._reserve(ticket_id, leg, m, side, qty=plan.qty, price=price)
                except LedgerError as e:  # the orders are out: follow them anyway, and say so loudly
                    self.mismatches += 1
                    log.error("%s %s: the ledger refused a reservation the order path allowed: %s", ticket_id, leg, e)
        detail = {"qty": str(plan.qty), "expected_buy_price": str(plan.buy_limit),
                  "expected_sell_price": str(plan.sell_limit), "reason": plan.reason}  # fmt: skip
        text = orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()
        ex.journal.staged(StagedTicket(ticket_id, plan.instrument, plan.buy.venue, plan.sell.venue, text,
                                       tuple(events), tuple(intents)))  # fmt: skip
        return orders[0], orders[1]
