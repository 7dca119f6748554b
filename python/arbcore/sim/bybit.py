"""Bybit v5 public stream, as the simulator speaks it: `orderbook.{depth}.{symbol}` snapshot then
deltas with `u` +1 per message per topic and a cross sequence `seq`; `{"op":"ping"}` answered with
a pong; subscription acks with `success`. No checksum (CORRUPT_CHECKSUM does not apply)."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from arbcore.sim.book import Delta
from arbcore.sim.fmt import fixed, now_ms, places_of
from arbcore.sim.server import InstrumentState, SimConnection, SimVenue


def _levels(inst: InstrumentState, deltas: list[Delta], side: int) -> list[list[str]]:
    s = inst.spec
    pp, qp = places_of(s.tick, s.price_decimals), places_of(s.lot, s.qty_decimals)
    return [[fixed(p, s.price_decimals, pp), fixed(q, s.qty_decimals, qp)] for sd, p, q in deltas if sd == side]


class BybitSim:
    name = "bybit"
    ws_path = "/v5/public/linear"

    def __init__(self, depth: int = 50) -> None:
        self.depth = depth

    def topic(self, symbol: str) -> str:
        return f"orderbook.{self.depth}.{symbol}"

    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            conn.send(orjson.dumps({"success": False, "ret_msg": "invalid json", "op": ""}))
            return
        op = msg.get("op")
        if op == "ping":
            conn.send(orjson.dumps({"success": True, "ret_msg": "pong", "conn_id": "sim", "op": "ping"}))
            return
        if op == "unsubscribe":
            for arg in msg.get("args", []):
                conn.subs.discard(str(arg).split(".")[-1])
            conn.send(orjson.dumps({"success": True, "ret_msg": "", "conn_id": "sim", "op": "unsubscribe"}))
            return
        if op != "subscribe":
            conn.send(orjson.dumps({"success": False, "ret_msg": f"unknown op {op}", "op": op}))
            return
        ok = True
        wanted: list[str] = []
        for arg in msg.get("args", []):
            parts = str(arg).split(".")
            if len(parts) == 3 and parts[0] == "orderbook" and parts[2] in venue.instruments:
                wanted.append(parts[2])
            elif not (len(parts) == 2 and parts[0] == "publicTrade"):
                ok = False
        conn.send(
            orjson.dumps(
                {
                    "success": ok,
                    "ret_msg": "" if ok else "invalid topic",
                    "conn_id": "sim",
                    "req_id": msg.get("req_id", ""),
                    "op": "subscribe",
                }
            )
        )
        for symbol in wanted:
            conn.subs.add(symbol)
            asyncio.get_running_loop().create_task(venue.send_snapshot(conn, symbol))

    def on_step(self, venue: SimVenue, inst: InstrumentState, deltas: list[Delta]) -> None:
        inst.seq["u"] = inst.seq.get("u", 1) + 1
        inst.seq["seq"] = inst.seq.get("seq", 1_000) + len(deltas)

    def _frame(self, inst: InstrumentState, kind: str, b: list[list[str]], a: list[list[str]]) -> bytes:
        ts = now_ms()
        data = {
            "s": inst.spec.symbol,
            "b": b,
            "a": a,
            "u": inst.seq.get("u", 1),
            "seq": inst.seq.get("seq", 1_000),
        }
        return orjson.dumps({"topic": self.topic(inst.spec.symbol), "type": kind, "ts": ts, "data": data, "cts": ts})

    def update_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState, deltas: list[Delta]) -> bytes:
        return self._frame(inst, "delta", _levels(inst, deltas, 0), _levels(inst, deltas, 1))

    def snapshot_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState) -> bytes | None:
        bids, asks = inst.process.book.top(inst.spec.depth)
        as_deltas = [(0, p, q) for p, q in bids] + [(1, p, q) for p, q in asks]
        return self._frame(inst, "snapshot", _levels(inst, as_deltas, 0), _levels(inst, as_deltas, 1))

    def corrupt_checksum(self, frame: bytes) -> bytes:
        return frame  # Bybit books carry no checksum

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        return []
