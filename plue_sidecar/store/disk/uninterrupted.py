"""Finishing a commit even when the request that started it is cancelled."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, TypeVar

T = TypeVar("T")


class Uncancellable(asyncio.Future[T]):
    """A future that refuses `cancel`: a task cancelled while it awaits one is woken
    with the cancellation once it is done (no `asyncio.shield`, and its extra step, needed)."""

    def cancel(self, msg: object | None = None) -> bool:
        return False


class Uninterrupted:
    """Awaits writes to their end through a cancellation of the task awaiting them, and
    remembers each task whose cancellation it absorbed until the task asks."""

    def __init__(self) -> None:
        self._absorbed: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    async def finish(self, future: asyncio.Future[T]) -> T:
        """Await `future` to its end; a cancellation meanwhile is absorbed, not lost
        mid-write.

        A write that reached the disk must reach memory too, so the request that made
        it answers with its result instead of claiming it was cancelled.
        """
        cancelled = 0
        while True:
            try:
                waited = future if isinstance(future, Uncancellable) else asyncio.shield(future)
                result = await waited
                break
            except asyncio.CancelledError:
                if future.cancelled():
                    raise
                cancelled += 1
        task = asyncio.current_task()
        if task is not None and cancelled:
            for _ in range(cancelled):
                task.uncancel()
            self._absorbed.add(task)
        return result

    def take_absorbed_cancel(self) -> bool:
        """Whether a write absorbed a cancellation of the current task since it last
        asked.

        A request that goes on after its write (a turn after its prompt is stored) asks,
        so that the cancellation still ends it.
        """
        task = asyncio.current_task()
        if task is None or task not in self._absorbed:
            return False
        self._absorbed.discard(task)
        return True
