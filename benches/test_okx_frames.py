"""OKX `books` pushes through `Feed.on_frame(bytes)`: decode, sequence and apply in Rust, per frame.

Two shapes: the e2e bench's rounds (an update that takes all 50 asks off and sets one bid above
them, then one that puts them back) and a typical push of a few levels. The frames are OKX's
compact spelling, which the decoder's scanner reads in one pass (`rust/venues/okx_scan.rs`);
each round replays them from the snapshot into a fresh book, and the final book is checked.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import arbcore
from arbcore import _core

ROUNDS = 20
UPDATES = 1000
MID = 5_000_000  # 50000.00 at 2 price decimals
LEVELS = 50


def px(raw: int) -> str:
    return f"{raw // 100}.{raw % 100:02d}".rstrip("0").rstrip(".")


def frame(action: str, prev: int, seq: int, asks: list[tuple[int, str]], bids: list[tuple[int, str]]) -> bytes:
    def side(levels: list[tuple[int, str]]) -> str:
        return ",".join(f'["{px(p)}","{q}","0","1"]' for p, q in levels)

    return (
        f'{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[{side(asks)}],'
        f'"bids":[{side(bids)}],"ts":"1597026383085","checksum":0,"prevSeqId":{prev},"seqId":{seq}}}]}}'
    ).encode()


def stream(shape: str) -> list[bytes]:
    """The snapshot, then ``UPDATES`` chained updates of ``shape`` ("jump" or "few")."""
    asks = [(MID + 10 * (i + 1), "0.0149") for i in range(LEVELS)]
    bids = [(MID - 10 * i, "0.027") for i in range(LEVELS)]
    out = [frame("snapshot", -1, 100, asks, bids)]
    for k in range(UPDATES):
        seq = 101 + k
        if shape == "jump":
            high = MID + 10 * (LEVELS + 5)
            if k % 2 == 0:  # every ask off, one bid over where they were
                out.append(frame("update", seq - 1, seq, [(p, "0") for p, _ in asks], [(high, "1")]))
            else:
                out.append(frame("update", seq - 1, seq, asks, [(high, "0")]))
        else:  # a few sizes change near the touch
            i = k % 4
            q = f"0.{1 + k % 9}"
            out.append(frame("update", seq - 1, seq, [(asks[i][0], q)], [(bids[i][0], q), (bids[i + 4][0], q)]))
    return out


def fresh() -> tuple[tuple[arbcore.ConsolidatedBook, Any], dict[str, Any]]:
    book = arbcore.ConsolidatedBook("BTC/USDT", price_decimals=2, qty_decimals=8)
    book.add_venue("okx", symbol="BTC-USDT", tick_size="0.1", lot_size="0.00000001")
    return (book, _core.Feed("okx", [book], {"BTC-USDT": (0, 0)})), {}


@pytest.mark.parametrize("shape", ["jump", "few"])
def test_okx_book_frames(benchmark: Any, shape: str) -> None:
    frames = stream(shape)
    n = len(frames) - 1

    def run(book: arbcore.ConsolidatedBook, feed: Any) -> tuple[arbcore.ConsolidatedBook, Any]:
        on = feed.on_frame
        for f in frames:
            on(f, 0)
        return book, feed

    book, feed = benchmark.pedantic(run, setup=fresh, rounds=ROUNDS, warmup_rounds=2, iterations=1)
    counters = feed.counters()
    assert counters["decode_errors"] == 0 and counters["resyncs"] == 0, counters
    assert counters["applied"] == n, counters
    assert book.state(0) == _core.LIVE
    best_ask = MID + 10  # both shapes end with the asks in place
    top = book.best_ask(0)
    assert top is not None and top[0] == best_ask, top
    what = "all 50 asks off, then back (51 levels each)" if shape == "jump" else "3 levels each"
    benchmark.extra_info.update(
        workload="okx_frames",
        frames=n,
        frame_bytes=round(sum(len(f) for f in frames[1:]) / n),
        path=f"OKX books pushes into Feed.on_frame, {n} per round: {what}",
    )


@pytest.mark.parametrize("shape", ["jump", "few"])
def test_okx_orjson_floor(benchmark: Any, shape: str) -> None:
    """The same-run baseline: `orjson.loads` of the same frames, no book, no numbers read (the
    least a Python handler of these frames does before any book work)."""
    frames = stream(shape)[1:]

    def run() -> int:
        loads = orjson.loads
        n = 0
        for f in frames:
            n += len(loads(f)["data"][0]["asks"])
        return n

    assert benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=2, iterations=1) > 0
    benchmark.extra_info.update(
        workload="okx_frames", frames=len(frames), path=f"floor: orjson.loads of the same {len(frames)} frames, no book"
    )
