"""What runs beside a trading session's tickets: its timer (the strategy's ``on_timer``, the
residual sweeps, ledger checkpoints, the periodic balance reconciliation, the recording's
health), the watchers of the books' states and of the kill file, and what the kill switch or a
failed strategy stops (new tickets, open orders). ``TradingSession.start`` starts them, its
``stop`` ends them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from arbcore.execution.engine import Executor
from arbcore.execution.ledger_checkpoint import LedgerCheckpoints
from arbcore.execution.risk import KillSwitch
from arbcore.runner.plugins import StrategyHost
from arbcore.runner.session_tickets import sweep_residuals

if TYPE_CHECKING:
    from arbcore.runner.session import TradingSession

log = logging.getLogger("arbcore.session")

#: how often the books' states are read for the strategy's ``on_book_state`` (seconds)
BOOK_STATE_POLL_S = 0.02
#: how often the kill file is looked for when no ticket looks (each ticket's risk check does)
KILL_FILE_POLL_S = 0.05


def kill_engaged(s: TradingSession) -> None:
    """The kill switch engaged, whatever engaged it (a signal, the kill file found by a ticket's
    risk check or by :func:`watch_kill_file`, the daily loss): no new ticket from now on, at once
    (a ticket that found the file is the last one refused), and open orders cancelled."""
    if not s._accepting:
        return
    s._accepting = False
    s._gate_takers()
    task = asyncio.get_running_loop().create_task(_cancel_open(s))
    s._tasks.add(task)
    task.add_done_callback(s._tasks.discard)


async def _cancel_open(s: TradingSession) -> None:
    n = await s.executor.cancel_all() if s.executor else 0
    # INFO: the switch's own line (ERROR, arbcore.risk) has said why trading stopped
    log.info("kill switch: new tickets stopped, %d open orders cancelled", n)


def strategy_stopped(s: TradingSession, host: StrategyHost) -> None:
    """The strategy failed and is called no more: its open orders are cancelled, the engine runs
    on (at shutdown, or with the kill switch engaged, they are cancelled anyway)."""
    if not s._accepting or s.executor is None:
        return
    task = asyncio.get_running_loop().create_task(_cancel_strategy_orders(s, host.name))
    s._tasks.add(task)
    task.add_done_callback(s._tasks.discard)


async def _cancel_strategy_orders(s: TradingSession, name: str) -> None:
    n = await s.executor.cancel_all() if s.executor else 0
    log.info("strategy %s stopped: %d open orders cancelled, the engine runs on", name, n)


async def watch_kill_file(kill: KillSwitch) -> None:
    """The kill file, looked for every ``KILL_FILE_POLL_S`` until it appears (``engaged`` looks
    and engages the switch): trading stops within that time even with no ticket to find it."""
    while not kill.engaged:
        await asyncio.sleep(KILL_FILE_POLL_S)


async def watch_book_states(s: TradingSession) -> None:
    """The strategy's ``on_book_state``: each venue's book for each instrument, read every
    ``BOOK_STATE_POLL_S``; a state other than the last one seen (SYNCING at start) is passed
    on. Polled, not pushed: the states change inside the decoder's Rust call (LIVE on a
    snapshot, BROKEN on a gap), and a check per frame would cost the hot path a call per
    book; a strategy hears of a change within the period, and tickets check the books' states
    themselves."""
    seen = {(v, name): "SYNCING" for name, book in s.books.items() for v in book.venues}
    while True:
        for name, book in s.books.items():
            for venue in book.venues:
                state = book.state_name(venue)
                if seen.get((venue, name)) != state:
                    seen[(venue, name)] = state
                    for p in s.host.on_book_state(venue, name, state):
                        s.submit(p)
        await asyncio.sleep(BOOK_STATE_POLL_S)


async def timer_loop(s: TradingSession) -> None:
    """Every ``[run] timer_ms``: the recording's health, a checkpoint or a reconciliation when
    due, the strategy's ``on_timer`` and the residual sweeps."""
    period = s.config.run.timer_ms / 1000
    last_rec = time.monotonic()
    while True:
        await asyncio.sleep(period)
        check_recording(s)
        # quiet (no ticket in flight) is read first, before this tick starts a sweep: dust
        # waiting for a lot starts one every tick, and a check after it never found the engine
        # quiet (no reconciliation ran while any dust waited). Between tickets' steps, never
        # inside one (every change of the ledger is journaled or staged by then)
        quiet = not s._tasks
        if s.checkpoints is not None and s.checkpoints.due(quiet=quiet):
            checkpoint(s.checkpoints)
        due = time.monotonic() - last_rec > s.reconcile_every
        idle = s._reconciling is None or s._reconciling.done()
        if s.executor is not None and s._accepting and quiet and due and idle:
            last_rec = time.monotonic()
            # not awaited here: a slow venue's balances (up to its client's timeout) must not
            # hold the strategy's timer and the sweeps of this tick (the stop has its own)
            s._reconciling = asyncio.get_running_loop().create_task(_reconcile(s, s.executor))
        for p in s.host.on_timer(time.time_ns()):
            s.submit(p)
        sweep_residuals(s)


def check_recording(s: TradingSession) -> None:
    """A recording whose writes failed (a full disk) or whose writer fell too far behind (a
    stalled disk: :meth:`Recorder.check_backlog` stops it) is said so once, when the timer or
    the stop first sees it: the session trades on, unrecorded from then."""
    rec = s.recorder
    if rec is not None:
        rec.check_backlog()
    if rec is not None and rec.error is not None and not s._recording_failed:
        s._recording_failed = True
        log.error("recording %s stopped early: %s (the session goes on unrecorded; the file replays "
                  "up to its last flush)", rec.path, rec.error)  # fmt: skip


def checkpoint(checkpoints: LedgerCheckpoints) -> None:
    """A ledger checkpoint now; a failure costs only a longer replay at the next start."""
    try:
        checkpoints.write()
    except Exception as e:
        log.warning("ledger checkpoint not written: %s", e)


async def _reconcile(s: TradingSession, executor: Executor) -> None:
    """The periodic reconciliation (``[execution] adopt_balances = "settled"``: it may adopt)."""
    try:
        recs = await executor.reconcile_balances(settled=s.config.execution.adopt_balances == "settled")
    except Exception as e:  # a venue's balances unavailable this time: asked again next period
        log.warning("balance reconciliation failed: %s", e)
        return
    if any(r.adopted for r in recs.values()):
        s._sync_book_balances()
