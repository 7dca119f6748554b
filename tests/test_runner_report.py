"""Reports from a journal written through the real Journal API: counts, fill ratio, PnL net of
fees per venue pair (equal to the journal's own), expected vs realised prices, hedge lag,
residual exposure, latency percentiles; JSON and PNG plots."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from arbcore.execution import EventKind, Fill, Journal, OrderIntent, OrderType, Side, TimeInForce
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
    clock = itertools.count(T0, MS)  # every journal write is 1 ms after the previous one
    with Journal(path, clock=lambda: next(clock)) as j:
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


def test_percentiles() -> None:
    assert percentiles([]) == {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    p = percentiles([float(x) for x in range(1, 101)])
    assert (p["p50"], p["p90"], p["p99"], p["max"]) == (50, 90, 99, 100)
