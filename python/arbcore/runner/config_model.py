"""The frozen dataclasses a parsed configuration is made of: exact integers, with each amount's text as
written; what :func:`arbcore.runner.config.parse_config` returns and the engine reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import arbcore
from arbcore.execution.amounts import Asset, Rounding, rescale
from arbcore.venues.shown_url import shown_url

if TYPE_CHECKING:
    from arbcore.runner.config_sim_faults import SimFaults

# ---- value types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dec:
    """An exact decimal from the file: ``value / 10**decimals``, as written (``text``)."""

    value: int
    decimals: int
    text: str

    def at(self, decimals: int, rounding: Rounding = Rounding.EXACT) -> int:
        """The value as an integer at ``decimals`` (``InexactConversionError`` if EXACT and too fine)."""
        return rescale(self.value, self.decimals, decimals, rounding)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Fee:
    """A fee rate in units of 1e-8 (``arbcore.FEE_SCALE``), signed (negative: rebate); ``text`` as written."""

    rate: int
    text: str

    @property
    def bps(self) -> float:
        return self.rate / arbcore.FEE_SCALE * 1e4


@dataclass(frozen=True)
class VenueConfig:
    name: str
    protocol: str
    simulated: bool
    ws_url: str | None
    rest_url: str | None
    api_key_env: str | None
    api_secret_env: str | None
    api_passphrase_env: str | None
    #: paper (simulated) or starting balances: asset -> amount at the asset's decimals
    balances: Mapping[str, int]
    #: order-entry and private-stream endpoints by role (e.g. ``ws_private``), over the venue's own
    #: defaults (``LIVE_URLS`` of its order client): a testnet, a proxy, a co-located gateway
    order_urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: ``[venues.NAME.sim_faults]`` (a simulated venue only): the faults a rehearsal injects
    sim_faults: SimFaults | None = None


@dataclass(frozen=True)
class InstrumentVenue:
    """One instrument on one venue. Raw integers at the instrument's scales; ``*_text`` as written
    (what :meth:`arbcore.ConsolidatedBook.add_venue` takes)."""

    venue: str
    symbol: str
    tick: int  # price_decimals
    lot: int  # qty_decimals
    min_qty: int  # qty_decimals
    min_notional: int  # price_decimals + qty_decimals
    maker_fee: Fee
    taker_fee: Fee
    tick_text: str
    lot_text: str
    min_qty_text: str
    min_notional_text: str


@dataclass(frozen=True)
class InstrumentConfig:
    name: str  # canonical "BASE/QUOTE"
    base: Asset
    quote: Asset
    price_decimals: int
    qty_decimals: int
    venues: Mapping[str, InstrumentVenue]
    sim_mid: int | None  # raw price the simulator starts at (needed when a simulated venue lists it)

    @property
    def notional_decimals(self) -> int:
        return self.price_decimals + self.qty_decimals

    def format_price(self, raw: int) -> str:
        return arbcore.format_decimal(raw, self.price_decimals)

    def format_qty(self, raw: int) -> str:
        return arbcore.format_decimal(raw, self.qty_decimals)

    def build_book(
        self,
        instrument_id: int = 0,
        balances: Mapping[str, Mapping[str, int]] | None = None,
        assets: Mapping[str, Asset] | None = None,
    ) -> arbcore.ConsolidatedBook:
        """A consolidated book with this instrument's venues (in config order) added; ``balances``
        (venue -> asset -> amount at the asset's decimals, e.g. ``VenueConfig.balances``) are set
        for the base and quote assets when given."""
        book = arbcore.ConsolidatedBook(self.name, self.price_decimals, self.qty_decimals, instrument_id)
        for v in self.venues.values():
            book.add_venue(
                v.venue,
                symbol=v.symbol,
                tick_size=v.tick_text,
                lot_size=v.lot_text,
                min_qty=v.min_qty_text,
                min_notional=v.min_notional_text,
                taker_fee=v.taker_fee.text,
                maker_fee=v.maker_fee.text,
            )
            for asset in (self.base, self.quote):
                amount = (balances or {}).get(v.venue, {}).get(asset.name)
                if amount is not None:
                    book.set_balance(v.venue, asset.name, asset.format(amount))
        return book


@dataclass(frozen=True)
class PositionLimit:
    asset: Asset
    per_venue: int | None  # asset decimals, absolute value of the position on any one venue
    net: int | None  # asset decimals, absolute value of the sum over venues


@dataclass(frozen=True)
class RiskConfig:
    """Notional and loss limits are in each instrument's quote asset (use ``Dec.at``)."""

    max_order_notional: Dec | None
    max_ticket_notional: Dec | None
    max_daily_loss: Dec | None
    max_open_tickets: int
    max_position: Mapping[str, PositionLimit]
    breaker_max_rejects: int
    breaker_max_errors: int
    breaker_window_ms: int
    breaker_cooldown_ms: int
    kill_file: Path | None


@dataclass(frozen=True)
class StrategyConfig:
    spec: str  # builtin name or "path/to/file.py[:Class]"
    params: Mapping[str, Any]
    base_dir: Path  # relative plug-in paths resolve against the config file's directory


#: ``[execution] adopt_balances`` values, the default first
ADOPT_BALANCES = ("start", "settled", "never")


@dataclass(frozen=True)
class ExecutionConfig:
    staleness_ms: int  # a book older than this is STALE: no opportunities from it
    leg_timeout_ms: int  # an order without a final answer by then is queried / cancelled
    hedge_timeout_ms: int  # a one-legged ticket must be flat by then
    loss_budget: Dec | None  # quote units a hedge may lose to flatten a ticket
    min_edge_bps: str  # detection's minimum edge net of fees (decimal text)
    # when the venues' balances replace the ledger's totals (a difference is always reported):
    # "start": at start, after recovery (the journal cannot know of deposits, withdrawals or
    # trades made elsewhere between two runs); "settled": also while running, a difference two
    # reconciliations in a row found the same on a quiet venue; "never": reported only
    adopt_balances: str = "start"


@dataclass(frozen=True)
class RunConfig:
    seed: int
    journal: Path | None
    report_dir: Path | None
    dashboard_interval_ms: int
    timer_ms: int  # strategy on_timer period
    sim_interval_ms: int  # simulated venues' update period
    # fsync each ticket's intent record before its orders leave: survives an OS crash or power
    # loss, at a disk flush per ticket (milliseconds); off, a killed process still loses nothing
    fsync_intents: bool = False
    # keep the event loop polling its sockets instead of sleeping in epoll between events: a frame
    # is read as it arrives and the decision runs on a core that never went idle, for the price of
    # that core at 100% (a low-latency host with a core to spare)
    busy_poll: bool = False
    # "rust": a two-leg ticket on venues with a Rust encoder (Binance, OKX) is checked, recorded
    # and written by arbcore._core.OrderPath in one call (execution/fast_path.py); "python": every
    # ticket takes the Python path (the same rules; for comparison, or to rule the Rust path out)
    order_path: str = "rust"
    # the CPU the engine's event loop runs on (Linux sched_setaffinity), None: wherever the OS
    # puts it. A core of its own keeps the processes it wakes (another program, a local venue
    # simulator) from taking its CPU between the two legs' writes, and its caches warm
    cpu: int | None = None
    # every this many ms, run the order path's whole decision (the built-in taker's: detection,
    # checks, record, both signed frames) on a made-up ticket and drop it, so the first real
    # ticket after a quiet spell finds it in the caches; 0: off. Below 1 ms only with busy_poll
    # (the loop's timers tick in whole ms; the polling loop runs it when due)
    keep_warm_ms: float = 0
    # with keep_warm_ms: each dry run also writes an order-sized frame on a private loopback
    # WebSocket to this process, so the first leg's write finds the socket path warm too
    # (execution/send_warmer.py); nothing goes to a venue
    warm_sends: bool = False
    # a checkpoint of the ledger in the journal every this many ledger changes (and at a clean
    # stop): a start loads it and replays only the events after it (execution/ledger_checkpoint.py)
    ledger_checkpoint_events: int = 10_000
    # every venue's frames, the books' events and balances, and each read's detections, to this
    # file (gzip JSON lines, arbcore.record); `arbcore replay FILE` runs them through the engine's
    # books and detection again and compares. None: nothing recorded
    record: Path | None = None


@dataclass(frozen=True)
class Config:
    source: str  # path or "<default>"
    run: RunConfig
    assets: Mapping[str, Asset]
    venues: Mapping[str, VenueConfig]
    instruments: tuple[InstrumentConfig, ...]
    risk: RiskConfig
    strategy: StrategyConfig
    execution: ExecutionConfig

    def instrument(self, name: str) -> InstrumentConfig:
        for i in self.instruments:
            if i.name == name:
                return i
        raise KeyError(name)

    @property
    def simulated(self) -> bool:
        """Every venue is simulated (nothing leaves loopback)."""
        return all(v.simulated for v in self.venues.values())

    def balances(self) -> dict[str, dict[str, int]]:
        return {n: dict(v.balances) for n, v in self.venues.items()}

    def summary(self) -> list[str]:
        """What ``check-config`` prints: every setting the engine will trade with, as it reads
        them (fees in bps whatever way the file wrote them), so a reader checks numbers, not text."""
        out = [f"{self.source}: OK"]
        for v in self.venues.values():
            where = "simulated" if v.simulated else shown_url(v.ws_url or "")  # never its credentials
            bal = ", ".join(f"{self.assets[a].format(x)} {a}" for a, x in sorted(v.balances.items()))
            out.append(f"  venue {v.name}: {v.protocol} {where}" + (f"; balances {bal}" if bal else ""))
            if v.sim_faults is not None:
                out.append(f"  sim_faults {v.name}: {v.sim_faults.describe()}")
        for i in self.instruments:
            out.append(
                f"  instrument {i.name}: price_decimals {i.price_decimals}, qty_decimals {i.qty_decimals}; "
                + ", ".join(f"{n}={v.symbol} taker {_bps(v.taker_fee)}" for n, v in i.venues.items())
            )
        r, ex = self.risk, self.execution
        out.append(
            f"  risk: max_order_notional {r.max_order_notional or '-'}, max_ticket_notional "
            f"{r.max_ticket_notional or '-'}, max_daily_loss {r.max_daily_loss or '-'}, "
            f"max_open_tickets {r.max_open_tickets}"
        )
        for name, lim in r.max_position.items():
            per_venue = "-" if lim.per_venue is None else lim.asset.format(lim.per_venue)
            net = "-" if lim.net is None else lim.asset.format(lim.net)
            out.append(f"  max_position {name}: {per_venue} per venue, {net} net")
        out.append(
            f"  circuit breaker: {r.breaker_max_rejects} rejects or {r.breaker_max_errors} errors within "
            f"{r.breaker_window_ms} ms stop a venue for {r.breaker_cooldown_ms} ms"
        )
        out.append(f"  kill file: {r.kill_file or '-'}")
        out.append(f"  record: {self.run.record or '-'}")
        out.append(
            f"  execution: staleness {ex.staleness_ms} ms, leg timeout {ex.leg_timeout_ms} ms, hedge timeout "
            f"{ex.hedge_timeout_ms} ms, loss budget {ex.loss_budget or '-'}, min_edge_bps {ex.min_edge_bps}, "
            f"adopt_balances {ex.adopt_balances}"
        )
        params = ", ".join(f"{k}={v!r}" for k, v in self.strategy.params.items())
        out.append(f"  strategy: {self.strategy.spec}" + (f" ({params})" if params else ""))
        return out


def _bps(fee: Fee) -> str:
    """A fee rate as exact bps text (``0.0026`` and ``26bps`` both read ``26 bps``)."""
    bps = Decimal(fee.rate) * 10_000 / arbcore.FEE_SCALE
    return f"{bps.normalize():f} bps"
