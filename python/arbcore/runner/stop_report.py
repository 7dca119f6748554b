"""What the engine checks and logs once it has stopped trading, before it closes its connections:
the ledger against each venue's balances (one line per venue: a run's bookkeeping, read from the
log alone), and, in a rehearsal (``[venues.NAME.sim_faults]``), what each simulated venue injected
beside what the engine saw of it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping

import arbcore
from arbcore.execution.engine import Executor
from arbcore.execution.ledger import Reconciliation
from arbcore.feed_client import FeedClient
from arbcore.runner.rehearsal import FaultPlan

log = logging.getLogger("arbcore.stop")

#: how long the stop waits for a rehearsal's books to be LIVE again before it says which are not
BOOKS_LIVE_WAIT_S = 5.0
#: the feed counters a rehearsal's summary shows, in this order
FEED_COUNTERS = ("reconnects", "gaps", "duplicates", "out_of_order", "checksum_failed", "decode_errors",
                 "resync_requests")  # fmt: skip


async def log_balances_at_stop(executor: Executor, venues: Iterable[str]) -> dict[str, Reconciliation]:
    """Each venue's balances against the ledger, once nothing is open: ``balances at stop: VENUE
    equal to the ledger`` (INFO), else a WARNING with the difference, or why it was not compared.
    The venues' figures are journaled too (``balance_snapshots``, source ``venue``)."""
    try:
        recs = await executor.reconcile_balances(quiet=True)
    except Exception as e:  # a venue that does not answer: said, and the stop goes on
        log.warning("balances at stop: not compared: %s", e)
        return {}
    for venue in venues:
        rec = recs.get(venue)
        if rec is None:
            log.warning("balances at stop: %s not compared (an order still open, or a fill arrived while asked)",
                        venue)  # fmt: skip
        elif rec.ok:
            log.info("balances at stop: %s equal to the ledger", venue)
        else:
            log.warning("balances at stop: %s differ from the ledger: %s", venue, rec.describe())
    return recs


async def wait_books_live(books: Mapping[str, arbcore.ConsolidatedBook], timeout: float) -> list[str]:
    """Wait up to ``timeout`` s for every venue's book of every instrument to be LIVE; returns
    those that are not (``venue instrument STATE``), empty when all are."""
    deadline = time.monotonic() + timeout
    while True:
        down = [f"{v} {name} {book.state_name(v)}" for name, book in books.items() for v in book.venues
                if book.state_name(v) != "LIVE"]  # fmt: skip
        if not down or time.monotonic() >= deadline:
            return down
        await asyncio.sleep(0.05)


async def log_rehearsal(
    plans: Mapping[str, FaultPlan],
    feeds: Mapping[str, FeedClient],
    books: Mapping[str, arbcore.ConsolidatedBook],
    executor: Executor | None,
) -> None:
    """Per simulated venue: what was injected (``rehearsal injected VENUE: ...``) and the feed's
    counters (``rehearsal feed VENUE: reconnects N, gaps N, ...``); then whether every book is
    LIVE again (its faults have stopped: up to ``BOOKS_LIVE_WAIT_S``) and the order engine's
    counters."""
    for plan in plans.values():
        log.info("rehearsal injected %s", plan.summary())
    down = await wait_books_live(books, BOOKS_LIVE_WAIT_S)
    for venue in plans:
        feed = feeds.get(venue)
        if feed is not None:
            c = feed.counters()
            log.info("rehearsal feed %s: %s", venue, ", ".join(f"{k} {c.get(k, 0)}" for k in FEED_COUNTERS))
    if down:
        log.warning("rehearsal: books not LIVE %g s after the faults stopped: %s", BOOKS_LIVE_WAIT_S, ", ".join(down))
    else:
        log.info("rehearsal: every book LIVE again")
    if executor is not None:
        e = executor.counters
        log.info(
            "rehearsal engine: orders sent %d, rejects %d, timeouts %d (resolved by %d queries), rate limited %d, "
            "fills %d, duplicate fills ignored %d",
            e.orders_sent, e.rejects, e.timeouts, e.queries, e.rate_limited, e.fills, e.duplicate_fills,
        )  # fmt: skip


__all__ = ["log_balances_at_stop", "log_rehearsal", "wait_books_live"]
