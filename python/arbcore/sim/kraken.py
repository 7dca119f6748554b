"""Kraken Spot WebSocket v2 (`/v2`), as the simulator speaks it.

- `{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10,
  "snapshot":true},"req_id":1}` is answered per symbol with `{"method":"subscribe","result":{...},
  "success":true,...}`, then a `book` snapshot of the top `depth` levels, then updates.
  `unsubscribe` is answered the same way and stops them. Depth is one of 10, 25, 100, 500, 1000.
- Prices and quantities are JSON **numbers** written with the pair's full precision
  (`{"price":60000.1,"qty":0.12300000}`). The frame text is built here, not by a JSON library,
  because the exact digits are what the checksum covers.
- There are no sequence numbers. Every snapshot and update carries `checksum`: CRC-32 (unsigned)
  of the top 10 asks low→high then the top 10 bids high→low, each price and qty text with '.'
  removed and leading zeros stripped.
- Each connection sees the top `depth` levels of the book. An update is the difference between
  what the connection was last sent and the current top `depth`: changed and new levels, `qty` 0
  for levels deleted from the book, and the deeper levels that come into scope. Levels pushed out
  of scope by better ones get **no** delete: the client truncates to `depth` after each message.
  So the book a client must hold is `SimVenue.true_book(symbol, depth)`.
- `{"method":"ping","req_id":N}` → `{"method":"pong","req_id":N,...}`; `{"channel":"heartbeat"}`
  about once a second (`heartbeat_interval`) to every subscribed connection while the venue is
  not stalled; a `status` message on a connection's first request.

Venue precisions default to the decimals of each instrument's tick and lot
(`fmt.places_of`); pass `precisions={symbol: (price_precision, qty_precision)}` to print more
(Kraken prints qty with all 8 decimals whatever the lot).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from arbcore.sim.book import Delta, Level
from arbcore.sim.fmt import places_of
from arbcore.sim.okx import corrupt_checksum_field
from arbcore.sim.server import InstrumentState, SimConnection, SimVenue

DEPTHS = (10, 25, 100, 500, 1000)
#: levels per side covered by the checksum, whatever the subscribed depth
CHECKSUM_LEVELS = 10


def text(raw: int, decimals: int, places: int) -> str:
    """`raw / 10**decimals` written with exactly `places` decimals (raw must be on that grid)."""
    if places >= decimals:
        scaled = raw * 10 ** (places - decimals)
    else:
        step = 10 ** (decimals - places)
        if raw % step:
            raise ValueError(f"{raw} at {decimals} decimals is finer than {places} places")
        scaled = raw // step
    if places == 0:
        return str(scaled)
    whole, frac = divmod(scaled, 10**places)
    return f"{whole}.{frac:0{places}d}"


def kraken_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """Kraken's v2 book checksum over level texts (asks low→high, bids high→low)."""
    digits = "".join(
        t.replace(".", "").lstrip("0") for p, q in asks[:CHECKSUM_LEVELS] + bids[:CHECKSUM_LEVELS] for t in (p, q)
    )
    return zlib.crc32(digits.encode())


def rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _View:
    """The top `depth` levels a connection was last sent for one symbol."""

    depth: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


@dataclass
class _ConnState:
    want: dict[str, int] = field(default_factory=dict)  # symbol -> subscribed depth
    views: dict[str, _View] = field(default_factory=dict)
    greeted: bool = False


class KrakenSim:
    name = "kraken"
    ws_path = "/v2"

    def __init__(
        self, precisions: dict[str, tuple[int, int]] | None = None, *, heartbeat_interval: float = 1.0
    ) -> None:
        self.precisions = dict(precisions or {})
        self.heartbeat_interval = heartbeat_interval
        self.pings = 0  # pings answered
        self.heartbeats = 0  # heartbeat messages sent
        self._last_heartbeat = 0.0
        self._conn_ids = 0

    def precision(self, inst: InstrumentState) -> tuple[int, int]:
        s = inst.spec
        p = self.precisions.get(s.symbol)
        return p if p is not None else (places_of(s.tick, s.price_decimals), places_of(s.lot, s.qty_decimals))

    @staticmethod
    def _state(conn: SimConnection) -> _ConnState:
        st = conn.state.get("kraken")
        if st is None:
            st = conn.state["kraken"] = _ConnState()
        assert isinstance(st, _ConnState)
        return st

    # -- client messages -------------------------------------------------------------------------
    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        st = self._state(conn)
        if not st.greeted:
            st.greeted = True
            self._conn_ids += 1
            status = {"version": "2.0.0", "system": "online", "api_version": "v2", "connection_id": self._conn_ids}
            conn.send(orjson.dumps({"channel": "status", "type": "update", "data": [status]}))
        time_in = rfc3339_now()
        try:
            msg = orjson.loads(payload)
            method = msg.get("method")
            req_id = msg.get("req_id")
        except (orjson.JSONDecodeError, AttributeError):
            conn.send(orjson.dumps({"error": "Malformed request", "method": "", "success": False}))
            return

        def reply(body: dict[str, Any]) -> None:
            if req_id is not None:
                body["req_id"] = req_id
            body["time_in"], body["time_out"] = time_in, rfc3339_now()
            conn.send(orjson.dumps(body))

        if method == "ping":
            self.pings += 1
            reply({"method": "pong"})
            return
        if method not in ("subscribe", "unsubscribe"):
            reply({"error": f"Method not found: {method}", "method": method, "success": False})
            return
        params = msg.get("params")
        if not isinstance(params, dict) or params.get("channel") != "book":
            channel = params.get("channel") if isinstance(params, dict) else None
            reply({"error": f"Channel {channel!r} not supported", "method": method, "success": False})
            return
        depth = params.get("depth", 10)
        symbols = params.get("symbol")
        if depth not in DEPTHS or not isinstance(symbols, list) or not symbols:
            reply({"error": "Invalid params", "method": method, "success": False})
            return
        for symbol in symbols:
            if symbol not in venue.instruments:
                reply(
                    {
                        "error": f"Currency pair not supported {symbol}",
                        "method": method,
                        "success": False,
                        "symbol": symbol,
                    }
                )
                continue
            if method == "unsubscribe":
                st.want.pop(symbol, None)
                st.views.pop(symbol, None)
                conn.subs.discard(symbol)
                reply(
                    {"method": method, "result": {"channel": "book", "depth": depth, "symbol": symbol}, "success": True}
                )
                continue
            snapshot = params.get("snapshot", True) is not False
            st.want[symbol] = depth
            result = {"channel": "book", "depth": depth, "snapshot": snapshot, "symbol": symbol}
            reply({"method": method, "result": result, "success": True})
            if snapshot:
                asyncio.get_running_loop().create_task(venue.send_snapshot(conn, symbol))
            else:
                # no snapshot asked: updates start at once, relative to the current book
                self._view(st, venue.instruments[symbol])
                conn.subs.add(symbol)

    # -- book messages ---------------------------------------------------------------------------
    def on_step(self, venue: SimVenue, inst: InstrumentState, deltas: list[Delta]) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_interval:
            self._last_heartbeat = now
            for conn in list(venue.connections):
                if conn.subs:
                    self.heartbeats += 1
                    conn.send(b'{"channel":"heartbeat"}')

    def _view(self, st: _ConnState, inst: InstrumentState) -> _View:
        depth = st.want[inst.spec.symbol]
        bids, asks = inst.process.book.top(depth)
        view = _View(depth, dict(bids), dict(asks))
        st.views[inst.spec.symbol] = view
        return view

    def _levels(self, inst: InstrumentState, levels: list[Level]) -> list[tuple[str, str]]:
        s = inst.spec
        pp, qp = self.precision(inst)
        return [(text(p, s.price_decimals, pp), text(q, s.qty_decimals, qp)) for p, q in levels]

    def _frame(self, inst: InstrumentState, kind: str, bids: list[Level], asks: list[Level]) -> bytes:
        top_b, top_a = inst.process.book.top(CHECKSUM_LEVELS)
        checksum = kraken_checksum(self._levels(inst, top_a), self._levels(inst, top_b))

        def side(levels: list[Level]) -> str:
            return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in self._levels(inst, levels))

        symbol = orjson.dumps(inst.spec.symbol).decode()
        return (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":{symbol},"bids":[{side(bids)}],'
            f'"asks":[{side(asks)}],"checksum":{checksum},"timestamp":"{rfc3339_now()}"}}]}}'
        ).encode()

    def update_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState, deltas: list[Delta]) -> bytes:
        st = self._state(conn)
        old = st.views[inst.spec.symbol]
        new = self._view(st, inst)
        book = inst.process.book
        changes: list[list[Level]] = []
        for before, after, full in ((old.bids, new.bids, book.bids), (old.asks, new.asks, book.asks)):
            side = [(p, q) for p, q in after.items() if before.get(p) != q]
            # deleted from the book: qty 0; still in the book but out of scope: nothing
            side += [(p, 0) for p in before if p not in after and p not in full]
            changes.append(side)
        # The engine sends one frame per step and connection; when nothing in scope changed, this
        # is an update with no levels (and the unchanged checksum), which changes nothing.
        return self._frame(inst, "update", changes[0], changes[1])

    def snapshot_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState) -> bytes | None:
        st = self._state(conn)
        if inst.spec.symbol not in st.want:
            return None  # unsubscribed while the snapshot was delayed
        view = self._view(st, inst)
        conn.subs.add(inst.spec.symbol)  # updates follow the snapshot
        bids = sorted(view.bids.items(), key=lambda kv: -kv[0])
        asks = sorted(view.asks.items())
        return self._frame(inst, "snapshot", bids, asks)

    def corrupt_checksum(self, frame: bytes) -> bytes:
        return corrupt_checksum_field(frame)

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return []
