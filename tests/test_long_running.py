"""What an engine left running for days, and its day's journal, must not grow or slow down with:
the journal's readers (report, ``arbcore journal``, the daily loss at start) read every ticket in
a fixed number of queries, not a few per ticket, and ``--ticket`` reads that ticket only; the
order clients keep per-order facts of the latest orders only."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import test_orders_coinbase
import test_orders_kraken
from arbcore.execution import EventKind, Fill, Journal, Side
from arbcore.execution.amounts import signed_decimal as dec
from arbcore.execution.pnl import pair_pnl
from arbcore.runner.commands import _print_journal
from arbcore.runner.report import build_report
from arbcore.runner.session import TradingSession
from arbcore.venues.orders import base
from test_runner_report import MS, T0, _intent, sample_journal, write_sample_tickets


def _journal(path: Path, extra: int) -> None:
    """The three sample tickets, then ``extra`` filled two-leg BTC tickets and one without orders."""
    with sample_journal(path) as j:
        write_sample_tickets(j)
        for k in range(extra):
            t = f"X{k}"
            j.write_ticket(t, "BTC/USDT", "binance", "okx", {"expected_buy_price": "6000000"})
            b = j.write_intent(_intent(t, "buy", "binance", Side.BUY, 1_000_000, 6_000_000 + k))
            s = j.write_intent(_intent(t, "sell", "okx", Side.SELL, 1_000_000, 6_001_000))
            j.append_event(b, EventKind.FILL, fill=Fill(f"b{k}", 1_000_000, 6_000_000 + k, 1_000, "BTC", 8))
            j.append_event(s, EventKind.FILL, fill=Fill(f"s{k}", 700_000 + k, 6_001_000, 4_200_000, "USDT", 10))
            j.write_ticket_outcome(t, "residual", {"residual": str(300_000 - k)})
        j.write_ticket("EMPTY", "BTC/USDT", "kraken", "okx")


@contextlib.contextmanager
def _counting(j: Journal) -> Iterator[list[str]]:
    statements: list[str] = []
    j._conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        j._conn.set_trace_callback(None)


def _journal_text(j: Journal, ticket: str | None = None) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert _print_journal(j, argparse.Namespace(ticket=ticket, journal=j.path)) == 0
    return out.getvalue()


def test_ticket_pnls_equal_ticket_pnl_per_ticket(tmp_path: Path) -> None:
    _journal(tmp_path / "j.sqlite", 5)
    with Journal(tmp_path / "j.sqlite", readonly=True) as j:
        tickets = j.tickets()
        with_orders = [t.ticket_id for t in tickets if j.orders(t.ticket_id)]
        pnls = j.ticket_pnls()
        assert list(pnls) == with_orders and "EMPTY" not in pnls
        assert pnls == {tid: j.ticket_pnl(tid) for tid in with_orders}
        since = tickets[4].created_ns
        later = {t.ticket_id for t in tickets if t.created_ns >= since}
        assert j.ticket_pnls(since) == {tid: pnls[tid] for tid in with_orders if tid in later}
        assert j.ticket_pnls(tickets=tickets[:2]) == {tid: pnls[tid] for tid in with_orders[:2]}


def test_a_ticket_that_mixes_scales_raises_as_before_or_is_left_out(tmp_path: Path) -> None:
    _journal(tmp_path / "j.sqlite", 2)
    with Journal(tmp_path / "j.sqlite") as j:
        j.write_intent(_intent("X1", "hedge", "kraken", Side.SELL, 1_000, 300_000, "ETH/USDT"))
        with pytest.raises(ValueError) as one:
            j.ticket_pnl("X1")
        with pytest.raises(ValueError) as every:
            j.ticket_pnls()
        assert str(every.value) == str(one.value)
        assert "X1" not in j.ticket_pnls(skip_mixed=True) and "X0" in j.ticket_pnls(skip_mixed=True)


def test_readers_query_the_journal_a_fixed_number_of_times(tmp_path: Path) -> None:
    """The report, ``arbcore journal`` and ``pnl_by_venue_pair`` made a query or two per ticket:
    a minute on a day's journal. Now their query counts do not depend on the number of tickets."""
    counts: dict[int, list[int]] = {}
    outputs: dict[int, tuple[Any, ...]] = {}
    for n in (3, 30):
        path = tmp_path / f"j{n}.sqlite"
        _journal(path, n)
        with Journal(path, readonly=True) as j:
            got = []
            with _counting(j) as q:
                report = build_report(j)
            got.append(len(q))
            with _counting(j) as q:
                text = _journal_text(j)
            got.append(len(q))
            with _counting(j) as q:
                pairs = j.pnl_by_venue_pair()
            got.append(len(q))
            counts[n] = got
            outputs[n] = (report, text, pairs)
    assert counts[3] == counts[30]
    report, text, pairs = outputs[30]
    with Journal(tmp_path / "j30.sqlite", readonly=True) as j:  # the figures as a ticket at a time gave them
        tickets = [t for t in j.tickets() if j.orders(t.ticket_id)]
        one_by_one = pair_pnl((t.buy_venue, t.sell_venue, j.ticket_pnl(t.ticket_id)) for t in tickets)
    assert pairs == one_by_one and sum(p.tickets for p in pairs) == 33
    assert [p["realised"] for p in report["pnl_by_pair"]] == [dec(p.realised, p.decimals) for p in one_by_one]
    for p in one_by_one:
        assert (
            f"pair {p.buy_venue} -> {p.sell_venue}: {p.tickets} tickets, realised {dec(p.realised, p.decimals)}" in text
        )


def test_journal_of_one_ticket_reads_that_ticket_only(tmp_path: Path) -> None:
    _journal(tmp_path / "j.sqlite", 20)
    with Journal(tmp_path / "j.sqlite", readonly=True) as j:
        whole = _journal_text(j)
        with _counting(j) as q:
            one = _journal_text(j, "X7")
    # no statement reads every order event, order or outcome: each names the ticket or its orders
    reads = [s for s in q if "order_events" in s or "ticket_outcomes" in s or "FROM orders" in s]
    assert reads and all("WHERE" in s for s in reads), reads
    block = whole[whole.index("ticket X7 ") : whole.index("ticket X8 ")]
    assert one == block


def test_daily_loss_at_start_reads_the_journal_in_a_fixed_number_of_queries(tmp_path: Path) -> None:
    realised: list[Decimal] = []
    counts = []
    now = T0 + 10 * 86_400 * 10**9
    for n in (3, 30):
        path = tmp_path / f"j{n}.sqlite"
        with sample_journal(path, start=now - now % (86_400 * 10**9)) as j:
            write_sample_tickets(j)
        with Journal(path) as j:
            for k in range(n):  # a loss of 0.01 USDT each: bought at 60000.01, sold at 60000.00
                t = f"L{k}"
                j.write_ticket(t, "BTC/USDT", "binance", "okx")
                b = j.write_intent(_intent(t, "buy", "binance", Side.BUY, 1_000_000, 6_000_001))
                s = j.write_intent(_intent(t, "sell", "okx", Side.SELL, 1_000_000, 6_000_000))
                j.append_event(b, EventKind.FILL, fill=Fill(f"b{k}", 1_000_000, 6_000_001))
                j.append_event(s, EventKind.FILL, fill=Fill(f"s{k}", 1_000_000, 6_000_000))
            got: list[Decimal] = []
            fake = SimpleNamespace(risk=SimpleNamespace(on_realised=lambda pnl, _quote, got=got: got.append(pnl)))
            with _counting(j) as q, pytest.MonkeyPatch.context() as mp:
                mp.setattr("time.time_ns", lambda: now + MS)
                TradingSession._restore_daily_loss(fake, j)  # type: ignore[arg-type]
            counts.append(len(q))
            realised += got
    assert counts[0] == counts[1]
    # the sample's -4.05, less 0.0001 USDT per extra ticket
    assert realised == [Decimal("-4.05") - Decimal("0.0003"), Decimal("-4.05") - Decimal("0.0030")]


def test_kraken_keeps_the_latest_orders_symbols_and_fills_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "RECENT_ORDERS", 50)
    c = test_orders_kraken.offline_client()
    for k in range(500):
        item = {"order_id": f"O{k}", "cl_ord_id": f"c{k}", "symbol": "BTC/USD", "exec_type": "new",
                "order_status": "new", "cum_qty": 0.25}  # fmt: skip
        assert c.execution_report(item) is not None
    assert len(c._cum) == 50 and "c499" in c._cum and "c0" not in c._cum
    last = {"order_id": "O499", "cl_ord_id": "c499", "symbol": "BTC/USD"}
    r = c.execution_report({**last, "exec_type": "filled", "order_status": "filled"})
    assert r is not None and r.filled_qty == 25_000_000  # a recent order's cumulative fill is still known


def test_coinbase_keeps_the_latest_orders_facts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "RECENT_ORDERS", 50)
    c = test_orders_coinbase.offline_client()
    for k in range(500):
        order = {"order_id": f"O{k}", "client_order_id": f"c{k}", "product_id": "BTC-USD", "status": "OPEN"}
        c.user_order_report({**order, "cumulative_quantity": "0.5"})
    for m in (c._order_ids, c._symbols, c._states, c._cum):
        assert len(m) == 50
    assert c._order_ids["c499"] == "O499" and "c0" not in c._order_ids
