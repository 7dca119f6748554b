"""Coinbase Advanced Trade public market data (`venue-protocols.md` 3.1): `level2` (data on channel
`l2_data`: a snapshot, then updates) and `heartbeats`, which keeps the connection open through quiet
markets (channels close after 60-90 s without updates). One channel per subscribe message; no
application-level ping (protocol pings only).

`sequence_num` counts every message of the connection, all channels together, so one missed message
breaks every book of the connection at once: the decoder marks them all BROKEN and the feed client
resubscribes each BROKEN book (unsubscribe + subscribe `level2`: a new snapshot follows), not only
the one the frame reports. Resyncing by resubscribing keeps the connection and its other channels.
"""

from __future__ import annotations

import orjson

from arbcore.venues.base import VenueClientSpec

#: [K] no documented limit on products per connection; a sequence fault breaks every book of the
#: connection, so this also bounds how many books one missed message takes down
MAX_PRODUCTS = 50


def _level2(kind: str, products: list[str]) -> bytes:
    return orjson.dumps({"type": kind, "product_ids": products, "channel": "level2"})


def subscribe(symbols: list[str]) -> list[bytes]:
    out = [_level2("subscribe", symbols)] if symbols else []
    out.append(orjson.dumps({"type": "subscribe", "channel": "heartbeats"}))
    return out


def resubscribe(symbol: str) -> list[bytes]:
    return [_level2("unsubscribe", [symbol]), _level2("subscribe", [symbol])]


COINBASE = VenueClientSpec(
    name="coinbase",
    feed_protocol="coinbase",
    subscribe=subscribe,
    resubscribe=resubscribe,
    max_symbols_per_connection=MAX_PRODUCTS,
    stale_after=5.0,
)
