"""The simulator's request intake: the receive stamp (``SimVenue.request_recv_ns``) that the
end-to-end bench reads (an order request sees the stamp of the frame, WebSocket, or request, REST,
that carried it, taken before any parsing; outside a request there is none), the answers held
while a frame is handled and written in one go (same frames, same order), and the short path of
decimal parsing (same results and errors as ``to_raw``)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
import uvloop
from aiohttp import web
from picows import WSListener, WSMsgType, WSTransport, ws_connect

from arbcore.execution.orders import Side
from arbcore.sim.fmt import parse_raw
from arbcore.sim.orders.rig import OrderRig
from arbcore.sim.server import SimConnection, SimVenue
from arbcore.venues.orders.decimal_text import to_raw
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


class _Echoes:
    """A market-data protocol whose answer to any client frame is several frames of every
    WebSocket length class (7-bit, 16-bit, 64-bit), then one more sent after the callback."""

    name = "echoes"
    ws_path = "/ws"
    sizes = (5, 125, 126, 300, 65_535, 65_536, 70_000)

    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        for i, n in enumerate(self.sizes):
            conn.send(bytes([65 + i]) * n)
        asyncio.get_running_loop().call_soon(conn.send, b"later")

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return []


class _Collect(WSListener):
    def __init__(self) -> None:
        self.frames: list[tuple[WSMsgType, bytes, bool]] = []

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        self.frames.append((frame.msg_type, frame.get_payload_as_bytes(), frame.fin))


def test_held_answers_arrive_as_the_same_frames_in_order() -> None:
    async def main() -> None:
        venue = SimVenue(_Echoes(), [], interval=3600)  # type: ignore[arg-type]
        await venue.start()
        client = _Collect()
        transport, _ = await ws_connect(lambda: client, venue.ws_url)
        try:
            transport.send(WSMsgType.TEXT, b"go")
            end = time.monotonic() + 5
            while len(client.frames) < len(_Echoes.sizes) + 1 and time.monotonic() < end:
                await asyncio.sleep(0.01)
            want = [bytes([65 + i]) * n for i, n in enumerate(_Echoes.sizes)] + [b"later"]
            assert [p for _, p, _ in client.frames] == want
            assert all(t == WSMsgType.TEXT and fin for t, _, fin in client.frames)
        finally:
            transport.disconnect()
            await venue.stop()

    uvloop.run(main())


def test_parse_raw_is_to_raw() -> None:
    def outcome(f: Any, text: str, d: int) -> tuple[str, object]:
        try:
            v = f(text, d, "x")
        except ValueError as e:
            return "error", str(e)
        return type(v).__name__, v

    rng = random.Random(5)
    texts = ["0", "7", "0.01", "50000.10", "007.5", "5.", ".5", "1e-3", "-1", "+1", " 1", "1_0", "", "abc", "²", "1.²"]
    texts += ["".join(rng.choice("0123456789.") for _ in range(rng.randint(1, 9))) for _ in range(20_000)]
    for text in texts:
        d = rng.randint(0, 9)
        assert outcome(parse_raw, text, d) == outcome(to_raw, text, d), (text, d)
