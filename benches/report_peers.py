"""The peers measured beside arbcore (issue 6): which were installed, how they are run, and the
per-workload tables (a)-(d) of every contender in the same run."""

from __future__ import annotations

from typing import Any

from report_results import Extra, Result, fmt_ns

#: header key of a peer's version -> what the peer is
PEERS = {
    "nautilus_trader (peer)": "nautilus_trader: its OrderBook (L2_MBP), PyO3 and Cython APIs",
    "order_book (peer)": "order_book: cryptofeed's C order book",
    "sortedcontainers (baseline)": "pure Python: an L2 book on sortedcontainers.SortedDict",
}
WORKLOADS = {
    "a": "(a) L2 apply, one venue, 1M deltas (1,000-level snapshot per side, ~90% near the touch, ~25% deletions)",
    "b": "(b) apply + read best bid and best ask after every delta",
    "c": "(c) raw Binance Spot diff-depth frames as bytes (10 levels each), decode + apply",
    "d": "(d) five venues, per message: apply, consolidated best bid/ask, opportunity detection",
}


def missing_peers(meta: dict[str, str]) -> list[str]:
    """The PEERS keys whose package is not installed in the bench environment."""
    return [k for k in PEERS if meta.get(k) in (None, "", "not installed")]


def peers_section(meta: dict[str, str], missing: list[str]) -> list[str]:
    lines = ["", "## Peers", ""]
    for k, what in PEERS.items():
        v = meta.get(k, "not installed")
        lines.append(f"- {what}: " + (f"version {v}" if k not in missing else "**not installed: not measured**"))
    lines += [
        "",
        "Peers run in the benchmark virtualenv only (`.venv-bench`, from `benches/requirements-peers.txt`),",
        "never in arbcore's dependencies. All contenders get the same seeded stream "
        "(`arbcore.synthetic_stream(42, 1000, 1_000_000)`), and every benchmark asserts that the",
        "contender's whole final book (every level, both sides, as integer ticks and lots) equals the",
        "sorted-dict replay of the same deltas, which in turn equals arbcore's. Building the peers' delta",
        "objects is not timed where the path says *prebuilt* (their fastest path).",
    ]
    return lines


def workload_tables(pytest: dict[str, Result], extra: Extra, missing: list[str]) -> list[str]:
    """One table per workload measured, every contender against arbcore's fastest path."""
    lines: list[str] = []
    for w, title in WORKLOADS.items():
        rows = _workload_rows(pytest, extra, w)
        if not rows:
            continue
        lines += _workload_table(title, rows)
        if w == "c":
            lines += _frames_note(rows)
        if w == "d":
            lines += _five_venue_counts(rows)
        if missing:
            lines += ["", "Not measured (not installed): " + ", ".join(missing) + "."]
    return lines


def _workload_rows(pytest: dict[str, Result], extra: Extra, w: str) -> list[tuple[Result, dict[str, Any]]]:
    """Workload ``w``'s results with their extra_info, fastest per delta first."""
    out = [(r, extra.get(n, {})) for n, r in pytest.items() if extra.get(n, {}).get("workload") == w]
    return sorted(out, key=lambda x: x[0].per_element_ns)


def _workload_table(title: str, rows: list[tuple[Result, dict[str, Any]]]) -> list[str]:
    arb = [r for r, i in rows if i.get("role") == "arbcore"]
    ref = min(arb, key=lambda r: r.per_element_ns) if arb else None
    lines = [
        "",
        f"### {title}",
        "",
        "| contender | path | median per round | per delta | deltas/s | "
        + ("vs fastest arbcore path |" if ref else "|"),
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r, info in rows:
        rate = f"{1e3 / r.per_element_ns:.2f} M" if r.elements else ""
        vs = f"{r.per_element_ns / ref.per_element_ns:.1f}x" if ref and r.elements else ""
        lines.append(
            f"| {info.get('peer', info.get('role', ''))} | {info.get('path', '')} | {fmt_ns(r.median_ns)} "
            f"| {fmt_ns(r.per_element_ns)} | {rate} | {vs} |"
        )
    return lines


def _frames_note(rows: list[tuple[Result, dict[str, Any]]]) -> list[str]:
    """Workload (c): how many frames, of what size."""
    fb = next((i.get("frame_bytes") for _, i in rows if i.get("frame_bytes")), None)
    fr = next((i.get("frames") for _, i in rows if i.get("frames")), None)
    if fb and fr:
        return ["", f"{fr:,} frames of {fb} bytes on average; per frame = per delta x 10."]
    return []


def _five_venue_counts(rows: list[tuple[Result, dict[str, Any]]]) -> list[str]:
    """Workload (d): the counts each bench reports (messages with an opportunity, pairs evaluated)."""
    lines = [""]
    for r, info in rows:
        for k in ("messages_with_opportunity", "messages_with_cross", "pairs_evaluated"):
            if k in info:
                lines.append(f"- `{r.name}`: {k.replace('_', ' ')} = {info[k]:,}")
    return lines
