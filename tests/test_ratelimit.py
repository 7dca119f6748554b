"""Rate limiting: window and bucket arithmetic on a fake clock, 429/418/Retry-After back-off,
usage-header sync, and concurrent acquirers on a real event loop never exceeding a limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from arbcore.venues.ratelimit import (
    RateLimiter,
    RateLimitError,
    ResponsePolicy,
    SlidingWindow,
    TokenBucket,
    binance_from_rate_limits,
    binance_spot,
    binance_usdm,
    bybit,
    coinbase,
    kraken,
    kraken_trade_cost,
    okx,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        # Virtual time: the one sleeper moves the clock; yield so the loop stays fair.
        self.advance(seconds)
        await asyncio.sleep(0)


# == arithmetic ===============================================================================
def test_sliding_window_admits_exactly_the_limit_per_span() -> None:
    w = SlidingWindow(10, 1.0)
    assert w.wait_time(10, 0.0) == 0.0
    w.consume(10, 0.0)
    assert w.wait_time(1, 0.0) == pytest.approx(1.0)
    assert w.wait_time(1, 0.25) == pytest.approx(0.75)
    assert w.wait_time(1, 1.0) == 0.0
    assert w.used == 0.0  # expired


def test_sliding_window_waits_only_as_long_as_needed() -> None:
    w = SlidingWindow(10, 1.0)
    w.consume(3, 0.0)
    w.consume(3, 0.2)
    w.consume(4, 0.4)
    # 5 more need 5 freed: the 3 at 0.0 and the 3 at 0.2 must expire, i.e. at 1.2.
    assert w.wait_time(5, 0.5) == pytest.approx(0.7)
    assert w.wait_time(3, 0.5) == pytest.approx(0.5)
    assert w.wait_time(5, 1.2) == 0.0


def test_sliding_window_merges_close_entries_conservatively() -> None:
    w = SlidingWindow(2, 256.0)  # resolution 1 s
    w.consume(1, 0.0)
    w.consume(1, 0.5)  # merged with the first, stamped 0.5: both free at 256.5, not 256.0
    assert w.wait_time(1, 256.2) == pytest.approx(0.3)
    assert w.wait_time(2, 256.5) == 0.0


def test_token_bucket_is_krakens_decaying_counter() -> None:
    b = TokenBucket(15, 0.33)  # Kraken Starter REST counter
    b.consume(15, 0.0)
    assert b.wait_time(1, 0.0) == pytest.approx(1 / 0.33)
    assert b.wait_time(1, 1 / 0.33) == 0.0
    assert b.wait_time(15, 1000.0) == 0.0  # never more than the capacity
    b.consume(15, 1000.0)
    b.observe_used(0, 1000.0)  # a venue report never adds room
    assert b.tokens == pytest.approx(0.0)


def test_binance_spot_orders_and_weight_windows() -> None:
    clock = FakeClock()
    lim = binance_spot(clock=clock)
    order = {"weight": 1, "orders": 1}
    assert all(lim.try_acquire(order) for _ in range(100))
    assert not lim.try_acquire(order)  # ORDERS 100 per 10 s
    assert lim.try_acquire(5899)  # weight is still there for queries (100 + 5899 = 5999)
    assert not lim.try_acquire(2)
    assert lim.wait_time(order) == pytest.approx(10.0)
    clock.advance(10.0)
    assert lim.try_acquire(order)  # orders free again; weight now exactly 6000
    assert not lim.try_acquire(1)  # ...and the minute is not over
    assert lim.wait_time(1) == pytest.approx(50.0)
    clock.advance(50.0)
    assert lim.try_acquire(order)


def test_resolved_charges_admit_exactly_as_the_cost_does() -> None:
    """`charges` (what the order clients keep per request kind) behaves as the cost it came from
    in `try_acquire`, `wait_time` and `acquire`, penalties included; a bad cost fails when resolved."""
    clock = FakeClock()
    by_cost, by_charges = binance_spot(clock=clock), binance_spot(clock=clock)
    order = {"weight": 1, "orders": 1}
    charges = by_charges.charges(order)
    assert [(type(limit).__name__, amount) for limit, amount in charges] == [("SlidingWindow", 1.0)] * 3
    for _ in range(101):
        assert by_cost.try_acquire(order) == by_charges.try_acquire(charges)
    assert by_cost.wait_time(order) == by_charges.wait_time(charges) == pytest.approx(10.0)
    clock.advance(10.0)
    by_cost.penalise(3.0)
    by_charges.penalise(3.0)
    assert not by_charges.try_acquire(charges)
    assert by_cost.wait_time(order) == by_charges.wait_time(charges) == pytest.approx(3.0)
    clock.advance(3.0)
    assert asyncio.run(by_charges.acquire(charges)) == 0.0
    assert by_charges.limits["ORDERS_10S"].wait_time(100, clock()) > 0  # it was spent
    fam = okx(clock=clock)
    btc = fam.charges({"order:BTC-USDT": 1, "subaccount": 1})
    assert "order:BTC-USDT" in fam.limits  # the family's limit is made when resolved
    assert all(fam.try_acquire(btc) for _ in range(60)) and not fam.try_acquire(btc)
    with pytest.raises(RateLimitError, match="exceeds"):
        by_cost.charges({"orders": 101})


def test_binance_from_exchange_info_names_and_groups() -> None:
    lim = binance_from_rate_limits(
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ]
    )
    assert sorted(lim.limits) == ["ORDERS_10S", "ORDERS_1D", "REQUEST_WEIGHT_1M"]
    assert lim.groups == {"weight": ("REQUEST_WEIGHT_1M",), "orders": ("ORDERS_10S", "ORDERS_1D")}
    assert sorted(binance_usdm().limits) == ["ORDERS_10S", "ORDERS_1M", "REQUEST_WEIGHT_1M"]


def test_costs_are_summed_per_limit_and_impossible_costs_refused() -> None:
    lim = binance_spot(clock=FakeClock())
    with pytest.raises(RateLimitError, match="exceeds the ORDERS_10S limit"):
        lim.try_acquire({"orders": 60, "ORDERS_10S": 41})
    with pytest.raises(RateLimitError, match="exceeds"):
        lim.try_acquire(6001)
    with pytest.raises(RateLimitError, match="negative"):
        lim.try_acquire(-1)
    with pytest.raises(RateLimitError, match="'nope'"):
        lim.try_acquire({"nope": 1})
    with pytest.raises(RateLimitError, match="no default"):
        okx().try_acquire(1)


def test_okx_limits_per_instrument() -> None:
    lim = okx(clock=FakeClock())
    btc = {"order:BTC-USDT": 1, "subaccount": 1}
    assert all(lim.try_acquire(btc) for _ in range(60))
    assert not lim.try_acquire(btc)  # 60 per 2 s per instrument
    assert lim.try_acquire({"order:ETH-USDT": 1, "subaccount": 1})  # another instrument has room
    assert lim.wait_time(btc) == pytest.approx(2.0)


def test_bybit_per_category_order_limits() -> None:
    lim = bybit(clock=FakeClock())
    assert all(lim.try_acquire({"ip": 1, "create_linear": 1}) for _ in range(10))
    assert not lim.try_acquire({"ip": 1, "create_linear": 1})
    assert all(lim.try_acquire({"ip": 1, "create_spot": 1}) for _ in range(20))
    assert not lim.try_acquire({"ip": 1, "create_spot": 1})


def test_kraken_trade_counter_per_pair_and_costs() -> None:
    assert kraken_trade_cost("add") == 1
    assert [kraken_trade_cost("cancel", age) for age in (0, 4.9, 5, 12, 30, 60, 120, 300)] == [8, 8, 6, 5, 4, 2, 1, 0]
    assert kraken_trade_cost("amend", 12) == 2
    assert kraken_trade_cost("edit", 1) == 7
    clock = FakeClock()
    lim = kraken("starter", clock=clock)
    assert all(lim.try_acquire({"trade:XBT/USD": kraken_trade_cost("cancel", 1)}) for _ in range(7))  # 56
    assert not lim.try_acquire({"trade:XBT/USD": 8})  # 64 > 60
    assert lim.try_acquire({"trade:ETH/USD": 8})
    assert lim.wait_time({"trade:XBT/USD": 8}) == pytest.approx(4.0)  # decay 1/s
    assert all(lim.try_acquire(1) for _ in range(15)) and not lim.try_acquire(1)  # REST counter
    assert kraken("pro").limits["rest"].capacity == 20


def test_coinbase_private_per_second() -> None:
    clock = FakeClock()
    lim = coinbase(clock=clock)
    assert all(lim.try_acquire() for _ in range(30))
    assert not lim.try_acquire()
    assert lim.try_acquire({"public": 1})
    clock.advance(1.0)
    assert lim.try_acquire()


# == venue feedback ===========================================================================
def test_429_with_retry_after_blocks_for_that_long() -> None:
    clock = FakeClock()
    lim = binance_spot(clock=clock)
    assert lim.on_response(429, {"Retry-After": "7"}) == 7.0
    assert not lim.try_acquire()
    assert lim.wait_time() == pytest.approx(7.0)
    clock.advance(6.99)
    assert not lim.try_acquire()
    clock.advance(0.01)
    assert lim.try_acquire()


def test_a_penalty_on_named_limits_holds_only_what_draws_on_them() -> None:
    # Binance -1015 (too many new orders): new orders wait out its retryAfter, cancels do not
    clock = FakeClock()
    lim = binance_spot(clock=clock)
    order = lim.charges({"weight": 1, "orders": 1})
    lim.penalise(2.0, ("orders",))
    assert not lim.room_for(order) and not lim.try_acquire(order)
    assert lim.wait_time(order) == pytest.approx(2.0)
    assert lim.try_acquire({"weight": 1})  # a cancel or a query
    clock.advance(2.0)
    assert lim.room_for(order) and lim.try_acquire(order)


def test_418_ban_honours_retry_after_and_a_longer_penalty_is_kept() -> None:
    clock = FakeClock()
    lim = binance_spot(clock=clock)
    assert lim.on_response(418, {"retry-after": "120"}) == 120.0
    lim.penalise(5)  # a shorter penalty does not shorten the ban
    assert lim.wait_time() == pytest.approx(120.0)
    # Without the header: the policy's 2 min, doubled per consecutive hit (this is the 2nd, 3rd).
    assert lim.on_response(418, {}) == 240.0
    assert lim.on_response(418, {}) == 480.0
    assert lim.wait_time() == pytest.approx(480.0)


def test_429_without_retry_after_backs_off_exponentially_and_success_resets() -> None:
    clock = FakeClock()
    lim = coinbase(clock=clock)
    assert [lim.on_response(429, {}) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert lim.on_response(200, {}) == 0.0
    assert lim.on_response(429, {}) == 1.0
    capped = RateLimiter("x", {"a": SlidingWindow(1, 1)}, default="a", policy=ResponsePolicy(max_backoff_s=3))
    assert [capped.on_response(429, {}) for _ in range(3)] == [1.0, 2.0, 3.0]


def test_retry_after_as_http_date() -> None:
    clock = FakeClock()
    wall = 1_700_000_000.0
    lim = coinbase(clock=clock, wall_clock=lambda: wall)
    date = format_datetime(datetime.fromtimestamp(wall + 30, tz=UTC), usegmt=True)
    assert lim.on_response(429, {"Retry-After": date}) == pytest.approx(30.0)
    assert lim.on_response(429, {"Retry-After": "soon"}) == 2.0  # unreadable: the back-off, 2nd hit


def test_bybit_403_is_a_ten_minute_ban() -> None:
    lim = bybit(clock=FakeClock())
    assert lim.on_response(403, {}) == 600.0
    assert lim.wait_time() == pytest.approx(600.0)


def test_binance_used_weight_header_syncs_the_local_count() -> None:
    clock = FakeClock()
    lim = binance_spot(clock=clock)
    assert lim.try_acquire(10)
    # Another process on this IP spent weight too: the venue's count wins.
    assert lim.on_response(200, {"x-mbx-used-weight-1m": "5990", "X-MBX-ORDER-COUNT-10S": "100"}) == 0.0
    assert not lim.try_acquire(11)
    assert lim.try_acquire(10)
    assert not lim.try_acquire({"orders": 1})
    assert lim.on_response(200, {"X-MBX-USED-WEIGHT-1M": "junk"}) == 0.0  # ignored, not raised


# == asyncio ==================================================================================
def test_acquire_waits_the_exact_virtual_time() -> None:
    clock = FakeClock()
    lim = binance_spot(clock=clock, sleep=clock.sleep)

    async def main() -> list[float]:
        assert await lim.acquire(6000) == 0.0
        waited = [await lim.acquire(1)]
        lim.on_response(429, {"Retry-After": "3"})
        waited.append(await lim.acquire(1))
        return waited

    assert asyncio.run(main()) == [pytest.approx(60.0), pytest.approx(3.0)]


def test_concurrent_acquirers_never_exceed_the_limit_and_keep_fifo_order() -> None:
    limit, window = 5, 0.2

    async def main() -> tuple[list[tuple[int, float]], int]:
        loop = asyncio.get_running_loop()
        lim = RateLimiter("t", {"w": SlidingWindow(limit, window)}, default="w", clock=loop.time)
        admitted: list[tuple[int, float]] = []
        ticks = 0

        async def worker(i: int) -> None:
            await lim.acquire(1)
            admitted.append((i, loop.time()))

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(heartbeat())
        await asyncio.gather(*(worker(i) for i in range(23)))
        beat.cancel()
        return admitted, ticks

    admitted, ticks = asyncio.run(main())
    assert [i for i, _ in admitted] == list(range(23))  # FIFO
    stamps = [t for _, t in admitted]
    # Any `limit + 1` consecutive admissions span at least one window: never more than `limit` in one.
    assert all(stamps[i + limit] - stamps[i] >= window - 1e-6 for i in range(len(stamps) - limit))
    assert stamps[-1] - stamps[0] >= 4 * window - 1e-6  # 23 requests need 4 refills
    assert ticks >= 10  # the loop kept running while acquirers waited


def test_try_acquire_never_overtakes_a_waiter_and_cancellation_releases() -> None:
    clock = FakeClock()
    sleeping = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        sleeping.set()
        await asyncio.sleep(3600)  # cancelled by the test

    lim = RateLimiter("t", {"w": SlidingWindow(2, 1.0)}, default="w", clock=clock, sleep=slow_sleep)

    async def main() -> None:
        assert lim.try_acquire(2)
        waiter = asyncio.create_task(lim.acquire(2))
        await asyncio.wait_for(sleeping.wait(), 1)
        clock.advance(1.0)  # room again, but the waiter queued first
        assert not lim.try_acquire(1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert lim.try_acquire(1)  # the cancelled waiter left no trace

    asyncio.run(main())


def test_a_penalty_arriving_while_waiting_is_honoured() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        lim = RateLimiter("t", {"w": SlidingWindow(1, 0.05)}, default="w", clock=loop.time)
        assert lim.try_acquire()
        task = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0.01)
        lim.penalise(0.2)
        return await task

    assert asyncio.run(main()) >= 0.2 - 1e-3


def test_room_for_holds_while_the_version_is_unchanged() -> None:
    """``room_for`` spends nothing; every change that can shrink the room bumps ``version`` (a
    spend, ``spend``, a penalty, a venue's usage header, a waiter), time alone never does; so a
    ``room_for`` checked at a version still current is a ``try_acquire`` that would pass."""
    clock = FakeClock()
    lim = binance_spot(clock=clock)
    order = lim.charges({"weight": 1, "orders": 1})
    v = lim.version
    assert lim.room_for(order) and lim.version == v
    clock.advance(30)
    assert lim.room_for(order) and lim.version == v  # time only frees room
    assert lim.try_acquire(order) and lim.version == v + 1
    lim.spend(order)
    assert lim.version == v + 2
    for _ in range(98):
        assert lim.room_for(order)
        lim.spend(order)
    assert not lim.room_for(order) and not lim.try_acquire(order)  # 100 orders in 10 s: full
    clock.advance(10)
    assert lim.room_for(order)
    v = lim.version
    lim.penalise(5)
    assert lim.version == v + 1 and not lim.room_for(order)
    clock.advance(5)
    assert lim.room_for(order)
    v = lim.version
    lim.on_response(200, {"x-mbx-used-weight-1m": "6000"})
    assert lim.version > v and not lim.room_for(order)

    async def waiter() -> None:
        clock.advance(60)
        v = lim.version
        task = asyncio.ensure_future(lim.acquire(order))
        await asyncio.sleep(0)
        assert lim.version > v  # a waiter counts: nothing may overtake it
        await task

    asyncio.run(waiter())
