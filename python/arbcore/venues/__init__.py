"""Per-venue connection rules for the feed clients: one module per venue."""

from arbcore.venues.base import VenueClientSpec
from arbcore.venues.bybit import BYBIT

CLIENT_SPECS: dict[str, VenueClientSpec] = {spec.name: spec for spec in (BYBIT,)}

__all__ = ["BYBIT", "CLIENT_SPECS", "VenueClientSpec"]
