"""A trading session's parts, built from its `Config`: the risk gate and the tickets' parameters,
one consolidated book per instrument, a feed per venue into those books, each venue's order
client configuration, the markets (each venue's trading rules, checked against the config's) and
today's realised PnL restored from the journal; with the session's figures (`SessionStats`) and
the tickets' view of the books (`BookView`). `session.py` puts them together and runs them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import arbcore
from arbcore.execution.amounts import add_scaled
from arbcore.execution.daily_pnl import DAY_NS
from arbcore.execution.journal import Journal
from arbcore.execution.orders import Side
from arbcore.execution.risk import KillSwitch, RiskGate, RiskLimits
from arbcore.execution.ticket import Market, TicketParams, TicketResult
from arbcore.feed_client import FeedClient
from arbcore.runner.config import Config, ConfigFileError, InstrumentConfig
from arbcore.runner.config_fields import quoted
from arbcore.runner.plugins import Opportunity
from arbcore.runner.sim_cluster import SimEndpoint
from arbcore.sim.fmt import places_of
from arbcore.sim.orders.rig import client_config
from arbcore.sim.server import SimVenue
from arbcore.venues import CLIENT_SPECS
from arbcore.venues.orders.base import OrderClient
from arbcore.venues.orders.registry import ORDER_VENUES, OrderClientConfig
from arbcore.venues.orders.types import InstrumentRules
from arbcore.venues.signing.credentials import Credentials

#: tickets :attr:`SessionStats.recent` keeps (more than end between two dashboard pictures)
RECENT_TICKETS = 500


@dataclass
class SessionStats:
    opportunities: int = 0
    proposals: int = 0
    tickets: int = 0
    refused: int = 0
    started_ns: int = field(default_factory=time.time_ns)
    #: the latest 100 000 (a bounded sample for the exit report; every ticket's is journaled)
    decision_to_wire_ns: deque[int] = field(default_factory=lambda: deque(maxlen=100_000))
    #: the last RECENT_TICKETS tickets that ended, oldest first: (local ns when it ended, its
    #: result); the plain lines print every ticket that ended between two pictures from it
    recent: deque[tuple[int, TicketResult]] = field(default_factory=lambda: deque(maxlen=RECENT_TICKETS))
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


def set_book_balance(book: arbcore.ConsolidatedBook, venue: str, asset: str, raw: int, decimals: int) -> str | None:
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


def risk_gate(config: Config, kill_file: str | Path | None) -> RiskGate:
    """The risk gate of ``[risk]``, its kill switch on ``kill_file`` (default ``[risk] kill_file``)."""
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
    return RiskGate(lim, KillSwitch(kill_file or risk.kill_file))


def ticket_params(config: Config) -> TicketParams:
    """The tickets' parameters of ``[execution]``."""
    ex = config.execution
    return TicketParams(
        max_book_age_ns=ex.staleness_ms * 1_000_000,
        leg_timeout=ex.leg_timeout_ms / 1000,
        hedge_timeout=ex.hedge_timeout_ms / 1000,
        loss_budget_quote=None
        if ex.loss_budget is None
        else Decimal(ex.loss_budget.value).scaleb(-ex.loss_budget.decimals),
    )


def build_books(config: Config) -> dict[str, arbcore.ConsolidatedBook]:
    """One consolidated book per instrument, with its venues' rules and fees."""
    books = {}
    for inst in config.instruments:
        book = arbcore.ConsolidatedBook(inst.name, inst.price_decimals, inst.qty_decimals)
        for name, iv in inst.venues.items():
            book.add_venue(
                name, symbol=iv.symbol, tick_size=iv.tick_text, lot_size=iv.lot_text, min_qty=iv.min_qty_text,
                min_notional=iv.min_notional_text, taker_fee=iv.taker_fee.text, maker_fee=iv.maker_fee.text,
            )  # fmt: skip
        book.set_min_edge_bps(config.execution.min_edge_bps)
        books[inst.name] = book
    return books


def order_config(
    config: Config,
    name: str,
    *,
    environ: Mapping[str, str] | None,
    external: Mapping[str, SimEndpoint] | None,
    sim_venues: Mapping[str, SimVenue],
    credentials: Mapping[str, Credentials],
) -> OrderClientConfig:
    """Venue ``name``'s order client configuration: a simulated venue's (run here, or by another
    process: ``external``), or the live venue's with its credentials from ``environ``."""
    v = config.venues[name]
    scales = {iv.symbol: (inst.price_decimals, inst.qty_decimals)
              for inst in config.instruments for n, iv in inst.venues.items() if n == name}  # fmt: skip
    if v.simulated and external is not None:
        ep = external[name]
        return OrderClientConfig(v.protocol, ep.credentials, ep.order_urls, scales, {})
    if v.simulated:
        return client_config(v.protocol, sim_venues[name], credentials[name])
    from arbcore.runner.config import credentials_for

    creds = credentials_for(config, name, environ)
    urls = ORDER_VENUES[v.protocol].live_urls()  # binance_usdm: its own, not spot's
    if v.rest_url:
        urls["rest"] = v.rest_url
    urls.update(v.order_urls)
    return OrderClientConfig(v.protocol, creds, urls, scales, {})


def build_feeds(
    config: Config,
    books: Mapping[str, arbcore.ConsolidatedBook],
    on_read: Callable[[], None],
    *,
    external: Mapping[str, SimEndpoint] | None,
    sim_venues: Mapping[str, SimVenue],
) -> dict[str, FeedClient]:
    """A feed per venue into the books of its instruments, calling ``on_read`` once per drained read."""
    feeds = {}
    names = list(books)
    for vname, v in config.venues.items():
        spec = CLIENT_SPECS[v.protocol]
        symbols: dict[str, tuple[int, int]] = {}
        precisions: dict[str, tuple[int, int]] = {}
        for i, inst in enumerate(config.instruments):
            iv = inst.venues.get(vname)
            if iv is not None:
                symbols[iv.symbol] = (i, books[inst.name].venue_index(vname))
                precisions[iv.symbol] = (
                    places_of(iv.tick, inst.price_decimals),
                    places_of(iv.lot, inst.qty_decimals),
                )
        if v.simulated and external is not None:
            url, rest = external[vname].md_url, external[vname].rest_url
        elif v.simulated:
            sim = sim_venues[vname]
            url, rest = sim.ws_url, sim.rest_url if sim.rest_port else None
        else:
            url, rest = v.ws_url or "", v.rest_url
        kw = {"precisions": precisions} if v.protocol == "kraken" else None
        feeds[vname] = FeedClient(
            spec, url, [books[n] for n in names], symbols, rest_url=rest, on_read=on_read,
            stale_after=max(1.0, config.execution.staleness_ms / 1000), feed_kwargs=kw, name=vname,
        )  # fmt: skip
    return feeds


async def load_markets(
    config: Config, clients: Mapping[str, OrderClient], markets: dict[tuple[str, str], Market]
) -> None:
    """Each venue's trading rules for its instruments, into ``markets``. A symbol the venue lists
    for other assets than the instrument's (BTC-USD under BTC/USDT: the ledger would book USD as
    USDT), a tick or lot other than the config's, or a minimum stricter than it, refuses the start
    (``ConfigFileError``, a line per field): the books, the detector, the order path and Kraken's
    checksums all work at the config's."""
    errors: list[str] = []
    for vname in config.venues:
        symbols = {iv.symbol: inst for inst in config.instruments for n, iv in inst.venues.items() if n == vname}
        rules = await clients[vname].instruments(list(symbols))
        for sym, inst in symbols.items():
            iv = inst.venues[vname]
            r = rules.get(sym) or InstrumentRules(vname, sym, inst.price_decimals, inst.qty_decimals, iv.tick,
                                                  iv.lot, iv.min_qty, iv.min_notional)  # fmt: skip
            errors += _rule_errors(config.instruments.index(inst), vname, inst, r)
            r = InstrumentRules(vname, sym, inst.price_decimals, inst.qty_decimals, r.tick, r.lot,
                                max(r.min_qty, iv.min_qty), max(r.min_notional, iv.min_notional), r.max_qty,
                                iv.maker_fee.rate, iv.taker_fee.rate)  # fmt: skip
            markets[(vname, inst.name)] = Market(vname, sym, inst.name, inst.base, inst.quote, r)
    if errors:
        raise ConfigFileError(config.source, errors)


def restore_daily_loss(risk: RiskGate, journal: Journal) -> list[str]:
    """Today's (UTC) realised PnL so far, from the journal's tickets, into the risk gate: a
    restart gave the daily loss limit a fresh budget (after it had engaged the kill switch,
    too). A loss beyond the limit engages the switch again, with its own line."""
    now = time.time_ns()
    totals = journal.realised_today(now - now % DAY_NS)  # per quote asset, as the risk gate keeps it
    totals = {q: v for q, v in totals.items() if v}
    if not totals:
        return []
    for quote, total in totals.items():
        risk.on_realised(total, quote)
    so_far = ", ".join(f"{v} {q}" for q, v in sorted(totals.items()))
    return [f"today's realised PnL so far (UTC): {so_far}, counted against max_daily_loss"]
