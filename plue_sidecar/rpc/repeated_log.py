"""Warnings a client can repeat at will, logged a bounded number of times.

A flood of bad frames must not become a flood of log lines: each kind of warning is
logged the 1st, 10th, 100th, ... time it happens, with the count so far.
"""

from __future__ import annotations

import logging
from typing import Any


class RepeatedWarnings:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._counts: dict[str, int] = {}
        self._next_logged: dict[str, int] = {}

    def warn(self, kind: str, message: str, *args: Any) -> None:
        """Count one `kind` of warning (a fixed category, so memory stays bounded)."""
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count < self._next_logged.get(kind, 1):
            return
        self._next_logged[kind] = max(10, count * 10)
        self._logger.warning(message + " (%d so far)", *args, count)
