"""Arbitrage tickets end to end on loopback: every order-path fault, on either leg, on every venue.

After each ticket: the residual exposure is zero (hedged or unwound within the bound and the
loss budget), no order was sent twice, the journal's fills equal the simulators' fills and the
ledger equals the simulators' balances with nothing left reserved.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvloop

from arbcore.execution.ledger import Ledger
from arbcore.execution.orders import OrderState
from arbcore.sim.exchange import OrderFault
from arbcore.venues.orders.registry import ORDER_VENUES
from engine_helpers import check_consistency, live_crossing_plan, session

VENUES = list(ORDER_VENUES)
#: each venue is tested against the next one in the list
PARTNER = {v: VENUES[(i + 1) % len(VENUES)] for i, v in enumerate(VENUES)}
LEG_FAULTS = [
    OrderFault.REJECT,
    OrderFault.TIMEOUT,
    OrderFault.SILENT_TIMEOUT,
    OrderFault.SLOW_ACK,
    OrderFault.DISCONNECT,
    OrderFault.PARTIAL_FILL,
    OrderFault.RATE_LIMIT,
]


@pytest.mark.parametrize("venue", VENUES)
def test_clean_ticket_both_legs_fill(venue: str, tmp_path: Path) -> None:
    async def main() -> None:
        other = PARTNER[venue]
        async with session([venue, other], tmp_path / "j.sqlite") as s:
            assert s.runner is not None
            r = await s.runner.execute(await live_crossing_plan(s, venue, other))
            assert r.status == "done", r
            assert r.bought == r.sold == 10_000 and r.residual == 0
            check_consistency(s)
            # a finished ticket's orders leave memory (the journal keeps them), and so does its
            # share of the ledger (retired: a journaled event, which a replay follows)
            assert s.executor is not None and not s.executor.orders and not s.executor.by_ticket
            assert {o.intent.leg_id for o in r.orders} == {"buy", "sell"}
            ledger = s.executor.ledger
            assert not ledger.reservations() and not ledger.state()[3]
            assert s.journal is not None and Ledger.replay(s.journal.ledger_events()).state() == ledger.state()

    uvloop.run(main())


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("leg", ["buy", "sell"])
@pytest.mark.parametrize("fault", LEG_FAULTS, ids=[f.value for f in LEG_FAULTS])
def test_leg_fault(venue: str, leg: str, fault: OrderFault, tmp_path: Path) -> None:
    async def main() -> None:
        other = PARTNER[venue]
        buy, sell = (venue, other) if leg == "buy" else (other, venue)
        async with session([buy, sell], tmp_path / "j.sqlite") as s:
            assert s.runner is not None and s.executor is not None
            # a silent timeout's stream events come after the leg timeout (600 ms): only a query knows
            late = 1.0 if fault is OrderFault.SILENT_TIMEOUT else 0.0
            s.exchanges[venue].inject(fault, seconds=late or 0.2)
            queries = s.executor.counters.queries
            r = await s.runner.execute(await live_crossing_plan(s, buy, sell))
            assert r.residual == 0, r
            faulty = next(o for o in r.orders if o.intent.leg_id == leg)
            assert faulty.state in (OrderState.FILLED, OrderState.EXPIRED, OrderState.REJECTED, OrderState.CANCELED)
            if fault in (OrderFault.REJECT, OrderFault.RATE_LIMIT):
                assert faulty.filled == 0 and r.status in ("hedged", "unwound"), r
            if fault in (OrderFault.TIMEOUT, OrderFault.DISCONNECT, OrderFault.SILENT_TIMEOUT):
                # resolved by a query, or by the private stream before the query was needed
                assert s.executor.counters.timeouts >= 1
            if late:
                assert s.executor.counters.queries > queries, s.executor.counters
            await asyncio.sleep(0.1 + late)  # late stream events must not change anything
            check_consistency(s)

    uvloop.run(main())


@pytest.mark.parametrize("venue", VENUES)
def test_balance_change_outside_the_engine_is_reported(venue: str, tmp_path: Path) -> None:
    async def main() -> None:
        other = PARTNER[venue]
        async with session([venue, other], tmp_path / "j.sqlite") as s:
            assert s.executor is not None
            key = s.credentials[venue].api_key
            s.exchanges[venue].inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=-1_000 * 10**8)
            recs = await s.executor.reconcile_balances()
            diffs = {d.asset.name: d.diff for d in recs[venue].mismatches}
            assert diffs == {"USDT": -1_000 * 10**8}
            assert recs[other].ok

    uvloop.run(main())


def test_reconciliation_skips_a_venue_whose_ledger_moved_while_asked(tmp_path: Path) -> None:
    """Balances asked for while a ticket's fill is on its way: the venue's answer may count a fill
    the ledger has not applied yet. A venue whose ledger changed during the request (or with an
    order in flight) is compared next time, not reported as a difference; a real difference
    still is, once the venue is quiet."""

    async def main() -> None:
        async with session(["binance_spot", "okx"], tmp_path / "j.sqlite") as s:
            assert s.executor is not None
            ex, ledger = s.executor, s.executor.ledger
            client = ex.clients["binance_spot"]
            asked = client.balances
            usdt = ledger.asset("USDT")

            async def fill_in_between() -> Any:
                # the venue moves first (its answer has it), the ledger only during the request
                key = s.credentials["binance_spot"].api_key
                s.exchanges["binance_spot"].inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=-(10**8))
                got = await asked()
                ledger.reserve("T-x", "buy", "binance_spot", usdt, 1)
                ledger.release_remaining("T-x", "buy", "x:final", "canceled")
                return got

            client.balances = fill_in_between  # type: ignore[method-assign]
            recs = await ex.reconcile_balances()
            assert set(recs) == {"okx"} and recs["okx"].ok, recs
            client.balances = asked  # type: ignore[method-assign]
            recs = await ex.reconcile_balances()  # quiet now: the outside change is reported
            assert {d.asset.name: d.diff for d in recs["binance_spot"].mismatches} == {"USDT": -(10**8)}

    uvloop.run(main())


def test_no_secret_in_any_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Keys, secrets and private keys never reach the journal (and its WAL) or the logs."""
    import logging

    caplog.set_level(logging.DEBUG)

    async def main() -> list[str]:
        async with session(["coinbase", "okx"], tmp_path / "j.sqlite") as s:
            assert s.runner is not None
            await s.runner.execute(await live_crossing_plan(s, "coinbase", "okx"))
            s.exchanges["okx"].inject(OrderFault.REJECT)
            await s.runner.execute(await live_crossing_plan(s, "okx", "coinbase"))
            secrets = []
            for c in s.credentials.values():
                secrets += [c.api_key, c.secret, *(c.secret.splitlines()[1:2]), c.passphrase or ""]
            return [x for x in secrets if x]

    secrets = uvloop.run(main())
    blobs = [p.read_bytes() for p in tmp_path.iterdir() if p.is_file()]
    text = caplog.text
    for secret in secrets:
        assert secret not in text
        assert all(secret.encode() not in b for b in blobs)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_one_legged_proposal_runs_as_a_hedge_ticket(side: str, tmp_path: Path) -> None:
    """A strategy's hedge (one venue, one limit) goes through the session as a one-legged ticket:
    checked, reserved, journaled, sent once, and it leaves the ledger equal to the venue."""
    from arbcore.execution.orders import Side
    from arbcore.runner.plugins import TicketProposal

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            assert s.runner is not None
            await live_crossing_plan(s, "okx", "kraken")  # both books priced
            if side == "buy":
                ask = s.view.best_price("okx", "BTC/USDT", Side.BUY)
                assert ask is not None
                p = TicketProposal("BTC/USDT", "okx", None, 10_000, (ask + 3_000) // 10 * 10, None, "hedge")
            else:
                bid = s.view.best_price("okx", "BTC/USDT", Side.SELL)
                assert bid is not None
                p = TicketProposal("BTC/USDT", None, "okx", 10_000, None, (bid - 3_000) // 10 * 10, "hedge")
            s.submit(p)
            for _ in range(200):
                if s.runner.results and not s._in_flight:
                    break
                await asyncio.sleep(0.02)
            [r] = s.runner.results
            assert r.status == "done", r
            assert (r.bought, r.sold) == ((10_000, 0) if side == "buy" else (0, 10_000))
            [order] = r.orders
            assert order.intent.venue == "okx" and order.state is OrderState.FILLED
            # its fees are realised: in the dashboard's PnL and the daily loss as in the report
            # (a one-legged ticket had no pnl: the dashboard's total missed what the report counted)
            assert r.pnl is not None and r.pnl.realised < 0, r.pnl
            assert s.stats.realised == {"USDT": (r.pnl.realised, r.pnl.notional_decimals)}
            assert s.risk.realised == {"USDT": Decimal(r.pnl.realised).scaleb(-r.pnl.notional_decimals)}
            check_consistency(s)  # includes: nothing left reserved

    uvloop.run(main())


def test_residual_dust_is_netted_and_swept_once_a_venue_takes_it(tmp_path: Path) -> None:
    """Residuals below a venue's minimum pile up across tickets; the sweeper nets them per
    instrument (opposite dust cancels without an order) and sells/buys the net when it is large
    enough, journaling an outcome for every ticket it absorbs."""
    from arbcore.execution.orders import Side
    from arbcore.execution.residuals import net_residuals, sweep

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None and s.journal is not None
            await live_crossing_plan(s, "okx", "kraken")
            tickets = []
            for venue, qty in (("okx", 7_000), ("kraken", 3_000)):  # real inventory to sell back
                ask = s.view.best_price(venue, "BTC/USDT", Side.BUY)
                assert ask is not None
                res = await r.execute_one(s.markets[(venue, "BTC/USDT")], Side.BUY, qty, (ask + 3_000) // 10 * 10)
                assert res.bought == qty
                tickets.append(res.ticket_id)
            a, b = tickets
            # opposite dust nets out: no order
            r.residuals = {a: ("BTC/USDT", 7_000), b: ("BTC/USDT", -7_000)}
            sent = sum(sum(ex.submissions.values()) for ex in s.exchanges.values())
            assert await sweep(r, "BTC/USDT") is None
            assert sum(sum(ex.submissions.values()) for ex in s.exchanges.values()) == sent
            assert not r.residuals
            # below the lot (100): kept, nothing sent
            r.residuals = {a: ("BTC/USDT", 50)}
            assert await sweep(r, "BTC/USDT") is None and r.residuals == {a: ("BTC/USDT", 50)}
            # two dust residuals that together clear the minimum: one sell of the net
            r.residuals = {a: ("BTC/USDT", 7_000), b: ("BTC/USDT", 3_000)}
            assert net_residuals(r) == {"BTC/USDT": 10_000}
            result = await sweep(r, "BTC/USDT")
            assert result is not None and result.sold == 10_000 and result.bought == 0
            assert not r.residuals
            last = {t: st for t, _, st, _ in s.journal.ticket_outcomes()}
            assert last[a] == last[b] == "hedged"
            check_consistency(s)

    uvloop.run(main())


def test_a_residual_no_venue_can_trade_is_dust_tried_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A residual above the lot but below every venue's minimum notional: no hedge can go out
    anywhere and no book move changes that. Said once, no order sent for it, and logged as the
    dust it is (the sweeper nets it): one INFO line, not an ERROR. Before: hedge1-3 and unwind1-3
    each logged "cannot be sent" (6 WARNINGs a ticket in a default run) and the residual was an
    ERROR, its test being the lot and minimum quantity alone; then two WARNINGs a ticket (19 dust
    tickets in a 30 s default run: 38 WARNINGs for a routine, tracked, swept residual)."""
    from dataclasses import replace

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None
            for key, m in list(s.markets.items()):  # 60 USDT minimum (the simulators ask 5)
                s.markets[key] = replace(m, rules=replace(m.rules, min_notional=60 * 10**8))
            plan = await live_crossing_plan(s, "okx", "kraken")
            plan = replace(plan, buy=s.markets[("okx", "BTC/USDT")], sell=s.markets[("kraken", "BTC/USDT")],
                           qty=2_000)  # fmt: skip  # 0.002 BTC, ~100 USDT a leg
            s.exchanges["kraken"].inject(OrderFault.PARTIAL_FILL, seconds=0.2)
            sent = sum(sum(ex.submissions.values()) for ex in s.exchanges.values())
            with caplog.at_level(logging.INFO, logger="arbcore.ticket"):
                result = await r.execute(plan)
            assert (result.bought, result.sold, result.residual, result.status) == (2_000, 1_000, 1_000, "residual")
            assert sum(sum(ex.submissions.values()) for ex in s.exchanges.values()) == sent + 2  # the legs alone
            lines = [(rec.levelname, rec.getMessage()) for rec in caplog.records if rec.name == "arbcore.ticket"]
            assert not [m for _, m in lines if "cannot be sent" in m]
            assert ("INFO", f"ticket {result.ticket_id} left a residual of 0.001 BTC after hedge and unwind: dust "
                    "below every venue's lot, minimum quantity or notional, swept once netted") in lines  # fmt: skip
            assert not [m for lvl, m in lines if lvl in ("WARNING", "ERROR")]
            check_consistency(s)

    uvloop.run(main())


def test_base_paid_as_fees_is_tracked_and_swept(tmp_path: Path) -> None:
    """OKX takes a buy's fee from the BTC it delivers: a filled, flat ticket buying there leaves
    the account short by that fee. The runner tracks it per instrument (equal to the journal's
    position for the ticket, i.e. the report's residual exposure) and the sweeper buys it back
    once it clears a venue's minimum; the sweep's own fee is all that is left."""
    from arbcore.execution.amounts import Rounding, rescale
    from arbcore.execution.residuals import net_residuals, sweep

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None and s.journal is not None
            res = await r.execute(await live_crossing_plan(s, "okx", "kraken"))
            assert res.status == "done" and res.residual == 0, res
            okx = s.exchanges["okx"]
            sim = okx.find(s.credentials["okx"].api_key, "BTC-USDT", client_id=res.orders[0].cid)
            assert sim is not None and sim.fees.get("BTC", 0) > 0, sim  # okx: a buy's fee in base
            fees = [e.fill for e in s.journal.events(sim.client_id) if e.fill and e.fill.fee_asset == "BTC"]
            paid = sum(rescale(f.fee, f.fee_decimals, 18, Rounding.EXACT) for f in fees)  # finer than a lot
            assert paid == rescale(sim.fees["BTC"], okx.assets["BTC"], 18, Rounding.EXACT)
            qd = s.markets[("okx", "BTC/USDT")].qty_decimals
            drift = r.fee_drift()["BTC/USDT"]
            assert drift == -(paid // 10 ** (18 - qd)) < 0
            assert net_residuals(r) == {"BTC/USDT": drift}
            # the position the risk limits, the dashboard and arbcore_net_exposure read is the
            # account's, net of that fee (it was the fills' alone: flat, where the report said short)
            assert s.risk.net_position("BTC") == -Decimal(paid).scaleb(-18)
            # below the minimum: kept, nothing sent
            assert await sweep(r, "BTC/USDT") is None and r.fee_drift() == {"BTC/USDT": drift}
            # what a day of tickets adds up to: bought back in one IOC
            r.add_fee_drift("BTC/USDT", qd, -(10_000 + drift) * 10 ** (18 - qd))
            assert r.fee_drift() == {"BTC/USDT": -10_000}
            result = await sweep(r, "BTC/USDT")
            assert result is not None and result.bought == 10_000 and result.sold == 0
            assert -100 < r.fee_drift().get("BTC/USDT", 0) <= 0  # the sweep's own fee, if it bought on okx
            assert not r.residuals
            check_consistency(s)

    uvloop.run(main())


def test_a_leg_whose_price_is_gone_is_unwound_at_once(tmp_path: Path) -> None:
    """The sell leg missed because its price was gone (its IOC met a book below its limit) and no
    venue is within the hedge's bound (that price less the loss budget), while the buy venue
    still takes the excess back within the unwind's. The hedge waited out its whole timeout (a
    30 s threshold run: 0.083 ETH long for 5 s, hedge lag p99 3.3 s) before unwinding; now it
    unwinds at once."""
    from dataclasses import replace

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None
            plan = await live_crossing_plan(s, "okx", "kraken")
            # the sell's limit 1% over the book: it fills nothing, and no bid is within 0.2% of it
            plan = replace(plan, sell_limit=plan.sell_limit * 101 // 100 // 10 * 10)
            result = await r.execute(plan)
            assert (result.bought, result.sold, result.residual) == (plan.qty, 0, 0), result
            assert result.status == "unwound"
            legs = [o.intent.leg_id for o in result.orders]
            assert "unwind1" in legs and not [x for x in legs if x.startswith("hedge")], legs
            assert result.hedge_lag_ns < 1_000_000_000, result.hedge_lag_ns  # was the 2 s hedge timeout
            check_consistency(s)

    uvloop.run(main())


def test_a_hedge_venue_waiting_for_rate_limit_room_is_waited_for_not_unwound(tmp_path: Path) -> None:
    """The sell leg was refused for the venue's rate limit (OKX: no order for 1 s) while its bid
    stayed within the hedge's bound, and no other venue was: the early unwind (meant for a price
    that is gone) sold the excess back on the buy venue at once, giving up the spread, where the
    hedge had room again well within its timeout. Now the hedge waits for that room."""
    import time
    from dataclasses import replace

    from arbcore.execution.orders import Side
    from arbcore.sim.server import Fault

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None
            end = time.monotonic() + 30
            while True:  # both books frozen (the venues silent) with okx's bid 3+ ticks over kraken's
                for sim in s.sim_venues.values():
                    sim.inject(Fault.STALL, seconds=5)
                await asyncio.sleep(0.15)
                plan = await live_crossing_plan(s, "kraken", "okx")
                bids = {v: s.view.best_price(v, "BTC/USDT", Side.SELL) or 0 for v in ("okx", "kraken")}
                if bids["okx"] - bids["kraken"] >= 30:
                    break
                assert time.monotonic() < end, "okx's bid never 3 ticks over kraken's"
                for sim in s.sim_venues.values():
                    sim.stalled_until = 0.0
                await asyncio.sleep(0.1)
            # the sell's limit such that its hedge bound is under okx's bid and over kraken's
            sell_limit = bids["okx"] // 10 * 10
            while r._worst(sell_limit, Side.SELL, plan.qty, plan.buy) < bids["okx"] - 10:
                sell_limit += 10
            worst = r._worst(sell_limit, Side.SELL, plan.qty, plan.buy)
            assert bids["kraken"] < worst <= bids["okx"], (bids, worst)
            # and kraken takes the excess back within the unwind's bound: the early unwind was open
            assert r._worst(plan.buy_limit, Side.SELL, plan.qty, plan.buy) <= bids["kraken"]
            s.exchanges["okx"].inject(OrderFault.RATE_LIMIT)  # the sell leg: refused, okx blocked 1 s
            result = await r.execute(replace(plan, sell_limit=sell_limit))
            legs = [(o.intent.leg_id, o.intent.venue) for o in result.orders]
            assert legs[:3] == [("buy", "kraken"), ("sell", "okx"), ("hedge1", "okx")], (legs, result)
            assert result.residual == 0, result
            for sim in s.sim_venues.values():
                sim.stalled_until = 0.0
            check_consistency(s)

    uvloop.run(main())


def test_no_unwind_goes_to_a_venue_without_rate_room(tmp_path: Path) -> None:
    """An unwind on a venue its client's rate limits hold back is a sure reject: a default run's
    ticket sent unwind1-3 to a rate-limited binance within 2 ms (each REJECTED locally, "rate
    limited, retry after 2.1 s"), then logged an ERROR residual. The unwind waits for room like a
    hedge does, and the early unwind does not pick such a venue."""
    import time
    from dataclasses import replace

    from arbcore.execution.ticket import TicketResult

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None and s.journal is not None
            plan = await live_crossing_plan(s, "okx", "kraken")
            plan = replace(plan, sell_limit=plan.sell_limit * 101 // 100 // 10 * 10)  # no hedge within bound
            s.clients["okx"].limiter.penalise(10.0)  # okx, where a long residual unwinds, has no room
            assert not r._unwind_open(plan, plan.qty)
            t0 = time.monotonic()
            left = await r._fix_residual("T-unwind", plan, plan.qty, TicketResult("T-unwind", "done"))
            assert left == plan.qty
            assert time.monotonic() - t0 >= r.params.hedge_timeout  # waited for a hedge, not a sure reject
            assert not s.journal.orders_of(["T-unwind"])  # nothing sent, nothing rejected

    uvloop.run(main())


def test_the_stop_sweeps_until_the_residual_is_flat_or_dust(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """At stop the sweeper ran once per instrument: a sweep whose IOC met a thin book (a partial
    fill) left the rest open at exit (0.0449 of 0.0824 ETH in a 30 s threshold run), reported
    but never tried again. Now it sweeps again while sweeps fill, within the hedge timeout."""
    from arbcore.execution.orders import Side
    from arbcore.execution.residuals import is_dust, net_residuals

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None
            await live_crossing_plan(s, "okx", "kraken")
            ask = s.view.best_price("kraken", "BTC/USDT", Side.BUY)
            assert ask is not None
            got = await r.execute_one(s.markets[("kraken", "BTC/USDT")], Side.BUY, 40_000, (ask + 3_000) // 10 * 10)
            assert got.bought == 40_000  # real inventory for the sweeps to sell
            r.residuals = {got.ticket_id: ("BTC/USDT", 40_000)}
            for ex in s.exchanges.values():  # the next order on each venue fills at most half
                ex.inject(OrderFault.PARTIAL_FILL, count=1)
            with caplog.at_level(logging.INFO):
                await s.stop()
        sweeps = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("residual sweep T")]
        assert len(sweeps) >= 2, sweeps  # the first one's partial fill was tried again
        left = net_residuals(r)
        assert all(is_dust(r, i, q) for i, q in left.items()), (left, sweeps)
        assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING and "residual" in rec.getMessage()]

    uvloop.run(main())


def test_the_stop_sweeps_every_instrument_once_whatever_the_first_took(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The stop's sweeps share one deadline (the hedge timeout): once the first instrument's
    sweeps had used it up, the next instrument was not swept at all (before, each had one sweep),
    and the stop left its whole residual open. Every instrument gets its first sweep."""
    from arbcore.execution.orders import Side
    from arbcore.runner.config import parse_toml
    from arbcore.runner.plugins import load_strategy
    from arbcore.runner.session import TradingSession

    async def main() -> None:
        text = (Path(__file__).resolve().parent.parent / "examples" / "default.toml").read_text()
        edits = [
            ("hedge_timeout_ms = 5000", "hedge_timeout_ms = 1"),
            ('min_edge_bps = "2"', 'min_edge_bps = "100000"'),  # (the strategy's: no ticket of its own)
            ('kill_file = "arbcore.kill"', ""),
        ]
        for old, new in edits:
            assert old in text
            text = text.replace(old, new, 1)
        config = parse_toml(text)
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        await s.start()
        try:
            end = asyncio.get_running_loop().time() + 10
            while not all(s.view.book_status(v, i.name)[0] for v in config.venues for i in config.instruments):
                assert asyncio.get_running_loop().time() < end, "books never all LIVE"
                await asyncio.sleep(0.02)
            r = s.runner
            assert r is not None
            residuals = {}
            # up to 0.01 BTC and 0.1 ETH long, bought for real: each a residual a sweep can sell
            for inst, venue, qty, tick in (("BTC/USDT", "kraken", 1_000_000, 10), ("ETH/USDT", "okx", 100_000, 1)):
                ask = s.view.best_price(venue, inst, Side.BUY)
                assert ask is not None
                got = await r.execute_one(s.markets[(venue, inst)], Side.BUY, qty, ask * 101 // 100 // tick * tick)
                assert got.bought, got  # (all of it or what the book had within 1%)
                residuals[got.ticket_id] = (inst, got.bought)
            r.residuals = residuals
            with caplog.at_level(logging.INFO):
                await s.stop()
        finally:
            await s.stop()  # (once: a stopped session's stop returns)
        sweeps = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("residual sweep T")]
        assert any(" on BTC/USDT: " in m for m in sweeps) and any(" on ETH/USDT: " in m for m in sweeps), sweeps

    uvloop.run(main())


def test_a_venue_resyncing_at_stop_does_not_make_dust_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A venue whose book is empty at stop (resyncing after a gap, reconnecting) was judged by
    its lot and minimum quantity alone: a residual below every minimum notional at the other
    venues' prices, one lot on that venue, was logged as a WARNING residual (a fault rehearsal
    in CI stopped just after Binance's feed dropped: 0.00007 BTC, 4 USDT, read as exposure). The
    other venues' touch stands in for its price."""
    from dataclasses import replace

    from arbcore.execution.orders import Side
    from arbcore.execution.residuals import is_dust
    from arbcore.sim.server import Fault

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None
            for key, m in list(s.markets.items()):  # 60 USDT minimum: one lot (0.0001 BTC) is ~5 USDT
                s.markets[key] = replace(m, rules=replace(m.rules, min_notional=60 * 10**8))
            s.sim_venues["okx"].inject(Fault.STALL, seconds=5)  # (nothing refills its book)
            await asyncio.sleep(0.1)
            s.books["BTC/USDT"].clear("okx")
            assert s.view.best_price("okx", "BTC/USDT", Side.SELL) is None
            assert s.view.best_price("kraken", "BTC/USDT", Side.SELL) is not None
            assert is_dust(r, "BTC/USDT", 100) and is_dust(r, "BTC/USDT", -100)
            assert not is_dust(r, "BTC/USDT", 10_000)  # 0.01 BTC, ~500 USDT: a real residual
            r.residuals = {"T-dust": ("BTC/USDT", 100)}
            with caplog.at_level(logging.INFO):
                await s.stop()
        lines = [(rec.levelno, m) for rec in caplog.records if "stopping with a residual" in (m := rec.getMessage())]
        assert [lvl for lvl, _ in lines] == [logging.INFO], lines

    uvloop.run(main())


def test_a_residual_no_venue_has_a_price_for_is_not_dust_at_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At stop with every venue of an instrument gone (its books empty), a residual of a whole
    BTC read as dust ("a venue with no price tells nothing", so no venue said otherwise): the
    exposure left open was one INFO line, where a residual some venue could take is a WARNING."""
    from arbcore.execution.orders import Side
    from arbcore.execution.residuals import is_dust
    from arbcore.sim.server import Fault

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            r = s.runner
            assert r is not None
            for sim in s.sim_venues.values():  # silent: nothing refills the books emptied below
                sim.inject(Fault.STALL, seconds=5)
            await asyncio.sleep(0.1)
            for v in ("okx", "kraken"):
                s.books["BTC/USDT"].clear(v)
                assert s.view.best_price(v, "BTC/USDT", Side.SELL) is None
            assert is_dust(r, "BTC/USDT", 50)  # below every lot (100): dust at any price
            assert not is_dust(r, "BTC/USDT", 1_000_000)  # 1 BTC: no price says it is
            r.residuals = {"T-open": ("BTC/USDT", 1_000_000)}
            with caplog.at_level(logging.INFO):
                await s.stop()
        lines = [(rec.levelno, m) for rec in caplog.records if "stopping with a residual" in (m := rec.getMessage())]
        assert [lvl for lvl, _ in lines] == [logging.WARNING] and "BTC/USDT 1" in lines[0][1], lines

    uvloop.run(main())


def test_fee_drift_survives_a_restart(tmp_path: Path) -> None:
    """The base a ticket paid as fees is journaled with its outcome (``base_fees``) and what a
    netting absorbed with the row that did it (``fee_drift_absorbed``): a restart finds the drift
    the previous process had, before and after the netting."""
    from arbcore.execution.residuals import sweep

    journal = tmp_path / "j.sqlite"

    async def first() -> tuple[str, int]:
        async with session(["okx", "kraken"], journal) as s:
            assert s.runner is not None
            res = await s.runner.execute(await live_crossing_plan(s, "okx", "kraken"))
            assert res.status == "done" and res.residual == 0, res
            drift = s.runner.fee_drift()["BTC/USDT"]
            assert drift < 0  # okx took the buy's fee in BTC (below any minimum: stop() leaves it)
            return res.ticket_id, drift

    async def second(ticket: str, drift: int) -> None:
        async with session(["okx", "kraken"], journal) as s:
            r = s.runner
            assert r is not None and s.journal is not None
            assert r.fee_drift() == {"BTC/USDT": drift}
            # a residual of the opposite size (journaled as the runner journals one) nets it: no order
            s.journal.write_ticket_outcome(ticket, "residual", {"residual": str(-drift)})
            r.residuals[ticket] = ("BTC/USDT", -drift)
            sent = sum(sum(ex.submissions.values()) for ex in s.exchanges.values())
            assert await sweep(r, "BTC/USDT") is None
            assert sum(sum(ex.submissions.values()) for ex in s.exchanges.values()) == sent
            assert r.fee_drift() == {} and not r.residuals
            status, detail = s.journal.ticket_outcomes(ticket)[-1][2:]
            assert status == "netted" and detail["fee_drift_absorbed"] == str(drift)

    async def third() -> None:
        async with session(["okx", "kraken"], journal) as s:
            assert s.runner is not None
            assert s.runner.fee_drift() == {} and not s.runner.residuals

    ticket, drift = uvloop.run(first())
    uvloop.run(second(ticket, drift))
    uvloop.run(third())


def test_residual_of_an_interrupted_ticket_is_found_at_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ticket that ended (legs filled unequally) without its hedge or outcome (the process
    died) is found at the next start from its journaled fills, reported, and handed to the sweeper."""
    from arbcore.execution.ticket import TicketRunner

    journal = tmp_path / "j.sqlite"

    async def first() -> str:
        async with session(["okx", "kraken"], journal) as s:
            assert s.runner is not None

            async def no_hedge(self: TicketRunner, *a: object) -> int:
                return int(a[2])  # type: ignore[call-overload]  # the residual, untouched

            monkeypatch.setattr(TicketRunner, "_fix_residual", no_hedge)
            monkeypatch.setattr(TicketRunner, "_record_outcome", lambda *a: None)  # died before this
            s.exchanges["kraken"].inject(OrderFault.REJECT, seconds=0.2)
            r = await s.runner.execute(await live_crossing_plan(s, "okx", "kraken"))
            assert r.bought == 10_000 and r.sold == 0
            monkeypatch.undo()
            s.runner.residuals.clear()  # died: what it knew in memory is gone (the stop would sweep it)
            return r.ticket_id

    async def second(ticket_id: str) -> None:
        from arbcore.runner.plugins import load_strategy
        from arbcore.runner.session import TradingSession
        from engine_helpers import make_config

        config = make_config(["okx", "kraken"])
        s = TradingSession(config, load_strategy(None, config), journal_path=journal)
        notes = await s.start()
        try:
            assert any(ticket_id in n and "residual of 0.01" in n for n in notes), notes
            assert s.journal is not None and s.runner is not None
            found = [(st, d) for t, _, st, d in s.journal.ticket_outcomes(ticket_id) if d.get("found_at_restart")]
            assert [st for st, _ in found] == ["residual"]
            # okx took the buy's fee in BTC: found from the journaled fills, in the drift to sweep
            paid = s.journal.ticket_base_fees(ticket_id, 18)
            assert paid > 0 and found[0][1]["base_fees"] == str(paid)
            qd = s.markets[("okx", "BTC/USDT")].qty_decimals
            assert s.runner.fee_drift() == {"BTC/USDT": -(paid // 10 ** (18 - qd))}
        finally:
            await s.stop()

    ticket = uvloop.run(first())
    uvloop.run(second(ticket))


class _DiedError(Exception):
    """The process dying at a chosen moment (what it knew in memory is dropped after it)."""


@pytest.mark.parametrize("moment", ["before_its_outcome", "before_absorbing"])
def test_an_interrupted_sweep_is_finished_at_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     moment: str) -> None:  # fmt: skip
    """The process dies after a residual sweep's order filled, before the sweep's outcome or
    before the tickets it swept were marked: the next start applies the sweep's fill to them (a
    residual restored as if unswept would be swept a second time) and takes the fee drift it
    netted out; a third start finds the same state."""
    from arbcore.execution import residuals
    from arbcore.execution.ticket import TicketRunner

    journal = tmp_path / "j.sqlite"

    async def first() -> str:
        async with session(["okx", "kraken"], journal) as s:
            r, j = s.runner, s.journal
            assert r is not None and j is not None

            async def no_hedge(self: TicketRunner, *a: object) -> int:
                return int(a[2])  # type: ignore[call-overload]  # the residual, left to the sweeper

            with monkeypatch.context() as m:
                m.setattr(TicketRunner, "_fix_residual", no_hedge)
                s.exchanges["kraken"].inject(OrderFault.REJECT, seconds=0.2)
                res = await r.execute(await live_crossing_plan(s, "okx", "kraken"))
            assert res.bought == 10_000 and res.sold == 0 and r.residuals == {res.ticket_id: ("BTC/USDT", 10_000)}
            assert r.fee_drift()["BTC/USDT"] < 0  # okx took the buy's fee in BTC
            with monkeypatch.context() as m:
                if moment == "before_absorbing":
                    m.setattr(residuals, "_settle", lambda *a, **k: (_ for _ in ()).throw(_DiedError()))
                else:
                    write = j.write_ticket_outcome

                    def dies(ticket_id: str, status: str, detail: dict[str, Any]) -> None:
                        if detail.get("one_legged"):
                            raise _DiedError
                        write(ticket_id, status, detail)

                    m.setattr(j, "write_ticket_outcome", dies)
                with pytest.raises(_DiedError):
                    await residuals.sweep(r, "BTC/USDT")
            r.residuals.clear()  # died: what it knew in memory is gone (the stop would sweep it)
            return res.ticket_id

    def expected(s: Any) -> tuple[str, int]:
        """The sweep ticket and what it left: its journaled net plus its fill."""
        (sw,) = [t for t in s.journal.tickets() if "sweep_of" in t.detail]
        done = sum(o.filled_qty if o.intent.side.value == "buy" else -o.filled_qty for o in s.journal.orders()
                   if o.intent.ticket_id == sw.ticket_id)  # fmt: skip
        assert done < 0  # the sweep sold the residual, less the fee drift, in whole lots
        return sw.ticket_id, int(sw.detail["sweep_net"]) + done

    async def second(ticket: str) -> None:
        async with session(["okx", "kraken"], journal) as s:
            r, j = s.runner, s.journal
            assert r is not None and j is not None
            sweep_id, left = expected(s)
            assert 0 <= left < 100  # below okx's lot: what the sweep could not sell
            assert r.residuals == ({sweep_id: ("BTC/USDT", left)} if left else {})
            assert r.fee_drift() == {}  # netted by the sweep (its own sell paid its fee in USDT)
            status, detail = j.ticket_outcomes(ticket)[-1][2:]
            assert status == "hedged" and detail["by"] == sweep_id
            status, detail = j.ticket_outcomes(sweep_id)[-1][2:]
            assert detail["sweep"] is True and detail["found_at_restart"] is True
            assert sum(sum(ex.submissions.values()) for ex in s.exchanges.values()) == 0

    async def third() -> None:
        async with session(["okx", "kraken"], journal) as s:
            assert s.runner is not None
            sweep_id, left = expected(s)
            assert s.runner.residuals == ({sweep_id: ("BTC/USDT", left)} if left else {})
            assert s.runner.fee_drift() == {}

    ticket = uvloop.run(first())
    uvloop.run(second(ticket))
    uvloop.run(third())


def test_a_sweep_whose_remainder_a_later_sweep_took_is_not_finished_again(tmp_path: Path) -> None:
    """A sweep leaves what it could not sell (below a lot); the next sweep takes that remainder
    in, so the first sweep's last outcome is the second's, not its own. A restart must see the
    first as finished: not "interrupted", its remainder not restored (it would be swept twice),
    the fee drift it netted counted once; and the same again at the restart after."""
    from arbcore.execution.orders import Side
    from arbcore.execution.residuals import sweep

    journal = tmp_path / "j.sqlite"

    async def first() -> tuple[dict[str, tuple[str, int]], dict[str, int]]:
        async with session(["okx", "kraken"], journal) as s:
            r = s.runner
            assert r is not None and s.journal is not None
            await live_crossing_plan(s, "okx", "kraken")
            bought = []
            for qty in (7_100, 3_000):  # real inventory for the sweeps to sell
                ask = s.view.best_price("kraken", "BTC/USDT", Side.BUY)
                assert ask is not None
                got = await r.execute_one(s.markets[("kraken", "BTC/USDT")], Side.BUY, qty, (ask + 3_000) // 10 * 10)
                assert got.bought == qty
                bought.append(got.ticket_id)
            kept = r.fee_drift()
            r.residuals = {bought[0]: ("BTC/USDT", 7_050)}  # 7,000 sold, 50 left (the lot is 100)
            first_sweep = await sweep(r, "BTC/USDT")
            assert first_sweep is not None and first_sweep.sold == 7_000
            assert r.residuals == {first_sweep.ticket_id: ("BTC/USDT", 50)}
            # its result says what its journaled outcome says (the dashboard showed DONE where the
            # journal and the report said residual)
            assert (first_sweep.status, first_sweep.residual) == ("residual", 50)
            assert s.journal.ticket_outcomes(first_sweep.ticket_id)[-1][2] == "residual"
            r.residuals[bought[1]] = ("BTC/USDT", 2_950)  # with the 50: 3,000, sold whole
            second_sweep = await sweep(r, "BTC/USDT")
            assert second_sweep is not None and second_sweep.sold == 3_000 and not r.residuals
            status, detail = s.journal.ticket_outcomes(first_sweep.ticket_id)[-1][2:]
            assert status == "hedged" and detail["by"] == second_sweep.ticket_id  # the later sweep's
            assert r.fee_drift() == kept
            return dict(r.residuals), r.fee_drift()

    async def restart(residuals: dict[str, tuple[str, int]], drift: dict[str, int]) -> None:
        from arbcore.runner.plugins import load_strategy
        from arbcore.runner.session import TradingSession
        from engine_helpers import make_config

        config = make_config(["okx", "kraken"])
        s = TradingSession(config, load_strategy(None, config), journal_path=journal)
        notes = await s.start()
        try:
            assert not [n for n in notes if "sweep" in n], notes
            assert s.runner is not None
            assert s.runner.residuals == residuals
            assert s.runner.fee_drift() == drift
        finally:
            await s.stop()

    residuals, drift = uvloop.run(first())
    uvloop.run(restart(residuals, drift))
    uvloop.run(restart(residuals, drift))


def test_a_residual_of_an_instrument_no_longer_configured_is_a_warning_at_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A journal's residual in an instrument the config no longer has (a desk dropped ETH/USDT
    and restarted): no venue can trade it, so it is open exposure, not dust; the stop's line
    crashed formatting it (no quantity decimals to read)."""

    async def main() -> None:
        async with session(["okx", "kraken"], tmp_path / "j.sqlite") as s:
            assert s.runner is not None
            s.runner.residuals = {"T-gone": ("ETH/USDT", 123_456)}
            await asyncio.sleep(0.5)  # timer ticks: the sweeper meets it too
            with caplog.at_level(logging.INFO):
                await s.stop()
        lines = [(rec.levelno, m) for rec in caplog.records if "stopping with a residual" in (m := rec.getMessage())]
        assert [lvl for lvl, _ in lines] == [logging.WARNING], lines
        assert "ETH/USDT 123456 (raw: not in the config)" in lines[0][1], lines

    uvloop.run(main())
