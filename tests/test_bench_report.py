"""benches/report.py on partial results, as a user runs it after one bench file (or none): what it
has is reported, what is absent is named, and with nothing at all BENCHMARKS.md is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "benches" / "report.py"

#: a pytest-benchmark file as one bench file's run writes it (only the fields the report reads);
#: the figures are made up: this checks the report's wording, not a measurement
ONE_BENCH_FILE = {
    "version": "5.3.1",
    "benchmarks": [
        {
            "name": "test_arbcore_numpy_batch_whole_stream",
            "stats": {"median": 0.04},
            "extra_info": {"deltas": 1_000_000, "role": "arbcore", "workload": "a", "path": "numpy batch, one call"},
        },
        {
            "name": "test_baseline_sorted_dict_apply",
            "stats": {"median": 0.9},
            "extra_info": {
                "deltas": 1_000_000,
                "role": "baseline",
                "peer": "sorteddict",
                "workload": "a",
                "path": "sorteddict apply",
            },
        },
    ],
}


def report(tmp_path: Path, pytest_json: Path) -> subprocess.CompletedProcess[str]:
    """The report on ``pytest_json`` alone (no criterion directory, no e2e file), run from
    ``tmp_path`` (not the repository)."""
    paths = {"--criterion": "criterion", "--e2e": "bench-e2e.json", "--out": "B.md", "--json": "b.json"}
    args = [a for flag, name in paths.items() for a in (flag, str(tmp_path / name))]
    return subprocess.run(
        [sys.executable, str(REPORT), "--pytest", str(pytest_json), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_no_results_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "B.md").write_text("the last real report\n")
    r = report(tmp_path, tmp_path / "pytest-benchmark.json")
    assert r.returncode == 2, r.stderr
    assert (tmp_path / "B.md").read_text() == "the last real report\n"
    assert not (tmp_path / "b.json").exists()
    assert "no results to report" in r.stderr and "Traceback" not in r.stderr
    for what in ("criterion results", "pytest-benchmark results", "end-to-end latency results"):
        assert what in r.stderr


def test_one_bench_file_alone(tmp_path: Path) -> None:
    pytest_json = tmp_path / "one.json"
    pytest_json.write_text(json.dumps(ONE_BENCH_FILE))
    r = report(tmp_path, pytest_json)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "B.md").read_text()
    # what was not run is named, under the header and on stderr
    assert "**Partial run**" in md
    for what in ("criterion results", "end-to-end latency results"):
        assert what in md and f"left out: {what}" in r.stderr
    assert "pytest-benchmark results" not in r.stderr
    # a target of a bench that did not run is not measured, not missed
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert rows["Rust apply, one delta (realistic stream)"].endswith("| not measured | | | not measured |")
    assert rows["Python batch via numpy (one call, 1M deltas)"].endswith("| yes |")
    targets = {t["label"]: t for t in json.loads((tmp_path / "b.json").read_text())["targets"]}
    assert targets["Rust apply, one delta (realistic stream)"]["met"] is None
    assert targets["Python batch via numpy (one call, 1M deltas)"]["met"] is True
    # the commit is the repository's, wherever the report is run from
    assert "| commit |  |" not in md


def test_a_results_file_cut_short(tmp_path: Path) -> None:
    pytest_json = tmp_path / "cut.json"
    pytest_json.write_text(json.dumps(ONE_BENCH_FILE)[:80])
    r = report(tmp_path, pytest_json)
    assert r.returncode == 2
    assert r.stderr.startswith("benches/report.py: cannot read the results: JSONDecodeError")
    assert "Traceback" not in r.stderr and not (tmp_path / "B.md").exists()
