"""OKX v5 public stream (`/ws/v5/public`), as the simulator speaks it.

- `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}` is acknowledged per arg
  with `{"event":"subscribe","arg":{...},"connId":"..."}`; then a `books` push with
  `"action":"snapshot"` (`prevSeqId` -1), then `"action":"update"` pushes whose `prevSeqId` is the
  previous push's `seqId`. `unsubscribe` is acknowledged the same way and stops the pushes.
- Levels are `[px, sz, "0", numOrders]`, all strings; `sz` "0" deletes. Numbers are written as
  the shortest exact decimal ("60000", "60000.1", "0.0012"), which is how the decoder rebuilds
  them (`NumText::Trimmed`), so the checksum verifies.
- `checksum`: OKX has deprecated it (the live venue always sends 0). By default the simulator
  sends the legacy value anyway, so CORRUPT_CHECKSUM applies: CRC-32 of the first 25 bids and
  asks interleaved `bid1px:bid1sz:ask1px:ask1sz:...` (the rest of the longer side appended), over
  the exact strings sent, read as a signed int32. `OkxSim(checksum=False)` sends 0 as OKX does.
- Sequence reset (after maintenance): with `reset_every=N`, every N-th update of an instrument
  restarts `seqId` at a small number (`seqId < prevSeqId`); it still chains and is valid.
- The literal text `ping` is answered with the literal text `pong`.

Sequence numbers are per instrument and shared by every connection, as on the venue; a push is
first sent to a connection right after its snapshot, so the snapshot is always the first book
message a subscriber sees.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from typing import Any

import orjson
from aiohttp import web

from arbcore.sim.book import Delta, Level
from arbcore.sim.fmt import now_ms
from arbcore.sim.server import InstrumentState, SimConnection, SimVenue

#: levels per side covered by the (legacy) checksum
CHECKSUM_LEVELS = 25
_CHECKSUM_RE = re.compile(rb'"checksum":(-?\d+)')


def trimmed(raw: int, decimals: int) -> str:
    """`raw / 10**decimals` as the shortest exact decimal: no trailing zeros, no trailing '.'."""
    if decimals == 0:
        return str(raw)
    whole, frac = divmod(raw, 10**decimals)
    if frac == 0:
        return str(whole)
    return f"{whole}.{f'{frac:0{decimals}d}'.rstrip('0')}"


def okx_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's legacy book checksum over levels as sent (`[px, sz, ...]`, best first)."""
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def corrupt_checksum_field(frame: bytes) -> bytes:
    """The frame with its `checksum` value changed to a different, non-zero one."""

    def wrong(m: re.Match[bytes]) -> bytes:
        v = int(m.group(1))
        bad = v ^ 1 if v != 1 else 3  # stays in range (i32 or u32) and is never 0
        return b'"checksum":%d' % bad

    return _CHECKSUM_RE.sub(wrong, frame, count=1)


class OkxSim:
    name = "okx"
    ws_path = "/ws/v5/public"

    def __init__(self, *, checksum: bool = True, reset_every: int | None = None, conn_id: str = "a4d3ae55") -> None:
        self.checksum = checksum
        self.reset_every = reset_every
        self.conn_id = conn_id
        self.pings = 0  # `ping` texts answered
        self.resets = 0  # sequence resets emitted

    # -- client messages -------------------------------------------------------------------------
    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        if payload.strip() == b"ping":
            self.pings += 1
            conn.send(b"pong")
            return
        try:
            msg = orjson.loads(payload)
            op = msg.get("op")
            args = msg.get("args")
        except (orjson.JSONDecodeError, AttributeError):
            self._error(conn, "60012", f"Invalid request: {payload[:100]!r}")
            return
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
            self._error(conn, "60012", f"Invalid request: {payload[:100]!r}")
            return
        want: set[str] = conn.state.setdefault("okx_want", set())
        for arg in args:
            if not isinstance(arg, dict):
                self._error(conn, "60012", f"Invalid request: {payload[:100]!r}")
                continue
            channel, inst = arg.get("channel"), arg.get("instId")
            if channel != "books" or inst not in venue.instruments:
                self._error(conn, "60018", f"Wrong URL or channel:{channel},instId:{inst} doesn't exist.")
                continue
            ack: dict[str, Any] = {"event": op, "arg": {"channel": channel, "instId": inst}, "connId": self.conn_id}
            if "id" in msg:
                ack = {"id": msg["id"], **ack}
            conn.send(orjson.dumps(ack))
            if op == "subscribe":
                want.add(inst)
                asyncio.get_running_loop().create_task(venue.send_snapshot(conn, inst))
            else:
                want.discard(inst)
                conn.subs.discard(inst)

    def _error(self, conn: SimConnection, code: str, msg: str) -> None:
        conn.send(orjson.dumps({"event": "error", "code": code, "msg": msg, "connId": self.conn_id}))

    # -- book messages ---------------------------------------------------------------------------
    def on_step(self, venue: SimVenue, inst: InstrumentState, deltas: list[Delta]) -> None:
        seq = inst.seq.get("seq", 100_000)
        inst.seq["prev"] = seq
        inst.seq["updates"] = n = inst.seq.get("updates", 0) + 1
        if self.reset_every and n % self.reset_every == 0:
            self.resets += 1
            inst.seq["seq"] = 1 + n % 7  # restarts low: seqId < prevSeqId
        else:
            inst.seq["seq"] = seq + len(deltas)

    def _levels(self, inst: InstrumentState, levels: list[Level]) -> list[list[str]]:
        s = inst.spec
        return [
            [trimmed(p, s.price_decimals), trimmed(q, s.qty_decimals), "0", str(1 + q % 9 if q else 0)]
            for p, q in levels
        ]

    def _frame(
        self, inst: InstrumentState, action: str, prev: int, bids: list[list[str]], asks: list[list[str]]
    ) -> bytes:
        checksum = 0
        if self.checksum:
            top_b, top_a = inst.process.book.top(CHECKSUM_LEVELS)
            checksum = okx_checksum(self._levels(inst, top_b), self._levels(inst, top_a))
        data = {
            "asks": asks,
            "bids": bids,
            "ts": str(now_ms()),
            "checksum": checksum,
            "prevSeqId": prev,
            "seqId": inst.seq.get("seq", 100_000),
        }
        return orjson.dumps({"arg": {"channel": "books", "instId": inst.spec.symbol}, "action": action, "data": [data]})

    def update_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState, deltas: list[Delta]) -> bytes:
        # one entry per price: the net effect of the step, as the venue would push it
        net: dict[tuple[int, int], int] = {}
        for side, price, qty in deltas:
            net[(side, price)] = qty
        bids = [(p, q) for (sd, p), q in net.items() if sd == 0]
        asks = [(p, q) for (sd, p), q in net.items() if sd == 1]
        return self._frame(inst, "update", inst.seq["prev"], self._levels(inst, bids), self._levels(inst, asks))

    def snapshot_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState) -> bytes | None:
        symbol = inst.spec.symbol
        if symbol not in conn.state.get("okx_want", ()):
            return None  # unsubscribed while the snapshot was delayed
        conn.subs.add(symbol)  # updates follow the snapshot
        bids, asks = inst.process.book.top(inst.spec.depth)
        return self._frame(inst, "snapshot", -1, self._levels(inst, bids), self._levels(inst, asks))

    def corrupt_checksum(self, frame: bytes) -> bytes:
        return corrupt_checksum_field(frame)

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return []
