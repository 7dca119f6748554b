"""Residual checkpoints (``execution/residual_checkpoint.py``): a start folds the tickets and
outcomes after the latest one into it and gets what a fold of every row gets, and what the full
read of every ticket and outcome found (the model below is that read). Property-tested over random
tickets, sweeps and outcomes with checkpoints among them; ``load_residuals`` gives the same
residuals, drift, notes and outcomes from a checkpoint at any point; a journal without one, or
with one that does not fit, is read in full."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbcore.execution import Journal, Ledger
from arbcore.execution.engine import Executor
from arbcore.execution.orders import EventKind, Side
from arbcore.execution.records import Fill
from arbcore.execution.residual_checkpoint import ResidualState
from arbcore.execution.residuals import load_residuals
from arbcore.execution.risk import RiskGate, RiskLimits
from arbcore.execution.ticket import TicketRunner
from test_ledger_checkpoint import kill_while_writing
from test_runner_report import _intent, sample_journal

INSTRUMENTS = ("BTC/USDT", "ETH/USDT")
STATUSES = ("residual", "done", "hedged", "netted", "missed")

ticket_op = st.tuples(st.just("ticket"), st.sampled_from(INSTRUMENTS), st.booleans())
outcome_op = st.tuples(
    st.just("outcome"),
    st.integers(0, 30),  # which ticket (of those written so far, modulo)
    st.sampled_from(STATUSES),
    st.integers(-3, 3),  # residual
    st.integers(0, 2),  # base fees
    st.integers(-2, 2),  # fee drift absorbed
    st.booleans(),  # "sweep": true
)
ops_strategy = st.lists(st.one_of(ticket_op, outcome_op, st.just(("checkpoint",))), max_size=40)


def _model(tickets: dict[str, tuple[str, bool]], outcomes: list[tuple[str, str, dict[str, object]]]) -> tuple:
    """What the full read of every ticket and outcome (``load_residuals`` before checkpoints) found."""
    last: dict[str, tuple[str, dict[str, object]]] = {}
    settled: set[str] = set()
    drift: dict[str, list[int]] = {}
    for t, status, detail in outcomes:
        last[t] = (status, detail)
        if detail.get("sweep") is True:
            settled.add(t)
        d = drift.setdefault(tickets[t][0], [0, 0])
        d[0] += int(str(detail.get("base_fees", "0")))
        d[1] += int(str(detail.get("fee_drift_absorbed", "0")))
    residual = {t: int(str(d.get("residual", "0"))) for t, (s, d) in last.items() if s == "residual"}
    residual = {t: q for t, q in residual.items() if q}
    pending = set(tickets) - set(last)
    unsettled = {t for t, (_, sweep) in tickets.items() if sweep} - settled
    return residual, pending, unsettled, list(drift.items()), {}  # (no orders)


def _seen(s: ResidualState) -> tuple:
    return s.residual, s.pending, s.unsettled, list(s.drift.items()), s.qty_decimals


@settings(max_examples=150, deadline=None)
@given(ops=ops_strategy)
def test_checkpoint_plus_tail_equals_full_read(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]) -> None:
    path = tmp_path_factory.mktemp("rc") / "j.sqlite"
    tickets: dict[str, tuple[str, bool]] = {}
    outcomes: list[tuple[str, str, dict[str, object]]] = []
    with Journal(path) as j:
        for op in ops:
            if op[0] == "ticket":
                t = f"T{len(tickets)}"
                tickets[t] = (op[1], op[2])
                j.write_ticket(t, op[1], "a", "b", {"sweep_of": [], "sweep_net": "0"} if op[2] else {})
            elif op[0] == "outcome" and tickets:
                _, k, status, residual, fees, absorbed, sweep = op
                t = list(tickets)[k % len(tickets)]
                detail: dict[str, object] = {"residual": str(residual), "base_fees": str(fees)}
                if absorbed:
                    detail["fee_drift_absorbed"] = str(absorbed)
                if sweep:
                    detail["sweep"] = True
                j.write_ticket_outcome(t, status, detail)
                outcomes.append((t, status, detail))
            elif op[0] == "checkpoint":
                j.write_ledger_checkpoint(Ledger())
            # after every step: from the latest checkpoint, from nothing, and as the full read found
            full = ResidualState()
            full.advance(j._conn)
            assert _seen(j.residual_state()) == _seen(full) == _model(tickets, outcomes)


def _restart_journal(path: Path, cut: int) -> None:
    """Tickets and outcomes of every kind load_residuals restores, a checkpoint after the first
    ``cut`` steps (none: -1): residuals (one netted away later), base fees and drift absorbed,
    a settled sweep with what it left, a sweep interrupted after its fill, an interrupted two-leg
    ticket and a one-legged ticket with no outcome."""

    def fill(t: str, leg: str, venue: str, side: Side, *, qty: int, fee: int = 0) -> None:
        cid = j.write_intent(_intent(t, leg, venue, side, 1_000_000, 6_000_000))
        j.append_event(cid, EventKind.FILL, fill=Fill(f"{t}{leg}", qty, 6_000_000, fee, "BTC", 8))

    steps = [
        lambda: j.write_ticket("A", "BTC/USDT", "binance", "okx", {}),
        lambda: j.write_ticket_outcome("A", "residual", {"residual": "700", "base_fees": "30"}),
        lambda: j.write_ticket("B", "BTC/USDT", "binance", "okx", {}),
        lambda: j.write_ticket_outcome("B", "residual", {"residual": "-400"}),
        lambda: j.write_ticket("C", "BTC/USDT", "okx", "binance", {}),
        lambda: j.write_ticket_outcome("C", "residual", {"residual": "-300"}),
        lambda: j.write_ticket(
            "S1", "BTC/USDT", "binance", "-", {"sweep_of": ["A", "B"], "sweep_net": "300", "sweep_fee_drift": "-30"}
        ),
        lambda: j.write_ticket_outcome("A", "hedged", {"residual_absorbed": "700", "by": "S1", "net_left": "100"}),
        lambda: j.write_ticket_outcome("B", "hedged", {"residual_absorbed": "-400", "by": "S1", "net_left": "100"}),
        lambda: j.write_ticket_outcome(
            "S1", "residual", {"residual": "100", "sweep": True, "fee_drift_absorbed": "-30"}
        ),
        lambda: j.write_ticket("D", "ETH/USDT", "binance", "okx", {}),
        lambda: j.write_ticket_outcome("D", "done", {"residual": "0", "base_fees": "1200"}),
        lambda: j.write_ticket(
            "S2", "BTC/USDT", "-", "okx", {"sweep_of": ["C"], "sweep_net": "-300", "sweep_fee_drift": "0"}
        ),
        lambda: fill("S2", "buy", "binance", Side.BUY, qty=200, fee=5),
        lambda: j.write_ticket("E", "BTC/USDT", "binance", "okx", {}),
        lambda: fill("E", "buy", "binance", Side.BUY, qty=900),
        lambda: fill("E", "sell", "okx", Side.SELL, qty=600),
        lambda: j.write_ticket("H", "BTC/USDT", "binance", "-", {}),
        lambda: fill("H", "buy", "binance", Side.BUY, qty=50),
    ]
    with sample_journal(path) as j:
        for k, step in enumerate(steps):
            if k == cut:
                j.write_ledger_checkpoint(Ledger())
            step()
        if cut == len(steps):
            j.write_ledger_checkpoint(Ledger())


def _restart(path: Path) -> tuple:
    with Journal(path) as j:
        runner = TicketRunner(Executor(j, Ledger(), {}, {}, RiskGate(RiskLimits())), {}, SimpleNamespace())  # type: ignore[arg-type]
        before = len(j.ticket_outcomes())
        notes = load_residuals(runner, j)
        written = [(t, s, d) for t, _, s, d in j.ticket_outcomes()[before:]]
        return notes, list(runner.residuals.items()), runner.fee_drift(), written


def test_load_residuals_is_the_same_from_a_checkpoint_at_any_point(tmp_path: Path) -> None:
    _restart_journal(tmp_path / "none.sqlite", -1)
    full = _restart(tmp_path / "none.sqlite")
    notes, residuals, drift, written = full
    assert residuals == [("S1", ("BTC/USDT", 100)), ("S2", ("BTC/USDT", -100)), ("E", ("BTC/USDT", 300))]
    assert drift == {"BTC/USDT": 24} and len(notes) == 3  # (ETH/USDT's drift: no order gives its decimals)
    assert [(t, s) for t, s, _ in written] == [("C", "hedged"), ("S2", "residual"), ("E", "residual")]
    for cut in range(20):
        path = tmp_path / f"cut{cut}.sqlite"
        _restart_journal(path, cut)
        assert _restart(path) == full, cut
        # the outcomes that start wrote are in the next fold: a second start finds the same residuals
        with Journal(path) as j:
            j.write_ledger_checkpoint(Ledger())
        second = _restart(path)
        assert second[1:3] == (residuals, drift) and second[3] == []


def _rows(path: Path) -> list[ResidualState]:
    with contextlib.closing(sqlite3.connect(path)) as c:
        return [ResidualState.decode(body) for (body,) in c.execute("SELECT body FROM residual_checkpoints")]


def test_a_journal_without_residual_checkpoints_is_read_in_full(tmp_path: Path) -> None:
    """An older journal (no table: a read-only open does not add it) or one with no row."""
    path = tmp_path / "old.sqlite"
    _restart_journal(path, -1)
    with contextlib.closing(sqlite3.connect(path)) as c:
        c.execute("DROP TABLE residual_checkpoints")
        c.commit()
    with Journal(path, readonly=True) as j:
        state = j.residual_state()
        assert (state.ticket_rowid, set(state.residual)) == (8, {"S1", "C"})
    with Journal(path) as j:  # the writable open adds the table; no row: every row is read
        assert _rows(path) == [] and _seen(j.residual_state()) == _seen(state)
        assert len(_rows(path)) == 1  # what it read in full is saved: the next start reads it
        j.write_ledger_checkpoint(Ledger())
    (row,) = _rows(path)  # only the latest row is kept
    assert (row.ticket_rowid, row.outcome_seq) == (8, 7)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("UPDATE residual_checkpoints SET format = 2", "its format is 2, this code reads 1"),
        (
            "UPDATE residual_checkpoints SET body = replace(body, '\"position\":[8,7]', '\"position\":[8,99]')",
            "it covers ticket outcome 99, the journal's last is 7",
        ),
        ("UPDATE residual_checkpoints SET body = '{}'", "its body is unreadable (KeyError)"),
        (
            "UPDATE residual_checkpoints SET body = replace(body, '\"position\":[8,7]', '\"position\":[3,7]')",
            "its ticket 'H' is not at row 3 (renumbered)",
        ),
        ("UPDATE orders SET client_order_id = 'x' WHERE rowid = 4", "is not at row 4 (renumbered)"),
    ],
)
def test_a_residual_checkpoint_that_does_not_fit_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, change: str, why: str
) -> None:
    path = tmp_path / "j.sqlite"
    _restart_journal(path, 19)
    with contextlib.closing(sqlite3.connect(path)) as c:
        c.execute("PRAGMA foreign_keys=OFF")
        c.execute(change)
        c.commit()
    with Journal(path) as j, caplog.at_level(logging.WARNING):
        state = j.residual_state()
    assert "residual checkpoint not used, " in caplog.text and why in caplog.text
    expected = ResidualState()
    with Journal(path, readonly=True) as j:
        expected.advance(j._conn)
    assert _seen(state) == _seen(expected) and state.ticket_rowid == 8


_WRITER = """
import sys
from pathlib import Path
from arbcore.execution import Journal, Ledger
j = Journal(Path(sys.argv[1]))
run, k = sys.argv[2], 0
if not j.residual_state().residual:  # enough open residuals that a checkpoint takes a while to write
    for k in range(300):
        j.write_ticket(f"R{k}", "BTC/USDT", "a", "b", {})
        j.write_ticket_outcome(f"R{k}", "residual", {"residual": str(k + 1), "base_fees": "1"})
print("ready", flush=True)
while True:  # a ticket, its outcome, a checkpoint, until killed
    k += 1
    t = f"{run}-{k}"
    j.write_ticket(t, "ETH/USDT", "a", "b", {"sweep_of": []} if k % 7 == 0 else {})
    j.write_ticket_outcome(t, "residual", {"residual": str(k % 3), "base_fees": "2", "sweep": k % 2 == 0})
    j.write_ticket_outcome(f"R{k % 300}", "residual", {"residual": str(k % 5), "fee_drift_absorbed": "-1"})
    j.write_ledger_checkpoint(Ledger())
"""


def test_sigkill_while_residual_checkpoints_are_written_leaves_one_that_equals_a_full_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that writes a ticket, outcomes and a checkpoint in a loop, SIGKILLed at arbitrary
    moments, three times on the same journal: the checkpoint found plus the rows after it folds to
    what every row folds to, never a warning that it was unusable."""
    path = tmp_path / "j.sqlite"
    for run, delay in enumerate((0.2, 0.45, 0.3)):
        kill_while_writing(_WRITER, path, run, delay)
        with Journal(path) as j, caplog.at_level(logging.WARNING):
            full = ResidualState()
            full.advance(j._conn)
            assert _rows(path) and _seen(j.residual_state()) == _seen(full)
        assert "checkpoint not used" not in caplog.text
