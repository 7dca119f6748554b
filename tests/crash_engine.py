"""The engine as its own process, for the crash tests.

Usage: python crash_engine.py CONFIG.toml ENDPOINTS.json JOURNAL CRASH_AT TICKETS
CRASH_AT is "send" (intent journaled, order not yet sent), "sent" (order on the wire, no answer
yet: the test makes the venue answer late), "fill" (one fill applied), "wire" (the Rust order path
just wrote both legs: the intent record it built is in the intent log, nothing of the ticket in
SQLite, no order followed yet), "sweep" (one ticket whose second leg the venue rejects, left
unhedged, then a residual sweep: the process dies at the sweep order's first fill), "checkpoint"
(a ledger checkpoint written at the last ticket's first fill, its reservations held; the process
dies at its second fill) or "none". The process SIGKILLs itself at the first such moment of its
last ticket. With "none" it starts (which runs restart reconciliation), prints one JSON line with
what it found (notes, ledger, open orders, residuals, how the ledger was loaded and whether it
equals a full replay of the journal's ledger events) and exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).parent))

from arbcore.execution.engine import LiveOrder
from arbcore.execution.fast_path import FastPath
from arbcore.execution.ledger import Ledger
from arbcore.runner.config import parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.runner.sim_cluster import SimEndpoint
from engine_helpers import crossing_plan, live_crossing_plan, wait_live


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def crash_mid_sweep(s: TradingSession, venues: list[str]) -> None:
    """A ticket buying on ``venues[0]`` and selling on ``venues[1]``, whose sell the venue
    rejects (the test injected it), left unhedged for the sweeper; the sweep's order then fills
    and the process dies at that fill, before the sweep journals its outcome."""
    from arbcore.execution import residuals
    from arbcore.execution.ticket import TicketRunner

    async def no_hedge(self: TicketRunner, ticket_id: str, plan: Any, residual: int, result: Any) -> int:
        return residual

    TicketRunner._fix_residual = no_hedge  # type: ignore[method-assign]
    assert s.runner is not None and s.executor is not None
    await live_crossing_plan(s, venues[0], venues[1])
    # 300 USDT through the ask: the buy fills whatever the book did since it was read (30 USDT
    # missed once on a loaded CI machine: the buy expired unfilled and there was nothing to sweep)
    res = await s.runner.execute(crossing_plan(s, venues[0], venues[1], margin=30_000))
    assert res.bought > 0 and res.sold == 0, res
    s.executor.hook = lambda moment, order: die() if moment == "fill" else None
    await residuals.sweep(s.runner, "BTC/USDT")
    print(json.dumps({"error": "the sweep sent nothing"}))


async def main(config_path: str, eps_path: str, journal: str, crash_at: str, tickets: int) -> None:
    config = parse_toml(Path(config_path).read_text())
    raw = json.loads(Path(eps_path).read_text())["venues"]
    eps = {n: SimEndpoint.from_json(e) for n, e in raw.items()}
    s = TradingSession(config, load_strategy(None, config), journal_path=journal, external=eps)
    notes = await s.start()
    assert s.executor is not None and s.runner is not None
    if crash_at == "none":
        ledger = {f"{v}/{a}": [str(b.total), str(b.reserved)] for (v, a), b in s.executor.ledger.balances().items()}
        open_ids = [o.client_order_id for o in s.journal.open_orders()]  # type: ignore[union-attr]
        left = {t: q for t, (_, q) in s.runner.residuals.items()}
        assert s.restored is not None and s.journal is not None
        restored = [s.restored.checkpoint_seq, s.restored.replayed]
        full = Ledger.replay(s.journal.ledger_events()).snapshot() == s.executor.ledger.snapshot()
        print(json.dumps({"notes": notes, "ledger": ledger, "open": open_ids, "residuals": left,
                          "restored": restored, "equals_full_replay": full}))  # fmt: skip
        await s.stop()
        return
    await wait_live(s)
    venues = list(config.venues)
    if crash_at == "sweep":
        await crash_mid_sweep(s, venues)
        return
    count = 0
    fills = 0

    def hook(moment: str, order: LiveOrder) -> None:
        nonlocal fills
        if crash_at == "checkpoint" and count == tickets and moment == "fill":
            fills += 1
            if fills == 1:
                assert s.executor is not None and s.journal is not None
                assert any(r.remaining for r in s.executor.ledger.reservations().values())
                s.journal.write_ledger_checkpoint(s.executor.ledger)
            else:
                die()
        elif count == tickets and moment == crash_at:
            if moment == "sent":
                asyncio.get_running_loop().call_later(0.15, die)
            else:
                die()

    if crash_at == "wire":  # the Rust order path (a hook would send tickets the Python way)
        write = FastPath._write

        def write_then_die(self: FastPath, *a: Any) -> int | None:
            wire_ns = write(self, *a)
            if wire_ns is not None and count == tickets:
                die()
            return wire_ns

        FastPath._write = write_then_die  # type: ignore[method-assign]
    else:
        s.executor.hook = hook
    for k in range(1, tickets + 1):
        count = k
        buy, sell = (venues[0], venues[1]) if k % 2 else (venues[1], venues[0])
        await s.runner.execute(await live_crossing_plan(s, buy, sell))
    await asyncio.sleep(5)  # the crash must have happened by now
    print(json.dumps({"error": f"no crash at {crash_at}"}))
    await s.stop()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
