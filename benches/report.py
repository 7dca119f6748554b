"""Collect criterion and pytest-benchmark results of one `make bench` run into BENCHMARKS.md
and a JSON file. Every figure printed here was measured in this run; targets are checked
against medians, and each figure is put beside the peers measured in the same run (workloads
a-d, see benches/test_peers_*.py and test_five_venues.py). The end-to-end latency file
(target/bench-e2e.json, workload e) and the regression guard's baseline are included when present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from report_e2e import e2e_section
from report_guard import guard_section
from report_issue2 import criterion_table, issue2_targets, python_table
from report_issue6 import issue6_targets, measure_issue6
from report_notes import notes, order_path_takes
from report_peers import missing_peers, peers_section, workload_tables
from report_results import Extra, Result, read_criterion, read_five_paired, read_memory, read_pytest

REPO = Path(__file__).resolve().parent.parent


def build(
    criterion: dict[str, Result],
    pytest: dict[str, Result],
    extra: Extra,
    memory: dict[str, Any] | None,
    meta: dict[str, str],
    *,
    e2e: dict[str, Any] | None = None,
    guard: dict[str, Any] | None = None,
    five_paired: dict[str, Any] | None = None,
    absent: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """BENCHMARKS.md's text and benchmarks.json's document. Issue 6 (the peers and end to end)
    comes first, then issue 2 (the book's own targets) and every bench's figure. ``absent``: the
    run's result files that were not there (``absent_inputs``), named under the header."""
    lines = [
        "# arbcore benchmarks",
        "",
        "Written by `make bench` (benches/report.py). Medians of one run on a shared, noisy machine:",
        "compare ratios within this file, not absolute figures across runs.",
        "",
        "| | |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in meta.items()]
    if absent:
        lines += ["", "**Partial run**: what follows leaves out"]
        lines += [f"- {line}" for line in absent]
    missing = missing_peers(meta)
    lines += peers_section(meta, missing)
    figures = measure_issue6(criterion, pytest, extra, five_paired)
    issue6_lines, issue6_json = issue6_targets(figures, e2e)
    lines += issue6_lines
    lines += workload_tables(pytest, extra, missing)
    lines += e2e_section(e2e)
    d = figures.detection
    lines += notes(
        figures.frames.ratio,
        figures.batch.ratio,
        d.added_ns,
        d_info=d.info,
        rust_cross=d.rust_cross,
        rust_nocross=d.rust_nocross,
        e2e=e2e,
        take=order_path_takes(pytest),
    )
    lines += guard_section(guard)
    issue2_lines, issue2_json = issue2_targets(criterion, pytest, extra)
    lines += issue2_lines
    lines += criterion_table(criterion, memory)
    lines += python_table(pytest, extra)
    lines += ["", "Regenerate with `make bench`."]
    doc = {
        "meta": meta,
        "targets": issue2_json,
        "criterion": {k: {"median_ns": v.median_ns, "elements": v.elements} for k, v in criterion.items()},
        "pytest": {
            k: {"median_ns": v.median_ns, "elements": v.elements, "extra": extra.get(k, {})} for k, v in pytest.items()
        },
        "memory": memory,
        "issue6": {"targets": issue6_json, "missing_peers": missing},
        "e2e": e2e,
        "guard_baseline": guard,
        "absent": absent or [],
    }
    return "\n".join(lines) + "\n", doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--criterion", type=Path, default=Path("target/criterion"))
    ap.add_argument("--pytest", type=Path, default=Path("target/pytest-benchmark.json"))
    ap.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    ap.add_argument("--json", type=Path, default=Path("benchmarks.json"))
    ap.add_argument("--e2e", type=Path, default=Path("target/bench-e2e.json"))
    ap.add_argument("--guard", type=Path, default=Path("benches/guard/baseline.json"))
    args = ap.parse_args()
    try:
        criterion = read_criterion(args.criterion) if args.criterion.exists() else {}
        pytest, extra, raw = read_pytest(args.pytest) if args.pytest.exists() else ({}, {}, {})
        e2e = json.loads(args.e2e.read_text()) if args.e2e.exists() else None
        guard = json.loads(args.guard.read_text()) if args.guard.exists() else None
        five_paired = read_five_paired(args.criterion) if args.criterion.exists() else None
        memory = read_memory(args.criterion)
    except (OSError, ValueError, KeyError, TypeError) as e:  # a file cut short by an interrupted run, ...
        print(f"benches/report.py: cannot read the results: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    absent = absent_inputs(args.criterion, criterion, args.pytest, args.e2e)
    if len(absent) == len(RUN_INPUTS):
        # nothing measured: a report of empty tables would replace the last real one
        print(f"benches/report.py: no results to report, {args.out} left as it was:", file=sys.stderr)
        for line in absent:
            print(f"  {line}", file=sys.stderr)
        return 2
    for line in absent:
        print(f"benches/report.py: left out: {line}", file=sys.stderr)
    md, doc = build(
        criterion,
        pytest,
        extra,
        memory,
        machine_facts(raw),
        e2e=e2e,
        guard=guard,
        five_paired=five_paired,
        absent=absent,
    )
    args.out.write_text(md)
    args.json.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(md)
    return 0


#: the results one `make bench` run writes: what each is, and the command that makes it
RUN_INPUTS = {
    "criterion": ("criterion results", "cargo bench --bench book --bench detect"),
    "pytest": (
        "pytest-benchmark results",
        ".venv-bench/bin/python -m pytest -p no:cacheprovider benches --benchmark-enable --benchmark-only "
        "--benchmark-json=target/pytest-benchmark.json",
    ),
    "e2e": ("end-to-end latency results", ".venv-bench/bin/python -m pytest benches/test_e2e_latency.py"),
}


def absent_inputs(criterion_dir: Path, criterion: dict[str, Result], pytest_json: Path, e2e_json: Path) -> list[str]:
    """One line per result file of the run that is not there: which, where, and what writes it."""
    where = {"criterion": criterion_dir, "pytest": pytest_json, "e2e": e2e_json}
    present = {"criterion": bool(criterion), "pytest": pytest_json.exists(), "e2e": e2e_json.exists()}
    return [
        f"{what}: none at {where[k]} (written by `{command}`)"
        for k, (what, command) in RUN_INPUTS.items()
        if not present[k]
    ]


def machine_facts(pytest_raw: dict[str, Any]) -> dict[str, str]:
    """The header table: when, on what machine and toolchain, with which peer versions, at which
    commit (``pytest_raw`` is the whole pytest-benchmark file, for its version)."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({os.cpu_count() or 0} logical cores)",
        "rustc": cmd(["rustc", "--version"]),
        "python": platform.python_version(),
        "numpy": package_version("numpy"),
        "pytest-benchmark": (pytest_raw.get("version", "") if isinstance(pytest_raw, dict) else "") or "no results",
        "orjson": package_version("orjson"),
        "nautilus_trader (peer)": package_version("nautilus_trader"),
        "order_book (peer)": package_version("order-book"),
        "sortedcontainers (baseline)": package_version("sortedcontainers"),
        "commit": cmd(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),  # wherever it is run from
        "cargo profile": "bench = release: fat LTO, codegen-units = 1 (criterion and the extension)",
    }


def cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
