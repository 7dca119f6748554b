"""Binance market data, as the simulator speaks it: the diff depth stream synchronised with a REST
snapshot (`venue-protocols.md` sections 1.1 and 2.1).

- WebSocket: the raw-stream endpoint `/ws` (events as they are) or, with `combined=True`, the
  combined endpoint `/stream` (each event wrapped as `{"stream":..,"data":..}`). Streams are
  subscribed at runtime with `{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}`,
  answered `{"result":null,"id":1}`; `UNSUBSCRIBE` and `LIST_SUBSCRIPTIONS` work the same way.
  Stream names are lower case, the events' `s` is upper case.
- `depthUpdate` events carry `E` (event time, ms) and the update-id range `U`..`u`. Spot: `U` is
  the previous event's `u` + 1. USD-M (`market="usdm"`): ids are not contiguous (`U` may skip),
  each event carries `pu` (the previous event's `u`) and a transaction time `T`.
- REST: `GET /api/v3/depth?symbol=BTCUSDT&limit=N` (USD-M: `GET /fapi/v1/depth`) returns
  `{"lastUpdateId":..,"bids":..,"asks":..}` from the true book (USD-M adds `E` and `T`), after the
  venue's `snapshot_delay` (SLOW_SNAPSHOT). `freeze_snapshot` makes the next snapshots of a symbol
  stale on purpose (captured earlier than the events the client buffers).
- No checksum (CORRUPT_CHECKSUM does not apply) and no application-level ping: the real server
  sends protocol pings, which picows answers by itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from arbcore.sim.book import Delta, Level
from arbcore.sim.fmt import fixed, now_ms, places_of
from arbcore.sim.server import InstrumentState, SimConnection, SimVenue

#: update id of every book before its first step
FIRST_UPDATE_ID = 1_000_000

_DEPTH_SUFFIXES = ("@depth", "@depth@100ms", "@depth@1000ms", "@depth@250ms", "@depth@500ms")


def _levels(inst: InstrumentState, levels: list[Level]) -> list[list[str]]:
    s = inst.spec
    pp, qp = places_of(s.tick, s.price_decimals), places_of(s.lot, s.qty_decimals)
    return [[fixed(p, s.price_decimals, pp), fixed(q, s.qty_decimals, qp)] for p, q in levels]


@dataclass
class _Frozen:
    last_update_id: int
    bids: list[Level]
    asks: list[Level]
    remaining: int


class BinanceSim:
    name = "binance"

    def __init__(self, market: str = "spot", *, combined: bool = False) -> None:
        if market not in ("spot", "usdm"):
            raise ValueError(f"market {market!r}: expected 'spot' or 'usdm'")
        self.market = market
        self.combined = combined
        self.ws_path = "/stream" if combined else "/ws"
        self.rest_path = "/api/v3/depth" if market == "spot" else "/fapi/v1/depth"
        #: REST snapshot requests served, per symbol
        self.snapshot_requests: dict[str, int] = {}
        #: stale (frozen) snapshots served
        self.stale_served = 0
        self._frozen: dict[str, _Frozen] = {}

    # -- WebSocket requests -------------------------------------------------------------------
    def _symbol_of(self, venue: SimVenue, stream: str) -> str | None:
        """The instrument a depth stream name refers to; None for a valid non-depth stream;
        raises ValueError for a stream name the venue would refuse."""
        name, _, kind = stream.partition("@")
        if not name or name != name.lower() or not kind:
            raise ValueError(f"Invalid stream name {stream!r}")
        if "@" + kind in _DEPTH_SUFFIXES:
            symbol = name.upper()
            return symbol if symbol in venue.instruments else None
        if kind in ("trade", "aggTrade", "bookTicker") or kind.startswith("depth"):
            return None  # accepted, carries no diff-depth data here
        raise ValueError(f"Invalid stream name {stream!r}")

    def on_client_message(self, venue: SimVenue, conn: SimConnection, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            conn.send(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            return
        if not isinstance(msg, dict):
            conn.send(orjson.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": None}))
            return
        req_id = msg.get("id")
        method = msg.get("method")
        streams: dict[str, str] = conn.state.setdefault("streams", {})  # stream name -> symbol
        if method == "LIST_SUBSCRIPTIONS":
            conn.send(orjson.dumps({"result": sorted(streams), "id": req_id}))
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            conn.send(orjson.dumps({"error": {"code": 2, "msg": f"Invalid request: method {method}"}, "id": req_id}))
            return
        params = msg.get("params")
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            conn.send(orjson.dumps({"error": {"code": 1, "msg": "Invalid value type: params"}, "id": req_id}))
            return
        try:
            targets = [(p, self._symbol_of(venue, p)) for p in params]
        except ValueError as e:
            conn.send(orjson.dumps({"error": {"code": 2, "msg": str(e)}, "id": req_id}))
            return
        for stream, symbol in targets:
            if method == "SUBSCRIBE":
                streams[stream] = symbol or ""
            else:
                streams.pop(stream, None)
        conn.subs = {s for s in streams.values() if s}
        conn.send(orjson.dumps({"result": None, "id": req_id}))

    def _stream_name(self, conn: SimConnection, symbol: str) -> str:
        for stream, sym in conn.state.get("streams", {}).items():
            if sym == symbol:
                return str(stream)
        return f"{symbol.lower()}@depth"

    # -- the stream -----------------------------------------------------------------------------
    def on_step(self, venue: SimVenue, inst: InstrumentState, deltas: list[Delta]) -> None:
        prev = inst.seq.get("u", FIRST_UPDATE_ID)
        # USD-M ids are not contiguous: skip a few now and then (continuity is by `pu`)
        first = prev + 1 + (venue.steps % 3 if self.market == "usdm" else 0)
        inst.seq["pu"] = prev
        inst.seq["U"] = first
        inst.seq["u"] = first + max(1, len(deltas)) - 1

    def update_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState, deltas: list[Delta]) -> bytes:
        ts = now_ms()
        bids = _levels(inst, [(p, q) for sd, p, q in deltas if sd == 0])
        asks = _levels(inst, [(p, q) for sd, p, q in deltas if sd == 1])
        event: dict[str, Any] = {"e": "depthUpdate", "E": ts}
        if self.market == "usdm":
            event["T"] = ts - 1
        event["s"] = inst.spec.symbol
        event["U"] = inst.seq["U"]
        event["u"] = inst.seq["u"]
        if self.market == "usdm":
            event["pu"] = inst.seq["pu"]
        event["b"] = bids
        event["a"] = asks
        if self.combined:
            return orjson.dumps({"stream": self._stream_name(conn, inst.spec.symbol), "data": event})
        return orjson.dumps(event)

    def snapshot_frame(self, venue: SimVenue, conn: SimConnection, inst: InstrumentState) -> bytes | None:
        return None  # snapshots come from REST only

    def corrupt_checksum(self, frame: bytes) -> bytes:
        return frame  # Binance books carry no checksum

    # -- REST snapshots -------------------------------------------------------------------------------
    def freeze_snapshot(self, venue: SimVenue, symbol: str, count: int = 1) -> None:
        """Capture `symbol`'s book now and serve that capture to its next `count` snapshot
        requests: once the venue has moved on, they are older than any event a new client buffers."""
        inst = venue.instruments[symbol]
        bids, asks = inst.process.book.top(inst.spec.depth)
        self._frozen[symbol] = _Frozen(inst.seq.get("u", FIRST_UPDATE_ID), bids, asks, count)

    def snapshot_body(self, venue: SimVenue, symbol: str, limit: int) -> bytes:
        inst = venue.instruments[symbol]
        frozen = self._frozen.get(symbol)
        if frozen is not None:
            frozen.remaining -= 1
            if frozen.remaining <= 0:
                del self._frozen[symbol]
            self.stale_served += 1
            lid, bids, asks = frozen.last_update_id, frozen.bids, frozen.asks
        else:
            lid = inst.seq.get("u", FIRST_UPDATE_ID)
            bids, asks = inst.process.book.top(limit)
        body: dict[str, Any] = {"lastUpdateId": lid}
        if self.market == "usdm":
            ts = now_ms()
            body["E"] = ts
            body["T"] = ts - 1
        body["bids"] = _levels(inst, bids[:limit])
        body["asks"] = _levels(inst, asks[:limit])
        return orjson.dumps(body)

    def rest_routes(self, venue: SimVenue) -> list[web.RouteDef]:
        max_limit = 5000 if self.market == "spot" else 1000

        async def depth(request: web.Request) -> web.Response:
            symbol = request.query.get("symbol", "")
            try:
                limit = int(request.query.get("limit", "100"))
            except ValueError:
                limit = -1
            if symbol not in venue.instruments:
                return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
            if not 1 <= limit <= max_limit:
                msg = "Illegal characters found in parameter 'limit'."
                return web.json_response({"code": -1100, "msg": msg}, status=400)
            self.snapshot_requests[symbol] = self.snapshot_requests.get(symbol, 0) + 1
            if venue.snapshot_delay:
                await asyncio.sleep(venue.snapshot_delay)
            # taken when answered, so it reflects every event sent before the response
            return web.Response(body=self.snapshot_body(venue, symbol, limit), content_type="application/json")

        return [web.get(self.rest_path, depth)]
