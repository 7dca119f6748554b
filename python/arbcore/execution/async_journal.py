"""The journal for the event loop: every SQLite call runs on one dedicated worker thread.

A commit with ``synchronous=FULL`` waits for an fsync (milliseconds on a disk); on the event loop
that would stall every feed. The worker is a single-thread executor, so calls run one at a time
in the order they were made: an event posted after an intent is always written after it, and the
connection never leaves the thread that opened it.

Awaiting a call waits for its commit (use it for :meth:`AsyncJournal.write_intent`, which must be
durable before the order is sent). ``post_*`` calls only enqueue: the caller goes on at once and
a failure is logged and raised again by the next :meth:`AsyncJournal.flush` or ``close``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from arbcore.execution.journal import Journal
from arbcore.execution.ledger import Ledger, LedgerEvent
from arbcore.execution.orders import EventKind, OrderState
from arbcore.execution.records import Fill, OrderEvent, OrderIntent, OrderRecord

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class AsyncJournal:
    """Async front of :class:`Journal`; open with ``await AsyncJournal.open(path, ...)``."""

    def __init__(self, executor: concurrent.futures.ThreadPoolExecutor, journal: Journal, thread_id: int) -> None:
        self._executor = executor
        self._journal = journal
        self.thread_id = thread_id  # the worker's thread, for checks that the loop never blocks on SQLite
        self._error: BaseException | None = None

    @classmethod
    async def open(cls, path: str | Path, **kwargs: Any) -> AsyncJournal:
        """Open (and create) the journal on a new worker thread; kwargs go to :class:`Journal`."""
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="arbcore-journal")

        def _open() -> tuple[Journal, int]:
            return Journal(path, **kwargs), threading.get_ident()

        try:
            journal, tid = await asyncio.get_running_loop().run_in_executor(executor, _open)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, journal, tid)

    async def call(self, fn: Callable[Concatenate[Journal, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(journal, *args, **kwargs)`` on the worker and wait for its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self._journal, *args, **kwargs))

    def post(
        self, fn: Callable[Concatenate[Journal, P], Any], *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[Any]:
        """Enqueue ``fn(journal, ...)`` without waiting; ordered after every earlier call."""
        fut = self._executor.submit(fn, self._journal, *args, **kwargs)
        fut.add_done_callback(self._note_failure)
        return fut

    def _note_failure(self, fut: concurrent.futures.Future[Any]) -> None:
        exc = fut.exception()
        if exc is not None:
            log.error("journal write failed: %s", exc)
            if self._error is None:
                self._error = exc

    # ---- the calls the engine makes ---------------------------------------------------------

    async def write_ticket(
        self, ticket_id: str, instrument: str, buy_venue: str, sell_venue: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        await self.call(Journal.write_ticket, ticket_id, instrument, buy_venue, sell_venue, detail)

    async def write_intent(self, intent: OrderIntent, detail: Mapping[str, Any] | None = None) -> str:
        """Returns once the intent is committed with FULL sync: only then send the order."""
        return await self.call(Journal.write_intent, intent, detail)

    async def append_event(
        self,
        client_order_id: str,
        kind: EventKind,
        *,
        venue_ns: int | None = None,
        fill: Fill | None = None,
        reported_state: OrderState | None = None,
        venue_order_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> OrderEvent | None:
        return await self.call(
            Journal.append_event,
            client_order_id,
            kind,
            venue_ns=venue_ns,
            fill=fill,
            reported_state=reported_state,
            venue_order_id=venue_order_id,
            detail=detail,
        )

    def post_event(
        self,
        client_order_id: str,
        kind: EventKind,
        *,
        venue_ns: int | None = None,
        fill: Fill | None = None,
        reported_state: OrderState | None = None,
        venue_order_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> concurrent.futures.Future[Any]:
        return self.post(
            Journal.append_event,
            client_order_id,
            kind,
            venue_ns=venue_ns,
            fill=fill,
            reported_state=reported_state,
            venue_order_id=venue_order_id,
            detail=detail,
        )

    def ledger_sink(self, ev: LedgerEvent) -> None:
        """Pass as ``Ledger(sink=...)``: journals each ledger change in order, without waiting."""
        self.post(Journal.append_ledger_event, ev)

    async def open_orders(self) -> list[OrderRecord]:
        return await self.call(Journal.open_orders)

    async def ledger_replay(self) -> Ledger:
        """The journaled ledger, wired to journal its further changes through this journal."""
        ledger = await self.call(Journal.ledger_replay)
        ledger.set_sink(self.ledger_sink)
        return ledger

    # ---- lifecycle --------------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every earlier call is done; raise the first failure of a posted call."""
        await self.call(lambda _j: None)
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            await self.call(Journal.close)
            self._executor.shutdown(wait=True)
