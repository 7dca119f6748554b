"""The intent log: a staged ticket is on disk before its orders leave, reaches SQLite before any
event of its orders, and is imported after a crash between the two (once, whole, in order)."""

from __future__ import annotations

import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from arbcore.execution import EventKind, Fill, Journal, Ledger, OrderState, SecretInJournalError, Side
from arbcore.execution.intent_log import IntentLog, IntentLogError, StagedTicket, staged_ticket_ids
from arbcore.execution.records import dump_detail
from test_journal import BTC, USDT, intent


def staged(ledger: Ledger, ticket: str = "T1", qty: int = 100_000_000) -> StagedTicket:
    """Reserve both legs on ``ledger`` (captured, as the ticket path does) and stage them."""
    buy = intent(ticket, "buy", venue="binance_spot", side=Side.BUY, qty=qty)
    sell = intent(ticket, "sell", venue="okx", side=Side.SELL, qty=qty, symbol="BTC-USDT")
    with ledger.capture() as events:
        ledger.reserve(ticket, "buy", "binance_spot", USDT, 6_000_000 * qty // 100)
        ledger.reserve(ticket, "sell", "okx", BTC, qty)
    return StagedTicket(
        ticket, "BTC/USDT", "binance_spot", "okx", dump_detail({"qty": str(qty)}), tuple(events), (buy, sell)
    )


def funded_journal(path: Path) -> tuple[Journal, Ledger]:
    j = Journal(path, intent_log=True)
    ledger = j.ledger_replay(sink=j.append_ledger_event)
    if not ledger.balances():
        ledger.set_total("binance_spot", USDT, 10**16)
        ledger.set_total("okx", BTC, 10**10)
    return j, ledger


def crash(j: Journal) -> None:
    """Drop the journal the way SIGKILL does: nothing flushed, nothing closed cleanly."""
    j._pending.clear()
    j._conn.close()
    assert j._log is not None
    j._log.close()


def test_stage_is_on_disk_in_the_log_and_reaches_sqlite_on_flush(tmp_path: Path) -> None:
    j, ledger = funded_journal(tmp_path / "j.db")
    t = staged(ledger)
    j.stage(t)
    assert staged_ticket_ids(tmp_path / "j.db") == ["T1"]  # on disk (what another process reads)
    raw = j._conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    assert raw == 0  # not in SQLite yet: the order path has not paid for it
    staged_at = time.time_ns()
    time.sleep(0.01)
    j.flush()
    assert {o.client_order_id for o in j.orders()} == {i.client_order_id for i in t.intents}
    assert staged_ticket_ids(tmp_path / "j.db") == []  # everything in SQLite: the log starts over
    # the ticket's row says when it was staged (decided), not when the flush came
    (row,) = j.tickets()
    assert row.created_ns <= staged_at, (row.created_ns, staged_at)
    j.close()


def test_any_access_flushes_first_so_events_follow_their_order(tmp_path: Path) -> None:
    j, ledger = funded_journal(tmp_path / "j.db")
    t = staged(ledger)
    j.stage(t)
    cid = t.intents[0].client_order_id
    # the venue answers before the ticket path flushed: the event must find its order
    ev = j.append_event(cid, EventKind.FILL, fill=Fill("f1", 10_000_000, 6_000_000, 5, "USDT", 2))
    assert ev is not None and ev.state_after is OrderState.PARTIALLY_FILLED
    kinds = [e.kind for e in j.events(cid)]
    assert kinds == [EventKind.INTENT, EventKind.FILL]
    j.close()


def test_crash_between_stage_and_flush_is_imported_at_open(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    j.stage(staged(ledger, "T1"))
    j.flush()
    t2 = staged(ledger, "T2")
    j.stage(t2)
    expected = ledger.state()
    crash(j)

    with Journal(path) as plain:  # SQLite alone lacks T2
        assert [t.ticket_id for t in plain.tickets()] == ["T1"]
    j2, ledger2 = funded_journal(path)  # opening with the log imports it
    assert [t.ticket_id for t in j2.tickets()] == ["T1", "T2"]
    assert {o.client_order_id for o in j2.orders("T2")} == {i.client_order_id for i in t2.intents}
    assert all(o.state is OrderState.INTENT for o in j2.orders("T2"))
    assert ledger2.state() == expected  # the reservations came back with the ticket
    assert staged_ticket_ids(path) == []
    j2.close()
    j3, _ = funded_journal(path)  # a second open imports nothing twice
    assert len(j3.orders()) == 4
    j3.close()


def test_a_line_already_in_sqlite_is_not_imported_twice(tmp_path: Path) -> None:
    """A crash after the flush committed but before the log was emptied."""
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    t = staged(ledger)
    j.stage(t)
    j.flush()
    assert j._log is not None
    j._log.append(t.to_line())  # the line the crash left behind
    n_ledger = len(j.ledger_events())
    crash(j)
    j2, _ = funded_journal(path)
    assert len(j2.orders()) == 2 and len(j2.ledger_events()) == n_ledger
    j2.close()


def test_the_import_at_open_looks_up_the_logs_orders_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each open with an intent log read every client order id of the journal to tell which
    logged tickets SQLite lacked (0.27 s per 100k tickets at every start, an empty log too). Now
    it looks up the log's first orders only, and reads no order at all with an empty log."""
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    for k in range(20):  # in SQLite
        j.stage(staged(ledger, f"F{k}", qty=10**6))
    j.flush()
    t = staged(ledger, "T1", qty=10**6)
    j.stage(t)
    crash(j)  # T1 in the log only
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*a: Any, **kw: Any) -> sqlite3.Connection:
        conn = connect(*a, **kw)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    with Journal(path, intent_log=True) as j2:
        reads = [s for s in statements if "FROM orders" in s]
        assert len(reads) == 1 and "json_each" in reads[0], reads
        assert {o.client_order_id for o in j2.orders("T1")} == {i.client_order_id for i in t.intents}
    statements.clear()
    with Journal(path, intent_log=True) as j3:  # an empty log: nothing to look up
        assert not [s for s in statements if "FROM orders" in s], statements
        assert len(j3.orders()) == 42


def test_torn_last_record_is_dropped_a_damaged_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    payload = staged(ledger).to_line()
    crash(j)
    log_path = tmp_path / "j.db-intents"
    size = log_path.stat().st_size
    header = struct.pack("<II", len(payload), zlib.crc32(payload))
    # the crash came between the payload and its header: no record
    log_path.write_bytes((bytes(8) + payload).ljust(size, b"\0"))
    with Journal(path, intent_log=True) as j2:
        assert j2.orders() == []
    # the crash cut the payload short: the CRC fails, nothing after it: dropped
    log_path.write_bytes((header + payload[:-7]).ljust(size, b"\0"))
    with Journal(path, intent_log=True) as j2:
        assert j2.orders() == []
    # a damaged record with a good one after it: refused, not skipped
    bad = header + payload[:-1] + b"X"
    log_path.write_bytes((bad + header + payload).ljust(size, b"\0"))
    with pytest.raises(IntentLogError, match="damaged"):
        Journal(path, intent_log=True)
    # whole records are imported
    log_path.write_bytes((header + payload).ljust(size, b"\0"))
    with Journal(path, intent_log=True) as j2:
        assert len(j2.orders()) == 2


def test_a_torn_stores_bytes_are_zeroed_at_open(tmp_path: Path) -> None:
    """Past the last record the log holds only zeros once opened: a torn store's payload would
    otherwise follow a shorter record stored over it (and the dry store relies on it)."""
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    long_payload = staged(ledger, "T-long-" + "x" * 300).to_line()
    crash(j)
    log_path = tmp_path / "j.db-intents"
    size = log_path.stat().st_size
    log_path.write_bytes((bytes(8) + long_payload).ljust(size, b"\0"))  # payload stored, header not
    j2, ledger2 = funded_journal(path)
    assert j2.orders() == []
    assert not any(log_path.read_bytes())
    short = staged(ledger2, "T2")
    j2.stage(short)
    crash(j2)
    with Journal(path, intent_log=True) as j3:
        assert sorted(o.intent.leg_id for o in j3.orders()) == ["buy", "sell"]


def test_a_dry_store_changes_no_byte_of_the_log(tmp_path: Path) -> None:
    """The order path's dry run stores zeros where its record would go: the file is unchanged,
    the next real record lands where it would have, and a crash after it imports only real ones."""
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    j.stage(staged(ledger, "T1"))
    log_path = tmp_path / "j.db-intents"
    before = log_path.read_bytes()
    payload = staged(ledger, "T2").to_line()
    framed = struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
    for _ in range(3):
        j.store_framed(framed, dry=True)
    assert log_path.read_bytes() == before
    j.store_framed(framed)
    assert log_path.read_bytes()[len(before.rstrip(b"\0")) :].startswith(framed)
    crash(j)
    assert [t.ticket_id for t in IntentLog(log_path).read()] == ["T1", "T2"]


def test_a_full_log_makes_room_by_flushing(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db", intent_log=True, durable_intents=False)
    ledger = j.ledger_replay(sink=j.append_ledger_event)
    ledger.set_total("binance_spot", USDT, 10**16)
    ledger.set_total("okx", BTC, 10**10)
    assert j._log is not None
    j._log.close()
    j._log = IntentLog(tmp_path / "small-intents", capacity=2048)  # room for 3 or 4 records
    for k in range(10):
        j.stage(staged(ledger, f"T{k}", qty=10_000))
    j.flush()
    assert [t.ticket_id for t in j.tickets()] == [f"T{k}" for k in range(10)]
    j.close()


def test_a_secret_never_reaches_the_log(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db", intent_log=True, secrets=["s3cr3t-value"])
    t = StagedTicket("T1", "BTC/USDT", "a", "b", dump_detail({"note": "s3cr3t-value"}), (), (intent(),))
    with pytest.raises(SecretInJournalError):
        j.stage(t)
    assert staged_ticket_ids(tmp_path / "j.db") == []
    j.close()


def test_sigkill_after_stage_loses_nothing(tmp_path: Path) -> None:
    """A real process, killed right after the write returned: the next open finds the ticket."""
    path = tmp_path / "j.db"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_intent_log import funded_journal, staged
        from pathlib import Path
        j, ledger = funded_journal(Path({str(path)!r}))
        j.stage(staged(ledger, "TK"))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    j, ledger = funded_journal(path)
    assert [t.ticket_id for t in j.tickets()] == ["TK"]
    assert ledger.reservations() and len(j.open_orders()) == 2
    j.close()
    assert staged_ticket_ids(path) == []


def test_report_and_journal_command_name_tickets_only_in_the_log(tmp_path: Path) -> None:
    """`arbcore report` / `arbcore journal` read without importing (a running engine owns the
    import) but say which tickets have orders only in the log: new tickets and a hedge alike."""
    from arbcore.runner.report import build_report

    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    j.stage(staged(ledger, "TDONE"))
    j.flush()
    j.stage(staged(ledger, "TLOG"))
    hedge = intent("TDONE", "hedge1", venue="okx", side=Side.SELL, qty=10_000, symbol="BTC-USDT")
    with ledger.capture() as events:
        ledger.reserve("TDONE", "hedge1", "okx", BTC, 10_000)
    j.stage(StagedTicket("TDONE", "BTC/USDT", "-", "okx", None, tuple(events), (hedge,)))
    crash(j)
    report = build_report(path)
    assert report["staged_in_intent_log"] == ["TLOG", "TDONE"]
    assert report["tickets"]["count"] == 1
    out = subprocess.run(
        [sys.executable, "-m", "arbcore", "journal", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "2 ticket(s) with orders only in the intent log" in out.stdout and "TLOG, TDONE" in out.stdout
    assert staged_ticket_ids(path) == ["TLOG", "TDONE"]  # reading imported nothing


def test_a_later_order_of_a_journaled_ticket_is_imported_too(tmp_path: Path) -> None:
    """A hedge is staged without a ticket row (the ticket is in SQLite): the import goes by its
    order, not by its ticket."""
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    j.stage(staged(ledger, "T1"))
    j.flush()
    hedge = intent("T1", "hedge1", venue="okx", side=Side.SELL, qty=10_000, symbol="BTC-USDT")
    with ledger.capture() as events:
        ledger.reserve("T1", "hedge1", "okx", BTC, 10_000)
    j.stage(StagedTicket("T1", "BTC/USDT", "-", "okx", None, tuple(events), (hedge,)))
    crash(j)
    j2, ledger2 = funded_journal(path)
    assert [o.intent.leg_id for o in j2.orders("T1")] == ["buy", "sell", "hedge1"]
    assert ledger2.reservation("T1", "hedge1", "BTC").remaining == 10_000
    assert len(j2.tickets()) == 1
    j2.close()


def test_one_engine_per_journal(tmp_path: Path) -> None:
    """A second journal on the same intent log (another engine) is refused with a clear error;
    the lock goes with the first one's close, or its process."""
    path = tmp_path / "j.db"
    first = Journal(path, intent_log=True)
    with pytest.raises(IntentLogError, match="in use by another process"):
        Journal(path, intent_log=True)
    first.close()
    Journal(path, intent_log=True).close()
