"""`FeedClient.warm_decoder` ([run] keep_warm_ms): the last applied update handled again by a twin
of the connection (its frame handler, a scratch decoder), on every venue's protocol, changes
nothing of the live feed or its books and starts nothing (no snapshot request, no resync)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

import arbcore
import test_feed_e2e as bybit
import test_feed_e2e_binance as binance
import test_feed_e2e_coinbase as coinbase
import test_feed_e2e_kraken as kraken
import test_feed_e2e_okx as okx
from arbcore.sim import SimVenue
from e2e_helpers import Setup, first_sync, running

#: (simulator, client setup, symbols) per protocol
CASES: dict[str, tuple[Callable[[], SimVenue], Setup, tuple[str, ...]]] = {
    "bybit": (bybit.make_sim, bybit.BYBIT, (bybit.SYMBOL,)),
    "binance_spot": (binance.make_sim, binance.SETUPS["spot"], (binance.BTC,)),
    "binance_usdm": (lambda: binance.make_sim("usdm"), binance.SETUPS["usdm"], (binance.BTC,)),
    "okx": (okx.make_sim, okx.OKX, (okx.SYMBOL,)),
    "kraken": (kraken.make_sim, kraken.KRAKEN, (kraken.SYMBOL,)),
    "coinbase": (lambda: coinbase.make_sim((coinbase.BTC,)), coinbase.COINBASE, (coinbase.BTC,)),
}
WARM_RUNS = 50


@pytest.mark.parametrize("venue", list(CASES))
def test_warm_decoder_changes_nothing_live(venue: str) -> None:
    make, setup, symbols = CASES[venue]

    async def case() -> tuple[dict[str, int], dict[str, int], list[Any], list[Any], dict[str, int]]:
        async with running(make(), setup, symbols) as rig:
            await first_sync(rig)
            client = rig.feed_client
            book = rig.legs[symbols[0]].book
            # no await between the two reads: no frame can come in between
            before = client.feed.counters()
            depth = [book.depth(0, side, 1000).tolist() for side in (arbcore.BID, arbcore.ASK)]
            for _ in range(WARM_RUNS):
                client.warm_decoder()
            after = client.feed.counters()
            depth_after = [book.depth(0, side, 1000).tolist() for side in (arbcore.BID, arbcore.ASK)]
            twin = client._twin
            assert twin is not None and twin._transport is None and not twin._tasks
            scratch = twin.feed.counters()
            return before, after, depth, depth_after, scratch

    before, after, depth, depth_after, scratch = uvloop.run(case())
    assert after == before and depth_after == depth
    # the scratch decoder read every frame; OKX's applied each again to its copies of the books
    # (Feed.replay), the others none (their scratch books never sync)
    applied = WARM_RUNS if venue == "okx" else 0
    assert scratch["frames"] == WARM_RUNS and scratch["applied"] == applied and scratch["snapshots"] == 0, scratch
    assert scratch["decode_errors"] == 0, scratch


def test_warm_decoder_goes_through_the_connection_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin's warm-up enters where a received frame does: the listener's ``on_ws_frame``, with
    a picows frame object of the last update (picows' frame maker), not the handler under it."""
    from arbcore import feed_client

    assert feed_client._make_ws_frame is not None, "this picows has no frame maker: the warm-up skips on_ws_frame"
    make, setup, symbols = CASES["okx"]
    entered: list[tuple[bool, bytes]] = []
    orig = feed_client._Listener.on_ws_frame

    def counted(self: Any, transport: Any, frame: Any) -> None:
        entered.append((transport is None, frame.get_payload_as_bytes()))
        orig(self, transport, frame)

    monkeypatch.setattr(feed_client._Listener, "on_ws_frame", counted)

    async def case() -> tuple[list[tuple[bool, bytes]], bytes | None, int]:
        async with running(make(), setup, symbols) as rig:
            await first_sync(rig)
            client = rig.feed_client
            for _ in range(200):  # an update applied after the snapshot (the simulator moves every step)
                if client._warm_frame is not None:
                    break
                await asyncio.sleep(0.01)
            entered.clear()
            for _ in range(3):
                client.warm_decoder()  # no await: no received frame in between
            twin = client._twin
            assert twin is not None
            return list(entered), client._warm_frame, twin.feed.counters()["frames"]

    warm, last, frames = uvloop.run(case())
    assert last is not None and warm == [(True, last)] * 3 and frames == 3
