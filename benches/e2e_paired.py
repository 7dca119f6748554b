"""Paired A/B of one engine setting on the e2e bench's awake rounds (busy_poll engine, dry runs
every 0.1 ms, awake simulators), stamped at the loopback device.

Why paired: two separate runs of the same build differ by ±8-15 µs p50 on the VM measured (a
slow spell of the host moves every figure), more than most changes this could judge. Here the
setting flips after each tapped round, so each pair of consecutive tapped rounds (one with, one
without, ~0.25 s apart) sees the same host; the figure is the median of the pairs' differences,
with the share of pairs in which the setting was faster.

Variants (each one flips only its own part, the rest of the engine as configured):
  warm_sends     the send warmer's write at each dry run (``[run] warm_sends``)
  warm_decoder   the scratch decode of each connection's last update (``FeedClient.warm_decoder``)
  period=MS      dry runs every MS ms against every 0.1 ms (the polling loop's period)
  warm_parts     the dry run in parts, the loop polling its sockets between two (the busy poll's)
                 against the dry run whole, between two polls
  warm_twin      the decoder's warm-up through the connection's frame handler on its twin
                 (``FeedClient.warm_decoder``) against the scratch decoder's replay alone
  feed_take      the taker's decision in the feed's decode call (``Feed.on_frame_take``) against
                 the read callback's (``TradingSession._on_read``, ``FastPath.take``)

Usage: python benches/e2e_paired.py VARIANT [ROUNDS]   (needs CAP_NET_RAW for the packet socket;
400 rounds take ~1 minute and give ~100 pairs). Not part of ``make bench``: a tool for judging a
change, whose figures a commit message or note quotes with this command.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_e2e_latency as bench
from arbcore.execution.send_warmer import SendWarmer
from arbcore.feed_client import FeedClient
from arbcore.runner.session import TradingSession
from arbcore.runner.warm_loop import WarmLoop

#: whether the rounds now run with the setting on (flipped by the patched jump)
on = [False]
#: run after each flip (settings held by the session's objects)
flipped: list[Callable[[], None]] = []


def _gate(cls: type, name: str) -> None:
    """``cls.name`` runs only while the setting is on."""
    orig: Callable[..., Any] = getattr(cls, name)

    def gated(self: Any, *a: Any) -> Any:
        return orig(self, *a) if on[0] else None

    setattr(cls, name, gated)


def _period(ms: float) -> None:
    """The polling loop's dry runs every ``ms`` while on, every 0.1 ms while off."""

    async def busy_poll(self: WarmLoop) -> None:
        due = 0.0
        while True:
            await asyncio.sleep(0)
            self.gc.poll()  # (the session's loop paces the collector: gc_pacer.py)
            if self.parts is not None and (now := time.monotonic()) >= due:
                due = now + (ms if on[0] else bench.AWAKE_WARM_MS) / 1000
                await self.in_parts()

    WarmLoop.busy_poll = busy_poll  # type: ignore[method-assign]


def _warm_whole() -> None:
    """The busy poll's dry runs in parts while on (as ``WarmLoop.busy_poll``), whole
    (``WarmLoop.once``) while off."""

    async def busy_poll(self: WarmLoop) -> None:
        due = 0.0
        while True:
            await asyncio.sleep(0)
            self.gc.poll()  # (the session's loop paces the collector: gc_pacer.py)
            if self.parts is None or (now := time.monotonic()) < due:
                continue
            due = now + bench.AWAKE_WARM_MS / 1000
            if on[0]:
                await self.in_parts()
            else:
                self.once()

    WarmLoop.busy_poll = busy_poll  # type: ignore[method-assign]


def _warm_twin() -> None:
    """While off, the decoder's warm-up replays the frame on the twin's scratch feed alone
    (``Feed.replay``), not through the twin's frame handler."""
    through_handler = FeedClient.warm_decoder

    def gated(self: FeedClient) -> None:
        if on[0] or self._twin is None:  # (the first call builds the twin)
            through_handler(self)
        elif self._warm_frame is not None:
            self._twin.feed.replay(self.feed, self._warm_frame)

    FeedClient.warm_decoder = gated  # type: ignore[method-assign]


def _feed_take() -> None:
    """The feeds hand frames to ``on_frame_take`` while on, to ``on_frame`` while off."""
    arm = TradingSession._arm_taker

    def arm_and_follow(self: TradingSession) -> None:
        arm(self)
        clients = [c for c in self.feeds.values() if c.on_taken is not None]
        callback = clients[0].on_taken if clients else None

        def flip() -> None:
            for c in clients:
                c.on_taken = callback if on[0] else None

        flipped.append(flip)
        flip()

    TradingSession._arm_taker = arm_and_follow  # type: ignore[method-assign]


def variant(name: str) -> None:
    if name == "warm_sends":
        _gate(SendWarmer, "send")
    elif name == "warm_decoder":
        _gate(FeedClient, "warm_decoder")
    elif name.startswith("period="):
        _period(float(name.removeprefix("period=")))
    elif name == "warm_parts":
        _warm_whole()
    elif name == "warm_twin":
        _warm_twin()
    elif name == "feed_take":
        _feed_take()
    else:
        raise SystemExit(
            f"unknown variant {name!r}: warm_sends, warm_decoder, period=MS, warm_parts, warm_twin or feed_take"
        )


def run(rounds: int) -> list[tuple[bool, int | None]]:
    """(setting on, the round's figure on the wire) per tapped round."""
    tagged: list[tuple[bool, int | None]] = []
    jump = bench.Sims.jump

    def flipping(self: bench.Sims, tapped: bool = False) -> tuple[int, list[int], list[int], int | None]:
        out = jump(self, tapped)
        if tapped:
            tagged.append((on[0], out[3]))
            on[0] = not on[0]  # the next (untapped) round already runs the other way: it sets the caches
            for f in flipped:
                f()
        return out

    bench.Sims.jump = flipping  # type: ignore[method-assign]
    bench.ROUNDS = rounds

    async def main() -> None:
        tmp = Path(tempfile.mkdtemp(prefix="arbcore-paired-"))
        await bench.tick_to_order(tmp, busy_poll=True, warm_ms=bench.AWAKE_WARM_MS, awake_sims=True)

    uvloop.run(main())
    return tagged


def report(tagged: list[tuple[bool, int | None]]) -> str:
    pairs = [
        (w_on - w_off) / 1e3
        for (a_on, a), (b_on, b) in zip(tagged[::2], tagged[1::2], strict=False)
        if a is not None and b is not None and a_on != b_on
        for w_on, w_off in [(a, b) if a_on else (b, a)]
    ]
    if not pairs:
        return "no pairs: the packet socket needs CAP_NET_RAW"
    lines = []
    for state in (True, False):
        v = sorted(w / 1e3 for s, w in tagged if s is state and w is not None)
        lines.append(f"{'on ' if state else 'off'}: n {len(v)}, p50 {statistics.median(v):.1f} µs, "
                     f"p90 {v[int(len(v) * 0.9)]:.1f} µs")  # fmt: skip
    faster = sum(d < 0 for d in pairs) / len(pairs)
    lines.append(f"paired (on - off): median {statistics.median(pairs):+.1f} µs over {len(pairs)} pairs, "
                 f"on faster in {faster:.0%}")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    variant(sys.argv[1])
    print(report(run(int(sys.argv[2]) if len(sys.argv) > 2 else 400)))
