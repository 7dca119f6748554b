"""Engine start time on a big journal: build one, then time what a start reads from it.

Usage (from the repository, ``PYTHONPATH=python``):

    python benches/start_time.py build JOURNAL [--tickets 100000]
    python benches/start_time.py time JOURNAL [--runs 3]

``build`` writes a journal as a desk's engine leaves it after days of trading: each ticket is
staged as the ticket path stages it (the ticket row, both legs' reservations and intents, one
commit), its two orders acked and filled, the fills applied to the ledger as ``Executor`` applies
them, both legs released and the ticket retired, its outcome written; every 500 tickets a
balance reconciliation (snapshot and adopt). About 7 ledger events per ticket. The tickets end
an hour before the build started, 2.5 s apart (the daily-loss read-back at start counts those of
today, as a real one would).

``time`` copies the journal (each run starts from the same file) and times, on the copy: the
journal's open with its intent log, a full ``Ledger.replay`` of every ledger event, the ledger as
``Journal.ledger_replay`` loads it (from a checkpoint when the code has them), and a whole
``TradingSession.start()`` against loopback simulators (two venues, the journal's), with the
start's steps timed inside it (those this code has), then a second start after the first one's
clean stop (which leaves a checkpoint, when the code writes them). Prints one JSON object per run.
It runs against whichever ``arbcore`` is on ``PYTHONPATH`` (e.g. an older checkout, for "before").
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from arbcore.execution import residuals
from arbcore.execution.amounts import Amount, Asset, Rounding, buy_reservation, sell_reservation
from arbcore.execution.engine import Executor
from arbcore.execution.intent_log import StagedTicket
from arbcore.execution.journal import Journal
from arbcore.execution.ledger import Ledger
from arbcore.execution.orders import EventKind, OrderType, Side, TimeInForce
from arbcore.execution.records import Fill, OrderIntent
from arbcore.runner import session as session_mod
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from engine_helpers import SYMBOL, make_config

VENUES = ("binance_spot", "okx")
USDT, BTC = Asset("USDT", 8), Asset("BTC", 8)
PD, QD = 2, 6  # BTC/USDT's price and quantity decimals in engine_helpers' config
TAKER_FEE = 50_000  # 5 bps in arbcore.FEE_SCALE units (1e-8)


def _intent(ticket: str, leg: str, venue: str, side: Side, *, qty: int, price: int) -> OrderIntent:
    return OrderIntent(ticket, leg, 0, venue, SYMBOL[venue], "BTC/USDT", "BTC", "USDT", PD, QD, side,
                       OrderType.LIMIT, TimeInForce.IOC, qty, price)  # fmt: skip


def build(path: Path, tickets: int) -> None:
    step = 2_500_000_000
    now = [time.time_ns() - 3_600 * 10**9 - tickets * step]

    def clock() -> int:
        now[0] += 1000
        return now[0]

    with Journal(path, clock=clock, durable_intents=False) as j:
        led = Ledger(sink=j.append_ledger_event)
        with j.batch():
            for v in VENUES:
                led.set_total(v, USDT, USDT.parse("500000"))
                led.set_total(v, BTC, BTC.parse("5"))
        price = 5_000_000
        for k in range(tickets):
            if k % 50 == 0:
                batch = j.batch()
                batch.__enter__()
            now[0] += step
            t = f"T{k:07d}"
            bv, sv = (VENUES[k % 2], VENUES[1 - k % 2])
            price += (k * 7919) % 21 - 10
            qty = 10_000 + (k % 5) * 1_000
            bp, sp = price + 10, price - 10
            intents = (
                _intent(t, "buy", bv, Side.BUY, qty=qty, price=bp),
                _intent(t, "sell", sv, Side.SELL, qty=qty, price=sp),
            )
            with led.capture() as events:
                led.reserve(t, "buy", bv, USDT, buy_reservation(bp, qty, price_decimals=PD, qty_decimals=QD,
                                                                fee_rate=TAKER_FEE, quote=USDT).value)  # fmt: skip
                led.reserve(t, "sell", sv, BTC, sell_reservation(qty, QD, BTC).value)
            detail = json.dumps({"expected_buy_price": str(bp), "expected_sell_price": str(sp), "qty": str(qty),
                                 "reason": "taker"}, sort_keys=True)  # fmt: skip
            j.stage(StagedTicket(t, "BTC/USDT", bv, sv, detail, tuple(events), intents))
            for i in intents:
                cid = i.client_order_id
                j.append_event(cid, EventKind.ACK, venue_order_id=f"v{cid[:12]}")
                fee = qty * i.limit_price * 5 // 10_000  # type: ignore[operator]
                fill = Fill(f"f{k}{i.leg_id}", qty, i.limit_price or 0, fee, "USDT", PD + QD)
                j.append_event(cid, EventKind.FILL, fill=fill)
                notional = Amount(USDT, USDT.units(fill.price * qty, PD + QD, Rounding.UP))
                base = Amount(BTC, BTC.units(qty, QD, Rounding.UP))
                spend, receive = (notional, base) if i.side is Side.BUY else (base, notional)
                fee_amount = Amount(USDT, USDT.units(fee, PD + QD, Rounding.UP))
                led.convert_fill(t, i.leg_id, f"{cid}:{fill.fill_id}", spend=spend, receive=receive,
                                 fee=fee_amount, allow_available=True)  # fmt: skip
                led.release_remaining(t, i.leg_id, f"{cid}:final", "FILLED")
            led.retire(t)
            j.write_ticket_outcome(t, "done", {"hedge_lag_ns": 0, "pnl": "0"})
            if k % 500 == 499:
                for v in VENUES:
                    totals = {a: led.balance(v, a).total for a in (USDT, BTC)}
                    j.write_balance_snapshot(v, "venue", totals)
                    led.reconcile(v, totals, adopt=True)
            if k % 50 == 49 or k == tickets - 1:
                batch.__exit__(None, None, None)
    with Journal(path, readonly=True) as j:
        n = j._db.execute("SELECT count(*) FROM ledger_events").fetchone()[0]
    print(json.dumps({"journal": str(path), "tickets": tickets, "ledger_events": n,
                      "bytes": path.stat().st_size}))  # fmt: skip


def _timed(times: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def atimed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await fn(*a, **kw)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - t0

        return atimed

    @functools.wraps(fn)
    def timed(*a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t0

    return timed


async def _start(path: Path, times: dict[str, float]) -> None:
    """A session's start() on ``path``, its steps timed (whichever this code has)."""
    config = make_config(list(VENUES))
    s = TradingSession(config, load_strategy(None, config), journal_path=path)
    patches = [
        (Journal, "__init__", "journal_open"),
        (Journal, "ledger_events", "ledger_events_read"),
        (Ledger, "replay", "ledger_replay_apply"),
        (Journal, "ledger_restore", "ledger_restore"),
        (Journal, "write_ledger_checkpoint", "checkpoint_write"),
        (Executor, "recover", "recover"),
        (Executor, "reconcile_balances", "reconcile_balances"),
        (session_mod, "load_residuals", "load_residuals"),
        (session_mod, "restore_daily_loss", "restore_daily_loss"),
        (session_mod, "load_markets", "load_markets"),
    ]
    saved = []
    for owner, attr, name in patches:
        fn = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
        if fn is None:
            continue
        saved.append((owner, attr, fn))
        raw = fn.__func__ if isinstance(fn, classmethod) else fn
        wrapped = _timed(times, name, raw)
        setattr(owner, attr, classmethod(wrapped) if isinstance(fn, classmethod) else wrapped)
    try:
        t0 = time.perf_counter()
        await s.start()
        times["start_total"] = time.perf_counter() - t0
    finally:
        for owner, attr, fn in saved:
            setattr(owner, attr, fn)
        await s.stop()


def time_start(path: Path, runs: int) -> None:
    assert residuals  # (imported so the session's own reference is the one patched above)
    for run in range(runs):
        with tempfile.TemporaryDirectory(dir="/tmp") as d:
            copy = Path(d) / "j.sqlite"
            shutil.copy(path, copy)
            out: dict[str, Any] = {"run": run}
            t0 = time.perf_counter()
            j = Journal(copy, intent_log=True)
            out["open_with_intent_log_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            full = Ledger.replay(j.ledger_events())
            out["full_replay_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            loaded = j.ledger_replay()
            out["ledger_replay_s"] = time.perf_counter() - t0
            out["ledger_replay_equal"] = loaded.state() == full.state()
            j.close()
            times: dict[str, float] = {}
            asyncio.run(_start(copy, times))
            out["start"] = {k: round(v, 4) for k, v in sorted(times.items())}
            # a second start: the first one's stop left a checkpoint (when this code writes them)
            times = {}
            asyncio.run(_start(copy, times))
            out["second_start"] = {k: round(v, 4) for k, v in sorted(times.items())}
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("journal", type=Path)
    b.add_argument("--tickets", type=int, default=100_000)
    t = sub.add_parser("time")
    t.add_argument("journal", type=Path)
    t.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "build":
        if args.journal.exists():
            sys.exit(f"{args.journal} exists")
        build(args.journal, args.tickets)
    else:
        time_start(args.journal, args.runs)


if __name__ == "__main__":
    main()
