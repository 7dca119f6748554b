"""Start a coroutine now, up to its first real suspension, instead of on the next loop iteration.

``asyncio.create_task`` only schedules: the coroutine's first step runs after everything already
in the ready queue and, often, after another poll of the sockets. On the order path that is a
whole loop iteration between "the ticket is decided" and "both requests are on the wire", and the
same again between a book frame and its ticket.

Python 3.12 has this built in (``eager_start``); there we use it. On 3.11 this module does the
same thing in the open: create the Task, make it the current task, run the coroutine's first step
right here, then give the rest to the Task, which resumes it exactly where it stopped. The task
identity matters: code such as ``asyncio.timeout`` (aiohttp's request timeouts use it) arms its
cancellation against ``asyncio.current_task()``, which must be the task that owns the coroutine,
not whoever called ``start_now``.
"""

from __future__ import annotations

import asyncio
import sys
import types
from asyncio import tasks as _tasks
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_now(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``coro`` until it first waits, as its own Task; return that Task."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    first = _FirstStep()
    task = loop.create_task(_resume(coro, first))  # scheduled: its step finds the first one done
    task.add_done_callback(lambda _t: coro.close())  # cancelled before it ran: finish coro too
    caller = asyncio.current_task(loop)
    if caller is not None:
        _tasks._leave_task(loop, caller)
    _tasks._enter_task(loop, task)
    try:
        first.pending = coro.send(None)
    except StopIteration as done:
        first.finished, first.value = True, done.value
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        first.error = exc  # delivered to whoever awaits the task, as a Task would
    finally:
        _tasks._leave_task(loop, task)
        if caller is not None:
            _tasks._enter_task(loop, caller)
    return task


class _FirstStep:
    __slots__ = ("error", "finished", "pending", "value")

    def __init__(self) -> None:
        self.pending: Any = None
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None


async def _resume(coro: Coroutine[Any, Any, T], first: _FirstStep) -> T:
    if first.error is not None:
        raise first.error
    if first.finished:
        return first.value  # type: ignore[no-any-return]
    result: T = await _drive(coro, first.pending)
    return result


@types.coroutine
def _drive(coro: Coroutine[Any, Any, T], pending: Any) -> Generator[Any, None, T]:
    """Yield what ``coro`` waits on to the Task, and pass every wake-up (or error) back into it.

    The Task sees the very future ``coro`` yielded (still flagged as blocking), so it waits on it
    as if it had awaited it itself; a cancellation or failure is thrown into ``coro`` at the same
    point a Task would throw it.
    """
    while True:
        try:
            yield pending
        except BaseException as exc:
            try:
                pending = coro.throw(exc)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            continue
        try:
            pending = coro.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
