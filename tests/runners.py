"""Runners that misbehave, for tests: named on the command line as tests.runners:Name."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from plue_sidecar.models.parts import Part, ReasoningPart, TextPart
from plue_sidecar.runners.base import RunnerSettings, TurnInput


class StubbornRunner:
    """Ignores cancellation and keeps producing output; says so on stderr each time."""

    def __init__(self, settings: RunnerSettings) -> None:
        self.settings = settings

    async def stream(self, turn: TurnInput) -> AsyncIterator[Part]:
        for index in range(1000):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.02)
            sys.stderr.write(f"stubborn runner: word {index}\n")
            sys.stderr.flush()
            yield TextPart(text=f"w{index} ")


class FailingRunner:
    """Produces some output, then fails."""

    def __init__(self, settings: RunnerSettings) -> None:
        self.settings = settings

    async def stream(self, turn: TurnInput) -> AsyncIterator[Part]:
        yield ReasoningPart(text="thinking")
        yield TextPart(text="partial")
        raise RuntimeError("the model went away")
