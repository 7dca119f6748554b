"""The runner's configuration: one TOML file, parsed into frozen dataclasses with exact integers.

This module loads the file (or the embedded default), checks it whole (:func:`parse_config`) and
names a live venue's keys in the environment; the dataclasses are in
:mod:`~arbcore.runner.config_model`, the reader of each table in :mod:`~arbcore.runner.config_tables`,
the typed reader of one field in :mod:`~arbcore.runner.config_fields`.

Layout (``examples/default.toml`` is a complete, commented example)::

    [run]            seed, journal, report_dir, dashboard_interval_ms, timer_ms, fsync_intents, busy_poll,
                     order_path, cpu, keep_warm_ms, warm_sends, ledger_checkpoint_events, record (all optional)
    [assets]         ASSET = decimals the ledger keeps it at, e.g. BTC = 8, USDT = 10
    [venues.NAME]    protocol, simulated, ws_url, rest_url, api_key_env, api_secret_env,
                     api_passphrase_env, [venues.NAME.balances] paper balances (ASSET = "decimal"),
                     [venues.NAME.sim_faults] a simulated venue's rehearsed faults
                     (``config_sim_faults.py``; ``examples/rehearsal.toml``)
    [[instruments]]  name "BASE/QUOTE", price_decimals, qty_decimals, sim_mid,
                     [instruments.venues.NAME] symbol, tick, lot, min_qty, min_notional,
                     maker_fee, taker_fee (decimal "0.001" or "10bps")
    [risk]           max_order_notional, max_ticket_notional, max_daily_loss (quote units),
                     max_open_tickets, kill_file, [risk.circuit_breaker] max_rejects, max_errors,
                     window_ms, [risk.max_position.ASSET] per_venue, net
    [strategy]       name (builtin "taker"/"threshold"/"hedger" or "path/to/file.py[:Class]"),
                     [strategy.params] free-form table handed to the plug-in
    [execution]      staleness_ms, leg_timeout_ms, hedge_timeout_ms, loss_budget, min_edge_bps, adopt_balances

Amounts are decimal *strings* (TOML floats are refused: they are not exact). Every value is
checked, every error is collected, and each names its field path and why, e.g.
``instruments[1].venues.okx.tick: "0.00x" is not a decimal``. Secrets never appear here: a
venue names the *environment variables* that hold its keys (:func:`env_errors` checks them).
"""

from __future__ import annotations

import importlib.resources
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from arbcore.errors import ConfigError
from arbcore.runner.config_fields import ErrorCollector, FieldReader
from arbcore.runner.config_model import (
    Config,
    Dec,
    ExecutionConfig,
    Fee,
    InstrumentConfig,
    InstrumentVenue,
    PositionLimit,
    RiskConfig,
    RunConfig,
    StrategyConfig,
    VenueConfig,
)
from arbcore.runner.config_tables import (
    BUILTIN_STRATEGIES,
    PROTOCOLS,
    TOP_KEYS,
    parse_assets,
    parse_execution,
    parse_instruments,
    parse_risk,
    parse_run,
    parse_strategy,
    parse_venues,
)


class ConfigFileError(ConfigError):
    """A configuration that was refused; ``errors`` holds one line per problem, each naming its field."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = list(errors)
        super().__init__(f"{source}: " + "; ".join(self.errors))


# ---- parsing -------------------------------------------------------------------------------


def parse_config(data: Mapping[str, Any], *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Check a parsed TOML document; raises :class:`ConfigFileError` with every problem found."""
    errors = ErrorCollector()
    p = FieldReader(errors)
    base = base_dir or Path.cwd()
    p.unknown(data, TOP_KEYS, "")
    run = parse_run(p, errors, data, base)
    # [assets] and [venues] as written: a name refused there is not reported again where it is used
    assets_t = p.table(data, "assets", "assets", required=True) or {}
    assets = parse_assets(errors, assets_t)
    venues_t = p.table(data, "venues", "venues", required=True) or {}
    if "venues" in data and not venues_t and isinstance(data["venues"], dict):
        errors.add("venues", "no venues")
    venues = parse_venues(p, errors, venues_t, assets, assets_t)
    instruments = parse_instruments(p, errors, data, assets, assets_t, venues, venues_t)
    risk = parse_risk(p, errors, data, assets, assets_t, base)
    strategy = parse_strategy(p, errors, data, base)
    execution = parse_execution(p, errors, data)

    if errors.items:
        raise ConfigFileError(source, errors.items)
    return Config(
        source, run, MappingProxyType(assets), MappingProxyType(venues), tuple(instruments), risk, strategy, execution
    )


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


def host_errors(config: Config) -> list[str]:
    """One line per setting this machine cannot honour: ``run.cpu`` not among the CPUs this
    process may run on (or no way to pin it)."""
    cpu = config.run.cpu
    if cpu is None:
        return []
    if not hasattr(os, "sched_setaffinity"):
        return ["run.cpu: pinning needs Linux (sched_setaffinity)"]
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        return [f"run.cpu: CPU {cpu} is not one this process may use on this machine "
                f"({', '.join(map(str, sorted(allowed)))})"]  # fmt: skip
    return []


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
