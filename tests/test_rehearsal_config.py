"""``[venues.NAME.sim_faults]``: read as written, refused on a venue that is not simulated, every
bad value named with its field (``parse_toml`` and ``arbcore check-config`` alike), and printed
by ``check-config``; ``examples/rehearsal.toml`` has faults on every venue."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbcore.runner.config import ConfigFileError, load_config, parse_toml
from arbcore.runner.config_sim_faults import SimFaults
from engine_helpers import config_text
from test_cli_runner import arbcore

ROOT = Path(__file__).resolve().parent.parent
REHEARSAL = ROOT / "examples/rehearsal.toml"


def with_faults(table: str, venues: tuple[str, ...] = ("binance_spot", "kraken"), on: str = "kraken") -> str:
    """A two-venue config (``engine_helpers.config_text``) with ``[venues.ON.sim_faults]`` = ``table``."""
    return config_text(list(venues)) + f"\n[venues.{on}.sim_faults]\n{table}"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigFileError) as ei:
        parse_toml(text, source="r.toml")
    return ei.value.errors


def test_the_example_rehearses_faults_on_every_venue() -> None:
    c = load_config(REHEARSAL)
    assert c.simulated and len(c.venues) == 3
    for v in c.venues.values():
        f = v.sim_faults
        assert f is not None and f.active, v.name
        assert all(pct > 0 for _, pct in f.order_chances() if _ != "disconnect"), (v.name, f)
        kinds = {k for k, _ in f.periods()}
        assert {"gap", "disconnect", "balance_change"} <= kinds, (v.name, kinds)
    assert c.venues["kraken"].sim_faults is not None and c.venues["kraken"].sim_faults.bad_checksum_every_s > 0
    assert c.execution.adopt_balances == "settled"


def test_faults_read_as_written() -> None:
    c = parse_toml(
        with_faults(
            "reject_pct = 2.5\ntimeout_pct = 1\npartial_fill_pct = 4\nslow_ack_pct = 3\nslow_ack_ms = 250\n"
            "disconnect_pct = 0.5\nrate_limit_pct = 2\ngap_every_s = 5\nduplicate_every_s = 6.5\nreorder_every_s = 7\n"
            "bad_checksum_every_s = 8\nmalformed_every_s = 9\ndisconnect_every_s = 10\nstall_every_s = 11\n"
            "stall_ms = 1200\nslow_snapshot_ms = 300\nbalance_change_every_s = 12\nbalance_change_pct = 2\n"
        )
    )
    assert c.venues["kraken"].sim_faults == SimFaults(
        reject_pct=2.5, timeout_pct=1, partial_fill_pct=4, slow_ack_pct=3, slow_ack_ms=250, disconnect_pct=0.5,
        rate_limit_pct=2, gap_every_s=5, duplicate_every_s=6.5, reorder_every_s=7, bad_checksum_every_s=8,
        malformed_every_s=9, disconnect_every_s=10, stall_every_s=11, stall_ms=1200, slow_snapshot_ms=300,
        balance_change_every_s=12, balance_change_pct=2,
    )  # fmt: skip
    assert c.venues["binance_spot"].sim_faults is None
    # an empty table is no fault at all: no plan runs for it
    empty = parse_toml(with_faults("")).venues["kraken"].sim_faults
    assert empty == SimFaults() and not empty.active


def test_a_real_venue_with_faults_is_refused() -> None:
    text = config_text(["binance_spot", "okx"]).replace(
        '[venues.okx]\nprotocol = "okx"\nsimulated = true\n',
        '[venues.okx]\nprotocol = "okx"\nws_url = "wss://ws.okx.com:8443/ws/v5/public"\n'
        'api_key_env = "OKX_KEY"\napi_secret_env = "OKX_SECRET"\napi_passphrase_env = "OKX_PASS"\n',
    )
    assert "simulated = true" in text.split("[venues.okx]")[0]  # binance_spot stays simulated
    errs = errors_of(text + "\n[venues.okx.sim_faults]\nreject_pct = 1\n")
    assert errs == [
        "venues.okx.sim_faults: only a simulated venue (simulated = true) rehearses faults; this one is a real venue"
    ], errs


#: one file with every kind of bad value, and the line naming each
BROKEN = """\
reject_pct = 60
timeout_pct = 50
partial_fill_pct = "5"
slow_ack_pct = -1
rate_limit_pct = 101
gap_every_s = 0.05
duplicate_every_s = "often"
reorder_every_s = -2
bad_checksum_every_s = 5
disconnect_every_s = 100000
stall_ms = 500
slow_snapshot_ms = 1.5
balance_change_pct = 2
slow_ack_ms = 0
disconect_every_s = 3
"""
BROKEN_LINES = [
    'venues.binance_spot.sim_faults.partial_fill_pct: "5" is not a number',
    "venues.binance_spot.sim_faults.slow_ack_pct: -1 is outside 0..100",
    "venues.binance_spot.sim_faults.rate_limit_pct: 101 is outside 0..100",
    "venues.binance_spot.sim_faults: reject_pct + timeout_pct = 110%, more than 100% "
    "(an order meets one fault at most)",
    "venues.binance_spot.sim_faults.gap_every_s: 0.05 s is too often (at least 0.1 s, or 0 for never)",
    'venues.binance_spot.sim_faults.duplicate_every_s: "often" is not a number',
    "venues.binance_spot.sim_faults.reorder_every_s: -2 is outside 0..86400",
    "venues.binance_spot.sim_faults.bad_checksum_every_s: binance_spot's simulated books carry no checksum "
    "(only kraken's do)",
    "venues.binance_spot.sim_faults.disconnect_every_s: 100000 is outside 0..86400",
    "venues.binance_spot.sim_faults.stall_ms: set, but stall_every_s is not (that fault is off)",
    "venues.binance_spot.sim_faults.slow_snapshot_ms: 1.5 is not an integer",
    "venues.binance_spot.sim_faults.balance_change_pct: set, but balance_change_every_s is not (that fault is off)",
    "venues.binance_spot.sim_faults.slow_ack_ms: 0 is outside 1..60000",
    "venues.binance_spot.sim_faults.disconect_every_s: unknown field (known: ",
]


def test_every_bad_value_is_named() -> None:
    errs = errors_of(with_faults(BROKEN, on="binance_spot"))
    for line in BROKEN_LINES:
        assert any(e.startswith(line) for e in errs), (line, errs)
    assert len(errs) == len(BROKEN_LINES), errs


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("sim_faults = 3", 'venues.kraken.sim_faults: 3 is not a table'),
        ("slow_ack_ms = 200", "venues.kraken.sim_faults.slow_ack_ms: set, but slow_ack_pct is not"),
        ("balance_change_every_s = 5\nbalance_change_pct = 0",
         "venues.kraken.sim_faults.balance_change_pct: 0 changes nothing"),
        ("timeout_pct = true", "venues.kraken.sim_faults.timeout_pct: True is not a number"),
        ("stall_every_s = 3\nstall_ms = 700000", "venues.kraken.sim_faults.stall_ms: 700000 is outside 1..600000"),
    ],
)  # fmt: skip
def test_single_bad_values(table: str, error: str) -> None:
    if table.startswith("sim_faults ="):  # the table itself as a value
        text = config_text(["binance_spot", "kraken"]).replace(
            '[venues.kraken]\nprotocol = "kraken"\nsimulated = true\n',
            f'[venues.kraken]\nprotocol = "kraken"\nsimulated = true\n{table}\n',
        )
    else:
        text = with_faults(table)
    errs = errors_of(text)
    assert any(e.startswith(error) for e in errs), errs


def test_a_balance_change_needs_a_balance() -> None:
    text = config_text(["binance_spot", "kraken"]).replace('[venues.kraken.balances]\nUSDT = "500000"\nBTC = "5"\n', "")
    errs = errors_of(text + "\n[venues.kraken.sim_faults]\nbalance_change_every_s = 4\n")
    assert errs == [
        "venues.kraken.sim_faults.balance_change_every_s: the venue has no balance to change "
        "(set [venues.kraken.balances])"
    ], errs


def test_check_config_prints_the_faults_and_names_every_bad_one(tmp_path: Path) -> None:
    ok = arbcore("check-config", str(REHEARSAL))
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    kraken = next(x for x in lines if x.startswith("  sim_faults kraken: "))
    assert kraken == (
        "  sim_faults kraken: per order reject 2%, timeout 2%, partial_fill 5%, slow_ack 2% (800 ms), disconnect 1%, "
        "rate_limit 3%; feed gap ~every 6 s, bad_checksum ~every 5 s, malformed ~every 8 s, disconnect ~every 11 s, "
        "stall ~every 12 s (1500 ms); deposit or withdrawal ~every 20 s (up to 1% of an asset's balance)"
    ), kraken
    assert {x.split(":")[0].strip() for x in lines if x.startswith("  sim_faults ")} == {
        "sim_faults binance", "sim_faults kraken", "sim_faults okx"
    }  # fmt: skip
    bad = tmp_path / "bad.toml"
    bad.write_text(with_faults(BROKEN, on="binance_spot"))
    p = arbcore("check-config", str(bad))
    assert p.returncode == 2 and not p.stdout and "Traceback" not in p.stderr
    got = p.stderr.splitlines()
    for line in BROKEN_LINES:
        assert any(g.startswith(f"{bad}: {line}") for g in got), (line, got)
