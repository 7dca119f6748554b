"""Pre-trade checks: a ticket that breaks a venue rule, a book condition, a risk limit or the
funds is refused whole, before anything is sent or reserved, with the numbers in its reason and
in the log; the circuit breaker and the kill switch do what the risk module says.

The end-to-end cases run against the loopback simulators (binance_spot and okx) and check each
refusal the same way: no order reached either simulator, nothing stays reserved, the journal
has no order for the ticket."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest
import uvloop

import arbcore
from arbcore.execution.orders import Side
from arbcore.execution.risk import CircuitBreaker, KillSwitch, LegRisk, RiskGate, RiskLimits
from arbcore.execution.ticket import TicketParams, TicketPlan
from arbcore.runner.config import parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.sim.exchange import OrderFault
from arbcore.venues import ratelimit
from engine_helpers import config_text, live_crossing_plan, make_config, session, wait_live

# ---- the risk gate on its own --------------------------------------------------------------------


def leg(venue: str, sign: int, qty: str, notional: str, base: str = "BTC") -> LegRisk:
    return LegRisk(venue, base, sign, Decimal(qty), Decimal(notional))


def test_each_limit_names_its_numbers(caplog: pytest.LogCaptureFixture) -> None:
    lim = RiskLimits(
        max_order_notional=Decimal(1000), max_ticket_notional=Decimal(1500),
        max_position={"BTC": Decimal("0.5")}, max_net_position={"BTC": Decimal("0.2")},
    )  # fmt: skip
    gate = RiskGate(lim)
    assert gate.check([leg("a", 1, "0.1", "900"), leg("b", -1, "0.1", "500")]) == []
    with caplog.at_level(logging.WARNING, logger="arbcore.risk"):
        out = gate.check([leg("a", 1, "0.6", "1200"), leg("b", -1, "0.1", "500")])
    assert "a order notional 1200 > max_order_notional 1000" in out
    assert "ticket notional 1700 > max_ticket_notional 1500" in out
    assert "a BTC position would be 0.6, max_position 0.5" in out
    assert "net BTC position would be 0.5, max_net_position 0.2" in out
    assert gate.breaches == 1
    assert "ticket refused by risk" in caplog.text and "max_order_notional 1000" in caplog.text


def test_a_lasting_breach_is_one_warning_not_one_per_ticket(caplog: pytest.LogCaptureFixture) -> None:
    # a strategy proposes on every book update: 50 refusals of one kind (numbers aside) in a
    # second are one line, while every refusal still counts and names its reasons
    gate = RiskGate(RiskLimits(max_order_notional=Decimal(1000)))
    with caplog.at_level(logging.WARNING, logger="arbcore.risk"):
        for i in range(50):
            assert gate.check([leg("a", 1, "0.1", str(1200 + i))]) != []
        gate.check([leg("a", 1, "0.1", "10"), leg("b", -1, "0.1", "1500")])  # another venue: another kind
    lines = [r.getMessage() for r in caplog.records if r.name == "arbcore.risk"]
    assert gate.breaches == 51
    assert lines == ["ticket refused by risk: a order notional 1200 > max_order_notional 1000",
                     "ticket refused by risk: b order notional 1500 > max_order_notional 1000"]  # fmt: skip


def test_net_position_limit_allows_what_reduces_the_exposure() -> None:
    gate = RiskGate(RiskLimits(max_net_position={"BTC": Decimal("0.2")}))
    gate.on_fill("a", "BTC", Decimal("0.5"))  # already beyond the cap (a fill the venue made)
    assert gate.net_position("BTC") == Decimal("0.5")
    assert gate.check([leg("b", -1, "0.1", "10")]) == []  # flattening is always allowed
    assert gate.check([leg("b", 1, "0.1", "10")]) != []  # growing it is not
    gate.on_fill("b", "BTC", Decimal("-0.4"))
    assert gate.net_position("BTC") == Decimal("0.1")


def test_venue_position_limit_allows_what_brings_it_back() -> None:
    """A venue beyond its cap (a hedge or a fill the venue made took it there): a ticket that
    reduces its position there was refused, so nothing could bring it back (the net cap allowed it)."""
    gate = RiskGate(RiskLimits(max_position={"BTC": Decimal("0.5")}))
    gate.on_fill("a", "BTC", Decimal("0.8"))
    assert gate.check([leg("a", -1, "0.1", "10"), leg("b", 1, "0.1", "10")]) == []
    assert gate.check([leg("a", 1, "0.1", "10")]) == ["a BTC position would be 0.9, max_position 0.5"]


def test_daily_loss_engages_the_kill_switch() -> None:
    gate = RiskGate(RiskLimits(max_daily_loss=Decimal(100)))
    gate.on_realised(Decimal(-60), "USDT")
    assert not gate.kill.engaged
    gate.on_realised(Decimal(-50), "USDT")
    assert gate.kill.engaged and "daily loss 110 USDT exceeds max_daily_loss 100" in gate.kill.reason
    out = gate.check([leg("a", 1, "0.1", "10")])
    assert any("kill switch engaged" in r for r in out)
    assert any("daily loss 110 USDT > max_daily_loss 100" in r for r in out)


def test_daily_loss_is_counted_per_quote_asset() -> None:
    """Losses in BTC/USDT, ETH/BTC and BTC/EUR were summed as one number: 0.6 BTC lost and 60
    USDT lost made "60.6" against the limit, and a gain in one quote hid a loss in another."""
    gate = RiskGate(RiskLimits(max_daily_loss=Decimal(100)))
    gate.on_realised(Decimal(-60), "USDT")
    gate.on_realised(Decimal(-45), "EUR")
    gate.on_realised(Decimal("-0.6"), "BTC")
    assert not gate.kill.engaged and gate.realised == {"USDT": -60, "EUR": -45, "BTC": Decimal("-0.6")}
    gate.on_realised(Decimal(500), "EUR")  # a gain in EUR does not pay for a loss in USDT
    gate.on_realised(Decimal(-41), "USDT")
    assert gate.kill.engaged and gate.kill.reason == "daily loss 101 USDT exceeds max_daily_loss 100"


def test_breaker_opens_after_errors_in_the_window_and_closes_after_cooldown() -> None:
    b = CircuitBreaker(RiskLimits(breaker_errors=3, breaker_window_s=10, breaker_cooldown_s=30))
    b.record_error("okx", "reject", now=100.0)
    b.record_error("okx", "reject", now=115.0)  # the first one left the window
    b.record_error("okx", "timeout", now=116.0)
    assert not b.is_open("okx", now=116.5)
    b.record_error("okx", "timeout", now=117.0)
    assert b.is_open("okx", now=117.5) and not b.is_open("binance_spot", now=117.5)
    assert b.is_open("okx", now=146.9) and not b.is_open("okx", now=147.1)


def test_breaker_counts_rejects_and_errors_against_their_own_limits() -> None:
    # [risk.circuit_breaker] max_rejects = 3, max_errors = 4: three errors do not open it (the
    # smaller of the two limits bound both kinds together), three rejects do
    b = CircuitBreaker(RiskLimits(breaker_errors=4, breaker_rejects=3, breaker_window_s=10))
    for t in (100.0, 101.0, 102.0):
        b.record_error("okx", "timeout", now=t)
    b.record_reject("okx", "reject", now=103.0)
    b.record_reject("okx", "reject", now=104.0)
    assert not b.is_open("okx", now=104.5)
    b.record_reject("okx", "reject", now=105.0)
    assert b.is_open("okx", now=105.5)


def test_kill_file_engages_once_and_stays(tmp_path: Path) -> None:
    path = tmp_path / "KILL"
    kill = KillSwitch(path)
    assert not kill.engaged
    path.touch()
    assert kill.engaged and str(path) in kill.reason
    path.unlink()
    assert kill.engaged  # for the life of the process


# ---- refused tickets against the simulators -----------------------------------------------------


async def refused(s: TradingSession, plan: TicketPlan, expect: str) -> list[str]:
    """Run ``plan``; it must be refused with ``expect`` in a reason, leaving no trace."""
    assert s.runner is not None and s.executor is not None and s.journal is not None
    sent = {n: dict(ex.submissions) for n, ex in s.exchanges.items()}
    orders = len(s.journal.orders())
    totals = {k: b.total for k, b in s.executor.ledger.balances().items()}
    r = await s.runner.execute(plan)
    assert r.status == "refused", r
    assert any(expect in why for why in r.reasons), (expect, r.reasons)
    await asyncio.sleep(0.05)  # anything sent would have reached a simulator by now
    assert {n: dict(ex.submissions) for n, ex in s.exchanges.items()} == sent
    assert len(s.journal.orders()) == orders
    for key, b in s.executor.ledger.balances().items():
        assert b.reserved == 0 and b.total == totals[key], (key, b)
    return r.reasons


def test_refusals_send_nothing_and_reserve_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        config = make_config(["binance_spot", "okx"])
        kill = tmp_path / "KILL"
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite", kill_file=kill)
        await s.start()
        try:
            await wait_live(s)
            assert s.runner is not None
            good = await live_crossing_plan(s, "binance_spot", "okx")
            # venue rules, after rounding: lot 0.0001 (100 raw), tick 0.1 (10 raw)
            await refused(s, dataclasses.replace(good, qty=good.qty + 1), "not on lot 0.0001")
            await refused(s, dataclasses.replace(good, buy_limit=good.buy_limit + 1), "not on tick 0.1")
            await refused(s, dataclasses.replace(good, qty=100, sell_limit=10), "below min 5")
            # books: not LIVE, too old
            book = s.books["BTC/USDT"]
            book.set_state("okx", arbcore.SYNCING)  # no await before the check: the feed cannot undo it
            await refused(s, good, "okx sell: book not LIVE")
            book.set_state("okx", arbcore.LIVE)  # its levels never changed: only the flag was flipped
            params = s.runner.params
            s.runner.params = TicketParams(max_book_age_ns=1)
            await refused(s, good, "ms old > 0 ms")
            s.runner.params = params
            # risk: order notional (3 BTC ~ 150,000 USDT > 100,000), open tickets, breaker
            with caplog.at_level(logging.WARNING, logger="arbcore.risk"):
                await refused(s, dataclasses.replace(good, qty=3_000_000), "> max_order_notional 100000")
            assert "max_order_notional 100000" in caplog.text
            s.risk.open_tickets = 4
            await refused(s, good, "open tickets 4 >= max_open_tickets 4")
            s.risk.open_tickets = 0
            for _ in range(s.risk.limits.breaker_errors):
                s.risk.breaker.record_error("okx", "test")
            await refused(s, good, "okx: circuit breaker open")
            s.risk.breaker._open_until.clear()
            # rate limits: a leg its client would hold back (binance_spot's limits stopped by a
            # 429/418's Retry-After) is not sent, nor is its partner; nor is a hedge sent there
            client = s.clients["binance_spot"]
            client.limiter.penalise(5.0)
            await refused(s, good, "binance_spot buy: rate limit: room for an order in")
            # a one-legged ticket (a strategy's hedge, a sweep) too: it went out and waited in the
            # limiter, where a kill switch's cancels would queue behind it
            one = await s.runner.execute_one(good.buy, Side.BUY, good.qty, good.buy_limit)
            assert one.status == "refused" and any("rate limit: room for an order" in r for r in one.reasons), one
            for side in (Side.BUY, Side.SELL):
                touch = s.runner.hedge_venue("BTC/USDT", side, 1 if side is Side.SELL else 2**62)
                assert touch is not None and touch[0].venue == "okx", (side, touch)
            client.limiter = ratelimit.binance_spot()  # (a fresh one: the penalty gone)
            # funds, with the limits out of the way: 6 BTC to sell from 5 on okx (the buy leg's
            # ~300,000 USDT fits): the buy's reservation is released with the refusal
            s.risk.limits = dataclasses.replace(s.risk.limits, max_order_notional=Decimal("1e12"),
                                                max_ticket_notional=Decimal("1e12"))  # fmt: skip
            reasons = await refused(s, dataclasses.replace(good, qty=6_000_000), "funds: okx BTC")
            assert any("available" in r for r in reasons)
            assert not s.executor.ledger.reservations()  # its released reservation retired, not kept
            # the kill file: new tickets refused at once, the session stops accepting them
            kill.touch()
            await refused(s, good, "kill switch engaged")
            end = time.monotonic() + 5
            while s._accepting and time.monotonic() < end:
                await asyncio.sleep(0.05)
            assert not s._accepting
        finally:
            await s.stop()

    uvloop.run(main())


def test_busy_poll_session_trades_and_stops_cleanly(tmp_path: Path) -> None:
    """`[run] busy_poll`: the loop spins, a ticket still runs to the end, stop() ends the spin."""

    async def main() -> None:
        text = config_text(["binance_spot", "okx"]).replace("[run]\n", "[run]\nbusy_poll = true\n", 1)
        config = parse_toml(text)
        assert config.run.busy_poll
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        await s.start()
        try:
            await wait_live(s)
            assert s.runner is not None
            r = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))
            assert r.status == "done" and r.residual == 0, r
            spins = [t for t in s._feed_tasks if "busy_poll" in repr(t.get_coro())]
            assert len(spins) == 1 and not spins[0].done()
        finally:
            await s.stop()
        assert spins[0].cancelled()

    uvloop.run(main())


def test_breaker_follows_the_config_against_the_simulators(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """max_rejects and max_errors each bind their own kind, and a rate-limit refusal is one error
    (it counted twice: an error, then a reject, so 2 refusals and a timeout opened a breaker set to
    4 errors; and the smaller limit bound both kinds). Once open: tickets to that venue only are
    refused, and hedges go elsewhere."""

    async def main() -> None:
        breaker = "max_rejects = 3\nmax_errors = 4\nwindow_ms = 60000\ncooldown_ms = 2000"
        text = config_text(["binance_spot", "okx", "kraken"])
        text = text.replace("max_rejects = 1000\nmax_errors = 1000\nwindow_ms = 1000", breaker)
        config = parse_toml(text)
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        await s.start()
        try:
            await wait_live(s)
            assert s.runner is not None
            okx = s.exchanges["okx"]
            for fault in (OrderFault.RATE_LIMIT, OrderFault.TIMEOUT, OrderFault.TIMEOUT):  # 3 errors
                end = time.monotonic() + 5
                while s.clients["okx"].order_wait("BTC-USDT") > 0 and time.monotonic() < end:
                    await asyncio.sleep(0.05)  # the rate limit's retry time
                okx.inject(fault)
                r = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))
                assert r.status != "refused", r
            assert not s.risk.breaker.is_open("okx")
            with caplog.at_level(logging.WARNING, logger="arbcore.risk"):
                for _ in range(3):  # 3 rejects
                    okx.inject(OrderFault.REJECT)
                    r = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))
                    assert r.status in ("hedged", "unwound"), r
            assert s.risk.breaker.is_open("okx")
            assert "circuit breaker OPEN for okx: 3 rejects in 60.0 s (max 3" in caplog.text
            assert "closed again in 2 s" in caplog.text  # cooldown_ms (it was 30 s whatever the config)
            await refused(s, await live_crossing_plan(s, "binance_spot", "okx"), "okx: circuit breaker open")
            r = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "kraken"))
            assert r.status == "done", r
            touch = s.runner.hedge_venue("BTC/USDT", Side.SELL, 1)
            assert touch is not None and touch[0].venue != "okx"
            await asyncio.sleep(2.05)
            assert not s.risk.breaker.is_open("okx")
        finally:
            await s.stop()

    uvloop.run(main())


def test_a_restart_keeps_the_days_realised_loss(tmp_path: Path) -> None:
    """The daily loss was held in memory only: a restart (even one after the limit had engaged
    the kill switch) started the day's budget again from zero. The start reads today's realised
    PnL back from the journal; beyond the limit, the switch engages again before any ticket."""
    journal = tmp_path / "j.sqlite"

    async def trade() -> Decimal:
        async with session(["binance_spot", "okx"], journal) as s:
            assert s.runner is not None
            await live_crossing_plan(s, "binance_spot", "okx")  # books priced
            ask = s.view.best_price("okx", "BTC/USDT", Side.BUY)
            assert ask is not None
            r = await s.runner.execute_one(s.markets[("okx", "BTC/USDT")], Side.BUY, 10_000, (ask + 3_000) // 10 * 10)
            assert r.pnl is not None and r.pnl.realised < 0, r  # a one-legged buy realises its fee: a loss
            return s.risk.realised["USDT"]

    async def restart(max_daily_loss: str) -> tuple[Decimal, bool, list[str]]:
        text = config_text(["binance_spot", "okx"]).replace(
            'max_daily_loss = "10000"', f'max_daily_loss = "{max_daily_loss}"'
        )
        config = parse_toml(text)  # type: ignore[arg-type]
        s = TradingSession(config, load_strategy(None, config), journal_path=journal)
        notes = await s.start()
        try:
            return s.risk.realised["USDT"], s.risk.kill.engaged, notes
        finally:
            await s.stop()

    lost = uvloop.run(trade())
    realised, killed, notes = uvloop.run(restart("10000"))
    assert realised == lost and not killed
    assert any(n.startswith("today's realised PnL so far (UTC): -") for n in notes), notes
    realised, killed, _ = uvloop.run(restart(str(-lost / 2)))
    assert realised == lost and killed
