"""Replay gives the books the live client had, not only at the end: before every frame, through
faults (gaps, bad checksums, malformed frames, disconnects, stalls, slow snapshots), with each
book's state (a book the live client had SYNCING, STALE or BROKEN is so in the replay too), and
the summary shows when the connections, resyncs and stale books happened."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import uvloop

import arbcore
import arbcore.sim as sim_mod
from arbcore.cli import SIM_CLASSES, _feed_spec, _sim_instruments, _symbol_arg
from arbcore.feed_client import FeedClient
from arbcore.record import FeedSpec, Recorder, read_recording
from arbcore.replay import Replayer, build_books, replay
from arbcore.sim import Fault
from arbcore.venues import CLIENT_SPECS

#: two instruments per venue: one fault can break both (Coinbase's sequence is per connection)
SYMBOLS = {
    "bybit": ["BTCUSDT=BTC/USDT:2:6", "ETHUSDT=ETH/USDT:2:6"],
    "binance_spot": ["BTCUSDT=BTC/USDT:2:6", "ETHUSDT=ETH/USDT:2:6"],
    "coinbase": ["BTC-USD=BTC/USD:2:8", "ETH-USD=ETH/USD:2:8"],
}

Books = tuple[tuple[Any, ...], ...]


def books_now(books: list[arbcore.ConsolidatedBook], symbols: dict[str, tuple[int, int]]) -> Books:
    """Every book's state, sequence and top five levels a side."""
    out = []
    for sym, (i, v) in sorted(symbols.items()):
        b = books[i]
        bids = tuple(map(tuple, b.depth(v, arbcore.BID, 5).tolist()))
        asks = tuple(map(tuple, b.depth(v, arbcore.ASK, 5).tolist()))
        out.append((sym, b.state_name(v), b.seq(v), bids, asks))
    return tuple(out)


def feed_spec(venue: str) -> FeedSpec:
    cs = CLIENT_SPECS[venue]
    spec = _feed_spec(
        venue, cs.feed_protocol, [_symbol_arg(s) for s in SYMBOLS[venue]], [], cs.feed_kwargs.get("depth", 10)
    )
    assert isinstance(spec, FeedSpec)
    return spec


async def record_live(
    venue: str, path: Path, faults: list[tuple[float, Fault, dict[str, Any]]], duration: float, *, until: Any = None
) -> tuple[list[Books], Books]:
    """A live client on `venue`'s simulator, recorded to `path`, `faults` scheduled; returns the
    books before each frame it received and at the end (after `duration`, or 0.2 s after
    `until(client)`)."""
    spec = feed_spec(venue)
    books, symbols, precisions = build_books(spec)
    cls_name, kwargs = SIM_CLASSES[venue]
    sim = sim_mod.SimVenue(getattr(sim_mod, cls_name)(**kwargs), _sim_instruments(spec), seed=3, interval=0.005)
    await sim.start()
    rec = Recorder(path, [spec])
    client = FeedClient(CLIENT_SPECS[venue], sim.ws_url, books, symbols, rest_url=sim.rest_url, recorder=rec,
                        feed_kwargs={"precisions": precisions}, seed=1, stale_after=0.3)  # fmt: skip
    before: list[Books] = []
    on_frame = client._on_frame

    def traced(data: bytes, last_in_buffer: int) -> None:
        before.append(books_now(books, symbols))
        on_frame(data, last_in_buffer)

    client._on_frame = traced  # type: ignore[method-assign]
    task = asyncio.get_running_loop().create_task(client.run())
    try:
        for delay, fault, kw in faults:
            sim.schedule(delay, fault, **kw)
        end = time.monotonic() + duration
        while time.monotonic() < end:
            await asyncio.sleep(0.005)
            if until is not None and until(client):
                await asyncio.sleep(0.2)  # frames of the new connection come in meanwhile
                break
        return before, books_now(books, symbols)
    finally:
        client.stop()
        await asyncio.wait_for(task, 5)
        rec.close()
        await sim.stop()


FAULTS: list[tuple[float, Fault, dict[str, Any]]] = [
    (0.4, Fault.DROP, {}),
    (0.6, Fault.CORRUPT_CHECKSUM, {}),
    (0.8, Fault.MALFORMED, {}),
    (1.0, Fault.DISCONNECT, {}),
    (1.3, Fault.SLOW_SNAPSHOT, {"seconds": 0.3}),
    (1.4, Fault.DISCONNECT, {}),  # a new connection whose snapshot is late
    (1.9, Fault.SLOW_SNAPSHOT, {"seconds": 0.0}),
    (2.0, Fault.STALL, {"seconds": 0.6}),  # longer than stale_after: the books go STALE
    (2.9, Fault.DROP, {"count": 3}),
    (3.1, Fault.DROP, {}),
    (3.15, Fault.DROP, {}),  # broken again soon after a resubscribe: a delayed one
]


@pytest.mark.parametrize("venue", sorted(SYMBOLS))
def test_replay_has_the_live_books_before_every_frame(tmp_path: Path, venue: str) -> None:
    path = tmp_path / f"{venue}.jsonl.gz"
    live, live_end = uvloop.run(record_live(venue, path, FAULTS, 3.6))
    r = Replayer(feed_spec(venue))
    replayed: list[Books] = []
    for fr in read_recording(path).frames:
        if fr.kind == "ws":
            replayed.append(books_now(r.books, r.symbols))
        r.apply(fr)
    assert len(replayed) == len(live) > 300
    first = next((k for k in range(len(live)) if live[k] != replayed[k]), None)
    assert first is None, (first, live[first], replayed[first])  # type: ignore[index]
    assert books_now(r.books, r.symbols) == live_end
    # what happened is in the summary, in order
    s = replay(path, venue)
    seen = {e["event"] for e in s["events"]}
    assert {"connected", "disconnected", "resync", "stale"} <= seen, seen
    assert s["connections"] == 3 and s["resyncs"] >= 3 and s["version"] == 2
    assert [e["t"] for e in s["events"]] == sorted(e["t"] for e in s["events"])


def _reconnected(client: FeedClient) -> bool:
    return client.conn_id >= 2


@pytest.mark.parametrize(
    ("scenario", "faults", "state"),
    [
        # cut after a reconnect, before its (late) snapshot: the live books were SYNCING, not the
        # previous connection's LIVE books (which replay showed)
        ("reconnect", [(0.3, Fault.SLOW_SNAPSHOT, {"seconds": 30.0}), (0.35, Fault.DISCONNECT, {})], "SYNCING"),
        # cut during a stall longer than stale_after: the live books were STALE (replay: LIVE)
        ("stall", [(0.3, Fault.STALL, {"seconds": 30.0})], "STALE"),
        # cut after a gap's resubscribe, before the (late) snapshot: the live books were reset to
        # SYNCING (replay: BROKEN)
        ("gap", [(0.3, Fault.SLOW_SNAPSHOT, {"seconds": 30.0}), (0.35, Fault.DROP, {"count": 2})], "SYNCING"),
    ],
)
def test_replay_ends_in_the_state_the_live_books_had(
    tmp_path: Path, scenario: str, faults: list[tuple[float, Fault, dict[str, Any]]], state: str
) -> None:
    path = tmp_path / "cut.jsonl.gz"
    until = _reconnected if scenario == "reconnect" else None
    _, live_end = uvloop.run(record_live("bybit", path, faults, 1.2, until=until))
    assert {b[1] for b in live_end} == {state}, live_end
    s = replay(path, "bybit")
    assert {b["state"] for b in s["books"].values()} == {state}, s["books"]
