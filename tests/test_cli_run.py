"""`arbcore run` end to end in a subprocess on the simulated venues: a run of a few seconds
produces a report consistent with its journal, serves metrics while it runs, and contains a
plug-in that raises, and draws the live dashboard with the engine's own figures in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from pathlib import Path

import orjson

from arbcore.execution import Journal
from arbcore.runner.report import build_report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.Popen(
        [sys.executable, "-m", "arbcore", "run", "--no-dashboard", "--journal", str(tmp_path / "j.sqlite"),
         "--report-dir", str(tmp_path / "report"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip


def test_short_run_report_matches_journal_and_serves_metrics(tmp_path: Path) -> None:
    port = free_port()
    t0 = time.monotonic()
    proc = start(tmp_path, "--duration", "12", "--metrics-port", str(port))
    scraped = ""
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "arbcore_fills_total{" not in scraped:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    scraped = r.read().decode()
            except OSError:
                continue
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert time.monotonic() - t0 >= 12
    assert "arbcore_frames_total{" in scraped
    # the engine's own figures, not just # HELP lines (tickets done by the time of the scrape)
    values = {k: float(v) for k, _, v in (x.rpartition(" ") for x in scraped.splitlines() if not x.startswith("#"))}
    scraped_tickets = sum(v for k, v in values.items() if k.startswith("arbcore_tickets_total{"))
    for name in ("arbcore_orders_total{", "arbcore_fills_total{", "arbcore_order_ack_seconds_count{"):
        assert sum(v for k, v in values.items() if k.startswith(name)) > 0, name
    assert values["arbcore_opportunities_total"] >= scraped_tickets > 0
    assert values["arbcore_kill_switch"] == 0 and values["arbcore_open_tickets"] >= 0
    lines = out.splitlines()
    assert any(" venue=" in x and "state=LIVE" in x for x in lines), out[-3000:]
    report = orjson.loads((tmp_path / "report/report.json").read_bytes())
    with Journal(tmp_path / "j.sqlite") as j:
        tickets = j.tickets()
        pairs = j.pnl_by_venue_pair() if j.orders() else []
    assert report["tickets"]["count"] == len(tickets) >= 1, "no tickets in 12 s on the default"
    assert scraped_tickets <= len(tickets)
    again = build_report(tmp_path / "j.sqlite", {"opportunities": report["opportunities"]})
    assert again["pnl_by_pair"] == report["pnl_by_pair"]
    assert {(p["buy_venue"], p["sell_venue"]) for p in report["pnl_by_pair"]} == {
        (p.buy_venue, p.sell_venue) for p in pairs
    }
    assert report["opportunities"] >= report["tickets"]["count"]
    for name in ("pnl_over_time.png", "spread_distribution.png", "latency_histogram.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000


def test_a_raising_plugin_is_contained(tmp_path: Path) -> None:
    """A plug-in that raises is stopped and the engine runs on; the exit report covers this run
    alone: the journal's earlier ticket (another run's) is not in it (the report read every
    ticket in the journal)."""
    with Journal(tmp_path / "j.sqlite") as j:
        j.write_ticket("T-earlier-run", "BTC/USDT", "binance", "okx")
    (tmp_path / "boom.py").write_text(
        "from arbcore.runner.plugins import Strategy\n"
        "class Boom(Strategy):\n"
        "    seen = 0\n"
        "    def on_opportunity(self, opp):\n"
        "        self.seen += 1\n"
        "        if self.seen == 2:\n"
        "            raise RuntimeError('plug-in bug')\n"
        "        return None\n"
    )
    t0 = time.monotonic()
    proc = start(tmp_path, "--duration", "8", "--strategy", str(tmp_path / "boom.py"))
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-3000:]
    assert time.monotonic() - t0 >= 8  # kept running after the plug-in stopped
    both = out + err
    assert "strategy Boom stopped: in on_opportunity: RuntimeError: plug-in bug" in both, both[-3000:]
    assert both.count("strategy Boom stopped") >= 1
    report = orjson.loads((tmp_path / "report/report.json").read_bytes())
    assert report["tickets"]["count"] == 0 and report["ticket_details"] == [], report["ticket_details"]
    assert isinstance(report["since_ns"], int) and report["since_ns"] > time.time_ns() - 60 * 10**9
    assert build_report(tmp_path / "j.sqlite")["tickets"]["count"] == 1  # the journal keeps it


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_dashboard_of_a_real_run_in_a_pseudo_terminal(tmp_path: Path) -> None:
    """`arbcore run` on a terminal: the dashboard shows LIVE books, opportunities the strategy saw,
    executed tickets with their PnL and a nonzero realised PnL, all from the running engine."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 80, 170, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR", "TERM"}}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "arbcore", "run", "--duration", "10", "--journal", str(tmp_path / "j.sqlite"),
         "--report-dir", str(tmp_path / "report")],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path,
    )  # fmt: skip
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 180
    try:
        # read to the terminal's end (EIO once the child closed it), not to a pause after the child
        # exited: a child that wrote its last output between a select timeout and poll() (under load)
        # left that output unread, the last picture cut short
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        os.close(master)
        proc.wait(30)
    screen = ANSI.sub("", out.decode("utf-8", "replace"))
    assert proc.returncode == 0, screen[-3000:]
    assert "report written to" in screen, screen[-3000:]  # all of it read
    # the last picture, above the exit report: the run's final figures, the books still LIVE
    last = screen[screen.rfind("arbcore ", 0, screen.rfind("Realised PnL:")) :]
    assert "LIVE" in last and "BTC/USDT:LIVE" in last, last[:3000]
    pnl = re.search(r"Realised PnL: (\S+) USDT", last)
    assert pnl is not None and pnl.group(1) not in ("0", "-"), last[:400]
    report = orjson.loads((tmp_path / "report/report.json").read_bytes())
    header = re.search(r"opportunities (\d+)  tickets (\d+)", last)
    assert header is not None, last[:400]
    # the same figures as the exit report (the last picture was drawn before the tickets in flight
    # ended: fewer tickets, another PnL and exposure)
    assert (pnl.group(1), int(header.group(1)), int(header.group(2))) == (
        report["pnl_total"]["USDT"],
        report["opportunities"],
        report["tickets"]["count"],
    ), last[:400]
    exposure = ", ".join(f"{v} {a}" for a, v in report["residual_exposure"]["net"].items())
    assert f"Residual exposure: {exposure}" in last, (exposure, last[:400])
    opps = last[last.find("Recent opportunities") : last.find("Recent tickets")]
    assert re.search(r"BTC/USDT|ETH/USDT", opps), opps
    tickets = last[last.find("Recent tickets") : last.find("Balances")]
    assert re.search(r"DONE|HEDGED", tickets), tickets
