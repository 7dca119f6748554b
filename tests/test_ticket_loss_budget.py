"""The hedge/unwind worst price: the bps bound, tightened by the quote loss budget of the config
(`execution.loss_budget`), exactly and never looser than the budget."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arbcore.execution.amounts import Asset
from arbcore.execution.orders import Side
from arbcore.execution.ticket import Market, TicketParams, TicketRunner
from arbcore.venues.orders.types import InstrumentRules

PD, QD = 2, 6  # BTC/USDT at 0.01 USDT and 0.000001 BTC
MARKET = Market("okx", "BTC-USDT", "BTC/USDT", Asset("BTC", QD), Asset("USDT", PD + QD),
                InstrumentRules("okx", "BTC-USDT", PD, QD, 10, 100, 100))  # fmt: skip


def runner(bps: int, budget: str | None) -> TicketRunner:
    params = TicketParams(loss_budget_bps=bps, loss_budget_quote=None if budget is None else Decimal(budget))
    return TicketRunner(None, {}, None, params)  # type: ignore[arg-type]  # _worst needs only the params


def test_bps_bound_alone() -> None:
    r = runner(20, None)
    assert r._worst(5_000_000, Side.SELL, 10_000, MARKET) == 5_000_000 - 10_000  # 50000.00 - 0.2%
    assert r._worst(5_000_000, Side.BUY, 10_000, MARKET) == 5_000_000 + 10_000


def test_quote_budget_tightens_the_bound() -> None:
    # 0.01 BTC may give up 5 USDT: 500 USDT/BTC, looser than 0.2% of 50000 (100 USDT/BTC): bps wins
    assert runner(20, "5")._worst(5_000_000, Side.SELL, 10_000, MARKET) == 5_000_000 - 10_000
    # 0.01 BTC may give up 0.5 USDT: 50 USDT/BTC = 5000 raw, tighter than the bps bound
    assert runner(20, "0.5")._worst(5_000_000, Side.SELL, 10_000, MARKET) == 5_000_000 - 5_000
    assert runner(20, "0.5")._worst(5_000_000, Side.BUY, 10_000, MARKET) == 5_000_000 + 5_000
    assert runner(20, "0")._worst(5_000_000, Side.BUY, 10_000, MARKET) == 5_000_000


@given(
    expected=st.integers(1, 10**12),
    qty=st.integers(1, 10**10),
    bps=st.integers(0, 500),
    budget=st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
)
def test_never_gives_up_more_than_the_budget(expected: int, qty: int, bps: int, budget: Decimal) -> None:
    r = runner(bps, str(budget))
    for side in (Side.SELL, Side.BUY):
        worst = r._worst(expected, side, qty, MARKET)
        move = expected - worst if side is Side.SELL else worst - expected
        assert 0 <= move <= expected * bps // 10_000
        # the loss at the worst price, in quote units, within the budget
        assert Decimal(move).scaleb(-PD) * Decimal(qty).scaleb(-QD) <= budget
