"""`arbcore run --record` and `arbcore replay FILE`: a real session on loopback simulators, with
feed faults, recorded whole (every venue's frames and book events, balances, detections, taken
tickets) and replayed through the engine's books and detection: the same decisions, bit for bit;
a recording with one frame's price changed mismatches at the first detection after it; and the
recording holds none of the session's keys."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop

from arbcore.cli import main as cli_main
from arbcore.engine_replay import replay_engine
from arbcore.record import read_recording
from arbcore.runner.config import ConfigFileError, parse_toml
from arbcore.runner.plugins import load_strategy
from arbcore.runner.session import TradingSession
from arbcore.sim import Fault
from engine_helpers import config_text, wait_live

#: binance: REST-synced (a gap resyncs by snapshot), okx: checksummed, bybit: neither
VENUES = ("binance_spot", "okx", "bybit")


async def _recorded_session(tmp_path: Path) -> tuple[Path, list[str]]:
    """A trading session (taker, min edge 0: tickets too) recorded ~6 s while a venue drops a
    message (a gap) and another disconnects, then every venue goes silent past the staleness
    bound (1 s here; all of them, so that no ticket's fill moves a book); the file and the keys."""
    rec = tmp_path / "session.jsonl.gz"
    text = config_text(VENUES, auto_trade=True, run=f'record = "{rec}"\n')
    config = parse_toml(text.replace("staleness_ms = 2000", "staleness_ms = 1000"))
    s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
    await s.start()
    try:
        assert s.recorder is not None
        await wait_live(s)
        await asyncio.sleep(1.0)
        s.sim_venues["binance_spot"].inject(Fault.DROP, count=1)
        s.sim_venues["okx"].inject(Fault.DISCONNECT)
        await asyncio.sleep(1.5)
        for sim in s.sim_venues.values():
            sim.inject(Fault.STALL, seconds=2.0)
        await asyncio.sleep(3.5)
        keys = [x for c in s.credentials.values() for x in (c.api_key, c.secret, c.passphrase or "") if x]
    finally:
        await s.stop()
    return rec, keys


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    return uvloop.run(asyncio.wait_for(_recorded_session(tmp_path_factory.mktemp("engine_rec")), 60))


def _lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path) as f:
        return [orjson.loads(x) for x in f.read().splitlines()]


def test_a_faulted_session_replays_to_the_same_decisions(recorded: tuple[Path, list[str]]) -> None:
    path, _ = recorded
    lines = _lines(path)
    kinds = Counter(d["kind"] for d in lines[1:])
    # the faults are in the file: a reconnect, a gap's resync (binance: a REST snapshot again), a stale book
    assert kinds["disconnected"] >= 1 and kinds["stale"] >= 1, kinds
    assert kinds["balance"] and kinds["detect"], kinds
    summary = replay_engine(path)
    assert summary["mismatches"] == 0, summary["first_mismatches"]
    assert summary["identical"] and summary["truncated"] is None
    assert summary["detections"] == kinds["detect"] and summary["taken"] == kinds["taken"]
    assert summary["opportunities"] > 0  # decisions that found something, not only empty books
    assert summary["detections"] > 100
    assert summary["venues"]["okx"]["connections"] >= 2
    assert summary["venues"]["binance_spot"]["gaps"] >= 1


def _bybit_ask_lowered(line: bytes) -> bytes | None:
    """A bybit update's line with its first ask 10% lower (on the grids: tick 0.1, lot 0.0001),
    under the book's bids: the decoder finds the book crossed; None for a line that is not one."""
    d = orjson.loads(line)
    if d["kind"] != "ws" or d["venue"] != "bybit":
        return None
    msg = orjson.loads(d["data"])
    asks = msg.get("data", {}).get("a") if msg.get("type") == "delta" else None
    if not asks:
        return None
    asks[0] = [f"{float(asks[0][0]) * 0.9:.1f}", "0.5000"]
    d["data"] = orjson.dumps(msg).decode()
    return orjson.dumps(d)


def _tampered(path: Path, out: Path) -> tuple[int, int]:
    """A copy of `path` with one price changed: the bybit update just before a detection that
    found opportunities on bybit (its book's index 2) has an ask moved 10% down. Returns the
    changed line's number (the header is line 1) and the detection's."""
    with gzip.open(path) as f:
        raw = f.read().splitlines()
    for i in range(2, len(raw)):  # raw[i] is line i + 1
        d = orjson.loads(raw[i])
        if d["kind"] != "detect" or not any(2 in (r[1], r[2]) for r in d.get("records", [])):
            continue
        changed = _bybit_ask_lowered(raw[i - 1])
        if changed is None:
            continue
        raw[i - 1] = changed
        with gzip.open(out, "wb") as f:
            f.write(b"\n".join(raw) + b"\n")
        return i, i + 1
    raise AssertionError("no detection on bybit right after a bybit update")


def test_a_changed_price_is_a_mismatch_at_the_detection_after_it(
    recorded: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = recorded
    out = tmp_path / "tampered.jsonl.gz"
    changed, detection = _tampered(path, out)
    assert cli_main(["replay", str(out)]) == 1
    summary = orjson.loads(capsys.readouterr().out)
    assert not summary["identical"] and summary["mismatches"] >= 1
    first = summary["first_mismatches"][0]
    assert first["line"] == detection, (changed, first)
    assert first["instrument"] == "BTC/USDT" and first["what"] in ("opportunities", "taken")
    # the untouched file: exit 0
    assert cli_main(["replay", str(path)]) == 0
    assert orjson.loads(capsys.readouterr().out)["identical"]


@pytest.mark.parametrize(
    ("kind", "change", "said"),
    [
        ("detect", {"instrument": 99}, "instrument is 99"),
        ("detect", {"instrument": -1}, "instrument is -1"),  # (the last book, silently)
        ("detect", {"instrument": "0"}, 'instrument is "0"'),
        ("detect", {"records": 5}, "TypeError"),
        ("balance", {"instrument": "DOGE/USDT"}, 'instrument is "DOGE/USDT"'),  # (not in the recording)
        ("balance", {"amount": "abc"}, "abc"),
        ("detect", {"instrument": None}, "instrument is null"),
    ],
)
def test_a_tampered_engine_line_is_one_line_not_a_traceback(  # noqa: PLR0917 (fixtures and parameters)
    recorded: tuple[Path, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    change: dict[str, Any],
    said: str,
) -> None:
    """An engine line that reads as JSON but not as its kind (a foreign or edited file): exit 2,
    one line naming the line (was an IndexError, KeyError or TypeError traceback, exit 1; a
    negative instrument compared another book's records)."""
    path, _ = recorded
    lines = _lines(path)
    n = next(i for i, d in enumerate(lines) if d.get("kind") == kind and (kind != "detect" or "records" in d))
    lines[n].update(change)
    out = tmp_path / "edited.jsonl.gz"
    with gzip.open(out, "wb") as f:
        f.write(b"".join(orjson.dumps(d) + b"\n" for d in lines))
    assert cli_main(["replay", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"line {n + 1} ({kind})" in err and said in err, err


def test_an_engine_header_in_an_older_version_is_refused(
    recorded: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version 2 header with "engine" (edited, or foreign): its engine lines are not version 2's,
    so the replay stopped at the first one, compared nothing and said identical (exit 0)."""
    path, _ = recorded
    lines = _lines(path)
    lines[0]["version"] = 2
    out = tmp_path / "v2.jsonl.gz"
    with gzip.open(out, "wb") as f:
        f.write(b"".join(orjson.dumps(d) + b"\n" for d in lines))
    assert cli_main(["replay", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "engine in a version 2 file" in err, err


def test_the_recording_holds_no_key(recorded: tuple[Path, list[str]]) -> None:
    path, keys = recorded
    assert len(keys) >= 6  # each venue's key and secret (okx: a passphrase too)
    with gzip.open(path) as f:
        text = f.read()
    for k in keys:
        assert k.encode() not in text


def test_an_engine_recording_replays_one_venue_with_venue(recorded: tuple[Path, list[str]]) -> None:
    """`replay --venue NAME` (a config's venue name) on an engine recording: that venue's books."""
    path, _ = recorded
    rec = read_recording(path)
    rec.frames.close()
    assert rec.version == 3 and [f.venue for f in rec.feeds] == list(VENUES)
    assert cli_main(["replay", "--venue", "okx", str(path)]) == 0


def test_a_single_feed_recording_needs_venue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from arbcore.record import FeedSpec, Recorder, SymbolSpec

    path = tmp_path / "one.jsonl.gz"
    Recorder(path, [FeedSpec("bybit", "bybit", {"BTCUSDT": SymbolSpec("BTC/USDT", 2, 6, "0.01", "0.000001")})]).close()
    assert cli_main(["replay", str(path)]) == 2
    assert "give --venue (bybit)" in capsys.readouterr().err


def test_run_record_in_the_config(tmp_path: Path) -> None:
    config = parse_toml(config_text(["bybit"], run='record = "rec.jsonl.gz"\n'))
    assert config.run.record is not None and config.run.record.name == "rec.jsonl.gz"
    assert any(line.strip().startswith("record: ") and "rec.jsonl.gz" in line for line in config.summary())
    with pytest.raises(ConfigFileError) as e:
        parse_toml(config_text(["bybit"], run="record = 5\n"))
    assert any(line.startswith("run.record:") for line in e.value.errors)
    with pytest.raises(ConfigFileError) as e:
        parse_toml(config_text(["bybit"], run=f'record = "{tmp_path}"\n'))
    assert any("is a directory" in line for line in e.value.errors)


def test_arbcore_run_record_then_replay(tmp_path: Path) -> None:
    """The command line: `arbcore run --record` on the embedded default (three simulated venues,
    two instruments, the taker), then `arbcore replay FILE`: exit 0, decisions on both instruments."""
    rec = tmp_path / "run.jsonl.gz"
    run = subprocess.run(
        [sys.executable, "-m", "arbcore", "run", "--no-dashboard", "--duration", "4", "--record", str(rec),
         "--journal", str(tmp_path / "j.sqlite"), "--report-dir", str(tmp_path / "report")],
        check=False, capture_output=True, text=True, cwd=tmp_path, timeout=90,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    replay = subprocess.run([sys.executable, "-m", "arbcore", "replay", str(rec)], check=False,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
    summary = orjson.loads(replay.stdout)
    assert summary["identical"] and summary["detections"] > 0
    assert {d["instrument"] for d in _lines(rec)[1:] if d["kind"] == "detect"} == {0, 1}


def test_arbcore_run_refuses_a_record_path_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before any venue starts: one line, exit 2."""
    missing = tmp_path / "no" / "such" / "dir" / "r.jsonl.gz"
    assert cli_main(["run", "--no-dashboard", "--duration", "1", "--record", str(missing),
                     "--journal", str(tmp_path / "j.sqlite"), "--report-dir", str(tmp_path / "rep")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"record {missing}: no directory" in err


@pytest.mark.parametrize("which", ["journal", "journal-intents", "journal-wal", "config", "symlink"])
def test_arbcore_run_refuses_to_record_over_its_journal_or_a_file_that_is_no_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    """``--record`` naming the journal (a slip: both are files of the run) truncated the open
    SQLite journal with gzip bytes: the ledger of record gone, then a 'database disk image is
    malformed' traceback; any other existing file that is not a recording (the config, say) was
    overwritten too. Refused before anything starts: one line, exit 2, the file untouched."""
    journal = tmp_path / "j.sqlite"
    args = ["run", "--no-dashboard", "--duration", "3", "--journal", str(journal),
            "--report-dir", str(tmp_path / "rep")]  # fmt: skip
    assert cli_main(args) == 0  # a journal with tickets in it
    capsys.readouterr()
    target = {
        "journal": journal,
        "journal-intents": Path(f"{journal}-intents"),
        "journal-wal": Path(f"{journal}-wal"),
        "config": tmp_path / "mine.toml",
        "symlink": tmp_path / "link.jsonl.gz",
    }[which]
    if which == "config":
        target.write_text("[run]\nseed = 1\n")
    if which == "symlink":
        target.symlink_to(journal)
    if not target.exists():
        target.write_bytes(b"x")  # (the WAL is checkpointed away at a clean close)
    before = target.read_bytes()
    journal_before = journal.read_bytes()
    assert cli_main([*args, "--record", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"record {target}" in err, err
    assert target.read_bytes() == before and journal.read_bytes() == journal_before


async def _session_whose_recording_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> tuple[list[str], int]:
    import errno
    import logging

    rec = tmp_path / "full.jsonl.gz"
    config = parse_toml(config_text(VENUES, run=f'record = "{rec}"\n'))
    s = TradingSession(config, load_strategy(None, config), journal_path=tmp_path / "j.sqlite")
    await s.start()
    try:
        assert s.recorder is not None
        await wait_live(s)

        def full(_data: bytes) -> int:  # the disk filling up under the recorder's writes
            raise OSError(errno.ENOSPC, "No space left on device")

        s.recorder._file.write = full  # type: ignore[method-assign]
        caplog.set_level(logging.ERROR, logger="arbcore.session")
        await asyncio.sleep(1.5)  # (the timer ticks every 0.2 s here)
        while_running = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        await s.stop()
    at_stop = sum("No space left" in r.getMessage() for r in caplog.records)
    return while_running, at_stop


def test_a_recording_that_stops_mid_run_is_logged_then(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A write that fails mid-run (a full disk) stops the recording; the session trades on and
    says so at once, not only at its stop (was: an ERROR at stop, hours later maybe), and once."""
    while_running, total = uvloop.run(asyncio.wait_for(_session_whose_recording_fails(tmp_path, caplog), 60))
    assert any("full.jsonl.gz" in m and "No space left" in m for m in while_running), while_running
    assert total == 1
