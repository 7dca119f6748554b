"""Order entry per venue: one module per venue behind the :class:`OrderClient` contract."""

from arbcore.venues.orders.base import Http, OrderClient, WsRpc
from arbcore.venues.orders.registry import ORDER_VENUES, OrderClientConfig, OrderVenue
from arbcore.venues.orders.types import (
    AuthError,
    ClientCounters,
    InstrumentRules,
    OrderClientError,
    OrderReport,
    OrderTimeoutError,
    RateLimitedError,
    VenueBalance,
    VenueError,
)

__all__ = [
    "ORDER_VENUES",
    "AuthError",
    "ClientCounters",
    "Http",
    "InstrumentRules",
    "OrderClient",
    "OrderClientConfig",
    "OrderClientError",
    "OrderReport",
    "OrderTimeoutError",
    "OrderVenue",
    "RateLimitedError",
    "VenueBalance",
    "VenueError",
    "WsRpc",
]
