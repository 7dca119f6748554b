"""One reader per table of the configuration file ([run], [assets], [venues.NAME],
[[instruments]], [risk], [strategy], [execution]), the fields each table knows, and the values a
field may take; :func:`arbcore.runner.config.parse_config` calls them in the file's order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import arbcore
from arbcore.execution.amounts import Asset
from arbcore.runner.config_fields import ErrorCollector, FieldReader, is_decimal, quoted
from arbcore.runner.config_model import (
    ADOPT_BALANCES,
    ExecutionConfig,
    InstrumentConfig,
    InstrumentVenue,
    PositionLimit,
    RiskConfig,
    RunConfig,
    StrategyConfig,
    VenueConfig,
)
from arbcore.runner.config_sim_faults import parse_sim_faults

PROTOCOLS = ("binance_spot", "binance_usdm", "bybit", "okx", "kraken", "coinbase")
#: protocols whose private API needs a passphrase besides key and secret
PASSPHRASE_PROTOCOLS = frozenset({"okx"})
BUILTIN_STRATEGIES = ("taker", "threshold", "hedger")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def order_url_roles(protocol: str) -> frozenset[str]:
    """The endpoint roles the protocol's order client knows (``LIVE_URLS`` keys)."""
    return frozenset(order_url_kinds(protocol))


def order_url_kinds(protocol: str) -> dict[str, str]:
    """Each endpoint role of the protocol's order client and its kind, "ws" or "http" (its
    production URL's scheme without the s)."""
    from arbcore.venues.orders.registry import ORDER_VENUES

    return {role: url.split("://")[0].removesuffix("s") for role, url in ORDER_VENUES[protocol].live_urls().items()}


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
    "sim_faults",
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
_EXEC_KEYS = {"staleness_ms", "leg_timeout_ms", "hedge_timeout_ms", "loss_budget", "min_edge_bps", "adopt_balances"}
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
    "ledger_checkpoint_events",
    "record",
}
TOP_KEYS = {"run", "assets", "venues", "instruments", "risk", "strategy", "execution"}


def _one_of(
    p: FieldReader, errors: ErrorCollector, table: Mapping[str, Any], field: str, choices: tuple[str, ...]
) -> str:
    """The text at ``field`` (``table.key``) if it is one of ``choices``; else (or absent) the
    first, the default."""
    text = p.string(table, field.rsplit(".", 1)[1], field)
    if text is None:
        return choices[0]
    if text not in choices:
        words = ", ".join(f'"{c}"' for c in choices[:-1]) + f' or "{choices[-1]}"'
        errors.add(field, f"{text!r} must be {words}")
        return choices[0]
    return text


def _rel(base: Path, text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def parse_run(p: FieldReader, errors: ErrorCollector, data: Mapping[str, Any], base: Path) -> RunConfig:
    """[run]; relative paths resolve against ``base``."""
    run_t = p.table(data, "run", "run") or {}
    p.unknown(run_t, _RUN_KEYS, "run")
    run = RunConfig(
        seed=p.integer(run_t, "seed", "run.seed", 1),
        journal=_rel(base, p.string(run_t, "journal", "run.journal")),
        report_dir=_rel(base, p.string(run_t, "report_dir", "run.report_dir")),
        dashboard_interval_ms=p.integer(run_t, "dashboard_interval_ms", "run.dashboard_interval_ms", 1000, lo=50),
        timer_ms=p.integer(run_t, "timer_ms", "run.timer_ms", 1000, lo=10),
        sim_interval_ms=p.integer(run_t, "sim_interval_ms", "run.sim_interval_ms", 20, lo=1),
        fsync_intents=p.boolean(run_t, "fsync_intents", "run.fsync_intents", False),
        busy_poll=p.boolean(run_t, "busy_poll", "run.busy_poll", False),
        order_path=_one_of(p, errors, run_t, "run.order_path", ("rust", "python")),
        cpu=p.integer(run_t, "cpu", "run.cpu", -1, lo=0) if "cpu" in run_t else None,
        keep_warm_ms=p.number(run_t, "keep_warm_ms", "run.keep_warm_ms", 0, lo=0, hi=60_000),
        warm_sends=p.boolean(run_t, "warm_sends", "run.warm_sends", False),
        ledger_checkpoint_events=p.integer(
            run_t, "ledger_checkpoint_events", "run.ledger_checkpoint_events", 10_000, lo=100, hi=10_000_000
        ),
        record=_rel(base, p.string(run_t, "record", "run.record")),
    )
    if run.record is not None and run.record.is_dir():
        errors.add("run.record", f"{quoted(str(run.record))} is a directory, not a file to record to")
    if run.warm_sends and not run.keep_warm_ms:
        errors.add("run.warm_sends", "needs run.keep_warm_ms > 0 (it writes with each dry run)")
    if 0 < run.keep_warm_ms < 1 and not run.busy_poll:
        errors.add("run.keep_warm_ms", f"{run.keep_warm_ms} ms needs run.busy_poll = true (timers tick in whole ms)")
    return run


def parse_assets(errors: ErrorCollector, assets_t: Mapping[str, Any]) -> dict[str, Asset]:
    """[assets] (``assets_t``, the table as written): asset name -> decimals."""
    assets: dict[str, Asset] = {}
    for name, dec in assets_t.items():
        path = f"assets.{name}"
        if not _NAME_RE.match(name):
            errors.add(path, "is not a valid asset name")
        elif isinstance(dec, bool) or not isinstance(dec, int) or not 0 <= dec <= arbcore.MAX_DECIMALS:
            errors.add(path, f"{quoted(dec)} is not a number of decimals 0..{arbcore.MAX_DECIMALS}")
        else:
            assets[name] = Asset(name, dec)
    return assets


def parse_venues(
    p: FieldReader,
    errors: ErrorCollector,
    venues_t: Mapping[str, Any],
    assets: Mapping[str, Asset],
    assets_t: Mapping[str, Any],
) -> dict[str, VenueConfig]:
    """[venues.NAME] (``venues_t``, the table as written), each with its balances in ``assets``."""
    venues: dict[str, VenueConfig] = {}
    for name, vt in venues_t.items():
        path = f"venues.{name}"
        if not _NAME_RE.match(name):
            errors.add(path, "is not a valid venue name (letters, digits, _ . -)")
            continue
        if not isinstance(vt, dict):
            errors.add(path, f"{quoted(vt)} is not a table")
            continue
        p.unknown(vt, _VENUE_KEYS, path)
        protocol = p.string(vt, "protocol", f"{path}.protocol", required=True)
        if protocol is not None and protocol not in PROTOCOLS:
            errors.add(f"{path}.protocol", f"{quoted(protocol)} is not one of {', '.join(PROTOCOLS)}")
            protocol = None
        simulated = p.boolean(vt, "simulated", f"{path}.simulated", False)
        ws_url = p.string(vt, "ws_url", f"{path}.ws_url")
        rest_url = p.string(vt, "rest_url", f"{path}.rest_url")
        envs: dict[str, str | None] = {}
        for k in ("api_key_env", "api_secret_env", "api_passphrase_env"):
            envs[k] = p.string(vt, k, f"{path}.{k}")
            if envs[k] is not None and not _ENV_RE.match(envs[k] or ""):
                errors.add(
                    f"{path}.{k}",
                    f"{quoted(envs[k])} is not an environment variable name (a key itself does not go here)",
                )
                envs[k] = None
        if ws_url is not None and not re.match(r"^wss?://", ws_url):
            errors.add(f"{path}.ws_url", f"{quoted(ws_url)} is not a ws:// or wss:// URL")
        if rest_url is not None and not re.match(r"^https?://", rest_url):
            errors.add(f"{path}.rest_url", f"{quoted(rest_url)} is not an http:// or https:// URL")
        if not simulated:
            if "ws_url" not in vt:
                errors.add(f"{path}.ws_url", "missing (a live venue needs its WebSocket URL; or set simulated = true)")
            for k in ("api_key_env", "api_secret_env"):
                if k not in vt:
                    errors.add(f"{path}.{k}", "missing (the name of the environment variable holding it)")
            if protocol in PASSPHRASE_PROTOCOLS and "api_passphrase_env" not in vt:
                errors.add(f"{path}.api_passphrase_env", f"missing ({protocol} keys have a passphrase)")
        order_urls: dict[str, str] = {}
        roles = order_url_kinds(protocol) if protocol is not None else None
        for role, url in (p.table(vt, "order_urls", f"{path}.order_urls") or {}).items():
            upath = f"{path}.order_urls.{role}"
            # the role's own scheme: a WebSocket role given http:// (or the REST one ws://) passed
            # here and failed the start with a traceback
            kind = roles.get(role) if roles is not None else None
            pattern = r"^(wss?|https?)://" if kind is None else rf"^{kind}s?://"
            if roles is not None and role not in roles:
                errors.add(upath, f"unknown role for {protocol} (one of {', '.join(sorted(roles))})")
            elif not isinstance(url, str) or not re.match(pattern, url):
                what = {"ws": "a ws:// or wss://", "http": "an http:// or https://"}.get(
                    kind or "", "a ws(s):// or http(s)://"
                )
                errors.add(upath, f"{quoted(str(url))} is not {what} URL")
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
        sim_faults = parse_sim_faults(p, errors, vt, path, protocol, simulated, balances)
        if protocol is not None:
            venues[name] = VenueConfig(
                name, protocol, simulated, ws_url, rest_url,
                envs["api_key_env"], envs["api_secret_env"], envs["api_passphrase_env"],
                MappingProxyType(balances), MappingProxyType(order_urls), sim_faults,
            )  # fmt: skip
    return venues


def parse_instruments(  # noqa: PLR0917
    p: FieldReader,
    errors: ErrorCollector,
    data: Mapping[str, Any],
    assets: Mapping[str, Asset],
    assets_t: Mapping[str, Any],
    venues: Mapping[str, VenueConfig],
    venues_t: Mapping[str, Any],
) -> list[InstrumentConfig]:
    """[[instruments]], each on venues of ``venues`` with assets of ``assets``."""
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
    symbols: dict[tuple[str, str], str] = {}  # (venue, its symbol) -> the instrument listing it
    for idx, it in enumerate(inst_list):
        inst = _parse_instrument(p, errors, it, f"instruments[{idx}]", assets, assets_t, venues, venues_t)
        if inst is None:
            continue
        if inst.name in seen_names:
            errors.add(f"instruments[{idx}].name", f"{quoted(inst.name)} is listed twice")
            continue
        seen_names.add(inst.name)
        instruments.append(inst)
        # one venue symbol feeds one book: a second instrument on it would never sync
        for vname, iv in inst.venues.items():
            other = symbols.setdefault((vname, iv.symbol), inst.name)
            if other != inst.name:
                errors.add(f"instruments[{idx}].venues.{vname}.symbol",
                           f"{quoted(iv.symbol)} is already {other}'s symbol on {vname}")  # fmt: skip
    if instruments and not errors.items:
        listed = {v for inst in instruments for v in inst.venues}
        for vname in venues:
            if vname not in listed:
                errors.add(f"venues.{vname}", "no instrument lists it (list one on it, or remove the venue)")
    return instruments


def _parse_instrument(  # noqa: PLR0917
    p: FieldReader,
    errors: ErrorCollector,
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
            errors.add(f"{path}.name", f"{quoted(name)} is not BASE/QUOTE")
        else:
            for part, label in zip(parts, ("base", "quote"), strict=True):
                if part not in assets and part not in assets_t:
                    errors.add(f"{path}.name", f"{label} asset {part} is not in [assets]")
            base, quote = assets.get(parts[0]), assets.get(parts[1])
            if parts[0] == parts[1]:
                errors.add(f"{path}.name", f"{quoted(name)}: base and quote are the same asset")
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
            errors.add(vpath, f"{quoted(vt)} is not a table")
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
            errors.add(f"{vpath}.taker_fee", f"{quoted(taker.text)}: a taker rebate is not supported")
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


def parse_risk(  # noqa: PLR0917
    p: FieldReader,
    errors: ErrorCollector,
    data: Mapping[str, Any],
    assets: Mapping[str, Asset],
    assets_t: Mapping[str, Any],
    base: Path,
) -> RiskConfig:
    """[risk]; the kill file's path resolves against ``base``."""
    risk_t = p.table(data, "risk", "risk") or {}
    p.unknown(risk_t, _RISK_KEYS, "risk")
    breaker_t = p.table(risk_t, "circuit_breaker", "risk.circuit_breaker") or {}
    p.unknown(breaker_t, {"max_rejects", "max_errors", "window_ms", "cooldown_ms"}, "risk.circuit_breaker")
    positions: dict[str, PositionLimit] = {}
    for asset_name, lim in (p.table(risk_t, "max_position", "risk.max_position") or {}).items():
        lpath = f"risk.max_position.{asset_name}"
        asset = assets.get(asset_name)
        if asset is None:
            if asset_name not in assets_t:
                errors.add(lpath, "unknown asset (add it to [assets])")
            continue
        if not isinstance(lim, dict):
            errors.add(lpath, f'{quoted(lim)} is not a table (per_venue = "...", net = "...")')
            continue
        p.unknown(lim, {"per_venue", "net"}, lpath)
        per_venue = p.limit(lim, "per_venue", f"{lpath}.per_venue", asset.decimals)
        net = p.limit(lim, "net", f"{lpath}.net", asset.decimals)
        positions[asset_name] = PositionLimit(asset, per_venue, net)
    kill = p.string(risk_t, "kill_file", "risk.kill_file")
    return RiskConfig(
        max_order_notional=p.dec(risk_t, "max_order_notional", "risk.max_order_notional"),
        max_ticket_notional=p.dec(risk_t, "max_ticket_notional", "risk.max_ticket_notional"),
        max_daily_loss=p.dec(risk_t, "max_daily_loss", "risk.max_daily_loss"),
        max_open_tickets=p.integer(risk_t, "max_open_tickets", "risk.max_open_tickets", 4, lo=1),
        max_position=MappingProxyType(positions),
        breaker_max_rejects=p.integer(breaker_t, "max_rejects", "risk.circuit_breaker.max_rejects", 5, lo=1),
        breaker_max_errors=p.integer(breaker_t, "max_errors", "risk.circuit_breaker.max_errors", 10, lo=1),
        breaker_window_ms=p.integer(breaker_t, "window_ms", "risk.circuit_breaker.window_ms", 60_000, lo=1),
        breaker_cooldown_ms=p.integer(breaker_t, "cooldown_ms", "risk.circuit_breaker.cooldown_ms", 30_000, lo=1),
        kill_file=_rel(base, kill),
    )


def parse_strategy(p: FieldReader, errors: ErrorCollector, data: Mapping[str, Any], base: Path) -> StrategyConfig:
    """[strategy]; a plug-in's relative path resolves against ``base``."""
    strat_t = p.table(data, "strategy", "strategy") or {}
    p.unknown(strat_t, {"name", "params"}, "strategy")
    spec = p.string(strat_t, "name", "strategy.name") or "taker"
    if ".py" not in spec and spec.split(":", 1)[0] not in BUILTIN_STRATEGIES:
        errors.add(
            "strategy.name",
            f"{quoted(spec)} is neither a builtin ({', '.join(BUILTIN_STRATEGIES)}) nor a path/to/file.py[:Class]",
        )
    params = p.table(strat_t, "params", "strategy.params") or {}
    return StrategyConfig(spec, MappingProxyType(dict(params)), base)


def parse_execution(p: FieldReader, errors: ErrorCollector, data: Mapping[str, Any]) -> ExecutionConfig:
    """[execution]"""
    ex_t = p.table(data, "execution", "execution") or {}
    p.unknown(ex_t, _EXEC_KEYS, "execution")
    edge_text = p.decimal_text(ex_t.get("min_edge_bps", "1"), "execution.min_edge_bps") or "1"
    if not is_decimal(edge_text):
        errors.add("execution.min_edge_bps", f"{quoted(edge_text)} is not a decimal")
        edge_text = "1"
    return ExecutionConfig(
        staleness_ms=p.integer(ex_t, "staleness_ms", "execution.staleness_ms", 2000, lo=1),
        leg_timeout_ms=p.integer(ex_t, "leg_timeout_ms", "execution.leg_timeout_ms", 2000, lo=1),
        hedge_timeout_ms=p.integer(ex_t, "hedge_timeout_ms", "execution.hedge_timeout_ms", 5000, lo=1),
        loss_budget=p.dec(ex_t, "loss_budget", "execution.loss_budget"),
        min_edge_bps=edge_text,
        adopt_balances=_one_of(p, errors, ex_t, "execution.adopt_balances", ADOPT_BALANCES),
    )


__all__ = [
    "BUILTIN_STRATEGIES",
    "PASSPHRASE_PROTOCOLS",
    "PROTOCOLS",
    "TOP_KEYS",
    "order_url_kinds",
    "order_url_roles",
    "parse_assets",
    "parse_execution",
    "parse_instruments",
    "parse_risk",
    "parse_run",
    "parse_strategy",
    "parse_venues",
]
