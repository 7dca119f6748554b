"""Ledger checkpoints (``execution/ledger_checkpoint.py``): a start loads the latest and replays the
ledger events after it, and ends exactly where a full replay of every event ends: the same
snapshot (every map, every first result, in order), state and violations. Property-tested over
random ledger calls on a real journal file, and on the journal of a real engine run against the
loopback simulators (a checkpoint with tickets in flight, a crash image after later events, the
periodic and the clean-stop checkpoints, a restart from them). A journal from before checkpoints
opens and replays every event; a checkpoint that does not fit is not used."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbcore.execution import Amount, Asset, Journal, Ledger, LedgerError, LedgerEvent
from arbcore.execution.engine import LiveOrder
from arbcore.execution.intent_log import StagedTicket
from arbcore.execution.journal_schema import SCHEMA, TABLES, schema_problem
from arbcore.execution.ledger_checkpoint import CheckpointError, decode_snapshot
from arbcore.runner.commands import _print_journal
from arbcore.runner.report import build_report
from engine_helpers import live_crossing_plan, session
from test_runner_report import sample_journal, write_sample_tickets

USDT, BTC = Asset("USDT", 10), Asset("BTC", 8)
VENUES = ("a", "b")
TICKETS = ("T0", "T1", "T2", "T3")
LEGS = ("buy", "sell")


def checkpoints(path: Path) -> list[tuple[int, str]]:
    """(ledger_seq, body) of the checkpoint rows, oldest first (read beside the journal's own connection)."""
    with contextlib.closing(sqlite3.connect(path)) as c:
        return list(c.execute("SELECT ledger_seq, body FROM ledger_checkpoints ORDER BY seq"))


def from_checkpoint(j: Journal, seq: int, body: str) -> Ledger:
    """The ledger of this checkpoint with the journal's events after it applied."""
    ledger = Ledger.restore(decode_snapshot(body))
    for ev in j.ledger_events(after=seq):
        ledger.apply(ev)
    return ledger


def assert_same(a: Ledger, b: Ledger) -> None:
    assert a.snapshot() == b.snapshot()
    assert a.state() == b.state()
    assert a.violations() == b.violations()


def outcome(call: Callable[[], object]) -> object:
    """What a ledger call returned, or the type of what it raised."""
    try:
        return call()
    except (LedgerError, ValueError) as e:
        return type(e)


def replay_again(ledger: Ledger, ev: LedgerEvent) -> object:
    """Apply an event that was applied before (a duplicate): what the ledger says to it."""
    am = dict(ev.amounts)
    if ev.kind == "fill":
        return outcome(lambda: ledger.convert_fill(ev.ticket_id, ev.leg_id, ev.event_id, spend=am["spend"],
                                                   receive=am["receive"], fee=am.get("fee"),
                                                   allow_available=ev.reason == "allow_available"))  # fmt: skip
    if ev.kind == "release":
        a = am["amount"]
        return outcome(lambda: ledger.release(ev.ticket_id, ev.leg_id, ev.event_id, a.asset, a.value))
    return outcome(lambda: ledger.release_remaining(ev.ticket_id, ev.leg_id, ev.event_id, ev.reason))


# one random ledger call: (kind, ticket, leg, venue, asset, amount, event id)
OPS = st.lists(
    st.tuples(
        st.integers(0, 9),
        st.sampled_from(TICKETS),
        st.sampled_from(LEGS),
        st.sampled_from(VENUES),
        st.sampled_from((USDT, BTC)),
        st.integers(1, 3_000),
        st.integers(0, 12),
    ),
    min_size=1,
    max_size=70,
)


def run_ops(j: Journal, ops: list[tuple[int, str, str, str, Asset, int, int]]) -> tuple[Ledger, list[tuple[int, str]]]:
    """Random ledger calls, journaled as the engine journals them; checkpoints among them. Refused
    calls change nothing (and journal nothing). Returns the live ledger and each checkpoint taken."""
    led = Ledger(sink=j.append_ledger_event)
    for venue in VENUES:  # funded, as a start's adoption of the venues' balances does
        led.reconcile(venue, {USDT: 10**5, BTC: 10**5}, adopt=True)
    taken: list[tuple[int, str]] = []
    for kind, t, leg, venue, drawn, amount, eid in ops:
        e = f"e{eid}"
        asset = drawn
        other = BTC if asset is USDT else USDT
        try:
            if kind == 0:
                led.set_total(venue, asset, amount * 10)
            elif kind == 1:
                led.reserve(t, leg, venue, asset, amount)
            elif kind == 2:
                led.release(t, leg, e, asset, amount // 4 + 1)
            elif kind == 3:
                led.release_remaining(t, leg, e, "cancel")
            elif kind == 4:  # a fill: spends ``asset`` (the leg's, mostly), receives the other, a fee in that
                if amount % 4:
                    asset = next((r.asset for (rt, rl, _), r in led.reservations().items() if (rt, rl) == (t, leg)),
                                 asset)  # fmt: skip
                    other = BTC if asset is USDT else USDT
                led.convert_fill(t, leg, e, spend=Amount(asset, amount // 8 + 1), receive=Amount(other, amount),
                                 fee=Amount(other, amount // 100), allow_available=amount % 3 == 0)  # fmt: skip
            elif kind == 5:  # the ticket ends as the engine ends one: what is left released, retired
                for done in LEGS:
                    with contextlib.suppress(LedgerError):
                        led.release_remaining(t, done, f"{e}:final", "FILLED")
                led.retire(t)
            elif kind == 6:  # a checkpoint (funds held or not, applied event ids or not)
                seq = j.write_ledger_checkpoint(led)
                taken.append(checkpoints(j.path)[-1])
                assert taken[-1][0] == seq
            elif kind == 7:  # the ticket path: both legs reserved in capture, journaled in one write
                with led.capture() as events:
                    with contextlib.suppress(LedgerError, ValueError):
                        led.reserve(t, "buy", venue, USDT, amount)
                        led.reserve(t, "sell", VENUES[1 - VENUES.index(venue)], BTC, amount)
                    with pytest.raises(CheckpointError):  # its changes are not in the journal yet
                        j.write_ledger_checkpoint(led)
                j.append_ledger_events(events)
            elif kind == 8:
                led.reconcile(venue, {asset: amount * 7}, adopt=True)
            elif kind == 9:  # the first fill or release again: a no-op (or refused: its ticket retired)
                prior = next((ev for ev in j.ledger_events() if ev.kind in ("fill", "release", "release_all")), None)
                if prior is not None:
                    replay_again(led, prior)
        except (LedgerError, ValueError):
            pass
    return led, taken


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_checkpoint_plus_tail_equals_full_replay(ops: list[tuple[int, str, str, str, Asset, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.sqlite"
        with Journal(path) as j:
            led, taken = run_ops(j, ops)
            full = Ledger.replay(j.ledger_events())
            assert_same(full, led)
            for seq, body in taken:
                assert_same(from_checkpoint(j, seq, body), full)
        with Journal(path) as j:  # reopened: the start's way, the latest checkpoint
            restored = j.ledger_restore()
            assert restored.checkpoint_seq == (taken[-1][0] if taken else 0)
            assert_same(restored.ledger, full)
            # every applied event again, then each with other content: the same answers, same ledger
            again = [ev for ev in j.ledger_events() if ev.kind in ("fill", "release", "release_all")]
            for ev in again:
                assert replay_again(restored.ledger, ev) == replay_again(full, ev)
                changed = LedgerEvent(ev.kind, ev.venue, ev.ticket_id, ev.leg_id, ev.event_id,
                                      tuple((r, Amount(a.asset, a.value + 1)) for r, a in ev.amounts),
                                      "expire" if ev.kind == "release_all" else ev.reason)  # fmt: skip
                assert replay_again(restored.ledger, changed) == replay_again(full, changed)
                assert_same(restored.ledger, full)


def test_staged_tickets_are_flushed_before_the_checkpoint(tmp_path: Path) -> None:
    """A ticket staged in the intent log (its reservations in the ledger, not yet in SQLite)
    goes into SQLite before the checkpoint: its events come before the checkpoint's position,
    and a start after it does not apply them a second time."""
    path = tmp_path / "j.sqlite"
    with Journal(path, intent_log=True) as j:
        led = Ledger(sink=j.append_ledger_event)
        led.set_total("a", USDT, 10**12)
        with led.capture() as events:
            led.reserve("T1", "buy", "a", USDT, 5_000)
        j.stage(StagedTicket("T1", "BTC/USDT", "a", "b", "{}", tuple(events), ()))
        assert j._pending
        seq = j.write_ledger_checkpoint(led)
        assert not j._pending and seq == len(j.ledger_events()) == 2
    with Journal(path, intent_log=True) as j:
        restored = j.ledger_restore()
        assert (restored.checkpoint_seq, restored.replayed) == (2, 0)
        assert_same(restored.ledger, led)


def _old_journal(path: Path) -> Ledger:
    """A journal as the engine wrote it before checkpoints: no ledger_checkpoints (nor
    residual_checkpoints, daily_pnl_checkpoints) table."""
    with Journal(path) as j:
        led = Ledger(sink=j.append_ledger_event)
        led.set_total("a", USDT, 10**12)
        led.reserve("T1", "buy", "a", USDT, 5_000)
        led.release("T1", "buy", "r1", USDT, 1_000)
    with contextlib.closing(sqlite3.connect(path)) as c:
        c.execute("DROP TABLE ledger_checkpoints")
        c.execute("DROP TABLE residual_checkpoints")
        c.execute("DROP TABLE daily_pnl_checkpoints")
        c.commit()
        have = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")} - {"sqlite_sequence"}
    assert have == set(TABLES)  # exactly the tables of the schema before checkpoints
    assert "ledger_checkpoints" not in SCHEMA
    return led


def test_a_journal_from_before_checkpoints_reads_as_before_and_gets_the_table_on_a_writable_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    live = _old_journal(path)
    with Journal(path, readonly=True) as j:  # (arbcore journal / report): never written to
        assert schema_problem(j._conn) is None
        restored = j.ledger_restore()
        assert (restored.checkpoint_seq, restored.replayed) == (0, 3)
        assert_same(restored.ledger, live)
    with contextlib.closing(sqlite3.connect(path)) as c:
        assert c.execute("SELECT 1 FROM sqlite_master WHERE name='ledger_checkpoints'").fetchone() is None
    with Journal(path) as j:  # the engine's open adds the table; the first start replays every event
        restored = j.ledger_restore(sink=j.append_ledger_event)
        assert (restored.checkpoint_seq, restored.replayed) == (0, 3)
        assert j.write_ledger_checkpoint(restored.ledger) == 3
        restored.ledger.release_remaining("T1", "buy", "r2", "cancel")
    with Journal(path, readonly=True) as j:
        restored = j.ledger_restore()
        assert (restored.checkpoint_seq, restored.replayed) == (3, 1)
        assert_same(restored.ledger, Ledger.replay(j.ledger_events()))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("UPDATE ledger_checkpoints SET format = 2", "its format is 2, this code reads 1"),
        ("UPDATE ledger_checkpoints SET ledger_seq = 99", "it covers ledger event 99, the journal's last is 3"),
        ("UPDATE ledger_checkpoints SET body = '{\"changes\": 1}'", "its body is unreadable (KeyError)"),
        (
            'UPDATE ledger_checkpoints SET body = replace(body, \'"5000","4000"\', \'"5000","9000"\')',
            "its ledger is unsound",
        ),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, change: str, why: str
) -> None:
    path = tmp_path / "j.sqlite"
    live = _old_journal(path)
    with Journal(path) as j:
        j.write_ledger_checkpoint(live)
    with contextlib.closing(sqlite3.connect(path)) as c:
        c.execute(change)
        c.commit()
    with Journal(path) as j, caplog.at_level(logging.WARNING):
        restored = j.ledger_restore()
    assert (restored.checkpoint_seq, restored.replayed) == (0, 3)
    assert_same(restored.ledger, live)
    assert f"ledger checkpoint not used, {why}" in caplog.text


def test_journal_and_report_outputs_do_not_change_with_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with sample_journal(path) as j:
        write_sample_tickets(j)
        led = Ledger(sink=j.append_ledger_event)
        led.set_total("binance", USDT, 10**15)

    def outputs() -> tuple[str, bytes]:
        with Journal(path, readonly=True) as j:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert _print_journal(j, argparse.Namespace(ticket=None, journal=j.path)) == 0
            return out.getvalue(), orjson.dumps(build_report(j), option=orjson.OPT_SORT_KEYS)

    before = outputs()
    with Journal(path) as j:
        j.write_ledger_checkpoint(j.ledger_replay())
    assert checkpoints(path)
    assert outputs() == before


_WRITER = """
import sys
from pathlib import Path
from arbcore.execution import Asset, Journal, Ledger
USDT = Asset("USDT", 10)
j = Journal(Path(sys.argv[1]))
led = j.ledger_replay(sink=j.append_ledger_event)
if not led.held_tickets():  # enough tickets held that a checkpoint takes milliseconds to write
    led.set_total("a", USDT, 10**18)
    for k in range(300):
        led.reserve(f"T{k}", "buy", "a", USDT, 10**9)
print("ready", flush=True)
k = 0
while True:  # one change, one checkpoint, until killed
    k += 1
    led.release(f"T{k % 300}", "buy", f"{sys.argv[2]}-{k}", USDT, 1)
    j.write_ledger_checkpoint(led)
"""


def kill_while_writing(writer: str, path: Path, run: int, delay: float) -> None:
    """``writer`` (a script: its arguments the journal and the run, "ready" on stdout when it
    starts writing) SIGKILLed ``delay`` seconds after it is ready."""
    proc = subprocess.Popen([sys.executable, "-c", writer, str(path), str(run)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -9


def test_sigkill_while_checkpoints_are_written_leaves_the_last_whole_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that writes a checkpoint after every change, SIGKILLed at arbitrary moments (most
    of its time is spent writing them), three times on the same journal, each run starting from
    what the last left: the checkpoint found is whole (one transaction) and, with the events
    after it, equals a full replay; never a warning that one was unusable."""
    path = tmp_path / "j.sqlite"
    for run, delay in enumerate((0.15, 0.4, 0.27)):
        kill_while_writing(_WRITER, path, run, delay)
        with Journal(path) as j, caplog.at_level(logging.WARNING):
            restored = j.ledger_restore()
            assert restored.checkpoint_seq > 0 and restored.replayed <= 1
            assert_same(restored.ledger, Ledger.replay(j.ledger_events()))
        assert "checkpoint not used" not in caplog.text


def _copy_journal(src: Path, dst: Path) -> None:
    """The journal's files as they are now: what a process killed at this moment leaves (WAL
    commits are written to the file before they return, the -shm is rebuilt from the -wal)."""
    for suffix in ("", "-wal", "-intents"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")


def test_a_real_run_checkpoints_equal_full_replay_in_flight_after_a_crash_and_at_restart(tmp_path: Path) -> None:
    """A real engine run on two loopback venues: a checkpoint written by hand while the second
    ticket is in flight (its reservations held), the journal's files copied at the next fill
    (a crash after later events), then enough tickets for the session's periodic checkpoint
    (``ledger_checkpoint_events = 100``) and one more before the clean stop, which writes the
    last. Each checkpoint plus the events after it equals a full replay; the crash image's start
    loads the in-flight checkpoint; a restart loads the stop's and replays nothing."""
    path = tmp_path / "j.sqlite"
    crash = tmp_path / "crash.sqlite"
    run = "ledger_checkpoint_events = 100\n"
    in_flight: list[tuple[int, str]] = []

    async def main() -> None:
        async with session(["binance_spot", "okx"], path, run=run) as s:
            assert s.executor is not None and s.runner is not None and s.journal is not None
            assert s.restored is not None and s.restored.fresh
            ex, j, fills = s.executor, s.journal, [0]

            def hook(moment: str, order: LiveOrder) -> None:
                if moment != "fill" or ex.counters.orders_sent < 3:  # the second ticket's fills
                    return
                fills[0] += 1
                if fills[0] == 1:
                    assert any(r.remaining for r in ex.ledger.reservations().values())
                    seq = j.write_ledger_checkpoint(ex.ledger)
                    in_flight.append(checkpoints(path)[-1])
                    assert in_flight[0][0] == seq
                elif fills[0] == 2:
                    _copy_journal(path, crash)

            ex.hook = hook
            for k in range(20):
                buy, sell = ("binance_spot", "okx") if k % 2 else ("okx", "binance_spot")
                res = await s.runner.execute(await live_crossing_plan(s, buy, sell))
                assert res.bought or res.sold, res
                if k == 18:  # the timer loop's turn (timer_ms 200; at a tick with no ticket or sweep in flight)
                    assert s.checkpoints is not None and s.checkpoints.pending >= 100
                    for _ in range(100):
                        if s.checkpoints.written:
                            break
                        await asyncio.sleep(0.05)
                    assert s.checkpoints.written == 1 and s.checkpoints.last_s < 0.05
            assert fills[0] >= 2
            held = decode_snapshot(in_flight[0][1]).reservations
            assert any(left for _, _, _, left in held)  # written with funds held for the ticket
            assert s.checkpoints.pending > 0  # the stop writes one more

    asyncio.run(main())
    with Journal(path) as j:
        full = Ledger.replay(j.ledger_events())
        seq, body = in_flight[0]
        assert 0 < seq < len(j.ledger_events())
        assert_same(from_checkpoint(j, seq, body), full)
        ((last, _),) = checkpoints(path)  # only the latest is kept: the clean stop's, at the last event
        restored = j.ledger_restore()
        assert (restored.checkpoint_seq, restored.replayed) == (last, 0) and last == len(j.ledger_events())
        assert_same(restored.ledger, full)
        assert not full.violations() and not full.held_tickets()
    with Journal(crash, intent_log=True) as j:  # the crash image: the in-flight checkpoint and what came after
        restored = j.ledger_restore()
        assert restored.checkpoint_seq == seq and restored.replayed > 0
        assert_same(restored.ledger, Ledger.replay(j.ledger_events()))
        assert restored.ledger.held_tickets()  # the ticket in flight when the copy was taken

    async def restart() -> None:
        async with session(["binance_spot", "okx"], path, run=run) as s:
            assert s.restored is not None and s.journal is not None and s.executor is not None
            assert (s.restored.checkpoint_seq, s.restored.replayed) == (last, 0)
            assert not s.restored.fresh
            assert_same(s.executor.ledger, Ledger.replay(s.journal.ledger_events()))

    asyncio.run(restart())


def test_a_replay_registers_adopted_assets_in_the_live_ledgers_order() -> None:
    """An adoption of several assets registered them in the order given, and its event (so a
    replay) in sorted order: the live ledger's checkpoint and a full replay differed in the order
    of their balances (the order ``violations`` lists them in)."""
    events: list[LedgerEvent] = []
    live = Ledger(sink=events.append)
    live.reconcile("a", {USDT: 5, BTC: 7}, adopt=True)
    assert_same(Ledger.replay(events), live)


def test_a_failing_checkpoint_write_is_tried_again_after_every_more_changes() -> None:
    """A checkpoint that cannot be written (a full disk) was tried again at every timer tick:
    each try encoded the whole ledger and logged a warning, several times a second for as long
    as the disk stayed full. A failed write now counts for when the next is due."""
    from arbcore.execution.amounts import Asset
    from arbcore.execution.ledger import Ledger
    from arbcore.execution.ledger_checkpoint import LedgerCheckpoints

    usdt = Asset("USDT", 8)
    ledger = Ledger()
    tries = []

    def full_disk(_: Ledger) -> int:
        tries.append(ledger.changes)
        raise OSError(28, "No space left on device")

    cp = LedgerCheckpoints(full_disk, ledger, every=3)
    for n in range(1, 4):
        ledger.reconcile("okx", {usdt: n}, adopt=True)
    assert cp.due(quiet=True)
    with pytest.raises(OSError):
        cp.write()
    assert not cp.due(quiet=True) and cp.pending == 0 and cp.written == 0
    for n in range(4, 7):
        ledger.reconcile("okx", {usdt: n}, adopt=True)
    assert cp.due(quiet=True) and len(tries) == 1
