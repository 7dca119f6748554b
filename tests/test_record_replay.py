"""Record and replay: a live loopback session recorded, replayed through the same decoders,
giving the live book exactly and the same output byte for byte every time."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import subprocess
import sys
import time
from pathlib import Path

import orjson
import uvloop

import arbcore
from arbcore.feed_client import FeedClient
from arbcore.record import FeedSpec, Recorder, SymbolSpec, build_books, read_recording, replay
from arbcore.sim import BybitSim, Fault, SimInstrument, SimVenue
from arbcore.venues import CLIENT_SPECS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "venues"
BYBIT_CAPTURE = SHARED / "bybit" / "xrpusdt_orderbook500_2024-12-01.jsonl"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arbcore", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_recorded_session_replays_to_the_live_book(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl.gz"
    spec = FeedSpec("bybit", "bybit", {"BTCUSDT": SymbolSpec("BTC/USDT", 2, 6, "0.01", "0.000001")})

    async def session() -> dict[str, list[list[str]]]:
        sim = SimVenue(BybitSim(), [SimInstrument("BTCUSDT", 2, 6, tick=1, lot=1, mid=6_000_000)], interval=0.005)
        await sim.start()
        books, symbols, _ = build_books(spec)
        rec = Recorder(path, [spec])
        client = FeedClient(CLIENT_SPECS["bybit"], sim.ws_url, books, symbols, recorder=rec, seed=1)
        task = asyncio.get_running_loop().create_task(client.run())
        try:
            end = time.monotonic() + 10
            while client.feed.counters()["applied"] < 100:
                assert time.monotonic() < end, "no data"
                await asyncio.sleep(0.01)
            sim.inject(Fault.DROP)  # a gap and a resync are part of the recording
            while client.counters()["resync_requests"] < 1 or books[0].state(0) != arbcore.LIVE:
                assert time.monotonic() < end, "no resync"
                await asyncio.sleep(0.01)
            sim.inject(Fault.STALL, seconds=60)
            await asyncio.sleep(0.1)
            b = books[0]
            return {
                "bids": [[b.format_price(p), b.format_qty(q)] for p, q in b.depth(0, arbcore.BID, 10).tolist()],
                "asks": [[b.format_price(p), b.format_qty(q)] for p, q in b.depth(0, arbcore.ASK, 10).tolist()],
            }
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
            rec.close()
            await sim.stop()

    live = uvloop.run(session())
    summary = replay(path, "bybit")
    assert summary["books"]["BTCUSDT"]["bids"] == live["bids"]
    assert summary["books"]["BTCUSDT"]["asks"] == live["asks"]
    assert summary["books"]["BTCUSDT"]["state"] == "LIVE"
    assert summary["gaps"] >= 1 and summary["resyncs"] >= 1 and summary["decode_errors"] == 0
    rec = read_recording(path)
    frames = list(rec.frames)
    assert len(frames) == summary["frames"]
    assert all(a.t <= b.t for a, b in itertools.pairwise(frames))

    first = run_cli("replay", "--venue", "bybit", str(path))
    second = run_cli("replay", "--venue", "bybit", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # deterministic, byte for byte
    assert orjson.loads(first.stdout)["books"]["BTCUSDT"]["bids"] == live["bids"]


def test_record_cli_on_a_simulated_venue(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl.gz"
    r = run_cli(
        "record", "--venue", "bybit", "--sim", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--duration", "1", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    assert "frames=" in r.stderr and "wrote" in r.stderr
    with gzip.open(out, "rb") as f:
        header = orjson.loads(f.readline())
        line = orjson.loads(f.readline())
    assert header["format"] == "arbcore-frames" and header["feeds"][0]["venue"] == "bybit"
    assert set(line) >= {"t", "venue", "conn", "kind", "data"}
    rep = run_cli("replay", "--venue", "bybit", str(out))
    assert rep.returncode == 0, rep.stderr
    s = orjson.loads(rep.stdout)
    assert s["frames"] > 10 and s["gaps"] == 0 and s["decode_errors"] == 0
    assert s["books"]["BTCUSDT"]["state"] == "LIVE"


def test_raw_bybit_capture_replays_cleanly() -> None:
    r = run_cli(
        "replay", "--venue", "bybit", "--raw", "bybit", "--symbol", "XRPUSDT=XRP/USDT:4:0:0.0001:1", str(BYBIT_CAPTURE)
    )
    assert r.returncode == 0, r.stderr
    s = orjson.loads(r.stdout)
    assert (s["frames"], s["snapshots"], s["applied"]) == (50, 1, 49)
    assert (s["gaps"], s["decode_errors"], s["resyncs"]) == (0, 0, 0)
    book = s["books"]["XRPUSDT"]
    assert book["state"] == "LIVE" and book["seq"] == 20254918
    assert len(book["bids"]) == 10 and len(book["asks"]) == 10
    assert float(book["bids"][0][0]) < float(book["asks"][0][0])


def test_replay_errors_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = run_cli("replay", "--venue", "bybit", str(bad))
    assert r.returncode == 2 and "line 1" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("replay", "--venue", "bybit", str(tmp_path / "missing.jsonl.gz"))
    assert r.returncode == 2 and "no such file" in r.stderr
    good = tmp_path / "h.jsonl"
    good.write_text('{"type":"header","format":"arbcore-frames","version":1,"feeds":[]}\n')
    r = run_cli("replay", "--venue", "okx", str(good))
    assert r.returncode == 2 and "no feed for venue 'okx'" in r.stderr
    r = run_cli("record", "--venue", "nowhere", "--sim", "--symbol", "X=A/B:2:2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "known venues" in r.stderr
