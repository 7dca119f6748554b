"""The order path's one Rust call for the built-in taker (``OrderPath.take``): after a book change
that opens a spread, refresh the detector, decide, check both legs (rules, books, risk, funds),
build the intent record and both signed frames (Binance HMAC-SHA256, OKX), return them.

Timed: the call alone, on a standalone book and path (``tests/test_order_path.py _taker_rig``),
back to back (``gap_s=0``: caches hot) and after the thread slept ``gap_s`` (caches as cold as
an engine's between opportunities: the same instructions, much of them no longer cached). The
difference is why the e2e figures sit far above the sum of hot micro-benchmarks. ``warm_ms``: the
same 20 ms idle, with ``OrderPath.take(..., dry=True)`` (the same call run dry, ``[run] keep_warm_ms``) every
``warm_ms`` of it. ``jump``: the book has no spread through that idle (as an engine's between opportunities),
and a jump of okx's bid opens one just before the timed call: the dry runs then decide on a crossed copy of
the book (``rust/orders/warm.rs``), so the timed call should cost what it does after dry runs on a spread.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_order_path import _taker_rig

ROUNDS = 200


class TakeBench:
    def __init__(self, gap_s: float, warm_ms: float = 0, jump: bool = False) -> None:
        self.gap_s = gap_s
        self.warm_ms = warm_ms
        self.jump = jump
        self.path, self.book, markets = _taker_rig()
        # as an engine on these two venues registers them: each venue's key and secret, OKX's passphrase
        self.path.set_secrets([bytes([65 + i]) * 64 for i in range(5)])
        self.armed = self.path.arm_taker(markets, min_edge_bps=0.0, cap=None, lots=[100, 100])
        now = time.time_ns()
        asks = [(5_000_000 + 10 * i, 1_000_000) for i in range(1, 20)]
        bids = [(5_010_000 - 10 * i, 1_000_000) for i in range(1, 20)]
        self.book.apply_snapshot("binance_spot", [(p - 20_000, q) for p, q in bids], asks, seq=1, venue_ts=now,
                                 recv_ts=now)  # fmt: skip
        if jump:  # okx's bids 15,000 lower: under binance's asks until the jump
            bids = [(p - 15_000, q) for p, q in bids]
        self.book.apply_snapshot("okx", bids, [(p + 20_000, q) for p, q in asks], seq=1, venue_ts=now, recv_ts=now)
        self.seq = 1
        self.calls = 0
        self.taken = 0

    def _okx_bid(self, qty: int) -> None:
        self.seq += 1
        now = time.time_ns()
        self.book.apply_deltas("okx", np.array([0], dtype=np.uint8), np.array([5_009_990], dtype=np.uint64),
                               np.array([qty], dtype=np.uint64), seq=self.seq, venue_ts=now, recv_ts=now)  # fmt: skip

    def setup(self) -> None:
        """Untimed: a delta on okx's best bid (the detector has a changed pair to refresh), then the
        gap; ``jump``: that bid gone, then the gap, then the bid back (the spread opens)."""
        self.calls += 1  # (one timed call follows each setup: counted here, out of the timed call)
        self._okx_bid(0 if self.jump else 1_000_000 + self.seq % 7)
        self._idle()
        if self.jump:
            self._okx_bid(1_000_000)

    def _idle(self) -> None:
        if self.gap_s and self.warm_ms:
            end = time.monotonic() + self.gap_s
            while time.monotonic() < end:
                time.sleep(self.warm_ms / 1000)
                self.path.take(self.armed, "T-", self.book, True)
        elif self.gap_s:
            time.sleep(self.gap_s)

    def take(self) -> None:
        out = self.path.take(self.armed, "T-", self.book)
        self.taken += not isinstance(out, int)


@pytest.mark.parametrize(("gap_s", "warm_ms"), [(0.0, 0), (0.02, 0), (0.02, 1)])
def test_order_path_take(benchmark: Any, gap_s: float, warm_ms: float) -> None:
    b = TakeBench(gap_s, warm_ms)
    benchmark.pedantic(b.take, setup=b.setup, rounds=ROUNDS, warmup_rounds=5, iterations=1)
    # every call started a ticket: the timed work is the whole path (counted, not ROUNDS + 5: with the
    # benchmark disabled, pytest's default here, pedantic makes one call)
    assert b.calls and b.taken == b.calls
    when = "back to back" if not gap_s else f"{gap_s * 1000:.0f} ms idle before each"
    path = f"Rust OrderPath.take, {when}" + (f", a dry take every {warm_ms} ms of it" if warm_ms else "")
    benchmark.extra_info.update(workload="order_path_take", gap_s=gap_s, warm_ms=warm_ms, path=path)


def test_order_path_take_after_a_jump(benchmark: Any) -> None:
    """20 ms with no spread and a dry take every 1 ms, then the jump that opens one."""
    b = TakeBench(0.02, 1, jump=True)
    benchmark.pedantic(b.take, setup=b.setup, rounds=ROUNDS, warmup_rounds=5, iterations=1)
    assert b.calls and b.taken == b.calls
    path = "Rust OrderPath.take, 20 ms idle with no spread and a dry take every 1 ms, then a jump opens one"
    benchmark.extra_info.update(workload="order_path_take", gap_s=0.02, warm_ms=1, jump=True, path=path)
