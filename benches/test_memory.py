"""Resident memory for 5 venues x 50 instruments x 5,000 levels per side, measured in a fresh
subprocess (VmRSS before and after building the books), reported through pytest-benchmark's
extra_info so benches/report.py can print it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

CHILD = r"""
import json, arbcore

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

before = rss_kb()
books = []
levels = 5000
for inst in range(50):
    b = arbcore.ConsolidatedBook(f"C{inst}/USDT", price_decimals=2, qty_decimals=8, instrument_id=inst)
    for v in range(5):
        b.add_venue(f"v{v}", symbol="X", tick_size="0.01", lot_size="0.00000001")
        mid = 6_000_000 + v
        b.apply_snapshot(v, [(mid - 1 - k, 1000 + k) for k in range(levels)],
                         [(mid + 1 + k, 1000 + k) for k in range(levels)])
    books.append(b)
after = rss_kb()
assert all(len(b.depth(v, 0, levels)) == levels for b in books for v in range(5))
print(json.dumps({"rss_before_kb": before, "rss_after_kb": after,
                  "heap_bytes": sum(b.heap_bytes() for b in books)}))
"""


def test_memory_5x50x5000(benchmark: Any) -> None:
    def run() -> dict[str, int]:
        out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True, text=True)
        result: dict[str, int] = json.loads(out.stdout)
        return result

    r = benchmark.pedantic(run, rounds=1, iterations=1)
    growth_mb = (r["rss_after_kb"] - r["rss_before_kb"]) / 1024
    benchmark.extra_info.update(
        role="arbcore",
        path="memory 5 venues x 50 instruments x 5,000 levels/side",
        rss_total_mb=r["rss_after_kb"] / 1024,
        rss_growth_mb=growth_mb,
        heap_mb=r["heap_bytes"] / 1e6,
    )
    assert r["rss_after_kb"] / 1024 <= 300, r
