"""The intent log: a staged ticket is on disk before its orders leave, reaches SQLite before any
event of its orders, and is imported after a crash between the two (once, whole, in order)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from arbcore.execution import EventKind, Fill, Journal, Ledger, OrderState, SecretInJournalError, Side
from arbcore.execution.intent_log import IntentLogError, StagedTicket
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
    log_path = tmp_path / "j.db-intents"
    assert log_path.stat().st_size > 0
    raw = j._conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    assert raw == 0  # not in SQLite yet: the order path has not paid for it
    j.flush()
    assert {o.client_order_id for o in j.orders()} == {i.client_order_id for i in t.intents}
    assert log_path.stat().st_size == 0  # everything in SQLite: the log starts over
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
    assert (tmp_path / "j.db-intents").stat().st_size == 0
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


def test_torn_last_line_is_dropped_a_corrupt_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    line = staged(ledger).to_line()
    crash(j)
    log_path = tmp_path / "j.db-intents"
    log_path.write_bytes(line[: len(line) // 2])  # the write the crash cut short: never sent
    j2 = Journal(path, intent_log=True)
    assert j2.orders() == []
    j2.close()
    log_path.write_bytes(b"{not json}\n" + line)
    with pytest.raises(IntentLogError, match="line 1"):
        Journal(path, intent_log=True)


def test_a_secret_never_reaches_the_log(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db", intent_log=True, secrets=["s3cr3t-value"])
    t = StagedTicket("T1", "BTC/USDT", "a", "b", dump_detail({"note": "s3cr3t-value"}), (), (intent(),))
    with pytest.raises(SecretInJournalError):
        j.stage(t)
    assert (tmp_path / "j.db-intents").stat().st_size == 0
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
    assert os.path.getsize(tmp_path / "j.db-intents") == 0


def test_report_names_tickets_only_in_the_log(tmp_path: Path) -> None:
    """`arbcore journal` reads without importing (a running engine owns the import) but says so."""
    from arbcore.runner.report import build_report

    path = tmp_path / "j.db"
    j, ledger = funded_journal(path)
    j.stage(staged(ledger, "TLOG"))
    crash(j)
    report = build_report(path)
    assert report["staged_in_intent_log"] == ["TLOG"]
    assert report["tickets"]["count"] == 0
    assert (tmp_path / "j.db-intents").stat().st_size > 0  # reading imported nothing
