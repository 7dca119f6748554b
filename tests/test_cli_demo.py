"""The ``arbcore`` command and the seeded demo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from arbcore import BID, LIVE
from arbcore.cli import main
from arbcore.demo import VENUES, build_book, run_demo

OPP_LINE = re.compile(
    r"^  step +\d+  buy (\w+) +@ +[\d.]+  sell (\w+) +@ +[\d.]+"
    r"  qty +[\d.]+ BTC  net +[\d.]+ USDT  \(-?[\d.]+ bps\)$"
)
DONE_LINE = re.compile(r"^done: (\d+) deltas in \d+ ms, (\d+) opportunity records over (\d+) refreshes$")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def test_python_m_arbcore_demo() -> None:
    p = run(sys.executable, "-m", "arbcore", "demo", "--steps", "200")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "arbcore demo: 3 venues, BTC/USDT, 200 steps, seed 7"
    opps = [m for m in map(OPP_LINE.match, lines) if m]
    assert len(opps) >= 1, p.stdout
    names = {v.name for v in VENUES}
    for m in opps:
        assert m.group(1) in names
        assert m.group(2) in names
        assert m.group(1) != m.group(2)
    done = [m for m in map(DONE_LINE.match, lines) if m]
    assert len(done) == 1, p.stdout
    deltas, found, refreshes = (int(x) for x in done[0].groups())
    assert refreshes == 200
    # after the first step each of the 3 venues re-quotes 10 levels a side: 20 deletes + 20 inserts
    assert deltas == 199 * 3 * 40
    assert found >= len(opps)
    assert lines[-1].startswith("books: binance=LIVE, kraken=LIVE, okx=LIVE")


def _arbcore_script() -> str:
    script = Path(sys.executable).parent / "arbcore"
    if not script.exists():
        pytest.skip("arbcore console script not installed next to the interpreter")
    return str(script)


def test_console_script_rejects_zero_steps() -> None:
    p = run(_arbcore_script(), "demo", "--steps", "0")
    assert p.returncode == 2
    assert "--steps must be at least 1" in p.stderr
    assert "done:" not in p.stdout


def test_module_rejects_zero_steps() -> None:
    p = run(sys.executable, "-m", "arbcore", "demo", "--steps", "0")
    assert p.returncode == 2
    assert "--steps must be at least 1" in p.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--steps", "0"],
        ["demo", "--steps", "-3"],
        [],
        ["nope"],
        ["demo", "--steps", "x"],
        ["demo", "--seed", "-1"],
    ],
)
def test_main_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: arbcore" in capsys.readouterr().err


def test_module_rejects_a_negative_seed_in_one_line() -> None:
    p = run(sys.executable, "-m", "arbcore", "demo", "--seed", "-1")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1] == "arbcore: error: --seed must be at least 0"


def test_main_runs_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--steps", "5", "--seed", "3", "--show", "0"]) == 0
    out = capsys.readouterr().out
    assert "5 steps, seed 3" in out
    assert not any(OPP_LINE.match(line) for line in out.splitlines())  # --show 0 prints none
    assert any(DONE_LINE.match(line) for line in out.splitlines())


def test_demo_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(steps=60, seed=11, show=50)
    first = [line for line in capsys.readouterr().out.splitlines() if OPP_LINE.match(line)]
    run_demo(steps=60, seed=11, show=50)
    second = [line for line in capsys.readouterr().out.splitlines() if OPP_LINE.match(line)]
    assert first == second


def test_build_book() -> None:
    book = build_book()
    assert book.venues == [v.name for v in VENUES]
    assert book.balance("kraken", "USDT") == "250000"
    assert book.balance("okx", "BTC") == "3"
    assert book.venue_spec("kraken")["taker_fee"] == "0.0026"
    assert book.venue_spec("binance")["min_notional"] == "5"
    book.apply_snapshot(0, [(100, 1)], [(101, 1)])
    assert book.state(0) == LIVE
    assert book.depth(0, BID, 1).tolist() == [[100, 1]]
