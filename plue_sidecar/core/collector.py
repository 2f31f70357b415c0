"""The cyclic garbage collector during the start.

The start makes objects that live as long as the process (modules, models, every
session), and pygls's import leaves megabytes of cyclic garbage (attrs rebuilds each
lsprotocol class). With the collector on, each of its passes rescans the survivors,
which costs the start tens of milliseconds. So it is off from the first import until
the first answers are out and every session is loaded (or a deadline passes: see
`resume_when`); then one full pass frees the garbage, the survivors are frozen out of
every later pass, and it is on again.

That one pass walks every object the start made (over 100,000 with an empty data
directory) and holds the event loop for 60-150 ms on a 2-core machine: whatever request
it lands in waits that long, an abort included. So it waits for a quiet moment, when
no request has been in flight for `QUIET_SECONDS`, as between an editor's first burst
of requests and its user's next action; a client that never pauses gets it after
`QUIET_WAIT_SECONDS` all the same. Requests make no cyclic garbage meanwhile; what
waits is the start's (about 9 MB).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable

SETTLE_SECONDS = 0.2
"""How long after the start the one full pass waits at least: past the first answers."""
LOAD_WAIT_SECONDS = 10.0
"""The longest it waits for the load: a client that never initializes, or a load that
hangs on a dead disk, must not leave the collector off."""
QUIET_SECONDS = 0.05
"""How long nothing may have been in flight before the pass starts."""
QUIET_WAIT_SECONDS = 30.0
"""The longest it waits for such a moment once the load is done."""
POLL_SECONDS = 0.01
"""How often it looks whether anything is in flight meanwhile."""


def never_busy() -> bool:
    return False


async def resume_when(
    loaded: Callable[[], Awaitable[None]],
    busy: Callable[[], bool] = never_busy,
    at_most: float = LOAD_WAIT_SECONDS,
    quiet_within: float = QUIET_WAIT_SECONDS,
) -> None:
    """Once `loaded` returns (or fails, or `at_most` seconds pass) and `busy` has been
    false for `QUIET_SECONDS` (or `quiet_within` more seconds pass): one full pass,
    freeze what survived, and turn the collector back on."""
    await asyncio.sleep(SETTLE_SECONDS)
    with contextlib.suppress(Exception):  # a failed load is answered elsewhere
        await asyncio.wait_for(loaded(), at_most)
    await quiet_moment(busy, quiet_within)
    gc.collect()
    gc.freeze()
    gc.enable()


async def quiet_moment(busy: Callable[[], bool], at_most: float) -> None:
    """Return once `busy` has been false at every look for `QUIET_SECONDS`, or after
    `at_most` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + at_most
    quiet_since: float | None = None
    while (now := loop.time()) < deadline:
        if busy():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= QUIET_SECONDS:
            return
        await asyncio.sleep(POLL_SECONDS)
