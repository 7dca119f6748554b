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
not a strategy's own one-legged orders) and the sweeper flattens it with the residuals. It is not
journaled as an outcome: after a restart the report's ``residual_exposure`` still shows it.
"""

from __future__ import annotations

import logging

from arbcore.execution.journal import Journal
from arbcore.execution.orders import Side
from arbcore.execution.ticket import TicketResult, TicketRunner

log = logging.getLogger("arbcore.residuals")


def net_residuals(runner: TicketRunner) -> dict[str, int]:
    """Open residual per instrument, base fees included (qty_decimals; > 0: long)."""
    out: dict[str, int] = runner.fee_drift()
    for inst, qty in runner.residuals.values():
        out[inst] = out.get(inst, 0) + qty
    return {i: q for i, q in out.items() if q}


async def sweep(runner: TicketRunner, instrument: str) -> TicketResult | None:
    """Flatten what can be flattened of ``instrument``'s net residual; returns the hedge ticket, if any."""
    tickets = [t for t, (inst, _) in runner.residuals.items() if inst == instrument]
    fees = runner.fee_drift().get(instrument, 0)
    net = sum(runner.residuals[t][1] for t in tickets) + fees
    if not net:
        _absorb(runner, tickets, "netted", 0)
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
    lot = max(m.rules.lot, 1)
    qty = abs(net) // lot * lot
    if qty < max(m.rules.min_qty, 1) or qty * worst < m.rules.min_notional:
        return None  # still dust on the best venue
    why = f"residual sweep of {len(tickets)} tickets" + (f" and {-fees} of base paid as fees" if fees else "")
    result = await runner.execute_one(m, side, qty, worst, reason=why, sweep=True)
    done = result.bought - result.sold  # signed: what the sweep bought (+) or sold (-)
    left = net + done
    if result.status == "refused":
        log.warning("residual sweep on %s refused: %s", instrument, "; ".join(result.reasons))
        return result
    _absorb(runner, tickets, "hedged", left, by=result.ticket_id)
    runner.absorb_fee_drift(instrument, fees)  # what the sweep's own fill paid stays in the drift
    if left:
        runner.residuals[result.ticket_id] = (instrument, left)  # what the sweep left, carried on
        runner.ex.journal.write_ticket_outcome(result.ticket_id, "residual", {"residual": str(left), "sweep": True})
    log.info("residual sweep %s on %s: net %d, %s %d on %s, left %d", result.ticket_id, instrument, net,
             side.value, abs(done), m.venue, left)  # fmt: skip
    return result


def _absorb(runner: TicketRunner, tickets: list[str], status: str, left: int, by: str = "") -> None:
    """The tickets' residuals now live in the net (zero, or carried by the sweep ticket)."""
    for t in tickets:
        _, qty = runner.residuals.pop(t)
        runner.ex.journal.write_ticket_outcome(t, status, {"residual_absorbed": str(qty), "by": by,
                                                           "net_left": str(left)})  # fmt: skip


def load_residuals(runner: TicketRunner, journal: Journal) -> list[str]:
    """After a restart (and ``Executor.recover``): put back every residual the journal knows of.

    - a ticket whose last outcome is "residual": the residual it recorded;
    - a two-legged ticket with orders but no outcome (the process died mid-ticket): bought - sold
      over all its orders, now that recovery applied every fill; journaled as "residual" (or
      "done" when flat) so the next restart does not count it again.
    Returns notes for the start-up report.
    """
    notes: list[str] = []
    last: dict[str, tuple[str, dict[str, object]]] = {}
    for ticket_id, _ns, status, detail in journal.ticket_outcomes():
        last[ticket_id] = (status, detail)
    orders_of: dict[str, list[tuple[Side, int]]] = {}
    for rec in journal.orders():
        orders_of.setdefault(rec.intent.ticket_id, []).append((rec.intent.side, rec.filled_qty))
    for t in journal.tickets():
        if t.ticket_id in last:
            status, detail = last[t.ticket_id]
            if status == "residual":
                qty = int(str(detail.get("residual", "0")))
                if qty:
                    runner.residuals[t.ticket_id] = (t.instrument, qty)
            continue
        if t.ticket_id not in orders_of or "-" in (t.buy_venue, t.sell_venue):
            continue  # refused before any order, or a one-legged hedge (it carries no residual)
        qty = sum(q if side is Side.BUY else -q for side, q in orders_of[t.ticket_id])
        journal.write_ticket_outcome(t.ticket_id, "residual" if qty else "done",
                                     {"residual": str(qty), "found_at_restart": True})  # fmt: skip
        if qty:
            runner.residuals[t.ticket_id] = (t.instrument, qty)
            notes.append(f"ticket {t.ticket_id} ({t.instrument}) was interrupted with a residual of {qty}")
    return notes
