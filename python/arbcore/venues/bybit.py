"""Bybit v5 public market data: `orderbook.{depth}.{symbol}`; app-level `{"op":"ping"}` every 20 s
(the docs recommend it); resync by unsubscribe + subscribe (a snapshot follows); spot allows at most
10 args per subscribe request."""

from __future__ import annotations

import orjson

from arbcore.venues.base import VenueClientSpec

DEPTH = 50


def _topic(symbol: str) -> str:
    return f"orderbook.{DEPTH}.{symbol}"


def subscribe(symbols: list[str]) -> list[bytes]:
    out = []
    for i in range(0, len(symbols), 10):
        args = [_topic(s) for s in symbols[i : i + 10]]
        out.append(orjson.dumps({"req_id": f"sub{i}", "op": "subscribe", "args": args}))
    return out


def resubscribe(symbol: str) -> list[bytes]:
    return [
        orjson.dumps({"op": "unsubscribe", "args": [_topic(symbol)]}),
        orjson.dumps({"op": "subscribe", "args": [_topic(symbol)]}),
    ]


BYBIT = VenueClientSpec(
    name="bybit",
    feed_protocol="bybit",
    subscribe=subscribe,
    resubscribe=resubscribe,
    ping=orjson.dumps({"op": "ping"}),
    ping_interval=20.0,
    max_symbols_per_connection=10,
)
