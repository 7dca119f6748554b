"""The order path's taker run by a feed in the decode's call (``Feed.on_frame_take``): real OKX
frames (checksums included) into a real decoder over the book an armed taker watches."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
import uvloop

import arbcore
from arbcore import _core
from arbcore.runner.config import parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.sim.okx import okx_checksum, trimmed
from engine_helpers import check_consistency, config_text, wait_live
from test_order_path import _taker_rig

Levels = dict[int, int]  # price -> qty at the book's scales (2 and 6 decimals)


class OkxStream:
    """OKX ``books`` frames for BTC-USDT, each with the checksum of the book after it."""

    def __init__(self) -> None:
        self.bids: Levels = {}
        self.asks: Levels = {}
        self.seq = 100

    def frame(self, action: str, bids: Levels, asks: Levels) -> bytes:
        if action == "snapshot":
            self.bids, self.asks = {}, {}
        for side, new in ((self.bids, bids), (self.asks, asks)):
            for p, q in new.items():
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)

        def levels(side: Levels, best_first: list[int]) -> list[list[str]]:
            return [[trimmed(p, 2), trimmed(side[p], 6), "0", "1"] for p in best_first]

        top_b = levels(self.bids, sorted(self.bids, reverse=True)[:25])
        top_a = levels(self.asks, sorted(self.asks)[:25])
        prev, self.seq = (-1 if action == "snapshot" else self.seq), self.seq + 1
        data = {
            "asks": [[trimmed(p, 2), trimmed(q, 6), "0", "1"] for p, q in asks.items()],
            "bids": [[trimmed(p, 2), trimmed(q, 6), "0", "1"] for p, q in bids.items()],
            "ts": str(time.time_ns() // 1_000_000),
            "checksum": okx_checksum(top_b, top_a),
            "prevSeqId": prev,
            "seqId": self.seq,
        }
        return orjson.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [data]})


def _rig() -> tuple[arbcore.OrderPath, arbcore.ConsolidatedBook, list[int], int, arbcore.Feed, OkxStream]:
    path, book, markets = _taker_rig()
    armed = path.arm_taker(markets, min_edge_bps=0.0, cap=None, lots=[100, 100])
    now = time.time_ns()
    book.apply_snapshot("binance_spot", [(4_990_000, 10**6)], [(5_000_000, 10**6)], seq=1, venue_ts=now, recv_ts=now)
    feed = arbcore.Feed("okx", [book], {"BTC-USDT": (0, book.venue_index("okx"))})
    return path, book, markets, armed, feed, OkxStream()


def test_the_read_that_opens_a_spread_returns_the_takers_ticket() -> None:
    """Frames with no spread give their codes; the read whose frames open one gives the ticket at
    its last frame (the decision on the book after the whole read), the same ticket
    ``OrderPath.take`` starts; ``last_code`` keeps that frame's code."""
    path, _, markets, armed, feed, okx = _rig()
    twin_path, twin_book, _, twin_armed, twin_feed, _ = _rig()  # the same frames, the Python route's calls
    feed.attach_taker(path, [armed], "T-")
    snap = okx.frame("snapshot", {4_995_000: 10**6}, {5_050_000: 10**6, 5_060_000: 10**6})
    assert feed.on_frame_take(snap, time.time_ns(), 1) == _core.FRAME_SYNCED
    # okx's bid jumps over binance's ask: not yet, the read goes on
    jump = okx.frame("update", {5_010_000: 5 * 10**5}, {})
    assert feed.on_frame_take(jump, time.time_ns(), 0) == _core.FRAME_APPLIED_TOP
    deeper = okx.frame("update", {}, {5_060_000: 2 * 10**6})
    seq = arbcore._core.next_ticket_seq()
    got = feed.on_frame_take(deeper, time.time_ns(), 1)
    assert not isinstance(got, int), got
    assert feed.last_code == _core.FRAME_APPLIED
    for frame in (snap, jump, deeper):
        twin_feed.on_frame(frame, time.time_ns())
    twin = twin_path.take(twin_armed, "T-", twin_book)
    assert not isinstance(twin, int) and twin[6:11] == got[6:11] and twin[11][:3] == got[11][:3], (twin, got)
    ticket_id, record, buy_frame, sell_frame = got[:4]
    bm, sm, qty, buy_limit, sell_limit, (reason, n, _, t0, written) = got[6:]
    assert ticket_id == f"T-{seq + 1}" and len(record) > 100 and b"BTCUSDT" in buy_frame and b"BTC-USDT" in sell_frame
    assert (bm, sm, qty, buy_limit) == (markets[0], markets[1], 5 * 10**5, 5_000_000) and sell_limit >= 5_000_000
    assert n == 1 and "bps net of fees" in reason and 0 < t0 <= time.perf_counter_ns()
    assert written == 0  # no market armed (arm_wire): the ticket goes back to Python unwritten
    # nothing changed since: the next read's frames that leave the top alone start nothing
    assert feed.on_frame_take(okx.frame("update", {}, {5_060_000: 10**6}), time.time_ns(), 1) == _core.FRAME_APPLIED


def test_a_closed_taker_and_bad_frames_start_nothing() -> None:
    """A taker closed by the Python side (a ticket in flight) is not run; a malformed frame gives
    its error code, never an exception; attaching names what is wrong."""
    path, book, _, armed, feed, okx = _rig()
    with pytest.raises(arbcore.ConfigError, match="armed: 0 entries for 1 books"):
        feed.attach_taker(path, [], "T-")
    with pytest.raises(IndexError, match=f"armed taker {armed + 1} is not registered"):
        feed.attach_taker(path, [armed + 1], "T-")
    feed.attach_taker(path, [armed], "T-")
    path.set_taker_open(armed, False)
    assert feed.on_frame_take(okx.frame("snapshot", {4_995_000: 10**6}, {5_050_000: 10**6}), 1, 1) == 3
    assert feed.on_frame_take(okx.frame("update", {5_010_000: 10**6}, {}), time.time_ns(), 1) == 2
    assert feed.on_frame_take(b'{"arg":{"channel":"books"', time.time_ns(), 1) == _core.FRAME_ERROR
    assert path.take(armed, "T-", book) != 0  # the spread is there: the Python route would take it
    path.set_taker_open(armed, True)
    got = feed.on_frame_take(okx.frame("update", {5_020_000: 10**6}, {}), time.time_ns(), 1)
    assert not isinstance(got, int) and feed.last_code == _core.FRAME_APPLIED_TOP
    with pytest.raises(IndexError):
        path.set_taker_open(armed + 1, True)


def test_a_feed_without_a_taker_gives_codes_only() -> None:
    _, _, _, _, feed, okx = _rig()
    assert feed.on_frame_take(okx.frame("snapshot", {5_010_000: 10**6}, {5_050_000: 10**6}), 1, 1) == 3
    assert feed.last_code == _core.FRAME_SYNCED


def _jump(s: TradingSession) -> None:
    """okx's simulator bids over binance_spot's best ask (its asks under that bid taken away)."""
    a_sim, b_sim = s.sim_venues["binance_spot"], s.sim_venues["okx"]
    a_book, b_state = a_sim.instruments["BTCUSDT"].process.book, b_sim.instruments["BTC-USDT"]
    ask = a_book.best_ask()
    assert ask is not None
    price = ask + 1000 * b_state.spec.tick
    b_book = b_state.process.book
    deltas = [(1, p, 0) for p in list(b_book.asks) if p <= price] + [(0, price, 10_000)]
    for side, p, q in deltas:
        b_book.apply(side, p, q)
    b_sim.publish("BTC-USDT", deltas)


def test_an_instrument_in_flight_gets_no_second_ticket_from_a_feed(tmp_path: Path) -> None:
    """While the instrument has a ticket in flight (``TradingSession._hold``), a frame that opens a
    spread starts nothing, in the feed's call or after it; once released, a jump is taken by the
    feed, and journal, ledger and simulators agree."""

    async def main() -> None:
        config = parse_toml(config_text(["binance_spot", "okx"], auto_trade=True))
        s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
        await s.start()
        try:
            await wait_live(s)
            assert s.runner is not None and s.runner.fast is not None
            fast, okx = s.runner.fast, s.feeds["okx"]
            assert okx.on_taken is not None

            def by_feeds() -> int:
                return sum(c.tickets_started for c in s.feeds.values())

            s._hold("BTC/USDT")  # as a ticket in flight does
            taken, frames = fast.taken, okx.feed.counters()["applied"]
            _jump(s)
            await asyncio.sleep(0.3)
            assert okx.feed.counters()["applied"] > frames  # the jump's frame was read
            assert (fast.taken, by_feeds(), s.stats.tickets) == (taken, 0, 0)
            s._release("BTC/USDT")
            while s._in_flight or s.stats.tickets == 0:  # (the open spread, taken on a later read)
                await asyncio.sleep(0.01)
            before = by_feeds()
            _jump(s)
            end = asyncio.get_running_loop().time() + 5
            while by_feeds() == before and asyncio.get_running_loop().time() < end:
                await asyncio.sleep(0.01)
            # (more may follow: what the jump leaves of the spread, on later reads)
            assert by_feeds() > before, (by_feeds(), fast.taken, fast.declined)
            while s._in_flight:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            check_consistency(s)
        finally:
            await s.stop()

    uvloop.run(main())


def test_a_scratch_feed_replays_the_last_update_on_copies_of_the_books() -> None:
    """``Feed.replay`` (the decoder's warm-up): the live feed's last OKX update applied again on a
    scratch feed's copies of its books, checksum verified, as often as asked; the live books and
    the live feed's state are untouched (its next update still chains)."""
    from arbcore.feed_client import _empty_like

    def levels(b: arbcore.ConsolidatedBook) -> tuple[object, ...]:
        return b.best_bid("okx"), b.best_ask("okx"), b.depth("okx", 0, 25).tolist(), b.depth("okx", 1, 25).tolist()

    _, book, _, _, feed, okx = _rig()
    snap = okx.frame("snapshot", {4_995_000: 10**6}, {5_050_000: 10**6, 5_060_000: 10**6})
    jump = okx.frame("update", {5_010_000: 5 * 10**5, 4_995_000: 0}, {5_060_000: 3 * 10**6})
    assert feed.on_frame(snap, 1) == _core.FRAME_SYNCED and feed.on_frame(jump, 2) == _core.FRAME_APPLIED_TOP
    live = levels(book)
    scratch_book = _empty_like(book)
    scratch = arbcore.Feed("okx", [scratch_book], {"BTC-USDT": (0, book.venue_index("okx"))})
    for _ in range(3):
        assert scratch.replay(feed, jump) in (_core.FRAME_APPLIED, _core.FRAME_APPLIED_TOP), scratch.last_error()
        assert levels(scratch_book) == live
    assert scratch.counters()["checksum_ok"] == 3
    assert levels(book) == live
    # a frame whose checksum does not match the copy after it fails there, and only there
    bad = orjson.loads(jump)
    bad["data"][0]["checksum"] += 1
    assert scratch.replay(feed, orjson.dumps(bad)) == _core.FRAME_RESYNC
    assert levels(book) == live
    assert feed.on_frame(okx.frame("update", {}, {5_060_000: 2 * 10**6}), 3) == _core.FRAME_APPLIED


def test_a_following_feed_replays_in_on_frame_take_and_never_takes() -> None:
    """``Feed.follow`` (the twin of ``FeedClient.warm_decoder``): a scratch feed that follows the
    live one replays each frame ``on_frame_take`` gets on copies of the live books (as
    ``replay``), returns its code, and never takes; it cannot follow itself or a feed of another
    shape; ``follow(None)`` makes it a decoder of its own again."""
    from arbcore.feed_client import _empty_like

    _, book, _, _, feed, okx = _rig()
    snap = okx.frame("snapshot", {4_995_000: 10**6}, {5_050_000: 10**6, 5_060_000: 10**6})
    jump = okx.frame("update", {5_010_000: 5 * 10**5, 4_995_000: 0}, {5_060_000: 3 * 10**6})
    assert feed.on_frame(snap, 1) == _core.FRAME_SYNCED and feed.on_frame(jump, 2) == _core.FRAME_APPLIED_TOP
    live = (book.best_bid("okx"), book.best_ask("okx"), book.depth("okx", 0, 25).tolist())
    scratch_book = _empty_like(book)
    scratch = arbcore.Feed("okx", [scratch_book], {"BTC-USDT": (0, book.venue_index("okx"))})
    with pytest.raises(arbcore.ConfigError, match="itself"):
        scratch.follow(scratch)
    with pytest.raises(arbcore.ConfigError, match="books"):
        arbcore.Feed("okx", [], {}).follow(feed)
    scratch.follow(feed)
    for _ in range(3):
        out = scratch.on_frame_take(jump, 3, 1)
        assert out in (_core.FRAME_APPLIED, _core.FRAME_APPLIED_TOP) and scratch.last_code == out
        assert (scratch_book.best_bid("okx"), scratch_book.best_ask("okx")) == live[:2]
    assert scratch.counters()["checksum_ok"] == 3
    assert (book.best_bid("okx"), book.best_ask("okx"), book.depth("okx", 0, 25).tolist()) == live
    # the live book moves on; no longer following, the scratch decodes on its own copies, which
    # it no longer refreshes from the live books
    assert feed.on_frame(okx.frame("update", {}, {5_050_000: 0}), 3) == _core.FRAME_APPLIED_TOP
    assert book.best_ask("okx")[0] == 5_060_000
    scratch.follow(None)
    scratch.on_frame_take(jump, 4, 1)
    assert scratch_book.best_ask("okx") == live[1]
    scratch.follow(feed)
    scratch.on_frame_take(jump, 5, 1)
    assert scratch_book.best_ask("okx") == book.best_ask("okx")
