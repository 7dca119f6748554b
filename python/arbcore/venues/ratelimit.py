"""Per-venue request limiting by the venues' documented weights and windows.

A `RateLimiter` holds named limits; a request's cost names the limits it draws on (a number
means the limiter's default group). It admits a request only when every limit has room and no
penalty (429/418/ban, ``Retry-After``) is running. ``acquire`` waits on the event loop in FIFO
order; ``try_acquire`` never waits. The clock and the sleep are injectable for tests.

Two limit shapes, chosen per venue to match how the venue counts:

* `SlidingWindow`: at most N in *any* span of W seconds. Used for venues that count per fixed
  window (Binance resets on minute/10 s boundaries) or state "N per W" without saying how
  (Bybit, OKX, Coinbase Advanced Trade). A token bucket holding N and refilling N/W is not safe
  there: it can spend N at a window's start and most of another N before its end.
* `TokenBucket`: Kraken's counter with decay is exactly a bucket (counter = capacity - tokens).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol, TypedDict, Unpack

from arbcore.errors import ArbcoreError

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Cost = float | Mapping[str, float]
#: Float slack in comparisons: costs are whole numbers, Kraken's decay rates are not.
_EPS = 1e-9


class Env(TypedDict, total=False):
    """Injectable time for a preset: monotonic ``clock``, ``wall_clock`` (HTTP dates), ``sleep``."""

    clock: Clock
    wall_clock: Clock
    sleep: Sleep


class RateLimitError(ArbcoreError, ValueError):
    """A cost that can never be admitted (larger than a limit, negative, or naming no limit)."""


class Limit(Protocol):
    capacity: float

    def wait_time(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` fits (0.0: it fits now)."""

    def consume(self, cost: float, now: float) -> None: ...

    def observe_used(self, used: float, now: float) -> None:
        """The venue says ``used`` is spent in its current window: never believe in more room."""


#: A cost resolved to the limits it draws on (`RateLimiter.charges`): what a hot path passes in
#: place of the cost, so that the names are looked up and checked once, not on every request.
Charges = tuple[tuple[Limit, float], ...]


class TokenBucket:
    """``capacity`` tokens refilled at ``refill_per_s``; starts full."""

    def __init__(self, capacity: float, refill_per_s: float) -> None:
        if capacity <= 0 or refill_per_s <= 0:
            raise RateLimitError(f"token bucket needs a positive capacity and rate, got {capacity}, {refill_per_s}")
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self.tokens = capacity
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.refill_per_s)
        self._last = now if self._last is None else max(self._last, now)

    def wait_time(self, cost: float, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens + _EPS >= cost else (cost - self.tokens) / self.refill_per_s

    def consume(self, cost: float, now: float) -> None:
        self._refill(now)
        self.tokens -= cost

    def observe_used(self, used: float, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.tokens, self.capacity - used)


class SlidingWindow:
    """At most ``limit`` in any span of ``window_s``. Entries closer than ``window_s / 256`` share
    one slot stamped with the latest time (so they expire late, never early): memory stays small
    even for Binance's 200 000 orders a day."""

    def __init__(self, limit: float, window_s: float) -> None:
        if limit <= 0 or window_s <= 0:
            raise RateLimitError(f"sliding window needs a positive limit and span, got {limit}, {window_s}")
        self.capacity = limit
        self.window_s = window_s
        self._resolution = window_s / 256
        # [first stamp, last stamp, amount]; expiry is judged by the last stamp.
        self._slots: deque[list[float]] = deque()
        self.used = 0.0

    def _expire(self, now: float) -> None:
        while self._slots and self._slots[0][1] + self.window_s <= now + _EPS:
            self.used -= self._slots.popleft()[2]
        if not self._slots:
            self.used = 0.0  # drop accumulated float dust

    def wait_time(self, cost: float, now: float) -> float:
        slots = self._slots
        if slots and slots[0][1] + self.window_s <= now + _EPS:  # (no slots: used is 0.0 already)
            self._expire(now)
        excess = self.used + cost - self.capacity
        if excess <= _EPS:
            return 0.0
        freed = 0.0
        for _, last, amount in self._slots:
            freed += amount
            if freed + _EPS >= excess:
                return last + self.window_s - now
        return math.inf  # cost > capacity; RateLimiter refuses that before asking

    def consume(self, cost: float, now: float) -> None:
        slots = self._slots
        if slots and slots[0][1] + self.window_s <= now + _EPS:
            self._expire(now)
        if slots and now - slots[-1][0] < self._resolution:
            slot = slots[-1]
            slot[1] = max(slot[1], now)
            slot[2] += cost
        else:
            slots.append([now, now, cost])
        self.used += cost

    def observe_used(self, used: float, now: float) -> None:
        self._expire(now)
        if used > self.used:
            self.consume(min(used, self.capacity) - self.used, now)


@dataclass(frozen=True)
class ResponsePolicy:
    """How a venue signals throttling in the HTTP status and headers."""

    #: status -> back-off when the reply has no usable Retry-After; doubled per consecutive hit
    penalty_s: Mapping[int, float] = field(default_factory=lambda: {429: 1.0})
    #: lower-case header -> limit name; the header carries the venue's count in its window
    used_headers: Mapping[str, str] = field(default_factory=dict)
    max_backoff_s: float = 300.0


class RateLimiter:
    """The limits of one venue scope (an IP, an API key). Not thread-safe: one event loop."""

    def __init__(
        self,
        name: str,
        limits: Mapping[str, Limit],
        *,
        groups: Mapping[str, Sequence[str]] | None = None,
        default: str | None = None,
        families: Mapping[str, Callable[[], Limit]] | None = None,
        policy: ResponsePolicy | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.limits: dict[str, Limit] = dict(limits)
        #: a group charges each of its limits the same amount (Binance "orders": ORDERS_10S, ORDERS_1D)
        self.groups = {g: tuple(names) for g, names in (groups or {}).items()}
        self.default = default
        #: per-key limits made on first use, named ``family:key`` (OKX per instrument, Kraken per pair)
        self.families = dict(families or {})
        self.policy = policy or ResponsePolicy()
        self._clock, self._wall_clock, self._sleep = clock, wall_clock, sleep
        self._blocked_until = -math.inf
        #: limit -> until when it admits nothing: a penalty on some limits only (Binance -1015)
        self._held: dict[Limit, float] = {}
        self._consecutive = 0
        self._lock = asyncio.Lock()  # FIFO among waiters; binds to a loop only when contended
        self._pending = 0  # acquirers queued or sleeping: try_acquire must not overtake them
        #: bumped by every change that can shrink the room (a spend, a waiter, a penalty, a venue's
        #: usage header): a check of `room_for` holds while it is unchanged, since time alone only
        #: frees room (windows expire, buckets refill). The order path checks ahead on it.
        self.version = 0

    # -- costs -----------------------------------------------------------------------------
    def _limit(self, name: str) -> Limit:
        if name in self.limits:
            return self.limits[name]
        family, sep, _ = name.partition(":")
        if sep and family in self.families:
            made = self.limits[name] = self.families[family]()
            return made
        raise RateLimitError(f"{self.name}: no limit, group or family named {name!r}")

    def charges(self, cost: Cost) -> Charges:
        """``cost`` resolved to the limits it draws on and checked (`RateLimitError` if it can never
        be admitted). Pass the result to `wait_time`, `try_acquire` or `acquire` of this limiter
        in place of the cost: the same admission, without resolving the names again."""
        return self._charges(cost)

    def _charges(self, cost: Cost | Charges) -> Charges:
        if isinstance(cost, tuple):
            return cost  # already resolved by `charges`
        if not isinstance(cost, Mapping):
            if self.default is None:
                raise RateLimitError(f"{self.name} has no default limit: name the limits a request draws on")
            cost = {self.default: cost}
        # Summed per limit, so a cost naming one limit twice (via a group) is checked as a whole.
        totals: dict[str, float] = {}
        for key, amount in cost.items():
            if amount < 0:
                raise RateLimitError(f"{self.name}: negative cost {amount} for {key!r}")
            for name in self.groups.get(key, (key,)):
                totals[name] = totals.get(name, 0.0) + amount
        charges: list[tuple[Limit, float]] = []
        for name, amount in totals.items():
            limit = self._limit(name)
            if amount > limit.capacity + _EPS:
                raise RateLimitError(f"{self.name}: cost {amount} exceeds the {name} limit of {limit.capacity}")
            charges.append((limit, amount))
        return tuple(charges)

    def _wait(self, charges: Charges, now: float) -> float:
        wait = self._blocked_until - now
        for limit, amount in charges:
            w = limit.wait_time(amount, now)
            wait = max(wait, w)
        if self._held:
            wait = max(wait, self._held_wait(charges, now))
        return wait if wait > 0.0 else 0.0

    def _held_wait(self, charges: Charges, now: float) -> float:
        held = self._held
        return max((held.get(limit, -math.inf) - now for limit, _ in charges), default=0.0)

    # -- admission -------------------------------------------------------------------------
    def wait_time(self, cost: Cost | Charges = 1) -> float:
        """Seconds before ``cost`` would be admitted if nothing else were spent meanwhile."""
        return self._wait(self._charges(cost), self._clock())

    def try_acquire(self, cost: Cost | Charges = 1) -> bool:
        """Spend ``cost`` now if it fits, else spend nothing. Never jumps ahead of a waiter."""
        charges = cost if isinstance(cost, tuple) else self._charges(cost)
        if self._pending:
            return False
        now = self._clock()
        if self._blocked_until > now or (self._held and self._held_wait(charges, now) > 0):
            return False
        for limit, amount in charges:
            if limit.wait_time(amount, now) > 0:
                return False
        for limit, amount in charges:
            limit.consume(amount, now)
        self.version += 1
        return True

    def room_for(self, charges: Charges) -> bool:
        """Whether ``charges`` would be admitted now by :meth:`try_acquire`; spends nothing."""
        if self._pending:
            return False
        now = self._clock()
        if self._blocked_until > now or (self._held and self._held_wait(charges, now) > 0):
            return False
        return all(limit.wait_time(amount, now) <= 0 for limit, amount in charges)

    def spend(self, charges: Charges) -> None:
        """Spend ``charges`` now, unconditionally: for a request admitted by :meth:`room_for` at a
        :attr:`version` that is still current (nothing can have taken the room meanwhile)."""
        now = self._clock()
        for limit, amount in charges:
            limit.consume(amount, now)
        self.version += 1

    async def acquire(self, cost: Cost | Charges = 1) -> float:
        """Wait (without blocking the loop) until ``cost`` fits, spend it; returns seconds waited."""
        charges = self._charges(cost)
        start = self._clock()
        self._pending += 1
        self.version += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock()
                    wait = self._wait(charges, now)
                    if wait <= 0:
                        for limit, amount in charges:
                            limit.consume(amount, now)
                        self.version += 1
                        return now - start
                    # Re-checked after waking: the loop may wake a sleeper slightly early, and
                    # a penalty may have arrived meanwhile.
                    await self._sleep(wait)
        finally:
            self._pending -= 1

    # -- venue feedback --------------------------------------------------------------------
    def penalise(self, retry_after_s: float, names: Sequence[str] | None = None) -> None:
        """Admit nothing for ``retry_after_s`` seconds (a longer running penalty is kept); with
        ``names`` (limits or groups), nothing that draws on those limits."""
        until = self._clock() + max(0.0, retry_after_s)
        if names is None:
            self._blocked_until = max(self._blocked_until, until)
        else:
            for name in names:
                for n in self.groups.get(name, (name,)):
                    limit = self._limit(n)
                    self._held[limit] = max(self._held.get(limit, -math.inf), until)
        self.version += 1

    def on_response(self, status: int, headers: Mapping[str, str]) -> float:
        """Feed every reply here. Syncs usage headers, and on a throttling status honours
        ``Retry-After`` (else the policy's back-off, doubling per consecutive hit). Returns the
        penalty started, in seconds (0.0 for none)."""
        now = self._clock()
        retry_after: float | None = None
        for key, value in headers.items():
            lower = key.lower()
            if lower == "retry-after":
                retry_after = self._parse_retry_after(value)
            elif lower in self.policy.used_headers:
                try:
                    used = float(value)
                except ValueError:
                    continue
                self._limit(self.policy.used_headers[lower]).observe_used(used, now)
                self.version += 1
        if status not in self.policy.penalty_s:
            self._consecutive = 0
            return 0.0
        self._consecutive += 1
        if retry_after is None:
            retry_after = self.policy.penalty_s[status] * 2 ** (self._consecutive - 1)
        penalty = min(retry_after, self.policy.max_backoff_s)
        self.penalise(penalty)
        return penalty

    def _parse_retry_after(self, value: str) -> float | None:
        # RFC 9110: delay-seconds or an HTTP-date.
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - self._wall_clock())
        except (TypeError, ValueError):
            return None


# == venue presets =========================================================================
# Defaults until the venue's own numbers are read at run time (Binance: exchangeInfo.rateLimits).

_BINANCE_INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def binance_from_rate_limits(rate_limits: Sequence[Mapping[str, object]], **kw: Unpack[Env]) -> RateLimiter:
    """Build from ``exchangeInfo.rateLimits``. Limits are named like the usage headers they sync
    with: REQUEST_WEIGHT_1M <- X-MBX-USED-WEIGHT-1M, ORDERS_10S <- X-MBX-ORDER-COUNT-10S. Groups:
    ``weight`` (the default) and ``orders``. RAW_REQUESTS is left out: every request weighs at
    least 1, so the weight limit binds first."""
    limits: dict[str, Limit] = {}
    headers: dict[str, str] = {}
    for rl in rate_limits:
        kind, interval, num, limit = rl["rateLimitType"], rl["interval"], rl["intervalNum"], rl["limit"]
        if kind not in ("REQUEST_WEIGHT", "ORDERS") or not isinstance(interval, str):
            continue
        if not isinstance(num, int) or not isinstance(limit, int) or interval not in _BINANCE_INTERVAL_S:
            raise RateLimitError(f"Binance rate limit entry not understood: {rl!r}")
        name = f"{kind}_{num}{interval[0]}"
        limits[name] = SlidingWindow(limit, num * _BINANCE_INTERVAL_S[interval])
        prefix = "x-mbx-used-weight-" if kind == "REQUEST_WEIGHT" else "x-mbx-order-count-"
        headers[f"{prefix}{num}{interval[0]}".lower()] = name
    groups = {
        "weight": [n for n in limits if n.startswith("REQUEST_WEIGHT")],
        "orders": [n for n in limits if n.startswith("ORDERS")],
    }
    # 418 is an IP ban of 2 min to 3 days; both statuses carry Retry-After (docs §1.5).
    policy = ResponsePolicy(penalty_s={429: 1.0, 418: 120.0}, used_headers=headers, max_backoff_s=3 * 86400)
    return RateLimiter("binance", limits, groups=groups, default="weight", policy=policy, **kw)


def binance_spot(**kw: Unpack[Env]) -> RateLimiter:
    """6000 weight/min, 100 orders/10 s, 200 000 orders/day (exchangeInfo as published, 2026)."""
    return binance_from_rate_limits(
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200_000},
        ],
        **kw,
    )


def binance_usdm(**kw: Unpack[Env]) -> RateLimiter:
    """2400 weight/min and 1200 orders/min (confirmed); 300 orders/10 s per the venue notes [K]."""
    return binance_from_rate_limits(
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        **kw,
    )


def bybit(**kw: Unpack[Env]) -> RateLimiter:
    """600 requests/5 s per IP (default; a 403 is a ban of at least 10 min), and per UID
    ``create_<category>`` / ``cancel_<category>``: 20/s for spot, 10/s for linear, inverse, option."""
    limits: dict[str, Limit] = {"ip": SlidingWindow(600, 5)}
    for category, per_s in (("spot", 20), ("linear", 10), ("inverse", 10), ("option", 10)):
        limits[f"create_{category}"] = SlidingWindow(per_s, 1)
        limits[f"cancel_{category}"] = SlidingWindow(per_s, 1)
    policy = ResponsePolicy(penalty_s={403: 600.0, 429: 1.0}, max_backoff_s=3600)
    return RateLimiter("bybit", limits, default="ip", policy=policy, **kw)


def okx(**kw: Unpack[Env]) -> RateLimiter:
    """Per user + instrument: ``order:<instId>``, ``cancel:<instId>``, ``amend:<instId>`` 60 per 2 s,
    ``batch:<instId>`` 300 orders per 2 s; ``subaccount`` 1000 new or amended orders per 2 s.
    OKX limits each endpoint on its own, so there is no default: name what a request draws on."""
    families: dict[str, Callable[[], Limit]] = {
        "order": lambda: SlidingWindow(60, 2),
        "cancel": lambda: SlidingWindow(60, 2),
        "amend": lambda: SlidingWindow(60, 2),
        "batch": lambda: SlidingWindow(300, 2),
    }
    return RateLimiter("okx", {"subaccount": SlidingWindow(1000, 2)}, families=families, **kw)


#: Kraken tiers: (REST counter max, decay/s), (per-pair trading counter max, decay/s).
KRAKEN_TIERS = {
    "starter": ((15, 0.33), (60, 1.0)),
    "intermediate": ((20, 0.5), (125, 2.34)),
    "pro": ((20, 1.0), (180, 3.75)),
}
KrakenTier = Literal["starter", "intermediate", "pro"]


def kraken(tier: KrakenTier = "starter", **kw: Unpack[Env]) -> RateLimiter:
    """``rest``: the per-key call counter (default; ledger and trade-history calls cost 2).
    ``trade:<pair>``: the matching engine's per-pair counter that AddOrder/CancelOrder draw on
    instead, costed by `kraken_trade_cost`. Kraken answers "EAPI:Rate limit exceeded" in the
    body, not the status: the client calls `RateLimiter.penalise` on it."""
    (rest_max, rest_decay), (trade_max, trade_decay) = KRAKEN_TIERS[tier]
    families: dict[str, Callable[[], Limit]] = {"trade": lambda: TokenBucket(trade_max, trade_decay)}
    limits: dict[str, Limit] = {"rest": TokenBucket(rest_max, rest_decay)}
    return RateLimiter("kraken", limits, default="rest", families=families, **kw)


#: (fixed, then extra by order age: < 5, < 10, < 15, < 45, < 90, < 300 s) per Kraken's table.
_KRAKEN_TRADE_COSTS = {
    "add": (1, (0, 0, 0, 0, 0, 0)),
    "amend": (1, (3, 2, 1, 0, 0, 0)),
    "edit": (1, (6, 5, 4, 2, 1, 0)),
    "cancel": (0, (8, 6, 5, 4, 2, 1)),
}
_KRAKEN_AGE_EDGES_S = (5, 10, 15, 45, 90, 300)


def kraken_trade_cost(action: Literal["add", "amend", "edit", "cancel"], order_age_s: float = 0.0) -> int:
    """Counter increase for one trading action on an order ``order_age_s`` old (since add/amend)."""
    fixed, by_age = _KRAKEN_TRADE_COSTS[action]
    for edge, extra in zip(_KRAKEN_AGE_EDGES_S, by_age, strict=True):
        if order_age_s < edge:
            return fixed + extra
    return fixed


def coinbase(**kw: Unpack[Env]) -> RateLimiter:
    """Advanced Trade: ``private`` 30 requests/s per user (default), ``public`` 10/s per IP."""
    limits: dict[str, Limit] = {"private": SlidingWindow(30, 1), "public": SlidingWindow(10, 1)}
    return RateLimiter("coinbase", limits, default="private", **kw)
