"""``start_now``: a coroutine's first step runs before ``start_now`` returns, and the rest behaves
exactly as it would in a Task (result, error, cancellation, bare yields)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from arbcore.execution.eager import start_now


def run(coro: object) -> object:
    return uvloop.run(coro)  # type: ignore[arg-type]


def test_first_step_runs_before_start_now_returns_and_the_rest_in_a_task() -> None:
    async def main() -> None:
        steps: list[str] = []

        async def work() -> int:
            steps.append("first")
            await asyncio.sleep(0)
            steps.append("second")
            await asyncio.sleep(0.001)
            return 7

        fut = start_now(work())
        assert steps == ["first"]  # no loop iteration in between
        assert isinstance(fut, asyncio.Task)
        assert await fut == 7
        assert steps == ["first", "second"]

    run(main())


def test_no_suspension_still_gives_a_task_with_the_outcome() -> None:
    async def main() -> None:
        ran: list[str] = []

        async def quick() -> str:
            ran.append("quick")
            return "done"

        async def broken() -> None:
            raise ValueError("refused")

        fut = start_now(quick())
        assert ran == ["quick"]
        assert await fut == "done"
        with pytest.raises(ValueError, match="refused"):
            await start_now(broken())

    run(main())


def test_the_first_step_runs_as_its_own_task() -> None:
    """``asyncio.timeout`` (aiohttp's request timeouts) cancels ``current_task()``: during the
    first step that must be the new task, and the caller's identity must come back after."""

    async def main() -> None:
        outer = asyncio.current_task()
        seen: list[object] = []

        async def work() -> str:
            seen.append(asyncio.current_task())
            try:
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(1)
            except TimeoutError:
                return "timed out"
            return "slept"

        task = start_now(work())
        assert seen == [task]
        assert asyncio.current_task() is outer
        assert await task == "timed out"  # the caller (this task) was not the one cancelled

    run(main())


def test_cancelled_before_its_first_resume_closes_the_coroutine() -> None:
    async def main() -> None:
        closed: list[bool] = []

        async def work() -> None:
            try:
                await asyncio.sleep(1)
            finally:
                closed.append(True)

        task = start_now(work())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert closed == [True]

    run(main())


def test_errors_of_awaited_futures_reach_the_coroutine() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        waited: asyncio.Future[int] = loop.create_future()
        seen: list[str] = []

        async def work() -> int:
            try:
                return await waited
            except KeyError as e:
                seen.append(str(e))
                return -1

        fut = start_now(work())
        loop.call_soon(waited.set_exception, KeyError("gone"))
        assert await fut == -1
        assert seen == ["'gone'"]

    run(main())


def test_cancellation_is_thrown_into_the_coroutine() -> None:
    async def main() -> None:
        cleaned: list[bool] = []

        async def work() -> None:
            try:
                await asyncio.sleep(10)
            finally:
                cleaned.append(True)

        fut = start_now(work())
        await asyncio.sleep(0)
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut
        assert cleaned == [True]

    run(main())


def test_two_sends_are_written_before_either_task_runs() -> None:
    """The ticket's use: both requests leave before the caller yields to the loop."""

    async def main() -> None:
        wire: list[str] = []
        loop = asyncio.get_running_loop()

        async def send(name: str) -> str:
            wire.append(name)  # the socket write
            reply: asyncio.Future[str] = loop.create_future()
            loop.call_later(0.001, reply.set_result, name + " ack")
            return await reply

        a, b = start_now(send("buy")), start_now(send("sell"))
        assert wire == ["buy", "sell"]
        assert await asyncio.gather(a, b) == ["buy ack", "sell ack"]

    run(main())
