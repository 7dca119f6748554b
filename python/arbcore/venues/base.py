"""What a feed client needs to know about a venue's market-data connection."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VenueClientSpec:
    name: str
    #: decoder name for `arbcore.Feed`
    feed_protocol: str
    #: venue subscribe message(s) for a list of venue symbols
    subscribe: Callable[[list[str]], list[bytes]]
    #: messages that make the venue re-send a snapshot for one symbol (resync by resubscribe)
    resubscribe: Callable[[str], list[bytes]]
    #: application-level ping the venue requires, and how often (seconds); None = protocol ping
    ping: bytes | None = None
    ping_interval: float = 20.0
    #: most symbols one connection may carry
    max_symbols_per_connection: int = 10
    #: a LIVE book with no update for this long is marked STALE
    stale_after: float = 5.0
    #: REST snapshot path for venues that sync from REST (None = the WS sends snapshots)
    snapshot_path: Callable[[str], str] | None = None
    #: extra keyword arguments for `arbcore.Feed(...)` (Kraken: the subscribed `depth`); a
    #: FeedClient's own `feed_kwargs` (Kraken: per-symbol `precisions`) are merged over these
    feed_kwargs: Mapping[str, Any] = field(default_factory=dict)
