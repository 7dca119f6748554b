"""`arbcore run`: a TradingSession with the dashboard, metrics and the exit report around it.

Runs until Ctrl-C / SIGTERM or ``--duration``, then shuts down in order: no new tickets, in-flight
tickets finish, open orders are cancelled, the journal is closed, the report is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

from arbcore import format_decimal
from arbcore.execution.amounts import signed_decimal
from arbcore.execution.errors import JournalError
from arbcore.execution.journal import Journal
from arbcore.runner.config import Config
from arbcore.runner.dashboard import Dashboard, OpportunityRow, TicketRow, log_handler, run_dashboard
from arbcore.runner.metrics import Registry, engine_metrics, start_metrics_server
from arbcore.runner.options import RunOptions, StartInterruptedError, UserError
from arbcore.runner.plugins import StrategyHost
from arbcore.runner.report import write_run_report
from arbcore.runner.session import TradingSession
from arbcore.runner.session_metrics import session_metrics
from arbcore.runner.snapshot import SnapshotBuilder, metrics_bridge
from arbcore.venues.orders.types import OrderClientError

log = logging.getLogger("arbcore.run")

T = TypeVar("T")


def run_app(config: Config, host: StrategyHost, options: RunOptions) -> int:
    return uvloop.run(_main(config, host, options))


def _ticket_rows(session: TradingSession, since_ns: int | None = None) -> list[TicketRow]:
    """The latest 10 tickets and, with ``since_ns``, every one that ended since then, newest first
    (the dashboard shows the first few), each at the time it ended. Why ``since_ns``: the plain
    lines print each ticket of a picture once; with 10 only, a default run ended more than that
    between two pictures now and then and 146 of its 5,042 tickets never had a ``ticket id=`` line."""
    recent = list(session.stats.recent)
    n = 10 if since_ns is None else max(10, sum(1 for ended_ns, _ in recent if ended_ns >= since_ns))
    rows = []
    for ended_ns, r in reversed(recent[-n:]):
        legs = {o.intent.leg_id: o for o in r.orders}
        buy, sell = legs.get("buy"), legs.get("sell")
        first = buy or sell  # a one-legged ticket (a strategy's hedge, a sweep) has one of them
        inst = first.intent.instrument if first else ""
        qd = first.intent.qty_decimals if first else 0
        rows.append(
            TicketRow(
                ended_ns,
                r.ticket_id,
                inst,
                buy.intent.venue if buy else None,
                sell.intent.venue if sell else None,
                format_decimal(max(r.bought, r.sold), qd),
                r.status.upper() if not r.residual else f"RESIDUAL {signed_decimal(r.residual, qd)}",
                None if r.pnl is None else signed_decimal(r.pnl.realised, r.pnl.notional_decimals),
            )
        )
    return rows


def _opportunity_rows(snap: SnapshotBuilder, session: TradingSession) -> list[OpportunityRow]:
    """The latest opportunities the strategy saw, newest first."""
    return [snap.opportunity_row(o, taken, ts) for ts, o, taken in reversed(session.stats.recent_opportunities)]


def _exit_report(options: RunOptions, stats: dict[str, Any], since_ns: int) -> None:
    """report.json, the plots and the tables, on this run's tickets (blocking: run it in a thread).
    The journal is this engine's own, just closed: opened as its writer, which writes nothing to
    it and, closing, removes its -wal and -shm as the engine's close did (a read-only reader
    leaves the ones SQLite creates for it beside a closed journal)."""
    with Journal(options.journal) as journal:
        write_run_report(journal, options.report_dir, stats, since_ns=since_ns)


async def _unless_stopped(stop: asyncio.Event, coro: Coroutine[Any, Any, T]) -> T | None:
    """``coro``'s result, or None if ``stop`` was set first: ``coro`` is then cancelled and its
    cleanup awaited. Why: a start waiting on a venue that accepts connections and never answers
    waited out its timeouts, deaf to Ctrl-C."""
    task = asyncio.ensure_future(coro)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait([task])
    return None if task.cancelled() else task.result()


async def _main(config: Config, host: StrategyHost, options: RunOptions) -> int:
    dash = Dashboard(live=None if options.dashboard else False, interval_s=config.run.dashboard_interval_ms / 1000)
    logging.basicConfig(level=logging.INFO, handlers=[log_handler(dash)], force=True)
    logging.getLogger("picows").setLevel(logging.WARNING)
    session = TradingSession(config, host, journal_path=options.journal, record=options.record)
    stop = asyncio.Event()
    signals: list[signal.Signals] = []  # those that set `stop`

    def on_signal(sig: signal.Signals) -> None:
        signals.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    # SIGUSR1 (`arbcore kill --pid`): the kill switch; the engine keeps running, without trading,
    # so its state can be looked at before it is stopped
    loop.add_signal_handler(signal.SIGUSR1, session.engage_kill, "SIGUSR1")
    reg = Registry()
    metrics = engine_metrics(reg)
    session_metrics(reg, metrics, session)  # before start: every ticket counted
    server = None
    dash_task: asyncio.Task[None] | None = None
    # the dashboard runs on through the shutdown: its last picture is drawn once the tickets in
    # flight ended, with the exit report's figures (drawn at `stop`, it showed fewer tickets, another
    # PnL and exposure), the books still LIVE
    dash_stop = asyncio.Event()

    async def last_picture() -> None:
        dash_stop.set()
        if dash_task is not None:
            await dash_task

    t0 = time.monotonic()
    try:
        log.info("starting: %d venues, %d instruments", len(config.venues), len(config.instruments))
        try:
            notes = await _unless_stopped(stop, session.start())
        except (OrderClientError, JournalError, OSError, sqlite3.Error) as e:
            raise UserError(f"cannot start: {e}") from None
        if notes is None:  # (what start opened is closed below)
            raise StartInterruptedError(signals[0])
        # the exit report covers this run: its tickets are created from here on (the journal keeps
        # earlier runs', and the tickets a crashed run left in the intent log, which start() imported)
        since_ns = time.time_ns()
        for n in notes:
            log.info("recovery: %s", n)
        # a SIGUSR1 before the loop handled it: the kill switch, now that there is trading to stop
        # (one after, or the kill file, engaged it already: the start then accepted no ticket)
        if options.early_kill is not None and options.early_kill.reason:
            session.engage_kill(options.early_kill.reason)
        snap = SnapshotBuilder(config, session.books, {v: [f] for v, f in session.feeds.items()})
        metrics_bridge(reg, metrics, snap)
        if options.metrics_port is not None:
            server = await start_metrics_server(reg, options.metrics_port)
            log.info("metrics on http://127.0.0.1:%d/metrics", server.port)

        shown = [0]  # when the newest ticket of the last picture ended

        def state() -> object:
            ex = session.executor
            bal = {k: b.total for k, b in ex.ledger.balances().items()} if ex else {}
            res = {k: b.reserved for k, b in ex.ledger.balances().items()} if ex else {}
            pos = {(v, a): int(q * 10 ** config.assets[a].decimals) for (v, a), q in session.risk.positions.items()
                   if a in config.assets}  # fmt: skip
            tickets = _ticket_rows(session, shown[0])
            shown[0] = tickets[0].ts_ns if tickets else shown[0]
            return snap.state(
                time.monotonic() - t0, host, bal, pos, _opportunity_rows(snap, session), tickets,
                session.stats.realised,
                opportunities_total=session.stats.opportunities, tickets_total=session.stats.tickets, reserved=res,
                kill_switch=session.risk.kill.reason,
            )  # fmt: skip

        dash_task = loop.create_task(run_dashboard(dash, state, dash_stop))  # type: ignore[arg-type]
        if options.duration_s is not None:
            loop.call_later(options.duration_s, stop.set)
        await stop.wait()
        log.info("stopping: waiting for tickets in flight, cancelling open orders")
    finally:
        await session.stop(last_picture)
        await last_picture()  # (done already unless the session's stop failed before)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.stop()
    d2w = sorted(session.stats.decision_to_wire_ns)
    stats = {
        "opportunities": session.stats.opportunities,
        "proposals": session.stats.proposals,
        "tickets": session.stats.tickets,
        "refused": session.stats.refused,
        "decision_to_wire_us": [x / 1000 for x in d2w],
    }
    await asyncio.to_thread(_exit_report, options, stats, since_ns)
    log.info("report written to %s", options.report_dir)
    return 0


__all__ = ["run_app"]
