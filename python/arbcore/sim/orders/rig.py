"""A simulated venue with its order side and one funded account, and a real order client
connected to it over loopback: what the order-client conformance tests, the engine tests and the
order-path benchmarks all start from.

The account's credentials are generated per rig (random, never logged); tests that grep outputs
for secrets read them from ``rig.credentials``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from arbcore.sim.binance import BinanceSim
from arbcore.sim.bybit import BybitSim
from arbcore.sim.coinbase import CoinbaseSim
from arbcore.sim.exchange import SimAccount, SimExchange, SimMarketSpec
from arbcore.sim.kraken import KrakenSim
from arbcore.sim.okx import OkxSim
from arbcore.sim.server import SimInstrument, SimProtocol, SimVenue
from arbcore.venues.orders.base import OrderClient
from arbcore.venues.orders.registry import ORDER_VENUES, OrderClientConfig
from arbcore.venues.signing.credentials import Credentials

#: the venue symbol of BTC/USDT on each venue
SYMBOLS = {
    "binance_spot": "BTCUSDT",
    "binance_usdm": "BTCUSDT",
    "bybit": "BTCUSDT",
    "okx": "BTC-USDT",
    "kraken": "BTC/USDT",
    "coinbase": "BTC-USDT",
}


def market_data_protocol(venue: str) -> SimProtocol:
    if venue == "binance_spot":
        return BinanceSim("spot")
    if venue == "binance_usdm":
        return BinanceSim("usdm")
    if venue == "bybit":
        return BybitSim()
    if venue == "okx":
        return OkxSim(checksum=False)
    if venue == "kraken":
        return KrakenSim()
    if venue == "coinbase":
        return CoinbaseSim()
    raise KeyError(f"no simulator for venue {venue!r}")


def make_credentials(venue: str) -> Credentials:
    """Fresh random credentials of the form the venue issues."""
    key = secrets.token_hex(16)
    if venue == "kraken":
        import base64

        return Credentials(key, base64.b64encode(secrets.token_bytes(64)).decode())
    if venue == "coinbase":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return Credentials(f"organizations/{secrets.token_hex(8)}/apiKeys/{key}", pem.decode())
    passphrase = secrets.token_hex(8) if ORDER_VENUES[venue].needs_passphrase else None
    return Credentials(key, secrets.token_hex(32), passphrase)


def attach_order_side(
    venue: SimVenue,
    venue_name: str,
    markets: list[SimMarketSpec],
    assets: dict[str, int],
    *,
    maker_fee: int = 10_000,
    taker_fee: int = 50_000,
) -> SimExchange:
    """Give ``venue`` the order side of ``venue_name`` (before ``venue.start()``)."""
    spec = ORDER_VENUES[venue_name]
    ex = SimExchange(
        venue, markets, assets, maker_fee=maker_fee, taker_fee=taker_fee, fee_in_received=spec.fee_in_received
    )
    venue.exchange = ex
    venue.attach_orders(ex, spec.sim_api().make_order_side(venue))
    return ex


def client_config(
    venue_name: str, venue: SimVenue, creds: Credentials, options: dict[str, Any] | None = None
) -> OrderClientConfig:
    scales = {sym: (st.spec.price_decimals, st.spec.qty_decimals) for sym, st in venue.instruments.items()}
    urls = ORDER_VENUES[venue_name].sim_api().sim_urls(venue)
    return OrderClientConfig(venue_name, creds, urls, scales, options or {})


@dataclass
class OrderRig:
    """BTC/USDT at 2 price / 6 qty decimals, mid 50,000.00, tick 0.10, lot 0.0001; BTC and USDT at 8 decimals."""

    venue_name: str
    venue: SimVenue = field(init=False)
    exchange: SimExchange = field(init=False)
    account: SimAccount = field(init=False)
    credentials: Credentials = field(init=False)
    client: OrderClient = field(init=False)
    symbol: str = field(init=False)
    mid: int = 5_000_000
    usdt: int = 1_000_000 * 10**8
    btc: int = 10 * 10**8

    def __post_init__(self) -> None:
        self.symbol = SYMBOLS[self.venue_name]
        inst = SimInstrument(self.symbol, 2, 6, tick=10, lot=100, mid=self.mid, depth=50)
        self.venue = SimVenue(market_data_protocol(self.venue_name), [inst], seed=7, interval=0.01)
        self.exchange = attach_order_side(
            self.venue,
            self.venue_name,
            [SimMarketSpec(self.symbol, "BTC", "USDT", min_qty=100, min_notional=5 * 10**8)],
            {"BTC": 8, "USDT": 8},
        )
        self.credentials = make_credentials(self.venue_name)
        self.account = self.exchange.add_account(
            SimAccount(
                self.credentials.api_key,
                self.credentials.secret,
                self.credentials.passphrase,
                balances={"BTC": self.btc, "USDT": self.usdt},
            )
        )

    async def start(self, *, connect_client: bool = True) -> None:
        await self.venue.start()
        api = ORDER_VENUES[self.venue_name].client_api()
        self.client = api.make_client(client_config(self.venue_name, self.venue, self.credentials))
        if connect_client:
            await self.client.start()

    async def stop(self) -> None:
        await self.client.close()
        await self.venue.stop()
