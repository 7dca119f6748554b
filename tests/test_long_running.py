"""What an engine left running for days, and its day's journal, must not grow or slow down with:
the journal's readers (report, ``arbcore journal``, the daily loss at start) read every ticket in
a fixed number of queries, not a few per ticket, and ``--ticket`` reads that ticket only; the
order clients keep per-order facts of the latest orders only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import uvloop

import test_orders_coinbase
import test_orders_kraken
from arbcore.execution import EventKind, Fill, Journal, Ledger, Side
from arbcore.execution.amounts import Asset
from arbcore.execution.amounts import signed_decimal as dec
from arbcore.execution.engine import Executor
from arbcore.execution.orders import TERMINAL_STATES, OrderState, OrderType, TimeInForce
from arbcore.execution.pnl import pair_pnl
from arbcore.execution.residuals import load_residuals
from arbcore.execution.risk import RiskGate, RiskLimits
from arbcore.execution.ticket import TicketRunner
from arbcore.runner.commands import _print_journal
from arbcore.runner.report import build_report
from arbcore.runner.session_parts import restore_daily_loss
from arbcore.sim import exchange as sim_exchange
from arbcore.sim.exchange import Refusal, SimOrder
from arbcore.sim.orders.binance import SPOT_WS_API, BinanceOrderSide
from arbcore.sim.orders.rig import OrderRig
from arbcore.venues.orders import base
from test_runner_report import MS, T0, _intent, sample_journal, write_later_ticket, write_sample_tickets


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
            risk = SimpleNamespace(on_realised=lambda pnl, _quote, got=got: got.append(pnl))
            with _counting(j) as q, pytest.MonkeyPatch.context() as mp:
                mp.setattr("time.time_ns", lambda: now + MS)
                restore_daily_loss(risk, j)  # type: ignore[arg-type]
            counts.append(len(q))
            realised += got
    assert counts[0] == counts[1]
    # the sample's -4.05, less 0.0001 USDT per extra ticket
    assert realised == [Decimal("-4.05") - Decimal("0.0003"), Decimal("-4.05") - Decimal("0.0030")]


def test_a_report_since_reads_the_tickets_since_only(tmp_path: Path) -> None:
    """``arbcore run``'s exit report (``since_ns``: its start) read every order and event of the
    journal and kept its own: ~27 s over a 100k-ticket journal. Now each statement that reads
    orders, events or outcomes names the tickets created since, and the number of statements
    does not depend on the journal; the report equals the whole journal's, filtered."""
    cut = T0 + 3_600 * 10**9
    counts = []
    for n in (3, 30):
        path = tmp_path / f"j{n}.sqlite"
        _journal(path, n)
        write_later_ticket(path, cut)
        with Journal(path, readonly=True) as j:
            with _counting(j) as q:
                since = build_report(j, since_ns=cut)
            counts.append(len(q))
            reads = [s for s in q if "order_events" in s or "ticket_outcomes" in s or "FROM orders" in s]
            assert reads and all("created_ns >=" in s for s in reads), reads
            ids = {t.ticket_id for t in j.tickets() if t.created_ns >= cut}
            orders = [o for o in j.orders() if o.intent.ticket_id in ids]
            assert j.orders(since_ns=cut) == orders
            cids = {o.client_order_id for o in orders}
            assert j.events(since_ns=cut) == [e for e in j.events() if e.client_order_id in cids]
            assert j.ticket_outcomes(since_ns=cut) == [o for o in j.ticket_outcomes() if o[0] in ids]
            whole = build_report(j)
    assert counts[0] == counts[1]
    assert ids == {"T4"} and since["tickets"]["count"] == 1 and since["orders"] == 2
    assert since["ticket_details"] == [t for t in whole["ticket_details"] if t["created_ns"] >= cut]


def _held_and_retired(path: Path, retired: int, *, retire: bool = True) -> Ledger:
    """``retired`` finished tickets (filled, released, retired unless not ``retire``), then R1 whose
    orders ended without their release journaled (a crash) and R2 still reserved with an open buy."""
    usdt, btc = Asset("USDT", 2), Asset("BTC", 8)
    with sample_journal(path) as j:
        led = Ledger(sink=j.append_ledger_event)
        led.set_total("binance", usdt, 10**15)
        led.set_total("okx", btc, 10**15)
        for k in range(retired + 2):
            t = f"X{k}" if k < retired else f"R{k - retired + 1}"
            j.write_ticket(t, "BTC/USDT", "binance", "okx")
            led.reserve(t, "buy", "binance", usdt, 6_000_000)
            led.reserve(t, "sell", "okx", btc, 1_000_000)
            b = j.write_intent(_intent(t, "buy", "binance", Side.BUY, 1_000_000, 6_000_000))
            s = j.write_intent(_intent(t, "sell", "okx", Side.SELL, 1_000_000, 6_000_000))
            if t != "R2":
                j.append_event(b, EventKind.FILL, fill=Fill(f"b{k}", 1_000_000, 6_000_000))
            j.append_event(s, EventKind.FILL, fill=Fill(f"s{k}", 1_000_000, 6_000_000))
            if k < retired:
                led.release_remaining(t, "buy", f"{b}:final", "FILLED")
                led.release_remaining(t, "sell", f"{s}:final", "FILLED")
                if retire:
                    assert led.retire(t)
        return j.ledger_replay()


def count_order_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many order rows the journal reads from here on (``rows[0]``; set it to 0 to restart)."""
    rows = [0]
    read_order = Journal._order_from_row

    def counted(r: tuple[Any, ...]) -> Any:
        rows[0] += 1
        return read_order(r)

    monkeypatch.setattr(Journal, "_order_from_row", staticmethod(counted))
    return rows


def test_recovery_reads_the_orders_of_the_tickets_the_ledger_holds_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``recover`` read every order of the journal to release what the ledger still held for
    ended ones (~10 s per 100k tickets). Now it reads the orders of the tickets the ledger holds:
    as many queries and rows however many retired tickets the journal has. A journal written
    before tickets were retired (every leg held) is recovered as before, from every order."""
    rows = count_order_rows(monkeypatch)
    got: dict[tuple[int, bool], tuple[int, int, list[tuple[str, str]]]] = {}
    for n, retire in ((3, True), (30, True), (30, False)):
        path = tmp_path / f"j{n}{retire}.sqlite"
        _held_and_retired(path, n, retire=retire)
        shutil.copy(path, tmp_path / "before.sqlite")
        with Journal(tmp_path / "before.sqlite") as j:  # as recovery did it, from every order
            led = j.ledger_replay(sink=j.append_ledger_event)
            before = len(j.ledger_events())
            for o in j.orders():
                i = o.intent
                if o.state in TERMINAL_STATES and led.holds(i.ticket_id, i.leg_id):
                    led.release_remaining(i.ticket_id, i.leg_id, f"{o.client_order_id}:final", o.state.value)
            expected = (j.ledger_events()[before:], led.state())
        with Journal(path) as j:
            led = j.ledger_replay(sink=j.append_ledger_event)
            rows[0] = 0
            with _counting(j) as q:
                notes = asyncio.run(Executor(j, led, {}, {}, RiskGate(RiskLimits())).recover())
            assert (j.ledger_events()[before:], led.state()) == expected
            assert notes == [f"{_cid(j, 'R2', 'buy')}: venue binance not configured; left open"]
            assert led.holds("R2", "buy") and not led.reservation("R1", "buy", "USDT").remaining
            got[n, retire] = (len(q), rows[0], [(e.ticket_id, e.leg_id) for e in expected[0]])
    assert got[3, True][:2] == got[30, True][:2]
    assert got[3, True][2] == got[30, True][2] == got[30, False][2] == [("R1", "buy"), ("R1", "sell"), ("R2", "sell")]
    assert got[30, False][1] > 2 * 30  # every leg held: every order read, as before


def test_residuals_at_start_read_the_orders_of_the_tickets_they_look_at_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``load_residuals`` read every order of the journal at each start (4 s per 100k tickets)
    to use those of the tickets with no outcome and of unfinished sweeps. Now it reads those
    only: as many rows however many finished tickets; the same residuals and notes."""
    rows = count_order_rows(monkeypatch)
    got = {}
    for n in (3, 30):
        path = tmp_path / f"j{n}.sqlite"
        _journal(path, n)
        with Journal(path) as j:
            runner = TicketRunner(Executor(j, Ledger(), {}, {}, RiskGate(RiskLimits())), {}, SimpleNamespace())  # type: ignore[arg-type]
            (unfinished,) = j._conn.execute(  # the orders of the tickets with no outcome
                "SELECT count(*) FROM orders WHERE ticket_id NOT IN (SELECT ticket_id FROM ticket_outcomes)"
            ).fetchone()
            rows[0] = 0
            notes = load_residuals(runner, j)
            assert rows[0] == unfinished
            extra = {t: runner.residuals.pop(f"X{k}") for k in range(n) if (t := f"X{k}")}
            assert extra == {f"X{k}": ("BTC/USDT", 300_000 - k) for k in range(n)}
            got[n] = (rows[0], notes, runner.residuals, runner.fee_drift())
    assert got[3] == got[30]
    assert got[3][0]  # the orders of the interrupted ticket were read


def _cid(j: Journal, ticket: str, leg: str) -> str:
    return next(o.client_order_id for o in j.orders(ticket) if o.intent.leg_id == leg)


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


def test_reconciliation_runs_while_dust_waits_for_a_lot(tmp_path: Path) -> None:
    """Dust waiting for a lot (a routine state: a default run almost always has some) started a
    sweep task on every timer tick just before the periodic reconciliation's "nothing in flight"
    check, so the balances were never reconciled with the venues while it lasted."""
    from engine_helpers import session

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite", reconcile_every=0.3) as s:
            assert s.runner is not None and s.journal is not None
            s.runner.residuals["T-dust"] = ("BTC/USDT", 50)  # below the lot (100): swept once netted
            before = len(s.journal.balance_snapshots())
            await asyncio.sleep(2.0)  # 10 timer ticks of 200 ms, ~6 reconciliation periods
            assert len(s.journal.balance_snapshots()) > before, "no reconciliation while dust waited"
            s.runner.residuals.clear()

    uvloop.run(main())


def test_a_slow_venue_balance_query_does_not_hold_the_strategy_timer(tmp_path: Path) -> None:
    """The periodic reconciliation was awaited inside the timer's tick: a venue slow to give its
    balances (here 1.5 s; a live venue's timeout is 5 s) held the strategy's on_timer and the
    residual sweeps for as long. It runs beside the timer now, one at a time."""
    from engine_helpers import session

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite", reconcile_every=0.1) as s:
            client = s.clients["kraken"]
            real = client.balances

            async def slow_balances(*args: Any, **kw: Any) -> Any:  # the venue answers, 1.5 s late
                await asyncio.sleep(1.5)
                return await real(*args, **kw)

            client.balances = slow_balances  # type: ignore[method-assign]
            ticks = []
            on_timer = s.host.on_timer

            def counted(now_ns: int) -> Any:
                ticks.append(now_ns)
                return on_timer(now_ns)

            s.host.on_timer = counted  # type: ignore[method-assign]
            await asyncio.sleep(2.0)  # 10 ticks of 200 ms
            assert len(ticks) >= 6, len(ticks)  # was 2: each tick waited for the slow reconciliation

    uvloop.run(main())


def test_a_simulated_venue_step_looks_at_the_open_orders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each simulator step matched the resting orders by scanning every order the venue was ever
    sent (50 steps a second per instrument): a default run's feeds and order acks slowed the longer
    it ran (about 0.2 us per order placed since start, per step). A step, and an open-orders query,
    now look at the orders still open only; a resting order still fills when the book crosses it."""
    rig = OrderRig("okx")
    ex, key, book = rig.exchange, rig.account.api_key, rig.venue.instruments[rig.symbol].process.book
    bid = book.best_bid()
    assert bid is not None

    def place(cid: str, price: int, tif: TimeInForce) -> SimOrder:
        r = ex.submit(key, rig.symbol, side=Side.BUY, order_type=OrderType.LIMIT, tif=tif, qty=200, price=price,
                      client_id=cid)  # fmt: skip
        assert r.order is not None
        return r.order

    for k in range(500):
        assert place(f"ioc{k}", bid - 1_000, TimeInForce.IOC).state is OrderState.EXPIRED
    resting = place("gtc", bid - 100, TimeInForce.GTC)
    cancelled = place("gtc2", bid - 200, TimeInForce.GTC)
    assert ex.cancel(key, rig.symbol, client_id="gtc2") is cancelled
    looked = [0]
    is_open = SimOrder.is_open.fget
    assert is_open is not None
    monkeypatch.setattr(SimOrder, "is_open", property(lambda o: looked.append(1) is None and is_open(o)))
    assert ex.match_resting(rig.symbol) == [] and ex.open_orders(key) == [resting]
    assert ex.open_orders(key, rig.symbol) == [resting] and ex.open_orders(key, "ETH-USDT") == []
    assert len(looked) < 10
    book.apply(1, bid - 100, 500)  # an ask at the resting bid's price: the book crosses it
    assert ex.match_resting(rig.symbol) == [(1, bid - 100, 300)]
    assert resting.state is OrderState.FILLED and ex.open_orders(key) == []


def test_the_binance_simulator_keeps_the_latest_requests_methods_only() -> None:
    """The simulated Binance order side listed the method of every request it served (tests read
    it), a list that grew with each order a rehearsal placed."""
    rig = OrderRig("binance_spot")
    side = rig.venue.order_side
    assert isinstance(side, BinanceOrderSide)
    sent: list[bytes] = []
    conn = SimpleNamespace(path=SPOT_WS_API, send=sent.append)
    for k in range(3000):
        side.on_private_message(rig.venue, conn, orjson.dumps({"id": k, "method": f"ping{k}"}))  # type: ignore[arg-type]
    assert len(sent) == 3000 and len(side.requests) == 1000  # the latest 1000
    assert side.requests[-1] == "ping2999" and side.requests.count("ping1999") == 0


def test_a_simulated_venue_keeps_the_latest_finished_orders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulated venues kept every order, its fills and its client id for good (~1.2 KB an
    order: a default run places ~18 a second); they now keep the open ones and the latest
    ``FINISHED_KEPT`` finished, as a venue's order history. The rehearsal's count of orders sent
    twice still covers the whole run."""
    monkeypatch.setattr(sim_exchange, "FINISHED_KEPT", 50, raising=False)
    rig = OrderRig("okx")
    ex, key, book = rig.exchange, rig.account.api_key, rig.venue.instruments[rig.symbol].process.book
    bid = book.best_bid()
    assert bid is not None

    def place(cid: str, price: int, tif: TimeInForce) -> Refusal | None:
        return ex.submit(key, rig.symbol, side=Side.BUY, order_type=OrderType.LIMIT, tif=tif, qty=200, price=price,
                         client_id=cid).refusal  # fmt: skip

    assert place("gtc", bid - 100, TimeInForce.GTC) is None  # rests throughout
    assert place("ioc0", bid - 1_000, TimeInForce.IOC) is None
    assert place("ioc0", bid - 1_000, TimeInForce.IOC) is Refusal.DUPLICATE_CLIENT_ID  # sent twice
    for k in range(1, 500):
        assert place(f"ioc{k}", bid - 1_000, TimeInForce.IOC) is None
    assert len(ex.orders) == len(ex.by_client) == 51 and len(ex.submissions) <= 50
    assert ex.find(key, rig.symbol, client_id="ioc499") is not None and ex.find(key, None, client_id="ioc0") is None
    gtc = ex.find(key, rig.symbol, client_id="gtc")
    assert gtc is not None and gtc.is_open and ex.open_orders(key) == [gtc]
    assert ex.sent_twice == {key: 1}
