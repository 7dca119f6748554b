"""How `arbcore record` ends other than by --duration: Ctrl-C or SIGTERM close the file whole; a
write that fails (a full disk, a file size limit) stops the recording with one line, and the file
replays up to its last flush; a venue never reached removes the --out file, never a device."""

from __future__ import annotations

import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from test_cli_runner import one_line_error
from test_record_replay import SIM_SYMBOLS, run_cli

RECORD = ["record", "--venue", "okx", "--sim", "--symbol", SIM_SYMBOLS["okx"]]


def wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while text not in path.read_text():
        assert proc.poll() is None and time.monotonic() < end, path.read_text()
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_recording_with_a_whole_file(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM ended the process at once (status 143) with up to a second unwritten and the file
    cut short; Ctrl-C left status 130 and no count of what was written."""
    out = tmp_path / "s.jsonl.gz"
    log = tmp_path / "stderr"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "arbcore", *RECORD, "--duration", "60", "--out", str(out)],
                                stderr=err)  # fmt: skip
        try:
            wait_for(log, "  1.0s frames=", proc)
            proc.send_signal(sig)
            assert proc.wait(15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    lines = log.read_text().strip().splitlines()
    assert lines[-2].startswith(f"stopped by {sig.name} after "), lines
    wrote = int(lines[-1].removeprefix("wrote ").split()[0])
    r = run_cli("replay", "--venue", "okx", str(out))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    s = orjson.loads(r.stdout)
    assert s["truncated"] is None and s["frames"] == wrote > 50


def _file_size_limit(nbytes: int) -> None:
    # (Python ignores SIGXFSZ: a write past the limit fails with EFBIG, as on a full disk)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))


def test_a_write_that_fails_stops_the_recording_in_one_line(tmp_path: Path) -> None:
    """It was a traceback from the writer thread, then the recording went on for the rest of
    --duration reporting frames it did not write, then another traceback and status 1."""
    out = tmp_path / "f.jsonl.gz"
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "arbcore", *RECORD, "--duration", "30", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False, preexec_fn=lambda: _file_size_limit(12_000),
    )  # fmt: skip
    assert time.monotonic() - t0 < 20, "the recording went on after the write failed"
    progress = [line for line in r.stderr.splitlines() if "s frames=" in line or line.startswith("recording ")]
    rest = subprocess.CompletedProcess(r.args, r.returncode, r.stdout, "\n".join(
        line for line in r.stderr.splitlines() if line not in progress))  # fmt: skip
    one_line_error(rest, f"arbcore record: --out {out}: writing failed after ", "File too large", "last flush")
    rp = run_cli("replay", "--venue", "okx", str(out))
    assert rp.returncode == 0 and "cut short" in rp.stderr, rp.stderr
    s = orjson.loads(rp.stdout)
    assert s["frames"] > 10 and s["decode_errors"] == 0 and s["truncated"] is not None


def test_a_venue_never_reached_leaves_an_out_that_is_no_file_of_its_own(tmp_path: Path) -> None:
    """Nothing recorded removes the file of only a header, never a device: `--out /dev/null` was
    unlinked (by root: the system's /dev/null gone; by anyone else: a PermissionError traceback)."""
    if os.geteuid() == 0:
        out = tmp_path / "null"  # a private twin of /dev/null: the real one is not put at risk
        try:
            os.mknod(out, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("no device node can be made here")
    else:
        out = Path("/dev/null")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["record", "--venue", "bybit", "--symbol", "BTCUSDT=BTC/USDT:2:6", "--duration", "0.5"]
    r = run_cli(*args, "--url", f"ws://127.0.0.1:{port}/ws", "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("arbcore record: cannot connect to ") and last.endswith("; nothing recorded"), last
    assert stat.S_ISCHR(out.stat().st_mode)


def test_a_stalled_disk_stops_the_recording_and_never_holds_the_stop(tmp_path: Path) -> None:
    """The recorder's queue had no bound: a disk that stalls blocks its writer while the event
    loop goes on enqueueing every frame (memory without limit), and closing waited for the
    blocked writer (the engine's stop with it). The timer's check stops a recording whose writer
    is too far behind; closing waits a bounded time."""
    import threading

    from arbcore.record import FeedSpec, Recorder, SymbolSpec

    feeds = [FeedSpec("okx", "okx", {"BTC-USDT": SymbolSpec("BTC/USDT", 2, 6, "0.1", "0.0001")})]
    rec = Recorder(tmp_path / "r.jsonl.gz", feeds)
    stalled = threading.Event()
    release = threading.Event()
    real_write = rec._file.write

    def stalled_write(data: bytes) -> int:  # the disk stalls at the first frame's write
        stalled.set()
        release.wait(10)
        return real_write(data)

    rec._file.write = stalled_write  # type: ignore[method-assign]
    try:
        rec.frame(1, "okx", 0, "text", b"{}")
        assert stalled.wait(5)
        for k in range(150):
            rec.frame(k, "okx", 0, "text", b"{}")
        assert rec.backlog == 150 and not rec.check_backlog(limit=200) and rec.error is None
        assert rec.check_backlog(limit=100) and "fell 150 lines behind" in str(rec.error)
        rec.frame(0, "okx", 0, "text", b"{}")
        assert rec.backlog == 150  # nothing enqueued once stopped
        t0 = time.monotonic()
        rec.close(wait=0.3)
        assert time.monotonic() - t0 < 2
        assert rec.error is not None
    finally:
        release.set()
