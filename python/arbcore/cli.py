"""The ``arbcore`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: `--venue` names: the feed-client specs of `arbcore.venues.CLIENT_SPECS` (one per protocol;
#: Binance is two, spot and USD-M). A recording names its feeds by them, `replay --venue` too.
VENUE_HELP = "bybit, binance_spot, binance_usdm, okx, kraken, coinbase"

#: venue name -> simulator class in `arbcore.sim` and its keyword arguments, loaded lazily (a venue
#: without one cannot `--sim`); KrakenSim also gets the symbols' venue precisions
SIM_CLASSES: dict[str, tuple[str, dict[str, Any]]] = {
    "bybit": ("BybitSim", {}),
    "binance_spot": ("BinanceSim", {"market": "spot"}),
    "binance_usdm": ("BinanceSim", {"market": "usdm"}),
    "okx": ("OkxSim", {}),
    "kraken": ("KrakenSim", {}),
    "coinbase": ("CoinbaseSim", {}),
}

SymbolArg = tuple[str, str, int, int, str | None, str | None]


def _symbol_arg(text: str) -> SymbolArg:
    """SYMBOL=BASE/QUOTE:PRICE_DECIMALS:QTY_DECIMALS[:TICK:LOT]"""
    try:
        sym, rest = text.split("=", 1)
        parts = rest.split(":")
        inst, pd, qd = parts[0], int(parts[1]), int(parts[2])
        tick = parts[3] if len(parts) > 3 else None
        lot = parts[4] if len(parts) > 4 else None
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected SYMBOL=BASE/QUOTE:PRICE_DECIMALS:QTY_DECIMALS[:TICK:LOT]"
        ) from None
    return sym, inst, pd, qd, tick, lot


def _precision_arg(text: str) -> tuple[str, tuple[int, int]]:
    """SYMBOL=PRICE_PRECISION:QTY_PRECISION"""
    try:
        sym, rest = text.split("=", 1)
        p, q = (int(x) for x in rest.split(":"))
        if not sym or not (0 <= p <= 18 and 0 <= q <= 18):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected SYMBOL=PRICE_PRECISION:QTY_PRECISION, each 0 to 18"
        ) from None
    return sym, (p, q)


def _smallest(decimals: int) -> str:
    return "1" if decimals == 0 else "0." + "0" * (decimals - 1) + "1"


def _feed_spec(
    venue: str,
    protocol: str,
    symbols: list[SymbolArg],
    precisions: list[tuple[str, tuple[int, int]]],
    depth: int = 10,
) -> object:
    """The recording header's feed; a symbol's venue precision defaults to its decimals (what the
    Kraken decoder assumes without one). Raises ValueError for a precision of an unknown symbol."""
    from arbcore.record import FeedSpec, SymbolSpec

    given = dict(precisions)
    unknown = sorted(set(given) - {sym for sym, *_ in symbols})
    if unknown:
        raise ValueError(f"--precision {', '.join(unknown)}: not a --symbol")
    specs = {
        sym: SymbolSpec(inst, pd, qd, tick or _smallest(pd), lot or _smallest(qd), given.get(sym, (pd, qd)))
        for sym, inst, pd, qd, tick, lot in symbols
    }
    return FeedSpec(venue, protocol, specs, depth)


def _check_precisions(command: str, protocol: str, precisions: list[tuple[str, tuple[int, int]]]) -> bool:
    if precisions and protocol != "kraken":
        print(
            f"arbcore {command}: --precision is for kraken only (its checksum covers the digits the venue prints)",
            file=sys.stderr,
        )
        return False
    return True


def cmd_replay(args: argparse.Namespace) -> int:
    import orjson

    from arbcore.record import FeedSpec, RecordingError, raw_frames, replay, replay_frames

    path = Path(args.file)
    if not path.exists():
        print(f"arbcore replay: {path}: no such file", file=sys.stderr)
        return 2
    try:
        if args.raw:
            if not args.symbol:
                print("arbcore replay: --raw needs at least one --symbol", file=sys.stderr)
                return 2
            if not _check_precisions("replay", args.raw, args.precision):
                return 2
            spec = _feed_spec(args.venue, args.raw, args.symbol, args.precision)
            assert isinstance(spec, FeedSpec)
            summary = replay_frames(spec, raw_frames(path, args.venue), args.top)
        else:
            summary = replay(path, args.venue, args.top)
    except (RecordingError, ValueError) as e:
        print(f"arbcore replay: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    import uvloop

    from arbcore.record import FeedSpec
    from arbcore.venues import CLIENT_SPECS

    client_spec = CLIENT_SPECS.get(args.venue)
    if client_spec is None:
        print(
            f"arbcore record: venue {args.venue!r}: known venues are {', '.join(sorted(CLIENT_SPECS))}", file=sys.stderr
        )
        return 2
    if not args.symbol:
        print("arbcore record: at least one --symbol is needed", file=sys.stderr)
        return 2
    if not args.sim and not args.url:
        print(
            "arbcore record: give --url (a venue's WebSocket URL) or --sim (a local simulated venue)", file=sys.stderr
        )
        return 2
    if not _check_precisions("record", client_spec.feed_protocol, args.precision):
        return 2
    try:
        # the header keeps the decoder settings, so replay decodes exactly as the live client did
        spec = _feed_spec(
            args.venue, client_spec.feed_protocol, args.symbol, args.precision, client_spec.feed_kwargs.get("depth", 10)
        )
    except ValueError as e:
        print(f"arbcore record: {e}", file=sys.stderr)
        return 2
    assert isinstance(spec, FeedSpec)
    return uvloop.run(_record(args, client_spec, spec))


async def _record(args: argparse.Namespace, client_spec: object, spec: object) -> int:
    import asyncio
    import time

    import arbcore.sim as sim_mod
    from arbcore.feed_client import FeedClient
    from arbcore.record import FeedSpec, Recorder, build_books
    from arbcore.venues.base import VenueClientSpec

    assert isinstance(spec, FeedSpec) and isinstance(client_spec, VenueClientSpec)
    sim = None
    url, rest_url = args.url, args.rest_url
    books, symbols, precisions = build_books(spec)
    if args.sim:
        cls_name, kwargs = SIM_CLASSES.get(args.venue, ("", {}))
        cls = getattr(sim_mod, cls_name, None)
        if cls is None:
            print(f"arbcore record: no simulator for {args.venue!r}", file=sys.stderr)
            return 2
        if cls_name == "KrakenSim":
            kwargs = {**kwargs, "precisions": precisions}  # it prints the digits the checksum covers
        sim = sim_mod.SimVenue(cls(**kwargs), _sim_instruments(spec), seed=args.seed)
        await sim.start()
        url, rest_url = sim.ws_url, sim.rest_url
    recorder = Recorder(Path(args.out), [spec])
    # the decoder settings replay uses (the header's precisions; only Kraken's decoder reads them)
    client = FeedClient(
        client_spec, url, books, symbols, rest_url=rest_url, recorder=recorder, feed_kwargs={"precisions": precisions}
    )
    task = asyncio.get_running_loop().create_task(client.run())
    print(f"recording {args.venue} from {url} to {args.out} for {args.duration:g} s", file=sys.stderr)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < args.duration:
            await asyncio.sleep(min(1.0, args.duration))
            c = client.counters()
            states = ",".join(books[i].state_name(v) for i, v in symbols.values())
            print(
                f"  {time.monotonic() - t0:5.1f}s frames={c['frames']} bytes={c['bytes']} books={states}",
                file=sys.stderr,
            )
    finally:
        client.stop()
        await asyncio.wait_for(task, 5)
        recorder.close()
        if sim is not None:
            await sim.stop()
    print(f"wrote {recorder.frames} frames to {args.out}", file=sys.stderr)
    return 0


def _sim_instruments(spec: object) -> list[Any]:
    """One simulated instrument per symbol, on the symbol's tick and lot grids (coarsened to its
    venue precision where that is coarser), around 60000."""
    from decimal import Decimal
    from math import lcm

    from arbcore.record import FeedSpec
    from arbcore.sim import SimInstrument

    assert isinstance(spec, FeedSpec)
    out = []
    for sym, s in spec.symbols.items():
        pd, qd = s.price_decimals, s.qty_decimals
        tick = max(1, int(Decimal(s.tick_size).scaleb(pd)))
        lot = max(1, int(Decimal(s.lot_size).scaleb(qd)))
        if s.precision is not None:
            tick = lcm(tick, 10 ** max(0, pd - s.precision[0]))
            lot = lcm(lot, 10 ** max(0, qd - s.precision[1]))
        out.append(SimInstrument(sym, pd, qd, tick=tick, lot=lot, mid=60_000 * 10**pd))
    return out


# ---- runner: check-config, run, report, journal ----------------------------------------------


def _err(command: str, message: str) -> None:
    print(f"arbcore {command}: {message}", file=sys.stderr)


def cmd_check_config(args: argparse.Namespace) -> int:
    from arbcore.runner.config import ConfigFileError, env_errors, load_config
    from arbcore.runner.plugins import StrategyLoadError, resolve_strategy_class

    try:
        config = load_config(args.file)
    except ConfigFileError as e:
        for line in e.errors:
            print(f"{e.source}: {line}", file=sys.stderr)
        return 2
    errors = [] if args.skip_env else env_errors(config)
    try:
        resolve_strategy_class(config.strategy.spec, config.strategy.base_dir)
    except StrategyLoadError as e:
        errors.append(f"strategy.name: {e}")
    if errors:
        for line in errors:
            print(f"{config.source}: {line}", file=sys.stderr)
        return 2
    print("\n".join(config.summary()))
    return 0


def _port_free(port: int) -> str | None:
    """Why 127.0.0.1:port cannot be bound now, or None (the engine binds it for real later)."""
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            return "port in use" if e.errno in (48, 98, 10048) else (e.strerror or str(e))
    return None


def cmd_run(args: argparse.Namespace) -> int:  # noqa: PLR0911
    from arbcore.runner.config import ConfigFileError, env_errors, load_config, load_default
    from arbcore.runner.metrics import MetricsPortError
    from arbcore.runner.options import RunOptions, UserError
    from arbcore.runner.plugins import StrategyLoadError, load_strategy
    from arbcore.venues.signing.errors import CredentialsError

    try:
        config = load_config(args.config) if args.config else load_default()
    except ConfigFileError as e:
        for line in e.errors:
            _err("run", f"{e.source}: {line}")
        return 2
    missing = env_errors(config)
    if missing:
        for line in missing:
            _err("run", f"{config.source}: {line}")
        return 2
    if args.metrics_port is not None:
        why = _port_free(args.metrics_port)
        if why is not None:
            _err("run", f"--metrics-port {args.metrics_port}: cannot listen on 127.0.0.1:{args.metrics_port}: {why}")
            return 2
    journal = Path(args.journal) if args.journal else config.run.journal or Path("arbcore-journal.sqlite")
    report_dir = Path(args.report_dir) if args.report_dir else config.run.report_dir or Path("arbcore-report")
    if not journal.parent.is_dir():
        _err("run", f"--journal {journal}: directory {journal.parent} does not exist")
        return 2
    if report_dir.exists() and not report_dir.is_dir():
        _err("run", f"--report-dir {report_dir}: exists and is not a directory")
        return 2
    try:
        host = load_strategy(args.strategy, config)
    except StrategyLoadError as e:
        _err("run", str(e))
        return 2
    options = RunOptions(
        config_path=Path(args.config) if args.config else None,
        duration_s=args.duration,
        metrics_port=args.metrics_port,
        journal=journal,
        report_dir=report_dir,
        dashboard=not args.no_dashboard,
        seed=config.run.seed if args.seed is None else args.seed,
    )
    import importlib

    try:
        # the engine (arbcore/runner/app.py): run_app(config, strategy_host, options) -> exit code
        run_app = importlib.import_module("arbcore.runner.app").run_app
    except ModuleNotFoundError as e:
        if e.name != "arbcore.runner.app":
            raise
        # the engine is not wired in yet: show the core at work instead
        from arbcore.demo import run_demo

        print(
            f"arbcore run: config {config.source} and strategy {host.name} are valid; the execution engine is "
            "not available in this build, running the detection demo instead",
            file=sys.stderr,
        )
        return run_demo(seed=options.seed)
    try:
        code = run_app(config, host, options)
    except (UserError, MetricsPortError, CredentialsError) as e:
        _err("run", str(e))
        return 2
    return int(code or 0)


def cmd_report(args: argparse.Namespace) -> int:
    from arbcore.runner.report import ReportError, build_report, print_report, write_json, write_plots

    try:
        report = build_report(args.journal)
    except ReportError as e:
        _err("report", str(e))
        return 2
    if args.json == "-":
        import orjson

        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
    try:
        if args.json and args.json != "-":
            write_json(report, args.json)
        if args.plots:
            written = write_plots(report, args.plots)
    except OSError as e:
        _err("report", f"{e.filename or ''}: {e.strerror or e}")
        return 2
    if args.json == "-":
        return 0
    print_report(report)
    if args.json:
        print(f"wrote {args.json}")  # (not "-": returned above)
    if args.plots:
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    """Engage a running engine's kill switch: SIGUSR1 to --pid, and/or create the kill file
    (--kill-file, or the [risk] kill_file of --config), which every engine watching it obeys."""
    import os
    import signal

    from arbcore.runner.config import ConfigFileError, load_config

    path = args.kill_file
    if path is None and args.config is not None:
        try:
            kill_file = load_config(args.config).risk.kill_file
        except ConfigFileError as e:
            _err("kill", f"{e.source}: " + "; ".join(e.errors))
            return 2
        if kill_file is None:
            _err("kill", f"{args.config}: risk.kill_file is not set")
            return 2
        path = str(kill_file)
    if path is None and args.pid is None:
        _err("kill", "give --pid, --kill-file or --config")
        return 2
    if path is not None:
        try:
            Path(path).touch()
        except OSError as e:
            _err("kill", f"cannot create {path}: {e.strerror or e}")
            return 2
        print(f"kill file {path} created")
    if args.pid is not None:
        try:
            os.kill(args.pid, signal.SIGUSR1)
        except OSError as e:
            _err("kill", f"cannot signal process {args.pid}: {e.strerror or e}")
            return 2
        print(f"kill switch signalled to process {args.pid}")
    return 0


def cmd_journal(args: argparse.Namespace) -> int:
    import arbcore
    from arbcore.runner.report import ReportError, open_journal

    try:
        journal = open_journal(args.journal)
    except ReportError as e:
        _err("journal", str(e))
        return 2

    def fmt(v: int, d: int) -> str:
        return ("-" if v < 0 else "") + arbcore.format_decimal(abs(v), d)

    with journal:
        tickets = journal.tickets()
        if args.ticket:
            tickets = [t for t in tickets if t.ticket_id == args.ticket]
            if not tickets:
                _err("journal", f"{args.journal}: no ticket {args.ticket!r}")
                return 2
        events_by_order: dict[str, list[object]] = {}
        for event in journal.events():
            events_by_order.setdefault(event.client_order_id, []).append(event)
        for t in tickets:
            detail = " ".join(f"{k}={v}" for k, v in sorted(t.detail.items()))
            print(f"ticket {t.ticket_id} {t.instrument} buy {t.buy_venue} sell {t.sell_venue}  {detail}".rstrip())
            orders = journal.orders(t.ticket_id)
            for o in orders:
                i = o.intent
                limit = "market" if i.limit_price is None else fmt(i.limit_price, i.price_decimals)
                print(
                    f"  order {o.client_order_id} {i.venue} {i.side.value} {fmt(i.qty, i.qty_decimals)} @ {limit} "
                    f"{i.order_type.value}/{i.tif.value}: {o.state.value}, filled {fmt(o.filled_qty, i.qty_decimals)}"
                )
                for ev in events_by_order.get(o.client_order_id, []):
                    f = getattr(ev, "fill", None)
                    if f is not None:
                        fee = f" fee {fmt(f.fee, f.fee_decimals)} {f.fee_asset}" if f.fee else ""
                        print(
                            f"    fill {f.fill_id} {fmt(f.qty, i.qty_decimals)} @ {fmt(f.price, i.price_decimals)}{fee}"
                        )
            if orders:
                p = journal.ticket_pnl(t.ticket_id)
                print(
                    f"  pnl {fmt(p.realised, p.notional_decimals)} {p.quote} net of fees "
                    f"(fees {fmt(p.quote_fees, p.notional_decimals)} {p.quote}), "
                    f"position {fmt(p.position, p.qty_decimals)} {p.base}"
                )
        if not args.ticket:
            pairs = journal.pnl_by_venue_pair() if journal.orders() else []
            print(f"{len(tickets)} tickets")
            for pp in pairs:
                print(
                    f"pair {pp.buy_venue} -> {pp.sell_venue}: {pp.tickets} tickets, realised "
                    f"{fmt(pp.realised, pp.decimals)} {pp.quote} net of fees {fmt(pp.quote_fees, pp.decimals)}"
                )
    return 0


EPILOG = """\
Start with `arbcore run` (the embedded default: simulated venues on loopback, paper balances,
the taker strategy), then `arbcore report JOURNAL`. `arbcore check-config FILE` validates a
configuration; examples/ has the default, a live-venue template and strategy plug-ins.
Errors you can fix are one line on stderr with exit status 2."""


def _duration(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be positive")
    return v


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"{v} is not a port number 1..65535")
    return v


def _add_runner_commands(sub: Any) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    run = sub.add_parser(
        "run",
        help="run the engine: venues, strategy, dashboard, journal, report at exit",
        description=(
            "Run the engine on a configuration (default: the embedded one, simulated venues on loopback\n"
            "speaking the Binance, Kraken and OKX protocols, two instruments, paper balances, the taker\n"
            "strategy). Runs until Ctrl-C or --duration, then cancels open orders, closes the journal and\n"
            "writes the report (report.json and PNG plots) to the report directory."
        ),
        formatter_class=fmt,
    )
    run.add_argument("--config", metavar="FILE", help="TOML configuration (default: the embedded default)")
    run.add_argument(
        "--strategy",
        metavar="SPEC",
        help="strategy plug-in: a builtin (taker, threshold, hedger) or path/to/file.py[:Class]; "
        "overrides [strategy] name (its [strategy.params] still apply)",
    )
    run.add_argument("--duration", type=_duration, metavar="SECONDS", help="stop after this long (default: Ctrl-C)")
    run.add_argument(
        "--metrics-port", type=_port, metavar="PORT", help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics"
    )
    run.add_argument("--report-dir", metavar="DIR", help="where the exit report goes (default: [run] report_dir)")
    run.add_argument("--journal", metavar="FILE", help="SQLite journal to write (default: [run] journal)")
    run.add_argument(
        "--no-dashboard", action="store_true", help="plain log lines instead of the live dashboard, even on a terminal"
    )
    run.add_argument("--seed", type=int, help="simulators' seed (default: [run] seed)")

    chk = sub.add_parser(
        "check-config",
        help="validate a TOML configuration and name every bad field",
        description=(
            "Check FILE: every error is printed on its own line as FILE: field.path: why, and the exit\n"
            "status is 2; a valid file prints a short summary and exits 0. Key variables that a live\n"
            "venue names are checked to be set (by name; values are never printed)."
        ),
        formatter_class=fmt,
    )
    chk.add_argument("file", metavar="FILE", help="TOML configuration")
    chk.add_argument("--skip-env", action="store_true", help="do not check the API key environment variables")

    rep = sub.add_parser(
        "report",
        help="report a journal: tickets, fill ratio, PnL per venue pair, prices, latency; JSON and plots",
        description=(
            "Read JOURNAL (the SQLite file `arbcore run` writes) and print opportunities, tickets, fill\n"
            "ratio, PnL net of fees per venue pair, expected vs realised prices, hedge lag, residual\n"
            "exposure and latency percentiles."
        ),
        formatter_class=fmt,
    )
    rep.add_argument("journal", metavar="JOURNAL", help="journal file (.sqlite)")
    rep.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE (- : only JSON, to stdout)")
    rep.add_argument(
        "--plots",
        metavar="DIR",
        help="write PNG plots to DIR: pnl_over_time.png, spread_distribution.png, latency_histogram.png",
    )

    kill = sub.add_parser(
        "kill",
        help="engage a running engine's kill switch: open orders cancelled, no new tickets",
        description=(
            "Engage the kill switch of running engines: --pid sends SIGUSR1 to one `arbcore run`;\n"
            "--kill-file (or the [risk] kill_file of --config) creates the file every engine configured\n"
            "with it watches. The engines cancel their open orders and refuse new tickets; they keep\n"
            "running until stopped, so their state can be inspected."
        ),
        formatter_class=fmt,
    )
    kill.add_argument("--pid", type=int, help="process id of an `arbcore run` to signal")
    kill.add_argument("--kill-file", metavar="FILE", help="create this kill file")
    kill.add_argument("--config", metavar="FILE", help="create the kill file named by this configuration")

    jr = sub.add_parser(
        "journal",
        help="print a journal's tickets, their orders and fills, and realised PnL net of fees",
        description="Print every ticket in JOURNAL with its orders, fills and realised PnL net of fees, then PnL per "
        "venue pair.",
    )
    jr.add_argument("journal", metavar="JOURNAL", help="journal file (.sqlite)")
    jr.add_argument("--ticket", metavar="ID", help="only this ticket")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("arbcore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `arbcore journal J | head`
        return 0


def _main(argv: list[str] | None = None) -> int:  # noqa: PLR0911
    parser = argparse.ArgumentParser(
        prog="arbcore",
        description="Cross-exchange execution engine: exact multi-venue books, opportunity detection, execution.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_runner_commands(sub)

    demo = sub.add_parser("demo", help="build three venues' books from a seeded stream and print opportunities")
    demo.add_argument("--steps", type=int, default=3000, help="number of quote updates per venue (default 3000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--show", type=int, default=12, help="opportunity records to print (default 12)")

    sym_help = (
        "SYMBOL=BASE/QUOTE:PRICE_DECIMALS:QTY_DECIMALS[:TICK:LOT], the venue symbol and the engine's"
        " instrument and scales (TICK and LOT default to one unit of the last decimal), e.g."
        " BTCUSDT=BTC/USDT:2:6 (repeatable)"
    )
    prec_help = (
        "SYMBOL=PRICE_PRECISION:QTY_PRECISION, kraken only: the decimals Kraken prints for SYMBOL's prices"
        " and quantities (AssetPairs pair_decimals/lot_decimals), which its book checksum covers, e.g."
        " BTC/USD=1:8; default: the symbol's PRICE_DECIMALS:QTY_DECIMALS (repeatable)"
    )
    rec = sub.add_parser("record", help="record a venue's raw frames with receive times to a .jsonl.gz file")
    rec.add_argument("--venue", required=True, help=f"venue: {VENUE_HELP}")
    rec.add_argument("--symbol", action="append", type=_symbol_arg, default=[], help=sym_help)
    rec.add_argument(
        "--precision",
        action="append",
        type=_precision_arg,
        default=[],
        help=prec_help + "; kept in the recording, so replay verifies with the same",
    )
    rec.add_argument("--url", help="the venue's WebSocket URL")
    rec.add_argument("--rest-url", help="the venue's REST base URL (venues that sync from REST snapshots)")
    rec.add_argument("--sim", action="store_true", help="record from a local simulated venue on loopback")
    rec.add_argument("--seed", type=int, default=1, help="simulator seed (with --sim)")
    rec.add_argument("--duration", type=float, default=10.0, help="seconds to record (default 10)")
    rec.add_argument("--out", required=True, help="output file (.jsonl.gz)")

    rep = sub.add_parser("replay", help="run a recording through the decoders and print a JSON summary")
    rep.add_argument("--venue", required=True, help=f"which recorded venue to replay ({VENUE_HELP})")
    rep.add_argument("--top", type=int, default=10, help="levels per side in the summary (default 10)")
    rep.add_argument(
        "--raw",
        metavar="PROTOCOL",
        help=f"FILE is a plain capture (one frame per line) in this protocol ({VENUE_HELP})",
    )
    rep.add_argument("--symbol", action="append", type=_symbol_arg, default=[], help=sym_help + " (with --raw)")
    rep.add_argument("--precision", action="append", type=_precision_arg, default=[], help=prec_help + " (with --raw)")
    rep.add_argument("file", help="recording (.jsonl.gz) or, with --raw, a plain capture")

    args = parser.parse_args(argv)
    if args.command == "demo":
        from arbcore.demo import run_demo

        if args.steps < 1:
            parser.error("--steps must be at least 1")
        return run_demo(steps=args.steps, seed=args.seed, show=args.show)
    if args.command == "record":
        if args.duration <= 0:
            parser.error("--duration must be positive")
        return cmd_record(args)
    if args.command == "replay":
        return cmd_replay(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "check-config":
        return cmd_check_config(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "journal":
        return cmd_journal(args)
    if args.command == "kill":
        return cmd_kill(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
