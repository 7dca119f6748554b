"""The runner's TOML configuration: the embedded default and the template load; every bad field
is named with its path and why, all of them at once; amounts are exact integers."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

import arbcore
from arbcore.runner.config import (
    Config,
    ConfigFileError,
    default_config_text,
    env_errors,
    load_config,
    load_default,
    parse_toml,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_embedded_default_is_the_example() -> None:
    assert filecmp.cmp(EXAMPLES / "default.toml", ROOT / "python/arbcore/runner/default.toml", shallow=False)
    assert default_config_text() == (EXAMPLES / "default.toml").read_text()


def test_default_has_three_protocols_two_instruments_and_paper_balances() -> None:
    c = load_default()
    assert c.simulated
    assert len({v.protocol for v in c.venues.values()}) >= 3
    assert len(c.instruments) >= 2
    btc = c.instrument("BTC/USDT")
    assert (btc.price_decimals, btc.qty_decimals) == (2, 8)
    kr = btc.venues["kraken"]
    assert (kr.tick, kr.lot, kr.min_notional) == (10, 10_000, 5 * 10**10)
    assert kr.taker_fee.rate == 260_000 and btc.venues["binance"].taker_fee.rate == 100_000
    assert c.venues["okx"].balances["USDT"] == 250_000 * 10**10
    assert c.risk.max_position["BTC"].net == 5_000_000
    assert c.risk.max_ticket_notional is not None and c.risk.max_ticket_notional.at(10) == 20_000 * 10**10
    assert c.strategy.spec == "taker"
    book = btc.build_book(0, c.balances())
    assert book.venues == ["binance", "kraken", "okx"]
    assert book.balance("okx", "BTC") == "3"
    assert isinstance(book, arbcore.ConsolidatedBook)


def test_live_template_parses_and_names_missing_variables_only() -> None:
    c = load_config(EXAMPLES / "live-template.toml")
    assert not c.simulated
    errs = env_errors(c, environ={"BINANCE_API_KEY": "k" * 20})
    assert "venues.binance.api_key_env: environment variable BINANCE_API_KEY is not set" not in errs
    assert "venues.okx.api_passphrase_env: environment variable OKX_API_PASSPHRASE is not set" in errs
    assert not any("k" * 20 in e for e in errs)


BROKEN = """
[assets]
BTC = 8
USDT = 4
ETH = 99

[venues.binance]
protocol = "binance_spot"
simulated = true
[venues.binance.balances]
USDT = "1.00001"
DOGE = "5"

[venues.okx]
protocol = "ftx"
ws_url = "http://x"

[[instruments]]
name = "BTC/USDT"
price_decimals = 2
qty_decimals = 8
sim_mid = "60000"
[instruments.venues.binance]
symbol = "BTCUSDT"
tick = "0.01"
lot = "0.00001"

[[instruments]]
name = "BTC/EUR"
price_decimals = 2
qty_decimals = 8
[instruments.venues.binance]
symbol = "BTCEUR"
tick = "0.00x"
lot = 0.001
taker_fee = "12xbps"
[instruments.venues.kraken]
symbol = "x"

[risk]
max_open_tickets = 0
max_daily_loss = "-5"
[risk.max_position.BTC]
per_venue = "0.000000001"

[strategy]
name = "nonsense"

[execution]
staleness_ms = "fast"
"""


def test_broken_config_names_every_error() -> None:
    with pytest.raises(ConfigFileError) as ei:
        parse_toml(BROKEN, source="broken.toml")
    errs = ei.value.errors
    expect = [
        "assets.ETH: 99 is not a number of decimals 0..18",
        'venues.binance.balances.USDT: "1.00001" has more than 4 decimals',
        "venues.binance.balances.DOGE: unknown asset (add it to [assets])",
        'venues.okx.protocol: "ftx" is not one of',
        'venues.okx.ws_url: "http://x" is not a ws:// or wss:// URL',
        "venues.okx.api_key_env: missing",
        "instruments[0].price_decimals: notionals need 10 decimals but asset USDT keeps 4",
        "instruments[1].name: quote asset EUR is not in [assets]",
        'instruments[1].venues.binance.tick: "0.00x" is not a decimal',
        "instruments[1].venues.binance.lot: 0.001 is a TOML float",
        'instruments[1].venues.binance.taker_fee: "12xbps" is not a fee',
        "instruments[1].venues.kraken: is not a venue in [venues]",
        "instruments[1].sim_mid: missing (simulated venue binance lists this instrument)",
        "risk.max_open_tickets: 0 is outside 1..inf",
        'risk.max_daily_loss: "-5" is not a decimal',
        'risk.max_position.BTC.per_venue: "0.000000001" has more than 8 decimals',
        'strategy.name: "nonsense" is neither a builtin',
        'execution.staleness_ms: "fast" is not an integer',
    ]
    for e in expect:
        assert any(line.startswith(e) for line in errs), (e, errs)
    assert all("\n" not in line for line in errs)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[assets\n", "not valid TOML"),
        ("", "assets: missing"),
        ("[assets]\nBTC=8\n[venues]\n", "venues: no venues"),
        ("[assets]\nBTC = 8\nX = 8\n[venues.a]\nprotocol='kraken'\nsimulated=true\n", "instruments: missing"),
        ("[assets]\nUSDT=8\n[bogus]\n", "bogus: unknown field"),
        ("[run]\nfsync_intents='yes'\n[assets]\n", 'run.fsync_intents: "yes" is not true or false'),
        ("[run]\nkeep_warm_ms=0.2\n[assets]\n", "run.keep_warm_ms: 0.2 ms needs run.busy_poll = true"),
        ("[run]\nkeep_warm_ms='1'\n[assets]\n", 'run.keep_warm_ms: "1" is not a number'),
        ("[run]\nkeep_warm_ms=-1.5\n[assets]\n", "run.keep_warm_ms: -1.5 is outside 0..60000"),
        ("[run]\nwarm_sends=true\n[assets]\n", "run.warm_sends: needs run.keep_warm_ms > 0"),
        ("[run]\norder_path='c'\n[assets]\n", 'run.order_path: \'c\' must be "rust" or "python"'),
        ("[run]\nledger_checkpoint_events=5\n[assets]\n", "run.ledger_checkpoint_events: 5 is outside 100..10000000"),
        ("[run]\nledger_checkpoint_events='1e4'\n[assets]\n", 'run.ledger_checkpoint_events: "1e4" is not an integer'),
        (
            "[assets]\n[execution]\nadopt_balances='always'\n",
            'execution.adopt_balances: \'always\' must be "start", "settled" or "never"',
        ),
        (
            "[assets]\n[venues.a]\nprotocol='okx'\nws_url='wss://x'\napi_key_env='K'\napi_secret_env='S'\n",
            "venues.a.api_passphrase_env: missing (okx keys have a passphrase)",
        ),
        (
            "[assets]\n[venues.a]\nprotocol='kraken'\nws_url='wss://x'\napi_key_env='abc def'\n",
            'venues.a.api_key_env: "abc def" is not an environment variable name',
        ),
        (  # a WebSocket role given an http:// URL passed, then failed the start with a traceback
            "[assets]\n[venues.a]\nprotocol='okx'\n[venues.a.order_urls]\nws_private='http://127.0.0.1:1/x'\n",
            'venues.a.order_urls.ws_private: "http://127.0.0.1:1/x" is not a ws:// or wss:// URL',
        ),
        (
            "[assets]\n[venues.a]\nprotocol='binance_usdm'\n[venues.a.order_urls]\nrest='wss://127.0.0.1:1'\n"
            "user_stream='https://127.0.0.1:1/ws'\n",
            'venues.a.order_urls.rest: "wss://127.0.0.1:1" is not an http:// or https:// URL',
        ),
    ],
)
def test_single_errors(text: str, error: str) -> None:
    with pytest.raises(ConfigFileError) as ei:
        parse_toml(text, source="t.toml")
    assert any(error in line for line in ei.value.errors), ei.value.errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError) as ei:
        load_config(tmp_path / "nope.toml")
    assert ei.value.errors == ["no such file"]


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ('symbol = "ETHUSDT"', 'symbol = "BTCUSDT"',
         'instruments[1].venues.binance.symbol: "BTCUSDT" is already BTC/USDT\'s symbol on binance'),
        ('name = "ETH/USDT"', 'name = "USDT/USDT"',
         'instruments[1].name: "USDT/USDT": base and quote are the same asset'),
        ("[venues.okx]\n", '[venues.spare]\nprotocol = "bybit"\nsimulated = true\n[venues.okx]\n',
         "venues.spare: no instrument lists it"),
        ('max_order_notional = "20000"', 'max_order_notional = "1000000000000000000000"',
         'risk.max_order_notional: "1000000000000000000000" is too large (at most 15 digits before the point)'),
        ('net = "0.05"', 'net = "9999999999999999999999"',
         'risk.max_position.BTC.net: "9999999999999999999999" is too large'),
    ],
)  # fmt: skip
def test_what_the_start_could_not_take_is_a_config_error(old: str, new: str, error: str) -> None:
    """Each of these passed the parser and then failed the start (a traceback, exit 1) or, for
    a symbol listed twice on one venue, left one book SYNCING for the whole run."""
    text = default_config_text()
    assert old in text
    with pytest.raises(ConfigFileError) as ei:
        parse_toml(text.replace(old, new, 1))
    assert any(error in line for line in ei.value.errors), ei.value.errors


def test_a_rebate_in_bps_keeps_its_sign() -> None:
    text = default_config_text().replace('maker_fee = "8bps"', 'maker_fee = "-2bps"', 1)
    fee = parse_toml(text).instrument("BTC/USDT").venues["binance"].maker_fee
    assert (fee.rate, fee.text) == (-20_000, "-2bps")
    bad = default_config_text().replace('taker_fee = "10bps"', 'taker_fee = "-10bps"', 1)
    with pytest.raises(ConfigFileError, match='"-10bps": a taker rebate is not supported'):
        parse_toml(bad)


def test_fee_forms() -> None:
    text = default_config_text().replace('taker_fee = "0.0026"', 'taker_fee = "2.5bps"', 1)
    c = parse_toml(text)
    assert c.instrument("BTC/USDT").venues["kraken"].taker_fee.rate == 25_000
    assert c.instrument("BTC/USDT").venues["kraken"].taker_fee.bps == pytest.approx(2.5)


def test_fsync_intents_reaches_the_journal(tmp_path: Path) -> None:
    """`[run] fsync_intents = true` makes every intent record durable before the orders leave."""
    from arbcore.execution import Journal

    cfg = parse_toml(default_config_text().replace("fsync_intents = false", "fsync_intents = true"))
    assert cfg.run.fsync_intents is True
    assert parse_toml(default_config_text()).run.fsync_intents is False
    j = Journal(tmp_path / "j.db", durable_intents=cfg.run.fsync_intents, intent_log=True)
    assert j._log is not None and j._log.fsync
    j.close()


def test_run_cpu_pins_the_loop_and_gives_it_back(tmp_path: Path) -> None:
    """``[run] cpu``: the engine's loop thread runs on that CPU while the session runs, and has
    its CPUs back after ``stop``; a CPU the process may not use is refused, naming the field."""
    import os

    import uvloop

    from arbcore.runner.plugins import load_strategy
    from arbcore.runner.session import TradingSession
    from engine_helpers import config_text

    before = os.sched_getaffinity(0)
    cpu = max(before)
    text = config_text(["binance_spot", "okx"])
    config = parse_toml(text.replace("[run]\n", f"[run]\ncpu = {cpu}\n", 1))
    assert config.run.cpu == cpu and parse_toml(text).run.cpu is None

    async def main(config: Config) -> set[int]:
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        try:
            await s.start()
            return os.sched_getaffinity(0)
        finally:
            await s.stop()

    assert uvloop.run(main(config)) == {cpu}
    assert os.sched_getaffinity(0) == before
    with pytest.raises(ConfigFileError, match=r"run\.cpu"):
        parse_toml(text.replace("[run]\n", "[run]\ncpu = -1\n", 1))
    with pytest.raises(ConfigFileError, match=r"run\.cpu: CPU 4096 is not one this process may use"):
        uvloop.run(main(parse_toml(text.replace("[run]\n", "[run]\ncpu = 4096\n", 1))))
    assert os.sched_getaffinity(0) == before


def start_errors(ours: str, theirs: str, tmp_path: Path) -> list[str]:
    """The lines a session on config ``ours`` refuses to start with, against loopback simulators
    built from config ``theirs`` (the venues as they are)."""
    import uvloop

    from arbcore.runner.plugins import load_strategy
    from arbcore.runner.session import TradingSession
    from arbcore.runner.sim_cluster import SimCluster

    config = parse_toml(ours, source="ours.toml")

    async def main() -> list[str]:
        venues = parse_toml(theirs)
        cluster = SimCluster.from_config(venues)
        await cluster.start()
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite",
                           external=cluster.endpoints(venues))  # fmt: skip
        try:
            with pytest.raises(ConfigFileError) as ei:
                await s.start()
            return ei.value.errors
        finally:
            await s.stop()
            await cluster.stop()

    return uvloop.run(main())


def test_venue_rules_other_than_the_config_refuse_the_start(tmp_path: Path) -> None:
    """Venues whose metadata disagrees with the config: a tick or lot other than the config's,
    or a minimum stricter than it, is one line naming the field and both values, in decimals.
    It was a warning in raw integers ("venue says tick 10 lot 10000, config 1 1000; using the
    venue's") while the books, the detector and the order path kept the config's: tickets
    refused for the rest of the run, and a Kraken book resubscribing thousands of times a
    second on checksums computed at the config's precision."""

    from engine_helpers import config_text

    text = config_text(["binance_spot", "kraken"])  # tick 0.1, lot 0.0001, minimums 0.0001 and 5
    binance, kraken = text.split("[instruments.venues.binance_spot]")[1].split("[instruments.venues.kraken]")
    ours = text.replace(binance, binance.replace('tick = "0.1"', 'tick = "0.01"').replace('min_notional = "5"',
                        'min_notional = "1"')).replace(kraken, kraken.replace('lot = "0.0001"', 'lot = "0.00001"')
                        .replace('min_qty = "0.0001"', 'min_qty = "0.001"'))  # fmt: skip
    assert start_errors(ours, text, tmp_path) == [
        "instruments[0].venues.binance_spot.tick: 0.01, but binance_spot says 0.1 for BTCUSDT (set the venue's)",
        "instruments[0].venues.binance_spot.min_notional: 1, but binance_spot says 5 for BTCUSDT (set the venue's)",
        "instruments[0].venues.kraken.lot: 0.00001, but kraken says 0.0001 for BTC/USDT (set the venue's)",
    ]


def test_a_venue_symbol_for_other_assets_refuses_the_start(tmp_path: Path) -> None:
    """A venue's market mapped into an instrument of other assets: BTC-USD under BTC/USDT (every
    sell credited USD, every buy spending USD the ledger calls USDT), a typo ETHUSDT under
    BTC/USDT. Both passed and traded; now each is one line, from the venue's own base and quote."""

    from engine_helpers import config_text

    text = config_text(["binance_spot", "coinbase"])
    ours = text.replace('symbol = "BTCUSDT"', 'symbol = "ETHUSDT"').replace('symbol = "BTC-USDT"', 'symbol = "BTC-USD"')
    # the venues list ETHUSDT as ETH/USDT and BTC-USD as BTC/USD
    head, rest = ours.split("[[instruments]]")
    inst, tail = rest.split("[risk]")
    binance, coinbase = inst.split("[instruments.venues.coinbase]")
    theirs = (head.replace("[assets]\n", "[assets]\nETH = 8\nUSD = 8\n") + "[[instruments]]"
              + binance.replace('"BTC/USDT"', '"ETH/USDT"').replace('"50000"', '"3000"')
              + '[[instruments]]\nname = "BTC/USD"\nprice_decimals = 2\nqty_decimals = 6\nsim_mid = "50000"\n'
              + "[instruments.venues.coinbase]" + coinbase + "[risk]" + tail)  # fmt: skip
    assert start_errors(ours, theirs, tmp_path) == [
        'instruments[0].venues.binance_spot.symbol: "ETHUSDT" is ETH/USDT on binance_spot, not BTC/USDT',
        'instruments[0].venues.coinbase.symbol: "BTC-USD" is BTC/USD on coinbase, not BTC/USDT',
    ]


def test_assets_a_venue_does_not_name_are_not_refused() -> None:
    from arbcore.runner.session_parts import _rule_errors
    from arbcore.venues.orders.types import InstrumentRules

    inst = load_default().instrument("BTC/USDT")
    iv = inst.venues["okx"]

    def errors(base: str | None, quote: str | None) -> list[str]:
        r = InstrumentRules("okx", iv.symbol, inst.price_decimals, inst.qty_decimals, iv.tick, iv.lot, iv.min_qty,
                            iv.min_notional, base=base, quote=quote)  # fmt: skip
        return _rule_errors(0, "okx", inst, r)

    assert errors(None, None) == errors("BTC", "USDT") == errors("BTC", None) == []
    assert errors(None, "USDC") == ['instruments[0].venues.okx.symbol: "BTC-USDT" is ?/USDC on okx, not BTC/USDT']


def test_check_config_summary_shows_no_credentials_of_a_venue_url() -> None:
    """check-config printed a venue's ws_url whole: a user, password or token in it went to the
    terminal (and whatever log a deployment keeps of it), where logs and errors show none of it."""
    text = (EXAMPLES / "default.toml").read_text()
    live = (
        '[venues.kraken]\nprotocol = "kraken"\nws_url = "wss://alice:pw-s3cret@ws.example.com/v2?token=tok-s3cret"\n'
        'api_key_env = "K"\napi_secret_env = "S"\n'
    )
    text = text.replace('[venues.kraken]\nprotocol = "kraken"\nsimulated = true\n', live, 1)
    config = parse_toml(text)
    assert not config.venues["kraken"].simulated
    lines = config.summary()
    assert "  venue kraken: kraken wss://***@ws.example.com/v2?token=***; balances 3 BTC, 40 ETH, 250000 USDT" in lines
    assert not [line for line in lines if "s3cret" in line]
