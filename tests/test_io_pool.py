"""The store's thread pool: work started for a caller on the loop ends that caller's
future, and is counted in flight (the catalogue trusts directory times only when
nothing is) until it does."""

from __future__ import annotations

import asyncio
import errno
import threading

import pytest

from plue_sidecar.store.disk.io_pool import IoPool


async def test_a_failure_on_the_thread_ends_the_callers_future_and_the_count() -> None:
    pool = IoPool(2)
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def fails() -> None:
        raise OSError(errno.EIO, "injected")

    pool.start(fails, done)
    assert pool.in_flight == 1
    with pytest.raises(OSError, match="injected"):
        await asyncio.wait_for(done, 5)
    await asyncio.sleep(0)  # the count drops in the future's done callback
    assert pool.in_flight == 0
    pool.shutdown()


async def test_work_stays_counted_until_whoever_it_hands_on_to_ends_the_future() -> None:
    pool = IoPool(2)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    handed_on = threading.Event()

    def hands_on() -> None:
        handed_on.set()  # the function returns; `done` is ended later, by another party

    pool.start(hands_on, done)
    await asyncio.to_thread(handed_on.wait, 5)
    await asyncio.sleep(0.01)
    assert pool.in_flight == 1 and not done.done()
    done.set_result(7)
    assert await done == 7
    await asyncio.sleep(0)
    assert pool.in_flight == 0
    pool.shutdown()
