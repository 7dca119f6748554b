"""Which module implements each venue's order client and its simulated order side.

Each client module defines ``make_client(config: OrderClientConfig) -> OrderClient`` and
``LIVE_URLS`` (the venue's production endpoints by role); each simulator module defines
``make_order_side(venue: SimVenue) -> SimOrderSide`` (called with ``venue.exchange`` already
set, see `arbcore.sim.orders.rig.attach_order_side`) and ``sim_urls(venue: SimVenue) -> dict[str, str]``
with the same roles. Modules load on first use so one venue's import cost is paid only if used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from arbcore.venues.signing.credentials import Credentials


@dataclass(frozen=True)
class OrderClientConfig:
    venue: str
    credentials: Credentials
    #: endpoints by role, e.g. {"rest": "https://api.binance.com", "ws_api": "wss://ws-api.binance.com:443/ws-api/v3"}
    urls: Mapping[str, str]
    #: venue symbol -> (price_decimals, qty_decimals): the scales raw ints are at
    scales: Mapping[str, tuple[int, int]]
    #: venue-specific options (e.g. Binance recvWindow, OKX tdMode, Kraken tier)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderVenue:
    name: str
    client_module: str
    sim_module: str
    #: the venue charges spot fees in the asset the order receives (else always in the quote)
    fee_in_received: bool
    #: credentials need a passphrase (OKX)
    needs_passphrase: bool = False

    def client_api(self) -> Any:
        return importlib.import_module(self.client_module)

    def live_urls(self) -> dict[str, str]:
        """The venue's production endpoints by role (a client module serving two venues picks)."""
        api = self.client_api()
        pick = getattr(api, "live_urls", None)
        return dict(pick(self.name) if pick is not None else api.LIVE_URLS)

    def sim_api(self) -> Any:
        return importlib.import_module(self.sim_module)


ORDER_VENUES: dict[str, OrderVenue] = {
    "binance_spot": OrderVenue("binance_spot", "arbcore.venues.orders.binance", "arbcore.sim.orders.binance", True),
    "binance_usdm": OrderVenue("binance_usdm", "arbcore.venues.orders.binance", "arbcore.sim.orders.binance", False),
    "bybit": OrderVenue("bybit", "arbcore.venues.orders.bybit", "arbcore.sim.orders.bybit", True),
    "okx": OrderVenue("okx", "arbcore.venues.orders.okx", "arbcore.sim.orders.okx", True, needs_passphrase=True),
    "kraken": OrderVenue("kraken", "arbcore.venues.orders.kraken", "arbcore.sim.orders.kraken", False),
    "coinbase": OrderVenue("coinbase", "arbcore.venues.orders.coinbase", "arbcore.sim.orders.coinbase", False),
}
