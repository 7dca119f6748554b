"""The simulated venues a config builds (``SimCluster.from_config``): each charges the fees the
config gives each instrument on it (it charged the first instrument's on every one), and quotes it
around its own mid."""

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


def test_an_instrument_keeps_its_own_mid_on_a_venue_that_lists_fewer() -> None:
    """The market paired mids by each venue's instrument position: okx listing only ETH/USDT
    (its first) quoted it around BTC/USDT's mid, 60000, and fed BTC's walk to an ETH book."""
    text = default_config_text()
    okx_btc = text.index("[instruments.venues.okx]")
    end = text.index("[[instruments]]", okx_btc)
    text = text[:okx_btc] + text[end:]  # okx lists ETH/USDT only
    config = parse_toml(text)
    assert list(config.instrument("BTC/USDT").venues) == ["binance", "kraken"]
    cluster = SimCluster.from_config(config)
    mids = {
        (name, symbol): st.mid_fn()
        for name, sim in cluster.venues.items()
        for symbol, st in sim.instruments.items()
        if st.mid_fn is not None
    }
    assert mids[("okx", "ETH-USDT")] == mids[("binance", "ETHUSDT")] == mids[("kraken", "ETH/USDT")] == 300_000
    assert mids[("binance", "BTCUSDT")] == mids[("kraken", "BTC/USDT")] == 6_000_000


def test_a_mid_a_few_ticks_above_zero_quotes_no_price_at_or_below_zero() -> None:
    """A sim_mid under 50 ticks (the simulator's depth) laid bids at zero and below: every frame
    of the book then carried a negative price ("-1.99"), refused by the feed, the book never LIVE."""
    text = default_config_text().replace('sim_mid = "3000"', 'sim_mid = "0.05"')
    cluster = SimCluster.from_config(parse_toml(text))
    for sim in cluster.venues.values():
        for symbol, st in sim.instruments.items():
            assert st.process.book.bids and st.process.book.asks, symbol
            assert min(st.process.book.bids) > 0, (symbol, min(st.process.book.bids))
