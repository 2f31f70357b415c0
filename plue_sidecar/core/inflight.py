"""Requests in flight that belong to a session, so that an abort can end them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class InflightRequests:
    def __init__(self) -> None:
        self._by_session: dict[str, set[asyncio.Task[object]]] = {}
        self._aborted: set[asyncio.Task[object]] = set()

    @contextmanager
    def bound(self, session_id: str) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        tasks = self._by_session.setdefault(session_id, set())
        tasks.add(task)
        try:
            yield
        finally:
            tasks.discard(task)
            if not tasks:
                self._by_session.pop(session_id, None)
            self._aborted.discard(task)

    def was_aborted(self, task: asyncio.Task[object] | None) -> bool:
        return task in self._aborted

    async def abort(self, session_ids: Iterable[str]) -> int:
        """Cancel every bound request of these sessions and wait until each has ended."""
        current = asyncio.current_task()
        victims = [
            task
            for session_id in session_ids
            for task in self._by_session.get(session_id, ())
            if task is not current and not task.done()
        ]
        for task in victims:
            self._aborted.add(task)
            task.cancel()
        if victims:
            await asyncio.wait(victims)
        return len(victims)
