"""The runner's commands of ``arbcore``: run, check-config, report, journal and kill (the
parsers and what each does; ``arbcore.cli`` dispatches to them)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arbcore.execution.journal import Journal
    from arbcore.execution.records import OrderIntent


def _err(command: str, message: str) -> None:
    print(f"arbcore {command}: {message}", file=sys.stderr)


def cmd_check_config(args: argparse.Namespace) -> int:
    from arbcore.runner.config import ConfigFileError, env_errors, host_errors, load_config
    from arbcore.runner.plugins import StrategyLoadError, load_strategy, resolve_strategy_class

    try:
        config = load_config(args.file)
    except ConfigFileError as e:
        for line in e.errors:
            print(f"{e.source}: {line}", file=sys.stderr)
        return 2
    errors = [] if args.skip_env else env_errors(config) + host_errors(config)
    try:
        resolve_strategy_class(config.strategy.spec, config.strategy.base_dir)
    except StrategyLoadError as e:
        errors.append(f"strategy.name: {e}")
    else:
        try:  # built as `run` builds it: its constructor checks its parameters
            load_strategy(None, config)
        except StrategyLoadError as e:
            errors.append(f"strategy.params: {e}")
    if errors:
        for line in errors:
            print(f"{config.source}: {line}", file=sys.stderr)
        return 2
    print("\n".join(config.summary()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:  # noqa: PLR0911
    from arbcore.runner.config import ConfigFileError, env_errors, host_errors, load_config, load_default
    from arbcore.runner.metrics import MetricsPortError, port_problem
    from arbcore.runner.options import EarlyKill, RunOptions, StartInterruptedError, UserError
    from arbcore.runner.plugins import StrategyLoadError, load_strategy
    from arbcore.venues.signing.errors import CredentialsError

    early_kill = EarlyKill.install()
    try:
        config = load_config(args.config) if args.config else load_default()
    except ConfigFileError as e:
        for line in e.errors:
            _err("run", f"{e.source}: {line}")
        return 2
    missing = env_errors(config) + host_errors(config)
    if missing:
        for line in missing:
            _err("run", f"{config.source}: {line}")
        return 2
    if args.seed is not None:  # over [run] seed, for everything drawn from it (simulators, faults)
        import dataclasses

        config = dataclasses.replace(config, run=dataclasses.replace(config.run, seed=args.seed))
    if args.metrics_port is not None:
        why = port_problem(args.metrics_port)  # before the venues are started; the engine binds it later
        if why is not None:
            _err("run", f"--metrics-port {args.metrics_port}: cannot listen on 127.0.0.1:{args.metrics_port}: {why}")
            return 2
    journal = Path(args.journal) if args.journal else config.run.journal or Path("arbcore-journal.sqlite")
    report_dir = Path(args.report_dir) if args.report_dir else config.run.report_dir or Path("arbcore-report")
    record = Path(args.record) if args.record else config.run.record
    why = _journal_problem(journal) or _report_dir_problem(report_dir) or _record_problem(record, journal)
    if why is not None:
        _err("run", why)
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
        seed=config.run.seed,
        early_kill=early_kill,
        record=record,
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
    except StartInterruptedError as e:
        _err("run", str(e))
        return e.exit_status
    except ConfigFileError as e:  # what only the start can find (e.g. a venue's rules against the config)
        for line in e.errors:
            _err("run", f"{e.source}: {line}")
        return 2
    return int(code or 0)


def _other_fees(other: Mapping[str, tuple[int, int]]) -> str:
    """Fees in an asset other than the quote, as " + 5 BNB"; "" when none."""
    from arbcore.execution.amounts import signed_decimal

    return "".join(f" + {signed_decimal(x, d)} {a}" for a, (x, d) in sorted(other.items()))


def _journal_problem(journal: Path) -> str | None:
    """Why ``journal`` cannot be the run's journal, or None (a new file, or an SQLite file)."""
    if not journal.parent.is_dir():
        return f"--journal {journal}: directory {journal.parent} does not exist"
    if journal.is_dir():
        return f"--journal {journal}: is a directory"
    if journal.exists():
        try:
            with journal.open("rb") as f:
                head = f.read(16)
        except OSError as e:
            return f"--journal {journal}: cannot read it ({e.strerror or e})"
        if head and head != b"SQLite format 3\x00":
            return f"--journal {journal}: exists and is not an SQLite file (not overwritten)"
    return None


#: the files SQLite and the intent log keep beside a journal
JOURNAL_SIDECARS = ("", "-intents", "-wal", "-shm", "-journal")


def _record_problem(record: Path | None, journal: Path) -> str | None:
    """Why the session cannot be recorded to ``record``, or None: checked before any venue starts.
    The recording never goes over the journal (or a file beside it: the open database was
    truncated to gzip bytes), nor over an existing file that is not a recording (not overwritten)."""
    from arbcore.record import RecordingError, read_recording

    if record is None:
        return None
    if record.is_dir():
        return f"record {record}: a directory, not a file to record to"
    if not record.parent.is_dir():
        return f"record {record}: no directory {record.parent}"
    target = record.resolve()
    for suffix in JOURNAL_SIDECARS:
        j = Path(f"{journal}{suffix}")
        if target == Path(f"{journal.resolve()}{suffix}") or (record.exists() and j.exists() and record.samefile(j)):
            return f"record {record}: is the journal's file {j} (not overwritten)"
    if record.is_file() and record.stat().st_size > 0:
        try:
            read_recording(record).frames.close()
        except RecordingError:
            return f"record {record}: exists and is not an arbcore recording (not overwritten)"
    return None


def _report_dir_problem(report_dir: Path) -> str | None:
    """Why the exit report cannot be written to ``report_dir``, or None: checked before the run
    (created if missing, and written to), not found after it."""
    import tempfile

    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=report_dir):
            pass
    except FileExistsError:
        return f"--report-dir {report_dir}: exists and is not a directory"
    except OSError as e:
        return f"--report-dir {report_dir}: cannot write the report there ({e.strerror or e})"
    return None


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
    return 0 if args.pid is None else _signal_engine(args.pid)


def _signal_engine(pid: int) -> int:
    """SIGUSR1 to the engine ``pid`` (checked first: :func:`_not_an_engine`); the exit status."""
    import os
    import signal

    why = _not_an_engine(pid)
    if why is not None:
        _err("kill", f"--pid {pid}: {why}; not signalled")
        return 2
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError as e:
        _err("kill", f"cannot signal process {pid}: {e.strerror or e}")
        return 2
    print(f"kill switch signalled to process {pid}")
    return 0


def _not_an_engine(pid: int) -> str | None:
    """Why SIGUSR1 must not go to ``pid``, or None. Its default action ends a process, so only
    a running `arbcore run` that handles it is signalled: not a process group (0, negative), not
    a wrapper (`timeout ... arbcore run`, which pgrep finds first), not an engine still starting
    (which would die of it). Without /proc (not Linux) only the id is checked."""
    import signal

    if pid <= 0:
        return "not a process id (0 and negative ids signal whole process groups)"
    if not Path("/proc/self/status").exists():
        return None
    try:
        argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as e:
        return "no such process" if isinstance(e, FileNotFoundError) else f"cannot read /proc/{pid} ({e.strerror})"
    names = [Path(a).name for a in argv]
    if "arbcore" not in names or "run" not in names[names.index("arbcore") + 1 :] or "python" not in names[0]:
        return f"not an `arbcore run` process ({' '.join(argv).strip()[:80]!r})"
    caught = next((int(ln.split()[1], 16) for ln in status.splitlines() if ln.startswith("SigCgt:")), 0)
    if not caught >> (signal.SIGUSR1 - 1) & 1:
        return "it does not handle SIGUSR1 yet (still starting?): try again in a moment"
    return None


def cmd_journal(args: argparse.Namespace) -> int:
    import sqlite3

    from arbcore.runner.report import ReportError, open_journal

    try:
        journal = open_journal(args.journal)
    except ReportError as e:
        _err("journal", str(e))
        return 2
    try:
        with journal:
            return _print_journal(journal, args)
    except sqlite3.DatabaseError as e:  # damaged beyond its header and schema
        _err("journal", f"{args.journal}: not a readable arbcore journal ({e})")
        return 2


#: ticket detail keys the engine writes as raw integers: prices, and quantities
_RAW_PRICES = ("expected_buy_price", "expected_sell_price")
_RAW_QTYS = ("qty", "sweep_net", "sweep_fee_drift")


def _detail_text(detail: Mapping[str, Any], intent: OrderIntent | None) -> str:
    """A ticket's detail as ``key=value``, its raw prices and quantities as decimals at the
    instrument's scales (read from one of its orders; without one they stay as written)."""
    from arbcore.execution.amounts import signed_decimal as dec
    from arbcore.runner.report import expected_price

    out = []
    for k, v in sorted(detail.items()):
        text = str(v)
        if intent is not None and k in _RAW_PRICES:
            raw = expected_price(detail, k, intent.price_decimals)
            text = text if raw is None else dec(raw, intent.price_decimals)
        elif intent is not None and k in _RAW_QTYS and isinstance(v, (int, str)) and text.lstrip("-").isdigit():
            text = dec(int(v), intent.qty_decimals)
        out.append(f"{k}={text}")
    return " ".join(out)


def _print_journal(journal: Journal, args: argparse.Namespace) -> int:
    from arbcore.execution.amounts import signed_decimal as dec
    from arbcore.execution.orders import OrderState
    from arbcore.execution.pnl import pair_pnl
    from arbcore.execution.records import OrderEvent, OrderRecord

    tickets = journal.tickets()
    # Each read below covers every ticket at once, or only --ticket's: a query per ticket, or the
    # whole journal for one ticket, took a minute on a day's journal.
    one = args.ticket
    if one:
        tickets = [t for t in tickets if t.ticket_id == one]
        if not tickets:
            _err("journal", f"{args.journal}: no ticket {one!r}")
            return 2
    orders_of: dict[str, list[OrderRecord]] = {}
    for o in journal.orders(one or None):
        orders_of.setdefault(o.intent.ticket_id, []).append(o)
    events_by_order: dict[str, list[OrderEvent]] = {}
    if one:
        for o in orders_of.get(one, []):
            events_by_order[o.client_order_id] = journal.events(o.client_order_id)
        pnls = {one: journal.ticket_pnl(one)} if orders_of else {}
    else:
        for event in journal.events():
            events_by_order.setdefault(event.client_order_id, []).append(event)
        pnls = journal.ticket_pnls(tickets=tickets)
    outcome = {ticket_id: status for ticket_id, _, status, _ in journal.ticket_outcomes(one or None)}  # (the last)
    for t in tickets:
        orders = orders_of.get(t.ticket_id, [])
        detail = _detail_text(t.detail, orders[0].intent if orders else None)
        print(f"ticket {t.ticket_id} {t.instrument} buy {t.buy_venue} sell {t.sell_venue}  {detail}".rstrip())
        if t.ticket_id in outcome:
            print(f"  outcome {outcome[t.ticket_id]}")
        for o in orders:
            i = o.intent
            events = events_by_order.get(o.client_order_id, [])
            limit = "market" if i.limit_price is None else dec(i.limit_price, i.price_decimals)
            reason = next((str(e.detail["reason"]) for e in reversed(events) if e.detail.get("reason")), "")
            why = f" ({reason})" if reason and o.state is OrderState.REJECTED else ""
            print(
                f"  order {o.client_order_id} {i.venue} {i.side.value} {dec(i.qty, i.qty_decimals)} @ {limit} "
                f"{i.order_type.value}/{i.tif.value}: {o.state.value}{why}, "
                f"filled {dec(o.filled_qty, i.qty_decimals)}"
            )
            for ev in events:
                f = ev.fill
                if f is not None:
                    fee = f" fee {dec(f.fee, f.fee_decimals)} {f.fee_asset}" if f.fee else ""
                    qty, price = dec(f.qty, i.qty_decimals), dec(f.price, i.price_decimals)
                    print(f"    fill {f.fill_id} {qty} @ {price}{fee}")
        if orders:
            p = pnls[t.ticket_id]
            # a fee taken in the base (a buy's on OKX or Binance) is in the position and the realised figure
            base_fees = f" + {dec(p.base_fees, p.qty_decimals)} {p.base}" if p.base_fees else ""
            print(
                f"  pnl {dec(p.realised, p.notional_decimals)} {p.quote} net of fees "
                f"(fees {dec(p.quote_fees, p.notional_decimals)} {p.quote}{base_fees}{_other_fees(p.other_fees)}), "
                f"position {dec(p.position, p.qty_decimals)} {p.base}"
            )
    if not args.ticket:
        pairs = pair_pnl((t.buy_venue, t.sell_venue, pnls[t.ticket_id]) for t in tickets if t.ticket_id in pnls)
        print(f"{len(tickets)} tickets")
        staged = journal.staged_only()
        if staged:
            print(f"{len(staged)} ticket(s) with orders only in the intent log (imported, then reconciled with "
                  f"the venues, when the engine next starts): {', '.join(staged)}")  # fmt: skip
        for pp in pairs:
            print(
                f"pair {pp.buy_venue} -> {pp.sell_venue}: {pp.tickets} tickets, realised "
                f"{dec(pp.realised, pp.decimals)} {pp.quote} net of fees (fees {dec(pp.quote_fees, pp.decimals)} "
                f"{pp.quote}{_other_fees(pp.base_fees)}{_other_fees(pp.other_fees)})"
            )
    return 0


EPILOG = """\
Start with `arbcore run` (the embedded default: simulated venues on loopback, paper balances,
the taker strategy), then `arbcore report JOURNAL`. `arbcore check-config FILE` validates a
configuration; examples/ has the default (default.toml), a live-venue template
(live-template.toml) and a fault rehearsal on the simulated venues (rehearsal.toml). The builtin
strategies (taker, threshold, hedger) are plug-ins in arbcore/runner/strategies/, each a template
for your own (README: "Writing a strategy plug-in").
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


def add_runner_commands(sub: Any) -> None:
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
    run.add_argument("--seed", type=int, help="simulators' and rehearsed faults' seed (default: [run] seed)")
    run.add_argument(
        "--record",
        metavar="FILE",
        help="record every venue's frames, the books' balances and the engine's detections to FILE "
        "(.jsonl.gz), for `arbcore replay FILE` (default: [run] record)",
    )

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
    chk.add_argument("--skip-env", action="store_true", help="do not check this machine: API key variables, run.cpu")

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
