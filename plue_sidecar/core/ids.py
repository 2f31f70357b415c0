"""Session ids (`session_<ms>`, strictly increasing, never reused) and message ids
(`msg_` and 128 random bits)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from plue_sidecar.core.clock import now_ms
from plue_sidecar.session_format import SESSION_ID_PREFIX


class SessionIdAllocator:
    """Hands out the current millisecond, or the next free one after the last issued."""

    def __init__(self, high_water: int, clock: Callable[[], int] = now_ms) -> None:
        self.high_water = high_water
        self._clock = clock

    def allocate(self) -> str:
        self.high_water = max(self._clock(), self.high_water + 1)
        return f"{SESSION_ID_PREFIX}{self.high_water:013d}"


MESSAGE_ID_BYTES = 16
_IDS_PER_DRAW = 256


class _RandomPool:
    """Random bytes drawn from the OS in blocks: `os.urandom` gives up the GIL, and on
    the event loop, with the store's threads waiting for it, each call cost about 40 us
    (a profile of appends in flight) where a slice of the block costs well under one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._used = 0

    def take(self, size: int) -> bytes:
        with self._lock:
            if self._used + size > len(self._block):
                self._block = os.urandom(size * _IDS_PER_DRAW)
                self._used = 0
            start, self._used = self._used, self._used + size
            return self._block[start : self._used]


_pool = _RandomPool()


def new_message_id() -> str:
    return f"msg_{_pool.take(MESSAGE_ID_BYTES).hex()}"
