"""A rehearsal of venue misbehaviour on a simulated venue (``[venues.NAME.sim_faults]``): each
order placed meets a fault drawn with the configured chances, feed faults and deposits or
withdrawals outside the engine come about every so many seconds. Everything is drawn from the
run's seed, one random stream per venue and kind (named, not positional: adding a venue or a
fault kind leaves the others' draws as they were), so the same seed gives the same faults: the
Nth order placed on a venue meets the same fault, and the timed faults come at the same offsets
after the simulators start, with the same amounts. Which ticket an order belongs to still
depends on timing: the engine and the simulators run on the wall clock.

Every fault injected is logged (``arbcore.rehearsal``, one line each) and counted; faults stop
when the engine starts stopping (``quiet``), so the stop's sweep and its balance check meet a
venue that behaves.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from arbcore.execution.amounts import Asset
from arbcore.runner.config_sim_faults import SimFaults
from arbcore.sim.exchange import OrderFault, SimExchange
from arbcore.sim.server import Fault, SimVenue

log = logging.getLogger("arbcore.rehearsal")

#: a timed-out order's private-stream events come this late, or twice the engine's leg timeout
#: when that is longer: past the leg timeout, so the engine learns the outcome by querying it and
#: the late events must then change nothing (a fixed 3 s let them arrive first, and answer the
#: order, under a leg timeout above 3 s: the rehearsal's timeouts then rehearsed nothing)
TIMEOUT_STREAM_LAG_S = 3.0

ORDER_FAULT_OF = {
    "reject": OrderFault.REJECT,
    "timeout": OrderFault.SILENT_TIMEOUT,
    "partial_fill": OrderFault.PARTIAL_FILL,
    "slow_ack": OrderFault.SLOW_ACK,
    "disconnect": OrderFault.DISCONNECT,
    "rate_limit": OrderFault.RATE_LIMIT,
}
FEED_FAULT_OF = {
    "gap": Fault.DROP,
    "duplicate": Fault.DUPLICATE,
    "reorder": Fault.REORDER,
    "bad_checksum": Fault.CORRUPT_CHECKSUM,
    "malformed": Fault.MALFORMED,
    "disconnect": Fault.DISCONNECT,
    "stall": Fault.STALL,
}
#: the order faults' words in the log
_ORDER_WORDS = {
    "reject": "rejected",
    "timeout": "never answered, streamed {lag:g} s late (timeout)",
    "partial_fill": "fills at most half (partial fill)",
    "slow_ack": "answered late (slow ack)",
    "disconnect": "connection dropped before the answer (disconnect)",
    "rate_limit": "refused as rate-limited",
}


@dataclass(frozen=True)
class TimedFault:
    """A feed fault or a balance change, ``at_s`` seconds after the simulators started."""

    at_s: float
    kind: str  # a feed fault's name (``gap``, ``disconnect``...) or ``balance_change``
    asset: str | None = None
    delta: int = 0  # a balance change at the asset's decimals; negative: a withdrawal


def _rng(seed: int, venue: str, stream: str) -> random.Random:
    return random.Random(f"{seed}/{venue}/{stream}")  # (a str seed hashes the same in every process)


def _two_digits(raw: int) -> int:
    """``raw`` rounded down to two significant digits (1834 -> 1800): amounts a reader spots."""
    unit: int = 10 ** max(0, len(str(raw)) - 2)
    return raw // unit * unit


def _stream(kind: str, period: float, rng: random.Random, faults: SimFaults,
            balances: Mapping[str, int]) -> Iterator[TimedFault]:  # fmt: skip
    assets = sorted(a for a, x in balances.items() if x > 0)
    t = 0.0
    while True:
        t += rng.uniform(0.5, 1.5) * period
        if kind != "balance_change":
            yield TimedFault(t, kind)
            continue
        asset = rng.choice(assets)
        sign = 1 if rng.random() < 0.5 else -1
        raw = int(balances[asset] * faults.balance_change_pct / 100 * rng.uniform(0.1, 1.0))
        yield TimedFault(t, kind, asset, sign * _two_digits(raw))


def timed_faults(faults: SimFaults, seed: int, venue: str, balances: Mapping[str, int]) -> Iterator[TimedFault]:
    """The venue's feed faults and balance changes in time order, without end (``balances``:
    the configured ones, at each asset's decimals; a change is up to ``balance_change_pct`` of one)."""
    streams = [_stream(kind, period, _rng(seed, venue, kind), faults, balances) for kind, period in faults.periods()]
    return heapq.merge(*streams, key=lambda f: f.at_s)


class OrderFaultDraws:
    """One draw per order placed on the venue, in order: its fault, or None."""

    def __init__(self, faults: SimFaults, seed: int, venue: str) -> None:
        self.rng = _rng(seed, venue, "orders")
        self.chances = [(name, pct) for name, pct in faults.order_chances() if pct]
        self.count = 0  # orders drawn for

    def next(self) -> str | None:
        self.count += 1
        u = self.rng.random() * 100  # drawn for every order, so the Nth draw is the Nth order's
        for name, pct in self.chances:
            if u < pct:
                return name
            u -= pct
        return None


class FaultPlan:
    """Injects one simulated venue's ``SimFaults`` into its simulator and matching engine."""

    def __init__(self, venue: str, faults: SimFaults, seed: int, *, sim: SimVenue, exchange: SimExchange,
                 api_key: str, balances: Mapping[str, int], assets: Mapping[str, Asset],
                 leg_timeout_s: float = 0.0) -> None:  # fmt: skip
        self.venue, self.faults, self.seed = venue, faults, seed
        self.stream_lag_s = max(TIMEOUT_STREAM_LAG_S, 2 * leg_timeout_s)
        self.sim, self.exchange, self.api_key = sim, exchange, api_key
        self.balances, self.assets = dict(balances), assets
        self.orders = OrderFaultDraws(faults, seed, venue)
        self.injected: Counter[str] = Counter()  # order and feed faults by name
        self.balance_changes: list[tuple[str, int]] = []  # (asset, delta) as made
        self._timed: Iterator[TimedFault] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._t0 = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self.sim.snapshot_delay = self.faults.slow_snapshot_ms / 1000
        self.exchange.fault_source = self._order_fault
        self._timed = timed_faults(self.faults, self.seed, self.venue, self.balances)
        self._arm()

    def quiet(self) -> None:
        """No fault from now on (a stall or a fault pending on the next book message still runs its course)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._timed = None
        self.exchange.fault_source = None
        self.sim.snapshot_delay = 0.0

    def _arm(self) -> None:
        nxt = None if self._timed is None else next(self._timed, None)
        if nxt is not None:
            # at the planned offset from the start, not after the last one: no drift
            self._handle = asyncio.get_running_loop().call_at(self._t0 + nxt.at_s, self._fire, nxt)

    def _fire(self, f: TimedFault) -> None:
        self._handle = None
        try:
            if f.kind == "balance_change":
                self._change_balance(f)
            else:
                seconds = self.faults.stall_ms / 1000 if f.kind == "stall" else 0.0
                self.sim.inject(FEED_FAULT_OF[f.kind], seconds=seconds)
                self.injected[f"feed {f.kind}"] += 1
                log.info("rehearsal: %s feed %s (planned +%.3f s)", self.venue, f.kind, f.at_s)
        finally:
            self._arm()

    def _change_balance(self, f: TimedFault) -> None:
        assert f.asset is not None
        asset = self.assets[f.asset]
        delta = f.delta
        if delta < 0:  # a withdrawal takes at most what no resting order holds
            delta = -min(-delta, max(0, self.exchange.accounts[self.api_key].available(f.asset)))
        if delta == 0:
            log.info("rehearsal: %s withdrawal of 0 %s outside the engine, nothing to withdraw (planned +%.3f s)",
                     self.venue, f.asset, f.at_s)  # fmt: skip
            return
        self.exchange.change_balance(self.api_key, f.asset, delta)
        self.balance_changes.append((f.asset, delta))
        what = "deposit" if delta > 0 else "withdrawal"
        log.info("rehearsal: %s %s of %s %s outside the engine (planned +%.3f s)",
                 self.venue, what, asset.format(abs(delta)), f.asset, f.at_s)  # fmt: skip

    def _order_fault(self, client_id: str) -> tuple[OrderFault, float] | None:
        name = self.orders.next()
        if name is None:
            return None
        self.injected[name] += 1
        log.info("rehearsal: %s order %s (#%d placed here): %s", self.venue, client_id, self.orders.count,
                 _ORDER_WORDS[name].format(lag=self.stream_lag_s))  # fmt: skip
        return ORDER_FAULT_OF[name], self.stream_lag_s if name == "timeout" else self.faults.slow_ack_ms / 1000

    def sent_twice(self) -> int:
        """Client order ids this venue received more than one place request for."""
        return self.exchange.sent_twice.get(self.api_key, 0)

    def summary(self) -> str:
        """What was injected, for the line logged at stop."""
        orders = ", ".join(f"{n} {self.injected[n]}" for n in ORDER_FAULT_OF if self.injected[n]) or "none"
        feed = ", ".join(f"{k.removeprefix('feed ')} {n}" for k, n in self.injected.items() if k.startswith("feed "))
        moved = ", ".join(f"{'deposit' if d > 0 else 'withdrawal'} {self.assets[a].format(abs(d))} {a}"
                          for a, d in self.balance_changes)  # fmt: skip
        return (f"{self.venue}: {self.orders.count} orders placed, faults {orders}; feed faults {feed or 'none'}; "
                f"outside the engine: {moved or 'nothing'}; orders sent twice: {self.sent_twice()}")  # fmt: skip


__all__ = ["FaultPlan", "OrderFaultDraws", "TimedFault", "timed_faults"]
