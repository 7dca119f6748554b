"""Refused tickets in the log, without a line per proposal.

Why: a condition that refuses tickets usually lasts (a venue's rate limit with seconds to go, a
circuit breaker open, funds short), and the strategy proposes again on every book update: a
``make run`` logged 452 refusals in 40 s, all for one exhausted limit. The first refusal of a
kind is logged at once (at ``level``, as "WHAT: reasons"); the same kind again within
``quiet_s`` is counted, and the count goes with the next line of that kind. A kind is the
reasons with their numbers left out, so "room for an order in 4.453 s" and "... in 4.431 s"
are one kind.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class RefusalLog:
    def __init__(self, log: logging.Logger, quiet_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 *, level: int = logging.INFO, what: str = "ticket refused") -> None:  # fmt: skip
        self._log = log
        self._level = level
        self._what = what
        self._quiet_s = quiet_s
        self._clock = clock
        self._kinds: dict[str, tuple[float, int]] = {}  # kind -> (when last logged, refusals not logged since)

    def log(self, reasons: Sequence[str]) -> None:
        text = "; ".join(reasons)
        kind = _NUMBER.sub("#", text)
        now = self._clock()
        last, held = self._kinds.get(kind, (-float("inf"), 0))
        if now - last < self._quiet_s:
            self._kinds[kind] = (last, held + 1)
            return
        if len(self._kinds) > 1000:  # kinds seen once long ago: forgotten, not kept forever
            self._kinds = {k: v for k, v in self._kinds.items() if now - v[0] < self._quiet_s}
        self._kinds[kind] = (now, 0)
        if held:
            self._log.log(self._level, "%s: %s (and %d more like it in the %.1f s before)", self._what, text, held,
                          now - last)  # fmt: skip
        else:
            self._log.log(self._level, "%s: %s", self._what, text)
