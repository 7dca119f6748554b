"""Keeping the order path warm between tickets: its dry runs, and with ``[run] busy_poll`` the
loop that polls the sockets instead of sleeping.

Why: a ticket that runs after a quiet spell runs from cold caches. The same Rust call that
decodes a book frame and sends both legs took 11 µs back to back, 69 µs after 20 ms idle and
18 µs when run dry every 1 ms of that idle (``test_order_path_take``). A dry run goes through
everything a ticket does up to the socket writes (``FastPath.warm_steps``), then re-reads each
feed's last frame with a scratch decoder (``FeedClient.warm_decoder``) and, with
``[run] warm_sends``, writes an order-sized frame on a private loopback connection
(``send_warmer.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator

from arbcore.runner.gc_pacer import GcPacer

log = logging.getLogger("arbcore.session")

#: a dry run, as its parts to run in order (built again for each run: the armed markets change)
DryRunParts = Callable[[], list[Callable[[], object]]]


class WarmLoop:
    """Runs the dry runs every ``period_s`` (``[run] keep_warm_ms``): on a timer, whole
    (:meth:`keep_warm`), or from the polling loop, a part per pass (:meth:`busy_poll`).

    ``parts`` is None when there is nothing to keep warm (no order path, or no dry runs
    configured); the polling loop still polls then. ``runs`` counts the dry runs started."""

    def __init__(self, parts: DryRunParts | None, period_s: float, gc: GcPacer) -> None:
        self.parts = parts
        self.period_s = period_s
        self.gc = gc
        self.runs = 0

    async def busy_poll(self) -> None:
        """``[run] busy_poll``: always one ready callback, so the loop polls its sockets with a zero
        timeout instead of sleeping in epoll. Between two book frames the process never idles:
        no wake-up from a halted core, and the decision path's caches stay warmer (the e2e bench
        measures both ways). One core at 100%. With dry runs (which may be more often than every
        1 ms here): one whenever it is due, a part per pass of the loop.

        Why in parts: a frame that comes during a dry run waits for it. Run whole, the dry run
        took 58 µs p50 of every 100 µs on the VM profiled (order path 28, decoders 13, the send
        warmer's write 16), and 37 of 50 profiled rounds' book frames came during one: 71 µs p50
        from their segment to the frame callback against 18 µs for the others. Between two parts
        the loop polls its sockets, so a frame waits for one part at most. The garbage collector
        runs here too, between two passes, never inside a handler (``gc_pacer.py``)."""
        due = 0.0
        pace_gc = self.gc.poll
        try:
            while True:
                await asyncio.sleep(0)
                pace_gc()
                if self.parts is not None and (now := time.monotonic()) >= due:
                    due = now + self.period_s
                    await self.in_parts()
        finally:
            self.gc.release()  # no loop to collect from: CPython collects again (stopped or failed)

    async def in_parts(self) -> None:
        """One dry run, a pass of the loop after each part (see :meth:`busy_poll`)."""
        for _ in self._parts_run():
            await asyncio.sleep(0)

    async def keep_warm(self) -> None:
        """Without busy_poll: the dry run on a timer, whole (:meth:`once`)."""
        while self.parts is not None:
            await asyncio.sleep(self.period_s)
            self.once()

    def once(self) -> None:
        """One dry run, whole."""
        for _ in self._parts_run():
            pass

    def _parts_run(self) -> Iterator[None]:
        """One dry run, a part per step (a step after each part that ran); none without parts,
        and it ends at a part that failed."""
        if self.parts is None:
            return
        self.runs += 1
        for part in self.parts():
            if not self._run_part(part):
                return
            yield

    def _run_part(self, part: Callable[[], object]) -> bool:
        """One part of a dry run; False if it failed, and no more dry runs from then on: a
        warm-up must not stop the loop that runs it (the busy poll), and the ticket's own call
        reports its errors itself."""
        try:
            part()
        except Exception:
            log.exception("keep_warm: the order path's dry run failed; no more dry runs this session")
            self.parts = None
            return False
        return True
