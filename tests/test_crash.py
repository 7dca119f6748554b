"""SIGKILL the engine in the middle of a ticket, restart it on the same journal, and check that
restart reconciliation finds every order: nothing lost, nothing sent twice, the ledger equal to
the venues' balances with nothing left reserved.

The simulated venues run in their own process (`crash_sims.py`) so they outlive the engine
(`crash_engine.py`), which kills itself at a chosen moment of its last ticket:
- "send": the intent is journaled, the order not yet handed to the socket;
- "sent": the order is on the wire and the venue executes it, but its answer comes late (the
  venue is told to ack slowly), so the engine dies not knowing the outcome;
- "fill": one fill of the ticket has been journaled and applied, the other leg may be in flight;
- "wire" (Rust order path, Binance and OKX): both legs written, nothing of the ticket in SQLite;
- "sweep": a residual sweep's order filled, the sweep's outcome not yet journaled;
- "checkpoint": a ledger checkpoint written with the last ticket in flight, the process killed
  after later events (its next fill).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from arbcore.execution.journal import Journal
from engine_helpers import config_text

HERE = Path(__file__).parent
PAIRS = [("binance_spot", "okx"), ("bybit", "kraken"), ("coinbase", "binance_usdm")]


def _get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def _post(url: str) -> None:
    req = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(req, timeout=5):
        pass


@pytest.mark.parametrize("pair", PAIRS, ids=["-".join(p) for p in PAIRS])
@pytest.mark.parametrize("moment", ["send", "sent", "fill"])
def test_sigkill_mid_ticket_then_recover(pair: tuple[str, str], moment: str, tmp_path: Path) -> None:
    _crash_and_recover(pair, moment, tmp_path)


def test_sigkill_right_after_the_rust_order_path_wrote_both_legs(tmp_path: Path) -> None:
    """The Rust order path's own moment: its intent record (built in Rust) stored, both frames
    written, the process gone before any Python bookkeeping or SQLite write of the ticket. The
    restart imports the record, finds both orders at the venues, and the ledger ends equal."""
    _crash_and_recover(("binance_spot", "okx"), "wire", tmp_path)


def test_sigkill_mid_residual_sweep_then_recover(tmp_path: Path) -> None:
    """A ticket's sell rejected and left unhedged; the residual sweep's order fills and the
    process dies before the sweep journals its outcome. The restart finishes the sweep from the
    journal: the swept ticket's residual is not restored (it would be swept a second time), what
    is left is below a lot, and the ledger equals the venues' balances."""
    _crash_and_recover(("okx", "kraken"), "sweep", tmp_path)


def test_sigkill_after_a_ledger_checkpoint_then_recover(tmp_path: Path) -> None:
    """A ledger checkpoint written while the last ticket is in flight (its reservations held),
    then a fill journaled after it, then SIGKILL. The restart loads the checkpoint and replays
    the events after it: its ledger equals a full replay of the journal (and, after recovery,
    the venues' balances, nothing reserved)."""
    _crash_and_recover(("binance_spot", "okx"), "checkpoint", tmp_path)


def _crash_and_recover(pair: tuple[str, str], moment: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_text(list(pair), leg_timeout_ms=800))
    eps = tmp_path / "eps.json"
    journal = tmp_path / "journal.sqlite"
    sims = subprocess.Popen([sys.executable, str(HERE / "crash_sims.py"), str(cfg), str(eps)])
    try:
        end = time.monotonic() + 20
        while not eps.exists():
            assert time.monotonic() < end and sims.poll() is None, "simulators did not start"
            time.sleep(0.05)
        control = json.loads(eps.read_text())["control"]
        tickets = 2
        if moment == "sent":
            tickets = 1
            for v in pair:
                _post(f"{control}/inject?venue={v}&fault=slow_ack&seconds=3")
        if moment == "sweep":  # the ticket's sell (the first order on pair[1]) is refused
            _post(f"{control}/inject?venue={pair[1]}&fault=reject")
        engine = [sys.executable, str(HERE / "crash_engine.py"), str(cfg), str(eps), str(journal)]
        crashed = subprocess.run(
            [*engine, moment, str(tickets)], capture_output=True, text=True, timeout=60, check=False
        )
        assert crashed.returncode == -9, crashed.stdout + crashed.stderr[-3000:]
        with Journal(journal) as j:
            in_sqlite = {o.client_order_id for o in j.orders()}
        # what the crashed process journaled: SQLite plus the intent log (opening with the log imports it)
        with Journal(journal, intent_log=True) as j:
            before = {o.client_order_id: o for o in j.orders()}
        assert before, "nothing was journaled before the crash"
        assert in_sqlite <= before.keys()
        if moment == "checkpoint":  # the checkpoint is on disk, and events came after it
            with Journal(journal, readonly=True) as j:
                (seq,) = j._conn.execute("SELECT ledger_seq FROM ledger_checkpoints").fetchone()
                assert 0 < seq < len(j.ledger_events())
        if moment in ("send", "wire"):  # the last ticket was only in the intent log: its import is what finds it
            assert in_sqlite < before.keys()
        restarted = subprocess.run([*engine, "none", "0"], capture_output=True, text=True, timeout=60, check=False)
        assert restarted.returncode == 0, restarted.stderr[-3000:]
        found = json.loads(restarted.stdout.strip().splitlines()[-1])
        assert found["open"] == []
        assert found["equals_full_replay"], found
        if moment == "checkpoint":
            assert found["restored"][0] == seq and found["restored"][1] > 0, found
        # the ledger the journal replayed, with recovery's fills, already equalled the venues:
        # nothing for the start's adoption (``adopt_balances``) to take over
        assert not [n for n in found["notes"] if "balances differ" in n], found["notes"]
        if moment == "sweep":
            assert any("residual sweep" in n and "interrupted" in n for n in found["notes"]), found["notes"]
            assert sum(abs(q) for q in found["residuals"].values()) < 100, found  # below okx's lot
            with Journal(journal) as j:
                (sweep,) = [t for t in j.tickets() if "sweep_of" in t.detail]
                assert all(j.ticket_outcomes(t)[-1][2] == "hedged" for t in sweep.detail["sweep_of"])
        state = _get(f"{control}/state")
        with Journal(journal, intent_log=True) as j:
            after = {o.client_order_id: o for o in j.orders()}
            assert after.keys() == before.keys()  # nothing re-sent under a new id
            for cid, rec in after.items():
                venue_state = state[rec.intent.venue]
                sim = venue_state["orders"].get(cid)
                if sim is None:
                    assert rec.filled_qty == 0, rec
                    continue
                assert venue_state["submissions"][cid] == 1
                assert rec.filled_qty == sim["filled"], (cid, rec.state, sim)
                fills = sorted([e.fill.qty, e.fill.price] for e in j.events(cid) if e.fill is not None)
                assert fills == sorted(sim["fills"])
        for venue in pair:
            for asset, total in state[venue]["balances"].items():
                assert found["ledger"][f"{venue}/{asset}"] == [total, "0"], (venue, asset, found["ledger"])
        if moment != "send":
            assert any(v["orders"] for v in (state[p] for p in pair)), "the crash came before any order reached a venue"
    finally:
        sims.terminate()
        sims.wait(10)
