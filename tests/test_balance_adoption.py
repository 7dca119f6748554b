"""``[execution] adopt_balances``: when the venues' balances replace the ledger's totals.

The journal's ledger cannot know of what happened at a venue outside the engine: a deposit, a
withdrawal, a trade by hand, between two runs or during one. Such a difference is always reported
with its numbers; "start" (the default) then takes the venue's totals at start, after recovery,
"settled" also while running once two reconciliations in a row found the very same difference on
a quiet venue, "never" only reports. A venue total below what is reserved on it is never adopted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import uvloop

from arbcore.execution import Journal
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.sim.exchange import OrderFault
from engine_helpers import check_consistency, live_crossing_plan, make_config, session

VENUES = ["binance_spot", "okx"]
SETTLED = 'adopt_balances = "settled"\n'


def venue_totals(s: TradingSession) -> dict[tuple[str, str], int]:
    """Each simulated account's balances, as the ledger keys them."""
    out = {}
    for name, ex in s.exchanges.items():
        for asset, total in ex.accounts[s.credentials[name].api_key].balances.items():
            out[(name, asset)] = total
    return out


def ledger_totals(s: TradingSession) -> dict[tuple[str, str], int]:
    assert s.executor is not None
    return {k: b.total for k, b in s.executor.ledger.balances().items()}


@pytest.mark.parametrize("policy", ["start", "never"])
def test_a_restart_on_venues_that_moved_reports_and_adopts_at_start(policy: str, tmp_path: Path) -> None:
    """A run trades; the next run's simulators start from the configured balances again, as
    venues would after deposits and withdrawals made between the runs."""

    async def main() -> None:
        journal = tmp_path / "j.sqlite"
        async with session(VENUES, journal) as s:
            assert s.runner is not None
            res = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))
            assert res.bought > 0 and res.sold > 0, res
            check_consistency(s)
            traded = ledger_totals(s)
        config = make_config(VENUES, execution=f'adopt_balances = "{policy}"\n')
        s = TradingSession(config, load_strategy(None, config), journal_path=journal)
        notes = await s.start()
        try:
            differ = sorted(n for n in notes if "balances differ" in n)
            assert [n.split(":")[0] for n in differ] == VENUES, notes
            usdt = s.executor.ledger.asset("USDT") if s.executor else None
            assert usdt is not None
            # the numbers, in decimals: what the journal had, what the venue has
            was = usdt.format(traded[("binance_spot", "USDT")])
            assert f"USDT ledger {was} venue 500000" in differ[0], differ[0]
            if policy == "start":
                assert all("the venue's adopted" in n for n in differ), differ
                assert ledger_totals(s) == venue_totals(s)
            else:
                assert not any("adopted" in n for n in differ), differ
                assert ledger_totals(s) == traded
        finally:
            await s.stop()

    uvloop.run(main())


def test_settled_adopts_a_difference_only_when_seen_twice(tmp_path: Path) -> None:
    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite", execution=SETTLED) as s:
            assert s.executor is not None
            s.reconcile_every = 1e9  # only this test's calls reconcile
            ex, key = s.executor, s.credentials["binance_spot"].api_key
            s.exchanges["binance_spot"].inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=-(10**11))
            first = await ex.reconcile_balances(settled=True)
            assert {d.asset.name: d.diff for d in first["binance_spot"].mismatches} == {"USDT": -(10**11)}
            assert not first["binance_spot"].adopted
            assert ledger_totals(s) != venue_totals(s)
            second = await ex.reconcile_balances(settled=True)
            assert second["binance_spot"].adopted and not second["okx"].adopted
            assert ledger_totals(s) == venue_totals(s)
            third = await ex.reconcile_balances(settled=True)
            assert all(r.ok and not r.adopted for r in third.values())
            # the order path's copy of the funds follows the ledger (its watch): a ticket still
            # goes through, and everything matches the venues afterwards
            res = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))  # type: ignore[union-attr]
            assert res.bought > 0 and res.sold > 0, res
            check_consistency(s)

    uvloop.run(main())


def test_settled_never_adopts_a_difference_that_moved(tmp_path: Path) -> None:
    """A difference that is not the same twice (the venue moved again in between, as while a
    fill is on its way) is reported each time, never adopted."""

    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite", execution=SETTLED) as s:
            assert s.executor is not None
            s.reconcile_every = 1e9
            ex, key, sim = s.executor, s.credentials["okx"].api_key, s.exchanges["okx"]
            for _ in range(3):
                sim.inject(OrderFault.BALANCE_CHANGE, account=key, asset="BTC", delta=10**6)
                recs = await ex.reconcile_balances(settled=True)
                assert not recs["okx"].ok and not recs["okx"].adopted
            assert {d.asset.name: d.diff for d in recs["okx"].mismatches} == {"BTC": 3 * 10**6}

    uvloop.run(main())


def test_a_venue_total_below_a_reservation_is_never_adopted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite", execution=SETTLED) as s:
            assert s.executor is not None
            s.reconcile_every = 1e9
            ex, ledger = s.executor, s.executor.ledger
            usdt = ledger.asset("USDT")
            ledger.reserve("T-held", "buy", "binance_spot", usdt, 400_000 * 10**8)
            key, sim = s.credentials["binance_spot"].api_key, s.exchanges["binance_spot"]
            sim.inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=-200_000 * 10**8)
            with caplog.at_level(logging.WARNING, logger="arbcore.engine"):
                for _ in range(2):
                    recs = await ex.reconcile_balances(settled=True)
                    assert not recs["binance_spot"].adopted
            assert ledger.balance("binance_spot", usdt).total == 500_000 * 10**8
            assert any("not adopted" in r.getMessage() for r in caplog.records), caplog.text
            ledger.release_remaining("T-held", "buy", "held:final", "canceled")

    uvloop.run(main())


def test_the_running_session_adopts_an_outside_deposit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The session's own periodic reconciliation, with ``adopt_balances = "settled"``: a deposit
    is reported once, then adopted, and the books' funds caps follow."""

    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite", execution=SETTLED) as s:
            s.reconcile_every = 0.2
            key = s.credentials["okx"].api_key
            with caplog.at_level(logging.WARNING, logger="arbcore.engine"):
                s.exchanges["okx"].inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=10**12)
                end = time.monotonic() + 10
                while ledger_totals(s) != venue_totals(s):
                    assert time.monotonic() < end, (ledger_totals(s), venue_totals(s))
                    await asyncio.sleep(0.05)
            said = [r.getMessage() for r in caplog.records if "okx balances differ" in r.getMessage()]
            assert said[0] == "okx balances differ from the ledger: USDT ledger 500000 venue 510000", said
            assert said[-1].startswith("okx balances differ from the ledger, the venue's adopted: USDT"), said

    uvloop.run(main())


def test_dust_left_to_sweep_does_not_starve_the_reconciliation(tmp_path: Path) -> None:
    """A residual below every venue's minimum stays open for as long as trading leaves it so, and
    the timer's sweeper starts a task for it on every tick: the reconciliation, which waited for
    no task at all, never ran (a 40 s rehearsal with deposits and withdrawals outside the engine
    adopted none, and journaled no venue balances between start and stop)."""

    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite", execution=SETTLED) as s:
            assert s.runner is not None
            s.reconcile_every = 0.2
            s.runner.residuals["T-dust"] = ("BTC/USDT", 1)  # 0.000001 BTC: below every lot
            key = s.credentials["okx"].api_key
            s.exchanges["okx"].inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=10**12)
            end = time.monotonic() + 10
            while ledger_totals(s) != venue_totals(s):
                assert time.monotonic() < end, "the deposit was never adopted"
                await asyncio.sleep(0.05)
            del s.runner.residuals["T-dust"]

    uvloop.run(main())


def test_settled_adopts_an_outside_difference_across_trades(tmp_path: Path) -> None:
    """Trades between the two reconciliations move the ledger and the venue alike; the outside
    difference (venue minus ledger) stays the same and is adopted on the second. It was compared
    with the ledger's and the venue's totals too, so a venue that traded between two
    reconciliations never had an outside change adopted (a rehearsal's withdrawals stayed in the
    ledger for the whole run)."""

    async def main() -> None:
        async with session(VENUES, tmp_path / "j.sqlite", execution=SETTLED) as s:
            assert s.executor is not None and s.runner is not None
            s.reconcile_every = 1e9  # only this test's calls reconcile
            ex, key = s.executor, s.credentials["binance_spot"].api_key
            s.exchanges["binance_spot"].inject(OrderFault.BALANCE_CHANGE, account=key, asset="USDT", delta=-(10**11))
            first = await ex.reconcile_balances(settled=True)
            assert not first["binance_spot"].adopted
            res = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))
            assert res.bought > 0 and res.sold > 0, res
            second = await ex.reconcile_balances(settled=True)
            assert {d.asset.name: d.diff for d in first["binance_spot"].mismatches} == {"USDT": -(10**11)}
            assert second["binance_spot"].adopted, second
            check_consistency(s)

    uvloop.run(main())


def test_the_stop_compares_the_ledger_with_every_venue(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Once nothing is open, the stop asks each venue's balances: one line per venue (equal, or
    the difference as a WARNING) and the venues' figures journaled, so a run's bookkeeping can
    be checked from its log and journal alone (``arbcore run`` in a subprocess)."""

    async def main() -> None:
        caplog.set_level(logging.INFO, logger="arbcore.stop")
        async with session(VENUES, tmp_path / "j.sqlite") as s:
            assert s.runner is not None
            res = await s.runner.execute(await live_crossing_plan(s, "binance_spot", "okx"))
            assert res.bought > 0 and res.sold > 0, res
            traded = venue_totals(s)
        lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "arbcore.stop"]
        assert lines == [
            ("INFO", "balances at stop: binance_spot equal to the ledger"),
            ("INFO", "balances at stop: okx equal to the ledger"),
        ], lines
        with Journal(tmp_path / "j.sqlite") as j:
            last = {(v, a.name): t for _, v, source, a, t, _ in j.balance_snapshots() if source == "venue"}
        assert last == traded

    uvloop.run(main())
