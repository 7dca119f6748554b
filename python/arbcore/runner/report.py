"""Run reports from a journal: in the terminal (rich), as JSON, and as PNG plots.

:func:`build_report` reads a journal (:class:`arbcore.execution.Journal`; a path is opened
read-only) and, optionally, the run's own statistics (what the journal does not hold, e.g. how
many opportunities were seen) and returns a plain JSON-ready dict on its tickets: every one, or
with ``since_ns`` those created from then on (``arbcore run``'s exit report: that run's), with
their orders, fills, PnL, exposures and latencies:

- ``since_ns``: the span covered, None for the whole journal.
- ``opportunities``: ``run_stats["opportunities"]`` when given (the journal holds tickets, not
  every opportunity), else the number of tickets that came from one (``opportunities_source``
  says which; the printed line too).
- ``tickets``: count and count per outcome: the engine's last journaled status
  (:meth:`Journal.ticket_outcomes`: done, missed, hedged, unwound, residual, ...) when there is
  one, else derived from the orders (``complete``: both sides filled and flat; ``residual``: a
  position is left; ``no_fill``; ``open``: an order not yet final).
- ``fill_ratio``: filled / ordered quantity, overall (mean over orders) and per instrument.
- ``pnl_by_pair``: realised PnL net of fees per (buy venue, sell venue, quote)
  (as :meth:`Journal.pnl_by_venue_pair`, over these tickets), exact decimal text; ``pnl_total``
  per quote asset.
- ``prices``: per ticket, expected (ticket detail ``expected_buy_price`` /
  ``expected_sell_price``: an integer, or a string of digits, is a raw price at the
  instrument's price decimals, as the engine writes it; a string with a point is decimal text)
  versus realised (volume-weighted fill price) and the slippage in bps
  (positive: worse than expected).
- ``hedge_lag_ms``: per ticket, the engine's ``hedge_lag_ns`` (outcome detail) when journaled
  (0: nothing to hedge, not counted), else (no outcome: an interrupted ticket, another writer's
  journal) first fill to last fill when both sides filled; percentiles.
- ``residual_exposure``: net base position left by the tickets, per asset and per venue.
- ``latency_ms``: order send (or intent) to ack, and to first fill, percentiles per venue; plus
  any ``run_stats["latency_ms"] = {name: [samples]}``.
- ``spreads_bps``: per venue pair, the expected spread of each ticket (from its expected
  prices) plus any ``run_stats["spreads_bps"] = {"buy->sell": [samples]}``.

Amounts are strings (exact); ratios, bps and milliseconds are floats. This is blocking (SQLite,
matplotlib): from the event loop call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson

import arbcore
from arbcore.execution import EventKind, Journal, JournalOpenError, OrderRecord, Side
from arbcore.execution.amounts import add_scaled
from arbcore.execution.amounts import signed_decimal as _fmt
from arbcore.execution.journal_readonly import SQLITE_HEADER
from arbcore.execution.pnl import TicketPnl, pair_pnl

PERCENTILES = (50, 90, 99)
#: the width of the report's lines when stdout is not a terminal: wide enough for any of them
UNWRAPPED_WIDTH = 10_000


class ReportError(Exception):
    """A journal that cannot be read; the message is one line naming the file."""


def _price(raw: Fraction | int, decimals: int) -> float:
    return float(Fraction(raw) / 10**decimals)


def percentiles(samples: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p90, p99, max (nearest-rank); None values when there are no samples."""
    s = sorted(samples)
    out: dict[str, float | int | None] = {"count": len(s)}
    for p in PERCENTILES:
        out[f"p{p}"] = s[max(0, math.ceil(p / 100 * len(s)) - 1)] if s else None
    out["max"] = s[-1] if s else None
    return out


def expected_price(detail: Mapping[str, Any], key: str, price_decimals: int) -> int | None:
    """A ticket detail's expected price (``key``), raw: the engine writes the raw integer (as
    text); decimal text (with a point) is parsed at ``price_decimals``; None if absent or bad."""
    v = detail.get(key)
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            # the engine writes the raw integer as text; decimal text has a point
            return arbcore.parse_decimal(v, price_decimals) if "." in v else int(v)
        except ValueError:
            return None
    return None


@dataclass
class _Leg:
    qty: int = 0
    notional: int = 0  # qty * price, at price + qty decimals
    first_ns: int | None = None
    last_ns: int | None = None


def open_journal(path: str | Path) -> Journal:
    """Open an existing journal for reading only: its file is never written (nor created).
    :class:`ReportError` (one line) if it is missing, not an arbcore journal or cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such file")
    try:
        with p.open("rb") as f:
            header = f.read(16)
    except OSError as e:
        raise ReportError(f"{p}: cannot read it ({e.strerror or e})") from None
    if header != SQLITE_HEADER:
        raise ReportError(f"{p}: not an arbcore journal (not an SQLite file)")
    try:
        return Journal(p, readonly=True)
    except JournalOpenError as e:
        raise ReportError(str(e)) from None
    except sqlite3.DatabaseError as e:
        raise ReportError(f"{p}: not a readable arbcore journal ({e})") from None


def build_report(
    journal: Journal | str | Path, run_stats: Mapping[str, Any] | None = None, *, since_ns: int | None = None
) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring): on the tickets created at or
    after ``since_ns`` (journal time, ns since the epoch), or on every ticket (None)."""
    if not isinstance(journal, Journal):
        j = open_journal(journal)
        try:
            return build_report(j, run_stats, since_ns=since_ns)
        except sqlite3.DatabaseError as err:  # damaged beyond its header and schema
            raise ReportError(f"{journal}: not a readable arbcore journal ({err})") from None
        finally:
            j.close()
    stats = run_stats or {}
    tickets = journal.tickets(since_ns)
    # these tickets' rows only: a run's report on a journal of days reads that run's
    orders = journal.orders(since_ns=since_ns)  # (every order is a ticket's)
    by_ticket: dict[str, list[OrderRecord]] = defaultdict(list)
    by_cid: dict[str, OrderRecord] = {}
    for o in orders:
        by_ticket[o.intent.ticket_id].append(o)
        by_cid[o.client_order_id] = o
    events = journal.events(since_ns=since_ns)

    # per order: sent/ack/first fill times; per ticket and side: fills
    sent: dict[str, int] = {}
    ack_ms: dict[str, list[float]] = defaultdict(list)
    fill_ms: dict[str, list[float]] = defaultdict(list)
    first_fill: set[str] = set()
    acked: set[str] = set()
    legs: dict[tuple[str, Side], _Leg] = defaultdict(_Leg)
    venue_pos: dict[tuple[str, str], tuple[int, int]] = {}  # (venue, base) -> (qty, its decimals)
    fill_times: dict[str, int] = {}  # ticket -> last fill ns
    for e in events:
        rec = by_cid.get(e.client_order_id)
        if rec is None:
            continue
        o = rec
        venue = o.intent.venue
        if e.kind in (EventKind.INTENT, EventKind.SENT):
            sent[e.client_order_id] = e.local_ns  # SENT (later) overrides INTENT
        elif e.kind is EventKind.ACK and e.client_order_id in sent and e.client_order_id not in acked:
            acked.add(e.client_order_id)  # the first: some venues ack an order twice (accepted, then live)
            ack_ms[venue].append((e.local_ns - sent[e.client_order_id]) / 1e6)
        elif e.kind is EventKind.FILL and e.fill is not None:
            if e.client_order_id not in first_fill and e.client_order_id in sent:
                first_fill.add(e.client_order_id)
                fill_ms[venue].append((e.local_ns - sent[e.client_order_id]) / 1e6)
            leg = legs[(o.intent.ticket_id, o.intent.side)]
            leg.qty += e.fill.qty
            leg.notional += e.fill.qty * e.fill.price
            leg.first_ns = e.local_ns if leg.first_ns is None else leg.first_ns
            leg.last_ns = e.local_ns
            sign = 1 if o.intent.side is Side.BUY else -1
            add_scaled(venue_pos, (venue, o.intent.base), sign * e.fill.qty, o.intent.qty_decimals)
            if e.fill.fee and e.fill.fee_asset == o.intent.base:  # the venue took base: as TicketPnl.position
                add_scaled(venue_pos, (venue, o.intent.base), -e.fill.fee, e.fill.fee_decimals)
            fill_times[o.intent.ticket_id] = e.local_ns

    # the engine's outcome per ticket (last row wins), when the journal has them
    engine_outcome: dict[str, tuple[str, Mapping[str, Any]]] = {}
    read_outcomes = getattr(journal, "ticket_outcomes", None)
    if read_outcomes is not None:
        for tid, _ns, status, odetail in read_outcomes(since_ns=since_ns):
            engine_outcome[tid] = (status, odetail)
    decision_to_wire: list[float] = []

    # tickets: outcome, prices, hedge lag, pnl over time
    outcomes: dict[str, int] = defaultdict(int)
    ticket_rows: list[dict[str, Any]] = []
    hedge_lag: list[float] = []
    spreads: dict[str, list[float]] = defaultdict(list)
    pnl_points: list[tuple[int, str, float]] = []  # (ns, quote, realised as float)
    exposure: dict[str, tuple[int, int]] = {}  # base -> (net position, its decimals)
    ticket_pnls: list[tuple[str, str, TicketPnl]] = []  # (buy venue, sell venue, pnl) of tickets with orders
    pnl_of = journal.ticket_pnls(since_ns, tickets=tickets)
    from_opportunity = 0
    for t in tickets:
        os_ = by_ticket.get(t.ticket_id, [])
        d = t.detail
        if "expected_buy_price" in d or "expected_sell_price" in d or "opportunity" in d:
            from_opportunity += 1
        row: dict[str, Any] = {
            "ticket_id": t.ticket_id,
            "created_ns": t.created_ns,
            "instrument": t.instrument,
            "buy_venue": t.buy_venue,
            "sell_venue": t.sell_venue,
            "orders": len(os_),
        }
        journaled = engine_outcome.get(t.ticket_id)
        if journaled is not None:
            dtw = journaled[1].get("decision_to_wire_ns")
            if isinstance(dtw, int) and not isinstance(dtw, bool):
                decision_to_wire.append(dtw / 1e6)
        if not os_:
            row["outcome"] = journaled[0] if journaled else "no_orders"
            outcomes[row["outcome"]] += 1
            ticket_rows.append(row)
            continue
        pd = os_[0].intent.price_decimals
        pnl = pnl_of[t.ticket_id]
        ticket_pnls.append((t.buy_venue, t.sell_venue, pnl))
        buy, sell = legs.get((t.ticket_id, Side.BUY)), legs.get((t.ticket_id, Side.SELL))
        if any(o.is_open for o in os_):
            derived = "open"
        elif pnl.bought == 0 and pnl.sold == 0:
            derived = "no_fill"
        elif pnl.position != 0:
            derived = "residual"
        else:
            derived = "complete"
        outcome = journaled[0] if journaled else derived
        outcomes[outcome] += 1
        row.update(
            outcome=outcome,
            derived_outcome=derived,
            bought=_fmt(pnl.bought, pnl.qty_decimals),
            sold=_fmt(pnl.sold, pnl.qty_decimals),
            position=_fmt(pnl.position, pnl.qty_decimals),
            realised=_fmt(pnl.realised, pnl.notional_decimals),
            quote=pnl.quote,
            fees=_fmt(pnl.quote_fees, pnl.notional_decimals),
        )
        add_scaled(exposure, pnl.base, pnl.position, pnl.qty_decimals)
        if t.ticket_id in fill_times:
            pnl_points.append((fill_times[t.ticket_id], pnl.quote, pnl.realised / 10**pnl.notional_decimals))
        exp_buy = expected_price(d, "expected_buy_price", pd)
        exp_sell = expected_price(d, "expected_sell_price", pd)
        for side, side_leg, exp in (("buy", buy, exp_buy), ("sell", sell, exp_sell)):
            if exp is not None:
                row[f"expected_{side}_price"] = _fmt(exp, pd)
            if side_leg is not None and side_leg.qty:
                vwap = Fraction(side_leg.notional, side_leg.qty)
                row[f"realised_{side}_price"] = round(_price(vwap, pd), pd + 2)
                if exp:
                    worse = (vwap - exp) if side == "buy" else (exp - vwap)
                    row[f"{side}_slippage_bps"] = float(worse / exp * 10_000)
        if exp_buy and exp_sell:
            spreads[f"{t.buy_venue}->{t.sell_venue}"].append(float(Fraction(exp_sell - exp_buy, exp_buy) * 10_000))
        lag_ns = journaled[1].get("hedge_lag_ns") if journaled else None
        if isinstance(lag_ns, int) and not isinstance(lag_ns, bool):
            if lag_ns > 0:  # 0: the engine's word that the legs left nothing to hedge
                row["hedge_lag_ms"] = lag_ns / 1e6
                hedge_lag.append(lag_ns / 1e6)
        elif buy and sell and buy.qty and sell.qty and buy.first_ns is not None and sell.first_ns is not None:
            first = min(buy.first_ns, sell.first_ns)
            last = max(buy.last_ns or first, sell.last_ns or first)
            lag = (last - first) / 1e6
            row["hedge_lag_ms"] = lag
            hedge_lag.append(lag)
        ticket_rows.append(row)

    for pair, samples in (stats.get("spreads_bps") or {}).items():
        spreads[str(pair)].extend(float(x) for x in samples)

    # fill ratio
    per_order = [o.filled_qty / o.intent.qty for o in orders if o.intent.qty > 0]
    per_inst: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in orders:
        per_inst[o.intent.instrument][0] += o.filled_qty
        per_inst[o.intent.instrument][1] += o.intent.qty

    pairs = pair_pnl(ticket_pnls)  # as Journal.pnl_by_venue_pair, over these tickets
    totals: dict[str, tuple[int, int]] = {}
    for p in pairs:
        add_scaled(totals, p.quote, p.realised, p.decimals)

    latency: dict[str, Any] = {
        "ack": {v: percentiles(s) for v, s in sorted(ack_ms.items())},
        "first_fill": {v: percentiles(s) for v, s in sorted(fill_ms.items())},
    }
    latency_samples: dict[str, list[float]] = {
        "ack": [x for v in ack_ms.values() for x in v],
        "first_fill": [x for v in fill_ms.values() for x in v],
    }
    if decision_to_wire:
        latency["decision_to_wire"] = percentiles(decision_to_wire)
        latency_samples["decision_to_wire"] = decision_to_wire
    for name, samples in (stats.get("latency_ms") or {}).items():
        latency_samples[str(name)] = [float(x) for x in samples]
        latency[str(name)] = percentiles(latency_samples[str(name)])

    opportunities = stats.get("opportunities")
    pnl_points.sort()
    return {
        "journal": str(journal.path),
        "since_ns": since_ns,
        "opportunities": int(opportunities) if opportunities is not None else from_opportunity,
        "opportunities_source": "run" if opportunities is not None else "journal (tickets from opportunities)",
        "tickets": {"count": len(tickets), "by_outcome": dict(sorted(outcomes.items()))},
        "orders": len(orders),
        "fills": sum(1 for e in events if e.kind is EventKind.FILL),
        "fill_ratio": {
            "overall": (sum(per_order) / len(per_order)) if per_order else None,
            "by_instrument": {k: (f / q if q else None) for k, (f, q) in sorted(per_inst.items())},
        },
        "pnl_by_pair": [
            {
                "buy_venue": p.buy_venue,
                "sell_venue": p.sell_venue,
                "quote": p.quote,
                "tickets": p.tickets,
                "realised": _fmt(p.realised, p.decimals),
                "fees": _fmt(p.quote_fees, p.decimals),
                "base_fees": {a: _fmt(x, d) for a, (x, d) in p.base_fees.items()},
                "other_fees": {a: _fmt(x, d) for a, (x, d) in p.other_fees.items()},
            }
            for p in pairs
        ],
        "pnl_total": {q: _fmt(v, d) for q, (v, d) in sorted(totals.items())},
        "pnl_over_time": [{"ns": ns, "quote": q, "realised": r} for ns, q, r in pnl_points],
        "hedge_lag_ms": percentiles(hedge_lag),
        "residual_exposure": {
            "net": {a: _fmt(v, dec) for a, (v, dec) in sorted(exposure.items())},
            "by_venue": {f"{v}:{a}": _fmt(x, dec) for (v, a), (x, dec) in sorted(venue_pos.items()) if a in exposure},
        },
        "latency_ms": latency,
        "latency_samples_ms": {k: v for k, v in latency_samples.items() if v},
        "spreads_bps": {k: v for k, v in sorted(spreads.items())},
        "ticket_details": ticket_rows,
        # decided and on disk in the intent log, not yet in SQLite (a crashed run: its next start imports them)
        "staged_in_intent_log": journal.staged_only(),
        "run": {k: v for k, v in stats.items() if k not in {"spreads_bps", "latency_ms"}},
    }


# ---- output --------------------------------------------------------------------------------


def write_json(report: Mapping[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")
    return p


def _ms(v: float | int | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _plain(v: float | str) -> str:
    """A realised price as positional decimal text ("0.000000000108", not str()'s "1.08e-10")."""
    return v if isinstance(v, str) else format(Decimal(repr(v)), "f")


def _stdout_console() -> Any:
    """Rich on stdout: a terminal's width; a file or a pipe gets lines as long as their content
    (rich would cut them at 80 columns, ids and prices ending in "…")."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=UNWRAPPED_WIDTH)


def print_report(report: Mapping[str, Any], console: Any = None) -> None:
    """The report as rich tables on ``console`` (default: stdout)."""
    from rich.table import Table

    c = console or _stdout_console()
    t = report["tickets"]
    fr = report["fill_ratio"]["overall"]
    since = report.get("since_ns")
    span = "" if since is None else f" (tickets since {datetime.fromtimestamp(since / 1e9):%Y-%m-%d %H:%M:%S})"
    c.print(f"[bold]arbcore report[/bold] {report['journal']}{span}")
    # without the run's count, the journal only knows the tickets an opportunity led to
    opportunities = (
        f"opportunities {report['opportunities']}"
        if report.get("opportunities_source") == "run"
        else f"tickets from opportunities {report['opportunities']} (opportunities seen: not recorded in the journal)"
    )
    c.print(
        f"{opportunities}  tickets {t['count']} "
        f"({', '.join(f'{k} {v}' for k, v in t['by_outcome'].items()) or 'none'})  orders {report['orders']}  "
        f"fills {report['fills']}  fill ratio {'-' if fr is None else f'{fr:.1%}'}"
    )
    pnl = Table(title="PnL net of fees per venue pair", title_justify="left")
    for col in ("buy", "sell", "tickets", "realised", "fees", "quote"):
        pnl.add_column(col, justify="right" if col in {"tickets", "realised", "fees"} else "left")
    for p in report["pnl_by_pair"]:
        # a fee in the base (in the realised figure) or a third asset (e.g. BNB, not in it): beside the quote's
        others = [*p.get("base_fees", {}).items(), *p.get("other_fees", {}).items()]
        fees = " + ".join([p["fees"], *(f"{x} {a}" for a, x in others)])
        pnl.add_row(p["buy_venue"], p["sell_venue"], str(p["tickets"]), p["realised"], fees, p["quote"])
    for q, v in report["pnl_total"].items():
        pnl.add_row("[bold]total[/bold]", "", "", f"[bold]{v}[/bold]", "", q)
    c.print(pnl)

    prices = Table(title="Expected vs realised prices (slippage bps, + is worse)", title_justify="left")
    for col in ("ticket", "instrument", "outcome", "exp buy", "buy", "slip", "exp sell", "sell", "slip", "pnl"):
        prices.add_column(col)
    for r in report["ticket_details"][-15:]:
        buy, sell = _plain(r.get("realised_buy_price", "-")), _plain(r.get("realised_sell_price", "-"))
        prices.add_row(
            r["ticket_id"], r["instrument"], r.get("outcome", "-"),
            r.get("expected_buy_price", "-"), buy, _ms(r.get("buy_slippage_bps")),
            r.get("expected_sell_price", "-"), sell, _ms(r.get("sell_slippage_bps")),
            r.get("realised", "-"),
        )  # fmt: skip
    c.print(prices)

    lat = Table(title="Latency (ms)", title_justify="left")
    for col in ("what", "venue", "count", "p50", "p90", "p99", "max"):
        lat.add_column(col, justify="left" if col in {"what", "venue"} else "right")
    hl = report["hedge_lag_ms"]
    lat.add_row("hedge lag", "", str(hl["count"]), _ms(hl["p50"]), _ms(hl["p90"]), _ms(hl["p99"]), _ms(hl["max"]))
    for what, per in report["latency_ms"].items():
        items = per.items() if isinstance(per, dict) and "count" not in per else [("", per)]
        for venue, s in items:
            lat.add_row(what, venue, str(s["count"]), _ms(s["p50"]), _ms(s["p90"]), _ms(s["p99"]), _ms(s["max"]))
    c.print(lat)
    staged = report.get("staged_in_intent_log") or []
    if staged:
        c.print(f"[bold red]{len(staged)} ticket(s) only in the intent log[/bold red] (imported at the next engine "
                f"start, then reconciled with the venues): {', '.join(staged[:5])}")  # fmt: skip
    ex = report["residual_exposure"]
    c.print(
        "residual exposure: "
        + (", ".join(f"{v} {a}" for a, v in ex["net"].items()) or "none")
        + (" (by venue: " + ", ".join(f"{k} {v}" for k, v in ex["by_venue"].items()) + ")" if ex["by_venue"] else "")
    )


def write_plots(report: Mapping[str, Any], directory: str | Path) -> list[Path]:
    """PNG plots (matplotlib, Agg backend): PnL over time, spread distribution per venue pair,
    latency histogram. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(8, 4))
    series: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    points = report["pnl_over_time"]
    t0 = points[0]["ns"] if points else 0
    for p in points:
        xs, ys = series[p["quote"]]
        xs.append((p["ns"] - t0) / 1e9)
        ys.append((ys[-1] if ys else 0.0) + p["realised"])
    for quote, (xs, ys) in series.items():
        ax.step(xs, ys, where="post", label=quote)
    if series:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no fills", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Realised PnL net of fees")
    ax.set_xlabel("seconds since first fill")
    ax.set_ylabel("cumulative PnL (quote)")
    fig.tight_layout()
    written.append(out_dir / "pnl_over_time.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)

    spreads = {k: v for k, v in report["spreads_bps"].items() if v}
    written.append(_histogram(plt, spreads, "no spreads", "Spread distribution per venue pair (expected, bps)",
                              "bps", path=out_dir / "spread_distribution.png"))  # fmt: skip
    samples = {k: v for k, v in (report.get("latency_samples_ms") or {}).items() if v}
    written.append(_histogram(plt, samples, "no latency samples",
                              "Latency: order send to ack / first fill, and the run's samples", "ms",
                              path=out_dir / "latency_histogram.png"))  # fmt: skip
    return written


def write_run_report(
    journal: Journal | str | Path,
    report_dir: str | Path,
    run_stats: Mapping[str, Any] | None = None,
    *,
    since_ns: int | None = None,
    console: Any = None,
    plots: bool = True,
) -> dict[str, Any]:
    """What ``arbcore run`` does at exit: report.json, the plots, and the tables on ``console``
    (None: stdout; False: no terminal output), on the tickets created since ``since_ns`` (the
    run's start; None: the whole journal). Blocking: call via ``asyncio.to_thread``."""
    report = build_report(journal, run_stats, since_ns=since_ns)
    d = Path(report_dir)
    write_json(report, d / "report.json")
    if plots:
        write_plots(report, d)
    if console is not False:
        print_report(report, console)
    return report


__all__ = [
    "ReportError",
    "build_report",
    "open_journal",
    "percentiles",
    "print_report",
    "write_json",
    "write_plots",
    "write_run_report",
]


def _histogram(plt: Any, series: dict[str, list[float]], empty: str, title: str, unit: str, *, path: Path) -> Path:
    """One PNG: a step histogram per named series (or ``empty`` written on the axes)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    if series:
        ax.hist(list(series.values()), bins=30, label=list(series.keys()), histtype="step")
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(unit)
    ax.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
