"""The dashboard: live in a pseudo-terminal (what is on screen), plain greppable lines without a
TTY, and rows built from real books."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

from arbcore.runner.config import load_default
from arbcore.runner.dashboard import (
    BalanceRow,
    Dashboard,
    DashboardState,
    OpportunityRow,
    TicketRow,
    VenueRow,
    log_handler,
    plain_lines,
    quotes_from_book,
    run_dashboard,
    spreads_from_book,
)

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from arbcore.runner.config import load_default
    from arbcore.runner.dashboard import *

    c = load_default()
    book = c.instrument("BTC/USDT").build_book(0, c.balances())
    book.apply_snapshot("binance", bids=[("60000.00", "1")], asks=[("60000.50", "1")], seq=1)
    book.apply_snapshot("okx", bids=[("60100.10", "1")], asks=[("60100.20", "1")], seq=1)
    state = DashboardState(
        title="arbcore test", elapsed_s=3.0, strategy="taker",
        venues=[VenueRow("binance", "binance_spot", "LIVE", 0.42, 48.0, 0, (("BTC/USDT", "LIVE"),)),
                VenueRow("kraken", "kraken", "SYNCING", None, 0.0, 2),
                VenueRow("okx", "okx", "LIVE", 1.5, 51.0, 0)],
        quotes=[quotes_from_book(book)],
        spreads=spreads_from_book(book),
        opportunities=[OpportunityRow(time.time_ns(), "BTC/USDT", "binance", "okx", "0.5", 13.7, "41.18", True)],
        tickets=[TicketRow(time.time_ns(), "T-0001", "BTC/USDT", "binance", "okx", "0.5", "FILLED", "41.18")],
        balances=[BalanceRow("okx", "BTC", "2.5", "0")],
        realised_pnl={"USDT": "41.18"}, exposure={"BTC": "0"},
        opportunities_total=1, tickets_total=1,
    )
    d = Dashboard(interval_s=0.05)
    assert d.live, "stdout should be a terminal"
    import logging
    logging.basicConfig(level=logging.INFO, handlers=[log_handler(d)], force=True)
    d.start()
    logging.getLogger("arbcore.strategy").error("strategy flaky stopped: in on_timer: ValueError: x")
    for i in range(3):
        state.elapsed_s = 3.0 + i
        d.update(state, force=True)
        time.sleep(0.05)
    d.stop()
    print("\\nDONE")
    """
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@pytest.mark.parametrize(("rows", "cols"), [(60, 160), (24, 80)])
def test_dashboard_in_a_pseudo_terminal(tmp_path: Path, rows: int, cols: int) -> None:
    """On 80x24 the live view cropped everything below the spreads (no opportunities, tickets,
    balances): the picture is now laid out for the terminal's size."""
    script = tmp_path / "dash.py"
    script.write_text(SCRIPT)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR", "TERM"}}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([sys.executable, str(script)], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.wait(10)
    screen = ANSI.sub("", out.decode("utf-8", "replace"))
    assert proc.returncode == 0, screen
    assert "\x1b[" in out.decode("utf-8", "replace")  # drawn with terminal escapes, not plain lines
    for text in [
        "arbcore test", "Venues", "binance_spot", "LIVE", "SYNCING", "0.42", "Best bid / ask", "60100.1", "60000.5",
        "Spreads net of fees", "Recent opportunities", "13.70", "Recent tickets", "T-0001", "FILLED",
        "Balances", "Realised PnL", "41.18 USDT", "Residual exposure", "DONE",
    ]:  # fmt: skip
        assert text in screen, (text, screen)
    # the log line above the live view (rich wraps it on 80 columns)
    assert "strategy flaky stopped: in on_timer: ValueError: x" in re.sub(r"\s+", " ", screen), screen
    assert "t=3.0s venue=" not in screen  # not the plain fallback


def test_plain_lines_without_a_tty() -> None:
    buf = io.StringIO()
    d = Dashboard(file=buf, interval_s=10.0)
    assert not d.live
    state = DashboardState(
        elapsed_s=1.5,
        strategy="taker",
        venues=[VenueRow("okx", "okx", "LIVE", 0.5, 20.0, 1)],
        tickets=[TicketRow(1, "T1", "BTC/USDT", None, "okx", "0.01", "HEDGED", "-0.2")],
        realised_pnl={"USDT": "-0.2"},
        exposure={"BTC": "0"},
    )
    assert d.update(state)
    assert not d.update(state)  # within the interval
    d.stop(state)
    lines = buf.getvalue().splitlines()
    assert "t=1.5s venue=okx protocol=okx state=LIVE p50_ms=0.50 msgs_s=20.0 errors=1" in lines
    assert "t=1.5s ticket id=T1 instrument=BTC/USDT buy=- sell=okx qty=0.01 outcome=HEDGED pnl=-0.2" in lines
    assert any(line.startswith("t=1.5s pnl USDT=-0.2 exposure BTC=0") for line in lines)
    assert len(lines) == 2 * len(plain_lines(state)) - 1  # the ticket once: the stop's picture has no new one
    assert "\x1b" not in buf.getvalue()


def test_rows_from_books() -> None:
    c = load_default()
    book = c.instrument("BTC/USDT").build_book(0, c.balances())
    book.apply_snapshot("binance", bids=[("60000", "1")], asks=[("60010", "1")], seq=1)
    book.apply_snapshot("kraken", bids=[("60200", "1")], asks=[("60210", "1")], seq=1)
    q = quotes_from_book(book)
    assert (q.bid, q.bid_venue, q.ask, q.ask_venue) == ("60200", "kraken", "60010", "binance")
    spreads = {(s.buy_venue, s.sell_venue): s.net_bps for s in spreads_from_book(book)}
    assert len(spreads) == 6 and spreads[("binance", "okx")] is None  # okx not LIVE
    # buy 60010 * 1.001, sell 60200 * (1 - 0.0026)
    expect = (60200 * 0.9974 - 60010 * 1.001) / (60010 * 1.001) * 1e4
    assert abs((spreads[("binance", "kraken")] or 0) - expect) < 1e-9


def test_async_loop_and_plain_log_handler(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import logging

    buf = io.StringIO()
    d = Dashboard(file=buf, live=False, interval_s=0.01)
    h = log_handler(d)
    assert isinstance(h, logging.StreamHandler) and not hasattr(h, "console")
    n = [0]

    def snap() -> DashboardState:
        n[0] += 1
        return DashboardState(elapsed_s=float(n[0]))

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_dashboard(d, snap, stop, 0.02))
        await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(main())
    pnl_lines = [x for x in buf.getvalue().splitlines() if " pnl " in x]
    assert len(pnl_lines) >= 3 and pnl_lines[-1].startswith(f"t={n[0]:.1f}s")


def test_ticket_rows_of_one_legged_and_residual_tickets() -> None:
    """A sell-only ticket (a strategy's hedge, a sweep) had no instrument and its quantity at 0
    decimals (raw); a residual showed as a raw integer ("RESIDUAL 1000")."""
    from types import SimpleNamespace

    from arbcore.execution.engine import LiveOrder
    from arbcore.execution.orders import OrderType, Side, TimeInForce
    from arbcore.execution.records import OrderIntent
    from arbcore.execution.ticket import TicketResult
    from arbcore.runner.app import _ticket_rows

    def order(leg: str, side: Side) -> LiveOrder:
        return LiveOrder(OrderIntent("T1", leg, 0, "okx", "BTC-USDT", "BTC/USDT", "BTC", "USDT", 2, 6, side,
                                     OrderType.LIMIT, TimeInForce.IOC, 5_000, 6_000_000))  # fmt: skip

    sell_only = TicketResult("T1", "done", sold=5_000, orders=[order("sell", Side.SELL)])
    residual = TicketResult("T2", "residual", bought=2_000, sold=1_000, residual=1_000,
                            orders=[order("buy", Side.BUY), order("sell", Side.SELL)])  # fmt: skip
    rows = _ticket_rows(SimpleNamespace(stats=SimpleNamespace(recent=[(1, sell_only), (2, residual)])))  # type: ignore[arg-type]
    assert [(r.instrument, r.buy_venue, r.sell_venue, r.qty, r.outcome) for r in rows] == [
        ("BTC/USDT", "okx", "okx", "0.002", "RESIDUAL 0.001"),
        ("BTC/USDT", None, "okx", "0.005", "DONE"),
    ]


def test_recent_rows_newest_first_at_their_own_time() -> None:
    """The session keeps its latest tickets and opportunities oldest first; the dashboard shows
    the first 8 rows (the plain lines 5) as the newest: it showed the oldest of them (the latest
    tickets never appeared) and every ticket at the time of the redraw, not when it ended."""
    from types import SimpleNamespace

    from arbcore.execution.ticket import TicketResult
    from arbcore.runner.app import _opportunity_rows, _ticket_rows

    recent = [(1_000 + k, TicketResult(f"T{k}", "missed")) for k in range(20)]
    rows = _ticket_rows(SimpleNamespace(stats=SimpleNamespace(recent=recent)))  # type: ignore[arg-type]
    assert [(r.ticket_id, r.ts_ns) for r in rows] == [(f"T{k}", 1_000 + k) for k in range(19, 9, -1)]
    opps = SimpleNamespace(stats=SimpleNamespace(recent_opportunities=[(k, f"opp{k}", k % 2 == 0) for k in range(10)]))
    snap = SimpleNamespace(opportunity_row=lambda o, taken, ts: (ts, o, taken))
    assert _opportunity_rows(snap, opps)[:2] == [(9, "opp9", False), (8, "opp8", True)]  # type: ignore[arg-type,comparison-overlap]
    state = DashboardState(tickets=rows)
    assert [x.split()[2] for x in plain_lines(state) if " ticket " in x] == [f"id=T{k}" for k in range(19, 14, -1)]


def test_dumb_terminal_gets_the_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """TERM=dumb: rich draws no live view on a terminal that cannot move the cursor, so a live
    dashboard showed nothing until the run ended; the plain lines are printed instead."""
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            monkeypatch.setenv("TERM", "dumb")
            assert not Dashboard(file=tty).live
            assert type(log_handler(Dashboard(file=tty))) is logging.StreamHandler  # plain lines on stderr
            monkeypatch.setenv("TERM", "xterm-256color")
            assert Dashboard(file=tty).live
    finally:
        os.close(slave)
        os.close(master)


def test_a_narrow_terminal_folds_numbers_never_cuts_them() -> None:
    """On 60 columns the tickets table cut its cells with an ellipsis: qty "0.0…", pnl "-0.0…"."""
    from rich.console import Console

    from arbcore.runner.dashboard import render

    state = DashboardState(
        tickets=[TicketRow(1, "T4f91a211b40a02-58", "BTC/USDT", "binance", "okx", "0.00632", "RESIDUAL -0.00002",
                           "-0.01714024")],
        balances=[BalanceRow("binance", "USDT", "251957.3710539519", "0")],
    )  # fmt: skip
    buf = io.StringIO()
    Console(file=buf, width=60).print(render(state))
    assert "…" not in buf.getvalue(), buf.getvalue()
    assert "251957.3710539519" in buf.getvalue()


def _default_run_state() -> DashboardState:
    """What `arbcore run` on the default config shows: 3 venues, 2 instruments (12 spreads from
    real books), 8 opportunities, 8 tickets, 9 balances."""
    from arbcore.runner.dashboard import OpportunityRow

    c = load_default()
    venues = ["binance", "kraken", "okx"]
    books = []
    for inst, mid in (("BTC/USDT", 60000), ("ETH/USDT", 3000)):
        book = c.instrument(inst).build_book(0, c.balances())
        for k, v in enumerate(venues):
            book.apply_snapshot(v, bids=[(f"{mid + k}.10", "1")], asks=[(f"{mid + k}.35", "1")], seq=1)
        books.append(book)
    now = time.time_ns()
    amounts = {"BTC": "3.00632000", "ETH": "39.99368000", "USDT": "251957.3710539519"}
    return DashboardState(
        title="arbcore", elapsed_s=123.4, strategy="taker",
        venues=[VenueRow(v, p, "LIVE", 0.42, 50.0, 0, (("BTC/USDT", "LIVE"), ("ETH/USDT", "LIVE")))
                for v, p in zip(venues, ["binance_spot", "kraken", "okx"], strict=True)],
        quotes=[quotes_from_book(b) for b in books],
        spreads=[s for b in books for s in spreads_from_book(b)],
        opportunities=[OpportunityRow(now - k, "BTC/USDT", "binance", "okx", "0.00632", 13.7 + k, "0.4123456789",
                                      k % 2 == 0) for k in range(8)],
        tickets=[TicketRow(now - k, f"T4f91a211b40a02-{58 - k}", "BTC/USDT", "binance", "okx", "0.00632",
                           "RESIDUAL -0.00002" if k == 2 else "DONE", "-0.0171402400") for k in range(8)],
        balances=[BalanceRow(v, a, t, "0") for v in venues for a, t in amounts.items()],
        realised_pnl={"USDT": "12.3456789012"}, exposure={"BTC": "0.00000000", "ETH": "-0.00632000"},
        opportunities_total=412, tickets_total=57,
    )  # fmt: skip


def _draw(state: DashboardState, width: int, height: int) -> str:
    from rich.console import Console

    from arbcore.runner.dashboard import render

    console = Console(file=io.StringIO(), width=width, height=height, record=True)
    console.print(render(state))
    return console.export_text()


@pytest.mark.parametrize(("width", "height"), [(120, 40), (80, 24)])
def test_every_section_fits_the_terminal(width: int, height: int) -> None:
    """rich's live view crops what does not fit the terminal's height: the default config's 74
    lines never showed the tickets or balances on 50 rows, only the venues and quotes on 80x24."""
    state = _default_run_state()
    assert len(state.spreads) == 12
    screen = _draw(state, width, height)
    assert len(screen.splitlines()) <= height, screen
    for text in [
        "Venues", "Best bid / ask", "Spreads net of fees", "Recent opportunities", "Recent tickets", "Balances",
        "strategy taker (running)", "opportunities 412 tickets 57", "Realised PnL: 12.3456789012 USDT",
        "Residual exposure: 0.00000000 BTC, -0.00632000 ETH", "binance_spot", "kraken", "okx", "LIVE",
        "60002.1", "60000.35", "3002.1", "3000.35",
    ]:  # fmt: skip
        assert text in re.sub(r"\s+", " ", screen), (text, screen)  # (the headline may wrap on 80 columns)
    assert "…" not in screen
    if (width, height) == (120, 40):  # all of it, nothing cut
        assert "more" not in screen, screen
        assert all(f"T4f91a211b40a02-{k}" in screen for k in range(51, 59)), screen
        assert screen.count("251957.3710539519") == 3 and screen.count("-0.0171402400") == 8, screen
    else:  # what is cut says so
        assert re.search(r"\+\d+ more", screen), screen


def test_cut_tables_say_how_many_rows_are_not_shown() -> None:
    """A table longer than its share shows "+N more" (never cut silently), the best spreads first;
    the kill switch stays in the headline."""
    state = _default_run_state()
    state.spreads = state.spreads * 5  # 60 pairs
    state.strategy_status = "kill switch engaged: SIGUSR1"
    screen = _draw(state, 120, 40)
    assert len(screen.splitlines()) <= 40 and "kill switch engaged: SIGUSR1" in screen, screen
    spreads = screen[screen.find("Spreads net of fees") :]
    more = re.search(r"\+(\d+) more", spreads)
    assert more is not None, screen
    shown = re.findall(r"[+-]\d+\.\d\d", spreads[: more.start()])
    assert len(shown) + int(more.group(1)) == 60, screen
    best = sorted((s.net_bps for s in state.spreads if s.net_bps is not None), reverse=True)
    assert [float(x) for x in shown] == [round(b, 2) for b in best[: len(shown)]], screen


def test_plain_lines_print_each_ticket_and_opportunity_once() -> None:
    """The plain lines are a log: the state again at each interval, but each ticket and each
    opportunity once. Before, every print repeated the latest 5 of each (a 30 s --no-dashboard
    run printed 300 ticket lines for 189 tickets; one ticket 6 times), so a grep of the log
    counted tickets several times. A ticket whose outcome changed is printed again."""
    buf = io.StringIO()
    d = Dashboard(file=buf, live=False, interval_s=0.0)

    def ticket(k: int, outcome: str = "DONE") -> TicketRow:
        return TicketRow(k, f"T{k}", "BTC/USDT", "okx", "kraken", "0.01", outcome, "0.1")

    def opp(k: int) -> OpportunityRow:
        return OpportunityRow(k, "BTC/USDT", "okx", "kraken", "0.01", 3.0, "0.2")

    d.update(DashboardState(elapsed_s=1.0, tickets=[ticket(2), ticket(1)], opportunities=[opp(1)]))
    d.update(DashboardState(elapsed_s=2.0, tickets=[ticket(3), ticket(2), ticket(1)], opportunities=[opp(1)]))
    d.update(DashboardState(elapsed_s=3.0, tickets=[ticket(3, "RESIDUAL 0.001"), ticket(2)], opportunities=[opp(2)]))
    d.stop(DashboardState(elapsed_s=4.0, tickets=[ticket(4), ticket(3, "RESIDUAL 0.001")]))
    lines = buf.getvalue().splitlines()
    tickets = [(x.split()[0], x.split()[2], x.split()[7]) for x in lines if " ticket " in x]
    assert tickets == [
        ("t=1.0s", "id=T2", "outcome=DONE"),
        ("t=1.0s", "id=T1", "outcome=DONE"),
        ("t=2.0s", "id=T3", "outcome=DONE"),
        ("t=3.0s", "id=T3", "outcome=RESIDUAL"),
        ("t=4.0s", "id=T4", "outcome=DONE"),
    ]
    assert [x.split()[0] for x in lines if " opportunity " in x] == ["t=1.0s", "t=3.0s"]
    assert len([x for x in lines if " pnl " in x]) == 4  # the state, at every print


def test_plain_lines_print_every_ticket_that_ended_between_two_pictures() -> None:
    """The pictures carried the latest 10 tickets: a default run ended more than 10 between two
    (0.5 s apart) now and then, and 146 of its 5,042 tickets never had a ``ticket id=`` line
    (the README has ``grep ' ticket id='`` count the tickets)."""
    from types import SimpleNamespace

    from arbcore.execution.ticket import TicketResult
    from arbcore.runner.app import _ticket_rows
    from arbcore.runner.session_parts import SessionStats

    stats = SessionStats()
    session = SimpleNamespace(stats=stats)
    buf = io.StringIO()
    d = Dashboard(file=buf, live=False, interval_s=0.0)
    shown = 0
    ended = 0
    for burst in (3, 25, 0, 40):  # tickets ended before each picture
        for _ in range(burst):
            ended += 1
            stats.recent.append((1_000 + ended, TicketResult(f"T{ended}", "done")))
        rows = _ticket_rows(session, shown)  # type: ignore[arg-type]
        shown = rows[0].ts_ns if rows else shown
        assert d.update(DashboardState(tickets=rows), force=True)
    ids = [x.split()[2] for x in buf.getvalue().splitlines() if " ticket id=" in x]
    assert sorted(ids) == sorted(f"id=T{k}" for k in range(1, ended + 1))  # each once
    assert len(_ticket_rows(session)) == 10  # type: ignore[arg-type]  # without a time: the latest 10
