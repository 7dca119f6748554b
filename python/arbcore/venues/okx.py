"""OKX v5 public market data (`/ws/v5/public`): the `books` channel (snapshot, then updates chained
by `prevSeqId`/`seqId`). The connection closes after 30 s without data, so the client sends the
text `ping` every 20 s (< 30 s, per the docs) and the venue answers `pong`. Resync = unsubscribe +
subscribe (a new snapshot follows). Fewer than 30 channels of 50/400-level books per connection.
Subscribe/unsubscribe requests are limited to 480 an hour per connection (a resync uses two).
"""

from __future__ import annotations

import orjson

from arbcore.venues.base import VenueClientSpec

CHANNEL = "books"


def _args(symbols: list[str]) -> list[dict[str, str]]:
    return [{"channel": CHANNEL, "instId": s} for s in symbols]


def subscribe(symbols: list[str]) -> list[bytes]:
    return [orjson.dumps({"id": "sub", "op": "subscribe", "args": _args(symbols)})]


def resubscribe(symbol: str) -> list[bytes]:
    return [
        orjson.dumps({"op": "unsubscribe", "args": _args([symbol])}),
        orjson.dumps({"op": "subscribe", "args": _args([symbol])}),
    ]


OKX = VenueClientSpec(
    name="okx",
    feed_protocol="okx",
    subscribe=subscribe,
    resubscribe=resubscribe,
    ping=b"ping",
    ping_interval=20.0,
    max_symbols_per_connection=29,
    stale_after=5.0,
)
