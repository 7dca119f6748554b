"""The simulator's receive stamp (``SimVenue.request_recv_ns``) that the end-to-end bench reads:
an order request sees the stamp of the frame (WebSocket) or request (REST) that carried it, taken
before any parsing; outside a request there is none."""

from __future__ import annotations

import time
from typing import Any

import pytest

from arbcore.execution.orders import Side
from arbcore.sim.orders.rig import OrderRig
from test_order_clients import QTY, best, intent
from test_order_clients import run as run_venue


@pytest.mark.parametrize("venue", ["binance_spot", "okx", "coinbase"])  # WS, WS, REST order entry
def test_order_sees_the_stamp_of_its_own_request(venue: str) -> None:
    seen: list[tuple[int | None, int]] = []

    async def body(rig: OrderRig) -> None:
        orig = rig.exchange.submit

        def timed(*a: Any, **k: Any) -> Any:
            seen.append((rig.venue.request_recv_ns(), time.perf_counter_ns()))
            return orig(*a, **k)

        rig.exchange.submit = timed  # type: ignore[method-assign]
        assert rig.venue.request_recv_ns() is None
        for _ in range(2):
            sent = time.perf_counter_ns()
            _, ask = best(rig)
            await rig.client.place(intent(rig, Side.BUY, QTY, ask))
            assert len(seen) >= 1
            recv, at_submit = seen[-1]
            assert recv is not None and sent < recv <= at_submit
        assert rig.venue.request_recv_ns() is None

    run_venue(venue, body)
