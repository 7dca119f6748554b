"""The order path's own writes (``OrderPath.arm_wire``, ``rust/python/wire.rs``): a ticket the
taker decides is stored in a real intent log and both frames written on real picows sockets to
a loopback server, in the same call, only while both arms hold; otherwise nothing is stored or
written and the ticket goes back to Python."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import uvloop
from picows import WSListener, WSMsgType, WSTransport, ws_connect, ws_create_server

import arbcore
from arbcore.execution.intent_log import IntentLog
from arbcore.venues import ratelimit
from test_order_path import _taker_rig


class _Collect(WSListener):
    def __init__(self, got: list[bytes]) -> None:
        self.got = got

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.got.append(frame.get_payload_as_bytes())


class _Quiet(WSListener):
    pass


class Rig:
    """The taker's path and book with a spread to take, an intent log, a loopback server and one
    connection to it per leg."""

    def __init__(self, tmp: Path, capacity: int = 1 << 20) -> None:
        self.path, self.book, self.markets = _taker_rig()
        self.armed = self.path.arm_taker(self.markets, min_edge_bps=0.0, cap=None, lots=[100, 100])
        now = time.time_ns()
        self.book.apply_snapshot("binance_spot", [(4_990_000, 10**6)], [(5_000_000, 10**6)], seq=1, venue_ts=now,
                                 recv_ts=now)  # fmt: skip
        self.book.apply_snapshot("okx", [(5_010_000, 10**6)], [(5_060_000, 10**6)], seq=1, venue_ts=now, recv_ts=now)
        self.log = IntentLog(tmp / "intents.log", capacity=capacity)
        self.path.set_wire_store(self.log.tail, WSMsgType.TEXT)
        self.got: list[bytes] = []
        self.server: Any = None
        self.legs: list[WSTransport] = []

    async def connect(self) -> None:
        self.server = await ws_create_server(lambda _: _Collect(self.got), "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        for _ in range(2):
            t, _ = await ws_connect(_Quiet, f"ws://127.0.0.1:{port}/")
            self.legs.append(t)

    def arm(self, limiters: list[ratelimit.RateLimiter | None]) -> None:
        for m, t, lim in zip(self.markets, self.legs, limiters, strict=True):
            self.path.arm_wire(m, t, lim, 0 if lim is None else lim.version)

    async def received(self, n: int, within: float = 2.0) -> list[bytes]:
        end = asyncio.get_running_loop().time() + within
        while len(self.got) < n and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # (and nothing more)
        return self.got

    def close(self) -> None:
        for t in self.legs:
            t.disconnect()
        self.server.close()
        self.log.close()


def _run(tmp: Path, body: Any, capacity: int = 1 << 20) -> None:
    async def main() -> None:
        rig = Rig(tmp, capacity)
        await rig.connect()
        try:
            await body(rig)
        finally:
            rig.close()

    uvloop.run(main())


def test_armed_legs_are_stored_then_written_in_the_take(tmp_path: Path) -> None:
    """Both legs armed: the record is in the log and both frames reach the server, as the ticket
    says, stamped after the decision; the arms are spent (one ticket each)."""

    async def body(rig: Rig) -> None:
        limiters = [ratelimit.binance_spot(), ratelimit.okx()]
        rig.arm(limiters)
        assert rig.path.stale_wires() == []
        got = rig.path.take(rig.armed, "W-", rig.book)
        assert not isinstance(got, int), got
        ticket_id, record, bf, sf = got[:4]
        t0, written = got[11][3], got[11][4]
        assert t0 < written <= time.perf_counter_ns()
        assert sorted(await rig.received(2)) == sorted([bf, sf])
        assert rig.log.used == len(record)  # stored as framed, before the frames
        assert sorted(rig.path.stale_wires()) == sorted(rig.markets)  # one-shot
        # armed again, the next ticket is written too; disarmed, not
        rig.arm(limiters)
        again = rig.path.take(rig.armed, "W-", rig.book)
        assert not isinstance(again, int) and again[11][4] > 0 and len(await rig.received(4)) == 4
        rig.path.disarm_wire(rig.markets[1])
        rest = rig.path.take(rig.armed, "W-", rig.book)
        assert not isinstance(rest, int) and rest[11][4] == 0 and len(await rig.received(5, within=0.1)) == 4
        rig.log.close()
        staged = IntentLog(rig.log.path).read()
        assert [s.ticket_id for s in staged] == [ticket_id, again[0]]

    _run(tmp_path, body)


def test_an_arm_that_no_longer_holds_writes_nothing(tmp_path: Path) -> None:
    """A limiter charged since the arm, a socket gone, two legs on one limiter, a full log: the
    ticket comes back unwritten (0), nothing stored, nothing sent. A dry run stores zeros only."""

    async def body(rig: Rig) -> None:
        limiters = [ratelimit.binance_spot(), ratelimit.okx()]

        def take_unwritten(why: str) -> None:
            got = rig.path.take(rig.armed, "W-", rig.book)
            assert not isinstance(got, int) and got[11][4] == 0, why
            assert rig.log.used == 0, why

        rig.arm(limiters)
        limiters[1].penalise(0.001)  # a 429 meanwhile (a charge bumps the version the same way)
        assert rig.path.stale_wires() == [rig.markets[1]]
        take_unwritten("limiter charged")
        shared = ratelimit.okx()
        rig.arm([shared, shared])  # room for one order each is not room for both
        assert rig.path.stale_wires() == []
        take_unwritten("shared limiter")
        rig.arm([None, None])
        dry = rig.path.take(rig.armed, "W-", rig.book, True)
        assert not isinstance(dry, int) and dry[11][4] == -1 and rig.log.used == 0
        assert rig.path.stale_wires() == []  # a dry run spends nothing
        rig.legs[0].disconnect()
        await asyncio.sleep(0.02)
        assert rig.path.stale_wires() == [rig.markets[0]]
        take_unwritten("socket gone")
        assert await rig.received(1, within=0.1) == []

    _run(tmp_path, body)


def test_a_full_log_leaves_the_ticket_to_python(tmp_path: Path) -> None:
    """When the record does not fit in the log the path writes nothing (the Python side makes room
    first: ``Journal.store_framed``) and the arms stay."""

    async def body(rig: Rig) -> None:
        rig.arm([None, None])
        probe = rig.path.take(rig.armed, "W-", rig.book, True)
        assert not isinstance(probe, int)
        size = len(probe[1])
        assert rig.log.append(bytes(len(rig.log._mm) - size + 16 - 8))  # 16 bytes short of one more
        got = rig.path.take(rig.armed, "W-", rig.book)
        assert not isinstance(got, int) and got[11][4] == 0
        assert rig.path.stale_wires() == [] and await rig.received(1, within=0.1) == []

    _run(tmp_path, body, capacity=4096)


def test_a_bad_arm_is_named() -> None:
    path, _, markets = _taker_rig()
    try:
        path.arm_wire(len(markets), object(), None, 0)
    except IndexError as e:
        assert f"market {len(markets)} is not registered" in str(e)
    else:
        raise AssertionError("no error")
    assert arbcore.OrderPath().stale_wires() == []
