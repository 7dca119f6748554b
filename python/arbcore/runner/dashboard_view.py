"""The live dashboard laid out for the terminal it is drawn on, whatever its size.

rich's live view crops what does not fit the terminal's height (whole sections never appeared), so
:class:`DashboardView` lays the picture out for the console's size at each refresh (a resize is
picked up at the next one): the headline lines first (strategy and kill switch status, realised
PnL, residual exposure), then the tables, side by side where the width allows, each cut to its
share of the height with a ``+N more`` row, never silently. The plan is counted in lines (one per
row); rows a narrow terminal folds onto more lines shrink the budget and the plan is made again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from arbcore.runner.dashboard import DashboardState, bps_text, clock_text, ms_text

Cell = str | Text
Stack = tuple[str, ...]  # sections one above the other
Layout = tuple[tuple[Stack, ...], ...]  # bands top to bottom, each of stacks left to right

ORDER = ("venues", "quotes", "spreads", "opportunities", "tickets", "balances")
# the last of these is cut first (at a tie): what the engine did and holds before what it saw
KEEP = ("venues", "quotes", "tickets", "balances", "spreads", "opportunities")
# tried in this order, the first that shows the most rows wins (one column when all of it fits)
LAYOUTS: tuple[Layout, ...] = (
    tuple(((k,),) for k in ORDER),
    ((("venues", "quotes"), ("spreads",)), (("opportunities",), ("balances",)), (("tickets",),)),
    ((("venues", "opportunities", "tickets"), ("quotes", "spreads", "balances")),),
)
GAP = 2  # columns between side-by-side stacks
_RIGHT = {"p50 ms", "msg/s", "errors", "net bps", "edge bps"}
_STATE_STYLE = {"LIVE": "green", "SYNCING": "yellow", "CONNECTING": "yellow", "STALE": "magenta", "BROKEN": "red"}


@dataclass
class Section:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    keep_all: bool = False  # cut only once the others are down to one row
    best_first: list[tuple[Cell, ...]] | None = field(default=None)  # the rows to keep when cut

    def height(self, body: int) -> int:
        """Lines drawn with ``body`` lines for rows (title, column header, rows, "+N more")."""
        return 1 + (1 if self.shown(body) or not self.rows else 0) + body

    def shown(self, body: int) -> int:
        n = len(self.rows)
        return n if body >= n else max(body - 1, 0)

    def width(self) -> int:
        """Columns the table takes with all its rows (the cells are one line each: rich's own
        measure took longer than drawing the picture)."""
        cols = [[c, *(r[i] for r in self.rows)] for i, c in enumerate(self.columns)]
        cols[0].append(f"+{len(self.rows)} more")
        return max(sum(max(cell_len(str(c)) for c in col) for col in cols) + 2 * (len(cols) - 1), cell_len(self.title))

    def table(self, body: int) -> Table:
        rows = self.rows if body >= len(self.rows) else (self.best_first or self.rows)[: self.shown(body)]
        t = Table(
            title=self.title, title_justify="left", title_style="bold reverse", header_style="bold underline",
            box=None, pad_edge=False, expand=False, show_header=bool(rows) or not self.rows,
            min_width=cell_len(self.title),  # a title wrapped onto two lines takes a row's line
        )  # fmt: skip
        for c in self.columns:  # fold, not "…": a cut number ("-0.0…") reads as another number
            t.add_column(c, justify="right" if c in _RIGHT else "left", overflow="fold")
        for r in rows:
            t.add_row(*r)
        if len(rows) < len(self.rows):
            t.add_row(Text(f"+{len(self.rows) - len(rows)} more", style="italic"))
        return t


def header(state: DashboardState) -> Text:
    pnl = ", ".join(f"{v} {q}" for q, v in state.realised_pnl.items()) or "0"
    exposure = ", ".join(f"{v} {a}" for a, v in state.exposure.items()) or "flat"
    alarm = "bold red" if state.strategy_status != "running" else ""
    return Text.assemble(
        (f"{state.title}", "bold"),
        f"  {state.elapsed_s:6.1f}s  strategy {state.strategy} (",
        (state.strategy_status, alarm),
        f")  opportunities {state.opportunities_total}  tickets {state.tickets_total}\n",
        ("Realised PnL: ", "bold"),
        pnl,
        ("   Residual exposure: ", "bold"),
        exposure,
    )


def sections(state: DashboardState) -> dict[str, Section]:
    venues: list[tuple[Cell, ...]] = [
        (v.name, v.protocol, Text(v.state, style=_STATE_STYLE.get(v.state, "")), ms_text(v.latency_p50_ms),
         f"{v.msg_rate:.1f}", str(v.errors), " ".join(f"{i}:{s}" for i, s in v.books))
        for v in state.venues
    ]  # fmt: skip
    quotes: list[tuple[Cell, ...]] = [
        (q.instrument, q.bid or "-", q.bid_venue or "-", q.ask or "-", q.ask_venue or "-") for q in state.quotes
    ]
    spreads: list[tuple[Cell, ...]] = [
        (s.instrument, s.buy_venue, s.sell_venue,
         Text(bps_text(s.net_bps), style="green" if s.net_bps is not None and s.net_bps > 0 else ""))
        for s in state.spreads
    ]  # fmt: skip
    # cut, the best spreads are the ones worth the room (unpriced pairs last)
    ranked = sorted(
        range(len(spreads)), key=lambda i: (state.spreads[i].net_bps is None, -(state.spreads[i].net_bps or 0))
    )
    opps: list[tuple[Cell, ...]] = [
        (clock_text(o.ts_ns), o.instrument, o.buy_venue, o.sell_venue, o.qty, f"{o.edge_bps:.2f}", o.net_profit,
         "-" if o.taken is None else ("yes" if o.taken else "no"))
        for o in state.opportunities[:8]
    ]  # fmt: skip
    tickets: list[tuple[Cell, ...]] = [
        (clock_text(t.ts_ns), t.ticket_id, t.instrument, t.buy_venue or "-", t.sell_venue or "-", t.qty, t.outcome,
         t.pnl or "-")
        for t in state.tickets[:8]
    ]  # fmt: skip
    balances: list[tuple[Cell, ...]] = [(b.venue, b.asset, b.total, b.reserved or "-") for b in state.balances]
    return {
        "venues": Section("Venues", ("venue", "protocol", "state", "p50 ms", "msg/s", "errors", "books"),
                          venues, keep_all=True),
        "quotes": Section("Best bid / ask", ("instrument", "bid", "venue", "ask", "venue"), quotes, keep_all=True),
        "spreads": Section("Spreads net of fees", ("instrument", "buy", "sell", "net bps"), spreads,
                           best_first=[spreads[i] for i in ranked]),
        "opportunities": Section("Recent opportunities",
                                 ("time", "instrument", "buy", "sell", "qty", "edge bps", "net", "taken"), opps),
        "tickets": Section("Recent tickets",
                           ("time", "ticket", "instrument", "buy", "sell", "qty", "outcome", "pnl"), tickets),
        "balances": Section("Balances", ("venue", "asset", "total", "reserved"), balances),
    }  # fmt: skip


def balances_by_venue(state: DashboardState) -> Section:
    """One row per venue, a column per asset: the balances in a third of the lines (a reserved
    amount other than zero beside its total)."""
    assets = sorted({b.asset for b in state.balances})
    by_venue: dict[str, dict[str, str]] = {}
    for b in state.balances:
        held = b.reserved if b.reserved and b.reserved.strip("0.") else None
        by_venue.setdefault(b.venue, {})[b.asset] = b.total + (f" ({held} reserved)" if held else "")
    rows: list[tuple[Cell, ...]] = [(v, *(cells.get(a, "-") for a in assets)) for v, cells in by_venue.items()]
    return Section("Balances", ("venue", *assets), rows)


def _height(layout: Layout, secs: dict[str, Section], bodies: dict[str, int]) -> int:
    return sum(max(sum(secs[k].height(bodies[k]) for k in stack) for stack in band) for band in layout)


def trim(layout: Layout, secs: dict[str, Section], budget: int) -> dict[str, int]:
    """Lines for each section's rows so that the layout fits ``budget`` lines: a line at a time off
    the section whose cut saves the most, the longest first, the last in ``KEEP`` first; the venues
    and quotes only once the others show one row (then only "+N more")."""
    bodies = {k: len(s.rows) for k, s in secs.items()}
    floors = (
        {k: len(s.rows) if s.keep_all else min(len(s.rows), 2) for k, s in secs.items()},
        {k: min(len(s.rows), 1) for k, s in secs.items()},
    )
    for floor in floors:
        while _height(layout, secs, bodies) > budget:
            cuts = [k for k in bodies if bodies[k] > floor[k]]
            if not cuts:
                break
            k = min(
                cuts, key=lambda k: (_height(layout, secs, {**bodies, k: bodies[k] - 1}), -bodies[k], -KEEP.index(k))
            )
            bodies[k] -= 1
    return bodies


class Plan(NamedTuple):
    layout: Layout
    sections: dict[str, Section]
    bodies: dict[str, int]  # lines for each section's rows
    widths: dict[str, int]


def plan(state: DashboardState, width: int, budget: int) -> Plan:
    """The first layout that fits ``width`` and shows the most rows within ``budget`` lines, with
    the balances per venue if that shows more of them."""
    full = sections(state)
    variants = [full]
    if len({b.venue for b in state.balances}) < len(state.balances):
        variants.append({**full, "balances": balances_by_venue(state)})
    best: tuple[int, Plan] | None = None
    for layout in LAYOUTS:
        for secs in variants:
            w = {k: s.width() for k, s in secs.items()}
            bands_w = [sum(max(w[k] for k in stack) for stack in band) + GAP * (len(band) - 1) for band in layout]
            if layout is not LAYOUTS[0] and max(bands_w) > width:
                continue
            bodies = trim(layout, secs, budget)
            hidden = sum(len(s.rows) - s.shown(bodies[k]) for k, s in secs.items())
            if best is None or hidden < best[0]:
                best = (hidden, Plan(layout, secs, bodies, w))
            if hidden == 0:
                return best[1]
    assert best is not None  # the one-column layout always fits
    return best[1]


def draw(p: Plan, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
    out: list[list[Segment]] = []
    for band in p.layout:
        tables = [Group(*(p.sections[k].table(p.bodies[k]) for k in stack)) for stack in band]
        if len(band) == 1:
            out += console.render_lines(tables[0], options, pad=False)
            continue
        ws = [min(max(p.widths[k] for k in stack), options.max_width) for stack in band]
        cols = [console.render_lines(t, options.update_width(w)) for t, w in zip(tables, ws, strict=True)]
        for i in range(max(map(len, cols))):
            line: list[Segment] = []
            for j, (col, w) in enumerate(zip(cols, ws, strict=True)):
                line += [Segment(" " * GAP)] if j else []
                line += col[i] if i < len(col) else [Segment(" " * w)]
            out.append(line)
    return out


class DashboardView:
    """A :class:`DashboardState` drawn to fit the console's current width and height."""

    def __init__(self, state: DashboardState) -> None:
        self.state = state

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = options.height or options.size.height
        head = console.render_lines(header(self.state), options, pad=False)
        notes: list[list[Segment]] = []
        if self.state.messages:
            notes = console.render_lines(Text("\n".join(self.state.messages[-5:]), style="yellow"), options, pad=False)
        room = budget = height - len(head) - len(notes)
        for _ in range(3):
            body = draw(plan(self.state, options.max_width, budget), console, options)
            if len(body) <= room:
                break
            budget -= len(body) - room  # rows folded onto more lines than planned
        for line in head + body + notes:
            yield from line
            yield Segment.line()
