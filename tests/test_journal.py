"""The SQLite journal: WAL on a real file, intent before send, event order and states, restart
after a SIGKILL mid-write, ledger replay, client order ids for every venue, PnL, secrets, and the
async wrapper's worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbcore.execution import (
    CLIENT_ID_NAMESPACE,
    TERMINAL_STATES,
    VENUE_ID_RULES,
    Amount,
    Asset,
    AsyncJournal,
    EventKind,
    Fill,
    FillConflictError,
    IntentConflictError,
    Journal,
    JournalOpenError,
    Ledger,
    OrderIntent,
    OrderState,
    OrderType,
    OverfillError,
    SecretInJournalError,
    Side,
    TimeInForce,
    UnknownOrderError,
    canonical_id,
    client_order_id,
    order_uuid,
    valid_for,
)

PD, QD = 2, 8
USDT = Asset("USDT", PD + QD)
BTC = Asset("BTC", QD)
VENUES = sorted(VENUE_ID_RULES)


def intent(
    ticket: str = "T1",
    leg: str = "buy",
    *,
    venue: str = "binance_spot",
    side: Side = Side.BUY,
    qty: int = 100_000_000,
    limit: int | None = 6_000_000,
    attempt: int = 0,
    **kw: Any,
) -> OrderIntent:
    spec: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "instrument": "BTC/USDT",
        "base": "BTC",
        "quote": "USDT",
        "price_decimals": PD,
        "qty_decimals": QD,
        "order_type": OrderType.LIMIT if limit is not None else OrderType.MARKET,
        "tif": TimeInForce.IOC,
    }
    spec.update(kw)
    return OrderIntent(ticket, leg, attempt, venue, side=side, qty=qty, limit_price=limit, **spec)


def ticking_clock(start: int = 1_700_000_000_000_000_000) -> Any:
    counter = itertools.count(start, 1_000)
    return lambda: next(counter)


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    j = Journal(tmp_path / "journal.db", clock=ticking_clock())
    yield j
    j.close()


# ---- storage ----------------------------------------------------------------------------------


def test_wal_mode_on_a_real_file(journal: Journal) -> None:
    other = sqlite3.connect(journal.path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tickets", "orders", "order_events", "ledger_events", "balance_snapshots", "meta"} <= tables
    other.close()
    journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
    assert Path(str(journal.path) + "-wal").exists()


def test_intent_is_committed_with_full_sync_before_write_intent_returns(journal: Journal) -> None:
    statements: list[str] = []
    journal._db.set_trace_callback(statements.append)
    journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
    statements.clear()
    cid = journal.write_intent(intent())
    # FULL (WAL fsynced on commit) is in force for the intent's transaction, which is committed
    assert statements.index("PRAGMA synchronous=FULL") < statements.index("BEGIN IMMEDIATE")
    assert statements[-1] == "COMMIT"
    # a second, independent connection sees it: what a restarted process would read
    other = sqlite3.connect(journal.path)
    row = other.execute("SELECT state, qty, limit_price, venue FROM orders WHERE client_order_id=?", (cid,)).fetchone()
    assert row == ("INTENT", "100000000", "6000000", "binance_spot")
    assert other.execute("SELECT kind FROM order_events WHERE client_order_id=?", (cid,)).fetchall() == [("intent",)]
    other.close()


def test_batch_is_one_commit_with_intent_sync_and_all_or_nothing(journal: Journal) -> None:
    statements: list[str] = []
    journal._db.set_trace_callback(statements.append)
    ledger = Ledger(sink=journal.append_ledger_event)
    ledger.set_total("binance_spot", USDT, 10**15)
    statements.clear()
    with journal.batch():
        ledger.reserve("T1", "buy", "binance_spot", USDT, 10**12)
        journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
        a = journal.write_intent(intent())
        b = journal.write_intent(intent(leg="sell", venue="okx", side=Side.SELL, symbol="BTC-USDT"))
    assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("COMMIT") == 1
    assert statements[-1] == "COMMIT"
    assert statements.index("PRAGMA synchronous=FULL") < statements.index("BEGIN IMMEDIATE")
    other = sqlite3.connect(journal.path)
    assert {r[0] for r in other.execute("SELECT client_order_id FROM orders")} == {a, b}
    assert other.execute("SELECT COUNT(*) FROM ledger_events").fetchone()[0] == 2
    # a failure inside rolls every write of the batch back
    with pytest.raises(IntentConflictError), journal.batch():
        journal.write_ticket("T2", "BTC/USDT", "binance_spot", "okx")
        journal.write_intent(intent(ticket="T2"))
        journal.write_intent(intent(ticket="T2", qty=7))
    assert other.execute("SELECT COUNT(*) FROM tickets WHERE ticket_id='T2'").fetchone()[0] == 0
    assert other.execute("SELECT COUNT(*) FROM orders WHERE ticket_id='T2'").fetchone()[0] == 0
    other.close()
    # and the journal works normally afterwards
    journal.write_ticket("T3", "BTC/USDT", "binance_spot", "okx")
    assert [t.ticket_id for t in journal.tickets()] == ["T1", "T3"]


def test_write_intent_is_idempotent_and_refuses_conflicts(journal: Journal) -> None:
    journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx", {"edge_bps": "3.1"})
    journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx", {"edge_bps": "3.1"})  # same: fine
    with pytest.raises(IntentConflictError):
        journal.write_ticket("T1", "BTC/USDT", "binance_spot", "kraken")
    cid = journal.write_intent(intent())
    assert journal.write_intent(intent()) == cid  # re-decided after a restart: same id, nothing new
    assert len(journal.events(cid)) == 1
    with pytest.raises(IntentConflictError):
        journal.write_intent(intent(qty=1))
    assert journal.write_intent(intent(attempt=1)) != cid  # a new attempt is a new order
    with pytest.raises(sqlite3.IntegrityError):
        journal.write_intent(intent(ticket="no-such-ticket"))
    with pytest.raises(ValueError, match="qty 0"):
        journal.write_intent(intent(leg="x", qty=0))
    with pytest.raises(ValueError):
        journal.write_intent(intent(leg="x", limit=None, order_type=OrderType.LIMIT))


def test_events_in_order_with_states_and_timestamps(journal: Journal) -> None:
    journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
    cid = journal.write_intent(intent())
    journal.append_event(cid, EventKind.SENT)
    journal.append_event(cid, EventKind.ACK, venue_ns=1_700_000_000_123_000_000, venue_order_id="28")
    f1 = Fill("56", 40_000_000, 5_999_999, 2_399_999_600, "USDT", 10)
    assert journal.append_event(cid, EventKind.FILL, fill=f1) is not None
    assert journal.append_event(cid, EventKind.FILL, fill=f1) is None  # replayed fill: stored once
    with pytest.raises(FillConflictError):
        journal.append_event(cid, EventKind.FILL, fill=Fill("56", 1, 5_999_999))
    with pytest.raises(OverfillError):
        journal.append_event(cid, EventKind.FILL, fill=Fill("57", 60_000_001, 6_000_000))
    journal.append_event(cid, EventKind.FILL, fill=Fill("57", 60_000_000, 6_000_000, 3_600_000_000, "USDT", 10))
    journal.append_event(cid, EventKind.ACK)  # late ack on another stream: stays FILLED
    events = journal.events(cid)
    assert [e.kind for e in events] == ["intent", "sent", "ack", "fill", "fill", "ack"]
    assert [e.state_after for e in events] == [
        OrderState.INTENT, OrderState.SENT, OrderState.ACKED, OrderState.PARTIALLY_FILLED, OrderState.FILLED,
        OrderState.FILLED,
    ]  # fmt: skip
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert all(a.local_ns < b.local_ns for a, b in itertools.pairwise(events))
    assert events[2].venue_ns == 1_700_000_000_123_000_000
    assert events[3].fill == f1
    order = journal.order(cid)
    assert (order.state, order.filled_qty, order.venue_order_id, order.is_open) == (
        OrderState.FILLED,
        10**8,
        "28",
        False,
    )
    with pytest.raises(UnknownOrderError):
        journal.append_event("nope", EventKind.SENT)
    with pytest.raises(ValueError):
        journal.append_event(cid, EventKind.FILL)  # a fill event needs its fill


def test_timeout_is_resolved_by_query_and_late_fill_wins(journal: Journal) -> None:
    journal.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
    cid = journal.write_intent(intent())
    journal.append_event(cid, EventKind.SENT)
    journal.append_event(cid, EventKind.UNKNOWN, detail={"reason": "no reply in 2s"})
    assert [o.client_order_id for o in journal.open_orders()] == [cid]
    with pytest.raises(ValueError):
        journal.append_event(cid, EventKind.QUERY)  # the venue's state is required
    journal.append_event(cid, EventKind.QUERY, reported_state=OrderState.ACKED, detail={"status": "NEW"})
    journal.append_event(cid, EventKind.FILL, fill=Fill("1", 30_000_000, 6_000_000))
    journal.append_event(cid, EventKind.CANCEL)
    journal.append_event(cid, EventKind.UNKNOWN)  # a timeout after the end does not revive it
    assert journal.order(cid).state is OrderState.CANCELED
    journal.append_event(cid, EventKind.FILL, fill=Fill("2", 70_000_000, 6_000_000))  # overtook the cancel
    assert journal.order(cid).state is OrderState.FILLED
    assert journal.open_orders() == []


# ---- restart after SIGKILL ---------------------------------------------------------------------

CHILD = r"""
import sys
from arbcore.execution import *

USDT, BTC = Asset("USDT", 10), Asset("BTC", 8)
j = Journal(sys.argv[1])
ledger = Ledger(sink=j.append_ledger_event)
for v in ("binance_spot", "okx"):
    ledger.set_total(v, USDT, USDT.parse("1000000000"))
    ledger.set_total(v, BTC, BTC.parse("1000000"))

def say(*parts):
    print(*parts, flush=True)  # printed only after the commit returned

def order(t, leg, venue, side):
    return OrderIntent(t, leg, 0, venue, "BTCUSDT", "BTC/USDT", "BTC", "USDT", 2, 8, side,
                       OrderType.LIMIT, TimeInForce.IOC, 10_000_000, 6_000_000)

def leg(t, k, name, venue, side, spend, receive, finish):
    reserve_asset, amount = (USDT, 6_000_000 * 10_000_000) if side is Side.BUY else (BTC, 10_000_000)
    ledger.reserve(t, name, venue, reserve_asset, amount)
    cid = j.write_intent(order(t, name, venue, side)); say("intent", cid)
    j.append_event(cid, EventKind.SENT); say("event", cid, "sent")
    if not finish:
        return
    j.append_event(cid, EventKind.ACK, venue_order_id=f"v{k}{name}"); say("event", cid, "ack")
    j.append_event(cid, EventKind.FILL, fill=Fill(f"{t}{name}", 10_000_000, 6_000_000)); say("event", cid, "fill")
    ledger.convert_fill(t, name, f"{t}{name}", spend=spend, receive=receive)
    ledger.release_remaining(t, name, "done", "filled")

for k in range(10**9):
    t = f"T{k}"
    j.write_ticket(t, "BTC/USDT", "binance_spot", "okx"); say("ticket", t)
    leg(t, k, "buy", "binance_spot", Side.BUY, Amount(USDT, 6_000_000 * 10_000_000), Amount(BTC, 10_000_000), True)
    # odd tickets leave their sell leg in flight: sent, never answered
    leg(t, k, "sell", "okx", Side.SELL, Amount(BTC, 10_000_000), Amount(USDT, 6_000_000 * 10_000_000), k % 2 == 0)
"""


def test_restart_after_sigkill_finds_every_order(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    committed: list[list[str]] = []
    try:
        for line in proc.stdout:
            committed.append(line.split())
            if len(committed) >= 300:
                break  # the child is still writing as fast as it can
        os.kill(proc.pid, signal.SIGKILL)  # no close, no flush, no atexit: mid-transaction
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) >= 300, "the child died early"

    j = Journal(path)  # a restarted process opens the same file
    orders = {o.client_order_id: o for o in j.orders()}
    events = j.events()
    seen = {(e.client_order_id, e.kind.value) for e in events}
    for rec in committed:  # everything reported committed survived the kill
        if rec[0] == "intent":
            assert (rec[1], "intent") in seen
        elif rec[0] == "event":
            assert (rec[1], rec[2]) in seen
    for cid, o in orders.items():  # order row and its events were written atomically
        mine = [e for e in events if e.client_order_id == cid]
        assert mine[0].kind is EventKind.INTENT
        assert mine[-1].state_after is o.state
    open_ids = {o.client_order_id for o in j.open_orders()}
    assert open_ids == {cid for cid, o in orders.items() if o.state not in TERMINAL_STATES}
    # every odd ticket's sell leg (sent, never answered) is found, with its deterministic id
    last = max(int(t.ticket_id[1:]) for t in j.tickets())
    for k in range(1, last, 2):
        assert client_order_id("okx", f"T{k}", "sell", 0) in open_ids
    assert len(open_ids) >= last // 2
    # the ledger rebuilt from the journal is sound and still holds the in-flight legs' funds
    ledger = j.ledger_replay()
    assert ledger.violations() == []
    for k in range(1, last, 2):
        assert ledger.reservation(f"T{k}", "sell", BTC).remaining == 10_000_000
    for k in range(0, last, 2):
        assert ledger.reservation(f"T{k}", "sell", BTC).remaining == 0
    # and the journal takes new writes after the crash
    j.append_event(client_order_id("okx", "T1", "sell", 0), EventKind.QUERY, reported_state=OrderState.EXPIRED)
    assert client_order_id("okx", "T1", "sell", 0) not in {o.client_order_id for o in j.open_orders()}
    j.close()


def test_readonly_journal_reads_and_never_writes(tmp_path: Path) -> None:
    """``readonly=True`` (reports): reads the journal, never creates nor changes the file (the
    writer's open turned any SQLite file into one, in WAL mode), refuses a file without the
    journal's tables or of another schema version in one line naming it."""
    path = tmp_path / "j.db"
    with Journal(path, clock=ticking_clock()) as j:
        j.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
        cid = j.write_intent(intent())
    data = path.read_bytes()
    with Journal(path, readonly=True) as r:
        assert [t.ticket_id for t in r.tickets()] == ["T1"] and r.order(cid).state is OrderState.INTENT
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            r.write_ticket("T2", "BTC/USDT", "binance_spot", "okx")
    assert path.read_bytes() == data
    with pytest.raises(ValueError, match="no intent log"):
        Journal(path, readonly=True, intent_log=True)
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        Journal(tmp_path / "none.db", readonly=True)
    assert not (tmp_path / "none.db").exists()
    for change, why in [
        ("DROP TABLE ticket_outcomes", r"not an arbcore journal of this version \(no ticket_outcomes table\)"),
        ("UPDATE meta SET value='2' WHERE key='schema_version'", "journal schema version 2, this code reads 1"),
        ("DELETE FROM meta", r"not an arbcore journal \(no schema_version in its meta table\)"),
        ("DROP TABLE meta", r"not an arbcore journal \(no meta table\)"),
    ]:
        with contextlib.closing(sqlite3.connect(path)) as c:
            c.execute(change)
            c.commit()
        data = path.read_bytes()
        with pytest.raises(JournalOpenError, match=f"^{re.escape(str(path))}: {why}$"):
            Journal(path, readonly=True)
        assert path.read_bytes() == data


# ---- ledger replay ----------------------------------------------------------------------------


def test_ledger_replay_equals_the_live_ledger(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    j = Journal(path)
    live = Ledger(sink=j.append_ledger_event)
    live.set_total("binance_spot", USDT, USDT.parse("100000"))
    live.set_total("okx", BTC, BTC.parse("3"))
    live.reserve("T1", "buy", "binance_spot", USDT, USDT.parse("60060"))
    live.reserve("T1", "sell", "okx", BTC, BTC.parse("1"))
    live.convert_fill(
        "T1", "buy", "56", spend=Amount(USDT, USDT.parse("24000")), receive=Amount(BTC, BTC.parse("0.4")),
        fee=Amount(USDT, USDT.parse("24")),
    )  # fmt: skip
    live.convert_fill("T1", "sell", "9", spend=Amount(BTC, BTC.parse("1")), receive=Amount(USDT, USDT.parse("60100")))
    live.expire("T1", "buy", "ioc")
    live.reconcile("okx", {BTC: BTC.parse("2"), USDT: USDT.parse("60100")}, adopt=True)
    assert j.ledger_replay().state() == live.state()
    j.close()
    with Journal(path) as reopened:  # also from the file, after a restart
        replayed = reopened.ledger_replay()
        assert replayed.state() == live.state()
        assert replayed.violations() == []


def test_balance_snapshots(journal: Journal) -> None:
    ledger = Ledger()
    ledger.set_total("okx", BTC, 5)
    ledger.reserve("T1", "sell", "okx", BTC, 2)
    journal.write_balance_snapshot("okx", "venue", {BTC: 5, USDT: 10**30})  # beyond i64: stored exactly
    journal.write_balance_snapshot("okx", "ledger", {BTC: ledger.balance("okx", BTC)})
    rows = journal.balance_snapshots("okx")
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [
        ("venue", BTC, 5, None),
        ("venue", USDT, 10**30, None),
        ("ledger", BTC, 5, 2),
    ]


# ---- client order ids -------------------------------------------------------------------------


def test_client_order_id_scheme_is_pinned() -> None:
    expected = uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "arbcore:client-order-id:v1"), "2:T13:buy0")
    assert uuid.uuid5(uuid.NAMESPACE_URL, "arbcore:client-order-id:v1") == CLIENT_ID_NAMESPACE
    assert order_uuid("T1", "buy", 0) == expected
    assert client_order_id("binance_spot", "T1", "buy", 0) == "da62c7cd9f7d5a3a870e3c4d49c75958"
    assert client_order_id("okx", "T1", "buy", 0) == "da62c7cd9f7d5a3a870e3c4d49c75958"
    assert client_order_id("kraken", "T1", "buy", 0) == "da62c7cd-9f7d-5a3a-870e-3c4d49c75958"
    assert client_order_id("coinbase", "T1", "buy", 0) == "da62c7cd-9f7d-5a3a-870e-3c4d49c75958"
    assert client_order_id("some_new_venue", "T1", "buy", 0) == "da62c7cd9f7d5a3a870e3c4d49c75958"
    # the length prefixes keep ("T1", "1buy") and ("T11", "buy") apart
    assert order_uuid("T1", "1buy", 0) != order_uuid("T11", "buy", 0)
    with pytest.raises(ValueError):
        order_uuid("", "buy", 0)
    with pytest.raises(ValueError):
        order_uuid("T1", "buy", -1)


@given(
    ticket=st.text(min_size=1, max_size=80),
    leg=st.text(min_size=1, max_size=20),
    attempt=st.integers(0, 10**6),
)
def test_client_order_ids_are_deterministic_and_valid_on_every_venue(ticket: str, leg: str, attempt: int) -> None:
    for venue in VENUES:
        cid = client_order_id(venue, ticket, leg, attempt)
        assert cid == client_order_id(venue, ticket, leg, attempt)
        assert valid_for(venue, cid), (venue, cid)
        assert canonical_id(cid) == order_uuid(ticket, leg, attempt)
        assert cid != client_order_id(venue, ticket, leg, attempt + 1)


def test_venue_rules_match_the_documented_limits() -> None:
    assert valid_for("binance_spot", "x" * 36) and not valid_for("binance_spot", "x" * 37)
    assert not valid_for("binance_spot", "a.b")
    assert valid_for("bybit", "spot-test-01") and not valid_for("bybit", "a b")
    assert valid_for("okx", "a" * 32) and not valid_for("okx", "a" * 33) and not valid_for("okx", "a-b")
    assert valid_for("kraken", "arb-20240509-00010") and not valid_for("kraken", "arb-20240509-000100")
    assert valid_for("coinbase", str(uuid.uuid4())) and not valid_for("coinbase", "abc")


# ---- PnL --------------------------------------------------------------------------------------


def two_legs(
    j: Journal, t: str, buys: list[Fill], sells: list[Fill], *, pair: tuple[str, str] = ("a", "b"), **kw: Any
) -> None:
    j.write_ticket(t, kw.get("instrument", "BTC/USDT"), *pair)
    for leg, side, venue, fills in (("buy", Side.BUY, pair[0], buys), ("sell", Side.SELL, pair[1], sells)):
        cid = j.write_intent(intent(t, leg, venue=venue, side=side, qty=sum(f.qty for f in fills) or 1, **kw))
        for f in fills:
            j.append_event(cid, EventKind.FILL, fill=f)


def test_pnl_flat_ticket_net_of_quote_fees(journal: Journal) -> None:
    two_legs(
        journal, "T1", [Fill("b1", 10**8, 6_000_000, 6_000_000_000, "USDT", 8)],
        [Fill("s1", 10**8, 6_010_000, 6_010_000_000, "USDT", 8)],
    )  # fmt: skip
    p = journal.ticket_pnl("T1")
    assert p.position == 0
    assert p.notional_decimals == 10
    assert p.quote_fees == USDT.parse("120.1")
    assert p.realised == -USDT.parse("20.1")  # 100 gross - 60 - 60.1 fees
    assert p.realised == p.sell_notional - p.buy_notional - p.quote_fees


def test_pnl_fifo_partial_and_residual(journal: Journal) -> None:
    two_legs(
        journal, "T1", [Fill("b1", 40_000_000, 6_000_000), Fill("b2", 60_000_000, 6_001_000)],
        [Fill("s1", 70_000_000, 6_010_000)],
    )  # fmt: skip
    p = journal.ticket_pnl("T1")
    assert p.position == 30_000_000  # 0.3 BTC still to hedge or unwind
    assert p.realised == USDT.parse("67")  # 0.4 x 100 + 0.3 x 90, matched first in first out


def test_pnl_base_fee_is_a_disposal_and_other_fees_are_reported(journal: Journal) -> None:
    two_legs(
        journal, "T1", [Fill("b1", 10**8, 6_000_000, 100_000, "BTC", 8)],  # 0.001 BTC taken as fee
        [Fill("s1", 99_900_000, 6_010_000, 5, "BNB", 3)],
    )  # fmt: skip
    p = journal.ticket_pnl("T1")
    assert p.position == 0 and p.base_fees == 100_000
    assert p.realised == USDT.parse("39.9")  # 0.999 x 60100 - 60000
    assert p.other_fees == {"BNB": (5, 3)}


def test_pnl_counts_fees_finer_than_the_instruments_scales(journal: Journal) -> None:
    """ETH/USDT at 2 + 6 decimals; the venues charge USDT at 10 decimals and ETH at 8 (as the
    default run's did). Every fee counts, exactly, at the finer scale: before, such a fee went to
    ``other_fees``, which no PnL line subtracted (reported profit ran ~13% high)."""
    eth: dict[str, Any] = {"instrument": "ETH/USDT", "base": "ETH", "price_decimals": 2, "qty_decimals": 6}
    two_legs(
        journal, "T1", [Fill("b1", 50_000, 299_815, 149_969_253, "USDT", 10)],  # 0.05 @ 2998.15, fee 0.149969253
        [Fill("s1", 49_000, 300_350, 4_321, "ETH", 8)], **eth,  # 0.049 @ 3003.50, fee 0.00004321 ETH
    )  # fmt: skip
    p = journal.ticket_pnl("T1")
    assert p.other_fees == {}
    assert (p.qty_decimals, p.notional_decimals) == (8, 10)
    assert p.quote_fees == 149_969_253 and p.base_fees == 4_321
    assert p.position == 5_000_000 - 4_900_000 - 4_321  # 0.00095679 ETH left, at 8 decimals
    # 0.049 sold at 3003.50 against 0.049 of the buy at 2998.15, then 0.00004321 given away at 0
    gross = 4_900_000 * (300_350 - 299_815) - 4_321 * 299_815  # at 2 + 8 decimals
    assert p.realised == gross - 149_969_253
    assert p.buy_notional == 5_000_000 * 299_815 and p.sell_notional == 4_900_000 * 300_350
    (pair,) = journal.pnl_by_venue_pair()
    assert (pair.realised, pair.decimals, pair.quote_fees) == (p.realised, 10, 149_969_253)


def test_pnl_short_first_and_rebate(journal: Journal) -> None:
    journal.write_ticket("T1", "BTC/USDT", "b", "a")
    s = journal.write_intent(intent("T1", "sell", venue="b", side=Side.SELL))
    b = journal.write_intent(intent("T1", "buy", venue="a", side=Side.BUY))
    journal.append_event(s, EventKind.FILL, fill=Fill("s1", 10**8, 6_010_000))
    journal.append_event(b, EventKind.FILL, fill=Fill("b1", 10**8, 6_000_000, -1_000_000, "USDT", 6))  # rebate 1
    assert journal.ticket_pnl("T1").realised == USDT.parse("101")


def test_pnl_by_venue_pair_sums_exactly_across_scales(journal: Journal) -> None:
    two_legs(journal, "T1", [Fill("b1", 10**8, 6_000_000)], [Fill("s1", 10**8, 6_001_000)])  # +10 at 10 decimals
    eth: dict[str, Any] = {"instrument": "ETH/USDT", "base": "ETH", "price_decimals": 4, "qty_decimals": 8}
    two_legs(journal, "T2", [Fill("b1", 10**8, 30_000_000)], [Fill("s1", 10**8, 30_000_001)], **eth)  # +0.0001 at 12
    two_legs(journal, "T3", [Fill("b1", 10**8, 6_001_000)], [Fill("s1", 10**8, 6_000_000)], pair=("b", "a"))
    journal.write_ticket("T4", "BTC/USDT", "a", "b")  # decided, nothing sent: no PnL yet
    pairs = {(p.buy_venue, p.sell_venue): p for p in journal.pnl_by_venue_pair()}
    assert pairs[("a", "b")].decimals == 12 and pairs[("a", "b")].tickets == 2
    assert pairs[("a", "b")].realised == 10 * 10**12 + 10**8
    assert pairs[("b", "a")].realised == -10 * 10**10
    with pytest.raises(UnknownOrderError):
        journal.ticket_pnl("T4")


# ---- secrets ----------------------------------------------------------------------------------


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    secret = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    path = tmp_path / "s.db"
    with Journal(path, secrets=[secret]) as j:
        j.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
        cid = j.write_intent(
            intent(),
            {
                "headers": {"X-MBX-APIKEY": "key-123", "OK-ACCESS-KEY": "k", "OK-ACCESS-PASSPHRASE": "p"},
                "params": {"signature": "abc", "symbol": "BTCUSDT"},
                "ws": [{"token": "tok"}],
            },
        )
        with pytest.raises(SecretInJournalError):
            j.append_event(cid, EventKind.REJECT, detail={"msg": f"bad key {secret}"})
        with pytest.raises(SecretInJournalError):
            j.append_event(cid, EventKind.ACK, venue_order_id=secret)
        assert [e.kind for e in j.events(cid)] == ["intent"]  # nothing written by the refused calls
        detail = j.events(cid)[0].detail
        assert detail == {
            "headers": {
                "X-MBX-APIKEY": "<redacted>",
                "OK-ACCESS-KEY": "<redacted>",
                "OK-ACCESS-PASSPHRASE": "<redacted>",
            },
            "params": {"signature": "<redacted>", "symbol": "BTCUSDT"},
            "ws": [{"token": "<redacted>"}],
        }
    for f in tmp_path.iterdir():
        data = f.read_bytes()
        assert secret.encode() not in data and b"key-123" not in data


# ---- async wrapper ----------------------------------------------------------------------------


def test_async_journal_runs_on_one_worker_thread_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        aj = await AsyncJournal.open(tmp_path / "a.db")
        assert aj.thread_id != threading.get_ident()
        assert await aj.call(lambda _j: threading.get_ident()) == aj.thread_id
        await aj.write_ticket("T1", "BTC/USDT", "binance_spot", "okx")
        cid = await aj.write_intent(intent())
        # durable before we would send: an independent connection reads it now
        other = sqlite3.connect(tmp_path / "a.db")
        assert other.execute("SELECT state FROM orders WHERE client_order_id=?", (cid,)).fetchone() == ("INTENT",)
        other.close()
        ledger = await aj.ledger_replay()
        ledger.set_total("binance_spot", USDT, 10**15)
        ledger.reserve("T1", "buy", "binance_spot", USDT, 10**12)
        aj.post_event(cid, EventKind.SENT)
        for n in range(50):  # posted without waiting: still journaled in call order
            aj.post_event(cid, EventKind.FILL, fill=Fill(f"f{n}", 1, 6_000_000))
        assert (await aj.append_event(cid, EventKind.ACK)) is not None
        await aj.flush()
        events = await aj.call(Journal.events, cid)
        assert [e.fill.fill_id for e in events if e.fill] == [f"f{n}" for n in range(50)]
        assert (await aj.open_orders())[0].filled_qty == 50
        replayed = await aj.ledger_replay()
        assert replayed.state() == ledger.state()
        # a failed posted write is raised at the next flush, not lost
        aj.post_event("no-such-order", EventKind.SENT)
        with pytest.raises(UnknownOrderError):
            await aj.flush()
        await aj.close()

    asyncio.run(main())
