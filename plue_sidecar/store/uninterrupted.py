"""Finishing a commit even when the request that started it is cancelled."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def finish_even_if_cancelled(future: asyncio.Future[T]) -> T:
    """Await `future` to its end; a cancellation meanwhile is absorbed, not lost mid-write.

    A write that reached the disk must reach memory too, so the request that made it
    answers with its result instead of claiming it was cancelled.
    """
    cancelled = 0
    while True:
        try:
            result = await asyncio.shield(future)
            break
        except asyncio.CancelledError:
            if future.cancelled():
                raise
            cancelled += 1
    task = asyncio.current_task()
    if task is not None:
        for _ in range(cancelled):
            task.uncancel()
    return result
