"""Blocking store calls, run off the event loop.

Every disk operation runs on this pool's threads, so one slow disk never stalls the
loop. A write that has started is finished even if the request that started it is
cancelled (see `uninterrupted`), and a failure is mapped to the storage error a client
sees. The pool counts the calls in flight: the catalogue vouches for directory mtimes
only when none is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from plue_sidecar import errors
from plue_sidecar.store.disk.uninterrupted import Uninterrupted

log = logging.getLogger(__name__)
T = TypeVar("T")


class IoPool:
    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="plue-store")
        self._uninterrupted = Uninterrupted()
        self.in_flight = 0

    def finish(self, future: asyncio.Future[T]) -> Awaitable[T]:
        """Await `future`, a write, to its end through a cancellation (see
        `uninterrupted`)."""
        return self._uninterrupted.finish(future)

    def take_absorbed_cancel(self) -> bool:
        """Whether a write absorbed a cancellation of the current task since it last
        asked (see `Uninterrupted.take_absorbed_cancel`)."""
        return self._uninterrupted.take_absorbed_cancel()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on a thread; an OSError becomes the client's storage error."""
        self.in_flight += 1
        try:
            return await self.run_behind(function, *args)
        finally:
            self.in_flight -= 1

    async def run_behind(self, function: Callable[..., T], *args: Any) -> T:
        """`run`, not counted in flight: for work that writes only what memory holds
        already (a checkpoint), which leaves every directory agreeing with memory. A
        checkpoint still awaited when the sidecar closes would otherwise keep the
        catalogue written at exit from vouching for the directories."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        try:
            return await self._uninterrupted.finish(future)
        except OSError as exc:
            log.error("storage failure: %s", exc)
            raise errors.storage_error(exc) from exc

    def start(self, function: Callable[[], None], done: asyncio.Future[Any]) -> None:
        """Run `function` on a thread for a caller on the loop who awaits `done`, which
        the function (or what it hands `done` to) ends; if it raises, `done` ends with
        that. Counted in flight until `done` ends."""
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                function()
            except BaseException as exc:
                loop.call_soon_threadsafe(_fail, done, exc)

        self._executor.submit(run)
        self.in_flight += 1
        done.add_done_callback(self._ended)

    def _ended(self, _: object) -> None:
        self.in_flight -= 1

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """`function(*args)` on a thread, not counted: for work nobody answers on."""
        return self._executor.submit(function, *args)

    def shutdown(self) -> None:
        """Wait for every call in flight, then stop the threads."""
        self._executor.shutdown(wait=True)


def _fail(done: asyncio.Future[Any], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)
