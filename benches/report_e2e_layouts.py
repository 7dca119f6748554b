"""What the end-to-end file (target/bench-e2e.json, workload e) holds: the label of each row of
each layout's rounds, which figure is judged against which floor, and the figures above it."""

from __future__ import annotations

from typing import Any

#: (e) rows: bench-e2e.json key -> label (``engine`` is the headline figure of the target)
E2E_ROWS = {
    "engine": "frame -> both order frames received by the simulators (headline; one process per simulated venue)",
    "accepted": "frame -> both orders accepted by the simulators (parsed, signature verified; at SimExchange.submit)",
    "decision_to_wire": "in the engine: ticket decision -> both orders handed to their sockets",
    "echo_layout": "echo floor in this layout: a bare picows echo process on the engine's CPU, the client on the "
    "simulators' CPU, one frame after each quiet pause (benches/e2e_echo.py)",
    "echo": "hot echo: bare picows round trip, client and server on one loop in the engine's process, back to back",
    "engine_wire": "stamped at the loopback device: the book frame's segment reaching the engine -> both order "
    "segments reaching the simulators",
    "echo_layout_wire": "stamped at the loopback device: the echo server's turnaround in this layout (kept warm as "
    "the engine is)",
}
#: (e) comparison rows: the same rounds with the simulators in the engine's process and loop
E2E_IN_PROCESS_ROWS = {
    "engine": "simulators in the engine's process and loop: frame -> both order frames received",
    "accepted": "simulators in the engine's process and loop: frame -> both orders accepted",
    "decision_to_wire": "simulators in the engine's process and loop: ticket decision -> both orders handed to sockets",
}
#: (e) rows of the in-process rounds with ``[run] order_path = "python"`` (the Rust path's baseline)
E2E_PYTHON_ROWS = {
    "engine": "Python order path, simulators in process: frame -> both order frames received",
    "accepted": "Python order path, simulators in process: frame -> both orders accepted",
    "decision_to_wire": "Python order path, simulators in process: ticket decision -> both orders handed to sockets",
}
#: (e) rows of the same rounds with the default run config (no CPU pinning, no keep_warm)
E2E_UNTUNED_ROWS = {
    "engine": "default run config: frame -> both order frames received",
    "accepted": "default run config: frame -> both orders accepted",
    "decision_to_wire": "default run config: ticket decision -> both orders handed to sockets",
    "engine_wire": "default run config: stamped at the loopback device, book segment -> both order segments",
}
#: (e) rows of the engine run with ``[run] busy_poll`` (one process per simulated venue)
E2E_BUSY_ROWS = {
    "engine": "engine with busy_poll: frame -> both order frames received",
    "accepted": "engine with busy_poll: frame -> both orders accepted",
    "decision_to_wire": "engine with busy_poll: ticket decision -> both orders handed to sockets",
    "echo_layout": "engine with busy_poll: echo floor in this layout (the echo process polling too)",
    "engine_wire": "engine with busy_poll: stamped at the loopback device, book segment -> both order segments",
    "echo_layout_wire": "engine with busy_poll: echo server's turnaround at the loopback device, this layout",
}
#: (e) rows of the busy-polling engine, its path run dry every 0.1 ms, against awake simulators
E2E_AWAKE_ROWS = {
    "engine": "busy_poll, dry runs every 0.1 ms, awake simulators: frame -> both order frames received",
    "accepted": "busy_poll, dry runs every 0.1 ms, awake simulators: frame -> both orders accepted",
    "decision_to_wire": "busy_poll, dry runs every 0.1 ms, awake simulators: ticket decision -> both orders handed "
    "to sockets",
    "echo_layout": "busy_poll, awake simulators: echo floor in this layout (echo process polling, client spinning)",
    "engine_wire": "busy_poll, dry runs every 0.1 ms, awake simulators: stamped at the loopback device, book "
    "segment -> both order segments",
    "echo_layout_wire": "busy_poll, awake simulators: echo server's turnaround at the loopback device (a frame "
    "through its own echo every 0.1 ms)",
}
#: (figure, floor) pairs a variant's (e) figure is taken from, best first, with their names: both
#: stamped at the loopback device (``benches/e2e_wire.py``), else the callback-stamped figure
#: against the echo floor of the same layout, else against the hot one
E2E_PAIRS = {
    ("engine_wire", "echo_layout_wire"): ("the book frame's segment to both order segments, stamped at the loopback "
                                          "device", "echo server's turnaround at the loopback device, same layout"),
    ("engine", "echo_layout"): ("frame to both order frames received", "echo floor in the same layout"),
    ("engine", "echo"): ("frame to both order frames received", "hot in-loop echo"),
}  # fmt: skip


def e2e_pair(block: dict[str, Any] | None) -> tuple[str, str] | None:
    """The (figure, floor) keys to take ``block``'s (e) figure from (see E2E_PAIRS)."""
    return next((k for k in E2E_PAIRS if block and k[0] in block and k[1] in block), None)


def judged_e2e(e2e: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """The (e) rounds the target is judged on, and their name: those where neither end sleeps
    (their floor has no wake-up from idle, whose cost on this VM swings by tens of µs from run
    to run), else the headline rounds."""
    if e2e and above_floor(e2e.get("awake")) is not None:
        return e2e["awake"], "busy_poll engine and awake simulators, one process per venue"
    return e2e, "one process per simulated venue"


def callback_above(block: dict[str, Any] | None) -> float | None:
    """p50 frame to both orders received, stamped at the simulators' callbacks, above the round
    trip of the same layout (the figure before the loopback stamps)."""
    if not block or "engine" not in block or "echo_layout" not in block:
        return None
    return float(block["engine"]["p50_us"]) - float(block["echo_layout"]["p50_us"])


def other_layouts(e2e: dict[str, Any] | None) -> list[tuple[str, dict[str, Any] | None]]:
    """The (e) blocks quoted beside the judged one, with their labels."""
    return [("the headline (engine sleeping between frames)", e2e),
            ("busy_poll with sleeping simulators", (e2e or {}).get("busy_poll"))]  # fmt: skip


def above_floor(block: dict[str, Any] | None, q: str = "p50_us") -> float | None:
    """``block``'s (e) figure above its floor at quantile ``q`` (None: not measured); a floor of
    another layout (the hot echo) does not count."""
    pair = e2e_pair(block)
    if block is None or pair is None or pair[1] == "echo":
        return None
    return float(block[pair[0]][q]) - float(block[pair[1]][q])
