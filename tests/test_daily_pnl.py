"""Today's realised PnL at start (``execution/daily_pnl.py``): the running total saved at a stop
(``Journal.save_realised_today``) plus the tickets that changed after it gives what summing
``ticket_pnls`` of every ticket of the day gives, to the Decimal (value, exponent, quote order).
Property-tested over random tickets (today's and yesterday's), orders of one or mixed scales,
fills with quote, base and other fees (late ones too) and saves among them; without a usable
row, the full read."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbcore.execution import Journal, Ledger
from arbcore.execution.daily_pnl import DAY_NS, DailyPnl, _latest, daily_pnl, sum_realised
from arbcore.execution.orders import EventKind, Side
from arbcore.execution.records import Fill
from test_runner_report import MS, T0, _intent, sample_journal

DAY = T0 - T0 % DAY_NS
INSTRUMENTS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")

ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("ticket"), st.sampled_from(INSTRUMENTS), st.booleans()),  # yesterday's?
        st.tuples(st.just("order"), st.integers(0, 20), st.sampled_from(INSTRUMENTS), st.sampled_from(Side)),
        st.tuples(
            st.just("fill"),
            st.integers(0, 40),  # which order
            st.integers(1, 50),  # qty
            st.integers(1, 900),  # price
            st.integers(-3, 9),  # fee (negative: a rebate)
            st.sampled_from(("quote", "base", "BNB")),
            st.integers(0, 12),  # fee decimals
        ),
        st.just(("checkpoint",)),
    ),
    max_size=45,
)


def full_read(j: Journal, day: int = DAY) -> dict[str, Decimal]:
    """What the daily-loss restore summed before the running total."""
    return sum_realised(j.ticket_pnls(since_ns=day, skip_mixed=True).values())


def same(a: dict[str, Decimal], b: dict[str, Decimal]) -> bool:
    """Equal to the Decimal: values, exponents (what the start's note prints) and quote order."""
    return [(q, str(v)) for q, v in a.items()] == [(q, str(v)) for q, v in b.items()]


@settings(max_examples=150, deadline=None)
@given(ops=ops_strategy)
def test_running_total_plus_changed_tickets_equals_the_full_read(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]
) -> None:
    path = tmp_path_factory.mktemp("dp") / "j.sqlite"
    tickets: list[str] = []
    orders: list[tuple[str, str]] = []  # (client order id, instrument)
    with sample_journal(path) as j:
        for n, op in enumerate(ops):
            if op[0] == "ticket":
                t = f"T{len(tickets)}"
                tickets.append(t)
                j.write_ticket(t, op[1], "binance", "okx", {}, created_ns=DAY - MS if op[2] else None)
            elif op[0] == "order" and tickets:
                _, k, inst, side = op
                cid = j.write_intent(_intent(tickets[k % len(tickets)], f"L{n}", "binance", side, 10**6, 100, inst))
                orders.append((cid, inst))
            elif op[0] == "fill" and orders:
                _, k, qty, price, fee, asset, decimals = op
                cid, inst = orders[k % len(orders)]
                fee_asset = {"quote": inst.split("/")[1], "base": inst.split("/")[0]}.get(asset, asset)
                j.append_event(cid, EventKind.FILL, fill=Fill(f"F{n}", qty, price, fee, fee_asset, decimals))
            elif op[0] == "checkpoint":
                j.save_realised_today()
            assert same(j.realised_today(DAY), full_read(j))


def _journal(path: Path) -> Journal:
    """Three tickets of today with fills (two quotes), one of yesterday, a checkpoint after them."""
    j = sample_journal(path)
    j.write_ticket("Y", "BTC/USDT", "binance", "okx", {}, created_ns=DAY - MS)
    for t, inst, price in (("A", "ETH/BTC", 5_000), ("B", "BTC/USDT", 6_000_000), ("C", "BTC/USDT", 6_000_100)):
        j.write_ticket(t, inst, "binance", "okx", {})
        for leg, side, p in (("buy", Side.BUY, price), ("sell", Side.SELL, price + 7)):
            cid = j.write_intent(_intent(t, leg, "binance", side, 1_000_000, p, inst))
            j.append_event(cid, EventKind.FILL, fill=Fill(f"{t}{leg}", 999_990, p, 3, "USDT", 10))
    cid = j.write_intent(_intent("Y", "buy", "binance", Side.BUY, 1_000_000, 6_000_000))
    j.append_event(cid, EventKind.FILL, fill=Fill("Ybuy", 1_000_000, 6_000_000, 0, "USDT", 10))
    j.save_realised_today()
    return j


def test_a_start_after_a_checkpoint_reads_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A late fill of a ticket the total counted, and a new ticket: the total is used (the full
    read is never called), with the same numbers; the start's note would print the same."""
    with _journal(tmp_path / "j.sqlite") as j:
        cid = next(o.client_order_id for o in j.orders("B") if o.intent.leg_id == "sell")
        j.append_event(cid, EventKind.FILL, fill=Fill("late", 10, 6_000_050, 1, "USDT", 12))  # finer: 12 decimals
        j.write_ticket("D", "BTC/USDT", "okx", "binance", {})
        j.write_intent(_intent("D", "buy", "okx", Side.BUY, 1_000_000, 6_000_000))
        expected = full_read(j)
        assert list(expected) == ["BTC", "USDT"]  # A's quote first: A is the day's first ticket
        monkeypatch.setattr(Journal, "ticket_pnls", lambda *a, **k: pytest.fail("the full read"))
        assert same(j.realised_today(DAY), expected)


def test_the_first_ticket_of_a_quote_leaving_the_total_reads_the_day_in_full(tmp_path: Path) -> None:
    """B's new order of another instrument mixes its scales: it no longer counts, and which ticket
        now comes first in its quote is not in the total; the day's tickets are read instead (and
    again by the next checkpoint, which then knows). A, the
        only one of its quote, leaving takes its quote out of the total (still usable)."""
    with _journal(tmp_path / "j.sqlite") as j:
        j.write_intent(_intent("B", "hedge", "binance", Side.SELL, 1_000_000, 5_000, "ETH/BTC"))
        state = daily_pnl(j._conn, j.ticket_pnls_of, DAY, "j")
        assert state.first["USDT"] is None and state.totals() is None
        assert same(j.realised_today(DAY), full_read(j)) and list(full_read(j)) == ["BTC", "USDT"]
        j.save_realised_today()  # the day read again: C is now USDT's first
        assert daily_pnl(j._conn, j.ticket_pnls_of, DAY, "j").first["USDT"] is not None
        j.write_intent(_intent("A", "hedge", "binance", Side.SELL, 1_000_000, 6_000_000))
        state = daily_pnl(j._conn, j.ticket_pnls_of, DAY, "j")
        assert "BTC" not in state.first and state.totals() is not None
        assert same(j.realised_today(DAY), full_read(j)) and list(full_read(j)) == ["USDT"]


def test_sums_beyond_decimal_precision_read_the_day_in_full() -> None:
    """The full read adds in context precision (28 digits): beyond it, its rounding decides."""
    state = DailyPnl(DAY, first={"USDT": (1, 1)}, sums={("USDT", 10): [2, 10**28, 10**28]})
    assert state.totals() is None
    state.sums[("USDT", 10)] = [2, -5, 10**27]
    assert state.totals() == {"USDT": Decimal("-5E-10")}


def _rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as c:
        return int(c.execute("SELECT count(*) FROM daily_pnl_checkpoints").fetchone()[0])


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("DROP TABLE daily_pnl_checkpoints", ""),  # a journal from before these rows (read only: no table)
        ("DELETE FROM daily_pnl_checkpoints", ""),
        ("UPDATE daily_pnl_checkpoints SET body = replace(body, 'day_ns\":', 'day_ns\":1')", ""),  # another day's
        ("UPDATE daily_pnl_checkpoints SET format = 2", "its format is 2, this code reads 1"),
        ("UPDATE daily_pnl_checkpoints SET body = '{}'", "its body is unreadable (KeyError)"),
        ("UPDATE tickets SET ticket_id = 'Z' WHERE ticket_id = 'C'", "its position is not the journal's"),
    ],
)
def test_without_a_usable_row_the_day_is_read_in_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, change: str, why: str
) -> None:
    path = tmp_path / "j.sqlite"
    _journal(path).close()
    assert _rows(path) == 1  # only the latest is kept
    with contextlib.closing(sqlite3.connect(path)) as c:
        c.execute("PRAGMA foreign_keys=OFF")
        c.execute(change)
        c.commit()
    with Journal(path, readonly=True) as j, caplog.at_level(logging.WARNING):
        assert _latest(j._conn, DAY, "j") is None
        assert same(j.realised_today(DAY), full_read(j)) and full_read(j)
    assert (f"daily PnL checkpoint not used, {why}" in caplog.text) if why else "not used" not in caplog.text
    if change.startswith("UPDATE daily"):  # a writable open saves what it read: the next start reads it
        with Journal(path) as j:
            expected = full_read(j)
            assert same(j.realised_today(DAY), expected) and _latest(j._conn, DAY, "j") is not None
            monkeypatch.setattr(Journal, "ticket_pnls", lambda *a, **k: pytest.fail("the full read"))
            assert same(j.realised_today(DAY), expected)


def test_a_periodic_checkpoint_does_not_fold_the_days_tickets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger checkpoint, written on the event loop while trading, folded every ticket since
    the last one into the day's total: ~0.2 s per 1,400 tickets of market data waiting. It reads
    no ticket's PnL now; a stop saves the total (``save_realised_today``), and a start saves what
    it folded, so the next start reads one row."""
    with _journal(tmp_path / "j.sqlite") as j:
        j.write_ticket("D", "BTC/USDT", "okx", "binance", {})
        j.write_intent(_intent("D", "buy", "okx", Side.BUY, 1_000_000, 6_000_000))
        with monkeypatch.context() as m:
            m.setattr(Journal, "ticket_pnls_of", lambda *a, **k: pytest.fail("a PnL read"))
            m.setattr(Journal, "ticket_pnls", lambda *a, **k: pytest.fail("a PnL read"))
            j.write_ledger_checkpoint(Ledger())
        expected = full_read(j)
        assert same(j.realised_today(DAY), expected)  # D folded in, and saved
        monkeypatch.setattr(Journal, "ticket_pnls_of", lambda *a, **k: pytest.fail("D read again"))
        monkeypatch.setattr(Journal, "ticket_pnls", lambda *a, **k: pytest.fail("the full read"))
        assert same(j.realised_today(DAY), expected)


def test_a_stop_saves_the_days_total_for_the_next_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's stop saves today's total with its tickets: the next start's daily-loss
    restore reads that row, no ticket's PnL."""
    import time

    import uvloop

    from engine_helpers import live_crossing_plan, session

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            assert s.runner is not None
            r = await s.runner.execute(await live_crossing_plan(s, "okx", "kraken"))
            assert r.bought or r.sold, r

    uvloop.run(main())
    now = time.time_ns()
    with Journal(tmp_path / "j.sqlite") as j:
        expected = full_read(j, now - now % DAY_NS)
        assert expected
        monkeypatch.setattr(Journal, "ticket_pnls_of", lambda *a, **k: pytest.fail("a ticket read"))
        monkeypatch.setattr(Journal, "ticket_pnls", lambda *a, **k: pytest.fail("the full read"))
        assert same(j.realised_today(now - now % DAY_NS), expected)
