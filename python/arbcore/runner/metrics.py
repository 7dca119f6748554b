"""Prometheus metrics: counters, gauges and latency histograms, served as text exposition format
(version 0.0.4) by an aiohttp server on 127.0.0.1 (``arbcore run --metrics-port PORT``).

No client library: the registry is small, allocation-free on the hot path (a dict lookup and an
add per observation) and single-threaded (everything runs on the event loop)::

    reg = Registry()
    frames = reg.counter("arbcore_frames_total", "Frames received", ("venue",))
    frames.inc(venue="binance")
    lat = reg.histogram("arbcore_order_ack_seconds", "Send to ack", ("venue",))
    lat.observe(0.0042, venue="okx")
    server = await start_metrics_server(reg, 9100)   # MetricsPortError if the port is taken
    ...
    await server.stop()

``Registry.on_collect(fn)`` registers a callback run before each scrape, to copy values that
live elsewhere (feed-client counters, balances) into gauges only when someone asks.
"""

from __future__ import annotations

import abc
import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: default latency buckets, seconds (100 us .. 10 s)
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
#: the feed clients' receive-latency buckets (``feed_client.LatencyHistogram``): under 2**i us, i < 31
FEED_LATENCY_BUCKETS = tuple(2**i / 1e6 for i in range(31))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: how long the server's stop waits for a scrape in progress: a client that sends requests and
#: never reads the responses holds its handler waiting to write, which aiohttp's default waited
#: for up to 60 s twice over (the exit report is written after the server stopped)
SHUTDOWN_GRACE_S = 0.5
_ADDRESS_IN_USE = (48, 98, 10048)  # EADDRINUSE: macOS/BSD, Linux, Windows


class MetricsPortError(OSError):
    """The metrics port could not be bound; the message is one line naming the address."""


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _escape(v: str) -> str:
    """A label value: backslash, line feed and double quote escaped."""
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(v: str) -> str:
    """A HELP text: backslash and line feed escaped (a line feed would end the line)."""
    return v.replace("\\", "\\\\").replace("\n", "\\n")


class _Metric(abc.ABC):
    kind = ""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: dict[str, Any]) -> tuple[str, ...]:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name}: labels {sorted(labels)} != {list(self.labelnames)}")
        try:
            return tuple(str(labels[n]) for n in self.labelnames)
        except KeyError as e:
            raise ValueError(f"{self.name}: missing label {e}") from None

    def _labels(self, key: tuple[str, ...], extra: str = "") -> str:
        parts = [f'{n}="{_escape(v)}"' for n, v in zip(self.labelnames, key, strict=True)]
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}" if parts else ""

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    @abc.abstractmethod
    def render(self) -> list[str]:
        """The metric's exposition lines (its header, then its samples)."""


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, **labels: Any) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: a counter only goes up")
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0) + amount

    def value(self, **labels: Any) -> float:
        return self.values.get(self._key(labels), 0)

    def render(self) -> list[str]:
        return [f"{self.name}{self._labels(k)} {_fmt(v)}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, **labels: Any) -> None:
        self.values[self._key(labels)] = value

    def inc(self, amount: float = 1, **labels: Any) -> None:
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0) + amount


class Histogram(_Metric):
    kind = "histogram"
    has_sum = True  # a `_sum` line per series

    def __init__(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Iterable[float] = LATENCY_BUCKETS
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(set(buckets)))
        if not self.buckets:
            raise ValueError(f"{name}: no buckets")
        # per label set: [counts per bucket (non-cumulative) + overflow, sum]
        self.series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: Any) -> None:
        key = self._key(labels)
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = ([0] * (len(self.buckets) + 1), [0.0])
        s[0][bisect.bisect_left(self.buckets, value)] += 1
        s[1][0] += value

    def count(self, **labels: Any) -> int:
        s = self.series.get(self._key(labels))
        return sum(s[0]) if s else 0

    def render(self) -> list[str]:
        out = []
        for key, (counts, total) in sorted(self.series.items()):
            cum = 0
            for b, c in zip(self.buckets, counts, strict=False):
                cum += c
                le = self._labels(key, 'le="' + _fmt(b) + '"')
                out.append(f"{self.name}_bucket{le} {cum}")
            cum += counts[-1]
            le = self._labels(key, 'le="+Inf"')
            out.append(f"{self.name}_bucket{le} {cum}")
            if self.has_sum:
                out.append(f"{self.name}_sum{self._labels(key)} {_fmt(total[0])}")
            out.append(f"{self.name}_count{self._labels(key)} {cum}")
        return out


class MirroredHistogram(Histogram):
    """A histogram kept elsewhere as counts per bucket, copied in on each scrape with
    :meth:`set_counts`. No ``_sum`` line: its source keeps none (the feed clients' latency
    histogram is filled on the frame handler, where a sum would cost an add per frame)."""

    has_sum = False

    def observe(self, value: float, **labels: Any) -> None:
        raise TypeError(f"{self.name}: a mirrored histogram is set with set_counts, not observed")

    def set_counts(self, counts: Sequence[int], **labels: Any) -> None:
        """Non-cumulative counts: one per bucket, then the overflow (``len(buckets) + 1`` values)."""
        if len(counts) != len(self.buckets) + 1:
            raise ValueError(f"{self.name}: {len(counts)} counts for {len(self.buckets)} buckets + overflow")
        self.series[self._key(labels)] = (list(counts), [0.0])


class Registry:
    def __init__(self) -> None:
        self.metrics: dict[str, _Metric] = {}
        self._collectors: list[Callable[[], None]] = []

    def _add(self, m: _Metric) -> Any:
        old = self.metrics.get(m.name)
        if old is not None:
            if type(old) is not type(m) or old.labelnames != m.labelnames:
                raise ValueError(f"metric {m.name} already registered as a {old.kind} with {old.labelnames}")
            return old
        self.metrics[m.name] = m
        return m

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        c: Counter = self._add(Counter(name, help_text, labelnames))
        return c

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        g: Gauge = self._add(Gauge(name, help_text, labelnames))
        return g

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Iterable[float] = LATENCY_BUCKETS
    ) -> Histogram:
        h: Histogram = self._add(Histogram(name, help_text, labelnames, buckets))
        return h

    def mirrored_histogram(
        self, name: str, help_text: str, labelnames: Sequence[str], buckets: Iterable[float]
    ) -> MirroredHistogram:
        h: MirroredHistogram = self._add(MirroredHistogram(name, help_text, labelnames, buckets))
        return h

    def on_collect(self, fn: Callable[[], None]) -> None:
        self._collectors.append(fn)

    def render(self) -> str:
        for fn in self._collectors:
            fn()
        lines: list[str] = []
        for m in self.metrics.values():
            lines += m.header()
            lines += m.render()
        return "\n".join(lines) + "\n"


@dataclass
class EngineMetrics:
    """The engine's standard metrics (names are part of the interface: dashboards scrape them).
    Feed and book figures are copied in on each scrape (``snapshot.metrics_bridge``); a ticket's
    figures as it ends and the session's totals on each scrape (``session_metrics``)."""

    frames: Counter  # {venue}
    feed_errors: Counter  # {venue, kind}
    book_state: Gauge  # {venue, instrument}: 0 SYNCING, 1 LIVE, 2 STALE, 3 BROKEN
    feed_latency: MirroredHistogram  # {venue}: venue timestamp -> receive, seconds (no _sum)
    opportunities: Counter  # the session's count, all pairs (one per pair would cost the frame handler)
    tickets: Counter  # {outcome}: done, missed, hedged, unwound, residual, refused
    orders: Counter  # {venue, outcome}: the order's state when its ticket ended, e.g. filled, expired
    fills: Counter  # {venue}
    order_latency: Histogram  # {venue}: send -> the venue's reply, seconds
    fill_latency: Histogram  # {venue}: send -> first fill applied, seconds
    hedge_lag: Histogram  # legs done with a residual -> ticket flat again, seconds
    strategy_errors: Counter  # {strategy}
    realised_pnl: Gauge  # {quote}, in quote units (float: for display only)
    open_tickets: Gauge
    exposure: Gauge  # {asset}: net position over venues, asset units
    kill_switch: Gauge  # 1 once engaged (a signal, the kill file, the daily loss), else 0


def engine_metrics(reg: Registry) -> EngineMetrics:
    return EngineMetrics(
        frames=reg.counter("arbcore_frames_total", "Frames received from venue feeds", ("venue",)),
        feed_errors=reg.counter(
            "arbcore_feed_errors_total", "Feed errors (gaps, checksums, malformed)", ("venue", "kind")
        ),
        book_state=reg.gauge(
            "arbcore_book_state", "Book state: 0 SYNCING, 1 LIVE, 2 STALE, 3 BROKEN", ("venue", "instrument")
        ),
        feed_latency=reg.mirrored_histogram(
            "arbcore_feed_latency_seconds", "Venue timestamp to receive (no _sum)", ("venue",), FEED_LATENCY_BUCKETS
        ),
        opportunities=reg.counter("arbcore_opportunities_total", "Opportunities detected (all instruments)"),
        tickets=reg.counter("arbcore_tickets_total", "Tickets by outcome", ("outcome",)),
        orders=reg.counter("arbcore_orders_total", "Orders by venue and outcome", ("venue", "outcome")),
        fills=reg.counter("arbcore_fills_total", "Fills by venue", ("venue",)),
        order_latency=reg.histogram("arbcore_order_ack_seconds", "Order send to the venue's reply", ("venue",)),
        fill_latency=reg.histogram("arbcore_order_fill_seconds", "Order send to first fill", ("venue",)),
        hedge_lag=reg.histogram("arbcore_hedge_lag_seconds", "Legs done with a residual to ticket flat"),
        strategy_errors=reg.counter("arbcore_strategy_errors_total", "Strategy plug-ins stopped", ("strategy",)),
        realised_pnl=reg.gauge("arbcore_realised_pnl", "Realised PnL net of fees (display precision)", ("quote",)),
        open_tickets=reg.gauge("arbcore_open_tickets", "Tickets not yet final"),
        exposure=reg.gauge("arbcore_net_exposure", "Net position over venues", ("asset",)),
        kill_switch=reg.gauge("arbcore_kill_switch", "Kill switch: 1 engaged (no new tickets), 0 not"),
    )


class MetricsServer:
    """The running HTTP server; ``url`` is where ``/metrics`` is served."""

    def __init__(self, runner: Any, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def stop(self) -> None:
        await self._runner.cleanup()


def port_problem(port: int, host: str = "127.0.0.1") -> str | None:
    """Why ``host:port`` cannot be listened on now ("port in use", ...), or None. Bound as the
    server binds it (SO_REUSEADDR), so a port left in TIME_WAIT by the last run is free."""
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            return _bind_error(e)
    return None


def _bind_error(e: OSError) -> str:
    return "port in use" if e.errno in _ADDRESS_IN_USE else (e.strerror or str(e))


async def start_metrics_server(registry: Registry, port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` (and ``/``). Port 0 picks a free port
    (read ``server.port``). Raises :class:`MetricsPortError` when the port cannot be bound."""
    from aiohttp import web

    async def handle(_: web.Request) -> web.Response:
        return web.Response(body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", handle)
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    # SO_REUSEADDR: a scraper's kept-alive connection, closed by the server at the last run's exit,
    # leaves the port in TIME_WAIT for a minute, which refused a restart on it as "port in use".
    # (On Linux and macOS it does not let two servers listen on one port: that is still refused.)
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        why = _bind_error(e)
        raise MetricsPortError(f"--metrics-port {port}: cannot listen on {host}:{port}: {why}") from None
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    return MetricsServer(runner, host, bound)


__all__ = [
    "FEED_LATENCY_BUCKETS",
    "LATENCY_BUCKETS",
    "Counter",
    "EngineMetrics",
    "Gauge",
    "Histogram",
    "MetricsPortError",
    "MetricsServer",
    "MirroredHistogram",
    "Registry",
    "engine_metrics",
    "port_problem",
    "start_metrics_server",
]
