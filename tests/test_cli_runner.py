"""The runner's commands in a subprocess: help for every command, check-config naming each error,
report and journal on a journal written through the Journal API, and every user error one line
on stderr with exit status 2 (never a traceback)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from arbcore.execution import Journal
from test_cli_run import free_port
from test_runner_report import T0, sample_journal, write_killed_engine_journal, write_sample_journal

ROOT = Path(__file__).resolve().parent.parent


def arbcore(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "COLUMNS": "160", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "arbcore", *args], capture_output=True, text=True, timeout=120,
        cwd=cwd or tempfile.gettempdir(), env=e,
        check=False,
    )  # fmt: skip


def one_line_error(p: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_help_is_complete() -> None:
    p = arbcore("--help")
    assert p.returncode == 0
    for cmd in ("run", "check-config", "report", "journal", "kill", "demo", "record", "replay"):
        assert f"    {cmd}" in p.stdout
    expect = {
        "run": ["--config", "--strategy", "--duration", "--metrics-port", "--report-dir", "--journal",
                "--no-dashboard", "--seed", "Ctrl-C"],
        "check-config": ["FILE", "--skip-env", "field.path: why"],
        "report": ["JOURNAL", "--json", "--plots", "latency_histogram.png"],
        "journal": ["JOURNAL", "--ticket"],
        "kill": ["--pid", "--kill-file", "--config", "SIGUSR1"],
    }  # fmt: skip
    for cmd, words in expect.items():
        h = arbcore(cmd, "--help")
        assert h.returncode == 0, h.stderr
        for w in words:
            assert w in h.stdout, (cmd, w, h.stdout)


def test_help_epilog_says_what_is_where() -> None:
    """examples/ holds the three configurations it names; the strategy plug-ins are where it says."""
    from arbcore.runner.commands import EPILOG
    from arbcore.runner.plugins import BUILTINS

    text = " ".join(EPILOG.split())
    assert sorted(p.name for p in (ROOT / "examples").iterdir()) == [
        "default.toml",
        "live-template.toml",
        "rehearsal.toml",
    ]
    assert (
        "examples/ has the default (default.toml), a live-venue template (live-template.toml) and a fault "
        "rehearsal on the simulated venues (rehearsal.toml)." in text
    )
    assert "arbcore/runner/strategies/" in text and (ROOT / "python/arbcore/runner/strategies").is_dir()
    for name, (module, _) in BUILTINS.items():
        assert name in text and module.startswith("arbcore.runner.strategies."), name
    assert "Writing a strategy plug-in" in text and "### Writing a strategy plug-in" in (ROOT / "README.md").read_text()


def test_check_config_ok_and_broken(tmp_path: Path) -> None:
    p = arbcore("check-config", str(ROOT / "examples/default.toml"))
    assert p.returncode == 0 and p.stdout.startswith(f"{ROOT / 'examples/default.toml'}: OK")
    assert "venue kraken: kraken simulated" in p.stdout
    # every setting it will trade with, as read: fees in bps however written (kraken's "0.0026"
    # printed as written beside binance's "10bps"), and the limits the summary left out (position
    # limits, circuit breaker, kill file, execution bounds)
    assert "binance=BTCUSDT taker 10 bps, kraken=BTC/USDT taker 26 bps, okx=BTC-USDT taker 10 bps" in p.stdout
    for line in (
        "  max_position BTC: 1 per venue, 0.05 net",
        "  circuit breaker: 5 rejects or 10 errors within 60000 ms stop a venue for 30000 ms",
        f"  kill file: {ROOT / 'examples/arbcore.kill'}",
        "  execution: staleness 2000 ms, leg timeout 2000 ms, hedge timeout 5000 ms, loss budget 50, "
        "min_edge_bps 1, adopt_balances start",
    ):
        assert line in p.stdout.splitlines(), (line, p.stdout)
    bad = tmp_path / "bad.toml"
    text = (ROOT / "examples/default.toml").read_text()
    text = text.replace('tick = "0.1"\nlot = "0.00001"', 'tick = "0.00x"\nlot = "0.00001"', 1)
    text = text.replace('protocol = "kraken"', 'protocol = "krakn"').replace(
        "max_open_tickets = 4", "max_open_tickets = -1"
    )
    text = text.replace('name = "taker"', 'name = "missing.py"')
    bad.write_text(text)
    p = arbcore("check-config", str(bad))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert (
        f'{bad}: venues.kraken.protocol: "krakn" is not one of binance_spot, binance_usdm, bybit, okx, kraken, coinbase'
        in lines
    )
    assert f'{bad}: instruments[0].venues.okx.tick: "0.00x" is not a decimal' in lines
    assert f"{bad}: risk.max_open_tickets: -1 is outside 1..inf" in lines
    assert len(lines) == 3, lines  # strategy is checked once the file parses
    ok_but_missing = tmp_path / "s.toml"
    ok_but_missing.write_text(
        (ROOT / "examples/default.toml").read_text().replace('name = "taker"', 'name = "nope.py"')
    )
    one_line_error(arbcore("check-config", str(ok_but_missing)), "strategy.name: strategy nope.py: no such file")
    one_line_error(arbcore("check-config", str(tmp_path / "none.toml")), "none.toml: no such file")


def test_check_config_checks_this_machine_and_builds_the_strategy(tmp_path: Path) -> None:
    """check-config said OK to a CPU this machine lacks (then run failed with a traceback) and to
    strategy parameters its constructor refuses; both are one line, exit 2, in both commands."""
    text = (ROOT / "examples/default.toml").read_text()
    cpu = tmp_path / "cpu.toml"
    cpu.write_text(text.replace("[run]\n", "[run]\ncpu = 4096\n", 1))
    line = one_line_error(arbcore("check-config", str(cpu)), "run.cpu: CPU 4096 is not one this process may use")
    assert line.startswith(f"{cpu}: ")
    one_line_error(arbcore("run", "--config", str(cpu), "--duration", "1"), "run.cpu: CPU 4096")
    assert arbcore("check-config", "--skip-env", str(cpu)).returncode == 0
    params = tmp_path / "params.toml"
    params.write_text(text.replace('min_edge_bps = "2"', 'min_edge_bps = "abc"', 1))
    assert 'min_edge_bps = "abc"' in params.read_text()
    one_line_error(arbcore("check-config", str(params)), "strategy.params: strategy taker: TakerStrategy(...) raised")


def test_check_config_live_template_names_variables_not_values() -> None:
    env = {k: "x" * 24 for k in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "KRAKEN_API_KEY", "KRAKEN_API_SECRET",
                                 "OKX_API_KEY", "OKX_API_SECRET", "BYBIT_API_KEY", "BYBIT_API_SECRET",
                                 "COINBASE_API_KEY", "COINBASE_API_SECRET")}  # fmt: skip
    p = arbcore("check-config", str(ROOT / "examples/live-template.toml"), env=env)
    line = one_line_error(p, "venues.okx.api_passphrase_env: environment variable OKX_API_PASSPHRASE is not set")
    assert "x" * 24 not in p.stdout + line
    p = arbcore("check-config", "--skip-env", str(ROOT / "examples/live-template.toml"))
    assert p.returncode == 0 and "wss://ws.okx.com" in p.stdout


def test_run_user_errors_are_one_line(tmp_path: Path) -> None:
    one_line_error(arbcore("run", "--config", str(tmp_path / "x.toml")), "arbcore run:", "x.toml: no such file")
    one_line_error(arbcore("run", "--strategy", str(tmp_path / "s.py")), "arbcore run: strategy", "no such file")
    (tmp_path / "s.py").write_text("class NotAStrategy: pass\n")
    one_line_error(arbcore("run", "--strategy", f"{tmp_path}/s.py:NotAStrategy"), "not a subclass")
    one_line_error(arbcore("run", "--journal", str(tmp_path / "no/dir/j.sqlite")), "does not exist")
    p = arbcore("run", "--config", str(ROOT / "examples/live-template.toml"))
    assert p.returncode == 2 and "OKX_API_PASSPHRASE is not set" in p.stderr and "Traceback" not in p.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line_error(arbcore("run", "--metrics-port", str(port)), f"--metrics-port {port}", "port in use")
    p = arbcore("run", "--duration", "-3")
    assert p.returncode == 2 and "must be positive" in p.stderr


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "j.sqlite"
    write_sample_journal(path)
    return path


def test_report_command(journal: Path, tmp_path: Path) -> None:
    p = arbcore("report", str(journal), "--json", str(tmp_path / "r.json"), "--plots", str(tmp_path / "plots"))
    assert p.returncode == 0, p.stderr
    assert "PnL net of fees per venue pair" in p.stdout and "-4.05" in p.stdout
    r = orjson.loads((tmp_path / "r.json").read_bytes())
    assert r["tickets"]["count"] == 3 and r["pnl_total"] == {"USDT": "-4.05"}
    assert sorted(x.name for x in (tmp_path / "plots").iterdir()) == [
        "latency_histogram.png", "pnl_over_time.png", "spread_distribution.png",
    ]  # fmt: skip
    p = arbcore("report", str(journal), "--json", "-")
    assert p.returncode == 0 and orjson.loads(p.stdout)["orders"] == 5
    one_line_error(arbcore("report", str(tmp_path / "missing.sqlite")), "arbcore report:", "no such file")
    assert not (tmp_path / "missing.sqlite").exists()


def test_journal_command(journal: Path, tmp_path: Path) -> None:
    p = arbcore("journal", str(journal))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "ticket T1 BTC/USDT buy binance sell okx" in out
    # the engine's raw prices (an integer, digits as text) and decimal text alike, at the
    # instrument's scale (were printed as written: expected_buy_price=6000000)
    t1 = "ticket T1 BTC/USDT buy binance sell okx  edge_bps=13.7 expected_buy_price=60000 expected_sell_price=60110\n"
    assert t1 in out
    assert "ticket T2 BTC/USDT buy kraken sell okx  expected_buy_price=59990 expected_sell_price=60050\n" in out
    assert "order " in out and "binance buy 0.5 @ 60000 limit/IOC: FILLED, filled 0.5" in out
    assert "    fill f1 0.5 @ 60000 fee 30 USDT" in out
    assert "  pnl -10.05 USDT net of fees (fees 60.05 USDT), position 0 BTC" in out
    assert "  pnl 6 USDT net of fees (fees 0 USDT), position 0.1 BTC" in out
    assert "pair binance -> okx: 1 tickets, realised -10.05 USDT net of fees (fees 60.05 USDT)" in out
    assert "  outcome residual" in out  # T2's last outcome
    # a rejected order says why (the venue's or the engine's reason, as journaled)
    assert "binance buy 1 @ 3000 limit/IOC: REJECTED (insufficient balance), filled 0" in out
    assert "3 tickets" in out
    p = arbcore("journal", str(journal), "--ticket", "T2")
    assert p.returncode == 0 and "ticket T2" in p.stdout and "ticket T1" not in p.stdout
    one_line_error(arbcore("journal", str(journal), "--ticket", "T9"), "no ticket 'T9'")
    (tmp_path / "x.sqlite").write_text("not a db")
    one_line_error(arbcore("journal", str(tmp_path / "x.sqlite")), "not an arbcore journal")


def test_journal_shows_a_fee_paid_in_the_base(tmp_path: Path) -> None:
    """A buy whose fee the venue took in the base asset: the pnl line said "fees 0 USDT" while
    the position and the realised figure counted it."""
    from arbcore.execution.orders import Side
    from arbcore.execution.records import EventKind, Fill
    from test_runner_report import _intent

    path = tmp_path / "j.sqlite"
    with sample_journal(path) as j:
        j.write_ticket("T1", "BTC/USDT", "binance", "-", {"expected_buy_price": "6000000", "one_legged": True})
        b = j.write_intent(_intent("T1", "buy", "binance", Side.BUY, 10_000, 6_000_000))
        j.append_event(b, EventKind.SENT)
        j.append_event(b, EventKind.FILL, fill=Fill("f1", 10_000, 6_000_000, 9, "BTC", 8))
    p = arbcore("journal", str(path))
    assert p.returncode == 0, p.stderr
    line = "  pnl -0.0054 USDT net of fees (fees 0 USDT + 0.00000009 BTC), position 0.00009991 BTC"
    assert line in p.stdout, p.stdout


def test_journal_and_report_print_a_pnl_finer_than_18_decimals(tmp_path: Path) -> None:
    """A memecoin ticket whose PnL is at 20 decimals: both commands ended in a traceback."""
    from test_runner_report import write_memecoin_ticket

    path = tmp_path / "j.sqlite"
    with sample_journal(path) as j:
        write_memecoin_ticket(j)
    p = arbcore("journal", str(path))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "  pnl 0.000000000089099 USDT net of fees" in p.stdout, p.stdout
    p = arbcore("report", str(path))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "0.000000000089099" in p.stdout, p.stdout


def test_report_and_journal_only_read(journal: Path, tmp_path: Path) -> None:
    """`report` and `journal` opened the file they read as the engine does: an SQLite file of
    another program got "0 tickets", exit 0, and came out in WAL mode with the journal's tables;
    a killed engine's journal was checkpointed and its -wal removed; one being written waited 5 s
    for the writer's transaction, then failed. Now the first is one line, exit 2, all of them are
    byte for byte as they were, and the one being written reads as of its last commit."""
    foreign = tmp_path / "o.sqlite"
    with contextlib.closing(sqlite3.connect(foreign)) as c:
        c.execute("CREATE TABLE foo (x)")
        c.commit()
    killed = tmp_path / "killed.sqlite"
    write_killed_engine_journal(killed)
    # (the -shm is SQLite's index of the -wal, in shared memory: a reader may rebuild it)
    files = [foreign, Path(f"{foreign}-wal"), Path(f"{foreign}-shm"), killed, Path(f"{killed}-wal")]
    before = {f.name: f.read_bytes() if f.exists() else None for f in files}
    for cmd in ("report", "journal"):
        one_line_error(arbcore(cmd, str(foreign)), f"arbcore {cmd}: {foreign}: not an arbcore journal (no meta table)")
        p = arbcore(cmd, str(killed))
        assert p.returncode == 0 and "T2" in p.stdout, p.stderr
    assert {f.name: f.read_bytes() if f.exists() else None for f in files} == before
    assert before["o.sqlite-wal"] is None and before["o.sqlite-shm"] is None
    with sample_journal(journal, T0 + 10**9) as writer, writer.batch():
        writer.write_ticket("T9", "BTC/USDT", "binance", "okx")  # not committed while the commands read
        p = arbcore("journal", str(journal))
        assert p.returncode == 0 and "3 tickets" in p.stdout and "T9" not in p.stdout, p.stderr
        p = arbcore("report", str(journal), "--json", "-")
        assert p.returncode == 0 and orjson.loads(p.stdout)["tickets"]["count"] == 3, p.stderr


#: the keys `live_okx_config` names
OKX_KEYS = {"T_KEY": "k", "T_SECRET": "s", "T_PASS": "p"}


def live_okx_config(port: int) -> str:
    """The engine tests' okx and kraken config, okx a live venue with every endpoint on
    127.0.0.1:port (`order_urls` too) and its keys in the variables of `OKX_KEYS`."""
    sys.path.insert(0, str(ROOT / "tests"))
    from engine_helpers import config_text

    text = config_text(["okx", "kraken"])
    sim = '[venues.okx]\nprotocol = "okx"\nsimulated = true\n'
    assert sim in text
    live = (
        f'[venues.okx]\nprotocol = "okx"\nws_url = "ws://127.0.0.1:{port}/ws/v5/public"\n'
        f'rest_url = "http://127.0.0.1:{port}"\napi_key_env = "T_KEY"\napi_secret_env = "T_SECRET"\n'
        f'api_passphrase_env = "T_PASS"\n[venues.okx.order_urls]\nws_private = "ws://127.0.0.1:{port}/ws/v5/private"\n'
    )
    return text.replace(sim, live)


def test_unreachable_venue_is_one_clear_line_and_leaves_nothing_open(tmp_path: Path) -> None:
    """A live venue whose order endpoint does not answer (here a closed loopback port, set with
    `order_urls`): one line naming the venue and the URL, no traceback, no unclosed sessions."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "c.toml"
    cfg.write_text(live_okx_config(port))
    env = OKX_KEYS
    p = arbcore("run", "--config", str(cfg), "--no-dashboard", "--duration", "5", "--journal",
                str(tmp_path / "j.sqlite"), cwd=tmp_path, env=env)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "Unclosed" not in p.stderr, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("arbcore run: cannot start: okx") and f"127.0.0.1:{port}/ws/v5/private" in last, last
    # and a role the venue does not have is named by check-config
    cfg.write_text(live_okx_config(port).replace("ws_private =", "ws_privat ="))
    p = arbcore("check-config", str(cfg), env=env)
    assert p.returncode != 0 and "venues.okx.order_urls.ws_privat" in p.stdout + p.stderr, p.stdout + p.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_start_that_waits_on_a_venue(tmp_path: Path, sig: signal.Signals) -> None:
    """A live venue that accepts connections and never answers held the start for its timeouts,
    Ctrl-C and SIGTERM ignored meanwhile, and the engine exited 2 seconds later. Now the signal
    stops the start at once: one line, status 128 + the signal (as a shell says of a command the
    signal ended), nothing left open, no journal (the start had not reached it), no report."""
    with socket.socket() as hole:  # a listener that accepts (the kernel does) and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        hole.settimeout(10)
        (tmp_path / "c.toml").write_text(live_okx_config(hole.getsockname()[1]))
        run = subprocess.Popen(
            [sys.executable, "-m", "arbcore", "run", "--config", str(tmp_path / "c.toml"), "--no-dashboard",
             "--duration", "5", "--journal", str(tmp_path / "j.sqlite"), "--report-dir", str(tmp_path / "rep")],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **OKX_KEYS},
        )  # fmt: skip
        try:
            conn, _ = hole.accept()  # the engine is starting: its signal handlers are in
            with conn:
                t0 = time.monotonic()
                run.send_signal(sig)
                _, err = run.communicate(timeout=10)
                took = time.monotonic() - t0
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert run.returncode == 128 + sig, err
    assert took < 3, (took, err)
    assert "Traceback" not in err and "Unclosed" not in err, err
    said = [ln for ln in err.splitlines() if ln.startswith("arbcore")]
    assert said == [f"arbcore run: stopped by {sig.name} while starting: no ticket taken, no report written"], err
    assert err.strip().splitlines()[-1] == said[0]
    assert not (tmp_path / "j.sqlite").exists() and not (tmp_path / "rep" / "report.json").exists()


def test_kill_signals_only_an_engine_that_handles_it(tmp_path: Path) -> None:
    """SIGUSR1's default action ends a process: `kill --pid` refused 0 and -1 (process groups:
    `--pid 0` killed the caller's own shell), any process that is not `arbcore run` (the
    `timeout` wrapping one, which pgrep finds first), and one that does not handle it yet."""
    one_line_error(arbcore("kill", "--pid", "0"), "--pid 0: not a process id")
    one_line_error(arbcore("kill", "--pid", "-1"), "--pid -1: not a process id")
    others = [
        subprocess.Popen(["sleep", "30"]),
        # looks like one by its arguments, but has no handler: the signal would end it
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "arbcore", "run"]),
    ]
    try:
        time.sleep(0.2)
        one_line_error(arbcore("kill", "--pid", str(others[0].pid)), "not an `arbcore run` process")
        one_line_error(arbcore("kill", "--pid", str(others[1].pid)), "does not handle SIGUSR1 yet")
        assert all(p.poll() is None for p in others)
    finally:
        for p in others:
            p.kill()
            p.wait()


def test_a_sigusr1_while_the_engine_starts_engages_its_kill_switch(tmp_path: Path) -> None:
    """A SIGUSR1 that came before the engine's loop handled it ended the engine (exit 138, no
    report); now it is caught from the command's start, and the kill switch engages once the
    engine has started: no ticket, a report at the end."""
    run = subprocess.Popen(
        [sys.executable, "-m", "arbcore", "run", "--no-dashboard", "--duration", "4", "--journal",
         str(tmp_path / "j.sqlite"), "--report-dir", str(tmp_path / "rep")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        status = Path(f"/proc/{run.pid}/status")
        end = time.monotonic() + 20
        while time.monotonic() < end:  # the command's handler is in: the engine is still starting
            caught = next(int(ln.split()[1], 16) for ln in status.read_text().splitlines() if ln.startswith("SigCgt"))
            if caught >> (signal.SIGUSR1 - 1) & 1:
                break
            time.sleep(0.005)
        os.kill(run.pid, signal.SIGUSR1)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out[-3000:]
    assert "KILL SWITCH engaged: SIGUSR1 (while starting)" in out, out[-3000:]
    assert (tmp_path / "rep" / "report.json").exists()
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.tickets() == []


def test_run_refuses_a_journal_or_report_dir_it_cannot_use(tmp_path: Path) -> None:
    """A journal path that is a directory or a file other than SQLite gave an sqlite3 traceback;
    a report directory that cannot be made was found only at exit, after the whole run."""
    (tmp_path / "notes.txt").write_text("my notes\n")
    run = ("run", "--no-dashboard", "--duration", "1")
    one_line_error(arbcore(*run, "--journal", str(tmp_path)), "is a directory")
    one_line_error(arbcore(*run, "--journal", str(tmp_path / "notes.txt")), "not an SQLite file (not overwritten)")
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    bad_dir = tmp_path / "notes.txt" / "rep"
    one_line_error(arbcore(*run, "--journal", str(tmp_path / "j.sqlite"), "--report-dir", str(bad_dir)),
                   f"--report-dir {bad_dir}: cannot write the report there")  # fmt: skip
    assert not (tmp_path / "j.sqlite").exists()


def test_kill_command_stops_a_running_engine_trading(tmp_path: Path) -> None:
    """`arbcore kill --pid` on a real `arbcore run`: its kill switch engages (open orders
    cancelled, no new ticket), it keeps running until its duration and exits cleanly; a kill
    file is created the same way, and a call with nothing to act on is one line."""
    port = free_port()
    run = subprocess.Popen(
        [sys.executable, "-m", "arbcore", "run", "--no-dashboard", "--duration", "12", "--journal",
         str(tmp_path / "j.sqlite"), "--report-dir", str(tmp_path / "rep"), "--metrics-port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    try:
        assert run.stdout is not None
        seen = []
        for line in run.stdout:  # trading has started once a ticket was logged
            seen.append(line)
            if "ticket T" in line:
                break
        # a second engine on the same journal is refused in one line while this one runs
        second = arbcore("run", "--no-dashboard", "--duration", "2", "--journal", str(tmp_path / "j.sqlite"),
                         cwd=tmp_path)  # fmt: skip
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
        last = second.stderr.strip().splitlines()[-1]
        assert last.startswith("arbcore run: cannot start:") and "in use by another process" in last, last
        p = arbcore("kill", "--pid", str(run.pid))
        assert p.returncode == 0 and f"process {run.pid}" in p.stdout, p.stderr
        scraped, deadline = "", time.monotonic() + 5  # the metric says so while the engine runs on
        while "arbcore_kill_switch 1" not in scraped and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                scraped = r.read().decode()
        out = "".join(seen) + run.stdout.read()
        assert run.wait(30) == 0, out[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
    assert "KILL SWITCH engaged: SIGUSR1" in out, out[-3000:]
    assert "new tickets stopped" in out
    assert "arbcore_kill_switch 1" in scraped
    # the dashboard's lines say so too, to the last one
    statuses = [ln.split(" status=", 1)[1] for ln in out.splitlines() if " status=" in ln]
    assert statuses[-1] == "kill switch engaged: SIGUSR1", statuses[-3:]
    # tickets in flight at the kill finish (hedged or unwound); none may start after it
    line = next(ln for ln in out.splitlines() if "KILL SWITCH engaged" in ln)
    killed_ns = int(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp() * 1e9)
    with Journal(tmp_path / "j.sqlite") as j:
        created = [t.created_ns for t in j.tickets()]
    assert created and max(created) < killed_ns + 1_000_000, (max(created), killed_ns)
    kill_file = tmp_path / "KILL"
    p = arbcore("kill", "--kill-file", str(kill_file))
    assert p.returncode == 0 and kill_file.exists()
    one_line_error(arbcore("kill"), "arbcore kill:", "--pid")
