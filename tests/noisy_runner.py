"""A runner that writes to stdout, the way careless code does."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator

from plue_sidecar.models.parts import Part, TextPart
from plue_sidecar.runners.base import RunnerSettings, TurnInput


class NoisyRunner:
    def __init__(self, settings: RunnerSettings) -> None:
        self.settings = settings

    async def stream(self, turn: TurnInput) -> AsyncIterator[Part]:
        print("noise from print")
        os.write(1, b"noise from fd 1\n")
        subprocess.run(["echo", "noise from a child"], check=True)
        yield TextPart(text="done")
