"""The runner's configuration: one TOML file, parsed into frozen dataclasses with exact integers.

Layout (``examples/default.toml`` is a complete, commented example)::

    [run]            seed, journal, report_dir, dashboard_interval_ms, timer_ms, fsync_intents, busy_poll,
                     order_path, cpu, keep_warm_ms, warm_sends (all optional)
    [assets]         ASSET = decimals the ledger keeps it at, e.g. BTC = 8, USDT = 10
    [venues.NAME]    protocol, simulated, ws_url, rest_url, api_key_env, api_secret_env,
                     api_passphrase_env, [venues.NAME.balances] paper balances (ASSET = "decimal")
    [[instruments]]  name "BASE/QUOTE", price_decimals, qty_decimals, sim_mid,
                     [instruments.venues.NAME] symbol, tick, lot, min_qty, min_notional,
                     maker_fee, taker_fee (decimal "0.001" or "10bps")
    [risk]           max_order_notional, max_ticket_notional, max_daily_loss (quote units),
                     max_open_tickets, kill_file, [risk.circuit_breaker] max_rejects, max_errors,
                     window_ms, [risk.max_position.ASSET] per_venue, net
    [strategy]       name (builtin "taker"/"threshold"/"hedger" or "path/to/file.py[:Class]"),
                     [strategy.params] free-form table handed to the plug-in
    [execution]      staleness_ms, leg_timeout_ms, hedge_timeout_ms, loss_budget, min_edge_bps

Amounts are decimal *strings* (TOML floats are refused: they are not exact). Every value is
checked, every error is collected, and each names its field path and why, e.g.
``instruments[1].venues.okx.tick: "0.00x" is not a decimal``. Secrets never appear here: a
venue names the *environment variables* that hold its keys (:func:`env_errors` checks them).
"""

from __future__ import annotations

import importlib.resources
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import arbcore
from arbcore.errors import ConfigError
from arbcore.execution.amounts import Asset, Rounding, rescale

PROTOCOLS = ("binance_spot", "binance_usdm", "bybit", "okx", "kraken", "coinbase")
#: protocols whose private API needs a passphrase besides key and secret
PASSPHRASE_PROTOCOLS = frozenset({"okx"})
BUILTIN_STRATEGIES = ("taker", "threshold", "hedger")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FEE_DECIMALS = 8  # arbcore.FEE_SCALE == 10**8


class ConfigFileError(ConfigError):
    """A configuration that was refused; ``errors`` holds one line per problem, each naming its field."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = list(errors)
        super().__init__(f"{source}: " + "; ".join(self.errors))


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
    kill_file: Path | None


@dataclass(frozen=True)
class StrategyConfig:
    spec: str  # builtin name or "path/to/file.py[:Class]"
    params: Mapping[str, Any]
    base_dir: Path  # relative plug-in paths resolve against the config file's directory


@dataclass(frozen=True)
class ExecutionConfig:
    staleness_ms: int  # a book older than this is STALE: no opportunities from it
    leg_timeout_ms: int  # an order without a final answer by then is queried / cancelled
    hedge_timeout_ms: int  # a one-legged ticket must be flat by then
    loss_budget: Dec | None  # quote units a hedge may lose to flatten a ticket
    min_edge_bps: str  # detection's minimum edge net of fees (decimal text)


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
        """A few lines for ``check-config``: venues, instruments, risk, strategy."""
        out = [f"{self.source}: OK"]
        for v in self.venues.values():
            where = "simulated" if v.simulated else (v.ws_url or "")
            bal = ", ".join(f"{self.assets[a].format(x)} {a}" for a, x in sorted(v.balances.items()))
            out.append(f"  venue {v.name}: {v.protocol} {where}" + (f"; balances {bal}" if bal else ""))
        for i in self.instruments:
            out.append(
                f"  instrument {i.name}: price_decimals {i.price_decimals}, qty_decimals {i.qty_decimals}; "
                + ", ".join(f"{n}={v.symbol} taker {v.taker_fee.text}" for n, v in i.venues.items())
            )
        r = self.risk
        out.append(
            f"  risk: max_order_notional {r.max_order_notional or '-'}, max_ticket_notional "
            f"{r.max_ticket_notional or '-'}, max_daily_loss {r.max_daily_loss or '-'}, "
            f"max_open_tickets {r.max_open_tickets}"
        )
        params = ", ".join(f"{k}={v!r}" for k, v in self.strategy.params.items())
        out.append(f"  strategy: {self.strategy.spec}" + (f" ({params})" if params else ""))
        return out


# ---- parsing -------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, why: str) -> None:
        self.items.append(f"{path}: {why}")


def _q(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)


class _Parser:
    def __init__(self, errors: _Errors) -> None:
        self.e = errors

    # generic readers: each returns None (after recording an error) when the value is unusable

    def table(self, d: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
        if key not in d:
            if required:
                self.e.add(path, "missing (a table is required)")
            return None
        v = d[key]
        if not isinstance(v, dict):
            self.e.add(path, f"{_q(v)} is not a table")
            return None
        return v

    def unknown(self, d: Mapping[str, Any], known: set[str], path: str) -> None:
        for k in d:
            if k not in known:
                self.e.add(f"{path}.{k}" if path else k, f"unknown field (known: {', '.join(sorted(known))})")

    def string(self, d: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        if key not in d:
            if required:
                self.e.add(path, "missing")
            return None
        v = d[key]
        if not isinstance(v, str) or not v.strip():
            self.e.add(path, f"{_q(v)} is not a non-empty string")
            return None
        return v

    def integer(
        self, d: Mapping[str, Any], key: str, path: str, default: int, *, lo: int = 0, hi: int | None = None
    ) -> int:
        if key not in d:
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int):
            self.e.add(path, f"{_q(v)} is not an integer")
            return default
        if v < lo or (hi is not None and v > hi):
            self.e.add(path, f"{v} is outside {lo}..{hi if hi is not None else 'inf'}")
            return default
        return v

    def number(self, d: Mapping[str, Any], key: str, path: str, default: float, *, lo: float, hi: float) -> float:
        """An int or a float (a setting, not an amount: amounts are decimal strings)."""
        if key not in d:
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.e.add(path, f"{_q(v)} is not a number")
            return default
        if not lo <= v <= hi:  # (NaN fails too)
            self.e.add(path, f"{v} is outside {lo}..{hi}")
            return default
        return v

    def boolean(self, d: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            self.e.add(path, f"{_q(v)} is not true or false")
            return default
        return v

    def decimal_text(self, v: object, path: str) -> str | None:
        if isinstance(v, bool | float):
            self.e.add(path, f'{v!r} is a TOML float; write amounts as strings, e.g. "{v}"')
            return None
        if isinstance(v, int):
            v = str(v)
        if not isinstance(v, str):
            self.e.add(path, f"{_q(v)} is not a decimal")
            return None
        return v.strip()

    def amount(self, v: object, path: str, decimals: int, *, positive: bool = False) -> int | None:
        """Decimal text at ``decimals``, exactly."""
        text = self.decimal_text(v, path)
        if text is None:
            return None
        if not _is_decimal(text):
            self.e.add(path, f"{_q(text)} is not a decimal")
            return None
        try:
            raw = arbcore.parse_decimal(text, decimals)
        except (ValueError, OverflowError):
            frac = text.split(".", 1)[1] if "." in text else ""
            if len(frac.rstrip("0")) > decimals:
                self.e.add(path, f"{_q(text)} has more than {decimals} decimals")
            else:
                self.e.add(path, f"{_q(text)} is out of range at {decimals} decimals")
            return None
        if positive and raw <= 0:
            self.e.add(path, f"{_q(text)} must be positive")
            return None
        return raw

    def dec(self, d: Mapping[str, Any], key: str, path: str, *, positive: bool = True) -> Dec | None:
        if key not in d:
            return None
        text = self.decimal_text(d[key], path)
        if text is None:
            return None
        if not _is_decimal(text):
            self.e.add(path, f"{_q(text)} is not a decimal")
            return None
        frac = text.split(".", 1)[1] if "." in text else ""
        decimals = len(frac)
        if decimals > arbcore.MAX_DECIMALS:
            self.e.add(path, f"{_q(text)} has more than {arbcore.MAX_DECIMALS} decimals")
            return None
        value = int(text.replace(".", "") or "0")
        if positive and value <= 0:
            self.e.add(path, f"{_q(text)} must be positive")
            return None
        return Dec(value, decimals, text)

    def fee(self, d: Mapping[str, Any], key: str, path: str) -> Fee:
        if key not in d:
            return Fee(0, "0")
        text = self.decimal_text(d[key], path)
        if text is None:
            return Fee(0, "0")
        neg = text.startswith("-")
        body = text[1:].strip() if neg else text
        bps = body.lower().endswith("bps")
        number = body[:-3].strip() if bps else body
        if not _is_decimal(number):
            self.e.add(path, f'{_q(text)} is not a fee (a decimal such as "0.001" or basis points such as "10bps")')
            return Fee(0, "0")
        try:
            rate = arbcore.parse_decimal(number, _FEE_DECIMALS - 4 if bps else _FEE_DECIMALS)
        except (ValueError, OverflowError):
            self.e.add(path, f"{_q(text)} is finer than 1e-8 (the fee scale)")
            return Fee(0, "0")
        if rate >= arbcore.FEE_SCALE:
            self.e.add(path, f"{_q(text)} is 100% or more")
            return Fee(0, "0")
        return Fee(-rate if neg else rate, f"{number}bps" if bps else number if not neg else "-" + number)


_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$")


def order_url_roles(protocol: str) -> frozenset[str]:
    """The endpoint roles the protocol's order client knows (``LIVE_URLS`` keys)."""
    from arbcore.venues.orders.registry import ORDER_VENUES

    return frozenset(ORDER_VENUES[protocol].live_urls())


def _is_decimal(text: str) -> bool:
    return bool(_DECIMAL_RE.match(text))


_VENUE_KEYS = {
    "protocol",
    "simulated",
    "ws_url",
    "rest_url",
    "api_key_env",
    "api_secret_env",
    "api_passphrase_env",
    "balances",
    "order_urls",
}
_INST_KEYS = {"name", "price_decimals", "qty_decimals", "sim_mid", "venues"}
_INST_VENUE_KEYS = {"symbol", "tick", "lot", "min_qty", "min_notional", "maker_fee", "taker_fee"}
_RISK_KEYS = {
    "max_order_notional",
    "max_ticket_notional",
    "max_daily_loss",
    "max_open_tickets",
    "max_position",
    "circuit_breaker",
    "kill_file",
}
_EXEC_KEYS = {"staleness_ms", "leg_timeout_ms", "hedge_timeout_ms", "loss_budget", "min_edge_bps"}
_RUN_KEYS = {
    "seed",
    "journal",
    "report_dir",
    "dashboard_interval_ms",
    "timer_ms",
    "sim_interval_ms",
    "fsync_intents",
    "busy_poll",
    "order_path",
    "cpu",
    "keep_warm_ms",
    "warm_sends",
}
_TOP_KEYS = {"run", "assets", "venues", "instruments", "risk", "strategy", "execution"}


def _order_path(text: str | None, errors: _Errors) -> str:
    if text is None:
        return "rust"
    if text not in ("rust", "python"):
        errors.add("run.order_path", f'{text!r} must be "rust" or "python"')
        return "rust"
    return text


def parse_config(data: Mapping[str, Any], *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Check a parsed TOML document; raises :class:`ConfigFileError` with every problem found."""
    errors = _Errors()
    p = _Parser(errors)
    base = base_dir or Path.cwd()
    p.unknown(data, _TOP_KEYS, "")

    def rel(text: str | None) -> Path | None:
        if text is None:
            return None
        path = Path(text).expanduser()
        return path if path.is_absolute() else base / path

    # [run]
    run_t = p.table(data, "run", "run") or {}
    p.unknown(run_t, _RUN_KEYS, "run")
    run = RunConfig(
        seed=p.integer(run_t, "seed", "run.seed", 1),
        journal=rel(p.string(run_t, "journal", "run.journal")),
        report_dir=rel(p.string(run_t, "report_dir", "run.report_dir")),
        dashboard_interval_ms=p.integer(run_t, "dashboard_interval_ms", "run.dashboard_interval_ms", 1000, lo=50),
        timer_ms=p.integer(run_t, "timer_ms", "run.timer_ms", 1000, lo=10),
        sim_interval_ms=p.integer(run_t, "sim_interval_ms", "run.sim_interval_ms", 20, lo=1),
        fsync_intents=p.boolean(run_t, "fsync_intents", "run.fsync_intents", False),
        busy_poll=p.boolean(run_t, "busy_poll", "run.busy_poll", False),
        order_path=_order_path(p.string(run_t, "order_path", "run.order_path"), errors),
        cpu=p.integer(run_t, "cpu", "run.cpu", -1, lo=0) if "cpu" in run_t else None,
        keep_warm_ms=p.number(run_t, "keep_warm_ms", "run.keep_warm_ms", 0, lo=0, hi=60_000),
        warm_sends=p.boolean(run_t, "warm_sends", "run.warm_sends", False),
    )
    if run.warm_sends and not run.keep_warm_ms:
        errors.add("run.warm_sends", "needs run.keep_warm_ms > 0 (it writes with each dry run)")
    if 0 < run.keep_warm_ms < 1 and not run.busy_poll:
        errors.add("run.keep_warm_ms", f"{run.keep_warm_ms} ms needs run.busy_poll = true (timers tick in whole ms)")

    # [assets]
    assets: dict[str, Asset] = {}
    assets_t = p.table(data, "assets", "assets", required=True) or {}
    for name, dec in assets_t.items():
        path = f"assets.{name}"
        if not _NAME_RE.match(name):
            errors.add(path, "is not a valid asset name")
        elif isinstance(dec, bool) or not isinstance(dec, int) or not 0 <= dec <= arbcore.MAX_DECIMALS:
            errors.add(path, f"{_q(dec)} is not a number of decimals 0..{arbcore.MAX_DECIMALS}")
        else:
            assets[name] = Asset(name, dec)

    # [venues.NAME]
    venues: dict[str, VenueConfig] = {}
    venues_t = p.table(data, "venues", "venues", required=True) or {}
    if "venues" in data and not venues_t and isinstance(data["venues"], dict):
        errors.add("venues", "no venues")
    for name, vt in venues_t.items():
        path = f"venues.{name}"
        if not _NAME_RE.match(name):
            errors.add(path, "is not a valid venue name (letters, digits, _ . -)")
            continue
        if not isinstance(vt, dict):
            errors.add(path, f"{_q(vt)} is not a table")
            continue
        p.unknown(vt, _VENUE_KEYS, path)
        protocol = p.string(vt, "protocol", f"{path}.protocol", required=True)
        if protocol is not None and protocol not in PROTOCOLS:
            errors.add(f"{path}.protocol", f"{_q(protocol)} is not one of {', '.join(PROTOCOLS)}")
            protocol = None
        simulated = p.boolean(vt, "simulated", f"{path}.simulated", False)
        ws_url = p.string(vt, "ws_url", f"{path}.ws_url")
        rest_url = p.string(vt, "rest_url", f"{path}.rest_url")
        envs: dict[str, str | None] = {}
        for k in ("api_key_env", "api_secret_env", "api_passphrase_env"):
            envs[k] = p.string(vt, k, f"{path}.{k}")
            if envs[k] is not None and not _ENV_RE.match(envs[k] or ""):
                errors.add(
                    f"{path}.{k}", f"{_q(envs[k])} is not an environment variable name (a key itself does not go here)"
                )
                envs[k] = None
        if ws_url is not None and not re.match(r"^wss?://", ws_url):
            errors.add(f"{path}.ws_url", f"{_q(ws_url)} is not a ws:// or wss:// URL")
        if rest_url is not None and not re.match(r"^https?://", rest_url):
            errors.add(f"{path}.rest_url", f"{_q(rest_url)} is not an http:// or https:// URL")
        if not simulated:
            if "ws_url" not in vt:
                errors.add(f"{path}.ws_url", "missing (a live venue needs its WebSocket URL; or set simulated = true)")
            for k in ("api_key_env", "api_secret_env"):
                if k not in vt:
                    errors.add(f"{path}.{k}", "missing (the name of the environment variable holding it)")
            if protocol in PASSPHRASE_PROTOCOLS and "api_passphrase_env" not in vt:
                errors.add(f"{path}.api_passphrase_env", f"missing ({protocol} keys have a passphrase)")
        order_urls: dict[str, str] = {}
        roles = order_url_roles(protocol) if protocol is not None else None
        for role, url in (p.table(vt, "order_urls", f"{path}.order_urls") or {}).items():
            upath = f"{path}.order_urls.{role}"
            if roles is not None and role not in roles:
                errors.add(upath, f"unknown role for {protocol} (one of {', '.join(sorted(roles))})")
            elif not isinstance(url, str) or not re.match(r"^(wss?|https?)://", url):
                errors.add(upath, f"{_q(str(url))} is not a ws(s):// or http(s):// URL")
            else:
                order_urls[role] = url
        balances: dict[str, int] = {}
        bal_t = p.table(vt, "balances", f"{path}.balances") or {}
        for asset_name, amount in bal_t.items():
            bpath = f"{path}.balances.{asset_name}"
            asset = assets.get(asset_name)
            if asset is None:
                if asset_name not in assets_t:
                    errors.add(bpath, "unknown asset (add it to [assets])")
                continue
            raw = p.amount(amount, bpath, asset.decimals)
            if raw is not None:
                balances[asset_name] = raw
        if protocol is not None:
            venues[name] = VenueConfig(
                name, protocol, simulated, ws_url, rest_url,
                envs["api_key_env"], envs["api_secret_env"], envs["api_passphrase_env"],
                MappingProxyType(balances), MappingProxyType(order_urls),
            )  # fmt: skip

    # [[instruments]]
    instruments: list[InstrumentConfig] = []
    inst_list = data.get("instruments")
    if inst_list is None:
        errors.add("instruments", "missing (at least one [[instruments]] is required)")
        inst_list = []
    elif not isinstance(inst_list, list) or not all(isinstance(x, dict) for x in inst_list):
        errors.add("instruments", "is not an array of tables ([[instruments]])")
        inst_list = []
    elif not inst_list:
        errors.add("instruments", "no instruments")
    seen_names: set[str] = set()
    for idx, it in enumerate(inst_list):
        inst = _parse_instrument(p, errors, it, f"instruments[{idx}]", assets, assets_t, venues, venues_t)
        if inst is None:
            continue
        if inst.name in seen_names:
            errors.add(f"instruments[{idx}].name", f"{_q(inst.name)} is listed twice")
            continue
        seen_names.add(inst.name)
        instruments.append(inst)

    # [risk]
    risk_t = p.table(data, "risk", "risk") or {}
    p.unknown(risk_t, _RISK_KEYS, "risk")
    breaker_t = p.table(risk_t, "circuit_breaker", "risk.circuit_breaker") or {}
    p.unknown(breaker_t, {"max_rejects", "max_errors", "window_ms"}, "risk.circuit_breaker")
    positions: dict[str, PositionLimit] = {}
    for asset_name, lim in (p.table(risk_t, "max_position", "risk.max_position") or {}).items():
        lpath = f"risk.max_position.{asset_name}"
        asset = assets.get(asset_name)
        if asset is None:
            if asset_name not in assets_t:
                errors.add(lpath, "unknown asset (add it to [assets])")
            continue
        if not isinstance(lim, dict):
            errors.add(lpath, f'{_q(lim)} is not a table (per_venue = "...", net = "...")')
            continue
        p.unknown(lim, {"per_venue", "net"}, lpath)
        per_venue = p.amount(lim["per_venue"], f"{lpath}.per_venue", asset.decimals) if "per_venue" in lim else None
        net = p.amount(lim["net"], f"{lpath}.net", asset.decimals) if "net" in lim else None
        positions[asset_name] = PositionLimit(asset, per_venue, net)
    kill = p.string(risk_t, "kill_file", "risk.kill_file")
    risk = RiskConfig(
        max_order_notional=p.dec(risk_t, "max_order_notional", "risk.max_order_notional"),
        max_ticket_notional=p.dec(risk_t, "max_ticket_notional", "risk.max_ticket_notional"),
        max_daily_loss=p.dec(risk_t, "max_daily_loss", "risk.max_daily_loss"),
        max_open_tickets=p.integer(risk_t, "max_open_tickets", "risk.max_open_tickets", 4, lo=1),
        max_position=MappingProxyType(positions),
        breaker_max_rejects=p.integer(breaker_t, "max_rejects", "risk.circuit_breaker.max_rejects", 5, lo=1),
        breaker_max_errors=p.integer(breaker_t, "max_errors", "risk.circuit_breaker.max_errors", 10, lo=1),
        breaker_window_ms=p.integer(breaker_t, "window_ms", "risk.circuit_breaker.window_ms", 60_000, lo=1),
        kill_file=rel(kill),
    )

    # [strategy]
    strat_t = p.table(data, "strategy", "strategy") or {}
    p.unknown(strat_t, {"name", "params"}, "strategy")
    spec = p.string(strat_t, "name", "strategy.name") or "taker"
    if ".py" not in spec and spec.split(":", 1)[0] not in BUILTIN_STRATEGIES:
        errors.add(
            "strategy.name",
            f"{_q(spec)} is neither a builtin ({', '.join(BUILTIN_STRATEGIES)}) nor a path/to/file.py[:Class]",
        )
    params = p.table(strat_t, "params", "strategy.params") or {}
    strategy = StrategyConfig(spec, MappingProxyType(dict(params)), base)

    # [execution]
    ex_t = p.table(data, "execution", "execution") or {}
    p.unknown(ex_t, _EXEC_KEYS, "execution")
    edge_text = p.decimal_text(ex_t.get("min_edge_bps", "1"), "execution.min_edge_bps") or "1"
    if not _is_decimal(edge_text):
        errors.add("execution.min_edge_bps", f"{_q(edge_text)} is not a decimal")
        edge_text = "1"
    execution = ExecutionConfig(
        staleness_ms=p.integer(ex_t, "staleness_ms", "execution.staleness_ms", 2000, lo=1),
        leg_timeout_ms=p.integer(ex_t, "leg_timeout_ms", "execution.leg_timeout_ms", 2000, lo=1),
        hedge_timeout_ms=p.integer(ex_t, "hedge_timeout_ms", "execution.hedge_timeout_ms", 5000, lo=1),
        loss_budget=p.dec(ex_t, "loss_budget", "execution.loss_budget"),
        min_edge_bps=edge_text,
    )

    if errors.items:
        raise ConfigFileError(source, errors.items)
    return Config(
        source, run, MappingProxyType(assets), MappingProxyType(venues), tuple(instruments), risk, strategy, execution
    )


def _parse_instrument(  # noqa: PLR0917
    p: _Parser,
    errors: _Errors,
    it: Mapping[str, Any],
    path: str,
    assets: Mapping[str, Asset],
    assets_t: Mapping[str, Any],
    venues: Mapping[str, VenueConfig],
    venues_t: Mapping[str, Any],
) -> InstrumentConfig | None:
    p.unknown(it, _INST_KEYS, path)
    n0 = len(errors.items)
    name = p.string(it, "name", f"{path}.name", required=True)
    base = quote = None
    if name is not None:
        parts = name.split("/")
        if len(parts) != 2 or not all(parts):
            errors.add(f"{path}.name", f"{_q(name)} is not BASE/QUOTE")
        else:
            for part, label in zip(parts, ("base", "quote"), strict=True):
                if part not in assets and part not in assets_t:
                    errors.add(f"{path}.name", f"{label} asset {part} is not in [assets]")
            base, quote = assets.get(parts[0]), assets.get(parts[1])
    pd = p.integer(it, "price_decimals", f"{path}.price_decimals", -1, hi=arbcore.MAX_DECIMALS)
    qd = p.integer(it, "qty_decimals", f"{path}.qty_decimals", -1, hi=arbcore.MAX_DECIMALS)
    for k in ("price_decimals", "qty_decimals"):
        if k not in it:
            errors.add(f"{path}.{k}", "missing")
    if pd >= 0 and qd >= 0 and pd + qd > arbcore.MAX_DECIMALS:
        errors.add(f"{path}", f"price_decimals + qty_decimals = {pd + qd} exceeds {arbcore.MAX_DECIMALS}")
        pd = qd = -1
    if base is not None and qd >= 0 and base.decimals < qd:
        errors.add(f"{path}.qty_decimals", f"{qd} is finer than asset {base.name}'s {base.decimals} decimals")
    if quote is not None and pd >= 0 and qd >= 0 and quote.decimals < pd + qd:
        errors.add(
            f"{path}.price_decimals",
            f"notionals need {pd + qd} decimals but asset {quote.name} keeps {quote.decimals} "
            f"(raise assets.{quote.name} so fills convert exactly)",
        )
    sim_mid = None
    if "sim_mid" in it and pd >= 0:
        sim_mid = p.amount(it["sim_mid"], f"{path}.sim_mid", pd, positive=True)
    iv_t = p.table(it, "venues", f"{path}.venues", required=True) or {}
    if "venues" in it and isinstance(it["venues"], dict) and len(iv_t) < 1:
        errors.add(f"{path}.venues", "no venues list this instrument")
    ivs: dict[str, InstrumentVenue] = {}
    sim_mid_missing = False
    for vname, vt in iv_t.items():
        vpath = f"{path}.venues.{vname}"
        if vname not in venues and vname not in venues_t:
            errors.add(vpath, "is not a venue in [venues]")
            continue
        if not isinstance(vt, dict):
            errors.add(vpath, f"{_q(vt)} is not a table")
            continue
        p.unknown(vt, _INST_VENUE_KEYS, vpath)
        v = venues.get(vname)
        if v is not None and v.simulated and "sim_mid" not in it and not sim_mid_missing:
            errors.add(f"{path}.sim_mid", f"missing (simulated venue {vname} lists this instrument)")
            sim_mid_missing = True
        symbol = p.string(vt, "symbol", f"{vpath}.symbol", required=True)
        for k in ("tick", "lot"):
            if k not in vt:
                errors.add(f"{vpath}.{k}", "missing")
        if pd < 0 or qd < 0:
            continue
        tick = p.amount(vt["tick"], f"{vpath}.tick", pd, positive=True) if "tick" in vt else None
        lot = p.amount(vt["lot"], f"{vpath}.lot", qd, positive=True) if "lot" in vt else None
        min_qty = p.amount(vt.get("min_qty", "0"), f"{vpath}.min_qty", qd)
        min_notional = p.amount(vt.get("min_notional", "0"), f"{vpath}.min_notional", pd + qd)
        maker = p.fee(vt, "maker_fee", f"{vpath}.maker_fee")
        taker = p.fee(vt, "taker_fee", f"{vpath}.taker_fee")
        if taker.rate < 0:
            errors.add(f"{vpath}.taker_fee", f"{_q(taker.text)}: a taker rebate is not supported")
        if symbol is None or tick is None or lot is None or min_qty is None or min_notional is None:
            continue
        ivs[vname] = InstrumentVenue(
            vname, symbol, tick, lot, min_qty, min_notional, maker, taker,
            _text(vt["tick"]), _text(vt["lot"]), _text(vt.get("min_qty", "0")), _text(vt.get("min_notional", "0")),
        )  # fmt: skip
    if len(errors.items) > n0 or name is None or base is None or quote is None:
        return None
    return InstrumentConfig(name, base, quote, pd, qd, MappingProxyType(ivs), sim_mid)


def _text(v: object) -> str:
    return str(v).strip()


# ---- loading -------------------------------------------------------------------------------


def parse_toml(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigFileError(source, [f"not valid TOML: {e}"]) from None
    return parse_config(data, source=source, base_dir=base_dir)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML file; raises :class:`ConfigFileError` (also for a missing or unreadable file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(str(p), ["no such file"]) from None
    except IsADirectoryError:
        raise ConfigFileError(str(p), ["is a directory, not a TOML file"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigFileError(
            str(p), [f"cannot read: {type(e).__name__}: {getattr(e, 'strerror', None) or e}"]
        ) from None
    return parse_toml(text, source=str(p), base_dir=p.resolve().parent)


def default_config_text() -> str:
    """The embedded default configuration (``examples/default.toml``, shipped in the package)."""
    return importlib.resources.files("arbcore.runner").joinpath("default.toml").read_text(encoding="utf-8")


def load_default() -> Config:
    """The embedded default: simulated venues only, paper balances, the builtin taker strategy.
    Relative paths in it (journal, report_dir) resolve against the current directory."""
    return parse_toml(default_config_text(), source="<default>", base_dir=Path.cwd())


def env_errors(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per key variable a live venue names that is unset or empty. Names only, never values."""
    env = os.environ if environ is None else environ
    out = []
    for v in config.venues.values():
        if v.simulated:
            continue
        for k in ("api_key_env", "api_secret_env", "api_passphrase_env"):
            var = getattr(v, k)
            if var is None:
                continue
            value = env.get(var)
            if value is None:
                out.append(f"venues.{v.name}.{k}: environment variable {var} is not set")
            elif not value.strip():
                out.append(f"venues.{v.name}.{k}: environment variable {var} is empty")
    return out


def credentials_for(config: Config, venue: str, environ: Mapping[str, str] | None = None) -> Any:
    """The venue's :class:`arbcore.venues.signing.credentials.Credentials` from the variables it names
    (``CredentialsError`` naming the variable when one is missing); None for a simulated venue."""
    from arbcore.venues.signing.credentials import Credentials

    v = config.venues[venue]
    if v.simulated or v.api_key_env is None or v.api_secret_env is None:
        return None
    return Credentials.from_env(v.api_key_env, v.api_secret_env, v.api_passphrase_env, environ=environ)


__all__ = [
    "BUILTIN_STRATEGIES",
    "PROTOCOLS",
    "Config",
    "ConfigFileError",
    "Dec",
    "ExecutionConfig",
    "Fee",
    "InstrumentConfig",
    "InstrumentVenue",
    "PositionLimit",
    "RiskConfig",
    "RunConfig",
    "StrategyConfig",
    "VenueConfig",
    "credentials_for",
    "default_config_text",
    "env_errors",
    "load_config",
    "load_default",
    "parse_config",
    "parse_toml",
]
