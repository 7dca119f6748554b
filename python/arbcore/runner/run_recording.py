"""``arbcore run --record FILE`` (``[run] record``): one recording of a whole session (format
version 3, :mod:`arbcore.record`), which ``arbcore replay FILE`` runs through the engine's books and
detection again (:mod:`arbcore.engine_replay`).

What goes in: every venue connection's frames and book events (each ``FeedClient`` records them,
under the config's venue name), the balances the session gives the books, each read's detection
per instrument and each ticket the built-in taker started, in the order they happened (all of it
on the event loop's thread, into the recorder's one queue). The header holds the books as the
session built them, read back from the books themselves; the config's keys and environment are
never read for it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arbcore.record import FeedSpec, Recorder, SymbolSpec
from arbcore.runner.strategies.taker import TakerStrategy
from arbcore.sim.fmt import places_of
from arbcore.venues import CLIENT_SPECS

if TYPE_CHECKING:
    from arbcore.execution.fast_path import Taken
    from arbcore.runner.session import TradingSession


def engine_header(session: TradingSession) -> tuple[list[FeedSpec], dict[str, Any]]:
    """The recording's feeds (one per config venue, for ``replay --venue``) and its "engine" part:
    each instrument's book (its id, scales, detector min edge, each venue's ``venue_spec``: symbol,
    grids, minimums, fees) and the built-in taker's rule when the order path decides for it."""
    config = session.config
    instruments = []
    for inst in config.instruments:
        book = session.books[inst.name]
        instruments.append({
            "name": inst.name,
            "instrument_id": book.instrument_id,
            "price_decimals": book.price_decimals,
            "qty_decimals": book.qty_decimals,
            "min_edge_bps": config.execution.min_edge_bps,
            "venues": [book.venue_spec(v) for v in book.venues],
        })  # fmt: skip
    feeds = []
    for vname, v in config.venues.items():
        client = CLIENT_SPECS[v.protocol]
        symbols = {}
        for inst in config.instruments:
            iv = inst.venues.get(vname)
            if iv is None:
                continue
            # (the session gives the decoder precisions for Kraken only: so does the header)
            precision = (places_of(iv.tick, inst.price_decimals), places_of(iv.lot, inst.qty_decimals))
            symbols[iv.symbol] = SymbolSpec(inst.name, inst.price_decimals, inst.qty_decimals, iv.tick_text,
                                            iv.lot_text, precision if v.protocol == "kraken" else None)  # fmt: skip
        feeds.append(FeedSpec(vname, client.feed_protocol, symbols, int(client.feed_kwargs.get("depth", 10))))
    engine: dict[str, Any] = {"instruments": instruments, "taker": None}
    strategy = session.host.strategy
    if session._taker is not None and isinstance(strategy, TakerStrategy):
        engine["taker"] = {
            "min_edge_bps": strategy.min_edge_bps,
            "max_qty": {name: q for name, q in strategy.max_qty.items()},
            "lots": {i.name: {v: s.lot for v, s in i.venues.items()} for i in config.instruments},
        }
    return feeds, engine


def start_recording(session: TradingSession, path: Path) -> Recorder:
    """Opens the recording (OSError for a path that cannot be written) and points the session's
    feeds at it (their frames and events) and its reads' detections (``TradingSession._on_read``
    records each instrument's where it ran, before anything it leads to: a ticket refused at once
    syncs the books' balances, recorded after it)."""
    feeds, engine = engine_header(session)
    recorder = Recorder(path, feeds, engine)
    for client in session.feeds.values():
        client.recorder = recorder
    session.record_detections(recorder.detected)
    return recorder


def record_taken(session: TradingSession, recorder: Recorder, name: str, taken: Taken, records: Any) -> None:
    """A ticket the built-in taker started, and the records it picked from (``records``:
    ``book.opportunities()`` as the taker saw them)."""
    plan = taken[0]
    index = list(session.books).index(name)
    pick = (plan.buy.venue, plan.sell.venue, plan.qty, plan.buy_limit, plan.sell_limit)
    recorder.taken(time.time_ns(), index, pick, records)
