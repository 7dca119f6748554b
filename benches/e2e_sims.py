"""One simulated venue of the e2e latency bench (benches/test_e2e_latency.py) in its own process,
as a real venue is another machine: its CPU work is neither the engine's nor the other venue's
(one process for both would read the second order only after handling the first completely).

Usage: python e2e_sims.py CONFIG.toml OUT.json [CPUS [spin]], CONFIG listing one simulated venue,
CPUS the CPUs to run on ("1" or "1,2"; default: any), away from the engine's; ``spin``: the
process never sleeps (see :func:`spin`). Starts the
`SimCluster` of the config, writes the endpoints, the account keys and a control port to OUT.json
(atomically), then serves until ``stop``, SIGTERM, EOF on stdin or the parent's death.

The mid is held where the config starts it (``sim_mid``): each process would otherwise walk its
own, and two independent walks (with their 60 bps dislocations) cross each other now and then,
opening opportunities the bench did not make. The book still changes every ``sim_interval_ms``
(levels set and deleted around the mid), so the engine's books stay LIVE; two venues around the
same fixed mid never cross.

Control: one JSON object per line over TCP on 127.0.0.1, one JSON line back per request. Stamps
are ``time.perf_counter_ns`` (CLOCK_MONOTONIC, comparable across processes): per order, when the
frame (or REST request) carrying it was received (``arrivals``), and when it reached
``SimExchange.submit`` (``accepted``); with each, the engine's port of the WebSocket connection
that carried it (``peers``, None for REST), by which the bench finds its TCP segment.
- ``{"cmd": "arm"}``: wait until no order came for a few ms, forget the stamps, and note this
  venue's best ask (to refill on ``restore``). Answers ``{"ask": best ask}``.
- ``{"cmd": "jump", "ask": A, "n": 1}``: wait until no order came for a few ms, forget the stamps,
  pause a few ms (the engine's loop is idle), raise this venue's bid to 20 bps over ``A`` (the
  other venue's ask: worth taking after both taker fees; the asks below it go), publish it, and
  wait up to 2 s for ``n`` orders. Answers ``{"t0": departure of the book frame, "arrivals": [...],
  "accepted": [...]}``. The book stays so until ``restore``.
- ``{"cmd": "collect", "n": 1, "wait_s": 2.0}``: wait up to ``wait_s`` for ``n`` orders since the
  last ``arm`` or ``jump``. Answers ``{"arrivals": [...], "accepted": [...]}``.
- ``{"cmd": "restore"}``: put the book back after a ``jump``, and refill the best ask noted by
  ``arm`` if it was taken (the engine sends its orders once its ticket is over, which only the
  engine knows).
- ``{"cmd": "stop"}``: answer, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from arbcore.runner.config import parse_toml
from arbcore.runner.sim_cluster import SimCluster

#: quiet time without an order before a round, and the pause before a jump's publish: the
#: engine's process has finished with the previous round's orders
QUIET_S = 0.005
WAIT_ORDERS_S = 2.0
#: the pause between stamping an order frame's arrival and handling it (``SimVenue.stand_off_s``):
#: both simulators share a core on a 2-core host, and without it the second reads its order only
#: after the first has handled its own (~300 µs of Python; measured: the second order read 350 µs
#: after the first instead of ~50 µs). Long enough for the other process to finish its pass and
#: read; the accepted stamps include it.
STAND_OFF_S = 100e-6


class Bench:
    def __init__(self, cluster: SimCluster, venue: str, symbol: str) -> None:
        self.sim = cluster.venues[venue]
        self.state = self.sim.instruments[symbol]
        self.sim.stand_off_s = STAND_OFF_S
        self.symbol = symbol
        self.arrivals: list[int] = []
        self.accepted: list[int] = []
        self.peers: list[int | None] = []  # the engine's port of the connection that carried each order
        self.last_order = 0.0  # time.monotonic() of the last order
        self.want = 0  # orders the pending wait is for
        self.got: asyncio.Event = asyncio.Event()
        self.jumped: tuple[int, dict[int, int]] | None = None  # (the new bid, the asks it removed)
        self.armed: int | None = None  # the best ask at ``arm``
        mid = self.state.process.mid
        self.state.mid_fn = lambda: mid  # a fixed mid (see the module's docstring)
        ex = cluster.exchanges[venue]
        orig = ex.submit

        def timed(*a: Any, **k: Any) -> Any:
            now = time.perf_counter_ns()
            recv = self.sim.request_recv_ns()  # the stamp of the frame (or REST request) that carried it
            self.arrivals.append(now if recv is None else recv)
            self.accepted.append(now)
            self.peers.append(self.peer_port())
            self.last_order = time.monotonic()
            if len(self.arrivals) >= self.want:
                self.got.set()
            return orig(*a, **k)

        ex.submit = timed  # type: ignore[method-assign]

    def peer_port(self) -> int | None:
        """The engine's TCP port of the WebSocket connection being served (None: a REST request)."""
        conn = self.sim.serving
        if conn is None or conn.transport is None:
            return None
        peer = conn.transport.underlying_transport.get_extra_info("peername")
        return None if peer is None else int(peer[1])

    def stamps(self) -> dict[str, Any]:
        return {"arrivals": list(self.arrivals), "accepted": list(self.accepted), "peers": list(self.peers)}

    async def quiet(self) -> None:
        quiet_by = time.monotonic() + 5
        while time.monotonic() - self.last_order < QUIET_S and time.monotonic() < quiet_by:
            await asyncio.sleep(0.001)

    def forget(self) -> None:
        self.arrivals.clear()
        self.accepted.clear()
        self.peers.clear()

    async def collect(self, n: int, wait_s: float) -> dict[str, Any]:
        self.want = n
        if len(self.arrivals) < n:
            self.got.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.got.wait(), wait_s)
        return self.stamps()

    async def arm(self) -> dict[str, Any]:
        await self.quiet()
        self.forget()
        self.armed = self.state.process.book.best_ask()
        return {"ask": self.armed}

    async def jump(self, other_ask: int, n: int) -> dict[str, Any]:
        if self.jumped is not None:
            self.restore()
        await self.quiet()
        await asyncio.sleep(QUIET_S)  # the engine is idle (it waits for this answer in another thread)
        book = self.state.process.book
        price = other_ask + 1000 * self.state.spec.tick  # 20 bps over the other venue's ask
        removed = {p: q for p, q in book.asks.items() if p <= price}
        deltas = [(1, p, 0) for p in removed] + [(0, price, 10_000)]
        for side, p, q in deltas:
            book.apply(side, p, q)
        self.jumped = (price, removed)
        self.forget()
        self.sim.publish(self.symbol, deltas)
        t0 = self.sim.last_send_ns
        return {"t0": t0, **await self.collect(n, WAIT_ORDERS_S)}

    def restore(self) -> None:
        book = self.state.process.book
        if self.jumped is not None:
            # put the book back as it was (the new bid may have been hit)
            price, removed = self.jumped
            self.jumped = None
            back = [(0, price, 0)] + [(1, p, q) for p, q in removed.items()]
            for side, p, q in back:
                book.apply(side, p, q)
            self.sim.publish(self.symbol, back)
        if self.armed is not None:
            # the ask was taken: refill it so the next round finds the same book
            ask, self.armed = self.armed, None
            if book.best_ask() != ask:
                lot = 500 * self.state.spec.lot
                book.apply(1, ask, lot)
                self.sim.publish(self.symbol, [(1, ask, lot)])


async def spin() -> None:
    """The venue as a real one is to the engine: awake. Its loop polls (one ready callback
    always) and yields the CPU after each pass, so two simulators sharing a core both stay
    runnable and read their orders within a pass of the other's loop. Why: on loopback the
    sender's ``send()`` runs the receiver's TCP input and, for a receiver asleep in epoll, its
    wake-up (an inter-processor interrupt, a VM exit in a guest): ~10 µs per order on the 2-core
    VM measured, charged to the engine though a venue on another host would cost it nothing."""
    while True:
        await asyncio.sleep(0)
        os.sched_yield()


async def main(config_path: str, out: str, spinning: bool = False) -> None:
    config = parse_toml(Path(config_path).read_text())
    venues = [v.name for v in config.venues.values() if v.simulated]
    assert len(venues) == 1, f"e2e_sims serves one venue per process, the config lists {venues}"
    venue = venues[0]
    cluster = SimCluster.from_config(config)
    bench = Bench(cluster, venue, config.instruments[0].venues[venue].symbol)
    await cluster.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    spinner = loop.create_task(spin()) if spinning else None

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                req = json.loads(line)
                cmd = req["cmd"]
                if cmd == "arm":
                    reply: dict[str, Any] = await bench.arm()
                elif cmd == "jump":
                    reply = await bench.jump(int(req["ask"]), int(req.get("n", 1)))
                elif cmd == "collect":
                    reply = await bench.collect(int(req.get("n", 1)), float(req.get("wait_s", WAIT_ORDERS_S)))
                elif cmd == "restore":
                    bench.restore()
                    reply = {"ok": True}
                elif cmd == "stop":
                    reply = {"ok": True}
                else:
                    reply = {"error": f"unknown command {cmd!r}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
                if cmd == "stop":
                    stop.set()
                    return
        except (ConnectionError, ValueError, KeyError, TypeError) as e:
            print(f"e2e_sims {venue}: control: {e!r}", file=sys.stderr)
        except asyncio.CancelledError:  # shutting down (SIGTERM, EOF on stdin, parent gone)
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(control, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    eps = {name: ep.to_json() for name, ep in cluster.endpoints(config).items()}
    tmp = Path(out + ".tmp")
    tmp.write_text(json.dumps({"control_port": port, "venues": eps}))
    tmp.rename(out)

    # exit with the parent: SIGTERM, EOF on stdin (the parent holds its other end), or reparented
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    parent = os.getppid()

    def on_stdin() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    with contextlib.suppress(OSError, ValueError):  # stdin not pollable (a regular file): the pid check remains
        loop.add_reader(0, on_stdin)

    async def watch_parent() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        stop.set()

    watcher = loop.create_task(watch_parent())
    await stop.wait()
    watcher.cancel()
    if spinner is not None:
        spinner.cancel()
    server.close()
    await cluster.stop()


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[3]:
        os.sched_setaffinity(0, {int(c) for c in sys.argv[3].split(",")})
    uvloop.run(main(sys.argv[1], sys.argv[2], len(sys.argv) > 4 and sys.argv[4] == "spin"))
