"""Noticing that the client process is gone, so the sidecar never lingers as an orphan."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
_polls: set[asyncio.Task[None]] = set()


def watch_process(pid: int, on_gone: Callable[[], None]) -> None:
    """Call `on_gone` once `pid` has exited (a pidfd where Linux has one, else polling)."""
    loop = asyncio.get_running_loop()
    if not _alive(pid):
        loop.call_soon(on_gone)
        return
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None:
        try:
            pidfd = pidfd_open(pid)
        except OSError:
            pidfd = None
        if pidfd is not None:

            def fire() -> None:
                loop.remove_reader(pidfd)
                os.close(pidfd)
                on_gone()

            loop.add_reader(pidfd, fire)
            return
    _polls.add(poll := loop.create_task(_poll(pid, on_gone)))
    poll.add_done_callback(_polls.discard)


async def _poll(pid: int, on_gone: Callable[[], None]) -> None:
    while _alive(pid):
        await asyncio.sleep(POLL_SECONDS)
    on_gone()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
