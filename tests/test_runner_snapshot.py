"""Dashboard snapshots and metrics from live objects: books, feed counters, balances, positions."""

from __future__ import annotations

from arbcore.runner.config import load_default
from arbcore.runner.dashboard import plain_lines
from arbcore.runner.metrics import Registry, engine_metrics
from arbcore.runner.plugins import Opportunity, load_strategy
from arbcore.runner.snapshot import SnapshotBuilder, metrics_bridge


class FakeFeed:
    def __init__(self) -> None:
        self.frames = 0

    def counters(self) -> dict[str, int]:
        return {"frames": self.frames, "gaps": 1, "callback_errors": 1, "latency_p50_us": 511, "latency_p99_us": 2047}


def test_snapshot_and_metrics() -> None:
    c = load_default()
    books = {i.name: i.build_book(n, c.balances()) for n, i in enumerate(c.instruments)}
    books["BTC/USDT"].apply_snapshot("binance", bids=[("60000", "1")], asks=[("60001", "1")], seq=1)
    books["ETH/USDT"].apply_snapshot("binance", bids=[("3000", "1")], asks=[("3001", "1")], seq=1)
    feeds = {"binance": [FakeFeed(), FakeFeed()], "kraken": [FakeFeed()]}
    now = [0.0]
    snap = SnapshotBuilder(c, books, feeds, clock=lambda: now[0])
    snap.venue_rows()
    feeds["binance"][0].frames = 50
    feeds["binance"][1].frames = 50
    now[0] = 2.0
    host = load_strategy("taker", c)
    opp = Opportunity("BTC/USDT", "binance", "okx", 1_000_000, 6_000_100, 6_010_000, 0, 0, 0, 12_345_678, 4.2)
    state = snap.state(
        2.0, host,
        balances={("okx", "BTC"): 300_000_000, ("okx", "USDT"): 12_345 * 10**10},
        positions={("okx", "BTC"): -1_000_000, ("binance", "BTC"): 1_000_000, ("kraken", "ETH"): 5},
        opportunities=[snap.opportunity_row(opp, True, ts_ns=1)],
        tickets=[snap.ticket_row("T1", "BTC/USDT", "binance", "okx", 1_000_000, "done", -5 * 10**8)],
        realised_pnl={"USDT": (-5 * 10**8, 10)},
    )  # fmt: skip
    v = {r.name: r for r in state.venues}
    assert v["binance"].state == "LIVE" and v["binance"].msg_rate == 50.0 and v["binance"].errors == 4
    assert v["binance"].latency_p50_ms == 0.511
    assert v["kraken"].state == "CONNECTING" and v["okx"].state == "SYNCING"
    assert [q.bid for q in state.quotes] == ["60000", "3000"]
    assert state.opportunities[0].qty == "0.01" and state.opportunities[0].net_profit == "0.0012345678"
    assert state.tickets[0].pnl == "-0.05" and state.realised_pnl == {"USDT": "-0.05"}
    assert state.exposure == {"BTC": "0", "ETH": "0.00000005"}
    assert [(b.venue, b.asset, b.total) for b in state.balances] == [("okx", "BTC", "3"), ("okx", "USDT", "12345")]
    lines = plain_lines(state)
    assert any("venue=binance protocol=binance_spot state=LIVE p50_ms=0.51 msgs_s=50.0 errors=4" in x for x in lines)

    reg = Registry()
    m = engine_metrics(reg)
    metrics_bridge(reg, m, snap)
    text = reg.render()
    assert 'arbcore_frames_total{venue="binance"} 100' in text
    assert 'arbcore_feed_errors_total{venue="binance",kind="gaps"} 2' in text
    assert 'arbcore_book_state{venue="binance",instrument="BTC/USDT"} 1' in text
    assert 'arbcore_book_state{venue="okx",instrument="ETH/USDT"} 0' in text


def test_status_says_the_kill_switch_is_engaged() -> None:
    c = load_default()
    snap = SnapshotBuilder(c, {})
    host = load_strategy("taker", c)
    assert snap.state(1.0, host).strategy_status == "running"
    state = snap.state(1.0, host, kill_switch="kill file /tmp/KILL present")
    assert state.strategy_status == "kill switch engaged: kill file /tmp/KILL present"
    assert plain_lines(state)[-1].endswith("status=kill switch engaged: kill file /tmp/KILL present")
    host.stopped, host.error_text = True, "in on_timer: ValueError: x"
    assert snap.state(1.0, host, kill_switch="SIGUSR1").strategy_status == (
        "kill switch engaged: SIGUSR1; strategy stopped: in on_timer: ValueError: x"
    )
