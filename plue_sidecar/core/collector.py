"""The cyclic garbage collector during the start.

The start makes objects that live as long as the process (modules, models, every
session), and pygls's import leaves megabytes of cyclic garbage (attrs rebuilds each
lsprotocol class). With the collector on, each of its passes rescans the survivors,
which costs the start tens of milliseconds. So it is off from the first import until
the first answers are out and every session is loaded (or a deadline passes: see
`resume_when`); then one full pass frees the
garbage, the survivors are frozen out of every later pass, and it is on again.
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


async def resume_when(
    loaded: Callable[[], Awaitable[None]], at_most: float = LOAD_WAIT_SECONDS
) -> None:
    """Once `loaded` returns (or fails, or `at_most` seconds pass): one full pass, freeze
    what survived, and turn the collector back on."""
    await asyncio.sleep(SETTLE_SECONDS)
    with contextlib.suppress(Exception):  # a failed load is answered elsewhere
        await asyncio.wait_for(loaded(), at_most)
    gc.collect()
    gc.freeze()
    gc.enable()
