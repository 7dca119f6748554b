"""Cross-venue opportunity detection through the Python API.

The hand-computed example: BTC/USDT (price_decimals 2, qty_decimals 8, notional_decimals 10).
Venue a (taker 10 bps, lot 0.0001) asks 60000 x 0.5, 60010 x 1; venue b (taker 5 bps, lot 0.001)
bids 60100 x 0.2, 60080 x 1. Buying on a costs 60000 * 1.001 = 60060 per BTC; selling the first
0.2 BTC on b yields 60100 * 0.9995 = 60069.95, the next level only 60080 * 0.9995 = 60049.96.
So the best fill is 0.2 BTC: C = 12000, P = 12020, gross 20, net 12013.99 - 12012 = 1.99 USDT,
edge 1.99 / 12000 = 1.658333 bps. The reverse direction (b asks 60110, a bids 59990) never pays.
"""

from __future__ import annotations

from math import lcm

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arbcore
from arbcore import ASK, BID, BROKEN, FEE_SCALE, LIVE, STALE, SYNCING, ConsolidatedBook
from conftest import add_venue, levels, make_btc_book, records

F = FEE_SCALE
N = 10**10  # one quote unit at notional_decimals 10
Q = 10**8  # one BTC at qty_decimals 8


def pair_book(a_rules: dict[str, str] | None = None, b_rules: dict[str, str] | None = None) -> ConsolidatedBook:
    book = ConsolidatedBook("BTC/USDT", 2, 8, instrument_id=42)
    add_venue(book, "a", lot_size="0.0001", taker_fee="10bps", **(a_rules or {}))
    add_venue(book, "b", lot_size="0.001", taker_fee="0.0005", **(b_rules or {}))
    for v in ("a", "b"):
        book.set_balance(v, "BTC", "1000")
        book.set_balance(v, "USDT", "100000000")
    book.apply_snapshot(
        "a",
        levels(book, [("59990", "1")]),
        levels(book, [("60000", "0.5"), ("60010", "1")]),
        seq=7,
        venue_ts=70,
        recv_ts=71,
    )
    book.apply_snapshot(
        "b",
        levels(book, [("60100", "0.2"), ("60080", "1")]),
        levels(book, [("60110", "1")]),
        seq=9,
        venue_ts=90,
        recv_ts=91,
    )
    return book


def only(book: ConsolidatedBook) -> dict[str, object]:
    recs = records(book.opportunities())
    assert len(recs) == 1, recs
    return recs[0]


def qty_net(book: ConsolidatedBook) -> tuple[int, int] | None:
    recs = records(book.opportunities())
    assert len(recs) <= 1, recs
    return (recs[0]["qty"], recs[0]["net_profit"]) if recs else None


def test_dtype() -> None:
    assert np.dtype(arbcore.opportunity_fields()) == arbcore.OPPORTUNITY_DTYPE
    assert arbcore.OPPORTUNITY_DTYPE.names == (
        "instrument",
        "buy_venue",
        "sell_venue",
        "qty",
        "buy_limit",
        "sell_limit",
        "buy_notional",
        "sell_notional",
        "gross_profit",
        "net_profit",
        "edge_bps",
        "buy_seq",
        "sell_seq",
        "buy_venue_ts",
        "buy_recv_ts",
        "sell_venue_ts",
        "sell_recv_ts",
    )
    assert arbcore.OPPORTUNITY_DTYPE.itemsize == 120
    empty = make_btc_book().opportunities()
    assert isinstance(empty, np.ndarray)
    assert empty.dtype == arbcore.OPPORTUNITY_DTYPE
    assert empty.shape == (0,)


def test_hand_computed_example() -> None:
    book = pair_book()
    opps = book.opportunities()
    assert isinstance(opps, np.ndarray)
    assert opps.dtype == arbcore.OPPORTUNITY_DTYPE
    assert opps.shape == (1,)
    r = records(opps)[0]
    edge = r.pop("edge_bps")
    assert r == {
        "instrument": 42,
        "buy_venue": 0,
        "sell_venue": 1,
        "qty": 20_000_000,  # 0.2 BTC
        "buy_limit": 6_000_000,  # 60000.00
        "sell_limit": 6_010_000,  # 60100.00
        "buy_notional": 12_000 * N,
        "sell_notional": 12_020 * N,
        "gross_profit": 20 * N,
        "net_profit": 19_900_000_000,  # 1.99 USDT
        "buy_seq": 7,
        "sell_seq": 9,
        "buy_venue_ts": 70,
        "buy_recv_ts": 71,
        "sell_venue_ts": 90,
        "sell_recv_ts": 91,
    }
    # the objective written out: net_e = P * (F - fb) - C * (F + fa), reported floor(net_e / F)
    net_e = 12_020 * N * (F - 50_000) - 12_000 * N * (F + 100_000)
    assert net_e // F == r["net_profit"]
    assert net_e % F == 0
    assert edge == pytest.approx(1.99 / 12_000 * 1e4, rel=1e-12)
    assert book.format_notional(r["net_profit"]) == "1.99"
    # detect() gives the same
    assert records(book.detect()) == records(opps)


def test_stamps_follow_the_books() -> None:
    book = pair_book()
    book.apply_delta("b", BID, "60100", "0.3", seq=10, venue_ts=100, recv_ts=101)
    r = only(book)
    assert (r["buy_seq"], r["sell_seq"]) == (7, 10)
    assert (r["buy_venue_ts"], r["buy_recv_ts"], r["sell_venue_ts"], r["sell_recv_ts"]) == (70, 71, 100, 101)
    # 0.3 BTC now pays on the first level: net 0.3 * 9.95 = 2.985
    assert (r["qty"], r["net_profit"]) == (30_000_000, 29_850_000_000)


def test_quote_balance_caps_the_buy() -> None:
    book = pair_book()
    book.set_balance("a", "USDT", "6006")  # C * 1.001 <= 6006 -> C <= 6000 -> q <= 0.1
    assert qty_net(book) == (10_000_000, 9_950_000_000)  # 6010 * 0.9995 - 6006 = 0.995
    book.set_balance("a", "USDT", "6005.999")  # q <= 0.09999998 -> 0.099 on the 0.001 lattice
    assert qty_net(book) == (9_900_000, 9_850_500_000)  # 0.099 * 9.95 = 0.98505
    book.set_balance("a", "USDT", "60.059")  # below one lattice step (0.001 BTC costs 60.06)
    assert qty_net(book) is None
    # the quote balance on the sell venue and the base balance on the buy venue do not matter
    book.set_balance("a", "USDT", "100000000")
    book.set_balance("b", "USDT", "0")
    book.set_balance("a", "BTC", "0")
    assert qty_net(book) == (20_000_000, 19_900_000_000)


def test_base_balance_caps_the_sell() -> None:
    book = pair_book()
    book.set_balance("b", "BTC", "0.05")
    assert qty_net(book) == (5_000_000, 4_975_000_000)
    book.set_balance("b", "BTC", "0.0509")  # floored to the 0.001 lattice
    assert qty_net(book) == (5_000_000, 4_975_000_000)
    book.set_balance("b", "BTC", "0.0009")
    assert qty_net(book) is None
    book.set_balance("b", "BTC", "0.2")
    assert qty_net(book) == (20_000_000, 19_900_000_000)


def test_max_notional() -> None:
    book = pair_book()
    book.set_max_notional("1800")  # C <= 1800 -> q <= 0.03
    assert qty_net(book) == (3_000_000, 2_985_000_000)
    book.set_max_notional("60.06")  # 0.001 BTC costs 60.00 before fees: allowed
    assert qty_net(book) == (100_000, 99_500_000)
    book.set_max_notional("59.99")
    assert qty_net(book) is None
    book.set_max_notional(None)
    assert qty_net(book) == (20_000_000, 19_900_000_000)


def test_min_edge() -> None:
    book = pair_book()
    # edge is 9.95 / 60000 = 1.658333 bps for every quantity on the first level
    book.set_min_edge_bps("1.6583")
    assert qty_net(book) == (20_000_000, 19_900_000_000)
    book.set_min_edge_bps("1.6584")
    assert qty_net(book) is None
    book.set_min_edge_bps("0")
    assert qty_net(book) == (20_000_000, 19_900_000_000)


def test_min_edge_limits_depth() -> None:
    book = pair_book()
    # deeper level on b: 60095 * 0.9995 = 60064.9525 still beats 60060 (marginal 4.9525 per BTC).
    book.apply_delta("b", BID, "60080", "0")
    book.apply_delta("b", BID, "60095", "1")
    r = only(book)
    # no edge limit: the whole 0.5 BTC ask level (b has 1.2 BTC); 0.2 * 9.95 + 0.3 * 4.9525 = 3.47575
    assert (r["qty"], r["net_profit"]) == (50_000_000, 34_757_500_000)
    assert r["sell_limit"] == 6_009_500
    # min edge 1 bps: net >= 1e-4 * C. With q = 0.2 + x: 1.99 + 4.9525 x >= 6 * (0.2 + x)
    # -> 0.79 >= 1.0475 x -> x <= 0.754 (not binding), so everything still qualifies.
    book.set_min_edge_bps("1")
    assert qty_net(book) == (50_000_000, 34_757_500_000)
    # min edge 1.2 bps: 1.99 + 4.9525 x >= 7.2 * (0.2 + x) -> 0.55 >= 2.2475 x -> x <= 0.24471...
    # -> q = 0.444 on the 0.001 lattice; net = 1.99 + 0.244 * 4.9525 = 3.198410
    book.set_min_edge_bps("1.2")
    assert qty_net(book) == (44_400_000, 31_984_100_000)


def test_min_qty() -> None:
    book = pair_book(b_rules={"min_qty": "0.3"})
    r = only(book)
    # q = 0.3: P = 12020 + 6008 = 18028, C = 18000; net = 18028 * 0.9995 - 18018 = 0.986
    assert (r["qty"], r["net_profit"]) == (30_000_000, 9_860_000_000)
    assert (r["buy_notional"], r["sell_notional"], r["gross_profit"]) == (18_000 * N, 18_028 * N, 28 * N)
    assert (r["buy_limit"], r["sell_limit"]) == (6_000_000, 6_008_000)
    # q = 0.5 would lose money: P = 30044, C = 30000, net = 30028.978 - 30030 < 0
    assert qty_net(pair_book(a_rules={"min_qty": "0.5"})) is None


@pytest.mark.parametrize(
    ("a_rules", "b_rules"),
    [({}, {"min_notional": "12021"}), ({"min_notional": "12000.01"}, {})],
)
def test_min_notional(a_rules: dict[str, str], b_rules: dict[str, str]) -> None:
    r = only(pair_book(a_rules, b_rules))
    # first lattice quantity past 0.2 BTC: 0.201; P = 12020 + 60.08, C = 12060
    # net = 12080.08 * 0.9995 - 12060 * 1.001 = 12074.03996 - 12072.06 = 1.97996
    assert (r["qty"], r["net_profit"]) == (20_100_000, 19_799_600_000)
    assert (r["buy_notional"], r["sell_notional"]) == (12_060 * N, 120_800_800_000_000)
    assert r["sell_limit"] == 6_008_000


def test_min_notional_beyond_depth() -> None:
    assert qty_net(pair_book(a_rules={"min_notional": "1000000"})) is None
    assert qty_net(pair_book(b_rules={"min_notional": "1000000"})) is None


def test_lots() -> None:
    book = ConsolidatedBook("BTC/USDT", 2, 8)
    add_venue(book, "a", lot_size="0.0003")
    add_venue(book, "b", lot_size="0.0002")
    for v in ("a", "b"):
        book.set_balance(v, "BTC", "10")
        book.set_balance(v, "USDT", "1000000")
    book.apply_snapshot("a", [], levels(book, [("60000", "0.001")]))
    book.apply_snapshot("b", levels(book, [("60100", "0.001")]), [])
    r = only(book)
    # lcm(0.0003, 0.0002) = 0.0006; 0.0012 exceeds the depth
    assert r["qty"] == 60_000
    assert r["gross_profit"] == 60_000 * 10_000  # 100 USDT per BTC
    assert r["net_profit"] == 60_000 * 10_000  # no fees


def test_ticks_round_limits_toward_safety() -> None:
    book = ConsolidatedBook("BTC/USDT", 2, 8)
    add_venue(book, "a", tick_size="10")
    add_venue(book, "b", tick_size="5")
    for v in ("a", "b"):
        book.set_balance(v, "BTC", "10")
        book.set_balance(v, "USDT", "1000000")
    # off-tick levels: the buy limit is rounded down, the sell limit up, to the venue's tick
    book.apply_snapshot("a", [], levels(book, [("60005.5", "0.1"), ("60007", "0.1")]))
    book.apply_snapshot("b", levels(book, [("60101", "0.15")]), [])
    r = only(book)
    assert r["qty"] == 15_000_000
    assert (r["buy_limit"], r["sell_limit"]) == (6_000_000, 6_010_500)


def test_ordering_and_exclusion() -> None:
    book = make_btc_book(["a", "b", "c"])
    book.apply_snapshot("a", levels(book, [("103", "1")]), levels(book, [("104", "1")]))
    book.apply_snapshot("b", levels(book, [("102", "1")]), levels(book, [("103", "1")]))
    book.apply_snapshot("c", levels(book, [("99", "1")]), levels(book, [("100", "1")]))
    recs = records(book.opportunities())
    # buy c @100: sell a @103 (net 3), sell b @102 (net 2); buy b @103 sells nowhere higher... except
    # a bids 103 = b's ask: no profit. Best net first.
    assert [(r["buy_venue"], r["sell_venue"], r["net_profit"]) for r in recs] == [
        (2, 0, 3 * N),
        (2, 1, 2 * N),
    ]
    book.set_state("a", BROKEN)
    assert [(r["buy_venue"], r["sell_venue"]) for r in records(book.opportunities())] == [(2, 1)]
    book.set_state("a", LIVE)
    assert book.check_stale(10**9, 1) == [0, 1, 2]
    assert book.opportunities().shape == (0,)
    book.apply_delta("b", BID, "101", "1")  # b LIVE again; a and c still STALE
    assert book.opportunities().shape == (0,)
    book.apply_delta("c", BID, "98", "1")
    assert [(r["buy_venue"], r["sell_venue"]) for r in records(book.opportunities())] == [(2, 1)]
    book.clear("c")
    assert book.state("c") == SYNCING
    assert book.opportunities().shape == (0,)


def test_ties_in_net_profit_order_by_venues() -> None:
    book = make_btc_book(["a", "b", "c", "d"])
    for v in ("a", "b"):
        book.apply_snapshot(v, levels(book, [("102", "1")]), levels(book, [("110", "1")]))
    for v in ("c", "d"):
        book.apply_snapshot(v, levels(book, [("90", "1")]), levels(book, [("100", "1")]))
    assert [(r["buy_venue"], r["sell_venue"], r["net_profit"]) for r in records(book.opportunities())] == [
        (2, 0, 2 * N),
        (2, 1, 2 * N),
        (3, 0, 2 * N),
        (3, 1, 2 * N),
    ]


def test_change_below_top_without_crossing_is_not_re_evaluated() -> None:
    book = make_btc_book(["a", "b"])
    book.apply_snapshot("a", levels(book, [("99", "1"), ("98", "1")]), levels(book, [("100", "1")]))
    book.apply_snapshot("b", levels(book, [("99", "1"), ("98", "1")]), levels(book, [("100", "1")]))
    assert book.refresh() == 2
    book.apply_delta("a", BID, "98", "3")
    assert book.refresh() == 0


def test_incremental_refresh() -> None:
    book = make_btc_book(["a", "b", "c"])
    book.apply_snapshot("a", levels(book, [("103", "1")]), levels(book, [("104", "1")]))
    book.apply_snapshot("b", levels(book, [("102", "1")]), levels(book, [("103.5", "1")]))
    book.apply_snapshot("c", levels(book, [("99", "1")]), levels(book, [("100", "1")]))
    assert book.refresh() == 6
    assert book.refresh() == 0  # nothing changed
    stats = book.stats()
    assert set(stats) == {"pairs_evaluated", "pairs_walked", "pairs_kept", "overflow_skips"}
    assert stats["pairs_evaluated"] == 6
    first = records(book.opportunities())
    assert len(first) == 2
    assert book.stats() == stats  # opportunities() refreshed nothing: nothing was dirty
    # a message that leaves the top as it was (same quantity re-sent, unknown level deleted) on a
    # venue in a crossing pair still re-evaluates its pairs: the fill walks the depth below the top
    book.apply_delta("a", BID, "103", "1")
    book.apply_delta("a", ASK, "200", "0")
    assert book.refresh() == 4
    # a top change on one venue re-evaluates only the 2 * (3 - 1) pairs that include it
    book.apply_delta("a", BID, "103", "2")
    assert book.refresh() == 4
    assert book.stats()["pairs_evaluated"] == stats["pairs_evaluated"] + 8
    assert book.refresh() == 0
    # balances, states and limits mark venues dirty too
    book.set_balance("c", "USDT", "50")
    assert book.refresh() == 4
    book.set_state("b", STALE)
    assert book.refresh() == 4
    book.set_state("b", LIVE)
    book.set_balance("a", "BTC", "5")
    assert book.refresh() == 6  # a and b dirty: every pair includes one of them
    book.set_max_notional("1000")
    assert book.refresh() == 6
    book.set_min_edge_bps("0.5")
    assert book.refresh() == 6
    assert book.refresh() == 0
    # opportunities() refreshes the changed pairs itself
    book.apply_delta("c", ASK, "100", "0")  # c's ask moves to nothing: c can no longer be bought
    assert records(book.opportunities()) == []
    assert book.refresh() == 0
    before = book.stats()["pairs_evaluated"]
    book.detect()  # re-evaluates every pair
    assert book.stats()["pairs_evaluated"] == before + 6


def test_opportunities_follow_top_changes() -> None:
    book = pair_book()
    first = only(book)
    # a better ask on a: 59995 * 1.001 = 60054.995 per BTC; b's second level 60080 * 0.9995 =
    # 60049.96 still does not pay, the first pays 60069.95 - 60054.995 = 14.955 per BTC
    book.apply_delta("a", ASK, "59995", "1", seq=8)
    r = only(book)
    assert r["buy_seq"] == 8
    assert (r["qty"], r["net_profit"], r["buy_limit"]) == (20_000_000, 29_910_000_000, 5_999_500)
    assert r["net_profit"] > first["net_profit"]
    assert records(book.opportunities()) == records(book.detect())
    # b's top bid removed: its next level 60080 * 0.9995 = 60049.96 < 60054.995, nothing pays
    book.apply_delta("b", BID, "60100", "0")
    assert book.opportunities().shape == (0,)


def test_overflowing_record_is_skipped() -> None:
    # 10000 BTC at 10,000,000.00 is 1e21 raw notional at 10 decimals: beyond the u64 record field
    book = make_btc_book(["a", "b"])
    book.set_balance("a", "USDT", "1000000000000")
    book.set_balance("b", "BTC", "100000")
    book.apply_snapshot("a", [], levels(book, [("10000000", "10000")]))
    book.apply_snapshot("b", levels(book, [("10100000", "10000")]), [])
    assert book.opportunities().shape == (0,)
    assert book.stats()["overflow_skips"] == 1
    # capped by max notional the record fits again
    book.set_max_notional("1000000")
    assert only(book)["qty"] == 10_000_000  # 0.1 BTC


# --- property: detect() against a brute force over every lattice quantity -------------------------

PD, QD = 2, 1  # prices like 10.00, quantities like 1.5; notional_decimals 3
ND = PD + QD


def walk(book_side: list[tuple[int, int]], q: int) -> tuple[int, int] | None:
    """Cost of q units from the best level, and the worst price touched; None if too little."""
    cost, worst, left = 0, 0, q
    for price, qty in book_side:
        if left == 0:
            break
        take = min(left, qty)
        cost += price * take
        worst = price
        left -= take
    return None if left else (cost, worst)


def brute_force(buy: dict, sell: dict, limits: dict) -> dict[str, int] | None:
    """Best fill for buying on `buy` and selling on `sell`, per the objective in rust/detect.rs."""
    asks = sorted(buy["asks"].items())
    bids = sorted(sell["bids"].items(), reverse=True)
    lot = lcm(buy["lot"], sell["lot"])
    depth = min(sum(q for _, q in asks), sum(q for _, q in bids))
    fa, fb = buy["fee"], sell["fee"]
    best: dict[str, int] | None = None
    for q in range(lot, depth + 1, lot):
        c_w, p_w = walk(asks, q), walk(bids, q)
        assert c_w is not None and p_w is not None
        (c, worst_ask), (p, worst_bid) = c_w, p_w
        net = p * (F - fb) - c * (F + fa)
        ok = (
            q >= buy["min_qty"]
            and q >= sell["min_qty"]
            and c >= buy["min_notional"]
            and p >= sell["min_notional"]
            and c * (F + fa) <= buy["quote"] * F
            and q <= sell["base"]
            and c <= limits["max_notional"]
            and net > 0
            and net >= limits["min_edge"] * c
        )
        if ok and (best is None or net > best["net_e"]):  # ties keep the smaller quantity
            best = {
                "qty": q,
                "buy_limit": worst_ask // buy["tick"] * buy["tick"],
                "sell_limit": -(-worst_bid // sell["tick"]) * sell["tick"],
                "buy_notional": c,
                "sell_notional": p,
                "gross_profit": p - c,
                "net_profit": net // F,
                "net_e": net,
            }
    return best


UNLIMITED = 10**30

_fee = st.sampled_from([0, 10_000, 50_000, 75_000, 100_000, 260_000, 500_000, 1_000_000])


@st.composite
def venue_setups(draw: st.DrawFn) -> dict:
    mid = draw(st.integers(1_000, 1_040))
    bid_offsets = draw(st.lists(st.integers(1, 12), min_size=0, max_size=4, unique=True))
    ask_offsets = draw(st.lists(st.integers(0, 12), min_size=0, max_size=4, unique=True))
    return {
        "bids": {mid - o: draw(st.integers(1, 15)) for o in bid_offsets},
        "asks": {mid + o: draw(st.integers(1, 15)) for o in ask_offsets},
        "fee": draw(_fee),
        "fee_as_bps": draw(st.booleans()),
        "lot": draw(st.integers(1, 4)),
        "tick": draw(st.integers(1, 5)),
        "min_qty": draw(st.one_of(st.just(0), st.integers(0, 8))),
        "min_notional": draw(st.one_of(st.just(0), st.integers(0, 30_000))),
        "quote": draw(st.one_of(st.just(UNLIMITED), st.integers(0, 60_000))),
        "base": draw(st.one_of(st.just(UNLIMITED), st.integers(0, 40))),
        "state": draw(st.sampled_from([LIVE, LIVE, LIVE, LIVE, LIVE, STALE, BROKEN, SYNCING])),
        "seq": draw(st.integers(0, 2**64 - 1)),
        "ts": draw(st.integers(-(2**63), 2**63 - 1)),
    }


def fee_text(fee: int, as_bps: bool) -> str:
    return arbcore.format_decimal(fee, 4) + "bps" if as_bps else arbcore.format_decimal(fee, 8)


@settings(max_examples=300)
@given(
    venues=st.lists(venue_setups(), min_size=2, max_size=3),
    max_notional=st.one_of(st.just(UNLIMITED), st.integers(0, 60_000)),
    min_edge=st.one_of(st.just(0), st.integers(0, 400_000)),
)
def test_detect_matches_brute_force(venues: list[dict], max_notional: int, min_edge: int) -> None:
    fmt = arbcore.format_decimal
    book = ConsolidatedBook("X/Y", PD, QD, instrument_id=3)
    for i, v in enumerate(venues):
        book.add_venue(
            f"v{i}",
            symbol="XY",
            tick_size=fmt(v["tick"], PD),
            lot_size=fmt(v["lot"], QD),
            min_qty=fmt(v["min_qty"], QD),
            min_notional=fmt(v["min_notional"], ND),
            taker_fee=fee_text(v["fee"], v["fee_as_bps"]),
        )
        book.set_balance(i, "X", fmt(v["base"], QD))
        book.set_balance(i, "Y", fmt(v["quote"], ND))
        book.apply_snapshot(
            i, list(v["bids"].items()), list(v["asks"].items()), seq=v["seq"], venue_ts=v["ts"], recv_ts=i
        )
        if v["state"] != LIVE:
            book.set_state(i, v["state"])
    if max_notional != UNLIMITED:
        book.set_max_notional(fmt(max_notional, ND))
    book.set_min_edge_bps(fmt(min_edge, 4))

    limits = {"max_notional": max_notional, "min_edge": min_edge}
    expected = []
    for a, va in enumerate(venues):
        for b, vb in enumerate(venues):
            if a == b or va["state"] != LIVE or vb["state"] != LIVE:
                continue
            best = brute_force(va, vb, limits)
            if best is None:
                continue
            net_e = best.pop("net_e")
            best.update(
                instrument=3,
                buy_venue=a,
                sell_venue=b,
                buy_seq=va["seq"],
                sell_seq=vb["seq"],
                buy_venue_ts=va["ts"],
                buy_recv_ts=a,
                sell_venue_ts=vb["ts"],
                sell_recv_ts=b,
                edge_bps=net_e / F / best["buy_notional"] * 1e4,
            )
            expected.append(best)
    expected.sort(key=lambda r: (-r["net_profit"], r["buy_venue"], r["sell_venue"]))

    for got_array in (book.opportunities(), book.detect()):
        assert got_array.dtype == arbcore.OPPORTUNITY_DTYPE
        got = records(got_array)
        for g, e in zip(got, expected, strict=False):
            assert g.pop("edge_bps") == pytest.approx(e["edge_bps"], rel=1e-9)
        assert got == [{k: v for k, v in e.items() if k != "edge_bps"} for e in expected]
