"""Session ids: `session_<ms>`, strictly increasing, never reused."""

from __future__ import annotations

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
