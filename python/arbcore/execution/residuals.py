"""Residual sweeping: the dust tickets leave behind, netted per instrument and flattened once the
net is large enough for some venue to accept it.

A ticket whose legs fill differently hedges its residual at once; what is left below every
venue's lot or minimum cannot be sent on its own (an IOC of 0.007 BTC where the minimum is 0.01 is
refused). Left alone, such dust piles up across tickets into real exposure. The sweeper nets the
open residuals of each instrument (a +7000 and a -7000 cancel without any order) and, when the
net clears a venue's minimums, sends one one-legged IOC on the best LIVE venue at a worst price
``loss_budget_bps`` from its current touch. Every ticket it absorbs gets a journaled outcome.

Fees count too: a venue that takes a buy's fee from the base it receives (Binance, OKX) leaves a
filled, flat ticket short by that fee. Per ticket it is far below any minimum; over a day of
tickets it is real exposure. ``TicketRunner.fee_drift`` sums it per instrument (tickets and sweeps,
not a strategy's own one-legged orders) and the sweeper flattens it with the residuals. The
journal has it in the tickets' outcomes: ``base_fees`` (at ``BASE_FEE_DECIMALS``) on the outcome of
each ticket that added to it, ``fee_drift_absorbed`` (qty units) on the row of the sweep (or the
netting) that took it out; :func:`load_residuals` sums them after a restart.
"""

from __future__ import annotations

import logging

from arbcore.execution.amounts import signed_decimal
from arbcore.execution.engine import BASE_FEE_DECIMALS
from arbcore.execution.journal import Journal
from arbcore.execution.orders import Side
from arbcore.execution.records import TicketRecord
from arbcore.execution.ticket import TicketResult, TicketRunner

log = logging.getLogger("arbcore.residuals")


def net_residuals(runner: TicketRunner) -> dict[str, int]:
    """Open residual per instrument, base fees included (qty_decimals; > 0: long)."""
    out: dict[str, int] = runner.fee_drift()
    for inst, qty in runner.residuals.values():
        out[inst] = out.get(inst, 0) + qty
    return {i: q for i, q in out.items() if q}


def is_dust(runner: TicketRunner, instrument: str, qty: int) -> bool:
    """Whether no venue of ``instrument`` could take an order for ``qty`` at its current touch
    (lot, minimum quantity or notional). A venue with no price of its own (its book empty while it
    resyncs or reconnects) is judged at the highest touch the other venues show: a stop that met
    one venue resyncing read 0.00007 BTC (4 USDT, below every venue's 5 USDT minimum) as a
    WARNING residual, its minimum notional untested. With no venue priced at all, lot and minimum
    quantity alone decide: a residual some venue would take at some price is not dust."""
    side = Side.SELL if qty > 0 else Side.BUY
    venues = [(venue, m) for (venue, inst), m in runner.markets.items() if inst == instrument]
    prices = {venue: runner.view.best_price(venue, instrument, side) for venue, _ in venues}
    known = [p for p in prices.values() if p is not None]
    reference = max(known) if known else 2**63  # (no price anywhere: no notional test)
    for venue, m in venues:
        price = prices[venue]
        if m.rules.sendable(abs(qty), price if price is not None else reference):
            return False
    return True


async def sweep(runner: TicketRunner, instrument: str) -> TicketResult | None:
    """Flatten what can be flattened of ``instrument``'s net residual; returns the hedge ticket, if any."""
    tickets = [t for t, (inst, _) in runner.residuals.items() if inst == instrument]
    fees = runner.fee_drift().get(instrument, 0)
    net = sum(runner.residuals[t][1] for t in tickets) + fees
    if not net:
        _absorb(runner, tickets, "netted", 0, fees=fees)  # (fees != 0 here only with tickets to net them)
        runner.absorb_fee_drift(instrument, fees)
        return None
    side = Side.SELL if net > 0 else Side.BUY
    touch = runner.hedge_venue(instrument, side, 1 if side is Side.SELL else 2**62)
    if touch is None:
        return None  # no LIVE venue now; the next sweep tries again
    m, best = touch
    move = best * runner.params.loss_budget_bps // 10_000
    tick = max(m.rules.tick, 1)
    worst = (best - move) // tick * tick if side is Side.SELL else -(-(best + move) // tick) * tick
    qty = m.rules.sendable(abs(net), worst)
    if not qty:
        return None  # still dust on the best venue
    paid = f" and {signed_decimal(-fees, m.qty_decimals)} {m.base.name} paid as fees" if fees else ""
    why = f"residual sweep of {len(tickets)} ticket{'s' if len(tickets) != 1 else ''}{paid}"
    swept = {"sweep_of": tickets, "sweep_net": str(net), "sweep_fee_drift": str(fees)}
    result = await runner.execute_one(m, side, qty, worst, reason=why, sweep=swept)
    done = result.bought - result.sold  # signed: what the sweep bought (+) or sold (-)
    left = net + done
    if result.status == "refused":
        log.warning("residual sweep on %s refused: %s", instrument, "; ".join(result.reasons))
        return result
    _settle(runner, result.ticket_id, instrument, tickets, left=left, fees=fees, status=result.status, found={})
    if left:  # the sweep carries what it left: its result says so, as its journaled outcome does
        result.status, result.residual = "residual", left
    runner.absorb_fee_drift(instrument, fees)  # what the sweep's own fill paid stays in the drift
    qd = m.qty_decimals
    log.info("residual sweep %s on %s: net %s, %s %s on %s, left %s", result.ticket_id, instrument,
             signed_decimal(net, qd), side.value, signed_decimal(abs(done), qd), m.venue,
             signed_decimal(left, qd))  # fmt: skip
    return result


def _settle(runner: TicketRunner, sweep_id: str, instrument: str, tickets: list[str], *, left: int, fees: int,
            status: str, found: dict[str, object]) -> None:  # fmt: skip
    """A sweep's fill applied: its tickets absorbed, what it left carried on by the sweep ticket,
    the fee drift it took out journaled. The sweep's last outcome (``"sweep": true``) is written
    last: a restart that does not find it finishes the sweep (:func:`load_residuals`)."""
    _absorb(runner, tickets, "hedged", left, by=sweep_id)
    if left:
        runner.residuals[sweep_id] = (instrument, left)  # what the sweep left, carried on
    runner.ex.journal.write_ticket_outcome(
        sweep_id, "residual" if left else status,
        {"residual": str(left), "sweep": True, "fee_drift_absorbed": str(fees), **found},
    )  # fmt: skip


def _absorb(runner: TicketRunner, tickets: list[str], status: str, left: int, *, by: str = "", fees: int = 0) -> None:
    """The tickets' residuals now live in the net (zero, or carried by the sweep ticket); ``fees``
    (the fee drift netted with them, no sweep) is journaled on the first one's row."""
    for k, t in enumerate(tickets):
        _, qty = runner.residuals.pop(t)
        detail = {"residual_absorbed": str(qty), "by": by, "net_left": str(left)}
        if fees and k == 0:
            detail["fee_drift_absorbed"] = str(fees)
        runner.ex.journal.write_ticket_outcome(t, status, detail)


def load_residuals(runner: TicketRunner, journal: Journal) -> list[str]:
    """After a restart (and ``Executor.recover``): put back every residual the journal knows of.

    - a ticket whose last outcome is "residual": the residual it recorded;
    - a two-legged ticket with orders but no outcome (the process died mid-ticket): bought - sold
      over all its orders, now that recovery applied every fill; journaled as "residual" (or
      "done" when flat) so the next restart does not count it again;
    - a sweep that never wrote its own outcome (the process died after its order left): finished as the
      sweeper would have, from its journaled net and its fills (else the residuals it flattened
      would be restored, and swept a second time).
    Returns notes for the start-up report.
    """
    notes: list[str] = []
    # a fold of every ticket and outcome: from the latest residual checkpoint and the rows after
    # it (reading them all took 1.3-2.4 s per 100k tickets at each start; residual_checkpoint.py)
    state = journal.residual_state()
    drift = state.drift
    # the tickets that can need anything below: any other has an outcome, not a residual one,
    # and is no sweep left unsettled (the full read skipped it too)
    tickets = journal.tickets_of(state.residual.keys() | state.pending | state.unsettled)
    # the orders of the tickets read below only: those with no outcome, and sweeps not settled
    # (every order of the journal took 4 s per 100k tickets at each start)
    need = [t.ticket_id for t in tickets if t.ticket_id in state.pending or t.ticket_id in state.unsettled]
    orders_of: dict[str, list[tuple[Side, int]]] = {}
    for rec in journal.orders_of(need):
        orders_of.setdefault(rec.intent.ticket_id, []).append((rec.intent.side, rec.filled_qty))
    qty_decimals = state.qty_decimals
    for t in tickets:
        if t.ticket_id in state.unsettled:
            orders = orders_of.get(t.ticket_id, [])
            has_outcome = t.ticket_id not in state.pending
            notes.append(_finish_sweep(runner, journal, t, orders, has_outcome=has_outcome, drift=drift))
            continue
        if t.ticket_id not in state.pending:
            if qty := state.residual.get(t.ticket_id, 0):  # its last outcome: "residual"
                runner.residuals[t.ticket_id] = (t.instrument, qty)
            continue
        if t.ticket_id not in orders_of or "-" in (t.buy_venue, t.sell_venue):
            continue  # refused before any order, or a one-legged hedge (it carries no residual)
        qty = sum(q if side is Side.BUY else -q for side, q in orders_of[t.ticket_id])
        found: dict[str, object] = {"residual": str(qty), "found_at_restart": True}
        fees = journal.ticket_base_fees(t.ticket_id, BASE_FEE_DECIMALS)
        if fees:
            found["base_fees"] = str(fees)
            drift.setdefault(t.instrument, [0, 0])[0] += fees
        journal.write_ticket_outcome(t.ticket_id, "residual" if qty else "done", found)
        if qty:
            runner.residuals[t.ticket_id] = (t.instrument, qty)
            qd = qty_decimals.get(t.instrument)
            left = str(qty) if qd is None else signed_decimal(qty, qd)
            notes.append(f"ticket {t.ticket_id} ({t.instrument}) was interrupted with a residual of {left}")
    for instrument, (paid, absorbed) in drift.items():
        qd = qty_decimals.get(instrument)
        if qd is None or not (paid or absorbed):
            continue
        runner.add_fee_drift(instrument, qd, -paid)
        runner.absorb_fee_drift(instrument, absorbed)
        if units := runner.fee_drift().get(instrument):
            notes.append(f"{instrument}: {signed_decimal(units, qd)} of base paid as fees, to sweep")
    return notes


def _finish_sweep(runner: TicketRunner, journal: Journal, t: TicketRecord, orders: list[tuple[Side, int]], *,
                  has_outcome: bool, drift: dict[str, list[int]]) -> str:  # fmt: skip
    """An interrupted sweep's fill applied to the tickets it swept (those not absorbed yet)."""
    done = sum(q if side is Side.BUY else -q for side, q in orders)
    fees = int(str(t.detail.get("sweep_fee_drift", "0")))
    left = int(str(t.detail["sweep_net"])) + done
    d = drift.setdefault(t.instrument, [0, 0])
    d[1] += fees
    found: dict[str, object] = {"found_at_restart": True}
    paid = 0 if has_outcome else journal.ticket_base_fees(t.ticket_id, BASE_FEE_DECIMALS)
    if paid:  # died before its own outcome: the base it paid, from its fills
        found["base_fees"] = str(paid)
        d[0] += paid
    swept = [x for x in t.detail["sweep_of"] if x in runner.residuals]
    _settle(runner, t.ticket_id, t.instrument, swept, left=left, fees=fees, status="done" if done else "missed",
            found=found)  # fmt: skip
    return f"residual sweep {t.ticket_id} ({t.instrument}) was interrupted: {done:+d} applied, {left} left"
