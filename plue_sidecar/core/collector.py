"""The cyclic garbage collector during the start.

The start makes objects that live as long as the process (modules, models, every
session), and pygls's import leaves megabytes of cyclic garbage (attrs rebuilds each
lsprotocol class). With the collector on, each of its passes rescans the survivors,
which costs the start tens of milliseconds. So it is off from the first import until
the first answers are out and every session is loaded; then one full pass frees the
garbage, the survivors are frozen out of every later pass, and it is on again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable

SETTLE_SECONDS = 0.2
"""How long after the data directory opens the one full pass waits: past the first answers."""


async def resume_when(loaded: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(SETTLE_SECONDS)
    with contextlib.suppress(Exception):  # a failed load is answered elsewhere
        await loaded()
    gc.collect()
    gc.freeze()
    gc.enable()
