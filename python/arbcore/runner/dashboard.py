"""The live terminal dashboard (rich), drawn from a plain snapshot, :class:`DashboardState`.

The engine builds a snapshot (cheap: a few small lists of already formatted text) and hands it
to :meth:`Dashboard.update`, or lets :func:`run_dashboard` pull one every interval. On a TTY the
dashboard redraws in place with ``rich.live``; otherwise (a pipe, a log file, CI) it prints
plain ``key=value`` lines, one per item, every interval, e.g.::

    t=12.0s venue=binance protocol=binance_spot state=LIVE p50_ms=0.42 msgs_s=48.0 errors=0
    t=12.0s quote instrument=BTC/USDT bid=60000.10@okx ask=60000.50@binance
    t=12.0s spread instrument=BTC/USDT buy=binance sell=okx net_bps=-19.87
    t=12.0s ticket id=T3 instrument=BTC/USDT buy=binance sell=okx qty=0.01 outcome=FILLED pnl=0.42
    t=12.0s pnl quote=USDT realised=1.23 opportunities=41 tickets=6

so ``grep venue=`` or ``grep ticket`` follows a run: the state (venues, quotes, balances, PnL)
at every interval, each opportunity and ticket once, at the first print that has it. Amounts
are strings the engine formatted exactly (:func:`quotes_from_book` and :func:`spreads_from_book`
build those rows from books).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import IO, Any

import arbcore


@dataclass(frozen=True)
class VenueRow:
    name: str
    protocol: str = ""
    state: str = "CONNECTING"  # connection/book state, e.g. CONNECTING, SYNCING, LIVE, STALE, BROKEN, DOWN
    latency_p50_ms: float | None = None  # venue timestamp -> receive
    msg_rate: float = 0.0  # messages per second
    errors: int = 0
    books: tuple[tuple[str, str], ...] = ()  # (instrument, book state)


@dataclass(frozen=True)
class QuoteRow:
    instrument: str
    bid: str | None = None
    bid_venue: str | None = None
    ask: str | None = None
    ask_venue: str | None = None


@dataclass(frozen=True)
class SpreadRow:
    instrument: str
    buy_venue: str
    sell_venue: str
    net_bps: float | None  # selling on sell_venue's bid minus buying at buy_venue's ask, after both taker fees


@dataclass(frozen=True)
class OpportunityRow:
    ts_ns: int
    instrument: str
    buy_venue: str
    sell_venue: str
    qty: str
    edge_bps: float
    net_profit: str
    taken: bool | None = None  # did the strategy propose a ticket for it


@dataclass(frozen=True)
class TicketRow:
    ts_ns: int
    ticket_id: str
    instrument: str
    buy_venue: str | None
    sell_venue: str | None
    qty: str
    outcome: str  # e.g. OPEN, FILLED, PARTIAL, HEDGED, REJECTED, FAILED
    pnl: str | None = None


@dataclass(frozen=True)
class BalanceRow:
    venue: str
    asset: str
    total: str
    reserved: str | None = None


@dataclass
class DashboardState:
    title: str = "arbcore"
    elapsed_s: float = 0.0
    strategy: str = ""
    strategy_status: str = "running"  # or "stopped: <why>", "kill switch engaged: <why>"
    venues: list[VenueRow] = field(default_factory=list)
    quotes: list[QuoteRow] = field(default_factory=list)
    spreads: list[SpreadRow] = field(default_factory=list)
    opportunities: list[OpportunityRow] = field(default_factory=list)  # recent, newest first
    tickets: list[TicketRow] = field(default_factory=list)  # recent, newest first
    balances: list[BalanceRow] = field(default_factory=list)
    realised_pnl: dict[str, str] = field(default_factory=dict)  # quote asset -> amount
    exposure: dict[str, str] = field(default_factory=dict)  # asset -> net position over venues
    opportunities_total: int = 0
    tickets_total: int = 0
    messages: list[str] = field(default_factory=list)  # recent notices, newest last


# ---- rows from books -----------------------------------------------------------------------


def quotes_from_book(book: arbcore.ConsolidatedBook) -> QuoteRow:
    """The consolidated best bid and ask (LIVE venues only) as text."""
    venues = book.venues
    bid, ask = book.consolidated_bid(), book.consolidated_ask()
    return QuoteRow(
        book.instrument,
        book.format_price(bid[1]) if bid else None,
        venues[bid[0]] if bid else None,
        book.format_price(ask[1]) if ask else None,
        venues[ask[0]] if ask else None,
    )


def _fee_rate(text: str) -> float:
    t = text.strip()
    return float(t[:-3]) / 1e4 if t.lower().endswith("bps") else float(t)


def spreads_from_book(book: arbcore.ConsolidatedBook) -> list[SpreadRow]:
    """Per ordered venue pair: the spread net of both taker fees of buying at A's best ask and
    selling at B's best bid, in bps of the buy price (None unless both books are LIVE)."""
    venues = book.venues
    fees = {v: _fee_rate(book.venue_spec(v)["taker_fee"]) for v in venues}
    out = []
    for a in venues:
        for b in venues:
            if a == b:
                continue
            net = None
            if book.state_name(a) == "LIVE" and book.state_name(b) == "LIVE":
                ask, bid = book.best_ask(a), book.best_bid(b)
                if ask and bid:
                    buy = ask[0] * (1 + fees[a])
                    sell = bid[0] * (1 - fees[b])
                    net = (sell - buy) / buy * 1e4
            out.append(SpreadRow(book.instrument, a, b, net))
    return out


# ---- rendering -----------------------------------------------------------------------------


def ms_text(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def bps_text(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2f}"


def clock_text(ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ns / 1e9)) if ns else "-"


def render(state: DashboardState) -> Any:
    """The dashboard as a rich renderable, laid out for the console it is drawn on (its width and
    height at each refresh: see :mod:`arbcore.runner.dashboard_view`)."""
    from arbcore.runner.dashboard_view import DashboardView

    return DashboardView(state)


def event_key(row: OpportunityRow | TicketRow) -> tuple[object, ...]:
    """What tells one opportunity or ticket row from another (a ticket whose outcome changed,
    a sweep that now carries a residual, is a new row)."""
    if isinstance(row, TicketRow):
        return ("ticket", row.ticket_id, row.outcome, row.pnl)
    return ("opportunity", row.ts_ns, row.instrument, row.buy_venue, row.sell_venue, row.qty)


def plain_lines(state: DashboardState, printed: Container[tuple[object, ...]] | None = None) -> list[str]:
    """The snapshot as greppable ``key=value`` lines (no colour, one item per line). With
    ``printed`` (the :func:`event_key` of rows already printed), opportunities and tickets are
    events: each of the state's rows not printed yet, once (a log grepped for ``ticket id=``
    counts each ticket once); without it, the newest 5 of each."""
    t = f"t={state.elapsed_s:.1f}s"
    out = []
    for v in state.venues:
        books = ",".join(f"{i}:{s}" for i, s in v.books)
        out.append(
            f"{t} venue={v.name} protocol={v.protocol or '-'} state={v.state} p50_ms={ms_text(v.latency_p50_ms)} "
            f"msgs_s={v.msg_rate:.1f} errors={v.errors}" + (f" books={books}" if books else "")
        )
    for q in state.quotes:
        bid = f"{q.bid}@{q.bid_venue}" if q.bid else "-"
        ask = f"{q.ask}@{q.ask_venue}" if q.ask else "-"
        out.append(f"{t} quote instrument={q.instrument} bid={bid} ask={ask}")
    for s in state.spreads:
        out.append(
            f"{t} spread instrument={s.instrument} buy={s.buy_venue} sell={s.sell_venue} net_bps={bps_text(s.net_bps)}"
        )
    opportunities = (
        state.opportunities[:5] if printed is None else [o for o in state.opportunities if event_key(o) not in printed]
    )
    tickets = state.tickets[:5] if printed is None else [k for k in state.tickets if event_key(k) not in printed]
    for o in opportunities:
        out.append(
            f"{t} opportunity instrument={o.instrument} buy={o.buy_venue} sell={o.sell_venue} qty={o.qty} "
            f"edge_bps={o.edge_bps:.2f} net={o.net_profit}"
        )
    for k in tickets:
        out.append(
            f"{t} ticket id={k.ticket_id} instrument={k.instrument} buy={k.buy_venue or '-'} "
            f"sell={k.sell_venue or '-'} qty={k.qty} outcome={k.outcome} pnl={k.pnl or '-'}"
        )
    for b in state.balances:
        out.append(f"{t} balance venue={b.venue} asset={b.asset} total={b.total} reserved={b.reserved or '-'}")
    pnl = " ".join(f"{q}={v}" for q, v in state.realised_pnl.items()) or "none"
    exposure = " ".join(f"{a}={v}" for a, v in state.exposure.items()) or "flat"
    out.append(
        f"{t} pnl {pnl} exposure {exposure} opportunities={state.opportunities_total} "
        f"tickets={state.tickets_total} strategy={state.strategy or '-'} status={state.strategy_status}"
    )
    return out


class Dashboard:
    """Draws snapshots: live on a TTY, plain lines otherwise (or as forced by ``live``).

    ``update`` is cheap to call often: a live dashboard redraws at most every ``interval_s``
    (0.25 s by default), plain lines are printed every ``interval_s`` (plain default 5 s).
    """

    def __init__(
        self,
        *,
        live: bool | None = None,
        interval_s: float | None = None,
        file: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from rich.console import Console

        self.file = file if file is not None else sys.stdout
        self.console = Console(file=self.file)
        # TERM=dumb: a terminal that cannot move the cursor (rich draws no live view on it, the run
        # showed nothing until it ended): the plain lines instead
        self.live = (self.console.is_terminal and not self.console.is_dumb_terminal) if live is None else live
        self.interval_s = interval_s if interval_s is not None else (0.25 if self.live else 5.0)
        self._clock = clock
        self._last = -1e18
        self._live: Any = None
        self.last_state: DashboardState | None = None
        # plain lines: the rows of the last printed state (rows leave the state's lists for good,
        # so the rows now in them are all a later print needs to skip)
        self._printed: frozenset[tuple[object, ...]] = frozenset()

    def start(self) -> None:
        if self.live and self._live is None:
            from rich.live import Live

            self._live = Live(
                console=self.console,
                auto_refresh=False,
                transient=False,
                vertical_overflow="crop",
                redirect_stderr=False,
            )
            self._live.start()

    def update(self, state: DashboardState, *, force: bool = False) -> bool:
        """Draw ``state`` if the interval has passed (or ``force``); returns whether it drew."""
        self.last_state = state
        now = self._clock()
        if not force and now - self._last < self.interval_s:
            return False
        self._last = now
        if self.live:
            self.start()
            self._live.update(render(state), refresh=True)
        else:
            self.file.write("\n".join(plain_lines(state, self._printed)) + "\n")
            rows: list[OpportunityRow | TicketRow] = [*state.opportunities, *state.tickets]
            self._printed = frozenset(event_key(r) for r in rows)
            self.file.flush()
        return True

    def stop(self, final: DashboardState | None = None) -> None:
        """Leave the last (or ``final``) picture on screen and stop redrawing."""
        state = final or self.last_state
        if self.live:
            if state is not None:
                self.start()
                self._live.update(render(state), refresh=True)
            if self._live is not None:
                self._live.stop()
                self._live = None
        elif final is not None:
            self.update(final, force=True)


def log_handler(dashboard: Dashboard | None = None, level: int = logging.INFO) -> logging.Handler:
    """A logging handler that does not tear the live dashboard: on a live dashboard, rich's
    handler on the dashboard's console (lines appear above the live view); otherwise plain
    ``time LEVEL logger: message`` lines on stderr. Install it on the root logger::

        logging.basicConfig(level=logging.INFO, handlers=[log_handler(dash)], force=True)
    """
    handler: logging.Handler
    if dashboard is not None and dashboard.live:
        from rich.logging import RichHandler

        handler = RichHandler(console=dashboard.console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    return handler


async def run_dashboard(
    dashboard: Dashboard, snapshot: Callable[[], DashboardState], stop: asyncio.Event, interval_s: float | None = None
) -> None:
    """Redraw from ``snapshot()`` every ``interval_s`` until ``stop`` is set, then draw a final one."""
    period = interval_s if interval_s is not None else dashboard.interval_s
    dashboard.start()
    failures = 0
    while not stop.is_set():
        try:
            dashboard.update(snapshot(), force=True)
        except Exception:  # a display bug must never stop the engine: log it (once), keep trading
            failures += 1
            if failures == 1:
                logging.getLogger("arbcore.dashboard").exception("dashboard refresh failed (engine unaffected)")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
    try:
        dashboard.stop(snapshot())
    except Exception:
        logging.getLogger("arbcore.dashboard").exception("final dashboard refresh failed")
        dashboard.stop()


__all__ = [
    "BalanceRow",
    "Dashboard",
    "DashboardState",
    "OpportunityRow",
    "QuoteRow",
    "SpreadRow",
    "TicketRow",
    "VenueRow",
    "log_handler",
    "plain_lines",
    "quotes_from_book",
    "render",
    "run_dashboard",
    "spreads_from_book",
]
