"""A two-or-more-venue trading session on loopback simulators, and the checks every execution
test makes afterwards: no order sent twice, the journal's fills equal the simulators' fills, the
ledger equals the simulators' balances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from arbcore.execution.orders import Side
from arbcore.execution.ticket import TicketPlan
from arbcore.runner.config import Config, parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession

SYMBOL = {
    "binance_spot": "BTCUSDT",
    "binance_usdm": "BTCUSDT",
    "bybit": "BTCUSDT",
    "okx": "BTC-USDT",
    "kraken": "BTC/USDT",
    "coinbase": "BTC-USDT",
}


def config_text(
    venues: Sequence[str],
    *,
    leg_timeout_ms: int = 600,
    auto_trade: bool = False,
    sim_interval_ms: int = 10,
    run: str = "",
    execution: str = "",
    tables: str = "",
) -> str:
    """BTC/USDT at 2/6 decimals on each venue (named after its protocol), tick 0.10, lot 0.0001.
    ``run``, ``execution``: more lines of those tables (e.g. ``"busy_poll = true\n"``);
    ``tables``: more tables at the end (e.g. a venue's ``sim_faults``)."""
    out = [
        f"[run]\n{run}seed = 5\nsim_interval_ms = {sim_interval_ms}\ntimer_ms = 200\n",
        "[assets]\nBTC = 8\nUSDT = 8\n",
    ]
    for v in venues:
        out.append(
            f'[venues.{v}]\nprotocol = "{v}"\nsimulated = true\n[venues.{v}.balances]\nUSDT = "500000"\nBTC = "5"\n'
        )
    out.append('[[instruments]]\nname = "BTC/USDT"\nprice_decimals = 2\nqty_decimals = 6\nsim_mid = "50000"\n')
    for v in venues:
        out.append(
            f'[instruments.venues.{v}]\nsymbol = "{SYMBOL[v]}"\ntick = "0.1"\nlot = "0.0001"\nmin_qty = "0.0001"\n'
            f'min_notional = "5"\nmaker_fee = "1bps"\ntaker_fee = "5bps"\n'
        )
    edge = "0" if auto_trade else "100000"
    out.append(
        '[risk]\nmax_order_notional = "100000"\nmax_ticket_notional = "200000"\nmax_daily_loss = "10000"\n'
        "max_open_tickets = 4\n"
        "[risk.circuit_breaker]\nmax_rejects = 1000\nmax_errors = 1000\nwindow_ms = 1000\n"
        f'[strategy]\nname = "taker"\n[strategy.params]\nmin_edge_bps = "{edge}"\n'
        f"[execution]\nstaleness_ms = 2000\nleg_timeout_ms = {leg_timeout_ms}\nhedge_timeout_ms = 2000\n"
        f'loss_budget = "50"\nmin_edge_bps = "0"\n{execution}'
    )
    return "\n".join(out) + tables


def make_config(venues: Sequence[str], **kw: object) -> Config:
    return parse_toml(config_text(venues, **kw))  # type: ignore[arg-type]


@asynccontextmanager
async def session(
    venues: Sequence[str],
    journal: Path,
    strategy: str | None = None,
    reconcile_every: float | None = None,
    **kw: object,
) -> AsyncIterator[TradingSession]:
    """A started session on simulated ``venues``, its books LIVE; ``strategy``: a plug-in's spec;
    ``reconcile_every``: the periodic reconciliation's period (s), else the session's own."""
    config = make_config(venues, **kw)
    more = {} if reconcile_every is None else {"reconcile_every": reconcile_every}
    s = TradingSession(config, load_strategy(strategy, config), journal_path=journal, **more)
    await s.start()
    try:
        await wait_live(s)
        yield s
    finally:
        await s.stop()


async def wait_live(s: TradingSession, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while True:
        if all(s.view.book_status(v, "BTC/USDT")[0] for v in s.config.venues):
            return
        if time.monotonic() > end:
            raise AssertionError("books never all LIVE")
        await asyncio.sleep(0.02)


def crossing_plan(s: TradingSession, buy: str, sell: str, qty: int = 10_000, margin: int = 3_000) -> TicketPlan:
    """A ticket that takes on both venues (its limits cross each book by ``margin`` raw)."""
    ask = s.view.best_price(buy, "BTC/USDT", Side.BUY)
    bid = s.view.best_price(sell, "BTC/USDT", Side.SELL)
    assert ask is not None and bid is not None
    return TicketPlan("BTC/USDT", s.markets[(buy, "BTC/USDT")], s.markets[(sell, "BTC/USDT")], qty,
                      (ask + margin) // 10 * 10, max(10, (bid - margin) // 10 * 10), "test")  # fmt: skip


async def live_crossing_plan(s: TradingSession, buy: str, sell: str, timeout: float = 10.0) -> TicketPlan:
    """``crossing_plan`` once both books show a price: a book can be briefly resyncing (a gap or
    checksum miss on a loaded machine) or emptied on one side by the previous ticket."""
    end = time.monotonic() + timeout
    while (
        s.view.best_price(buy, "BTC/USDT", Side.BUY) is None or s.view.best_price(sell, "BTC/USDT", Side.SELL) is None
    ):
        if time.monotonic() > end:
            raise AssertionError(f"no prices on {buy}/{sell} within {timeout} s")
        await asyncio.sleep(0.02)
    return crossing_plan(s, buy, sell)


def check_consistency(s: TradingSession) -> None:
    """Nothing sent twice; journal fills == simulator fills; ledger == simulator balances."""
    assert s.executor is not None and s.journal is not None
    for name, ex in s.exchanges.items():
        twice = {cid: n for cid, n in ex.submissions.items() if n > 1}
        assert not twice, f"{name}: orders sent more than once: {twice}"
    for rec in s.journal.orders():
        ex = s.exchanges[rec.intent.venue]
        acct = s.credentials[rec.intent.venue].api_key
        sim = ex.find(acct, rec.intent.symbol, client_id=rec.client_order_id)
        journaled = sorted((e.fill.qty, e.fill.price) for e in s.journal.events(rec.client_order_id) if e.fill)
        if sim is None:
            assert not journaled and rec.filled_qty == 0, rec
            continue
        assert journaled == sorted((f.qty, f.price) for f in sim.fills), (rec.client_order_id, journaled, sim.fills)
        assert rec.filled_qty == sim.filled
    for name, ex in s.exchanges.items():
        acct = ex.accounts[s.credentials[name].api_key]
        for asset, total in acct.balances.items():
            assert s.executor.ledger.balance(name, asset).total == total, (name, asset)
        for (venue, asset), bal in s.executor.ledger.balances().items():
            if venue == name:
                assert bal.reserved == 0, (venue, asset, bal)
