"""The simulated venues of the e2e latency bench (benches/test_e2e_latency.py) in their own
process, as a real venue is another machine: their CPU work is not the engine's.

Usage: python e2e_sims.py CONFIG.toml OUT.json. Starts the `SimCluster` of the config, writes the
endpoints, the account keys and a control port to OUT.json (atomically), then serves until
``stop``, SIGTERM, EOF on stdin or the parent's death.

Control: one JSON object per line over TCP on 127.0.0.1, one JSON line back per request.
- ``{"cmd": "jump"}``: wait until no order came for a few ms, raise okx's BTC-USDT ask over
  binance_spot's ask (20 bps: worth taking after both taker fees), publish it, and wait up to 2 s
  for two orders. Answers ``{"t0": departure of the book frame, "arrivals": [...], "accepted":
  [...]}`` (perf_counter_ns, CLOCK_MONOTONIC, comparable across processes): per order, when the
  frame (or REST request) carrying it was received, and when it reached ``SimExchange.submit``.
  The book stays open until ``restore``.
- ``{"cmd": "restore"}``: put okx's book back and refill binance_spot's ask if it was taken (the
  engine sends it once its ticket is over, which only the engine knows).
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
from arbcore.runner.session import SimCluster

#: quiet time without an order before a jump, and the pause between answering nothing and the
#: publish: the engine's process has finished with the previous round's orders
QUIET_S = 0.005
WAIT_ORDERS_S = 2.0


class Bench:
    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster
        self.arrivals: list[int] = []
        self.accepted: list[int] = []
        self.last_order = 0.0  # time.monotonic() of the last order
        self.got_two: asyncio.Future[None] | None = None
        self.a_sim, self.b_sim = cluster.venues["binance_spot"], cluster.venues["okx"]
        self.a_state = self.a_sim.instruments["BTCUSDT"]
        self.b_state = self.b_sim.instruments["BTC-USDT"]
        self.open: tuple[int, int, dict[int, int]] | None = None  # (A's ask, B's new ask, B's removed asks)
        for ex in cluster.exchanges.values():
            orig = ex.submit

            def timed(*a: Any, _orig: Any = orig, _venue: Any = ex.venue, **k: Any) -> Any:
                now = time.perf_counter_ns()
                recv = _venue.request_recv_ns()  # the stamp of the frame (or REST request) that carried it
                self.arrivals.append(now if recv is None else recv)
                self.accepted.append(now)
                self.last_order = time.monotonic()
                if len(self.arrivals) >= 2 and self.got_two is not None and not self.got_two.done():
                    self.got_two.set_result(None)
                return _orig(*a, **k)

            ex.submit = timed  # type: ignore[method-assign]

    async def jump(self) -> dict[str, Any]:
        if self.open is not None:
            self.restore()
        quiet_by = time.monotonic() + 5
        while time.monotonic() - self.last_order < QUIET_S and time.monotonic() < quiet_by:
            await asyncio.sleep(0.001)
        await asyncio.sleep(QUIET_S)  # the engine is idle (it waits for this answer in another thread)
        a_book, b_book = self.a_state.process.book, self.b_state.process.book
        ask = a_book.best_ask()
        assert ask is not None
        price = ask + 1000 * self.b_state.spec.tick  # 20 bps over A's ask
        removed = {p: q for p, q in b_book.asks.items() if p <= price}
        deltas = [(1, p, 0) for p in removed] + [(0, price, 10_000)]
        for side, p, q in deltas:
            b_book.apply(side, p, q)
        self.open = (ask, price, removed)
        self.arrivals.clear()
        self.accepted.clear()
        self.got_two = asyncio.get_running_loop().create_future()
        self.b_sim.publish("BTC-USDT", deltas)
        t0 = self.b_sim.last_send_ns
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.got_two, WAIT_ORDERS_S)
        self.got_two = None
        return {"t0": t0, "arrivals": list(self.arrivals), "accepted": list(self.accepted)}

    def restore(self) -> None:
        if self.open is None:
            return
        ask, price, removed = self.open
        self.open = None
        # put B back as it was (the new bid may have been hit)
        b_book = self.b_state.process.book
        back = [(0, price, 0)] + [(1, p, q) for p, q in removed.items()]
        for side, p, q in back:
            b_book.apply(side, p, q)
        self.b_sim.publish("BTC-USDT", back)
        # A's ask was taken: refill it so the next jump finds the same book
        a_book = self.a_state.process.book
        if a_book.best_ask() != ask:
            lot = 500 * self.a_state.spec.lot
            a_book.apply(1, ask, lot)
            self.a_sim.publish("BTCUSDT", [(1, ask, lot)])


async def main(config_path: str, out: str) -> None:
    config = parse_toml(Path(config_path).read_text())
    cluster = SimCluster.from_config(config)
    await cluster.start()
    bench = Bench(cluster)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                cmd = json.loads(line)["cmd"]
                if cmd == "jump":
                    reply: dict[str, Any] = await bench.jump()
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
        except (ConnectionError, ValueError, KeyError) as e:
            print(f"e2e_sims: control: {e!r}", file=sys.stderr)
        except asyncio.CancelledError:  # shutting down (SIGTERM, EOF on stdin, parent gone)
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(control, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    eps = {
        name: {
            "md_url": ep.md_url, "rest_url": ep.rest_url, "order_urls": dict(ep.order_urls),
            "api_key": ep.credentials.api_key, "secret": ep.credentials.secret, "passphrase": ep.credentials.passphrase,
        }
        for name, ep in cluster.endpoints(config).items()
    }  # fmt: skip
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
    server.close()
    await cluster.stop()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2]))
