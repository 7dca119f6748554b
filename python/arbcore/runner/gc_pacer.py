"""Python's cyclic garbage collector, kept off the ticket's path.

Why: CPython runs a collection inside whichever allocation crosses a threshold, so one can land
in the frame handler of the very frame that opens a spread, between the decode and the writes.
Measured on the e2e bench's awake rounds (busy_poll, dry runs every 0.1 ms, ~60 s): 2,101 young
collections (33 µs p50, 558 µs max), 191 middle ones (96 µs p50, 2.3 ms max) and full ones of
70-107 ms (with the profiler's own lists in the heap), i.e. about 35 collections a second, any
of which could be the one inside a round.

So at start (:meth:`GcPacer.start`) the heap built so far (modules, books, clients, the journal)
is collected once and frozen (``gc.freeze``: later collections no longer walk it), and with
``[run] busy_poll`` automatic collection is off: the polling loop calls :meth:`GcPacer.poll`
between two passes, which collects as CPython would (the same thresholds and generations) but
only there, where a frame waits at most for that one collection, never inside a handler, and
a full collection at most every 10 s.
:meth:`GcPacer.stop` gives the process its collector back as it was.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


class GcPacer:
    """The collector run by the engine's loop (see the module docs)."""

    def __init__(self, full_every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_every_s = full_every_s
        self._clock = clock
        self._last_full = clock()
        self.paced = False
        self.collections = [0, 0, 0]  # by generation, while paced
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()

    def start(self, paced: bool) -> None:
        """Collect and freeze what the start built; ``paced``: automatic collection off, the
        loop's :meth:`poll` collects instead."""
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        if paced and self._thresholds[0] > 0:
            gc.disable()
            self.paced = True

    def poll(self) -> int:
        """While paced: the generation CPython would collect now, collected (-1: none due). A
        call when nothing is due is one C call and a compare."""
        if not self.paced:
            return -1
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self._thresholds
        if c0 <= t0:
            return -1
        # as CPython picks it: the oldest generation whose count is over its threshold, but a
        # full collection at most every `full_every_s` (CPython skips one while few objects
        # survived since the last, which it counts and Python cannot read; a full one walks
        # everything allocated since the start, tens of ms on a heap of 10^5 objects)
        gen = 1 if c1 > t1 else 0
        if c2 > t2 and (now := self._clock()) - self._last_full >= self.full_every_s:
            gen, self._last_full = 2, now
        gc.collect(gen)
        self.collections[gen] += 1
        return gen

    def release(self) -> None:
        """No longer paced (the loop that polled is gone): automatic collection as it was before
        :meth:`start`; the heap stays frozen."""
        if self.paced and self._was_enabled:
            gc.enable()
        self.paced = False

    def stop(self) -> None:
        """Automatic collection as it was before :meth:`start`, the frozen heap collectable again."""
        self.release()
        gc.unfreeze()
