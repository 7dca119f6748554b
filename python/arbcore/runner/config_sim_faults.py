"""``[venues.NAME.sim_faults]``: the venue misbehaviour a simulated venue rehearses, as a trader
would write it: a percent chance per order placed for each order fault, "about every N seconds"
for feed faults and for deposits or withdrawals made outside the engine. Refused on a venue that
is not ``simulated = true``. :mod:`arbcore.runner.rehearsal` injects them, drawn from the run's seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from arbcore.runner.config_fields import ErrorCollector, FieldReader

#: the order faults, in the order one draw per order walks them: (field, what it does)
ORDER_FAULTS = (
    ("reject_pct", "rejected by the venue"),
    ("timeout_pct", "processed, never answered; its private-stream events 3 s (or twice leg_timeout_ms) late"),
    ("partial_fill_pct", "fills at most half"),
    ("slow_ack_pct", "answered after slow_ack_ms"),
    ("disconnect_pct", "processed, then the connection dropped unanswered"),
    ("rate_limit_pct", "refused with the venue's rate-limit reply"),
)
#: feed faults "about every N s": (field, what happens)
FEED_FAULTS = (
    ("gap_every_s", "a book message dropped (a sequence gap)"),
    ("duplicate_every_s", "a book message sent twice"),
    ("reorder_every_s", "two book messages swapped"),
    ("bad_checksum_every_s", "a book message with a wrong checksum"),
    ("malformed_every_s", "a truncated book message"),
    ("disconnect_every_s", "every connection to the venue dropped"),
    ("stall_every_s", "the venue silent for stall_ms"),
)
#: protocols whose simulated books carry a checksum (OKX's is deprecated: its simulator sends 0)
CHECKSUM_PROTOCOLS = frozenset({"kraken"})
#: a period below this is refused (0 is "never")
MIN_PERIOD_S = 0.1
MAX_PERIOD_S = 86_400


@dataclass(frozen=True)
class SimFaults:
    """One simulated venue's faults. Percentages are per order placed (hedges and sweeps too),
    at most one fault per order; ``*_every_s`` are mean periods (0: never): the gaps between two
    faults of a kind are drawn from the run's seed, between half and one and a half times it."""

    reject_pct: float = 0.0
    timeout_pct: float = 0.0
    partial_fill_pct: float = 0.0
    slow_ack_pct: float = 0.0
    slow_ack_ms: int = 500
    disconnect_pct: float = 0.0
    rate_limit_pct: float = 0.0
    gap_every_s: float = 0.0
    duplicate_every_s: float = 0.0
    reorder_every_s: float = 0.0
    bad_checksum_every_s: float = 0.0
    malformed_every_s: float = 0.0
    disconnect_every_s: float = 0.0
    stall_every_s: float = 0.0
    stall_ms: int = 1000
    slow_snapshot_ms: int = 0  # every book snapshot (a resync's too) this late
    balance_change_every_s: float = 0.0  # a deposit or a withdrawal outside the engine
    balance_change_pct: float = 1.0  # up to this share of the asset's configured balance

    def order_chances(self) -> list[tuple[str, float]]:
        """(fault name, percent) of each order fault, in draw order."""
        return [(f.removesuffix("_pct"), getattr(self, f)) for f, _ in ORDER_FAULTS]

    def periods(self) -> list[tuple[str, float]]:
        """(fault name, mean period in s) of each feed fault and the balance change that is on."""
        named = [(f.removesuffix("_every_s"), getattr(self, f)) for f, _ in FEED_FAULTS]
        named.append(("balance_change", self.balance_change_every_s))
        return [(n, s) for n, s in named if s > 0]

    @property
    def active(self) -> bool:
        return any(p for _, p in self.order_chances()) or bool(self.periods()) or self.slow_snapshot_ms > 0

    def describe(self) -> str:
        """One line for ``check-config``: every fault that is on, in the file's units."""
        parts = []
        orders = [f"{n} {_num(p)}%" + (f" ({self.slow_ack_ms} ms)" if n == "slow_ack" else "")
                  for n, p in self.order_chances() if p]  # fmt: skip
        if orders:
            parts.append("per order " + ", ".join(orders))
        feed = []
        for n, s in self.periods():
            if n == "balance_change":
                continue
            feed.append(f"{n} ~every {_num(s)} s" + (f" ({self.stall_ms} ms)" if n == "stall" else ""))
        if self.slow_snapshot_ms:
            feed.append(f"snapshots {self.slow_snapshot_ms} ms late")
        if feed:
            parts.append("feed " + ", ".join(feed))
        if self.balance_change_every_s:
            parts.append(f"deposit or withdrawal ~every {_num(self.balance_change_every_s)} s "
                         f"(up to {_num(self.balance_change_pct)}% of an asset's balance)")  # fmt: skip
        return "; ".join(parts) or "none"


def _num(v: float) -> str:
    return f"{v:g}"


FIELDS = frozenset(f.name for f in fields(SimFaults))


def parse_sim_faults(  # noqa: PLR0917
    p: FieldReader,
    errors: ErrorCollector,
    vt: Mapping[str, Any],
    path: str,
    protocol: str | None,
    simulated: bool,
    balances: Mapping[str, int],
) -> SimFaults | None:
    """``[venues.NAME.sim_faults]`` of the venue table ``vt`` (at ``path``, ``venues.NAME``);
    None when absent or refused (every problem recorded, each naming its field)."""
    t = p.table(vt, "sim_faults", f"{path}.sim_faults")
    if t is None:
        return None
    fpath = f"{path}.sim_faults"
    n0 = len(errors.items)
    if not simulated:
        errors.add(fpath, "only a simulated venue (simulated = true) rehearses faults; this one is a real venue")
    p.unknown(t, set(FIELDS), fpath)
    values: dict[str, Any] = {}
    for name, _ in ORDER_FAULTS:
        values[name] = float(p.number(t, name, f"{fpath}.{name}", 0.0, lo=0, hi=100))
    total = sum(values[name] for name, _ in ORDER_FAULTS)
    if total > 100:
        names = " + ".join(name for name, _ in ORDER_FAULTS if values[name])
        errors.add(fpath, f"{names} = {total:g}%, more than 100% (an order meets one fault at most)")
    for name in [f for f, _ in FEED_FAULTS] + ["balance_change_every_s"]:
        values[name] = _period(p, errors, t, name, f"{fpath}.{name}")
    values["slow_ack_ms"] = p.integer(t, "slow_ack_ms", f"{fpath}.slow_ack_ms", 500, lo=1, hi=60_000)
    values["stall_ms"] = p.integer(t, "stall_ms", f"{fpath}.stall_ms", 1000, lo=1, hi=600_000)
    values["slow_snapshot_ms"] = p.integer(t, "slow_snapshot_ms", f"{fpath}.slow_snapshot_ms", 0, lo=0, hi=60_000)
    values["balance_change_pct"] = float(
        p.number(t, "balance_change_pct", f"{fpath}.balance_change_pct", 1.0, lo=0, hi=100)
    )
    # a setting of a fault that is off: the fault it belongs to was forgotten, or misspelt
    for name, needs in (("slow_ack_ms", "slow_ack_pct"), ("stall_ms", "stall_every_s"),
                        ("balance_change_pct", "balance_change_every_s")):  # fmt: skip
        if name in t and t.get(needs, 0) == 0:  # (a bad value of `needs` is named on its own)
            errors.add(f"{fpath}.{name}", f"set, but {needs} is not (that fault is off)")
    if values["balance_change_every_s"] and "balance_change_pct" in t and not values["balance_change_pct"]:
        errors.add(f"{fpath}.balance_change_pct", "0 changes nothing (more than 0, up to 100)")
    if values["balance_change_every_s"] and not any(balances.values()):
        errors.add(f"{fpath}.balance_change_every_s", f"the venue has no balance to change (set [{path}.balances])")
    if values["bad_checksum_every_s"] and protocol is not None and protocol not in CHECKSUM_PROTOCOLS:
        which = ", ".join(sorted(CHECKSUM_PROTOCOLS))
        errors.add(
            f"{fpath}.bad_checksum_every_s", f"{protocol}'s simulated books carry no checksum (only {which}'s do)"
        )
    if len(errors.items) > n0:
        return None
    return SimFaults(**values)


def _period(p: FieldReader, errors: ErrorCollector, t: Mapping[str, Any], name: str, path: str) -> float:
    """A mean period in seconds: 0 (never) or from ``MIN_PERIOD_S`` (faster floods the venue)."""
    n0 = len(errors.items)
    v = p.number(t, name, path, 0.0, lo=0, hi=MAX_PERIOD_S)
    if len(errors.items) == n0 and 0 < v < MIN_PERIOD_S:
        errors.add(path, f"{v:g} s is too often (at least {MIN_PERIOD_S:g} s, or 0 for never)")
        return 0.0
    return float(v)


__all__ = ["CHECKSUM_PROTOCOLS", "FEED_FAULTS", "ORDER_FAULTS", "SimFaults", "parse_sim_faults"]
