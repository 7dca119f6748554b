"""The bench files run as plain tests (`pytest benches/...` without `--benchmark-enable`, the
default in pyproject.toml): each bench runs once and its own checks pass, so a user can try one
file, or `-k` a selection, before a timed run. The end-to-end bench is left out (minutes of rounds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_bench_files_pass_with_benchmarks_disabled(tmp_path: Path) -> None:
    env = dict(os.environ, ARBCORE_BENCH_DELTAS="20000")  # the shared stream, shortened: one pass each
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "benches",
         "--deselect", "benches/test_e2e_latency.py::test_e2e_latency", "--basetemp", str(tmp_path / "t")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout.splitlines()[-1]
