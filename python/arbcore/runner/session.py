"""One trading session built from a `Config`: venues (simulated on loopback or real), their feeds
into one consolidated book per instrument, an order client per venue, the ledger and journal,
the executor and ticket runner, and the strategy host. `arbcore run` and the end-to-end tests
both drive this class.

Data path per socket read: frame bytes -> Rust decoder -> consolidated book; once per drained
read, each instrument's book is refreshed and its opportunities (a numpy record array) go to the
strategy; each proposal becomes a ticket (validated, reserved, journaled, both legs sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import arbcore
from arbcore.execution.amounts import Asset, add_scaled, signed_decimal
from arbcore.execution.eager import start_now
from arbcore.execution.engine import Executor
from arbcore.execution.fast_path import FastPath, Taken
from arbcore.execution.journal import Journal
from arbcore.execution.ledger_checkpoint import LedgerCheckpoints, RestoredLedger
from arbcore.execution.orders import Side
from arbcore.execution.refusal_log import RefusalLog
from arbcore.execution.residuals import is_dust, load_residuals, net_residuals, sweep
from arbcore.execution.risk import KillSwitch, RiskGate, RiskLimits
from arbcore.execution.send_warmer import SendWarmer
from arbcore.execution.ticket import Market, Started, TicketParams, TicketPlan, TicketResult, TicketRunner
from arbcore.feed_client import FeedClient
from arbcore.record import Recorder
from arbcore.runner.config import Config, ConfigFileError, InstrumentConfig, host_errors
from arbcore.runner.config_fields import quoted
from arbcore.runner.gc_pacer import GcPacer
from arbcore.runner.plugins import FillEvent, Opportunity, StrategyHost, TicketProposal
from arbcore.runner.run_recording import record_taken, start_recording
from arbcore.runner.sim_cluster import SimCluster, SimEndpoint
from arbcore.runner.stop_report import BOOKS_LIVE_WAIT_S, log_balances_at_stop, log_rehearsal, wait_books_live
from arbcore.runner.strategies.taker import TakerStrategy
from arbcore.runner.warm_loop import WarmLoop
from arbcore.sim.exchange import SimExchange
from arbcore.sim.fmt import places_of
from arbcore.sim.orders.rig import client_config
from arbcore.sim.server import SimVenue
from arbcore.venues import CLIENT_SPECS
from arbcore.venues.orders.base import OrderClient
from arbcore.venues.orders.registry import ORDER_VENUES, OrderClientConfig
from arbcore.venues.orders.types import InstrumentRules, OrderReport
from arbcore.venues.signing.credentials import Credentials

log = logging.getLogger("arbcore.session")

DAY_NS = 86_400 * 10**9  # a UTC day: the daily loss limit's (RiskGate.on_realised)

#: how often the books' states are read for the strategy's ``on_book_state`` (seconds)
BOOK_STATE_POLL_S = 0.02
#: how often the kill file is looked for when no ticket looks (each ticket's risk check does)
KILL_FILE_POLL_S = 0.05
STOP_SWEEP_PAUSE_S = 0.05  # between the stop's sweeps: the books refill what the last IOC took


@dataclass
class SessionStats:
    opportunities: int = 0
    proposals: int = 0
    tickets: int = 0
    refused: int = 0
    started_ns: int = field(default_factory=time.time_ns)
    #: the latest 100 000 (a bounded sample for the exit report; every ticket's is journaled)
    decision_to_wire_ns: deque[int] = field(default_factory=lambda: deque(maxlen=100_000))
    #: the last tickets that ended: (local ns when it ended, its result)
    recent: list[tuple[int, TicketResult]] = field(default_factory=list)
    #: the last opportunities the strategy saw: (local ns, opportunity, whether it proposed a ticket)
    recent_opportunities: deque[tuple[int, Opportunity, bool]] = field(default_factory=lambda: deque(maxlen=10))
    #: realised PnL net of fees per quote asset: (amount, decimals)
    realised: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add_realised(self, quote: str, amount: int, decimals: int) -> None:
        add_scaled(self.realised, quote, amount, decimals)


class BookView:
    """`MarketView` over the consolidated books (one per instrument)."""

    def __init__(self, books: Mapping[str, arbcore.ConsolidatedBook]) -> None:
        self.books = books

    def book_status(self, venue: str, instrument: str) -> tuple[bool, int]:
        book = self.books[instrument]
        live = book.state_name(venue) == "LIVE"
        recv = book.timestamps(venue)[1]
        return live, (time.time_ns() - recv) if recv else 1 << 62

    def best_price(self, venue: str, instrument: str, side: Side) -> int | None:
        book = self.books[instrument]
        top = book.best_ask(venue) if side is Side.BUY else book.best_bid(venue)
        return None if top is None else top[0]


def _set_book_balance(book: arbcore.ConsolidatedBook, venue: str, asset: str, raw: int, decimals: int) -> str | None:
    """The book keeps balances at its own scale: round the ledger's amount down until it fits
    (detection may then size a hair smaller, never larger, than the funds). Returns what it set."""
    for d in range(decimals, -1, -1):
        text = arbcore.format_decimal(raw // 10 ** (decimals - d), d)
        try:
            book.set_balance(venue, asset, text)
            return text
        except arbcore.DecimalError:
            continue
    return None


def _rule_errors(idx: int, venue: str, inst: InstrumentConfig, r: InstrumentRules) -> list[str]:
    """One line per rule of ``venue``'s metadata ``r`` the configured instrument cannot trade by:
    first, a market for other assets than the instrument's (where the venue names them)."""
    iv = inst.venues[venue]
    pd, qd = inst.price_decimals, inst.qty_decimals
    out = []
    if r.base not in (None, inst.base.name) or r.quote not in (None, inst.quote.name):
        out.append(f"instruments[{idx}].venues.{venue}.symbol: {quoted(r.symbol)} is {r.base or '?'}/"
                   f"{r.quote or '?'} on {venue}, not {inst.name}")  # fmt: skip
    for name, ours, theirs, d, exact in [
        ("tick", iv.tick, r.tick, pd, True),
        ("lot", iv.lot, r.lot, qd, True),
        ("min_qty", iv.min_qty, r.min_qty, qd, False),
        ("min_notional", iv.min_notional, r.min_notional, pd + qd, False),
    ]:
        if ours < theirs or (exact and ours != theirs):
            fmt = arbcore.format_decimal
            out.append(f"instruments[{idx}].venues.{venue}.{name}: {fmt(ours, d)}, but {venue} says "
                       f"{fmt(theirs, d)} for {r.symbol} (set the venue's)")  # fmt: skip
    return out


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
        risk = config.risk
        lim = RiskLimits(
            max_order_notional=Decimal(str(risk.max_order_notional or "1e18")),
            max_ticket_notional=Decimal(str(risk.max_ticket_notional or "1e18")),
            max_position={a: Decimal(p.per_venue).scaleb(-p.asset.decimals)
                          for a, p in risk.max_position.items() if p.per_venue is not None},
            max_net_position={a: Decimal(p.net).scaleb(-p.asset.decimals)
                              for a, p in risk.max_position.items() if p.net is not None},
            max_daily_loss=Decimal(str(risk.max_daily_loss or "1e18")),
            max_open_tickets=risk.max_open_tickets,
            breaker_errors=risk.breaker_max_errors,
            breaker_rejects=risk.breaker_max_rejects,
            breaker_window_s=risk.breaker_window_ms / 1000,
            breaker_cooldown_s=risk.breaker_cooldown_ms / 1000,
        )  # fmt: skip
        self.risk = RiskGate(lim, KillSwitch(kill_file or risk.kill_file))
        self.risk.kill.watchers.append(self._kill_engaged)
        ex = config.execution
        self.ticket_params = TicketParams(
            max_book_age_ns=ex.staleness_ms * 1_000_000,
            leg_timeout=ex.leg_timeout_ms / 1000,
            hedge_timeout=ex.hedge_timeout_ms / 1000,
            loss_budget_quote=None
            if ex.loss_budget is None
            else Decimal(ex.loss_budget.value).scaleb(-ex.loss_budget.decimals),
        )
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
            self._strategy_stopped(h)
            if then is not None:
                then(h)

        host.on_stopped = stopped
        #: called with each ticket's result once it ended (refused ones too, not refused sweeps:
        #: what ``stats`` counts), e.g. ``session_metrics.SessionMetrics.ticket``
        self.on_ticket: Callable[[TicketResult], None] | None = None

    # ---- construction -------------------------------------------------------------------------

    def _inst(self, name: str) -> InstrumentConfig:
        return next(i for i in self.config.instruments if i.name == name)

    def _build_sims(self) -> None:
        if self.external is not None:
            return
        self.sims = SimCluster.from_config(self.config)
        self.sim_venues, self.exchanges, self.credentials = self.sims.venues, self.sims.exchanges, self.sims.credentials

    def _build_books(self) -> None:
        for inst in self.config.instruments:
            book = arbcore.ConsolidatedBook(inst.name, inst.price_decimals, inst.qty_decimals)
            for name, iv in inst.venues.items():
                book.add_venue(
                    name, symbol=iv.symbol, tick_size=iv.tick_text, lot_size=iv.lot_text, min_qty=iv.min_qty_text,
                    min_notional=iv.min_notional_text, taker_fee=iv.taker_fee.text, maker_fee=iv.maker_fee.text,
                )  # fmt: skip
            book.set_min_edge_bps(self.config.execution.min_edge_bps)
            self.books[inst.name] = book

    def _order_config(self, name: str) -> OrderClientConfig:
        v = self.config.venues[name]
        scales = {iv.symbol: (inst.price_decimals, inst.qty_decimals)
                  for inst in self.config.instruments for n, iv in inst.venues.items() if n == name}  # fmt: skip
        if v.simulated and self.external is not None:
            ep = self.external[name]
            return OrderClientConfig(v.protocol, ep.credentials, ep.order_urls, scales, {})
        if v.simulated:
            return client_config(v.protocol, self.sim_venues[name], self.credentials[name])
        from arbcore.runner.config import credentials_for

        creds = credentials_for(self.config, name, self.environ)
        urls = ORDER_VENUES[v.protocol].live_urls()  # binance_usdm: its own, not spot's
        if v.rest_url:
            urls["rest"] = v.rest_url
        urls.update(v.order_urls)
        return OrderClientConfig(v.protocol, creds, urls, scales, {})

    def _build_feeds(self) -> None:
        names = list(self.books)
        for vname, v in self.config.venues.items():
            spec = CLIENT_SPECS[v.protocol]
            symbols: dict[str, tuple[int, int]] = {}
            precisions: dict[str, tuple[int, int]] = {}
            for i, inst in enumerate(self.config.instruments):
                iv = inst.venues.get(vname)
                if iv is not None:
                    symbols[iv.symbol] = (i, self.books[inst.name].venue_index(vname))
                    precisions[iv.symbol] = (
                        places_of(iv.tick, inst.price_decimals),
                        places_of(iv.lot, inst.qty_decimals),
                    )
            if v.simulated and self.external is not None:
                url, rest = self.external[vname].md_url, self.external[vname].rest_url
            elif v.simulated:
                sim = self.sim_venues[vname]
                url, rest = sim.ws_url, sim.rest_url if sim.rest_port else None
            else:
                url, rest = v.ws_url or "", v.rest_url
            kw = {"precisions": precisions} if v.protocol == "kraken" else None
            self.feeds[vname] = FeedClient(
                spec, url, [self.books[n] for n in names], symbols, rest_url=rest, on_read=self._on_read,
                stale_after=max(1.0, self.config.execution.staleness_ms / 1000), feed_kwargs=kw, name=vname,
            )  # fmt: skip

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Start venues, clients and feeds; recover from the journal. Returns recovery notes."""
        self._pin()
        self._build_sims()
        self._build_books()
        if self.sims is not None:
            await self.sims.start()
        if self.external is not None:
            self.credentials = {n: ep.credentials for n, ep in self.external.items()}
        self._build_feeds()
        for name, v in self.config.venues.items():
            client = ORDER_VENUES[v.protocol].client_api().make_client(self._order_config(name))
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
            self._checkpoint()
        self.executor = Executor(self.journal, ledger, self.clients, self.assets, self.risk,
                                 place_timeout=max(0.5, self.config.execution.leg_timeout_ms / 1000))  # fmt: skip
        for client in self.clients.values():
            client.on_report = self._on_report
        await self._load_markets()
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
        notes += self._restore_daily_loss(self.journal)
        if self.record_path is not None:  # before the first balances and frames
            self.recorder = start_recording(self, self.record_path)
        self._sync_book_balances()
        self.host.context.mark_start()
        runner = self.runner
        if runner is not None:
            self.host.context.residuals_source = lambda: net_residuals(runner)
        self.host.context.attach_books(self.books)
        self.host.start()
        for feed in self.feeds.values():
            self._feed_tasks.append(asyncio.get_running_loop().create_task(feed.run()))
        self._timer = asyncio.get_running_loop().create_task(self._timer_loop())
        self._feed_tasks.append(asyncio.get_running_loop().create_task(self._watch_book_states()))
        if self.risk.kill.path is not None:
            self._feed_tasks.append(asyncio.get_running_loop().create_task(self._watch_kill_file()))
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

    async def _load_markets(self) -> None:
        """Each venue's trading rules for its instruments. A symbol the venue lists for other
        assets than the instrument's (BTC-USD under BTC/USDT: the ledger would book USD as USDT),
        a tick or lot other than the config's, or a minimum stricter than it, refuses the start
        (``ConfigFileError``, a line per field): the books, the detector, the order path and
        Kraken's checksums all work at the config's."""
        errors: list[str] = []
        for vname in self.config.venues:
            symbols = {
                iv.symbol: inst for inst in self.config.instruments for n, iv in inst.venues.items() if n == vname
            }
            rules = await self.clients[vname].instruments(list(symbols))
            for sym, inst in symbols.items():
                iv = inst.venues[vname]
                r = rules.get(sym) or InstrumentRules(vname, sym, inst.price_decimals, inst.qty_decimals, iv.tick,
                                                      iv.lot, iv.min_qty, iv.min_notional)  # fmt: skip
                errors += _rule_errors(self.config.instruments.index(inst), vname, inst, r)
                r = InstrumentRules(vname, sym, inst.price_decimals, inst.qty_decimals, r.tick, r.lot,
                                    max(r.min_qty, iv.min_qty), max(r.min_notional, iv.min_notional), r.max_qty,
                                    iv.maker_fee.rate, iv.taker_fee.rate)  # fmt: skip
                self.markets[(vname, inst.name)] = Market(vname, sym, inst.name, inst.base, inst.quote, r)
        if errors:
            raise ConfigFileError(self.config.source, errors)

    def _restore_daily_loss(self, journal: Journal) -> list[str]:
        """Today's (UTC) realised PnL so far, from the journal's tickets, into the risk gate: a
        restart gave the daily loss limit a fresh budget (after it had engaged the kill switch,
        too). A loss beyond the limit engages the switch again, with its own line."""
        now = time.time_ns()
        totals: dict[str, Decimal] = {}  # per quote asset, as the risk gate keeps it
        for pnl in journal.ticket_pnls(since_ns=now - now % DAY_NS, skip_mixed=True).values():
            totals[pnl.quote] = totals.get(pnl.quote, Decimal(0)) + Decimal(pnl.realised).scaleb(-pnl.notional_decimals)
        totals = {q: v for q, v in totals.items() if v}
        if not totals:
            return []
        for quote, total in totals.items():
            self.risk.on_realised(total, quote)
        so_far = ", ".join(f"{v} {q}" for q, v in sorted(totals.items()))
        return [f"today's realised PnL so far (UTC): {so_far}, counted against max_daily_loss"]

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
            await self._sweep_at_stop(self.runner)
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
            self._check_recording()
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        if self.sims is not None:
            await self.sims.stop()
        if self.journal is not None:
            if self.checkpoints is not None and self.checkpoints.pending:
                self._checkpoint()  # the next start replays nothing
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
        task = start_now(self._run_ticket(name, plan, started))
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
        task = start_now(self._run_ticket(p.instrument, plan))  # on the wire before this callback returns
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_ticket(self, instrument: str, plan: TicketPlan | tuple[Market, Side, int, int, str],
                          started: Started | None = None) -> None:  # fmt: skip
        assert self.runner is not None
        try:
            if isinstance(plan, TicketPlan):
                result = await self.runner.execute(plan, started)
            else:
                result = await self.runner.execute_one(*plan)
            # the instrument is still this task's: a strategy that trades it back to back would
            # otherwise never leave the timer's sweeper a moment to flatten its dust
            if self._accepting:
                await self._sweep_once(instrument)
        except Exception:
            log.exception("ticket on %s failed", instrument)
            return
        finally:
            self._release(instrument)
            self._sync_book_balances()
        if result.status == "refused":
            self.stats.refused += 1
            self._refusals.log(result.reasons)
        else:
            self.stats.tickets += 1
            self.stats.decision_to_wire_ns.append(result.decision_to_wire_ns)
            if result.pnl is not None:
                self.stats.add_realised(result.pnl.quote, result.pnl.realised, result.pnl.notional_decimals)
            qd = self._inst(instrument).qty_decimals
            log.info("ticket %s %s: bought %s sold %s residual %s", result.ticket_id, result.status,
                     *(signed_decimal(q, qd) for q in (result.bought, result.sold, result.residual)))  # fmt: skip
            self.stats.recent = [*self.stats.recent, (time.time_ns(), result)][-20:]
        if self.on_ticket is not None:
            self.on_ticket(result)

    def _sweep_residuals(self) -> None:
        """Dust left by tickets, netted per instrument, flattened once a venue takes its size."""
        if self.runner is None or not self._accepting:
            return
        for inst in net_residuals(self.runner):
            if inst in self._in_flight:
                continue
            self._hold(inst)
            task = start_now(self._run_sweep(inst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_sweep(self, instrument: str) -> None:
        try:
            await self._sweep_once(instrument)
        finally:
            self._release(instrument)
            self._sync_book_balances()

    async def _sweep_at_stop(self, runner: TicketRunner) -> None:
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
                result = await self._sweep_once(inst)
                if result is None or result.status == "refused" or not (result.bought or result.sold):
                    break  # dust, no venue, refused or nothing filled: more tries change nothing now
                await asyncio.sleep(STOP_SWEEP_PAUSE_S)
        left = net_residuals(runner)
        if left:
            level = logging.INFO if all(is_dust(runner, i, q) for i, q in left.items()) else logging.WARNING
            text = ", ".join(f"{i} {signed_decimal(q, self._inst(i).qty_decimals)}" for i, q in left.items())
            log.log(level, "stopping with a residual (the exit report has it by venue): %s", text)

    async def _sweep_once(self, instrument: str) -> TicketResult | None:
        """The sweeper on ``instrument`` if tickets left it a net residual (errors logged, not
        raised); the sweep's ticket, if one went out."""
        runner = self.runner
        if runner is None or self.risk.kill.engaged or instrument not in net_residuals(runner):
            return None
        try:
            result = await sweep(runner, instrument)
        except Exception:
            log.exception("residual sweep on %s failed", instrument)
            return None
        if result is not None and result.status != "refused":
            self.stats.tickets += 1
            if result.pnl is not None:  # in the dashboard's PnL as in the report's
                self.stats.add_realised(result.pnl.quote, result.pnl.realised, result.pnl.notional_decimals)
            self.stats.recent = [*self.stats.recent, (time.time_ns(), result)][-20:]
            if self.on_ticket is not None:
                self.on_ticket(result)
        return result

    def _on_report(self, report: OrderReport) -> None:
        assert self.executor is not None
        self.executor.on_report(report)
        order = self.executor.orders.get(report.client_order_id)
        if order is None:
            return
        for f in report.fills:
            i = order.intent
            self.host.on_fill(FillEvent(i.ticket_id, order.cid, i.venue, i.instrument, i.side.value, f.qty, f.price,
                                        f.fee, f.fee_asset, f.fee_decimals, time.time_ns()))  # fmt: skip

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
                    text = _set_book_balance(book, venue, asset, max(0, bal.available), a.decimals)
                    if self.recorder is not None and text is not None:
                        self.recorder.balance(time.time_ns(), book.instrument, venue, asset, text)
            ctx.set_balance(venue, asset, bal.total)

    def engage_kill(self, reason: str) -> None:
        """The kill switch from a signal or a call (``_kill_engaged`` follows)."""
        self.risk.kill.engage(reason)

    def _kill_engaged(self) -> None:
        """The kill switch engaged, whatever engaged it (a signal, the kill file found by a ticket's
        risk check or by ``_watch_kill_file``, the daily loss): no new ticket from now on, at once
        (a ticket that found the file is the last one refused), and open orders cancelled."""
        if not self._accepting:
            return
        self._accepting = False
        self._gate_takers()
        task = asyncio.get_running_loop().create_task(self._cancel_open())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_open(self) -> None:
        n = await self.executor.cancel_all() if self.executor else 0
        # INFO: the switch's own line (ERROR, arbcore.risk) has said why trading stopped
        log.info("kill switch: new tickets stopped, %d open orders cancelled", n)

    def _strategy_stopped(self, host: StrategyHost) -> None:
        """The strategy failed and is called no more: its open orders are cancelled, the engine runs
        on (at shutdown, or with the kill switch engaged, they are cancelled anyway)."""
        if not self._accepting or self.executor is None:
            return
        task = asyncio.get_running_loop().create_task(self._cancel_strategy_orders(host.name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_strategy_orders(self, name: str) -> None:
        n = await self.executor.cancel_all() if self.executor else 0
        log.info("strategy %s stopped: %d open orders cancelled, the engine runs on", name, n)

    async def _watch_kill_file(self) -> None:
        """The kill file, looked for every ``KILL_FILE_POLL_S`` until it appears (``engaged`` looks
        and engages the switch): trading stops within that time even with no ticket to find it."""
        kill = self.risk.kill
        while not kill.engaged:
            await asyncio.sleep(KILL_FILE_POLL_S)

    def _dry_run_parts(self) -> list[Callable[[], object]]:
        """A dry run's parts (``warm_loop.py``), in order: the order path's
        (``FastPath.warm_steps``), each feed's decoder (``FeedClient.warm_decoder``), the send
        warmer's write (``[run] warm_sends``)."""
        parts = self._taker.warm_steps(self.books) if self._taker is not None else []
        parts += [client.warm_decoder for client in self.feeds.values()]
        if self._send_warmer is not None:
            parts.append(self._send_warmer.send)
        return parts

    async def _watch_book_states(self) -> None:
        """The strategy's ``on_book_state``: each venue's book for each instrument, read every
        ``BOOK_STATE_POLL_S``; a state other than the last one seen (SYNCING at start) is passed
        on. Polled, not pushed: the states change inside the decoder's Rust call (LIVE on a
        snapshot, BROKEN on a gap), and a check per frame would cost the hot path a call per
        book; a strategy hears of a change within the period, and tickets check the books' states
        themselves."""
        seen = {(v, name): "SYNCING" for name, book in self.books.items() for v in book.venues}
        while True:
            for name, book in self.books.items():
                for venue in book.venues:
                    state = book.state_name(venue)
                    if seen.get((venue, name)) != state:
                        seen[(venue, name)] = state
                        for p in self.host.on_book_state(venue, name, state):
                            self.submit(p)
            await asyncio.sleep(BOOK_STATE_POLL_S)

    async def _timer_loop(self) -> None:
        period = self.config.run.timer_ms / 1000
        last_rec = time.monotonic()
        while True:
            await asyncio.sleep(period)
            self._check_recording()
            # quiet (no ticket in flight) is read first, before this tick starts a sweep: dust
            # waiting for a lot starts one every tick, and a check after it never found the engine
            # quiet (no reconciliation ran while any dust waited). Between tickets' steps, never
            # inside one (every change of the ledger is journaled or staged by then)
            quiet = not self._tasks
            if self.checkpoints is not None and self.checkpoints.due(quiet=quiet):
                self._checkpoint()
            due = time.monotonic() - last_rec > self.reconcile_every
            idle = self._reconciling is None or self._reconciling.done()
            if self.executor is not None and self._accepting and quiet and due and idle:
                last_rec = time.monotonic()
                # not awaited here: a slow venue's balances (up to its client's timeout) must not
                # hold the strategy's timer and the sweeps of this tick (the stop has its own)
                self._reconciling = asyncio.get_running_loop().create_task(self._reconcile(self.executor))
            for p in self.host.on_timer(time.time_ns()):
                self.submit(p)
            self._sweep_residuals()

    def _check_recording(self) -> None:
        """A recording whose writes failed (a full disk) or whose writer fell too far behind (a
        stalled disk: :meth:`Recorder.check_backlog` stops it) is said so once, when the timer or
        the stop first sees it: the session trades on, unrecorded from then."""
        rec = self.recorder
        if rec is not None:
            rec.check_backlog()
        if rec is not None and rec.error is not None and not self._recording_failed:
            self._recording_failed = True
            log.error("recording %s stopped early: %s (the session goes on unrecorded; the file replays "
                      "up to its last flush)", rec.path, rec.error)  # fmt: skip

    def _checkpoint(self) -> None:
        """A ledger checkpoint now; a failure costs only a longer replay at the next start."""
        assert self.checkpoints is not None
        try:
            self.checkpoints.write()
        except Exception as e:
            log.warning("ledger checkpoint not written: %s", e)

    async def _reconcile(self, executor: Executor) -> None:
        """The periodic reconciliation (``[execution] adopt_balances = "settled"``: it may adopt)."""
        try:
            recs = await executor.reconcile_balances(settled=self.config.execution.adopt_balances == "settled")
        except Exception as e:  # a venue's balances unavailable this time: asked again next period
            log.warning("balance reconciliation failed: %s", e)
            return
        if any(r.adopted for r in recs.values()):
            self._sync_book_balances()
