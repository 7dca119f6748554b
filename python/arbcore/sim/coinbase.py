"""Coinbase Advanced Trade public WebSocket, as the simulator speaks it (`venue-protocols.md` 3.1).

- One channel per request: `{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}`
  (and `unsubscribe`), `{"type":"subscribe","channel":"heartbeats"}`. Every request is answered
  with a `subscriptions` message listing what the connection is subscribed to; a bad request
  with `{"type":"error","message":..}`.
- `level2` data arrives on channel `l2_data`: an event of type `snapshot` (the whole true book),
  then events of type `update` (absolute `new_quantity`, `"0"` removes; sides `bid` / `offer`).
  Updates of a product start only after its snapshot is sent (SLOW_SNAPSHOT delays both).
- Every message of a connection (all channels: `subscriptions`, `l2_data`, `heartbeats`) carries
  `sequence_num`, counted per connection from 0, +1 per message. A dropped message leaves its
  number unused, so the client sees a gap.
- `timestamp`s are RFC 3339 UTC with up to nanosecond fractions (trailing zeros trimmed, as the
  venue prints them).
- `heartbeats`: one message every `heartbeat_interval` seconds with a `heartbeat_counter`, silent
  while the venue is stalled. No checksum (CORRUPT_CHECKSUM does not apply).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiohttp import web

from arbcore.sim.book import Delta
from arbcore.sim.fmt import fixed, places_of
from arbcore.sim.server import InstrumentState, SimConnection, SimVenue

EPOCH = "1970-01-01T00:00:00Z"


def rfc3339_ns(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC, fraction trimmed of trailing zeros."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac == 0:
        return base + "Z"
    return f"{base}.{f'{frac:09d}'.rstrip('0')}Z"


def _go_time(ns: int, mono: float) -> str:
    """Go's `time.Time.String()`, as Coinbase prints `current_time` in heartbeats."""
    secs, frac = divmod(ns, 1_000_000_000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(secs))}.{frac:09d} +0000 UTC m=+{mono:.9f}"


def _updates(inst: InstrumentState, deltas: list[Delta], event_time: str) -> list[dict[str, str]]:
    s = inst.spec
    pp, qp = places_of(s.tick, s.price_decimals), places_of(s.lot, s.qty_decimals)
    return [
        {
            "side": "bid" if side == 0 else "offer",
            "event_time": event_time,
            "price_level": fixed(p, s.price_decimals, pp),
            "new_quantity": fixed(q, s.qty_decimals, qp),
        }
        for side, p, q in deltas
    ]


class CoinbaseSim:
    name = "coinbase"
    ws_path = "/"

    def __init__(self, heartbeat_interval: float = 1.0) -> None:
        self.heartbeat_interval = heartbeat_interval

    # -- messages ---------------------------------------------------------------------------
    def _message(self, conn: SimConnection, channel: str, events: list[Any], ts: str | None = None) -> bytes:
        """One message of `conn`, numbered now: build it only to send (or drop) it at once."""
        seq = conn.state.get("seq", 0)
        conn.state["seq"] = seq + 1
        return orjson.dumps(
            {
                "channel": channel,
                "client_id": "",
                "timestamp": ts if ts is not None else rfc3339_ns(time.time_ns()),
                "sequence_num": seq,
                "events": events,
            }
        )

    def _error(self, conn: SimConnection, message: str) -> None:
        conn.send(orjson.dumps({"type": "error", "message": message}))

    def _subscriptions(self, conn: SimConnection) -> bytes:
        subs: dict[str, list[str]] = {}
        level2: set[str] = conn.state.get("level2", set())
        if level2:
            subs["level2"] = sorted(level2)
        if conn.state.get("heartbeats"):
            subs["heartbeats"] = ["heartbeats"]
        return self._message(conn, "subscriptions", [{"subscriptions": subs}])

    # -- requests -------------------------------------------------------------------------------------
    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._error(conn, "malformed JSON")
            return
        if not isinstance(msg, dict):
            self._error(conn, "malformed request")
            return
        kind, channel = msg.get("type"), msg.get("channel")
        if kind not in ("subscribe", "unsubscribe"):
            self._error(conn, f"unknown message type {kind!r}")
            return
        subscribe = kind == "subscribe"
        if channel == "heartbeats":
            conn.state["heartbeats"] = subscribe
            if subscribe and "heartbeat_task" not in conn.state:
                self._spawn(conn, self._heartbeats(venue, conn), "heartbeat_task")
            conn.send(self._subscriptions(conn))
            return
        if channel != "level2":
            self._error(conn, f"Failure to subscribe: channel {channel!r}")
            return
        products = msg.get("product_ids")
        if (
            not isinstance(products, list)
            or not products
            or not all(isinstance(p, str) and p in venue.instruments for p in products)
        ):
            self._error(conn, "Failure to subscribe: invalid product_ids")
            return
        self._on_level2(venue, conn, subscribe, products)

    def _on_level2(self, venue: SimVenue, conn: SimConnection, subscribe: bool, products: list[str]) -> None:
        level2: set[str] = conn.state.setdefault("level2", set())
        gens: dict[str, int] = conn.state.setdefault("gen", {})
        for product in products:
            # a later (un)subscribe supersedes a snapshot still waiting to be sent
            gens[product] = gens.get(product, 0) + 1
            conn.subs.discard(product)
            if subscribe:
                level2.add(product)
            else:
                level2.discard(product)
        conn.send(self._subscriptions(conn))
        if not subscribe:
            return
        for product in products:
            if venue.snapshot_delay:
                self._spawn(conn, self._late_snapshot(venue, conn, product, gens[product]))
            else:
                self._send_snapshot(venue, conn, product, gens[product])

    def _spawn(self, conn: SimConnection, coro: Any, name: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        tasks: set[asyncio.Task[None]] = conn.state.setdefault("tasks", set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if name is not None:
            conn.state[name] = task

    def _send_snapshot(self, venue: SimVenue, conn: SimConnection, product: str, gen: int) -> None:
        if conn.state.get("gen", {}).get(product) != gen:
            return
        conn.send(self._snapshot(conn, venue.instruments[product]))
        conn.subs.add(product)  # updates follow the snapshot

    async def _late_snapshot(self, venue: SimVenue, conn: SimConnection, product: str, gen: int) -> None:
        await asyncio.sleep(venue.snapshot_delay)
        self._send_snapshot(venue, conn, product, gen)

    async def _heartbeats(self, venue: SimVenue, conn: SimConnection) -> None:
        loop = asyncio.get_running_loop()
        counter = 0
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if conn not in venue.connections:
                return
            if not conn.state.get("heartbeats") or loop.time() < venue.stalled_until:
                continue
            counter += 1
            ns = time.time_ns()
            event = {"current_time": _go_time(ns, loop.time()), "heartbeat_counter": str(counter)}
            conn.send(self._message(conn, "heartbeats", [event], rfc3339_ns(ns)))

    # -- the stream -----------------------------------------------------------------------------------
    def on_step(self, venue: SimVenue, inst: InstrumentState, deltas: list[Delta]) -> None:
        pass  # the sequence is per connection: numbered in update_frame

    def update_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState, deltas: list[Delta]) -> bytes:
        ts = rfc3339_ns(time.time_ns())
        event = {"type": "update", "product_id": inst.spec.symbol, "updates": _updates(inst, deltas, ts)}
        return self._message(conn, "l2_data", [event], ts)

    def _snapshot(self, conn: SimConnection, inst: InstrumentState) -> bytes:
        bids, asks = inst.process.book.top(inst.spec.depth)
        levels = [(0, p, q) for p, q in bids] + [(1, p, q) for p, q in asks]
        event = {"type": "snapshot", "product_id": inst.spec.symbol, "updates": _updates(inst, levels, EPOCH)}
        return self._message(conn, "l2_data", [event])

    def snapshot_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState) -> bytes | None:
        return self._snapshot(conn, inst)

    def corrupt_checksum(self, frame: bytes) -> bytes:
        return frame  # Coinbase books carry no checksum

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return []
