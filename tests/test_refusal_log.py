"""Refused tickets are logged once per kind and second, with a count of the rest."""

from __future__ import annotations

import logging

import pytest

from arbcore.execution.refusal_log import RefusalLog


def test_one_line_per_kind_a_second_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    refusals = RefusalLog(logging.getLogger("t.refusals"), quiet_s=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="t.refusals"):
        for k in range(50):  # the same limit, its wait counting down: one kind
            now[0] = 100.0 + k * 0.01
            refusals.log([f"binance sell: rate limit: room for an order in {4.5 - k * 0.01:.3f} s"])
        refusals.log(["okx: circuit breaker open"])  # another kind: logged at once
        now[0] = 101.2
        refusals.log(["binance sell: rate limit: room for an order in 3.300 s"])
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "ticket refused: binance sell: rate limit: room for an order in 4.500 s",
        "ticket refused: okx: circuit breaker open",
        "ticket refused: binance sell: rate limit: room for an order in 3.300 s"
        " (and 49 more like it in the 1.2 s before)",
    ]
