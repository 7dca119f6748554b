"""Kraken Spot WebSocket v2 (`/v2`): the `book` channel at a fixed depth (snapshot, then updates
with a CRC-32 checksum of the top 10 levels; no sequence numbers). The decoder must know the
subscribed depth (it truncates the book to it after every message, since Kraken sends no delete
for levels that fall out of scope) and, per symbol, the venue's `(price_precision,
qty_precision)` (the checksum covers the digits as Kraken prints them). The depth is carried by
the spec (`feed_kwargs`); the precisions come from the instrument metadata (v2 `instrument`
channel or REST `AssetPairs` `pair_decimals`/`lot_decimals`), so the caller passes them:
`FeedClient(KRAKEN, url, books, symbols, feed_kwargs={"precisions": {"BTC/USD": (1, 8)}})`.
Without them the decoder uses the book's own decimals, which is right only when they match.
Resync = unsubscribe + subscribe (a new snapshot follows). Application ping
`{"method":"ping"}` every 20 s; the venue also sends a heartbeat about once a second.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from arbcore.venues.base import VenueClientSpec

#: subscribed book depth: one of 10 (Kraken's default), 25, 100, 500, 1000
DEPTH = 10


def _params(symbols: list[str], depth: int, snapshot: bool | None) -> dict[str, object]:
    p: dict[str, object] = {"channel": "book", "symbol": symbols, "depth": depth}
    if snapshot is not None:
        p["snapshot"] = snapshot
    return p


def _subscribe(depth: int) -> Callable[[list[str]], list[bytes]]:
    def subscribe(symbols: list[str]) -> list[bytes]:
        return [orjson.dumps({"method": "subscribe", "params": _params(symbols, depth, True), "req_id": 1})]

    return subscribe


def _resubscribe(depth: int) -> Callable[[str], list[bytes]]:
    def resubscribe(symbol: str) -> list[bytes]:
        return [
            orjson.dumps({"method": "unsubscribe", "params": _params([symbol], depth, None), "req_id": 2}),
            orjson.dumps({"method": "subscribe", "params": _params([symbol], depth, True), "req_id": 3}),
        ]

    return resubscribe


def kraken_spec(depth: int = DEPTH) -> VenueClientSpec:
    """The Kraken client rules for one subscribed book depth."""
    if depth not in (10, 25, 100, 500, 1000):
        raise ValueError(f"kraken: depth {depth} is not one of 10, 25, 100, 500, 1000")
    return VenueClientSpec(
        name="kraken",
        feed_protocol="kraken",
        subscribe=_subscribe(depth),
        resubscribe=_resubscribe(depth),
        ping=orjson.dumps({"method": "ping"}),
        ping_interval=20.0,
        stale_after=5.0,
        feed_kwargs={"depth": depth},
    )


KRAKEN = kraken_spec()
