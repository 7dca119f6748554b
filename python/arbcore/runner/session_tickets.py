"""A trading session's tickets once started, one in flight per instrument: each ticket followed
to its end (counted, logged, its instrument released for the next one), and the sweeps that
flatten what tickets left, netted per instrument (on the timer, after each ticket, and at stop).

The session starts them (``TradingSession.submit``, ``TradingSession._taken``) and holds the
instrument (``TradingSession._hold``) on the hot path; these run as the ticket's task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from arbcore.execution.amounts import signed_decimal
from arbcore.execution.eager import start_now
from arbcore.execution.orders import Side
from arbcore.execution.residuals import is_dust, net_residuals, sweep
from arbcore.execution.ticket import Market, Started, TicketPlan, TicketResult, TicketRunner
from arbcore.runner.plugins import TicketOutcome

if TYPE_CHECKING:
    from arbcore.runner.session import TradingSession

log = logging.getLogger("arbcore.session")

STOP_SWEEP_PAUSE_S = 0.05  # between the stop's sweeps: the books refill what the last IOC took


async def run_ticket(s: TradingSession, instrument: str, plan: TicketPlan | tuple[Market, Side, int, int, str],
                     started: Started | None = None) -> None:  # fmt: skip
    """A ticket on ``instrument`` (held by the caller) to its end: then the instrument is released
    and the ticket counted (``s.stats``, ``s.on_ticket``)."""
    assert s.runner is not None
    try:
        if isinstance(plan, TicketPlan):
            result = await s.runner.execute(plan, started)
        else:
            result = await s.runner.execute_one(*plan)
        # the instrument is still this task's: a strategy that trades it back to back would
        # otherwise never leave the timer's sweeper a moment to flatten its dust
        if s._accepting:
            await sweep_once(s, instrument)
    except Exception:
        log.exception("ticket on %s failed", instrument)
        return
    finally:
        s._release(instrument)
        s._sync_book_balances()
    if result.status == "refused":
        s.stats.refused += 1
        s._refusals.log(result.reasons)
    else:
        s.stats.decision_to_wire_ns.append(result.decision_to_wire_ns)
        qd = s.config.instrument(instrument).qty_decimals
        log.info("ticket %s %s: bought %s sold %s residual %s", result.ticket_id, result.status,
                 *(signed_decimal(q, qd) for q in (result.bought, result.sold, result.residual)))  # fmt: skip
        _count_ended(s, result)
    if s.on_ticket is not None and result.status == "refused":
        s.on_ticket(result)
    reason = plan.reason if isinstance(plan, TicketPlan) else plan[4]
    outcome = TicketOutcome(result.ticket_id, instrument, result.status, tuple(result.reasons), result.bought,
                            result.sold, result.residual, reason)  # fmt: skip
    for p in s.host.on_ticket(outcome):  # the strategy told how its ticket ended (a refusal: why)
        s.submit(p)


def sweep_residuals(s: TradingSession) -> None:
    """Dust left by tickets, netted per instrument, flattened once a venue takes its size."""
    if s.runner is None or not s._accepting:
        return
    for inst in net_residuals(s.runner):
        if inst in s._in_flight:
            continue
        s._hold(inst)
        task = start_now(_run_sweep(s, inst))
        s._tasks.add(task)
        task.add_done_callback(s._tasks.discard)


async def _run_sweep(s: TradingSession, instrument: str) -> None:
    try:
        await sweep_once(s, instrument)
    finally:
        s._release(instrument)
        s._sync_book_balances()


async def sweep_at_stop(s: TradingSession, runner: TicketRunner) -> None:
    """Sweeps until each instrument is flat (or dust), a sweep fills nothing, or the hedge
    timeout has passed (each instrument has its first sweep whatever the others took). One
    sweep was not enough: an IOC that met a thin book left most of a residual open at exit
    (0.0449 of 0.0824 ETH in a 30 s threshold run), reported but never retried; the books
    refill between tries."""
    deadline = time.monotonic() + runner.params.hedge_timeout
    for inst in net_residuals(runner):
        first = True  # (the deadline is shared: an earlier instrument's sweeps may have used it)
        while inst in net_residuals(runner) and (first or time.monotonic() < deadline):
            first = False
            result = await sweep_once(s, inst)
            if result is None or result.status == "refused" or not (result.bought or result.sold):
                break  # dust, no venue, refused or nothing filled: more tries change nothing now
            await asyncio.sleep(STOP_SWEEP_PAUSE_S)
    left = net_residuals(runner)
    if left:
        # an instrument the config no longer has (a journal's residual after it was dropped): no
        # venue can trade it, so it is exposure, not dust, and only its raw amount is known
        known = {i.name: i.qty_decimals for i in s.config.instruments}
        dust = all(i in known and is_dust(runner, i, q) for i, q in left.items())
        text = ", ".join(f"{i} {signed_decimal(q, known[i])}" if i in known else f"{i} {q} (raw: not in the config)"
                         for i, q in left.items())  # fmt: skip
        log.log(logging.INFO if dust else logging.WARNING,
                "stopping with a residual (the exit report has it by venue): %s", text)  # fmt: skip


async def sweep_once(s: TradingSession, instrument: str) -> TicketResult | None:
    """The sweeper on ``instrument`` if tickets left it a net residual (errors logged, not
    raised); the sweep's ticket, if one went out."""
    runner = s.runner
    if runner is None or s.risk.kill.engaged or instrument not in net_residuals(runner):
        return None
    try:
        result = await sweep(runner, instrument)
    except Exception:
        log.exception("residual sweep on %s failed", instrument)
        return None
    if result is not None and result.status != "refused":
        _count_ended(s, result)
    return result


def _count_ended(s: TradingSession, result: TicketResult) -> None:
    """A ticket or sweep that sent orders: counted, its PnL in the dashboard's as in the report's,
    among the recent tickets, and passed to the session's ``on_ticket``."""
    s.stats.tickets += 1
    if result.pnl is not None:
        s.stats.add_realised(result.pnl.quote, result.pnl.realised, result.pnl.notional_decimals)
    s.stats.recent.append((time.time_ns(), result))
    if s.on_ticket is not None:
        s.on_ticket(result)
