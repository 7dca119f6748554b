"""Reading one `make bench` run's results (criterion's estimates, pytest-benchmark's JSON, the
Rust-side memory and paired five-venue files), looking them up by name, and formatting figures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Result:
    name: str
    median_ns: float  # per iteration
    elements: int | None  # per iteration, when the bench declares a throughput

    @property
    def per_element_ns(self) -> float:
        return self.median_ns / self.elements if self.elements else self.median_ns


#: each pytest bench's ``extra_info`` (workload, role, peer, path, counts), by bench name
Extra = dict[str, dict[str, Any]]


def read_criterion(root: Path) -> dict[str, Result]:
    out: dict[str, Result] = {}
    for bench_json in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(bench_json.read_text())
        est = json.loads((bench_json.parent / "estimates.json").read_text())
        thr = meta.get("throughput") or {}
        elements = thr.get("Elements") if isinstance(thr, dict) else None
        name = meta.get("full_id") or f"{meta.get('group_id')}/{meta.get('function_id')}"
        out[name] = Result(name, float(est["median"]["point_estimate"]), elements)
    return out


def read_pytest(path: Path) -> tuple[dict[str, Result], Extra, dict[str, Any]]:
    """The results (``deltas`` in a bench's extra_info is its elements), their extra_info, and
    the whole file (its pytest-benchmark version goes into the report's header)."""
    data = json.loads(path.read_text())
    results: dict[str, Result] = {}
    extra: Extra = {}
    for b in data["benchmarks"]:
        name = b["name"]
        info = b.get("extra_info", {})
        results[name] = Result(name, b["stats"]["median"] * 1e9, info.get("deltas"))
        extra[name] = info
    return results, extra, data


def read_memory(root: Path) -> dict[str, Any] | None:
    p = root / "memory.json"
    return json.loads(p.read_text()) if p.exists() else None


def read_five_paired(root: Path) -> dict[str, Any] | None:
    """Workload (d) in Rust, detection measured side by side (benches/detect/five_venues.rs)."""
    p = root / "five_venues_paired.json"
    return json.loads(p.read_text()) if p.exists() else None


def find(results: dict[str, Result], pattern: str) -> Result | None:
    """The first result whose name matches ``pattern``."""
    rx = re.compile(pattern)
    for name, r in results.items():
        if rx.search(name):
            return r
    return None


def fastest(results: dict[str, Result], pattern: str) -> Result | None:
    """Of the results whose name matches ``pattern``, the fastest per element."""
    rx = re.compile(pattern)
    found = [r for n, r in results.items() if rx.search(n)]
    return min(found, key=lambda r: r.per_element_ns) if found else None


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def fmt_met(ok: bool | None) -> str:
    """A target table's "met" cell."""
    return "not measured" if ok is None else ("yes" if ok else "**no**")
