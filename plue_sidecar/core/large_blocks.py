"""Freed large blocks go back to the system (glibc).

glibc maps each block of 128 KiB or more on its own and unmaps it when it is freed,
but then raises that threshold to the size of the block freed (up to 32 MiB on 64-bit
systems): after the first 1 MB message, every later one comes from the heap, whose
freed pages the process keeps. 400 MB of 1 MB appends across 10 sessions left a
sidecar at 208-258 MB RSS with the threshold moving and at 118-119 MB with it fixed
here at 128 KiB (peaks 208-292 and 194-195 MB; two runs each). Other C libraries
(macOS, musl) give large blocks back as they are.

Fixing it is one `mallopt` call through ctypes, whose import takes about 3 ms of the
event loop: it is made a second after every session is loaded, past the start's
answers, rather than during the start or at the collector's quiet moment (which a
client that never pauses puts off for 30 s, the whole of a burst of appends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
"""glibc's malloc.h: the parameter whose setting also stops its dynamic adjustment."""
THRESHOLD_BYTES = 128 * 1024
"""glibc's own starting value."""
AFTER_LOAD_SECONDS = 1.0
LOAD_WAIT_SECONDS = 10.0
"""The longest it waits for the load (a load that hangs on a dead disk)."""


async def return_after_the_start(loaded: Callable[[], Awaitable[None]]) -> bool:
    """`return_freed_large_blocks`, `AFTER_LOAD_SECONDS` after `loaded` returns (or
    fails, or `LOAD_WAIT_SECONDS` pass)."""
    with contextlib.suppress(Exception):  # a failed load is answered elsewhere
        await asyncio.wait_for(loaded(), LOAD_WAIT_SECONDS)
    await asyncio.sleep(AFTER_LOAD_SECONDS)
    fixed = return_freed_large_blocks()
    if fixed:
        log.info(
            "freed large blocks now go back to the system (mmap threshold %d bytes)",
            THRESHOLD_BYTES,
        )
    return fixed


def is_glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


def return_freed_large_blocks() -> bool:
    """Fix glibc's mmap threshold; False where the C library is not glibc or refuses."""
    if not is_glibc():
        return False
    import ctypes  # noqa: PLC0415 - at the top it would cost every start about 3 ms

    return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
