"""The order path's taker run by a feed in the decode's call (``Feed.on_frame_take``): real OKX
frames (checksums included) into a real decoder over the book an armed taker watches."""

from __future__ import annotations

import time

import orjson
import pytest

import arbcore
from arbcore import _core
from arbcore.sim.okx import okx_checksum, trimmed
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
    bm, sm, qty, buy_limit, sell_limit, (reason, n, _, t0) = got[6:]
    assert ticket_id == f"T-{seq + 1}" and len(record) > 100 and b"BTCUSDT" in buy_frame and b"BTC-USDT" in sell_frame
    assert (bm, sm, qty, buy_limit) == (markets[0], markets[1], 5 * 10**5, 5_000_000) and sell_limit >= 5_000_000
    assert n == 1 and "bps net of fees" in reason and 0 < t0 <= time.perf_counter_ns()
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
