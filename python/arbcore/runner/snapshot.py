"""Building dashboard rows and metrics from the engine's live objects.

The engine owns its state; these helpers turn it into :class:`~arbcore.runner.dashboard.DashboardState`
rows (exact text) and keep :class:`~arbcore.runner.metrics.EngineMetrics` current, so the app
only wires objects together::

    snap = SnapshotBuilder(config, books, clients_by_venue)
    state = snap.state(elapsed_s, host, balances, positions, recent_opps, recent_tickets, pnl)
    metrics_bridge(registry, m, snap)      # feed and book gauges/counters refreshed on each scrape
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import arbcore
from arbcore.execution.amounts import signed_decimal
from arbcore.runner.config import Config
from arbcore.runner.dashboard import (
    BalanceRow,
    DashboardState,
    OpportunityRow,
    TicketRow,
    VenueRow,
    quotes_from_book,
    spreads_from_book,
)
from arbcore.runner.metrics import EngineMetrics, Registry
from arbcore.runner.plugins import Opportunity, StrategyHost

#: feed counters that count an error
ERROR_COUNTERS = ("decode_errors", "gaps", "duplicates", "out_of_order", "checksum_failed", "crossed")
_STATE_CODE = {"SYNCING": 0, "LIVE": 1, "STALE": 2, "BROKEN": 3}


class FeedLike(Protocol):
    """What is read from a feed client (``arbcore.feed_client.FeedClient`` has it)."""

    def counters(self) -> dict[str, int]: ...


class SnapshotBuilder:
    """Rows for the dashboard from the config, the books (instrument name -> book) and the feed
    clients (venue name -> its clients; a venue may shard over several connections)."""

    def __init__(
        self,
        config: Config,
        books: Mapping[str, arbcore.ConsolidatedBook],
        clients: Mapping[str, Sequence[FeedLike]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.books = books
        self.clients = clients or {}
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # venue -> (time, frames) at the last snapshot
        self._rates: dict[str, float] = {}

    def venue_counters(self, venue: str) -> dict[str, int]:
        """The venue's feed counters summed over its connections (latency: the worst p50/p99)."""
        total: dict[str, int] = {}
        for c in self.clients.get(venue, ()):
            for k, v in c.counters().items():
                total[k] = max(total.get(k, 0), v) if k.startswith("latency_") else total.get(k, 0) + v
        return total

    def venue_rows(self) -> list[VenueRow]:
        now = self._clock()
        rows = []
        for name, v in self.config.venues.items():
            c = self.venue_counters(name)
            frames = c.get("frames", 0)
            t0, f0 = self._last.get(name, (now, frames))
            if now - t0 >= 0.5:
                self._rates[name] = (frames - f0) / (now - t0)
                self._last[name] = (now, frames)
            elif name not in self._last:
                self._last[name] = (now, frames)
            books = tuple(
                (inst, self.books[inst].state_name(name)) for inst in self.books if name in self.books[inst].venues
            )
            states = {s for _, s in books}
            if not books:
                state = "-"
            elif len(states) == 1:
                state = states.pop()
            else:
                state = next(s for s in ("BROKEN", "STALE", "SYNCING", "LIVE") if s in states)
            if self.clients.get(name) is not None and frames == 0 and state == "SYNCING":
                state = "CONNECTING"
            p50 = c.get("latency_p50_us")
            rows.append(
                VenueRow(
                    name,
                    v.protocol,
                    state,
                    None if not c.get("frames") or p50 is None else p50 / 1000,
                    self._rates.get(name, 0.0),
                    sum(c.get(k, 0) for k in ERROR_COUNTERS) + c.get("callback_errors", 0),
                    books,
                )
            )
        return rows

    def balance_rows(
        self, balances: Mapping[tuple[str, str], int], reserved: Mapping[tuple[str, str], int] | None = None
    ) -> list[BalanceRow]:
        """(venue, asset) -> amount at the asset's decimals, as text."""
        out = []
        for (venue, asset), total in sorted(balances.items()):
            a = self.config.assets.get(asset)
            if a is None:
                continue
            r = (reserved or {}).get((venue, asset))
            out.append(BalanceRow(venue, asset, a.format(total), None if r is None else a.format(r)))
        return out

    def exposure(self, positions: Mapping[tuple[str, str], int]) -> dict[str, str]:
        """Net position per asset over venues ((venue, asset) -> amount at the asset's decimals);
        only base assets of the configured instruments."""
        bases = {i.base.name: i.base for i in self.config.instruments}
        net: dict[str, int] = dict.fromkeys(bases, 0)
        for (_, asset), v in positions.items():
            if asset in net:
                net[asset] += v
        return {a: bases[a].format(v) for a, v in net.items()}

    def opportunity_row(self, opp: Opportunity, taken: bool | None = None, ts_ns: int | None = None) -> OpportunityRow:
        inst = self.config.instrument(opp.instrument)
        return OpportunityRow(
            ts_ns if ts_ns is not None else (opp.buy_recv_ts or time.time_ns()),
            opp.instrument,
            opp.buy_venue,
            opp.sell_venue,
            inst.format_qty(opp.qty),
            opp.edge_bps,
            signed_decimal(opp.net_profit, inst.notional_decimals),
            taken,
        )

    def ticket_row(  # noqa: PLR0917
        self,
        ticket_id: str,
        instrument: str,
        buy_venue: str | None,
        sell_venue: str | None,
        qty: int,
        outcome: str,
        realised: int | None = None,
        ts_ns: int | None = None,
    ) -> TicketRow:
        """``qty`` raw; ``realised`` at the instrument's notional decimals (``TicketPnl.realised``)."""
        inst = self.config.instrument(instrument)
        return TicketRow(
            ts_ns if ts_ns is not None else time.time_ns(),
            ticket_id,
            instrument,
            buy_venue,
            sell_venue,
            inst.format_qty(qty),
            outcome,
            None if realised is None else signed_decimal(realised, inst.notional_decimals),
        )

    def state(  # noqa: PLR0917
        self,
        elapsed_s: float,
        host: StrategyHost | None = None,
        balances: Mapping[tuple[str, str], int] | None = None,
        positions: Mapping[tuple[str, str], int] | None = None,
        opportunities: Iterable[OpportunityRow] = (),
        tickets: Iterable[TicketRow] = (),
        realised_pnl: Mapping[str, tuple[int, int]] | None = None,
        *,
        opportunities_total: int = 0,
        tickets_total: int = 0,
        messages: Sequence[str] = (),
        reserved: Mapping[tuple[str, str], int] | None = None,
        kill_switch: str = "",
    ) -> DashboardState:
        """The whole snapshot. ``realised_pnl``: quote asset -> (amount, decimals);
        ``kill_switch``: why it engaged (``KillSwitch.reason``), empty while it has not."""
        status = "running"
        if host is not None and host.stopped:
            status = f"stopped: {host.error_text}"
        if kill_switch:  # no new ticket, whatever the strategy proposes
            status = f"kill switch engaged: {kill_switch}" + ("" if status == "running" else f"; strategy {status}")
        return DashboardState(
            title="arbcore" + ("" if self.config.source.startswith("<") else f" {self.config.source}"),
            elapsed_s=elapsed_s,
            strategy=host.name if host is not None else "",
            strategy_status=status,
            venues=self.venue_rows(),
            quotes=[quotes_from_book(b) for b in self.books.values()],
            spreads=[s for b in self.books.values() for s in spreads_from_book(b)],
            opportunities=list(opportunities),
            tickets=list(tickets),
            balances=self.balance_rows(balances or {}, reserved),
            realised_pnl={q: signed_decimal(v, d) for q, (v, d) in (realised_pnl or {}).items()},
            exposure=self.exposure(positions or {}),
            opportunities_total=opportunities_total,
            tickets_total=tickets_total,
            messages=list(messages),
        )


def metrics_bridge(registry: Registry, m: EngineMetrics, snap: SnapshotBuilder) -> None:
    """On every scrape, copy the feed counters and book states into ``m`` (frames, feed errors
    by kind, book state per venue and instrument). The rest (tickets, orders, fills, latencies,
    opportunities, PnL, exposure, the kill switch) ``session_metrics`` keeps from the session."""

    def collect() -> None:
        for venue in snap.config.venues:
            c = snap.venue_counters(venue)
            m.frames.values[(venue,)] = c.get("frames", 0)
            for k in (*ERROR_COUNTERS, "callback_errors", "reconnects"):
                m.feed_errors.values[(venue, k)] = c.get(k, 0)
        for inst, book in snap.books.items():
            for venue in book.venues:
                m.book_state.set(_STATE_CODE.get(book.state_name(venue), 0), venue=venue, instrument=inst)

    registry.on_collect(collect)


__all__ = ["ERROR_COUNTERS", "FeedLike", "SnapshotBuilder", "metrics_bridge"]
