"""The runner interface: what produces a turn's assistant output.

A runner is an async producer of parts, given the session's history and an abort
signal. A real model provider is one new module with a class like `EchoRunner`,
named on the command line as `module:Class`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from plue_sidecar.models.parts import Part
from plue_sidecar.models.wire import Message


@dataclass(frozen=True)
class TurnInput:
    session_id: str
    history: list[Message]
    """Every message of the session so far, the new user message last."""
    abort: asyncio.Event
    """Set when the turn is aborted; the runner's task is also cancelled."""


@dataclass(frozen=True)
class RunnerSettings:
    echo_delay_ms: int = 0


class Runner(Protocol):
    def stream(self, turn: TurnInput) -> AsyncIterator[Part]:
        """Yield the assistant's output piece by piece."""
        ...
