"""The simulated venues a config builds (``SimCluster.from_config``): each charges the fees the
config gives each instrument on it (it charged the first instrument's on every one)."""

from __future__ import annotations

from arbcore.execution.orders import OrderType, Side, TimeInForce
from arbcore.runner.config import default_config_text, parse_toml
from arbcore.runner.sim_cluster import SimCluster


def test_each_instrument_pays_its_own_taker_fee() -> None:
    text = default_config_text()
    eth_kraken = text.index('symbol = "ETH/USDT"')
    cut = text.index('taker_fee = "0.0026"', eth_kraken)
    text = text[:cut] + 'taker_fee = "0.0050"' + text[cut + len('taker_fee = "0.0026"') :]
    config = parse_toml(text)
    assert config.instrument("ETH/USDT").venues["kraken"].taker_fee.rate == 500_000
    cluster = SimCluster.from_config(config)
    kraken = cluster.exchanges["kraken"]
    key = cluster.credentials["kraken"].api_key
    assert kraken.fee_rate("BTC/USDT", maker=False) == 260_000
    assert kraken.fee_rate("ETH/USDT", maker=False) == 500_000
    charged = {}
    for symbol, qty in (("BTC/USDT", 1_000_000), ("ETH/USDT", 100_000)):  # 0.01 BTC, 0.1 ETH
        r = kraken.submit(key, symbol, side=Side.BUY, order_type=OrderType.MARKET, tif=TimeInForce.IOC,
                          qty=qty, price=None, client_id=f"c-{symbol}")  # fmt: skip
        assert r.order is not None and r.order.fills, r
        quote = sum(f.price * f.qty for f in r.order.fills)  # at price + qty decimals
        fee = sum(f.fee for f in r.order.fills)  # USDT at 10 decimals
        scale = 10 ** (10 - (2 + (8 if symbol == "BTC/USDT" else 6)))
        charged[symbol] = fee / (quote * scale)
    assert abs(charged["BTC/USDT"] - 0.0026) < 1e-6 and abs(charged["ETH/USDT"] - 0.0050) < 1e-6, charged
