"""The regression guard's part of BENCHMARKS.md: how `make test` counts the hot paths'
instructions under callgrind, and the committed baseline (benches/guard/baseline.json)."""

from __future__ import annotations

from typing import Any


def guard_section(guard: dict[str, Any] | None) -> list[str]:
    if not guard:
        return []
    lines = [
        "",
        "## Regression guard (`make test`)",
        "",
        "`benches/guard/guard.py` runs `benches/guard.rs` (release profile) under "
        "`valgrind --tool=callgrind` and counts the instructions inside each hot path on a small fixed "
        f"input; it fails above {guard.get('threshold', 1.25)}x the committed baseline "
        "(`benches/guard/baseline.json`, rewritten by `make guard-baseline`). Counts do not move with "
        "machine load. Without valgrind the guard prints that it is skipped and passes locally, and fails "
        "when `CI=true`. Measured cost in `make test`: 2-10 s with a warm release build (3 callgrind runs ~2 s, "
        "plus relinking the guard when the crate changed); on a fresh clone 30-40 s in all: the guard is a "
        "plain binary behind the `guard` feature (`arbcore-guard`), so no dev-dependency (criterion, "
        "proptest) is built for it, only the crate itself without the Python bindings. "
        "Baseline (" + str(guard.get("rustc", "")) + "):",
        "",
        "| path | input | instructions |",
        "| --- | --- | --- |",
    ]
    for p, v in guard.get("paths", {}).items():
        lines.append(f"| {p} | {v.get('what', '')} | {int(v['ir']):,} |")
    return lines
