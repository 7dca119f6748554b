"""Replay of an engine recording (``arbcore run --record``, format version 3): the consolidated
books rebuilt from the header, every venue's frames and book events applied in order through the
same decoders (:class:`arbcore.replay.Replayer`, one per venue, over the shared books), the
balances the session gave the books set where they were recorded, and at each recorded detection
the same detection run again and compared with what the engine found then.

What is compared, at the line where the engine recorded it:

- ``detect``: ``book.opportunities()``, every record field for field (sizes, limits, notionals,
  profits, edge, the venues' sequences and timestamps); or, where the built-in taker looked and
  found nothing (its count), that the book has no opportunity;
- ``taken``: the records the built-in taker picked from, and the ticket its rule
  (``TakerStrategy.on_opportunity``, ``rust/orders/taker.rs``) makes of them: venues, quantity,
  limits.

Not replayed: whether the order path accepted a pick (risk limits, breakers, open tickets, the
venue's order connection: not in the frames); the strategy's proposals on the Python route.
Detection's inputs are the books' levels and states, their fees, grids and minimums and the
balances: all in the file, so the same file always gives the same output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from arbcore._core import ConsolidatedBook, opportunity_fields
from arbcore.errors import ConfigError
from arbcore.record import Frame, Recording, RecordingError, read_recording
from arbcore.replay import Replayer
from arbcore.runner.opportunity import Opportunity

#: what applying a tampered engine line raises (a missing field, a wrong type, an index out of
#: range, a value the books refuse: DecimalError and ConfigError are ValueErrors)
_LINE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)
#: the summary lists the first this many mismatches
MAX_MISMATCHES = 10
#: and, for each, the first this many records of each side
MAX_SHOWN = 3

Pick = tuple[str, str, int, int, int]  # buy venue, sell venue, qty, buy limit, sell limit


def build_engine_books(engine: dict[str, Any]) -> list[ConsolidatedBook]:
    """The session's books (``session_parts.build_books``) from the header's "engine"."""
    books = []
    for inst in engine["instruments"]:
        book = ConsolidatedBook(inst["name"], inst["price_decimals"], inst["qty_decimals"], inst["instrument_id"])
        for spec in inst["venues"]:
            kw = dict(spec)
            book.add_venue(kw.pop("name"), **kw)
        book.set_min_edge_bps(inst["min_edge_bps"])
        books.append(book)
    return books


def taker_pick(opps: list[Opportunity], rule: dict[str, Any]) -> Pick | None:
    """The built-in taker's ticket from one instrument's records: the first whose net profit is
    positive and edge at least ``min_edge_bps``, its quantity capped at ``max_qty`` rounded down
    to the larger lot (``TakerStrategy.on_opportunity``; the order path's copy is checked equal
    to it in tests/test_order_path.py)."""
    for o in opps:
        if o.net_profit <= 0 or o.edge_bps < rule["min_edge_bps"]:
            continue
        qty = o.qty
        cap = rule["max_qty"].get(o.instrument)
        if cap is not None and qty > cap:
            lots = rule["lots"][o.instrument]
            qty = cap - cap % max(lots[o.buy_venue], lots[o.sell_venue])
            if qty <= 0:
                continue
        return (o.buy_venue, o.sell_venue, qty, o.buy_limit, o.sell_limit)
    return None


class EngineReplay:
    """The books of a recording's engine, moved line by line (:meth:`apply`), with the
    comparisons' counts and first mismatches. Raises RecordingError for a header the books or
    the decoders refuse."""

    def __init__(self, rec: Recording) -> None:
        if rec.engine is None:
            raise RecordingError("not an engine recording (no header engine: replay it with --venue)")
        self.engine = rec.engine
        try:
            self.books = build_engine_books(rec.engine)
            by_name = {b.instrument: i for i, b in enumerate(self.books)}
            self.venues: dict[str, Replayer] = {}
            for spec in rec.feeds:
                symbols = {sym: (by_name[s.instrument], self.books[by_name[s.instrument]].venue_index(spec.venue))
                           for sym, s in spec.symbols.items()}  # fmt: skip
                precisions = {sym: s.precision for sym, s in spec.symbols.items() if s.precision is not None}
                self.venues[spec.venue] = Replayer(spec, (self.books, symbols, precisions))
        except (KeyError, TypeError, ValueError, ConfigError) as e:  # (ConfigError: a ValueError too)
            raise RecordingError(f"header: engine: {type(e).__name__}: {e}") from None
        self._by_name = by_name
        self.taker: dict[str, Any] | None = rec.engine.get("taker")
        self.counts = {"frames": 0, "events": 0, "balances": 0, "detections": 0, "opportunities": 0,
                       "taker_looks": 0, "taken": 0}  # fmt: skip
        self.mismatches = 0
        self.first_mismatches: list[dict[str, Any]] = []

    def apply(self, fr: Frame) -> None:
        if fr.engine is None:
            replayer = self.venues.get(fr.venue)
            if replayer is not None:
                self.counts["frames" if fr.kind in ("ws", "rest") else "events"] += 1
                replayer.apply(fr)
            return
        d = fr.engine
        if fr.kind == "balance":
            self.counts["balances"] += 1
            name = d["instrument"]
            if not isinstance(name, str) or name not in self._by_name:
                raise ValueError(f"instrument is {orjson.dumps(name).decode()[:40]}, not one of the header's")
            self.books[self._by_name[name]].set_balance(d["venue"], d["asset"], d["amount"])
            return
        i = d["instrument"]
        if type(i) is not int or not 0 <= i < len(self.books):  # (a negative index is another book)
            raise ValueError(f"instrument is {orjson.dumps(i).decode()[:40]}, not one of the header's")
        book = self.books[i]
        got = [list(r) for r in book.opportunities().tolist()]
        if fr.kind == "detect":
            self.counts["detections"] += 1
            if "count" in d:
                self.counts["taker_looks"] += 1
                if len(got) != d["count"]:
                    self._mismatch(fr, book, "opportunities", f"{d['count']} (the taker's count)", got)
                return
            self.counts["opportunities"] += len(d["records"])
            if got != d["records"]:
                self._mismatch(fr, book, "opportunities", d["records"], got)
            return
        # "taken": the records the taker picked from, then its pick
        self.counts["taken"] += 1
        if got != d["records"]:
            self._mismatch(fr, book, "opportunities", d["records"], got)
            return
        recorded: Pick = (d["buy"], d["sell"], d["qty"], d["buy_limit"], d["sell_limit"])
        pick = None if self.taker is None else taker_pick(Opportunity.from_book(book, book.opportunities()), self.taker)
        if pick != recorded:
            self._mismatch(fr, book, "taken", list(recorded), None if pick is None else list(pick))

    def _mismatch(self, fr: Frame, book: ConsolidatedBook, what: str, recorded: Any, replayed: Any) -> None:
        self.mismatches += 1
        if len(self.first_mismatches) >= MAX_MISMATCHES:
            return

        def shown(x: Any) -> Any:
            return x[:MAX_SHOWN] if isinstance(x, list) and what == "opportunities" else x

        self.first_mismatches.append({
            "line": fr.line, "t": fr.t, "kind": fr.kind, "instrument": book.instrument, "what": what,
            "recorded": shown(recorded), "replayed": shown(replayed),
        })  # fmt: skip

    def summary(self) -> dict[str, Any]:
        venues = {}
        for name, r in self.venues.items():
            c = r.feed.counters()
            venues[name] = {
                "protocol": r.spec.protocol, "frames": c["frames"], "snapshots": c["snapshots"],
                "decode_errors": c["decode_errors"], "gaps": c["gaps"], "resyncs": c["resyncs"],
                "connections": r.connections, "books": {sym: r.book_view(sym, 1)["state"] for sym in sorted(r.symbols)},
            }  # fmt: skip
        return {
            **self.counts,
            "fields": [f for f, _ in opportunity_fields()],  # (a record's fields, in the mismatches)
            "venues": venues,
            "mismatches": self.mismatches,
            "first_mismatches": self.first_mismatches,
            "identical": self.mismatches == 0,
        }


def replay_engine(path: Path) -> dict[str, Any]:
    """Replay an engine recording; the summary (``identical``: every comparison equal). Raises
    RecordingError for a file that is not one, or for an engine line that reads as JSON but not
    as its kind (its line named); a file cut short gives the summary of what could be read, its
    "truncated" says where and why."""
    rec = read_recording(path)
    try:
        r = EngineReplay(rec)
    except RecordingError as e:
        rec.frames.close()
        raise RecordingError(f"{path}: {e}") from None
    for fr in rec.frames:
        try:
            r.apply(fr)
        except _LINE_ERRORS as e:  # a line that reads as JSON but not as what its kind holds
            why = f"{e.args[0]!r} is missing" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
            raise RecordingError(f"{path}: line {fr.line} ({fr.kind}): {why}") from None
    summary = r.summary()
    summary["version"] = rec.version
    summary["truncated"] = rec.frames.truncated
    return summary
