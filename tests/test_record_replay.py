"""Record and replay: a live loopback session recorded, replayed through the same decoders,
giving the live book exactly and the same output byte for byte every time."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop

import arbcore
import arbcore.sim
from arbcore.cli import SIM_CLASSES, VENUE_HELP
from arbcore.feed_client import FeedClient
from arbcore.record import FRAME_KINDS, FeedSpec, Recorder, SymbolSpec, read_recording
from arbcore.replay import build_books, replay
from arbcore.sim import BybitSim, Fault, SimInstrument, SimVenue
from arbcore.venues import CLIENT_SPECS
from test_cli_runner import one_line_error

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "venues"
BYBIT_CAPTURE = SHARED / "bybit" / "xrpusdt_orderbook500_2024-12-01.jsonl"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arbcore", *args], capture_output=True, text=True, timeout=60, check=False
    )


#: one simulated instrument per `record --venue` name, as its --symbol argument
SIM_SYMBOLS = {
    "bybit": "BTCUSDT=BTC/USDT:2:6",
    "binance_spot": "BTCUSDT=BTC/USDT:2:6",
    "binance_usdm": "BTCUSDT=BTC/USDT:2:6",
    "okx": "BTC-USDT=BTC/USDT:2:8:0.1:0.00001",
    "kraken": "BTC/USD=BTC/USD:2:8",
    "coinbase": "BTC-USD=BTC/USD:2:8",
}


def record_sim(tmp_path: Path, venue: str, *args: str) -> tuple[Path, dict[str, Any]]:
    """`arbcore record --sim` for 1 s, whose live client had its books LIVE at the end; returns the
    file and its header."""
    out = tmp_path / f"{venue}.jsonl.gz"
    r = run_cli("record", "--venue", venue, "--sim", "--duration", "1", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr
    progress = [line for line in r.stderr.splitlines() if "books=" in line]
    assert progress and progress[-1].endswith("books=LIVE"), r.stderr
    with gzip.open(out, "rb") as f:
        header = orjson.loads(f.readline())
    return out, header


def replay_cli(path: Path, venue: str) -> dict[str, Any]:
    r = run_cli("replay", "--venue", venue, str(path))
    assert r.returncode == 0, r.stderr
    summary: dict[str, Any] = orjson.loads(r.stdout)
    return summary


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
    lines = list(rec.frames)
    frames = [fr for fr in lines if fr.kind in FRAME_KINDS]  # (and the client's resets, in order)
    assert len(frames) == summary["frames"] and any(fr.kind == "reset" for fr in lines)
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


def test_cli_venue_names_are_the_client_specs_and_each_has_a_simulator() -> None:
    assert set(VENUE_HELP.split(", ")) == set(CLIENT_SPECS) == set(SIM_CLASSES) == set(SIM_SYMBOLS)
    for venue, (cls_name, kwargs) in SIM_CLASSES.items():
        assert cls_name in arbcore.sim.__all__, venue
        getattr(arbcore.sim, cls_name)(**kwargs)  # the arguments are the class's
    assert SIM_CLASSES["binance_spot"][1] == {"market": "spot"}
    assert SIM_CLASSES["binance_usdm"][1] == {"market": "usdm"}


@pytest.mark.parametrize("venue", sorted(SIM_SYMBOLS))
def test_record_cli_every_simulated_venue(tmp_path: Path, venue: str) -> None:
    """`record --sim` works for every venue, and the recording replays to a LIVE book, cleanly."""
    out, header = record_sim(tmp_path, venue, "--symbol", SIM_SYMBOLS[venue])
    feed = header["feeds"][0]
    assert (feed["venue"], feed["protocol"]) == (venue, CLIENT_SPECS[venue].feed_protocol)
    s = replay_cli(out, venue)
    assert s["frames"] > 10 and s["applied"] > 0
    assert s["gaps"] == 0 and s["decode_errors"] == 0 and s["checksums_failed"] == 0
    (book,) = s["books"].values()
    assert book["state"] == "LIVE"


def test_record_replay_kraken_verifies_checksums_with_the_venue_precision(tmp_path: Path) -> None:
    """Kraken prints BTC/USD prices with 1 decimal, the engine keeps 2: `--precision` reaches the
    live decoder (and the simulator) and the recording's header, so replay verifies every checksum
    with the same digits. Without the header's precision the same frames fail their checksums."""
    sym = "BTC/USD"
    out, header = record_sim(
        tmp_path, "kraken", "--symbol", f"{sym}=BTC/USD:2:8:0.1:0.00000001", "--precision", f"{sym}=1:8"
    )
    feed = header["feeds"][0]
    assert feed["symbols"][sym]["precision"] == [1, 8]
    assert feed["depth"] == 10
    s = replay_cli(out, "kraken")
    assert s["checksums_failed"] == 0 and s["checksums_ok"] > 0
    assert s["decode_errors"] == 0 and s["resyncs"] == 0
    assert s["books"][sym]["state"] == "LIVE"
    assert all(len(p.split(".")[1]) <= 1 for p, _ in s["books"][sym]["bids"] if "." in p)

    without = tmp_path / "no-precision.jsonl.gz"
    with gzip.open(out, "rb") as f, gzip.open(without, "wb") as g:
        del feed["symbols"][sym]["precision"]
        f.readline()
        g.write(orjson.dumps(header) + b"\n" + f.read())
    bad = replay(without, "kraken")
    assert bad["checksums_failed"] > 0 and bad["books"][sym]["state"] != "LIVE"


def test_record_replay_okx_verifies_checksums(tmp_path: Path) -> None:
    """The OKX simulator sends the (legacy) checksum: every push verifies live and in replay."""
    out, _ = record_sim(tmp_path, "okx", "--symbol", SIM_SYMBOLS["okx"])
    s = replay_cli(out, "okx")
    assert s["checksums_failed"] == 0 and s["checksums_ok"] > 0
    assert s["gaps"] == 0 and s["decode_errors"] == 0
    assert s["books"]["BTC-USDT"]["state"] == "LIVE"


def test_record_precision_errors(tmp_path: Path) -> None:
    out = str(tmp_path / "x.jsonl.gz")
    r = run_cli("record", "--venue", "bybit", "--sim", "--symbol", "X=A/B:2:2", "--precision", "X=1:2", "--out", out)
    assert r.returncode == 2 and "kraken only" in r.stderr
    r = run_cli("record", "--venue", "kraken", "--sim", "--symbol", "X=A/B:2:2", "--precision", "Y=1:2", "--out", out)
    assert r.returncode == 2 and "Y: not a --symbol" in r.stderr
    r = run_cli("record", "--venue", "kraken", "--sim", "--symbol", "X=A/B:2:2", "--precision", "X=1", "--out", out)
    assert r.returncode == 2 and "PRICE_PRECISION:QTY_PRECISION" in r.stderr
    r = run_cli("record", "--venue", "binance", "--sim", "--symbol", "X=A/B:2:2", "--out", out)
    assert r.returncode == 2 and "binance_spot" in r.stderr and "binance_usdm" in r.stderr
    assert not (tmp_path / "x.jsonl.gz").exists()


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
    r = run_cli("replay", "--venue", "okx", "--top=-1", str(good))
    assert r.returncode == 2 and "--top must be at least 0" in r.stderr  # (was "n -1: out of range")


XRP = FeedSpec("bybit", "bybit", {"XRPUSDT": SymbolSpec("XRP/USDT", 4, 0, "0.0001", "1")})


def capture_recording(path: Path, frames: int = 50) -> None:
    """The first `frames` lines of the Bybit capture, written by the Recorder as a recording."""
    rec = Recorder(path, [XRP])
    for n, line in enumerate(BYBIT_CAPTURE.read_bytes().splitlines()[:frames]):
        rec.frame(n, "bybit", 1, "ws", line)
    rec.close()


def test_replay_of_a_cut_or_damaged_file_replays_what_can_be_read(tmp_path: Path) -> None:
    """What a killed recorder leaves (compressed data without its end, a last line cut off) and
    a damaged file: every frame before the damage is replayed, exactly as a whole file of just
    those frames, the summary names the line and why, a warning goes to stderr, exit status 0."""
    whole = tmp_path / "whole.jsonl.gz"
    capture_recording(whole)
    full = replay(whole, "bybit")
    assert full["truncated"] is None and full["frames"] == 50
    data = whole.read_bytes()

    def check(path: Path, needle: str) -> dict[str, Any]:
        r = run_cli("replay", "--venue", "bybit", str(path))
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert "warning" in r.stderr and needle in r.stderr, r.stderr
        s: dict[str, Any] = orjson.loads(r.stdout)
        assert needle in s["truncated"], s["truncated"]
        return s

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    s = check(cut, "ends early")
    assert 0 < s["frames"] < 50
    assert s["truncated"].startswith(f"line {s['frames'] + 2}: ")  # the first line not read
    same = tmp_path / "same.jsonl.gz"
    capture_recording(same, s["frames"])
    assert {**replay(same, "bybit"), "truncated": s["truncated"]} == s

    crc = bytearray(data)
    crc[-8] ^= 0xFF  # the gzip trailer's CRC-32
    (tmp_path / "crc.jsonl.gz").write_bytes(crc)
    s = check(tmp_path / "crc.jsonl.gz", "CRC check failed")
    assert {**s, "truncated": None} == full

    with gzip.open(whole, "rb") as f:
        text = f.read()
    (tmp_path / "plain.jsonl").write_bytes(text[:-20])  # the last line cut off
    s = check(tmp_path / "plain.jsonl", "line 51: ")
    assert "cut off" in s["truncated"] and s["frames"] == 49

    lines = text.splitlines(keepends=True)
    (tmp_path / "bad-line.jsonl").write_bytes(b"".join([*lines[:11], b"{not a frame\n", *lines[11:]]))
    s = check(tmp_path / "bad-line.jsonl", "line 12: ")
    assert s["frames"] == 10  # nothing after the damage is used


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "cannot read the header: the compressed data ends early"),
        (b"\x1f\x8bnot gzip at all", "cannot read the header: unreadable compressed data"),
    ],
)
def test_replay_of_an_unreadable_header_is_one_line(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(content)
    one_line_error(run_cli("replay", "--venue", "bybit", str(path)), needle)
    if content:  # (an empty plain capture is one of no frames)
        raw = run_cli("replay", "--venue", "bybit", "--raw", "bybit", "--symbol", "X=A/B:2:2", str(path))
        one_line_error(raw, "cannot read: ")


GOOD_SYMBOL = {"instrument": "A/B", "price_decimals": 2, "qty_decimals": 2, "tick_size": "0.01", "lot_size": "0.01"}


def header_feed(protocol: str = "bybit", **symbol: Any) -> dict[str, Any]:
    return {"venue": "bybit", "protocol": protocol, "symbols": {"X": {**GOOD_SYMBOL, **symbol}}}


@pytest.mark.parametrize(
    ("feeds", "needle"),
    [
        ([{"venue": "bybit"}], "header: feeds[0].protocol is missing"),
        ("x", "header: feeds is not a list"),
        ([3], "header: feeds[0] is not an object"),
        ([{"venue": "bybit", "protocol": "bybit", "symbols": []}], "feeds[0].symbols is [], expected an object"),
        (
            [{"venue": "bybit", "protocol": "bybit", "symbols": {"X": {"instrument": "A/B", "price_decimals": "2"}}}],
            "feeds[0].symbols['X'].price_decimals is \"2\", expected an integer",
        ),
        ([header_feed(precision=[1])], "feeds[0].symbols['X'].precision is [1]"),
        ([header_feed(price_decimals=20)], "header: feed 'bybit': price_decimals"),
        ([header_feed("nope")], "header: feed 'bybit': protocol"),
        # (a negative depth was an OverflowError traceback; 0 and 2**40 were taken)
        ([{**header_feed(), "depth": -5}], "header: feeds[0].depth is -5, expected 1 to 10000"),
        ([{**header_feed(), "depth": 0}], "header: feeds[0].depth is 0"),
        ([{**header_feed(), "depth": 2**40}], f"header: feeds[0].depth is {2**40}"),
    ],
)
def test_replay_of_a_malformed_header_names_the_field(tmp_path: Path, feeds: Any, needle: str) -> None:
    path = tmp_path / "h.jsonl"
    header = {"type": "header", "format": "arbcore-frames", "version": 1, "feeds": feeds}
    path.write_bytes(orjson.dumps(header) + b"\n")
    one_line_error(run_cli("replay", "--venue", "bybit", str(path)), needle)


@pytest.mark.parametrize(
    ("version", "needle"),
    [(4, "version is 4"), ("2", 'version is "2"'), (None, "version is missing"), (True, "version is true"),
     (1.0, "version is 1.0")],
)  # fmt: skip
def test_replay_refuses_a_version_it_does_not_know(tmp_path: Path, version: Any, needle: str) -> None:
    """A later format may mean something else by the same lines: refused in one line, not replayed
    as if it were this one (it was, silently)."""
    path = tmp_path / "v.jsonl"
    header: dict[str, Any] = {"type": "header", "format": "arbcore-frames", "feeds": [XRP.to_json()]}
    if version is not None:
        header["version"] = version
    frame = {"t": 1, "venue": "bybit", "conn": 1, "kind": "ws", "data": BYBIT_CAPTURE.read_text().splitlines()[0]}
    path.write_bytes(orjson.dumps(header) + b"\n" + orjson.dumps(frame) + b"\n")
    one_line_error(run_cli("replay", "--venue", "bybit", str(path)), "header: ", needle, "reads versions 1, 2, 3")


def test_a_version_1_recording_replays_as_before(tmp_path: Path) -> None:
    """Version 1 (frames only) replays as it did; its lines are frames only, so an event's line in
    one is damage, as is a line of a kind no version has."""
    v2 = tmp_path / "v2.jsonl.gz"
    capture_recording(v2)
    with gzip.open(v2, "rb") as f:
        header, *lines = f.read().splitlines(keepends=True)
    h = orjson.loads(header)
    assert h["version"] == 2
    v1 = tmp_path / "v1.jsonl"
    v1.write_bytes(orjson.dumps({**h, "version": 1}) + b"\n" + b"".join(lines))
    s = replay(v1, "bybit")
    assert s["version"] == 1 and s["truncated"] is None
    assert {**s, "version": 2} == replay(v2, "bybit")
    reset = orjson.dumps({"t": 5, "venue": "bybit", "conn": 1, "kind": "reset", "symbol": "XRPUSDT"}) + b"\n"
    v1.write_bytes(orjson.dumps({**h, "version": 1}) + b"\n" + b"".join([*lines[:5], reset, *lines[5:]]))
    s = replay(v1, "bybit")
    assert s["frames"] == 5 and s["truncated"] == 'line 7: kind "reset" is not one of ws, rest'
    odd = orjson.dumps({"t": 5, "venue": "bybit", "conn": 1, "kind": "trade", "data": "{}"}) + b"\n"
    v2_plain = tmp_path / "v2.jsonl"
    v2_plain.write_bytes(header + b"".join([*lines[:5], odd, *lines[5:]]))
    s = replay(v2_plain, "bybit")
    assert s["frames"] == 5 and s["truncated"].startswith('line 7: kind "trade" is not one of ws, rest, disconnected')


def test_a_killed_recorder_leaves_a_file_that_replays(tmp_path: Path) -> None:
    """SIGKILL, so nothing is closed: the periodic flushes are what the file holds."""
    out = tmp_path / "k.jsonl.gz"
    log = tmp_path / "stderr"
    args = ["record", "--venue", "coinbase", "--sim", "--symbol", SIM_SYMBOLS["coinbase"], "--duration", "60"]
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "arbcore", *args, "--out", str(out)], stderr=err)
        try:
            end = time.monotonic() + 30
            while "  2.0s frames=" not in log.read_text():  # a flush is at most 1 s behind
                assert proc.poll() is None and time.monotonic() < end, log.read_text()
                time.sleep(0.05)
        finally:
            proc.kill()
            proc.wait(10)
    r = run_cli("replay", "--venue", "coinbase", str(out))
    assert r.returncode == 0, r.stderr
    s = orjson.loads(r.stdout)
    assert s["frames"] > 10 and s["decode_errors"] == 0 and s["gaps"] == 0
    assert "ends early" in s["truncated"] and "warning" in r.stderr
    assert s["books"]["BTC-USD"]["state"] == "LIVE"


def test_the_recorder_header_is_readable_at_once(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    rec = Recorder(path, [XRP])
    try:
        opened = read_recording(path)  # the recorder is still writing: its header is flushed
        assert opened.feeds == [XRP]
        assert list(opened.frames) == [] and "ends early" in str(opened.frames.truncated)
    finally:
        rec.close()


@pytest.mark.parametrize(
    ("symbol", "needle"),
    [
        ("BTCUSDT=BTC/USDT:20:6", "price_decimals"),
        ("BTCUSDT=BTC/USDT:2:6:0:0", "tick_size"),
        ("BTCUSDT=BTCUSDT:2:6", "expected BASE/QUOTE"),
        ("=BTC/USDT:2:6", "empty symbol"),
        ("X=A/B:12:12", "at most 18"),
    ],
)
def test_record_refuses_a_bad_symbol_in_one_line(tmp_path: Path, symbol: str, needle: str) -> None:
    out = tmp_path / "x.jsonl.gz"
    args = ("record", "--venue", "bybit", "--sim", "--symbol", symbol, "--duration", "1", "--out", str(out))
    one_line_error(run_cli(*args), "arbcore record: ", needle)
    assert not out.exists()


def test_record_refuses_an_out_it_cannot_write_in_one_line(tmp_path: Path) -> None:
    args = ("record", "--venue", "bybit", "--sim", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--duration", "1", "--out")
    one_line_error(run_cli(*args, str(tmp_path / "no-dir" / "x.gz")), "--out", "No such file or directory")
    one_line_error(run_cli(*args, str(tmp_path)), "--out", "Is a directory")
    assert not (tmp_path / "no-dir").exists()


@pytest.mark.parametrize("duration", ["nan", "inf", "0", "-1"])
def test_record_refuses_a_duration_that_is_not_positive_and_finite(tmp_path: Path, duration: str) -> None:
    out = tmp_path / "x.jsonl.gz"
    args = ("record", "--venue", "bybit", "--sim", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--out", str(out))
    r = run_cli(*args, f"--duration={duration}")
    assert r.returncode == 2 and "--duration must be a positive number" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_record_stops_at_the_duration(tmp_path: Path) -> None:
    """1.5 s is 1.5 s: the last wait is the time left, not another whole second."""
    out = tmp_path / "x.jsonl.gz"
    r = run_cli("record", "--venue", "bybit", "--sim", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--duration", "1.5",
                "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    times = [float(line.split("s frames=")[0]) for line in r.stderr.splitlines() if "s frames=" in line]
    assert len(times) == 2 and 1.45 <= times[-1] < 2.0, r.stderr  # (it was 2.0: a whole second more)


def test_record_from_a_url_that_cannot_be_reached(tmp_path: Path) -> None:
    """A URL that is not one is refused before anything starts; a venue that never answers in the
    whole --duration is exit status 2 and leaves no file."""
    out = tmp_path / "u.jsonl.gz"
    args = ("record", "--venue", "bybit", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--duration", "1", "--out", str(out))
    one_line_error(run_cli(*args, "--url", "notaurl"), "--url 'notaurl'", "ws or wss")
    one_line_error(run_cli(*args, "--url", "http://127.0.0.1:1/ws"), "--url", "ws or wss")
    one_line_error(run_cli(*args, "--url", "ws://127.0.0.1:1/ws", "--rest-url", "ftp://x"), "--rest-url", "http")
    assert not out.exists()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli(*args, "--url", f"ws://127.0.0.1:{port}/ws")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"arbcore record: cannot connect to ws://127.0.0.1:{port}/ws: "), last
    assert "removed" in last and "wrote" not in r.stderr
    assert not out.exists()


def test_record_never_prints_a_urls_credentials(tmp_path: Path) -> None:
    """`arbcore record` printed --url whole ("recording ... from", "cannot connect to"): a user,
    password or token in it went to the terminal and a service's log, as the feed client's own
    warning no longer does (venues/shown_url.py)."""
    out = tmp_path / "u.jsonl.gz"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ("record", "--venue", "bybit", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--duration", "0.5", "--out", str(out))
    r = run_cli(*args, "--url", f"ws://alice:pw-s3cret@127.0.0.1:{port}/ws?token=tok-s3cret")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "s3cret" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"arbcore record: cannot connect to ws://***@127.0.0.1:{port}/ws?token=***: "), last
