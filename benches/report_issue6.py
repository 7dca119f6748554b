"""The issue 6 targets: arbcore against its peers on workloads (a) and (c), what detection adds
on workload (d), and workload (e) end to end (report_e2e.py), as measured in one run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from report_e2e import e2e_target_rows
from report_results import Extra, Result, fastest, find, fmt_met, fmt_ns

#: how many times faster than Nautilus arbcore should be: (c) per message, (a) on its best batch path
FRAMES_RATIO_TARGET = 10
BATCH_RATIO_TARGET = 3
#: what detection may add per top-of-book change on workload (d), in ns
DETECTION_ADDED_LIMIT_NS = 1000


@dataclass(frozen=True)
class VersusPeer:
    """arbcore's figure on one workload against a peer's best path (per delta)."""

    arbcore: Result | None
    peer: Result | None
    peer_name: str  # "peer: path" from the peer bench's extra_info, "" when not measured

    @property
    def ratio(self) -> float | None:
        """How many times faster arbcore is (None: either side not measured)."""
        return self.peer.per_element_ns / self.arbcore.per_element_ns if self.arbcore and self.peer else None


@dataclass(frozen=True)
class Detection:
    """Workload (d): what opportunity detection adds to apply + consolidated best bid/ask."""

    added_ns: float | None  # from Python, per top-of-book change
    added_per_message_ns: float | None
    info: dict[str, Any]  # extra_info of the refresh bench (and of the paired one, when run)
    paired: bool  # taken from the paired-chunks bench
    rust_cross: Result | None
    rust_nocross: Result | None
    apply_cross: Result | None
    rust_five_added_ns: float | None  # Rust, the same five-venue stream, per top-of-book change
    rust_five_apply_ns: float | None
    rust_five_paired: bool  # the Rust figures measured side by side (five_venues_paired.json)


@dataclass(frozen=True)
class Issue6Figures:
    frames: VersusPeer  # (c) Binance frames vs Nautilus' per-message path
    batch: VersusPeer  # (a) numpy batch vs Nautilus' best batch
    per_message_batch: VersusPeer  # (a) like for like, 10 deltas per call
    detection: Detection  # (d)


def measure_issue6(
    criterion: dict[str, Result], pytest: dict[str, Result], extra: Extra, five_paired: dict[str, Any] | None
) -> Issue6Figures:
    def versus(arbcore_pattern: str, peer_pattern: str) -> VersusPeer:
        peer = fastest(pytest, peer_pattern)
        info = extra.get(peer.name, {}) if peer is not None else {}
        name = "" if peer is None else info.get("peer", "") + ": " + info.get("path", "")
        return VersusPeer(find(pytest, arbcore_pattern), peer, name)

    return Issue6Figures(
        frames=versus(r"^test_arbcore_binance_frames$", r"^test_nautilus_(cython|pyo3)_binance_frames$"),
        batch=versus(r"numpy_batch_whole_stream$", r"^test_nautilus_(cython|pyo3)_(whole_stream|per_message)_batch$"),
        per_message_batch=versus(r"numpy_batch_per_message$", r"^test_nautilus_(cython|pyo3)_per_message_batch$"),
        detection=_measure_detection(criterion, pytest, extra, five_paired),
    )


def _measure_detection(
    criterion: dict[str, Result], pytest: dict[str, Result], extra: Extra, five_paired: dict[str, Any] | None
) -> Detection:
    cons = find(pytest, r"^test_five_venues_arbcore_consolidated$")
    refr = find(pytest, r"^test_five_venues_arbcore_refresh$")
    added = per_msg = None
    info: dict[str, Any] = {}
    if cons and refr:
        info = extra.get(refr.name, {})
        tops = info.get("top_changes") or 0
        msgs = info.get("messages") or 0
        added = (refr.median_ns - cons.median_ns) / tops if tops else None
        per_msg = (refr.median_ns - cons.median_ns) / msgs if msgs else None
    paired = find(pytest, r"^test_five_venues_detection_added$")
    if paired is not None:  # alternating reps: load from other processes hits both loops alike
        pinfo = extra.get(paired.name, {})
        added, per_msg = pinfo.get("added_per_top_change_ns"), pinfo.get("added_per_message_ns")
        if refr is not None:
            info = {**extra.get(refr.name, {}), **pinfo}
    # Rust, the same five-venue stream: per-element times are per top-of-book change
    rust_five = find(criterion, r"^five_venues/apply_refresh$")
    rust_five_apply = find(criterion, r"^five_venues/apply_only$")
    rust_five_added = (
        rust_five.per_element_ns - rust_five_apply.per_element_ns if rust_five and rust_five_apply else None
    )
    rust_five_apply_ns = rust_five_apply.per_element_ns if rust_five_apply else None
    if five_paired:  # side by side beats criterion's one-after-the-other difference
        rust_five_added = five_paired.get("added_per_top_change_ns")
        rust_five_apply_ns = five_paired.get("apply_only_per_top_change_ns")
    return Detection(
        added_ns=added,
        added_per_message_ns=per_msg,
        info=info,
        paired=paired is not None,
        rust_cross=find(criterion, r"^refresh/cross$"),
        rust_nocross=find(criterion, r"^refresh/no_cross$"),
        apply_cross=find(criterion, r"^apply/cross$"),
        rust_five_added_ns=rust_five_added,
        rust_five_apply_ns=rust_five_apply_ns,
        rust_five_paired=bool(five_paired),
    )


def issue6_targets(figures: Issue6Figures, e2e: dict[str, Any] | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The issue 6 targets table, workloads (c), (a), (d) and (e), then (a) like for like per
    message; and the table's JSON entries."""
    lines = [
        "",
        "## Targets (issue 6), medians of this run",
        "",
        "| workload | expected | measured | met |",
        "| --- | --- | --- | --- |",
    ]
    targets = []
    for row in (_frames_row(figures.frames), _batch_row(figures.batch), _detection_row(figures.detection)):
        lines.append(row[0])
        targets.append(row[1])
    e2e_lines, e2e_targets = e2e_target_rows(e2e)
    lines += e2e_lines + _like_for_like(figures.per_message_batch)
    return lines, targets + e2e_targets


def _frames_row(c: VersusPeer) -> tuple[str, dict[str, Any]]:
    return _versus_row(
        c, "arbcore", "(c) Binance frames, bytes in", "Nautilus's per-message path",
        target=FRAMES_RATIO_TARGET, label="c_frames_vs_nautilus_per_message",
    )  # fmt: skip


def _batch_row(a: VersusPeer) -> tuple[str, dict[str, Any]]:
    return _versus_row(
        a, "arbcore numpy batch", "(a) L2 apply, 1M deltas", "Nautilus's best batch path",
        target=BATCH_RATIO_TARGET, label="a_apply_vs_nautilus_best_batch",
    )  # fmt: skip


def _versus_row(
    v: VersusPeer, ours: str, workload: str, theirs: str, *, target: float, label: str
) -> tuple[str, dict[str, Any]]:
    """A row judging arbcore's per-delta time against a peer's by their ratio, and its JSON target."""
    ratio = v.ratio
    met = None if ratio is None else ratio >= target
    text = (
        f"{ours} {fmt_ns(v.arbcore.per_element_ns)}/delta vs {v.peer_name} {fmt_ns(v.peer.per_element_ns)}/delta: "
        f"**{ratio:.1f}x**"
        if ratio and v.arbcore and v.peer
        else "nautilus not measured"
    )
    line = f"| {workload} | >= {target}x {theirs} | {text} | {fmt_met(met)} |"
    return line, {"label": label, "expected": f">= {target}", "ratio": ratio, "met": met}


def _detection_row(d: Detection) -> tuple[str, dict[str, Any]]:
    met = None if d.added_ns is None else d.added_ns <= DETECTION_ADDED_LIMIT_NS
    line = (
        f"| (d) five venues | detection adds <= 1 µs per top-of-book change | {_detection_text(d)} | {fmt_met(met)} |"
    )
    target = {
        "label": "d_detection_added_per_top_change_ns",
        "expected": f"<= {DETECTION_ADDED_LIMIT_NS}",
        "measured": d.added_ns,
        "met": met,
        "rust_refresh_cross_ns": d.rust_cross.per_element_ns if d.rust_cross else None,
        "rust_apply_cross_ns": d.apply_cross.per_element_ns if d.apply_cross else None,
        "rust_five_venues_added_per_top_change_ns": d.rust_five_added_ns,
        "rust_five_venues_apply_per_top_change_ns": d.rust_five_apply_ns,
        "python_apply_only_per_message_ns": d.info.get("apply_only_per_message_ns"),
    }
    return line, target


def _detection_text(d: Detection) -> str:
    """The (d) row's measured cell: from Python, then beside apply alone, then the Rust figures."""
    if d.added_ns is None or d.added_per_message_ns is None:
        return "not measured"
    info = d.info
    text = (
        f"from Python{', paired chunks' if d.paired else ''}: detection adds {fmt_ns(d.added_ns)} per top-of-book "
        f"change ({fmt_ns(d.added_per_message_ns)} per message; {info.get('top_changes', 0):,} top changes in "
        f"{info.get('messages', 0):,} messages)"
    )
    if info.get("added_per_top_change_min_ns") is not None:
        text += f" (fastest rep per chunk: {fmt_ns(info['added_per_top_change_min_ns'])})"
    if "apply_only_per_message_ns" in info:
        text += (
            f", beside apply + consolidated best bid/ask alone at {fmt_ns(info['apply_only_per_message_ns'])} "
            f"per message ({fmt_ns(info['apply_only_per_top_change_ns'])} per top change)"
        )
    if d.rust_five_added_ns is not None and d.rust_five_apply_ns is not None:
        text += (
            f"; Rust, same stream{', paired chunks' if d.rust_five_paired else ''}: adds "
            f"{fmt_ns(d.rust_five_added_ns)} per top change beside apply {fmt_ns(d.rust_five_apply_ns)}"
        )
    if d.rust_cross is not None and d.apply_cross is not None:
        cross_added = d.rust_cross.per_element_ns - d.apply_cross.per_element_ns
        text += f"; Rust `refresh/cross` - `apply/cross`: {fmt_ns(cross_added)} per change"
    return text


def _like_for_like(a10: VersusPeer) -> list[str]:
    """Workload (a) with 10 deltas per call on both sides, as a message would bring them."""
    if not (a10.arbcore and a10.peer):
        return []
    return [
        "",
        f"Like for like per message (10 deltas per call): arbcore numpy {fmt_ns(a10.arbcore.per_element_ns)}"
        f"/delta vs {a10.peer_name} {fmt_ns(a10.peer.per_element_ns)}/delta "
        f"({a10.peer.per_element_ns / a10.arbcore.per_element_ns:.1f}x).",
    ]
