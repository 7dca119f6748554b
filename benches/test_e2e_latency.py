"""Workload (e) and the order-path figures of the execution issue, measured over loopback.

The simulated venues run in their own processes, one per venue (``benches/e2e_sims.py``), as a
real venue is another machine: their parsing, matching and publishing is neither on the engine's
core or loop nor on each other's (one process for both venues read the second order only after
handling the first, ~300 µs later). The engine (``TradingSession`` with ``external=`` endpoints)
runs in this process, in its own uvloop. ``time.perf_counter_ns`` is CLOCK_MONOTONIC on Linux, one
clock for all three processes, so the simulators' stamps and the engine's compare directly. The
simulators hold their mids (two processes would each walk their own and cross now and then); their
books still change every ``sim_interval_ms``, so they stay LIVE.

The engine runs as a low-latency deployment runs it: pinned to one CPU (``[run] cpu``), the
simulators' processes on the others (on a 2-core host: both on the second core), and its order
path kept warm (``[run] keep_warm_ms = 1``). Unpinned, the kernel now and then runs the simulator
that the first leg woke on the engine's core, and the engine writes the second leg only after that
simulator's whole order handling (~300 µs of Python); unwarmed, the first ticket after a quiet
spell finds little of its path in the caches. The ``untuned`` rows run the default configuration
(neither).

- **Tick to order** (the headline, ``engine``): a simulated venue sends one book frame that opens a
  cross-venue spread; the engine decodes it, detects, asks the strategy, validates, reserves,
  journals both intents and sends both IOC legs; each simulated venue stamps an order when the
  frame carrying it is received (entry of its WebSocket frame callback, or of the REST handler).
  Latency = the later of the two stamps - departure of the book frame (every hop a real loopback
  socket). Only frames that carry an order count: the stamp is read when the request reaches
  ``SimExchange.submit`` (pings, logins, subscriptions never do).
- **Tick to accepted** (``accepted``): the same rounds, stamped at ``SimExchange.submit``, i.e.
  after the simulators parsed the requests, verified their signatures and found the accounts.
- **On the wire** (``engine_wire``): every other round, the same latency stamped by the kernel at
  the loopback device (``benches/e2e_wire.py``): the book frame's TCP segment reaching the
  engine's socket to the later order segment reaching its simulator's. The callback stamps above
  also count the simulators' own Python and their sharing of one core; these count neither.
- **Echo floor**: a bare picows echo round trip on one loop in this process, same run; and per
  layout (``benches/e2e_echo.py``) the round trip and, stamped at the loopback device, the echo
  server's turnaround (``echo_layout_wire``, the floor of ``engine_wire``).
- **Decision to wire**: inside the engine, from the ticket decision to both orders handed to
  their sockets.
- ``awake``: the engine with ``[run] busy_poll`` and its order path run dry every 0.1 ms, against
  simulators that never sleep (``e2e_sims.py`` ``spin``): a venue on another host costs the
  engine's ``send()`` no wake-up of a sleeping receiver, which loopback charges it.
- ``in_process``: the same rounds with the simulators in the engine's process and loop (the
  previous setup, kept for comparison: there the engine pays for the simulators' work).

For each round the bench asks, over blocking control sockets from a worker thread
(``run_in_executor``), binance_spot's process for its best ask, then okx's process to jump its bid
over it (okx stamps the departure of its book frame, t0, and answers once its order came), then
binance_spot's process for its order's stamps: the engine's loop is idle, waiting, when the book
frame comes, and okx's process pauses a few ms before publishing.

Writes ``target/bench-e2e.json`` for ``benches/report.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import uvloop
from picows import WSMsgType, ws_connect, ws_create_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from arbcore.runner.config import parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import SimEndpoint, TradingSession
from e2e_echo import Echo, TimedClient
from e2e_wire import Segment, WireTap, first_after, last_before
from engine_helpers import config_text, wait_live

ROUNDS = 300
#: a round starts at most this often: Binance spot allows 100 orders per 10 s per account and the
#: engine's own limiter enforces it, so faster rounds get their binance leg refused locally (a
#: one-legged ticket, not the path measured); one order per round (a hedge at most: a second)
ROUND_PERIOD_S = 0.12
OUT = Path(__file__).resolve().parent.parent / "target" / "bench-e2e.json"
HERE = Path(__file__).resolve().parent
VENUES = ["binance_spot", "okx"]
#: near-static books (a step every 0.5 s keeps them LIVE; the simulators hold their mids, see
#: benches/e2e_sims.py)
SIM_INTERVAL_MS = 500
#: the dry-run period of the ``awake`` rounds: from the polling loop, so below the timers' 1 ms
AWAKE_WARM_MS = 0.1
CONFIG = config_text(VENUES, auto_trade=True, sim_interval_ms=SIM_INTERVAL_MS)
_CPUS = sorted(os.sched_getaffinity(0))
#: the engine's CPU and the simulators' (None / "": not pinned, a host with one CPU)
ENGINE_CPU = _CPUS[0] if len(_CPUS) > 1 else None
SIM_CPUS = ",".join(map(str, _CPUS[1:])) if len(_CPUS) > 1 else ""


class Rounds(NamedTuple):
    """A variant's rounds, in ns: frame to both orders received (callback stamps) and accepted,
    decision to wire, the rounds spoiled, and frame to both orders received stamped at the
    loopback device (``wire``, from the ``tapped`` rounds: see ``Sims.jump``; the others give
    the rest)."""

    engine: list[int]
    accepted: list[int]
    decision_to_wire: list[int]
    spoiled: int
    wire: list[int] = []  # noqa: RUF012 (never mutated: each variant passes its own list)
    tapped: int = 0


def pct(xs: list[int], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0


def summary(xs: list[int]) -> dict[str, float]:
    return {"p50_us": pct(xs, 0.5), "p99_us": pct(xs, 0.99), "p999_us": pct(xs, 0.999), "n": len(xs)}


def spoiled_round(t0: int, arrivals: list[int], accepted: list[int]) -> bool:
    """Orders that come 50 ms or more after the frame were not sent for it: the round was spoiled
    (mostly: the engine's local rate limit for binance_spot, 100 orders per 10 s, refused the leg;
    or the simulator's own step crossed the bench's hand-made level and the book resynced).
    Counted apart, not mixed into the latency."""
    return len(arrivals) < 2 or max(accepted[:2]) - t0 >= 50_000_000


async def wait_quiet(s: TradingSession) -> None:
    """A round starts from a quiet engine: no ticket or sweep in flight, both books LIVE."""
    quiet_by = time.monotonic() + 5
    while (s._in_flight or s._tasks) and time.monotonic() < quiet_by:
        await asyncio.sleep(0.001)
    await wait_live(s)


def endpoint_ports(e: SimEndpoint) -> set[int]:
    """The TCP ports a simulated venue serves on (market data, orders, REST)."""
    urls = [e.md_url, e.rest_url, *e.order_urls.values()]
    return {p for u in urls if u and (p := urlsplit(u).port) is not None}


def on_the_wire(segs: list[Segment], t0: int, book_ports: set[int], orders: dict[str, tuple[int, int | None]],
                ports: dict[str, set[int]]) -> int | None:  # fmt: skip
    """A round stamped at the loopback device (``benches/e2e_wire.py``): from the book frame's
    segment (the first from the jumping venue at or after its stamp ``t0``, taken just before
    its write) to the later order segment. Per venue, ``orders`` has the order's callback stamp
    and the engine's port of the connection that carried it: its segment is the last one from
    that port to the venue's at or before the stamp (the port tells it from the engine's other
    connections to the same venue, e.g. a market-data pong). None when one is missing."""
    book = first_after(segs, t0, src=book_ports)
    if book is None:
        return None
    ends = [last_before(segs, t, src=() if peer is None else (peer,), dst=ports[v]) for v, (t, peer) in orders.items()]
    if any(e is None or e.ns < book.ns for e in ends):
        return None
    return max(e.ns for e in ends if e is not None) - book.ns


class VenueSim:
    """One simulated venue's process (benches/e2e_sims.py) and its control connection (blocking:
    used from a worker thread, so the engine's loop is idle while a jump's frame and orders
    travel). ``start`` only launches it; ``connect`` waits for its endpoints."""

    def __init__(self, tmp: Path, venue: str, cpus: str, spin: bool = False) -> None:
        self.venue = venue
        cfg, self.eps = tmp / f"e2e-sims-{venue}.toml", tmp / f"e2e-sims-{venue}.json"
        cfg.write_text(config_text([venue], auto_trade=True, sim_interval_ms=SIM_INTERVAL_MS))
        self.eps.unlink(missing_ok=True)  # a previous run's endpoints (each variant starts its own simulators)
        # stdin is a pipe the child watches: it exits on EOF, i.e. when this process is gone
        args = [sys.executable, str(HERE / "e2e_sims.py"), str(cfg), str(self.eps), cpus] + (["spin"] if spin else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE)
        self.sock: socket.socket | None = None

    def connect(self, end: float) -> SimEndpoint:
        while not self.eps.exists():
            assert self.proc.poll() is None, f"{self.venue} simulator exited ({self.proc.returncode})"
            assert time.monotonic() < end, f"{self.venue} simulator did not start within 30 s"
            time.sleep(0.05)
        info = json.loads(self.eps.read_text())
        e = info["venues"][self.venue]
        self.sock = socket.create_connection(("127.0.0.1", info["control_port"]), timeout=15)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        return SimEndpoint.from_json(e)

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.sock is not None
        self.sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        line = self.reader.readline()
        if not line:
            raise ConnectionError(f"{self.venue} simulator closed the control connection (exit {self.proc.poll()})")
        reply: dict[str, Any] = json.loads(line)
        assert "error" not in reply, reply
        return reply

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.settimeout(2)
                self.request("stop")
            except (OSError, ValueError, AssertionError):
                pass
            self.reader.close()
            self.sock.close()
            self.sock = None
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Sims:
    """The two simulated venues, one process each: binance_spot (whose ask the engine takes) and
    okx (whose bid jumps over it)."""

    def __init__(self, tmp: Path, cpus: str, spin: bool = False) -> None:
        self.procs: dict[str, VenueSim] = {}
        try:
            for v in VENUES:
                self.procs[v] = VenueSim(tmp, v, cpus, spin)
            end = time.monotonic() + 30
            self.endpoints = {v: p.connect(end) for v, p in self.procs.items()}
            self.ports = {v: endpoint_ports(e) for v, e in self.endpoints.items()}
            self.can_tap = WireTap.possible()  # (a packet socket needs CAP_NET_RAW)
        except BaseException:
            self.close()
            raise

    def jump(self, tapped: bool = False) -> tuple[int, list[int], list[int], int | None]:
        """One round (in a worker thread): note binance_spot's ask, jump okx's bid over it, and
        collect both venues' stamps. (t0, first arrival per venue, first acceptance per venue,
        the round stamped at the loopback device when ``tapped``: see :func:`on_the_wire`); a
        venue that got no order is left out. The packet socket is open for this round only: it
        costs each segment it copies, the engine's writes among them (measured, decision to wire:
        +3.4 µs p50), so the rounds without it give the other figures."""
        tap = WireTap.open(set().union(*self.ports.values())) if tapped else None
        try:
            a, b = self.procs["binance_spot"], self.procs["okx"]
            ask = a.request("arm")["ask"]
            r = b.request("jump", ask=ask, n=1)  # answers once okx has its order (or after 2 s)
            # as long a wait as the jump's: a round whose binance_spot leg the engine's local rate limit
            # refused (100 orders per 10 s) then leaves the limiter 2 s to refill, as one process did
            c = a.request("collect", n=1, wait_s=2.0)
            arrivals = [x["arrivals"][0] for x in (c, r) if x["arrivals"]]
            accepted = [x["accepted"][0] for x in (c, r) if x["accepted"]]
            wire = None
            if tap is not None and (segs := tap.drain()) is not None and len(arrivals) == 2:
                # per venue: (its order's callback stamp, the engine's port of the connection it came on)
                by_venue = {v: (x["arrivals"][0], x["peers"][0]) for v, x in (("binance_spot", c), ("okx", r))}
                wire = on_the_wire(segs, r["t0"], self.ports["okx"], by_venue, self.ports)
        finally:
            if tap is not None:
                tap.close()
        return r["t0"], arrivals, accepted, wire

    def restore(self) -> None:
        for p in self.procs.values():
            p.request("restore")

    def close(self) -> None:
        for p in self.procs.values():
            p.close()


async def tick_to_order(
    tmp: Path, *, busy_poll: bool = False, tuned: bool = True, warm_ms: float = 1, awake_sims: bool = False
) -> Rounds:
    """Simulators in their own processes, one per venue: (frame to both orders received, frame
    to both orders accepted, decision to wire, spoiled). ``busy_poll``: the engine runs with
    ``[run] busy_poll``; ``tuned``: the engine on ``ENGINE_CPU`` (``[run] cpu``), the simulators
    on the others, and ``[run] keep_warm_ms = 1``."""
    loop = asyncio.get_running_loop()
    pin = tuned and ENGINE_CPU is not None
    sims = Sims(tmp, SIM_CPUS if pin else "", awake_sims)
    try:
        run = ("busy_poll = true\n" if busy_poll else "") + (f"cpu = {ENGINE_CPU}\n" if pin else "")
        run += f"keep_warm_ms = {warm_ms}\nwarm_sends = true\n" if tuned else ""
        config = parse_toml(CONFIG.replace("[run]\n", "[run]\n" + run, 1))
        assert config.run.busy_poll is busy_poll
        # a journal per variant: one replayed into another's fresh simulators would start off their balances
        name = f"bench-journal-{'busy' if busy_poll else 'ext'}-{'tuned' if tuned else 'default'}"
        name += f"{'-awake' if awake_sims else ''}.sqlite"
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp / name,
                           external=sims.endpoints)  # fmt: skip
        await s.start()
        lat: list[int] = []
        lat_accepted: list[int] = []
        d2w: list[int] = []
        lat_wire: list[int] = []
        spoiled = tapped_rounds = 0
        try:
            await wait_live(s)
            for k in range(ROUNDS):
                started = time.monotonic()
                await wait_quiet(s)
                tapped = sims.can_tap and k % 2 == 0  # every other round (see Sims.jump)
                tapped_rounds += tapped
                decided = len(s.stats.decision_to_wire_ns)
                # a worker thread waits for the answers: the loop is idle when the book frame comes
                t0, arrivals, accepted, wire = await loop.run_in_executor(None, sims.jump, tapped)
                end = time.monotonic() + 3
                while s._in_flight and time.monotonic() < end:  # the ticket finishes before the books go back
                    await asyncio.sleep(0.001)
                if spoiled_round(t0, arrivals, accepted):
                    spoiled += 1
                elif wire is not None:
                    lat_wire.append(wire)
                elif not tapped:
                    lat.append(max(arrivals) - t0)
                    lat_accepted.append(max(accepted) - t0)
                    d2w += list(s.stats.decision_to_wire_ns)[decided:]
                await loop.run_in_executor(None, sims.restore)
                await asyncio.sleep(max(0.005, started + ROUND_PERIOD_S - time.monotonic()))
            return Rounds(lat, lat_accepted, d2w, spoiled, lat_wire, tapped_rounds)
        finally:
            await s.stop()
    finally:
        sims.close()


async def tick_to_order_in_process(tmp: Path, order_path: str = "rust") -> Rounds:
    """The same rounds with the simulators in this process and loop (the previous setup).
    ``order_path``: the engine's ``[run] order_path`` ("python": the same-run baseline of the Rust path)."""
    config = parse_toml(CONFIG.replace("[run]\n", f'[run]\norder_path = "{order_path}"\n', 1))
    assert config.run.order_path == order_path
    s = TradingSession(config, load_strategy(None, config), journal_path=tmp / f"bench-journal-{order_path}.sqlite")
    await s.start()
    arrivals: list[int] = []  # when each order's frame was received by its simulator
    accepted: list[int] = []  # when each order reached SimExchange.submit (parsed and verified)
    for ex in s.exchanges.values():
        orig = ex.submit

        def timed(*a: Any, _orig: Any = orig, _venue: Any = ex.venue, **k: Any) -> Any:
            now = time.perf_counter_ns()
            recv = _venue.request_recv_ns()  # the stamp of the frame (or REST request) that carried it
            arrivals.append(now if recv is None else recv)
            accepted.append(now)
            return _orig(*a, **k)

        ex.submit = timed  # type: ignore[method-assign]
    lat: list[int] = []
    lat_accepted: list[int] = []
    spoiled = 0
    try:
        await wait_live(s)
        a_sim, b_sim = s.sim_venues["binance_spot"], s.sim_venues["okx"]
        a_book = a_sim.instruments["BTCUSDT"].process.book
        b_state = b_sim.instruments["BTC-USDT"]
        tick = b_state.spec.tick
        for _ in range(ROUNDS):
            started = time.monotonic()
            await wait_quiet(s)
            b_book = b_state.process.book
            ask = a_book.best_ask()
            if ask is None:  # A's book between a clear and its snapshot: no round to run now
                spoiled += 1
                await asyncio.sleep(0.05)
                continue
            price = ask + 1000 * tick  # 20 bps over A's ask: worth taking after both 5 bps taker fees
            removed = {p: q for p, q in b_book.asks.items() if p <= price}
            deltas = [(1, p, 0) for p in removed] + [(0, price, 10_000)]
            for side, p, q in deltas:
                b_book.apply(side, p, q)
            arrivals.clear()
            accepted.clear()
            b_sim.publish("BTC-USDT", deltas)
            t0 = b_sim.last_send_ns
            end = time.monotonic() + 2
            while len(arrivals) < 2 and time.monotonic() < end:
                await asyncio.sleep(0)
            if spoiled_round(t0, arrivals, accepted):
                spoiled += 1
            else:
                lat.append(max(arrivals[:2]) - t0)
                lat_accepted.append(max(accepted[:2]) - t0)
            while s._in_flight and time.monotonic() < end + 3:  # the ticket finishes before the next jump
                await asyncio.sleep(0.001)
            # put B back as it was (the new bid may have been hit)
            back = [(0, price, 0)] + [(1, p, q) for p, q in removed.items()]
            for side, p, q in back:
                b_book.apply(side, p, q)
            b_sim.publish("BTC-USDT", back)
            # A's ask was taken: refill it so the next jump finds the same book
            a_state = a_sim.instruments["BTCUSDT"]
            if a_book.best_ask() != ask:
                a_book.apply(1, ask, 500 * a_state.spec.lot)
                a_sim.publish("BTCUSDT", [(1, ask, 500 * a_state.spec.lot)])
            await asyncio.sleep(max(0.005, started + ROUND_PERIOD_S - time.monotonic()))
        return Rounds(lat, lat_accepted, list(s.stats.decision_to_wire_ns), spoiled)
    finally:
        await s.stop()


async def echo_floor(n: int = 2000) -> list[int]:
    server = await ws_create_server(lambda _: Echo(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = TimedClient()
    transport, _ = await ws_connect(lambda: client, f"ws://127.0.0.1:{port}/")
    payload = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["50000.10","0.01"]],"a":[]}' * 2
    out = []
    loop = asyncio.get_running_loop()
    for _ in range(n):
        client.got = loop.create_future()
        t0 = time.perf_counter_ns()
        transport.send(WSMsgType.TEXT, payload)
        out.append(await client.got - t0)
    transport.disconnect()
    server.close()
    return out


class Floor(NamedTuple):
    """An echo floor's round trips, and its server's turnarounds stamped at the loopback device
    (empty without a packet socket), in ns."""

    rtt: list[int]
    wire: list[int]

    def __add__(self, other: object) -> Floor:
        assert isinstance(other, Floor)
        return Floor(self.rtt + other.rtt, self.wire + other.wire)


def echo_floor_across(
    tmp: Path, *, busy: bool = False, spin: bool = False, tick_ms: float = 1, warm: bool = True, n: int = ROUNDS
) -> Floor:
    """The echo floor in the layout of the e2e rounds (``benches/e2e_echo.py``): a bare picows
    echo server in its own process on the engine's CPU (``busy``: polling, as with busy_poll), a
    client on the simulators' CPUs (``spin``: never sleeping, as the awake simulators) sending one
    frame per quiet pause; ``tick_ms``: the server's loop is woken this often (polling: counts
    the time), as the engine's by its dry runs (``keep_warm_ms``), and with ``warm`` a frame goes
    through its echo each time, as each dry run writes one (``warm_sends``)."""
    tag = f"{int(busy)}{int(spin)}"
    ports, rtts = tmp / f"echo-port-{tag}.json", tmp / f"echo-rtt-{tag}.json"
    ports.unlink(missing_ok=True)
    script = str(HERE / "e2e_echo.py")
    cpu = "" if ENGINE_CPU is None else str(ENGINE_CPU)
    args = [sys.executable, script, "server", cpu, str(int(busy)), str(tick_ms), str(int(warm)), str(ports)]
    server = subprocess.Popen(args, stdin=subprocess.PIPE)
    try:
        end = time.monotonic() + 30
        while not ports.exists():
            assert server.poll() is None and time.monotonic() < end, "the echo server did not start"
            time.sleep(0.02)
        port = json.loads(ports.read_text())["port"]
        subprocess.run([sys.executable, script, "client", str(port), SIM_CPUS, str(int(spin)), str(n), str(rtts)],
                       check=True, timeout=120)  # fmt: skip
        got = json.loads(rtts.read_text())
        return Floor(got["rtt_ns"], got["wire_ns"])
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def variant(r: Rounds, sims: str, floor: Floor | None = None) -> dict[str, Any]:
    """A variant's block of target/bench-e2e.json: its figures, and its floor's when it has one."""
    out: dict[str, Any] = {"engine": summary(r.engine), "accepted": summary(r.accepted),
                           "decision_to_wire": summary(r.decision_to_wire)}  # fmt: skip
    if r.wire:
        out["engine_wire"] = summary(r.wire)
    if floor is not None:
        out["echo_layout"] = summary(floor.rtt)
        if floor.wire:
            out["echo_layout_wire"] = summary(floor.wire)
    counts = {"rounds": ROUNDS, "spoiled_rounds": r.spoiled, "tapped_rounds": r.tapped, "wire_stamped": len(r.wire)}
    return {**out, **counts, "sims": sims}


def test_e2e_latency(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        echo = await echo_floor()

        async def floor_of(busy: bool = False, spin: bool = False, tick_ms: float = 1) -> Floor:
            """The echo floor in a variant's layout, half its rounds each side of the variant's
            (called before and after them): the host's load drifts, and a floor taken minutes away
            from its rounds was off by tens of µs between runs."""
            n = ROUNDS // 2
            return await loop.run_in_executor(
                None, lambda: echo_floor_across(tmp_path, busy=busy, spin=spin, tick_ms=tick_ms, n=n)
            )

        floor = await floor_of()
        headline = await tick_to_order(tmp_path)
        floor += await floor_of()
        floor_busy = await floor_of(busy=True)
        busy_poll = await tick_to_order(tmp_path, busy_poll=True)
        floor_busy += await floor_of(busy=True)
        floor_awake = await floor_of(busy=True, spin=True, tick_ms=AWAKE_WARM_MS)
        awake = await tick_to_order(tmp_path, busy_poll=True, warm_ms=AWAKE_WARM_MS, awake_sims=True)
        floor_awake += await floor_of(busy=True, spin=True, tick_ms=AWAKE_WARM_MS)
        untuned = await tick_to_order(tmp_path, tuned=False)
        in_process = await tick_to_order_in_process(tmp_path)
        python_path = await tick_to_order_in_process(tmp_path, "python")
        echo2 = await echo_floor()
        return {
            **variant(headline, "separate processes, one per venue", floor),
            "echo": summary(echo + echo2),
            "tuning": f"engine on CPU {ENGINE_CPU}, simulators on {SIM_CPUS or 'any'}; keep_warm_ms = 1, warm_sends",
            "wire_stamps": "kernel stamps at the loopback device (AF_PACKET)"
            if headline.tapped
            else "none: no packet socket (needs CAP_NET_RAW)",
            "untuned": variant(
                untuned, "separate processes, one per venue; the default run config (no CPU pinning, no keep_warm)"
            ),
            "busy_poll": variant(
                busy_poll,
                "separate processes, one per venue; the engine with [run] busy_poll = true (tuned)",
                floor_busy,
            ),
            "awake": variant(
                awake,
                "separate processes, one per venue, awake (polling, yielding the shared core); "
                f"the engine with [run] busy_poll = true and keep_warm_ms = {AWAKE_WARM_MS} (tuned)",
                floor_awake,
            ),
            "in_process": variant(in_process, "same process and loop as the engine"),
            "python_path": variant(
                python_path, "same process and loop as the engine; the engine with [run] order_path = python"
            ),
            "definitions": {
                "engine": "book frame leaves the simulated venue -> both order frames received by the "
                "simulators (entry of their frame callbacks); each simulated venue runs in its own process",
                "accepted": "book frame leaves the simulated venue -> both orders accepted by the simulators "
                "(at SimExchange.submit: parsed, signature verified, account found)",
                "echo": "hot echo: bare picows round trip, client and server on one loop in the engine's process, "
                "back to back",
                "echo_layout": "echo floor in a variant's layout (benches/e2e_echo.py): a bare picows echo server in "
                "a process of its own on the engine's CPU (polling in the busy_poll and awake variants), its client "
                "on the simulators' CPUs (spinning in the awake variant), one frame after each quiet pause as long "
                "as a round's, the sleeping server woken every 1 ms as the engine's dry runs wake it; the round "
                "trip; half the floor's rounds just before the variant's, half just after",
                "engine_wire": "the engine rounds stamped at the loopback device (benches/e2e_wire.py: a packet "
                "socket's kernel stamps): the book frame's segment reaching the engine -> the later of the two order "
                "frames' segments reaching its simulator. No simulator's scheduling or Python is in it: both share "
                "one core here, and their callback stamps came 20-65 us after the segments",
                "echo_layout_wire": "the echo floor stamped the same way: the frame's segment reaching the echo "
                "server -> the echo's segment leaving it (the server's wake, read and write)",
                "stand_off": "each simulator sleeps 100 us between stamping an order frame's arrival and handling it "
                "(SimVenue.stand_off_s): both share one core here, and the second would otherwise read its order "
                "only after the first had handled its own; the accepted figures include the pause",
                "decision_to_wire": "inside the engine: ticket decision -> both orders handed to their sockets",
                "busy_poll": "the same rounds and figures with the engine's loop polling instead of sleeping "
                "([run] busy_poll: one core at 100%)",
                "awake": "the busy_poll rounds with the order path run dry every "
                f"{AWAKE_WARM_MS} ms from the polling loop, against simulators that never sleep (benches/e2e_sims.py "
                "spin): on loopback the engine's send() wakes a sleeping receiver (an inter-processor interrupt), "
                "which a venue on another host never costs it",
                "tuning": "the engine's loop runs on one CPU ([run] cpu), the simulators' processes on the others, "
                "and the order path is run dry every 1 ms ([run] keep_warm_ms = 1), each dry run with an order-sized "
                "write on a private loopback connection ([run] warm_sends)",
                "untuned": "the same rounds and figures with the default run config: no process pinned (the OS may "
                "run a simulator woken by the first leg on the engine's core before the engine writes the second), "
                "no dry runs",
                "in_process": "the same rounds and figures with the simulators in the engine's process and loop "
                "(the engine also pays for their work; for comparison only)",
                "python_path": "the in_process rounds with [run] order_path = python: every ticket checked, "
                "recorded, encoded and signed in Python (the baseline of the Rust order path, same run)",
                "pacing": f"a round starts at most every {ROUND_PERIOD_S} s: Binance spot allows 100 orders per 10 s, "
                "and the engine's limiter keeps to it",
                "clock": "time.perf_counter_ns (CLOCK_MONOTONIC, shared by the engine's and the venues' processes)",
            },
        }

    result = uvloop.run(main())
    for block in (result, result["busy_poll"], result["awake"], result["untuned"]):
        # the rounds without the packet socket give the callback figures, those with it the wire's
        # (nearly all of them found: else the matching is wrong)
        assert block["engine"]["n"] + block["wire_stamped"] >= ROUNDS * 0.9, block
        assert block["wire_stamped"] >= block["tapped_rounds"] * 0.9, block
    assert result["in_process"]["engine"]["n"] >= ROUNDS * 0.9, result
    assert result["python_path"]["engine"]["n"] >= ROUNDS * 0.9, result
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
