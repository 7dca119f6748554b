"""A rehearsal's faults (``arbcore.runner.rehearsal``), drawn from the seed and injected into real
loopback simulators under a real session and SQLite journal: the same seed gives the same faults;
order faults on tickets are resolved (timeouts by query), nothing is sent twice and the journal,
ledger and simulators agree; feed faults and balance changes come as planned, the books recover,
and the balance check at stop names exactly the changes made outside the engine."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path

import pytest
import uvloop

from arbcore.execution import Journal
from arbcore.execution.ledger import Ledger
from arbcore.execution.orders import EventKind, OrderState
from arbcore.execution.residuals import is_dust, net_residuals
from arbcore.runner.config import Config
from arbcore.runner.config_sim_faults import SimFaults
from arbcore.runner.rehearsal import OrderFaultDraws, TimedFault, timed_faults
from arbcore.runner.session import TradingSession
from engine_helpers import check_consistency, live_crossing_plan, session

SEED = 5  # engine_helpers.config_text's [run] seed
BALANCES = {"USDT": 500_000 * 10**8, "BTC": 5 * 10**8}  # config_text's, at 8 decimals


def first(it: Iterator[TimedFault], n: int) -> list[TimedFault]:
    return list(itertools.islice(it, n))


def test_the_same_seed_draws_the_same_faults() -> None:
    f = SimFaults(reject_pct=3, timeout_pct=2, partial_fill_pct=5, gap_every_s=2, disconnect_every_s=5,
                  balance_change_every_s=4, balance_change_pct=2)  # fmt: skip
    a = first(timed_faults(f, 7, "okx", BALANCES), 40)
    assert a == first(timed_faults(f, 7, "okx", BALANCES), 40)
    assert a != first(timed_faults(f, 8, "okx", BALANCES), 40)
    assert a != first(timed_faults(f, 7, "kraken", BALANCES), 40)  # each venue its own stream
    times = [x.at_s for x in a]
    assert times == sorted(times) and {x.kind for x in a} == {"gap", "disconnect", "balance_change"}
    # about every N s: the gaps between faults of a kind are N/2..3N/2
    gaps = [x.at_s for x in a if x.kind == "gap"]
    assert all(1.0 <= b - c <= 3.0 for b, c in zip(gaps[1:], gaps, strict=False))
    # one stream per kind: turning another kind on or off leaves a kind's draws as they were
    alone = first(timed_faults(SimFaults(gap_every_s=2), 7, "okx", BALANCES), 40)
    assert [x.at_s for x in alone][: len(gaps)] == gaps
    changes = [x for x in a if x.kind == "balance_change"]
    assert all(x.asset in BALANCES and x.delta and abs(x.delta) <= BALANCES[x.asset] * 2 // 100 for x in changes)
    assert {x.delta > 0 for x in changes} == {True, False}  # deposits and withdrawals

    def draws(seed: int) -> list[str | None]:
        d = OrderFaultDraws(f, seed, "okx")
        return [d.next() for _ in range(2000)]

    got = draws(7)
    assert got == draws(7) and got != draws(8)
    counts = Counter(got)
    # the chances as configured (2000 draws: within a few percent of 60, 40, 100)
    assert 40 <= counts["reject"] <= 80 and 25 <= counts["timeout"] <= 60 and 75 <= counts["partial_fill"] <= 125
    assert set(counts) == {None, "reject", "timeout", "partial_fill"}


def rehearsal(
    venues: list[str], faults: dict[str, str], journal: Path, **kw: object
) -> AbstractAsyncContextManager[TradingSession]:
    """A started session on ``venues`` (``engine_helpers.session``) with
    ``[venues.NAME.sim_faults]`` = ``faults[NAME]``, its books LIVE."""
    tables = "".join(f"\n[venues.{v}.sim_faults]\n{t}" for v, t in faults.items())
    return session(venues, journal, tables=tables, **kw)


ORDER_FAULTS = (
    "reject_pct = 12\ntimeout_pct = 12\npartial_fill_pct = 12\nslow_ack_pct = 12\nslow_ack_ms = 200\n"
    "disconnect_pct = 12\nrate_limit_pct = 12\n"
)


@pytest.mark.parametrize("venues", [["okx", "kraken"], ["binance_spot", "okx"]], ids=["python", "rust"])
def test_order_faults_on_tickets(venues: list[str], tmp_path: Path) -> None:
    """Tickets on two venues whose orders meet a fault 72% of the time: every ticket ends flat or
    its residual is swept (its three hedges and three unwinds may all meet faults), the faults
    injected are the seed's draws for the orders placed, every silent timeout was resolved by a
    query (its stream events came 3 s later and changed nothing), no order was sent twice, and the
    journal's fills and the ledger equal the simulators'."""

    async def main() -> None:
        faults = dict.fromkeys(venues, ORDER_FAULTS)
        async with rehearsal(venues, faults, tmp_path / "j.sqlite") as s:
            assert s.runner is not None and s.journal is not None and s.sims is not None
            done, end = 0, time.monotonic() + 60
            while done < 10:
                assert time.monotonic() < end, f"{done} tickets in 60 s"
                buy, sell = venues if done % 2 == 0 else venues[::-1]
                r = await s.runner.execute(await live_crossing_plan(s, buy, sell))
                if r.status == "refused":  # a rate-limit reply holds the venue back a moment
                    await asyncio.sleep(0.1)
                else:
                    done += 1
            # a ticket whose hedges and unwinds all met faults (each order 72%) keeps its residual
            # for the timer's sweeps, which meet the faults too: flat (or dust) within a few ticks
            while any(not is_dust(s.runner, i, q) for i, q in net_residuals(s.runner).items()):
                assert time.monotonic() < end + 10, net_residuals(s.runner)
                await asyncio.sleep(0.1)
            await asyncio.sleep(3.5)  # the silent timeouts' stream events arrive
            check_consistency(s)
            injected: Counter[str] = Counter()
            for venue, plan in s.sims.plans.items():
                replay = OrderFaultDraws(plan.faults, SEED, venue)
                expect = Counter(replay.next() for _ in range(plan.orders.count))
                del expect[None]
                assert plan.injected == expect, (venue, plan.injected, expect)
                assert plan.sent_twice() == 0
                injected += plan.injected
            assert injected["timeout"] and injected["reject"] and injected["partial_fill"], injected
            orders = s.journal.orders()
            events = {o.client_order_id: s.journal.events(o.client_order_id) for o in orders}
            kinds = Counter(e.kind for evs in events.values() for e in evs)
            # a silent timeout: unknown, then the query's answer (the stream came 3 s later)
            queried = [c for c, evs in events.items()
                       if [e.kind for e in evs if e.kind in (EventKind.UNKNOWN, EventKind.QUERY)][:2]
                       == [EventKind.UNKNOWN, EventKind.QUERY]]  # fmt: skip
            assert len(queried) >= injected["timeout"], (kinds, injected)
            assert all(events[c][-1].state_after.value in {"FILLED", "EXPIRED", "CANCELED", "REJECTED"}
                       for c in queried)  # fmt: skip
            reasons = [str(e.detail.get("reason", "")) for evs in events.values() for e in evs
                       if e.kind is EventKind.REJECT]  # fmt: skip
            assert sum("rate limited" in r for r in reasons) >= injected["rate_limit"], reasons
            assert len(reasons) >= injected["reject"] + injected["rate_limit"], reasons
            partial = [o for o in orders if o.state is OrderState.EXPIRED and 0 < o.filled_qty < o.intent.qty]
            assert len(partial) >= injected["partial_fill"], injected

    uvloop.run(main())


TIMED_FAULTS = {
    "okx": "gap_every_s = 0.6\nduplicate_every_s = 0.8\ndisconnect_every_s = 1.5\nbalance_change_every_s = 0.7\n",
    "kraken": "bad_checksum_every_s = 0.7\nmalformed_every_s = 1.1\nstall_every_s = 1.3\nstall_ms = 300\n"
    "disconnect_every_s = 1.7\nslow_snapshot_ms = 100\nbalance_change_every_s = 0.9\nbalance_change_pct = 3\n",
}
#: a timed fault's log line: venue, feed fault, or deposit/withdrawal with amount and asset; planned offset
PLANNED = re.compile(
    r"rehearsal: (\w+) (?:feed (\w+)|(deposit|withdrawal) of ([0-9.]+) (\w+) outside the engine"
    r"(?:, nothing to withdraw)?) \(planned \+([0-9.]+) s\)"
)


def parse_planned(messages: list[str], config: Config) -> tuple[dict[str, list[tuple[str, str]]],
                                                                dict[str, list[tuple[str, int]]]]:  # fmt: skip
    """From the log: per venue, each timed fault as (planned offset text, kind), and each change
    made outside the engine as (asset, delta at the asset's decimals), in order."""
    fired: dict[str, list[tuple[str, str]]] = {v: [] for v in config.venues}
    outside: dict[str, list[tuple[str, int]]] = {v: [] for v in config.venues}
    for m in filter(None, map(PLANNED.match, messages)):
        venue, feed, what, amount, asset, at = m.groups()
        fired[venue].append((at, feed or "balance_change"))
        if what:
            raw = int(Decimal(amount).scaleb(config.assets[asset].decimals))
            outside[venue].append((asset, raw if what == "deposit" else -raw))
    return fired, outside


def differences_at_stop(journal: Path) -> dict[str, dict[str, int]]:
    """Per venue, its balances as the stop's check journaled them minus the ledger the journal
    replays (nonzero only)."""
    with Journal(journal) as j:
        ledger = Ledger.replay(j.ledger_events())
        last = {(v, a.name): t for _, v, source, a, t, _ in j.balance_snapshots() if source == "venue"}
    out: dict[str, dict[str, int]] = {}
    for (venue, asset), total in last.items():
        d = total - ledger.balance(venue, asset).total
        if d:
            out.setdefault(venue, {})[asset] = d
    return out


def unadopted(changes: list[tuple[str, int]]) -> list[dict[str, int]]:
    """What a ledger that last adopted the venue's balances between two of ``changes`` (or before
    the first, or after the last) differs from it by: the net per asset of each tail."""
    out = []
    for k in range(len(changes) + 1):
        net: Counter[str] = Counter()
        for asset, d in changes[k:]:
            net[asset] += d
        out.append({a: d for a, d in net.items() if d})
    return out


def test_feed_faults_and_balance_changes_come_as_planned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Four seconds of feed faults and balance changes, no trading: what the log says was injected
    is the seed's plan in order, the feeds saw it (reconnects, resyncs) and every book is LIVE
    again once the faults stop; the balance check at stop names, per venue, exactly the changes
    made outside the engine since the start adopted the venue's (adopt_balances "start")."""

    async def main() -> None:
        caplog.set_level(logging.INFO)
        async with rehearsal(["okx", "kraken"], TIMED_FAULTS, tmp_path / "j.sqlite") as s:
            assert s.sims is not None
            t0 = time.monotonic()
            await asyncio.sleep(4.0)
            elapsed = time.monotonic() - t0
        counters = {v: f.counters() for v, f in s.feeds.items()}  # (after the stop's wait for LIVE books)
        config = s.config
        messages = [r.getMessage() for r in caplog.records]
        fired, outside = parse_planned(messages, config)
        for venue, got in fired.items():
            v = config.venues[venue]
            assert v.sim_faults is not None
            plan = [(f"{f.at_s:.3f}", f.kind) for f in first(timed_faults(v.sim_faults, SEED, venue, v.balances), 200)]
            assert got == plan[: len(got)], (venue, got, plan[: len(got) + 2])
            assert float(got[-1][0]) >= elapsed - 1.0, "faults stopped early"  # they ran until the stop
            disconnects = sum(1 for _, k in got if k == "disconnect")
            assert disconnects >= 1 and counters[venue]["reconnects"] >= disconnects, (venue, counters[venue])
            assert counters[venue]["resync_requests"] >= 1, counters[venue]
        assert counters["kraken"]["checksum_failed"] >= 1 and counters["kraken"]["decode_errors"] >= 1
        assert counters["okx"]["gaps"] + counters["okx"]["duplicates"] >= 1
        assert "rehearsal: every book LIVE again" in messages, messages[-20:]
        stop_lines = {m.split()[3]: m for m in messages if m.startswith("balances at stop: ")}
        assert set(stop_lines) == {"okx", "kraken"}, stop_lines
        diffs = differences_at_stop(tmp_path / "j.sqlite")
        for venue in ("okx", "kraken"):
            diff = diffs.get(venue, {})
            # no trading, no adoption while running: every change after the start's is in it
            assert diff and diff in unadopted(outside[venue]), (venue, diff, outside[venue])
            line = stop_lines[venue]
            assert line.startswith(f"balances at stop: {venue} differ from the ledger: "), line
            for name, d in diff.items():
                m = re.search(rf"{name} ledger ([0-9.]+) venue ([0-9.]+)", line)
                assert m is not None, (line, diff)
                assert Decimal(m.group(2)) - Decimal(m.group(1)) == Decimal(d).scaleb(-8), (line, diff)
            assert line.count(" ledger ") == len(diff), line

    uvloop.run(main())


def test_a_silent_timeout_outlasts_a_long_leg_timeout(tmp_path: Path) -> None:
    """A silent timeout's stream events came a fixed 3 s late: under a 4 s leg timeout they
    answered the order before the engine ever queried it, and the rehearsal's timeouts rehearsed
    nothing. They now come twice the leg timeout late: the order is unknown, then queried."""

    async def main() -> None:
        faults = {"okx": "timeout_pct = 100\n"}
        async with rehearsal(["okx", "kraken"], faults, tmp_path / "j.sqlite", leg_timeout_ms=4000) as s:
            assert s.runner is not None and s.journal is not None and s.sims is not None
            assert s.sims.plans["okx"].stream_lag_s == 8.0
            r = await s.runner.execute(await live_crossing_plan(s, "okx", "kraken"))
            assert r.status != "refused", r
            okx = [o for o in s.journal.orders() if o.intent.venue == "okx"]
            assert okx, r
            kinds = [e.kind for e in s.journal.events(okx[0].client_order_id)]
            assert [k for k in kinds if k in (EventKind.UNKNOWN, EventKind.QUERY)][:2] == [
                EventKind.UNKNOWN,
                EventKind.QUERY,
            ], kinds

    uvloop.run(main())
