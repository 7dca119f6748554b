"""Reports from a journal written through the real Journal API: counts, fill ratio, PnL net of
fees per venue pair (equal to the journal's own), expected vs realised prices, hedge lag,
residual exposure, latency percentiles; JSON and PNG plots."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
import shutil
import signal
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from arbcore.execution import EventKind, Fill, Journal, JournalOpenError, OrderIntent, OrderType, Side, TimeInForce
from arbcore.runner.report import ReportError, build_report, percentiles, print_report, write_run_report

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def _intent(  # noqa: PLR0917
    ticket: str, leg: str, venue: str, side: Side, qty: int, limit: int, inst: str = "BTC/USDT"
) -> OrderIntent:
    base, quote = inst.split("/")
    symbol = {"binance": inst.replace("/", ""), "okx": inst.replace("/", "-"), "kraken": inst}[venue]
    qd = 8 if base == "BTC" else 6
    return OrderIntent(
        ticket, leg, 0, venue, symbol, inst, base, quote, 2, qd, side, OrderType.LIMIT, TimeInForce.IOC, qty, limit
    )


def write_sample_journal(path: Path) -> None:
    """Three tickets: T1 complete (binance -> okx), T2 one leg short (kraken -> okx), T3 rejected."""
    with sample_journal(path) as j:
        write_sample_tickets(j)


def sample_journal(path: Path, start: int = T0) -> Journal:
    clock = itertools.count(start, MS)  # every journal write is 1 ms after the previous one
    return Journal(path, clock=lambda: next(clock))


def write_sample_tickets(j: Journal) -> None:
    """What write_sample_journal writes, into an open journal."""
    # T1: buy 0.5 BTC on binance at 60000.00 (fee 30 USDT), sell 0.5 on okx at 60100.00 (fee 30.05)
    j.write_ticket(
        "T1", "BTC/USDT", "binance", "okx",
        {"expected_buy_price": 6_000_000, "expected_sell_price": "60110.00", "edge_bps": 13.7},
    )  # fmt: skip
    b = j.write_intent(_intent("T1", "buy", "binance", Side.BUY, 50_000_000, 6_000_000))
    s = j.write_intent(_intent("T1", "sell", "okx", Side.SELL, 50_000_000, 6_011_000))
    j.append_event(b, EventKind.SENT)
    j.append_event(s, EventKind.SENT)
    j.append_event(b, EventKind.ACK, venue_order_id="B1")
    j.append_event(b, EventKind.FILL, fill=Fill("f1", 50_000_000, 6_000_000, 300_000_000_000, "USDT", 10))
    j.append_event(s, EventKind.ACK, venue_order_id="S1")
    j.append_event(s, EventKind.FILL, fill=Fill("f2", 20_000_000, 6_010_000, 120_200_000_000, "USDT", 10))
    j.append_event(s, EventKind.FILL, fill=Fill("f3", 30_000_000, 6_010_000, 180_300_000_000, "USDT", 10))
    # T2: buy 0.2 on kraken at 59990.00, the sell on okx fills only 0.1 at 60050.00, rest expires
    j.write_ticket(
        "T2", "BTC/USDT", "kraken", "okx", {"expected_buy_price": "5999000", "expected_sell_price": "6005000"}
    )
    b = j.write_intent(_intent("T2", "buy", "kraken", Side.BUY, 20_000_000, 5_999_000))
    s = j.write_intent(_intent("T2", "sell", "okx", Side.SELL, 20_000_000, 6_005_000))
    j.append_event(b, EventKind.SENT)
    j.append_event(s, EventKind.SENT)
    j.append_event(b, EventKind.ACK)
    j.append_event(b, EventKind.FILL, fill=Fill("k1", 20_000_000, 5_999_000))
    j.append_event(s, EventKind.ACK)
    j.append_event(s, EventKind.FILL, fill=Fill("o1", 10_000_000, 6_005_000))
    j.append_event(s, EventKind.EXPIRE)
    j.write_ticket_outcome("T2", "residual", {"hedge_lag_ns": 7 * MS, "decision_to_wire_ns": 150_000})
    # T3: ETH, the buy is rejected, the sell never sent... cancelled
    j.write_ticket(
        "T3", "ETH/USDT", "binance", "kraken", {"expected_buy_price": "3000.00", "expected_sell_price": "3003.00"}
    )
    b = j.write_intent(_intent("T3", "buy", "binance", Side.BUY, 1_000_000, 300_000, "ETH/USDT"))
    j.append_event(b, EventKind.SENT)
    j.append_event(b, EventKind.REJECT, detail={"reason": "insufficient balance", "signature": "abc"})


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    p = tmp_path / "j.sqlite"
    write_sample_journal(p)
    return p


def test_report_numbers(journal_path: Path) -> None:
    r = build_report(journal_path, {"opportunities": 42, "latency_ms": {"detect": [0.1, 0.2, 0.3]}})
    assert r["opportunities"] == 42 and r["opportunities_source"] == "run"
    assert r["tickets"] == {"count": 3, "by_outcome": {"complete": 1, "no_fill": 1, "residual": 1}}
    assert r["orders"] == 5 and r["fills"] == 5
    # per order: 1, 1, 1, 0.5, 0 -> mean 0.7; BTC: 1.3 BTC of 1.4 ordered
    assert r["fill_ratio"]["overall"] == pytest.approx(0.7)
    assert r["fill_ratio"]["by_instrument"]["BTC/USDT"] == pytest.approx(1.3 / 1.4)
    assert r["fill_ratio"]["by_instrument"]["ETH/USDT"] == 0
    with Journal(journal_path) as j:
        pairs = j.pnl_by_venue_pair()
    by_pair = {(p["buy_venue"], p["sell_venue"]): p for p in r["pnl_by_pair"]}
    assert len(by_pair) == len(pairs)
    # T1: 0.5 x 100 gross - 30 - 30.05 fees = -10.05; T2: 0.1 x 60 = 6 on the matched 0.1
    assert by_pair[("binance", "okx")]["realised"] == "-10.05"
    assert by_pair[("binance", "okx")]["fees"] == "60.05"
    assert by_pair[("kraken", "okx")]["realised"] == "6"
    assert r["pnl_total"] == {"USDT": "-4.05"}
    t1, t2, t3 = r["ticket_details"]
    assert t1["expected_buy_price"] == "60000" and t1["realised_buy_price"] == 60000.0
    assert t1["expected_sell_price"] == "60110" and t1["realised_sell_price"] == 60100.0
    assert t1["buy_slippage_bps"] == 0 and t1["sell_slippage_bps"] == pytest.approx(10 / 60110 * 1e4)
    assert t1["hedge_lag_ms"] == 3.0  # first fill (buy) at +6 ms, last sell fill at +9 ms
    assert t2["position"] == "0.1" and t2["outcome"] == t2["derived_outcome"] == "residual"
    assert t2["hedge_lag_ms"] == 7.0  # the engine's, from the journaled outcome
    assert t2["expected_buy_price"] == "59990" and t2["buy_slippage_bps"] == 0
    assert r["latency_ms"]["decision_to_wire"]["p50"] == 0.15
    assert t3["outcome"] == "no_fill"
    assert r["residual_exposure"]["net"] == {"BTC": "0.1", "ETH": "0"}
    assert r["residual_exposure"]["by_venue"]["okx:BTC"] == "-0.6"
    assert r["hedge_lag_ms"]["count"] == 2
    ack = r["latency_ms"]["ack"]
    assert ack["binance"]["count"] == 1 and ack["binance"]["p50"] == 2.0  # SENT at +3, ACK at +5 ms
    assert r["latency_ms"]["detect"]["p50"] == 0.2
    assert r["spreads_bps"]["binance->okx"] == [pytest.approx(110 / 60000 * 1e4)]
    assert r["spreads_bps"]["binance->kraken"] == [pytest.approx(10.0)]
    assert "signature" not in orjson.dumps(r).decode() or "abc" not in orjson.dumps(r).decode()


def test_fine_fees_count_and_exposures_agree(tmp_path: Path) -> None:
    """A USDT fee finer than ETH/USDT's notional scale is in the PnL (it was left out), an ETH fee
    finer than its quantities is in the positions, the per-venue exposures sum to the net (the
    per-venue ones left base fees out), and an order acked twice counts its first ack once."""
    clock = itertools.count(T0, MS)
    with Journal(tmp_path / "j.sqlite", clock=lambda: next(clock)) as j:
        j.write_ticket("T1", "ETH/USDT", "binance", "okx")
        b = j.write_intent(_intent("T1", "buy", "binance", Side.BUY, 50_000, 300_000, "ETH/USDT"))
        s = j.write_intent(_intent("T1", "sell", "okx", Side.SELL, 50_000, 300_100, "ETH/USDT"))
        for cid in (b, s):
            j.append_event(cid, EventKind.SENT)
        j.append_event(b, EventKind.ACK)
        j.append_event(b, EventKind.ACK)  # okx and kraken journal two
        j.append_event(b, EventKind.FILL, fill=Fill("f1", 50_000, 300_000, 4_321, "ETH", 8))  # 0.00004321 ETH
        j.append_event(s, EventKind.ACK)
        j.append_event(s, EventKind.FILL, fill=Fill("f2", 50_000, 300_100, 1_500_500_001, "USDT", 10))
    r = build_report(tmp_path / "j.sqlite")
    (t1,) = r["ticket_details"]
    # FIFO: the ETH fee disposes of 0.00004321 of the buy's lot at 0 (-0.12963), the sell closes
    # the 0.04995679 left at +1 (+0.04995679) and opens a short of 0.00004321; less the USDT fee
    assert t1["realised"] == "-0.2297232101" and t1["fees"] == "0.1500500001"
    assert r["pnl_total"] == {"USDT": "-0.2297232101"}
    assert t1["position"] == "-0.00004321"
    assert r["residual_exposure"]["net"] == {"ETH": "-0.00004321"}
    assert r["residual_exposure"]["by_venue"] == {"binance:ETH": "0.04995679", "okx:ETH": "-0.05"}
    assert r["latency_ms"]["ack"]["binance"]["count"] == 1
    # the pair's fees name the ETH binance took as well as the USDT (they said 0.1500500001 USDT
    # alone, where the ticket's line and the realised figure had both)
    (pair,) = r["pnl_by_pair"]
    assert (pair["fees"], pair["base_fees"], pair["other_fees"]) == ("0.1500500001", {"ETH": "0.00004321"}, {})
    buf = io.StringIO()
    print_report(r, Console(file=buf, width=200))
    assert "0.1500500001 + 0.00004321 ETH" in buf.getvalue(), buf.getvalue()
    import argparse

    from arbcore.runner.commands import cmd_journal

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cmd_journal(argparse.Namespace(journal=str(tmp_path / "j.sqlite"), ticket=None)) == 0
    assert ("pair binance -> okx: 1 tickets, realised -0.2297232101 USDT net of fees (fees 0.1500500001 USDT "
            "+ 0.00004321 ETH)") in out.getvalue(), out.getvalue()  # fmt: skip


def write_memecoin_ticket(j: Journal) -> None:
    """PEPE/USDT at 1e-10 USDT (price_decimals 12, qty_decimals 2): buy 100 on binance at
    0.000000000108, its fee 0.1 PEPE as Binance prints it (8 places); sell 99.9 on okx at
    0.000000000109, fee 1e-15 USDT. The PnL's scale is 12 + 8 = 20 decimals, past the core's 18."""
    j.write_ticket("T1", "PEPE/USDT", "binance", "okx")
    limit, ioc = OrderType.LIMIT, TimeInForce.IOC
    intents = [
        OrderIntent("T1", leg, 0, venue, symbol, "PEPE/USDT", "PEPE", "USDT", 12, 2, side, limit, ioc, qty, price)
        for leg, venue, symbol, side, qty, price in (
            ("buy", "binance", "PEPEUSDT", Side.BUY, 10_000, 108),
            ("sell", "okx", "PEPE-USDT", Side.SELL, 9_990, 109),
        )
    ]
    b, s = (j.write_intent(i) for i in intents)
    for cid in (b, s):
        j.append_event(cid, EventKind.SENT)
    j.append_event(b, EventKind.FILL, fill=Fill("f1", 10_000, 108, 10_000_000, "PEPE", 8))
    j.append_event(s, EventKind.FILL, fill=Fill("f2", 9_990, 109, 10, "USDT", 16))


def test_pnl_finer_than_18_decimals_is_reported(tmp_path: Path) -> None:
    """A base fee at Binance's 8 places on a 12-decimal price keeps the ticket's PnL at 20
    decimals: the report (and the run's exit report, the dashboard) failed with a traceback
    ("scale of 20 decimals exceeds 18"); the realised prices printed as 1.08e-10."""
    with sample_journal(tmp_path / "j.sqlite") as j:
        write_memecoin_ticket(j)
    r = build_report(tmp_path / "j.sqlite")
    (t1,) = r["ticket_details"]
    # FIFO: the fee disposes of 0.1 at 0 (-0.1 x 1.08e-10), 99.9 sold 1e-12 up, less 1e-15 USDT
    assert t1["realised"] == "0.000000000089099" and t1["position"] == "0"
    assert r["pnl_total"] == {"USDT": "0.000000000089099"}
    buf = io.StringIO()
    print_report(r, Console(file=buf, width=200))
    text = buf.getvalue()
    assert "0.000000000108" in text and "0.000000000109" in text and "e-10" not in text, text


def test_opportunities_without_run_stats(journal_path: Path) -> None:
    r = build_report(journal_path)
    assert r["opportunities"] == 3 and r["opportunities_source"].startswith("journal")


def test_outputs(journal_path: Path, tmp_path: Path) -> None:
    buf = io.StringIO()
    out = tmp_path / "rep"
    r = write_run_report(journal_path, out, {"opportunities": 7}, console=Console(file=buf, width=160))
    text = buf.getvalue()
    for s in ["PnL net of fees per venue pair", "binance", "-10.05", "total", "-4.05", "Expected vs realised",
              "Latency", "hedge lag", "residual exposure: 0.1 BTC"]:  # fmt: skip
        assert s in text, (s, text)
    assert orjson.loads((out / "report.json").read_bytes())["tickets"]["count"] == r["tickets"]["count"] == 3
    for name in ("pnl_over_time.png", "spread_distribution.png", "latency_histogram.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_empty_journal_and_errors(tmp_path: Path) -> None:
    Journal(tmp_path / "e.sqlite").close()
    r = build_report(tmp_path / "e.sqlite")
    assert r["tickets"]["count"] == 0 and r["fill_ratio"]["overall"] is None and r["pnl_total"] == {}
    buf = io.StringIO()
    print_report(r, Console(file=buf, width=120))
    with pytest.raises(ReportError, match=r"nope.sqlite: no such file"):
        build_report(tmp_path / "nope.sqlite")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ReportError, match="not an arbcore journal"):
        build_report(tmp_path / "x.txt")
    assert not (tmp_path / "nope.sqlite").exists()


def test_hedge_lag_counts_only_tickets_that_had_something_to_hedge(tmp_path: Path) -> None:
    """A ticket the engine ended "done" journals hedge_lag_ns 0: nothing was hedged. The report
    took that as missing and counted the legs' fill skew instead, so a default run's report had
    194 hedge lags for 63 tickets that had hedged (the dashboard's metric counted 63)."""
    p = tmp_path / "j.sqlite"
    with sample_journal(p) as j:
        j.write_ticket("T5", "BTC/USDT", "binance", "okx", {})
        b = j.write_intent(_intent("T5", "buy", "binance", Side.BUY, 10_000_000, 6_000_000))
        s = j.write_intent(_intent("T5", "sell", "okx", Side.SELL, 10_000_000, 6_001_000))
        for o, fill in ((b, Fill("g1", 10_000_000, 6_000_000)), (s, Fill("g2", 10_000_000, 6_001_000))):
            j.append_event(o, EventKind.SENT)
            j.append_event(o, EventKind.FILL, fill=fill)
        j.write_ticket_outcome("T5", "done", {"hedge_lag_ns": 0, "decision_to_wire_ns": 100_000})
    r = build_report(p)
    assert "hedge_lag_ms" not in r["ticket_details"][0]
    assert r["hedge_lag_ms"]["count"] == 0


def test_percentiles() -> None:
    assert percentiles([]) == {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    p = percentiles([float(x) for x in range(1, 101)])
    assert (p["p50"], p["p90"], p["p99"], p["max"]) == (50, 90, 99, 100)


def write_later_ticket(path: Path, start: int) -> None:
    """T4, created at ``start`` (a later run): 1 ETH bought on okx at 3000, 0.5 sold on kraken at
    3001.50, the rest of the sell expires: every journal write 5 ms after the previous one."""
    clock = itertools.count(start, 5 * MS)
    with Journal(path, clock=lambda: next(clock)) as j:
        j.write_ticket(
            "T4", "ETH/USDT", "okx", "kraken", {"expected_buy_price": 300_000, "expected_sell_price": 300_300}
        )
        b = j.write_intent(_intent("T4", "buy", "okx", Side.BUY, 1_000_000, 300_000, "ETH/USDT"))
        s = j.write_intent(_intent("T4", "sell", "kraken", Side.SELL, 1_000_000, 300_150, "ETH/USDT"))
        j.append_event(b, EventKind.SENT)  # +15 ms
        j.append_event(s, EventKind.SENT)  # +20
        j.append_event(b, EventKind.ACK)  # +25: okx acks in 10 ms
        j.append_event(b, EventKind.FILL, fill=Fill("e1", 1_000_000, 300_000))
        j.append_event(s, EventKind.ACK)  # +35: kraken in 15 ms
        j.append_event(s, EventKind.FILL, fill=Fill("e2", 500_000, 300_150))
        j.append_event(s, EventKind.EXPIRE)
        j.write_ticket_outcome("T4", "residual", {"hedge_lag_ns": 10 * MS, "decision_to_wire_ns": 250_000})


def test_report_since_covers_only_the_later_tickets(journal_path: Path) -> None:
    """`arbcore run`'s exit report read every ticket in the journal, an earlier run's too: with
    since_ns it covers the tickets created from then on, their orders, fills, PnL, exposures
    and latencies; without, the whole journal."""
    cut = T0 + 60 * 10**9
    write_later_ticket(journal_path, cut)
    r = build_report(journal_path, since_ns=cut)
    assert r["since_ns"] == cut
    assert [t["ticket_id"] for t in r["ticket_details"]] == ["T4"]
    assert r["tickets"] == {"count": 1, "by_outcome": {"residual": 1}}
    assert r["opportunities"] == 1
    assert (r["orders"], r["fills"]) == (2, 2)
    assert r["fill_ratio"] == {"overall": 0.75, "by_instrument": {"ETH/USDT": 0.75}}
    (pair,) = r["pnl_by_pair"]  # 0.5 ETH x 1.50, no fees
    assert (pair["buy_venue"], pair["sell_venue"], pair["tickets"], pair["realised"]) == ("okx", "kraken", 1, "0.75")
    assert r["pnl_total"] == {"USDT": "0.75"} and len(r["pnl_over_time"]) == 1
    assert r["residual_exposure"] == {"net": {"ETH": "0.5"}, "by_venue": {"kraken:ETH": "-0.5", "okx:ETH": "1"}}
    assert r["latency_ms"]["ack"] == {"kraken": percentiles([15.0]), "okx": percentiles([10.0])}
    assert r["latency_ms"]["first_fill"] == {"kraken": percentiles([20.0]), "okx": percentiles([15.0])}
    assert r["latency_ms"]["decision_to_wire"] == percentiles([0.25])
    assert r["latency_samples_ms"]["ack"] == [10.0, 15.0]
    assert r["hedge_lag_ms"] == percentiles([10.0])
    assert r["spreads_bps"] == {"okx->kraken": [pytest.approx(10.0)]}
    whole = build_report(journal_path)
    assert whole["since_ns"] is None and whole["tickets"]["count"] == 4 and whole["orders"] == 7
    assert whole["pnl_total"] == {"USDT": "-3.3"}  # -4.05 + 0.75
    assert build_report(journal_path, since_ns=cut + 1)["tickets"]["count"] == 0


def test_printed_opportunities_say_where_the_count_comes_from(journal_path: Path) -> None:
    """Without the run's figures the journal knows only the tickets an opportunity led to: the
    printed line said "opportunities 3" for them."""
    buf = io.StringIO()
    print_report(build_report(journal_path), Console(file=buf, width=200))
    line = buf.getvalue().splitlines()[1]
    assert line.startswith("tickets from opportunities 3 (opportunities seen: not recorded in the journal)  "), line
    buf = io.StringIO()
    print_report(build_report(journal_path, {"opportunities": 7}), Console(file=buf, width=200))
    assert buf.getvalue().splitlines()[1].startswith("opportunities 7  tickets 3 "), buf.getvalue()


def test_report_to_a_file_is_not_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`arbcore report J > file` cut the tables at rich's default 80 columns: ticket ids and
    prices ended in "…". Not on a terminal, the lines are as long as their content."""
    for var in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    tid = "T5d0c19a3f6b1e2-1234567"  # as the engine names them (pid, start time, sequence)
    clock = itertools.count(T0, MS)
    with Journal(tmp_path / "j.sqlite", clock=lambda: next(clock)) as j:
        j.write_ticket(
            tid, "BTC/USDT", "binance", "okx", {"expected_buy_price": 6_543_212, "expected_sell_price": 6_544_321}
        )
        b = j.write_intent(_intent(tid, "buy", "binance", Side.BUY, 12_345_678, 6_543_212))
        s = j.write_intent(_intent(tid, "sell", "okx", Side.SELL, 12_345_678, 6_544_321))
        j.append_event(b, EventKind.FILL, fill=Fill("f1", 12_345_678, 6_543_212, 123_456_789, "USDT", 10))
        j.append_event(s, EventKind.FILL, fill=Fill("f2", 12_345_678, 6_544_321, 123_456_789, "USDT", 10))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_report(build_report(tmp_path / "j.sqlite"))
    text = out.getvalue()
    assert "…" not in text, text
    for full in (tid, "65432.12", "65443.21", "1.3444443324"):  # ids, expected and realised prices, PnL
        assert full in text, (full, text)
    assert "\x1b[" not in text  # and plain text


# ---- read only: the journal's file is never written ---------------------------------------------


def _digest(*paths: Path) -> dict[str, str | None]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in paths}


def _files(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def write_killed_engine_journal(path: Path) -> None:
    """The sample tickets written by a process that is then SIGKILLed: its commits are only in
    the -wal (no checkpoint), with the -shm beside it."""
    pid = os.fork()
    if pid == 0:  # the child
        try:
            write_sample_tickets(sample_journal(path))
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert Path(f"{path}-wal").stat().st_size > 0 and Path(f"{path}-shm").exists()


def test_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """A report on an SQLite file of another program said "0 tickets" and left it in WAL mode
    with the journal's tables added."""
    p = tmp_path / "o.sqlite"
    with contextlib.closing(sqlite3.connect(p)) as c:
        c.execute("CREATE TABLE foo (x)")
        c.commit()
    before = _digest(*_files(p))
    with pytest.raises(ReportError, match=r"^\S*o.sqlite: not an arbcore journal \(no meta table\)$"):
        build_report(p)
    with pytest.raises(JournalOpenError, match=r"not an arbcore journal \(no meta table\)"):
        Journal(p, readonly=True)
    assert _digest(*_files(p)) == before and before["o.sqlite-wal"] is None and before["o.sqlite-shm"] is None
    with contextlib.closing(sqlite3.connect(p)) as c:  # a meta table, not a journal's
        c.execute("CREATE TABLE meta (k, v)")
        c.commit()
    with pytest.raises(ReportError, match=r"not an arbcore journal \(no schema_version in its meta table\)$"):
        build_report(p)


def test_report_leaves_a_journal_byte_identical(journal_path: Path, tmp_path: Path) -> None:
    """Opened as the writer, the journal of a killed engine was checkpointed and its -wal
    removed; read-only, the file and its -wal stay as they were, and every commit is read."""
    before = _digest(journal_path)
    assert build_report(journal_path)["tickets"]["count"] == 3
    assert _digest(journal_path) == before
    killed = tmp_path / "killed.sqlite"
    write_killed_engine_journal(killed)
    wal = Path(f"{killed}-wal")
    before = _digest(killed, wal)  # (not the -shm: SQLite's index of the -wal, which a reader may rebuild)
    assert build_report(killed)["tickets"]["count"] == 3
    assert _digest(killed, wal) == before


def test_a_journal_being_written_is_readable(journal_path: Path) -> None:
    """A running engine holds the journal open and writes to it: the report reads its commits,
    at once (the writer's open transaction made the read-write open wait 5 s, then fail)."""
    with sample_journal(journal_path, T0 + 10**9) as writer, writer.batch():
        writer.write_ticket("T9", "BTC/USDT", "binance", "okx")  # not committed yet
        t0 = time.monotonic()
        r = build_report(journal_path)
        assert time.monotonic() - t0 < 2
        assert [t["ticket_id"] for t in r["ticket_details"]] == ["T1", "T2", "T3"]
    assert [t["ticket_id"] for t in build_report(journal_path)["ticket_details"]] == ["T1", "T2", "T3", "T9"]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can read (pytest's tmp_path is the owner's alone)."""
    d = Path(tempfile.mkdtemp(prefix="arbcore-ro-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        for p in (d, *d.iterdir()):
            p.chmod(0o755)
        shutil.rmtree(d)


def _read_without_write_access(directory: Path, read: Callable[[], object]) -> object:
    """read() in a child process that cannot write ``directory`` or its files: chmod a-w, and
    as root (whom permissions do not bind) as nobody too. Its result or its error, as text."""
    for p in (*directory.iterdir(), directory):
        p.chmod(0o555 if p.is_dir() else 0o444)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            out: object = read()
        except BaseException as e:
            out = f"{type(e).__name__}: {e}"
        os.write(wfd, orjson.dumps(out))
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return orjson.loads(data)


def test_read_only_journals(shared_dir: Path) -> None:
    """Without write access to the journal or its directory (another user's, a read-only
    mount), the report said "attempt to write a readonly database". A killed engine's journal
    reads with its -wal commits, a closed one from the file alone; a -wal with commits but no
    -shm (which cannot be created) is one line naming what is missing. Nothing is written."""

    def count(p: Path) -> Callable[[], object]:
        return lambda: build_report(p)["tickets"]["count"]

    killed, closed, no_shm = shared_dir / "killed.sqlite", shared_dir / "closed.sqlite", shared_dir / "no_shm.sqlite"
    write_killed_engine_journal(killed)
    write_sample_journal(closed)
    write_killed_engine_journal(no_shm)
    Path(f"{no_shm}-shm").unlink()
    files = [f for p in (killed, closed, no_shm) for f in _files(p)]
    before = _digest(*files)
    assert _read_without_write_access(shared_dir, count(killed)) == 3
    assert _read_without_write_access(shared_dir, count(closed)) == 3
    err = _read_without_write_access(shared_dir, count(no_shm))
    assert isinstance(err, str) and err.startswith(
        f"ReportError: {no_shm}: cannot read the commits in its write-ahead"
    ), err
    assert "no_shm.sqlite-shm" in err and f"write access to {shared_dir}" in err and "\n" not in err
    assert _digest(*files) == before
