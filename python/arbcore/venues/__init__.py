"""Per-venue connection rules for the feed clients: one module per venue."""

from arbcore.venues.base import VenueClientSpec
from arbcore.venues.binance import BINANCE_SPOT, BINANCE_USDM
from arbcore.venues.bybit import BYBIT
from arbcore.venues.coinbase import COINBASE
from arbcore.venues.kraken import KRAKEN
from arbcore.venues.okx import OKX

CLIENT_SPECS: dict[str, VenueClientSpec] = {
    spec.name: spec for spec in (BYBIT, BINANCE_SPOT, BINANCE_USDM, COINBASE, OKX, KRAKEN)
}

__all__ = ["BINANCE_SPOT", "BINANCE_USDM", "BYBIT", "CLIENT_SPECS", "COINBASE", "KRAKEN", "OKX", "VenueClientSpec"]
