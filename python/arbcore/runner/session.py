"""One trading session built from a `Config`: venues (simulated on loopback or real), their feeds
into one consolidated book per instrument, an order client per venue, the ledger and journal,
the executor and ticket runner, and the strategy host. `arbcore run` and the end-to-end tests
both drive this class.

Data path per socket read: frame bytes -> Rust decoder -> consolidated book; once per drained
read, each instrument's book is refreshed and its opportunities (a numpy record array) go to the
strategy; each proposal becomes a ticket (validated, reserved, journaled, both legs sent).

This module holds the session's start and stop and that hot path (the read callback, the
tickets' start, one in flight per instrument); its parts are built from the config in
``session_parts.py``, its tickets followed and residuals swept in ``session_tickets.py``, and
what runs beside them (timer, watchers, the kill switch's effect) is in ``session_watch.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import arbcore
from arbcore.execution.amounts import Asset
from arbcore.execution.eager import start_now
from arbcore.execution.engine import Executor
from arbcore.execution.fast_path import FastPath, Taken
from arbcore.execution.journal import Journal
from arbcore.execution.ledger_checkpoint import LedgerCheckpoints, RestoredLedger
from arbcore.execution.orders import Side
from arbcore.execution.refusal_log import RefusalLog
from arbcore.execution.residuals import load_residuals, net_residuals
from arbcore.execution.send_warmer import SendWarmer
from arbcore.execution.ticket import Market, TicketPlan, TicketResult, TicketRunner
from arbcore.feed_client import FeedClient
from arbcore.record import Recorder
from arbcore.runner.config import Config, ConfigFileError, host_errors
from arbcore.runner.gc_pacer import GcPacer
from arbcore.runner.plugins import FillEvent, Opportunity, StrategyHost, TicketProposal
from arbcore.runner.run_recording import record_taken, start_recording
from arbcore.runner.session_parts import (
    BookView,
    SessionStats,
    build_books,
    build_feeds,
    load_markets,
    order_config,
    restore_daily_loss,
    risk_gate,
    set_book_balance,
    ticket_params,
)
from arbcore.runner.session_tickets import run_ticket, sweep_at_stop
from arbcore.runner.session_watch import (
    check_recording,
    checkpoint,
    kill_engaged,
    strategy_stopped,
    timer_loop,
    watch_book_states,
    watch_kill_file,
)
from arbcore.runner.sim_cluster import SimCluster, SimEndpoint
from arbcore.runner.stop_report import BOOKS_LIVE_WAIT_S, log_balances_at_stop, log_rehearsal, wait_books_live
from arbcore.runner.strategies.taker import TakerStrategy
from arbcore.runner.warm_loop import WarmLoop
from arbcore.sim.exchange import SimExchange
from arbcore.sim.server import SimVenue
from arbcore.venues.orders.base import OrderClient
from arbcore.venues.orders.registry import ORDER_VENUES
from arbcore.venues.orders.types import OrderReport
from arbcore.venues.signing.credentials import Credentials

log = logging.getLogger("arbcore.session")


class TradingSession:
    def __init__(
        self,
        config: Config,
        host: StrategyHost,
        *,
        journal_path: str | Path,
        environ: Mapping[str, str] | None = None,
        kill_file: str | Path | None = None,
        reconcile_every: float = 5.0,
        external: Mapping[str, SimEndpoint] | None = None,
        record: Path | None = None,
    ) -> None:
        self.config = config
        #: where to record the session (``arbcore run --record``; default ``[run] record``)
        self.record_path = record if record is not None else config.run.record
        self.recorder: Recorder | None = None
        self._detected: Callable[[int, int, object], None] | None = None
        self._recording_failed = False  # (logged once)
        self._book_index: dict[str, int] = {}
        self.host = host
        self.journal_path = Path(journal_path)
        self.environ = environ
        self.reconcile_every = reconcile_every
        #: simulated venues run by another process (crash tests); None: run them here
        self.external = external
        self.sims: SimCluster | None = None
        self.assets: dict[str, Asset] = dict(config.assets)
        self.books: dict[str, arbcore.ConsolidatedBook] = {}
        self.view = BookView(self.books)
        self.sim_venues: dict[str, SimVenue] = {}
        self.exchanges: dict[str, SimExchange] = {}
        self.credentials: dict[str, Credentials] = {}
        self.clients: dict[str, OrderClient] = {}
        self.feeds: dict[str, FeedClient] = {}
        self.markets: dict[tuple[str, str], Market] = {}
        self.stats = SessionStats()
        self._refusals = RefusalLog(log)  # one line per kind of refusal a second, with a count
        self.risk = risk_gate(config, kill_file)
        self.risk.kill.watchers.append(functools.partial(kill_engaged, self))
        self.ticket_params = ticket_params(config)
        self.journal: Journal | None = None
        #: how the start loaded the ledger (from a checkpoint or every event) and the checkpoints since
        self.restored: RestoredLedger | None = None
        self.checkpoints: LedgerCheckpoints | None = None
        self.executor: Executor | None = None
        self.runner: TicketRunner | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._in_flight: set[str] = set()  # instrument with a ticket in flight
        self._taker: FastPath | None = None  # the order path deciding for the built-in taker
        self._unpinned: set[int] | None = None  # the CPUs this thread had before [run] cpu pinned it
        self._accepting = False
        self._timer: asyncio.Task[None] | None = None
        self._reconciling: asyncio.Future[None] | None = None  # the periodic reconciliation in flight
        self._stopping = False
        self._send_warmer: SendWarmer | None = None  # [run] warm_sends
        self.gc = GcPacer()  # the collector, frozen heap at start; with busy_poll run by the loop
        self.warm = WarmLoop(None, config.run.keep_warm_ms / 1000, self.gc)  # [run] keep_warm_ms
        self._feed_tasks: list[asyncio.Task[None]] = []
        then = host.on_stopped

        def stopped(h: StrategyHost) -> None:  # a plug-in that failed: its open orders cancelled
            strategy_stopped(self, h)
            if then is not None:
                then(h)

        host.on_stopped = stopped
        #: called with each ticket's result once it ended (refused ones too, not refused sweeps:
        #: what ``stats`` counts), e.g. ``session_metrics.SessionMetrics.ticket``
        self.on_ticket: Callable[[TicketResult], None] | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Start venues, clients and feeds; recover from the journal. Returns recovery notes."""
        self._pin()
        self._build_sims()
        self.books.update(build_books(self.config))
        if self.sims is not None:
            await self.sims.start()
        if self.external is not None:
            self.credentials = {n: ep.credentials for n, ep in self.external.items()}
        self.feeds.update(
            build_feeds(self.config, self.books, self._on_read, external=self.external, sim_venues=self.sim_venues)
        )
        for name, v in self.config.venues.items():
            oc = order_config(
                self.config,
                name,
                environ=self.environ,
                external=self.external,
                sim_venues=self.sim_venues,
                credentials=self.credentials,
            )
            client = ORDER_VENUES[v.protocol].client_api().make_client(oc)
            try:
                await client.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await client.close()  # its warm HTTP session too: nothing left open behind the error
                raise
            self.clients[name] = client
        secrets = [s for c in self.credentials.values() for s in (c.secret, c.passphrase or "") if s]
        self.journal = Journal(
            self.journal_path, secrets=secrets, durable_intents=self.config.run.fsync_intents, intent_log=True
        )
        # the latest checkpoint and the events after it (every event: ~30 us each, a day's million)
        self.restored = restored = self.journal.ledger_restore(sink=self.journal.append_ledger_event)
        fresh, ledger = restored.fresh, restored.ledger
        every = self.config.run.ledger_checkpoint_events
        self.checkpoints = LedgerCheckpoints(
            self.journal.write_ledger_checkpoint, ledger, every, since=restored.replayed
        )
        if restored.replayed >= every:  # (an old journal's first start, say: the next one is quick)
            checkpoint(self.checkpoints)
        self.executor = Executor(self.journal, ledger, self.clients, self.assets, self.risk,
                                 place_timeout=max(0.5, self.config.execution.leg_timeout_ms / 1000))  # fmt: skip
        for client in self.clients.values():
            client.on_report = self._on_report
        await load_markets(self.config, self.clients, self.markets)
        notes = await self.executor.recover()
        adopt = self.config.execution.adopt_balances
        recs = await self.executor.reconcile_balances(adopt=fresh or adopt != "never")
        for venue, rec in recs.items():
            if not rec.ok and not fresh:
                taken = ", the venue's adopted" if rec.adopted else ""
                notes.append(f"{venue}: balances differ from the journal's ledger{taken}: {rec.describe()}")
        self.runner = TicketRunner(self.executor, self.markets, self.view, self.ticket_params)
        if self.config.run.order_path == "rust":
            self.runner.fast = FastPath.build(self.runner, self.books)
            self._arm_taker()
        notes += load_residuals(self.runner, self.journal)  # the sweeper flattens them once books are LIVE
        notes += restore_daily_loss(self.risk, self.journal)
        if self.record_path is not None:  # before the first balances and frames
            self.recorder = start_recording(self, self.record_path)
        self._sync_book_balances()
        runner = self.runner
        if runner is not None:  # (before mark_start: a residual carried over a restart is not this run's)
            self.host.context.residuals_source = lambda: net_residuals(runner)
        self.host.context.mark_start()
        self.host.context.attach_books(self.books)
        self.host.start()
        for feed in self.feeds.values():
            self._feed_tasks.append(asyncio.get_running_loop().create_task(feed.run()))
        self._timer = asyncio.get_running_loop().create_task(timer_loop(self))
        self._feed_tasks.append(asyncio.get_running_loop().create_task(watch_book_states(self)))
        if self.risk.kill.path is not None:
            self._feed_tasks.append(asyncio.get_running_loop().create_task(watch_kill_file(self.risk.kill)))
        warm = self._taker is not None and self.config.run.keep_warm_ms > 0
        if warm and self.config.run.warm_sends:
            warmer = SendWarmer()
            try:
                await warmer.start()
                self._send_warmer = warmer
            except Exception as e:  # a warm-up aid: the engine runs without it
                warmer.close()
                log.warning("warm_sends: no loopback connection to write on (%s); dry runs go on without it", e)
        self.warm.parts = self._dry_run_parts if warm else None
        if self.config.run.busy_poll:
            self._feed_tasks.append(asyncio.get_running_loop().create_task(self.warm.busy_poll()))
        elif warm:
            self._feed_tasks.append(asyncio.get_running_loop().create_task(self.warm.keep_warm()))
        self.gc.start(paced=self.config.run.busy_poll)  # (the polling loop collects: gc_pacer.py)
        # a kill file already there: not one ticket (the engine runs on, to be looked at)
        self._accepting = not self.risk.kill.engaged
        self._gate_takers()
        return notes

    def _pin(self) -> None:
        """``[run] cpu``: this thread (the event loop's; threads it starts later inherit it) on
        that CPU until :meth:`stop`."""
        cpu = self.config.run.cpu
        if cpu is None:
            return
        errors = host_errors(self.config)
        if errors:
            raise ConfigFileError(self.config.source, errors)
        self._unpinned = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})

    def _build_sims(self) -> None:
        if self.external is not None:
            return
        self.sims = SimCluster.from_config(self.config)
        self.sim_venues, self.exchanges, self.credentials = self.sims.venues, self.sims.exchanges, self.sims.credentials

    async def stop(self, settled: Callable[[], Awaitable[None]] | None = None) -> None:
        """Stop taking tickets, let in-flight ones finish, cancel open orders, close everything.
        ``settled`` is awaited in between, the books still LIVE (the dashboard's last picture).
        Once: a second call (a signal during the stop, a caller's cleanup after it) returns."""
        if self._stopping:
            return
        self._stopping = True
        self._accepting = False
        self._gate_takers()
        plans = self.sims.plans if self.sims is not None else {}
        if self.sims is not None:
            self.sims.quiet()  # a rehearsal's faults end: the stop meets venues that behave
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if plans:  # a feed fault just before the stop: its books resync before the sweep needs them
            await wait_books_live(self.books, BOOKS_LIVE_WAIT_S)
        if self.runner is not None:  # the books are still LIVE: flatten what tickets left
            await sweep_at_stop(self, self.runner)
        if self.executor is not None:
            await self.executor.cancel_all()
            if self._reconciling is not None:  # (one reconciliation at a time: the stop's is next)
                with contextlib.suppress(Exception):
                    await self._reconciling
            await log_balances_at_stop(self.executor, self.config.venues)
        if plans:
            await log_rehearsal(plans, self.feeds, self.books, self.executor)
        if settled is not None:
            await settled()
        self.host.stop()
        if self._timer is not None:
            self._timer.cancel()
        if self._send_warmer is not None:
            self._send_warmer.close()
        for feed in self.feeds.values():
            feed.stop()
        pending = [t for t in [self._timer, *self._feed_tasks] if t is not None]
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)  # (writes what is queued: not on the loop)
            check_recording(self)
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        if self.sims is not None:
            await self.sims.stop()
        if self.journal is not None:
            if self.checkpoints is not None and self.checkpoints.pending:
                checkpoint(self.checkpoints)  # the next start replays nothing
            try:  # and reads today's realised PnL from one row (daily loss), not this run's tickets
                self.journal.save_realised_today()
            except Exception as e:
                log.warning("today's realised PnL not saved for the next start: %s", e)
            self.journal.close()
        if self._unpinned is not None:
            os.sched_setaffinity(0, self._unpinned)
            self._unpinned = None
        self.gc.stop()

    # ---- the hot path -------------------------------------------------------------------------

    def record_detections(self, detected: Callable[[int, int, object], None] | None) -> None:
        """Each read's detection per instrument to ``detected(t_ns, book index, records)`` (the
        records, or the taker's count when it looked and found nothing): the recording's."""
        self._detected = detected
        self._book_index = {name: i for i, name in enumerate(self.books)}

    def _on_read(self) -> None:
        if not self._accepting:
            return
        taker = self._taker
        detected = self._detected  # (a recording's: None, two checks per book and nothing else)
        t = time.time_ns() if detected is not None else 0  # when the read's detection ran (for the reader)
        for name, book in self.books.items():
            if taker is not None and name not in self._in_flight and not self.host.stopped:
                got = taker.take(name, book)
                if not isinstance(got, int):  # started: FastPath.on_started has followed it
                    continue
                if got == 0:  # no opportunity: nothing for the strategy to see
                    if detected is not None:
                        detected(t, self._book_index[name], 0)
                    continue
            recs = book.opportunities()
            if detected is not None:
                detected(t, self._book_index[name], recs)
            if not len(recs):
                continue
            self.stats.opportunities += len(recs)
            if name in self._in_flight:
                continue
            opps = Opportunity.from_book(book, recs)
            proposals = self.host.on_opportunities(opps)
            for p in proposals:
                self.submit(p)
            # for the dashboard; kept short: the simulators and the replies wait on this callback
            taken = {id(p.opportunity) for p in proposals} if proposals else ()
            now = time.time_ns()
            self.stats.recent_opportunities.extend([(now, o, id(o) in taken) for o in opps[-10:]])

    def _taken(self, name: str, taken: Taken) -> None:
        """A ticket the built-in taker started in the order path (both legs on the wire; from
        ``FastPath.on_started``): the counts the Python route keeps, then the ticket followed as
        any other."""
        plan, started, n, calls = taken
        book = self.books[name]
        records = book.opportunities()  # what the taker picked from, for the dashboard (and the recording)
        if self.recorder is not None:  # (before the ticket's start: one refused at once syncs balances)
            record_taken(self, self.recorder, name, taken, records)
        self._hold(name)
        task = start_now(run_ticket(self, name, plan, started))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        host = self.host
        host.calls += calls
        host.proposals += 1
        self.stats.opportunities += n
        self.stats.proposals += 1
        opps = Opportunity.from_book(book, records)
        now = time.time_ns()
        self.stats.recent_opportunities.extend([(now, o, k == calls - 1) for k, o in enumerate(opps)][-10:])

    def _arm_taker(self) -> None:
        """With the built-in taker strategy (not a subclass, not a copy in a file), the order path
        decides on each read as the strategy would (``FastPath.take``; the strategy's params and
        its configuration's lots), and the Python route only sees what it leaves."""
        fast = None if self.runner is None else self.runner.fast
        strategy = self.host.strategy
        if fast is None or type(strategy) is not TakerStrategy:
            return
        armed = False
        for name in self.books:
            lots = {v: spec.lot for v, spec in self.host.context.instrument(name).venues.items()}
            armed |= fast.arm_taker(name, strategy.min_edge_bps, strategy.max_qty.get(name), lots)
        self._taker = fast if armed else None
        if not armed:
            return
        fast.on_started = self._taken
        self._gate_takers()  # closed until start() accepts tickets
        for client in self.feeds.values():
            if fast.attach(client.feed, client.books):
                client.on_taken = fast.started
        then = self.host.on_stopped

        def stopped(host: StrategyHost) -> None:  # the feeds start no more of its tickets
            self._gate_takers()
            if then is not None:
                then(host)

        self.host.on_stopped = stopped

    def _gate_takers(self, *names: str) -> None:
        """Whether the feeds may start the built-in taker's tickets on these instruments (all when
        none named): only while tickets are accepted, its strategy runs and the instrument has
        none in flight (``Feed.on_frame_take``; ``_on_read`` checks the same before its take)."""
        taker = self._taker
        if taker is None:
            return
        ok = self._accepting and not self.host.stopped
        for name in names or tuple(self.books):
            taker.set_open(name, ok and name not in self._in_flight)

    def _hold(self, instrument: str) -> None:
        """``instrument`` has a ticket (or a sweep) in flight: no other starts on it meanwhile."""
        self._in_flight.add(instrument)
        self._gate_takers(instrument)

    def _release(self, instrument: str) -> None:
        self._in_flight.discard(instrument)
        self._gate_takers(instrument)

    def submit(self, p: TicketProposal) -> None:
        """Turn a strategy's proposal into a ticket task (one ticket in flight per instrument)."""
        self.stats.proposals += 1
        if not self._accepting or self.runner is None or p.instrument in self._in_flight:
            return
        if (
            p.buy_venue is not None
            and p.sell_venue is not None
            and p.buy_limit is not None
            and p.sell_limit is not None
        ):
            buy, sell = self.markets[(p.buy_venue, p.instrument)], self.markets[(p.sell_venue, p.instrument)]
            plan: TicketPlan | tuple[Market, Side, int, int, str] = TicketPlan(
                p.instrument, buy, sell, p.qty, p.buy_limit, p.sell_limit, p.reason
            )
        elif p.buy_venue is not None and p.buy_limit is not None and p.sell_venue is None:
            plan = (self.markets[(p.buy_venue, p.instrument)], Side.BUY, p.qty, p.buy_limit, p.reason)
        elif p.sell_venue is not None and p.sell_limit is not None and p.buy_venue is None:
            plan = (self.markets[(p.sell_venue, p.instrument)], Side.SELL, p.qty, p.sell_limit, p.reason)
        else:
            log.warning("proposal on %s ignored: a venue without its limit (%s)", p.instrument, p)
            return
        self._hold(p.instrument)
        task = start_now(run_ticket(self, p.instrument, plan))  # on the wire before this callback returns
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_report(self, report: OrderReport) -> None:
        assert self.executor is not None
        self.executor.on_report(report)
        order = self.executor.orders.get(report.client_order_id)
        if order is None:
            return
        for f in report.fills:
            i = order.intent
            fill = FillEvent(i.ticket_id, order.cid, i.venue, i.instrument, i.side.value, f.qty, f.price, f.fee,
                             f.fee_asset, f.fee_decimals, time.time_ns())  # fmt: skip
            for p in self.host.on_fill(fill):  # (its proposals, as every hook's but on_start's and on_stop's)
                self.submit(p)

    def _sync_book_balances(self) -> None:
        """Detection sizes by what the ledger says is available."""
        if self.executor is None:
            return
        ctx = self.host.context
        for (venue, asset), bal in self.executor.ledger.balances().items():
            a = self.assets.get(asset)
            if a is None:
                continue
            for book in self.books.values():
                if venue in book.venues and asset in (book.base, book.quote):
                    text = set_book_balance(book, venue, asset, max(0, bal.available), a.decimals)
                    if self.recorder is not None and text is not None:
                        self.recorder.balance(time.time_ns(), book.instrument, venue, asset, text)
            ctx.set_balance(venue, asset, bal.total)

    def engage_kill(self, reason: str) -> None:
        """The kill switch from a signal or a call (``session_watch.kill_engaged`` follows)."""
        self.risk.kill.engage(reason)

    def _dry_run_parts(self) -> list[Callable[[], object]]:
        """A dry run's parts (``warm_loop.py``), in order: the order path's
        (``FastPath.warm_steps``), each feed's decoder (``FeedClient.warm_decoder``), the send
        warmer's write (``[run] warm_sends``)."""
        parts = self._taker.warm_steps(self.books) if self._taker is not None else []
        parts += [client.warm_decoder for client in self.feeds.values()]
        if self._send_warmer is not None:
            parts.append(self._send_warmer.send)
        return parts
