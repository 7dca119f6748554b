"""Regression guard: instruction counts of the hot paths, compared with committed baselines.

Runs `benches/guard.rs` (built with the release profile, the same target dir as everything
else) once per path under `valgrind --tool=callgrind`, counting only inside the path's
`guard_hot_*` function. Instruction counts do not move with machine load, so the check is
stable on a shared box. Fails (exit 1) only when a path needs more than THRESHOLD x its
baseline; prints every number either way.

    python benches/guard/guard.py            # check (part of `make test`)
    python benches/guard/guard.py --update   # write benches/guard/baseline.json (`make guard-baseline`)

Without valgrind: exit 1 when CI is set (CI=true/1), so a CI machine cannot pass the guard by
not running it; otherwise print that it is skipped and exit 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINE = Path(__file__).resolve().parent / "baseline.json"
PATHS = {
    "book": "book apply: 20,000 deltas on a 1,000-level book",
    "binance": "Binance Spot frame decode + apply: 2,000 frames x 10 levels",
    "detect": "5 venues: 2,000 top-of-book changes, each refresh (consolidated + detection)",
}
THRESHOLD = 1.25


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def build() -> Path:
    out = subprocess.run(
        # a plain bin behind the `guard` feature: no dev-dependencies (criterion, proptest) to build
        [
            "cargo",
            "build",
            "--release",
            "--quiet",
            "--bin",
            "arbcore-guard",
            "--features",
            "guard",
            "--message-format=json",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        target = msg.get("target", {}).get("name")
        if msg.get("reason") == "compiler-artifact" and target == "arbcore-guard" and msg.get("executable"):
            return Path(msg["executable"])
    raise SystemExit("guard: cargo did not report the guard executable")


def count(exe: Path, path: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out_file}",
                f"--toggle-collect=*guard_hot_{path}*",
                str(exe),
                path,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or f"{path} ok" not in proc.stdout:
            sys.stderr.write(proc.stdout + proc.stderr)
            raise SystemExit(f"guard: the {path} workload failed under callgrind (exit {proc.returncode})")
        text = out_file.read_text()
    m = re.search(r"^(?:totals|summary):\s*(\d+)", text, re.MULTILINE)
    if m is None:
        raise SystemExit(f"guard: no instruction total in callgrind's output for {path}")
    return int(m.group(1))


def rustc_version() -> str:
    return subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="write the measured counts as the new baseline")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        if in_ci():
            print("guard: valgrind not found and CI is set: failing (install valgrind to run the guard)")
            return 1
        print("guard: valgrind not found: regression guard SKIPPED (it fails instead when CI=true)")
        return 0
    t0 = time.monotonic()
    exe = build()
    measured = {p: count(exe, p) for p in PATHS}
    elapsed = time.monotonic() - t0
    rustc = rustc_version()
    if args.update:
        doc = {
            "rustc": rustc,
            "threshold": THRESHOLD,
            "note": "instructions (callgrind Ir) inside guard_hot_<path>; update with `make guard-baseline`",
            "paths": {p: {"ir": measured[p], "what": PATHS[p]} for p in PATHS},
        }
        BASELINE.write_text(json.dumps(doc, indent=2) + "\n")
        for p, ir in measured.items():
            print(f"guard: baseline {p:8} {ir:>14,} Ir")
        print(f"guard: wrote {BASELINE.relative_to(ROOT)} ({elapsed:.1f} s)")
        return 0
    if not BASELINE.exists():
        print(f"guard: no baseline at {BASELINE.relative_to(ROOT)}; run `make guard-baseline`")
        return 1
    base = json.loads(BASELINE.read_text())
    if base.get("rustc") != rustc:
        print(f"guard: note: baseline from {base.get('rustc')!r}, compiler now {rustc!r}")
    failed = []
    print(f"guard: instructions per hot path (fail above {THRESHOLD:.2f}x baseline)")
    for p, ir in measured.items():
        b = base["paths"].get(p, {}).get("ir")
        if not b:
            print(f"guard: {p:8} {ir:>14,} Ir   no baseline")
            failed.append(p)
            continue
        ratio = ir / b
        verdict = "REGRESSION" if ratio > THRESHOLD else "ok"
        if ratio < 1 / THRESHOLD:
            verdict = "ok (much faster: consider `make guard-baseline`)"
        print(f"guard: {p:8} {ir:>14,} Ir   baseline {b:>14,}   {ratio:6.3f}x   {verdict}")
        if ratio > THRESHOLD:
            failed.append(p)
    print(f"guard: {elapsed:.1f} s")
    if failed:
        print(f"guard: FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
