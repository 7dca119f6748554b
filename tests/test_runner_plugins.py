"""Strategy plug-ins: loading by builtin name or file[:Class] with one-line errors, the host that
contains a plug-in that raises, and the builtins (taker, threshold skewed by inventory,
hedger keeping net exposure flat)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import arbcore
from arbcore.runner.config import Config, load_default
from arbcore.runner.plugins import (
    FillEvent,
    Opportunity,
    StrategyHost,
    StrategyLoadError,
    TicketOutcome,
    TicketProposal,
    load_strategy,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config() -> Config:
    return load_default()


def opp(edge: float = 5.0, buy: str = "binance", sell: str = "okx", qty: int = 1_000_000, net: int = 10) -> Opportunity:
    return Opportunity("BTC/USDT", buy, sell, qty, 6_000_000, 6_004_000, 0, 0, net * 2, net, edge)


@pytest.mark.parametrize("name", ["taker", "threshold", "hedger"])
def test_a_copy_of_a_builtin_loads_as_a_plugin(name: str, config: Config, tmp_path: Path) -> None:
    """The builtins are the templates for plug-ins: a copy of one's file, loaded by path, is the
    same strategy."""
    copy = tmp_path / f"my_{name}.py"
    shutil.copyfile(ROOT / f"python/arbcore/runner/strategies/{name}.py", copy)
    by_name = load_strategy(name, config)
    by_path = load_strategy(str(copy), config)
    assert by_name.name == by_path.name == name
    assert type(by_path.strategy).__module__ != type(by_name.strategy).__module__


def test_load_errors_are_one_line(tmp_path: Path, config: Config) -> None:
    (tmp_path / "none.py").write_text("X = 1\n")
    (tmp_path / "notsub.py").write_text("class Foo:\n    pass\n")
    (tmp_path / "boom.py").write_text("raise RuntimeError('at import')\n")
    (tmp_path / "two.py").write_text(
        "from arbcore.runner.plugins import Strategy\nclass A(Strategy):\n    pass\nclass B(Strategy):\n    pass\n"
    )
    (tmp_path / "badinit.py").write_text(
        "from arbcore.runner.plugins import Strategy\nclass A(Strategy):\n"
        "    def __init__(self, ctx):\n        super().__init__(ctx)\n        raise ValueError('bad param')\n"
    )
    cases = {
        f"{tmp_path}/missing.py": "no such file",
        f"{tmp_path}/none.py": "defines no subclass of arbcore.runner.plugins.Strategy",
        f"{tmp_path}/none.py:Foo": "no class 'Foo' in it",
        f"{tmp_path}/notsub.py:Foo": "not a subclass of arbcore.runner.plugins.Strategy",
        f"{tmp_path}/boom.py": "importing it raised RuntimeError: at import",
        f"{tmp_path}/two.py": "defines several strategies (A, B); name one as FILE:Class",
        f"{tmp_path}/badinit.py": "A(...) raised ValueError: bad param",
        "nonsense": "not a builtin",
    }
    for spec, why in cases.items():
        with pytest.raises(StrategyLoadError) as ei:
            load_strategy(spec, config)
        msg = str(ei.value)
        assert why in msg and "\n" not in msg, (spec, msg)


def test_a_plugin_that_raises_is_reported_and_stopped(
    tmp_path: Path, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "flaky.py").write_text(
        "from arbcore.runner.plugins import Strategy\n"
        "class Flaky(Strategy):\n"
        "    calls = 0\n"
        "    def on_opportunity(self, opp):\n"
        "        self.calls += 1\n"
        "        if self.calls == 2:\n"
        "            raise ZeroDivisionError('boom on call 2')\n"
        "        return []\n"
    )
    stopped: list[StrategyHost] = []
    reported: list[str] = []
    host = load_strategy(str(tmp_path / "flaky.py"), config, on_stopped=stopped.append, report=reported.append)
    host.start()
    assert host.on_opportunity(opp()) == []
    with caplog.at_level(logging.ERROR, logger="arbcore.strategy"):
        assert host.on_opportunity(opp()) == []
    assert host.stopped and isinstance(host.error, ZeroDivisionError)
    assert stopped == [host]
    assert reported == ["strategy Flaky stopped: in on_opportunity: ZeroDivisionError: boom on call 2"]
    assert "strategy Flaky stopped" in caplog.text
    # never called again
    assert host.on_opportunity(opp()) == [] and host.on_timer(1) == [] and host.on_fill(fill()) == []
    assert host.strategy.calls == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "raise_it", ["sys.exit(3)", "asyncio.CancelledError()", "KeyError('k')", "type('Odd', (BaseException,), {})()"]
)
def test_a_plugin_that_raises_a_base_exception_is_stopped_not_the_engine(
    raise_it: str, tmp_path: Path, config: Config
) -> None:
    """SystemExit, CancelledError or any BaseException out of a hook (batched or not) stops the
    plug-in alone: escaping, it went up through the feed's frame callback (picows logged a fatal
    error and dropped the venue's connection) or ended the engine with no report. An import or a
    constructor that raises one is a load error."""
    raiser = raise_it if raise_it.startswith("sys.") else f"raise {raise_it}"
    (tmp_path / "quits.py").write_text(
        "import asyncio, sys\n"
        "from arbcore.runner.plugins import Strategy\n"
        "class Quits(Strategy):\n"
        "    def on_opportunity(self, opp):\n"
        f"        {raiser}\n"
        "    def on_timer(self, now_ns):\n"
        f"        {raiser}\n"
    )
    for hook in ("on_opportunity", "on_timer"):
        host = load_strategy(str(tmp_path / "quits.py"), config)
        host.start()
        got = host.on_opportunities([opp()]) if hook == "on_opportunity" else host.on_timer(1)
        assert got == [] and host.stopped and host.error_text.startswith(f"in {hook}:"), (hook, host.error_text)
    (tmp_path / "quits_at_import.py").write_text(f"import asyncio, sys\n{raiser}\n")
    with pytest.raises(StrategyLoadError, match="importing it raised"):
        load_strategy(str(tmp_path / "quits_at_import.py"), config)


def test_a_keyboard_interrupt_in_a_plugin_still_stops_the_process(tmp_path: Path, config: Config) -> None:
    """Ctrl-C while a hook runs is the user's, not the plug-in's: it goes on up."""
    (tmp_path / "ctrl_c.py").write_text(
        "from arbcore.runner.plugins import Strategy\n"
        "class CtrlC(Strategy):\n"
        "    def on_timer(self, now_ns):\n"
        "        raise KeyboardInterrupt\n"
    )
    host = load_strategy(str(tmp_path / "ctrl_c.py"), config)
    with pytest.raises(KeyboardInterrupt):
        host.on_timer(1)
    assert not host.stopped


def fill() -> FillEvent:
    return FillEvent("T1", "c1", "binance", "BTC/USDT", "buy", 1, 6_000_000)


def test_invalid_proposals_stop_the_plugin(tmp_path: Path, config: Config) -> None:
    (tmp_path / "bad.py").write_text(
        "from arbcore.runner.plugins import Strategy, TicketProposal\n"
        "class Bad(Strategy):\n"
        "    def on_timer(self, now):\n"
        "        return [TicketProposal('BTC/USDT', 'binance', 'nowhere', 5, 1, 2)]\n"
        "    def on_fill(self, f):\n"
        "        return 'not a list'\n"
    )
    host = load_strategy(str(tmp_path / "bad.py"), config)
    assert host.on_timer(1) == []
    assert (
        host.stopped and host.error_text == "in on_timer: invalid proposal: sell_venue 'nowhere' does not list BTC/USDT"
    )
    host2 = load_strategy(str(tmp_path / "bad.py:Bad"), config)
    assert host2.on_fill(fill()) == []
    assert host2.error_text == "in on_fill: returned str, not a list of TicketProposal"


def test_taker_takes_each_opportunity_at_its_size_and_prices(config: Config) -> None:
    host = load_strategy("taker", config)  # default params: min_edge_bps = "2"
    assert host.on_opportunity(opp(edge=1.0)) == []
    (p,) = host.on_opportunity(opp(edge=3.0))
    assert (p.instrument, p.buy_venue, p.sell_venue, p.qty, p.buy_limit, p.sell_limit) == (
        "BTC/USDT", "binance", "okx", 1_000_000, 6_000_000, 6_004_000,
    )  # fmt: skip
    assert p.opportunity is not None and "taker" in p.reason
    capped = load_strategy("taker", config, {"max_qty": {"BTC/USDT": "0.001234"}})
    (p,) = capped.on_opportunity(opp(edge=3.0, buy="kraken", qty=500_000))
    assert p.qty == 120_000  # kraken's lot is 0.0001


def test_opportunity_from_book_records() -> None:
    book = load_default().instrument("BTC/USDT").build_book(0, load_default().balances())
    book.apply_snapshot("binance", bids=[("59990", "1")], asks=[("60000", "1")], seq=1)
    book.apply_snapshot("okx", bids=[("60300", "1")], asks=[("60310", "1")], seq=1)
    recs = book.opportunities()
    assert recs.dtype == arbcore.OPPORTUNITY_DTYPE and len(recs) == 1
    (o,) = Opportunity.from_book(book, recs)
    assert (o.buy_venue, o.sell_venue, o.instrument) == ("binance", "okx", "BTC/USDT")
    assert o.qty == int(recs[0]["qty"]) and o.edge_bps == pytest.approx(float(recs[0]["edge_bps"]))
    assert isinstance(recs[0], np.void)


def test_threshold_skews_by_inventory(config: Config) -> None:
    host = load_strategy("threshold", config, {"threshold_bps": "3", "skew_bps": "10"})
    assert host.on_opportunity(opp(edge=3.5))  # balanced: 3 bps needed
    ctx = host.context
    # binance holds 1 BTC more than its 3 at start, okx 1 less: buying on binance needs 3 + 10*(1/3+1/3)
    ctx.set_balance("binance", "BTC", 4 * 10**8)
    ctx.set_balance("okx", "BTC", 2 * 10**8)
    assert host.on_opportunity(opp(edge=8.0)) == []
    assert host.on_opportunity(opp(edge=10.0))
    # the other direction rebalances: the threshold drops to the floor
    assert host.on_opportunity(opp(edge=0.5, buy="okx", sell="binance"))
    assert not host.stopped


def test_hedger_flattens_net_exposure(config: Config) -> None:
    host = load_strategy("hedger", config, {"slippage_bps": "10", "cooldown_ms": 1000})
    ctx = host.context
    books = {i.name: i.build_book(n, config.balances()) for n, i in enumerate(config.instruments)}
    ctx.attach_books(books)
    b = books["BTC/USDT"]
    b.apply_snapshot("binance", bids=[("60000", "1")], asks=[("60001", "1")], seq=1)
    b.apply_snapshot("okx", bids=[("60005", "1")], asks=[("60006", "1")], seq=1)
    assert host.on_timer(1) == []  # flat
    # a buy leg filled 0.01 BTC on kraken and its sell leg did not: net long 0.01
    ctx.set_position("kraken", "BTC", 1_000_000)
    (p,) = host.on_timer(2)
    assert (p.buy_venue, p.sell_venue, p.qty) == (None, "okx", 1_000_000)  # okx has the best bid
    assert p.sell_limit == 5_994_500  # 60005 - 10 bps (6000.5 raw, truncated), down to okx's 0.1 tick
    assert p.is_hedge and p.problem(config) is None
    assert host.on_timer(3) == []  # cooldown
    ctx.set_position("kraken", "BTC", -500_000)
    (p,) = host.on_timer(2 + 10**9)
    assert (p.buy_venue, p.sell_venue, p.qty, p.buy_limit) == ("binance", None, 500_000, 6_006_100)


def test_hedger_leaves_the_engines_own_residuals_to_its_sweeper(config: Config) -> None:
    """A ticket's residual the engine's sweeper flattens is in the net position too: the hedger
    sold it as well, so both traded it (the net then short by as much)."""
    host = load_strategy("hedger", config, {"slippage_bps": "10", "cooldown_ms": 1000})
    ctx = host.context
    books = {i.name: i.build_book(n, config.balances()) for n, i in enumerate(config.instruments)}
    ctx.attach_books(books)
    books["BTC/USDT"].apply_snapshot("okx", bids=[("60005", "1")], asks=[("60006", "1")], seq=1)
    ctx.set_position("kraken", "BTC", 1_000_000)  # 0.01 BTC long (asset decimals 8)
    qd = config.instrument("BTC/USDT").qty_decimals
    ctx.residuals_source = lambda: {"BTC/USDT": 10**qd // 100}  # 0.01 BTC: all the engine's
    assert host.on_timer(1) == []
    ctx.residuals_source = lambda: {"BTC/USDT": 10**qd // 400}  # 0.0025 of it the engine's
    (p,) = host.on_timer(2)
    assert (p.sell_venue, p.qty) == ("okx", 750_000 // 10 ** (8 - qd))


def _by_field(rec: np.void, instrument: str, venues: list[str]) -> Opportunity:
    """The reference conversion: one field at a time, by name."""
    names = [f for f in Opportunity.__dataclass_fields__ if f not in ("instrument", "buy_venue", "sell_venue")]
    vals = [float(rec[n]) if n == "edge_bps" else int(rec[n]) for n in names]
    return Opportunity(instrument, venues[int(rec["buy_venue"])], venues[int(rec["sell_venue"])], *vals)


def test_from_book_equals_the_field_by_field_conversion() -> None:
    config = load_default()
    book = config.instrument("BTC/USDT").build_book(0, config.balances())
    book.apply_snapshot("binance", bids=[("59990", "1")], asks=[("60000", "1")], seq=3, venue_ts=7, recv_ts=9)
    book.apply_snapshot("kraken", bids=[("60400", "1")], asks=[("60410", "1")], seq=4, venue_ts=8, recv_ts=10)
    book.apply_snapshot("okx", bids=[("60300", "1")], asks=[("60310", "1")], seq=5, venue_ts=11, recv_ts=12)
    recs = book.opportunities()
    assert len(recs) >= 2
    got = Opportunity.from_book(book, recs)
    want = [_by_field(r, "BTC/USDT", book.venues) for r in recs]
    assert got == want and [hash(o) for o in got] == [hash(o) for o in want] and repr(got) == repr(want)
    for o in got:
        assert all(type(getattr(o, f)) is type(getattr(want[0], f)) for f in Opportunity.__dataclass_fields__)
        with pytest.raises(AttributeError):  # still frozen
            o.qty = 1  # type: ignore[misc]
    assert Opportunity.from_record(recs[1], "BTC/USDT", book.venues) == want[1]
    assert Opportunity.from_book(book, recs[:0]) == []
    assert not recs[::-1].flags.c_contiguous and Opportunity.from_book(book, recs[::-1]) == want[::-1]

    class Sub(Opportunity):
        pass

    (s, *_) = Sub.from_book(book, recs)
    assert type(s) is Sub and s == Sub(*(getattr(want[0], f) for f in Opportunity.__dataclass_fields__))


def test_proposal_from_opportunity_equals_the_constructor() -> None:
    o = opp()
    p = TicketProposal.from_opportunity(o, reason="r")
    assert p == TicketProposal("BTC/USDT", "binance", "okx", 1_000_000, 6_000_000, 6_004_000, "r", o)
    assert TicketProposal.from_opportunity(o, qty=5).qty == 5
    with pytest.raises(AttributeError):
        p.qty = 1  # type: ignore[misc]


def test_a_known_route_is_still_checked_for_its_numbers(tmp_path: Path, config: Config) -> None:
    (tmp_path / "drift.py").write_text(
        "from arbcore.runner.plugins import Strategy, TicketProposal\n"
        "class Drift(Strategy):\n"
        "    qtys = [5, 7, True]\n"
        "    def on_opportunity(self, opp):\n"
        "        return [TicketProposal.from_opportunity(opp, qty=self.qtys.pop(0))]\n"
    )
    host = load_strategy(str(tmp_path / "drift.py"), config)
    out = host.on_opportunities([opp(), opp(), opp(), opp()])
    assert [p.qty for p in out] == [5, 7]
    assert (
        host.stopped
        and host.error_text == "in on_opportunity: invalid proposal: qty True is not a positive raw integer quantity"
    )
    assert host.calls == 3 and host.proposals == 2


def test_from_book_sees_a_venue_added_later() -> None:
    book = arbcore.ConsolidatedBook("BTC/USDT", 2, 6)

    def add(name: str, bid: int, ask: int) -> None:
        book.add_venue(name, symbol="X", tick_size="0.1", lot_size="0.0001", taker_fee="0.0005")
        for asset in ("USDT", "BTC"):
            book.set_balance(name, asset, "1000000")
        book.apply_snapshot(name, [(bid, 10_000)], [(ask, 10_000)], seq=1)

    add("a", 4_999_990, 5_000_000)
    add("b", 5_010_000, 5_010_010)
    ((buy, sell),) = [(o.buy_venue, o.sell_venue) for o in Opportunity.from_book(book, book.opportunities())]
    assert (buy, sell) == ("a", "b")
    add("c", 5_030_000, 5_030_010)
    got = {(o.buy_venue, o.sell_venue) for o in Opportunity.from_book(book, book.opportunities())}
    assert ("a", "c") in got


def test_an_unhashable_venue_stops_the_plugin(tmp_path: Path, config: Config) -> None:
    """A venue name that cannot be looked up (a list) is an invalid proposal like any other: before,
    its TypeError escaped the host, into the feed's read callback (a traceback per read) or the
    timer task, and the plug-in was never stopped."""
    (tmp_path / "listy.py").write_text(
        "from arbcore.runner.plugins import Strategy, TicketProposal\n"
        "class Listy(Strategy):\n"
        "    def on_opportunity(self, opp):\n"
        "        return [TicketProposal('BTC/USDT', ['binance'], 'okx', 5, 1, 2)]\n"
        "    def on_timer(self, now):\n"
        "        return [TicketProposal('BTC/USDT', None, ['okx'], 5, None, 2)]\n"
    )
    host = load_strategy(str(tmp_path / "listy.py"), config)
    assert host.on_opportunities([opp()]) == []
    assert (
        host.stopped
        and host.error_text == "in on_opportunity: invalid proposal: buy_venue ['binance'] does not list BTC/USDT"
    )
    host = load_strategy(str(tmp_path / "listy.py"), config)
    assert host.on_timer(1) == []
    assert (
        host.stopped and host.error_text == "in on_timer: invalid proposal: sell_venue ['okx'] does not list BTC/USDT"
    )


def test_hedger_hedge_only_must_be_a_boolean(config: Config) -> None:
    """``hedge_only = "false"`` (a string, as the other params are written) was bool("false"), True:
    the hedger silently took no opportunity. Now a load error, as check-config and run report it."""
    assert load_strategy("hedger", config, {"hedge_only": False}).strategy.hedge_only is False  # type: ignore[attr-defined]
    assert load_strategy("hedger", config, {"hedge_only": True}).strategy.hedge_only is True  # type: ignore[attr-defined]
    with pytest.raises(StrategyLoadError, match="hedge_only must be true or false, not 'false'"):
        load_strategy("hedger", config, {"hedge_only": "false"})


def test_a_slow_hook_is_warned_of_naming_it_and_its_time(
    tmp_path: Path, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """Hooks run on the event loop: one that sleeps holds the feeds, order replies and tickets.
    That was silent (a 1.5 s on_timer or a 0.3 s on_opportunity showed nowhere); it is a WARNING
    naming the strategy, the hook and its time, not repeated for every slow call."""
    (tmp_path / "slow.py").write_text(
        "import time\nfrom arbcore.runner.plugins import Strategy\n"
        "class Slow(Strategy):\n"
        "    def on_timer(self, now_ns):\n        time.sleep(0.03)\n"
        "    def on_opportunity(self, opp):\n        time.sleep(0.03)\n"
        "    def on_fill(self, fill):\n        return None\n"
    )
    host = load_strategy(str(tmp_path / "slow.py"), config)
    with caplog.at_level(logging.WARNING, logger="arbcore.strategy"):
        host.on_timer(1)
        host.on_timer(2)  # within the quiet period: counted, not another line
        host.on_opportunities([opp(), opp()])
        host.on_fill(fill())  # quick: nothing
    lines = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 2, [r.getMessage() for r in lines]
    timer, opportunity = (r.getMessage() for r in lines)
    assert timer.startswith("strategy Slow: on_timer took ") and "ms, holding the event loop" in timer, timer
    assert opportunity.startswith("strategy Slow: on_opportunity took "), opportunity
    assert not host.stopped


def test_a_residual_carried_over_a_restart_is_not_hedged_against_its_sweep(config: Config) -> None:
    """Positions count from the run's start, but engine_residual counted a residual the journal
    carried over a restart too: the hedger read net 0 less a 0.05 BTC long residual as 0.05 short
    and bought 0.05 BTC on its first tick, while the sweeper sold that residual (twice the
    exposure, and a round trip's fees)."""
    host = load_strategy("hedger", config, {"slippage_bps": "10", "cooldown_ms": 1000})
    ctx = host.context
    books = {i.name: i.build_book(n, config.balances()) for n, i in enumerate(config.instruments)}
    ctx.attach_books(books)
    books["BTC/USDT"].apply_snapshot("okx", bids=[("60005", "1")], asks=[("60006", "1")], seq=1)
    qd = config.instrument("BTC/USDT").qty_decimals
    residual = {"BTC/USDT": 5 * 10**qd // 100}  # 0.05 BTC long, left by a ticket before the restart
    ctx.residuals_source = lambda: residual
    ctx.mark_start()
    assert host.on_timer(1) == []
    assert ctx.engine_residual("BTC/USDT") == 0
    # the sweeper sold it: both the position and the engine's residual show the trade
    ctx.set_position("okx", "BTC", -5 * 10**6)
    residual["BTC/USDT"] = 0
    assert ctx.engine_residual("BTC/USDT") == -5 * 10**qd // 100
    assert host.on_timer(2 + 10**9) == []


def test_no_hook_is_called_after_on_stop(tmp_path: Path, config: Config) -> None:
    """A ticket that outlives the stop's wait for tickets in flight ended after ``on_stop`` and
    called ``on_ticket`` on a strategy told it had stopped (so could a late fill's ``on_fill``)."""
    (tmp_path / "late.py").write_text(
        "from arbcore.runner.plugins import Strategy\n"
        "class Late(Strategy):\n"
        "    calls: list[str] = []\n"
        "    def on_stop(self):\n"
        "        self.calls.append('stop')\n"
        "    def on_ticket(self, ticket):\n"
        "        self.calls.append('ticket')\n"
        "    def on_fill(self, fill):\n"
        "        self.calls.append('fill')\n"
        "    def on_opportunity(self, opp):\n"
        "        self.calls.append('opportunity')\n"
    )
    host = load_strategy(str(tmp_path / "late.py"), config)
    host.start()
    host.on_ticket(TicketOutcome("T1", "BTC/USDT", "done"))
    host.stop()
    host.on_ticket(TicketOutcome("T2", "BTC/USDT", "residual"))
    host.on_fill(FillEvent("T2", "c", "okx", "BTC/USDT", "buy", 1, 6_000_000, 0, "USDT", 8))
    assert host.on_opportunities([opp()]) == []
    assert host.strategy.calls == ["ticket", "stop"]  # type: ignore[attr-defined]
    assert not host.stopped  # (a clean stop, not a failure)
