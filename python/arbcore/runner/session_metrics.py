"""A trading session's own figures in :class:`~arbcore.runner.metrics.EngineMetrics`.

Two moments, neither of them per frame:

- as each ticket ends (``TradingSession.on_ticket``): its outcome, and for each of its orders
  (legs, hedges, unwinds) the venue and final state, its fills, send-to-reply and
  send-to-first-fill latencies; a hedged or unwound ticket's hedge lag;
- on each scrape (``Registry.on_collect``): the totals the session and its risk gate keep anyway
  (opportunities, realised PnL as the dashboard shows it, open tickets, net exposure, the kill
  switch, a stopped strategy) and the feeds' receive-latency histograms.

::

    m = engine_metrics(registry)
    session_metrics(registry, m, session)   # before session.start(): it follows every ticket
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arbcore.runner.metrics import EngineMetrics, Registry

if TYPE_CHECKING:
    from arbcore.execution.ticket import TicketResult
    from arbcore.runner.session import TradingSession


class SessionMetrics:
    def __init__(self, m: EngineMetrics, session: TradingSession) -> None:
        self.m = m
        self.session = session
        self._bases = sorted({i.base.name for i in session.config.instruments})

    def ticket(self, result: TicketResult) -> None:
        """One ticket that ended (``TicketResult.orders`` holds every order it sent)."""
        m = self.m
        m.tickets.inc(outcome=result.status)
        for o in result.orders:
            venue = o.intent.venue
            m.orders.inc(venue=venue, outcome=o.state.value.lower())
            if o.fill_ids:
                m.fills.inc(len(o.fill_ids), venue=venue)
            if o.sent_ns and o.reply_ns:
                m.order_latency.observe((o.reply_ns - o.sent_ns) / 1e9, venue=venue)
            if o.sent_ns and o.fill_ns:
                m.fill_latency.observe((o.fill_ns - o.sent_ns) / 1e9, venue=venue)
        if result.hedge_lag_ns and not result.residual:  # a residual ticket never got flat
            m.hedge_lag.observe(result.hedge_lag_ns / 1e9)

    def collect(self) -> None:
        """The session's totals, read as they are now (before each scrape)."""
        s, m = self.session, self.m
        m.opportunities.values[()] = s.stats.opportunities
        m.open_tickets.set(s.risk.open_tickets)
        m.kill_switch.set(1 if s.risk.kill.reason else 0)
        for quote, (amount, decimals) in s.stats.realised.items():
            m.realised_pnl.set(amount / 10**decimals, quote=quote)
        for asset in self._bases:
            m.exposure.set(float(s.risk.net_position(asset)), asset=asset)
        m.strategy_errors.values[(s.host.name,)] = 1 if s.host.stopped else 0
        for venue, feed in s.feeds.items():
            m.feed_latency.set_counts(feed.latency.buckets, venue=venue)


def session_metrics(registry: Registry, m: EngineMetrics, session: TradingSession) -> SessionMetrics:
    """Keep ``m`` current from ``session``: each ticket as it ends, the totals on each scrape."""
    sm = SessionMetrics(m, session)
    session.on_ticket = sm.ticket
    registry.on_collect(sm.collect)
    return sm


__all__ = ["SessionMetrics", "session_metrics"]
