"""The echo floor of the e2e latency bench (benches/test_e2e_latency.py) laid out as its rounds
are: a bare picows echo server where the engine runs (its CPU; polling instead of sleeping when
the engine busy-polls, else woken by a timer as often as the engine's dry runs wake it), and a
client where the simulated venues run (their CPUs; spinning when they do), which sends one
frame after each quiet pause as long as a round's and times the echo.

Why not only the round trip on one loop: there both ends are one process on one core, back to
back, with every cache hot; the e2e rounds cross cores after milliseconds of quiet, which on the
2-core VM measured costs each one-way hop 15-40 µs more (a send from a core that was idle, or to
one). The engine's time above the floor is its e2e figure minus the floor of the same layout.

Usage:
  python e2e_echo.py server CPU BUSY TICK_MS WARM OUT.json   serve until EOF on stdin; OUT.json: {"port": P}
  python e2e_echo.py client PORT CPUS SPIN N OUT.json
CPU/CPUS: "" for any; BUSY/SPIN/WARM: 1 or 0; TICK_MS: a timer that wakes the server's loop this
often (0: none), as ``[run] keep_warm_ms`` wakes the engine's (WARM: and a frame goes through its
echo each time, see :func:`serve`): a core woken every millisecond does not
sink into the deeper idle states a core left alone does, whose wake-up costs ~100 µs more on the
VM measured. The client writes {"rtt_ns": [...], "wire_ns": [...], "tapped": bool} to OUT.json:
the round trips, and the server's turnarounds stamped at the loopback device (``e2e_wire.py``,
every other frame, where the client may open a packet socket): the floor of the engine's
wire-stamped rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import uvloop
from picows import WSListener, WSMsgType, WSTransport, ws_connect, ws_create_server

from e2e_wire import WireTap, first_after

#: the pause before each round's frame: as long as a jump's (a quiet wait, then as long again)
PAUSE_S = 0.010
#: about the size of a round's book frame and of an order frame
PAYLOAD = b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[]}'.ljust(512)


def pin(cpus: str) -> None:
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


async def busy(warm: WSTransport | None = None, every_ms: float = 0) -> None:
    """As the engine's ``[run] busy_poll`` and the simulators' ``spin``: one ready callback always,
    the CPU yielded after each pass (two processes may share it). ``warm``: every ``every_ms``, a
    frame through this process's own echo (see :func:`serve`)."""
    every_ns, next_ns = int(every_ms * 1e6), 0
    while True:
        await asyncio.sleep(0)
        if warm is not None and (now := time.perf_counter_ns()) >= next_ns:
            next_ns = now + every_ns
            warm.send(WSMsgType.TEXT, PAYLOAD)
        os.sched_yield()


class Echo(WSListener):
    """Sends every text frame back."""

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            transport.send(WSMsgType.TEXT, frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()


async def tick(period_s: float, warm: WSTransport | None = None) -> None:
    while True:
        await asyncio.sleep(period_s)
        if warm is not None:
            warm.send(WSMsgType.TEXT, PAYLOAD)


async def serve(out: str, poll: bool, tick_ms: float, warm: bool) -> None:
    """``warm``: each tick (each ``tick_ms`` also when polling) one frame goes through this echo
    from a private connection of this process, as the engine's dry runs (``[run] keep_warm_ms``,
    ``warm_sends``) run its path and write an order-sized frame: a floor left cold while the
    engine is kept warm would be ~20-40 µs higher on the VM measured (its code out of the caches)."""
    loop = asyncio.get_running_loop()
    server = await ws_create_server(lambda _: Echo(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    own = None
    if warm:
        own, _ = await ws_connect(WSListener, f"ws://127.0.0.1:{port}/")
    if poll:
        spinner: asyncio.Task[None] | None = loop.create_task(busy(own, tick_ms))
    else:
        spinner = loop.create_task(tick(tick_ms / 1000, own)) if tick_ms > 0 else None
    tmp = Path(out + ".tmp")
    tmp.write_text(json.dumps({"port": port}))
    tmp.rename(out)
    done = asyncio.Event()

    def on_stdin() -> None:
        if not os.read(0, 4096):
            loop.remove_reader(0)
            done.set()

    loop.add_reader(0, on_stdin)  # the parent holds the other end: EOF when it is gone
    await done.wait()
    if spinner is not None:
        spinner.cancel()
    server.close()


class TimedClient(WSListener):
    """Resolves ``got`` with the arrival time of the next frame."""

    def __init__(self) -> None:
        self.got: asyncio.Future[int] | None = None

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if self.got is not None and not self.got.done():
            self.got.set_result(time.perf_counter_ns())


async def client(port: int, spin: bool, n: int, out: str) -> None:
    loop = asyncio.get_running_loop()
    spinner = loop.create_task(busy()) if spin else None
    listener = TimedClient()
    transport, _ = await ws_connect(lambda: listener, f"ws://127.0.0.1:{port}/")
    mine = transport.underlying_transport.get_extra_info("sockname")[1]  # (the server's own frames: other ports)
    can_tap = WireTap.possible()
    rtt: list[int] = []
    wire: list[int] = []
    for k in range(n):
        # every other frame with the packet socket open (its copies cost each write: the round
        # trips come from the others), as the engine's rounds (test_e2e_latency.Sims.jump)
        tap = WireTap.open([port]) if can_tap and k % 2 == 0 else None
        await asyncio.sleep(PAUSE_S)
        listener.got = loop.create_future()
        t0 = time.perf_counter_ns()
        transport.send(WSMsgType.TEXT, PAYLOAD)
        back = await asyncio.wait_for(listener.got, 2.0)
        if tap is None:
            rtt.append(back - t0)
            continue
        if (segs := tap.drain()) is not None:
            # the server's turnaround at the loopback device: the frame's segment to its echo's
            ask = first_after(segs, t0, src=(mine,), dst=(port,))
            echo = None if ask is None else first_after(segs, ask.ns, src=(port,), dst=(mine,))
            if ask is not None and echo is not None:
                wire.append(echo.ns - ask.ns)
        tap.close()
    transport.disconnect()
    if spinner is not None:
        spinner.cancel()
    Path(out).write_text(json.dumps({"rtt_ns": rtt, "wire_ns": wire, "tapped": can_tap}))


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "server":
        pin(sys.argv[2])
        uvloop.run(serve(sys.argv[6], sys.argv[3] == "1", float(sys.argv[4]), sys.argv[5] == "1"))
    elif role == "client":
        pin(sys.argv[3])
        uvloop.run(client(int(sys.argv[2]), sys.argv[4] == "1", int(sys.argv[5]), sys.argv[6]))
    else:
        raise SystemExit(f"e2e_echo: unknown role {role!r} (server or client)")
