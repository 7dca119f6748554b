"""Binance Spot and USD-M futures market data (`venue-protocols.md` sections 1 and 2): the diff depth
stream `<symbol>@depth@100ms` subscribed at runtime on `/ws` (or `/stream`), synchronised with the
REST snapshot (`GET /api/v3/depth`, `GET /fapi/v1/depth`): the decoder buffers each book's events
until the feed client hands it a snapshot, and the client fetches one whenever a book buffers (first
sync, after a gap, after a reconnect) and again while the snapshot is refused as stale.

The server sends protocol pings (spot every 20 s, futures every 3 min), which picows answers by
itself: no application-level ping. At most 1024 streams per connection (one per symbol here) and
5 (spot) / 10 (futures) incoming messages per second, so one SUBSCRIBE carries every stream.
"""

from __future__ import annotations

import orjson

from arbcore.venues.base import VenueClientSpec

#: levels per side of the REST snapshot (spot weight 50; futures allows 1000 at most)
SNAPSHOT_LIMIT = 1000
MAX_STREAMS = 1024


def stream(symbol: str) -> str:
    return f"{symbol.lower()}@depth@100ms"


def subscribe(symbols: list[str]) -> list[bytes]:
    if not symbols:
        return []
    return [orjson.dumps({"method": "SUBSCRIBE", "params": [stream(s) for s in symbols], "id": 1})]


def resubscribe(symbol: str) -> list[bytes]:
    # Not the resync path (that is a new REST snapshot: the stream never stops); kept for
    # completeness: the events after it are buffered until the next snapshot.
    return [
        orjson.dumps({"method": "UNSUBSCRIBE", "params": [stream(symbol)], "id": 2}),
        orjson.dumps({"method": "SUBSCRIBE", "params": [stream(symbol)], "id": 3}),
    ]


def _spot_snapshot(symbol: str) -> str:
    return f"/api/v3/depth?symbol={symbol.upper()}&limit={SNAPSHOT_LIMIT}"


def _usdm_snapshot(symbol: str) -> str:
    return f"/fapi/v1/depth?symbol={symbol.upper()}&limit={SNAPSHOT_LIMIT}"


BINANCE_SPOT = VenueClientSpec(
    name="binance_spot",
    feed_protocol="binance_spot",
    subscribe=subscribe,
    resubscribe=resubscribe,
    max_symbols_per_connection=MAX_STREAMS,
    stale_after=5.0,
    snapshot_path=_spot_snapshot,
)

BINANCE_USDM = VenueClientSpec(
    name="binance_usdm",
    feed_protocol="binance_usdm",
    subscribe=subscribe,
    resubscribe=resubscribe,
    max_symbols_per_connection=MAX_STREAMS,
    stale_after=5.0,
    snapshot_path=_usdm_snapshot,
)
