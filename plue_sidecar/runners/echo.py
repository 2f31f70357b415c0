"""The echo runner: streams the last user text back word by word. For tests and demos."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from plue_sidecar.models.parts import Part, TextPart
from plue_sidecar.runners.base import RunnerSettings, TurnInput

_WORDS = re.compile(r"\s*\S+\s*|\s+")


class EchoRunner:
    def __init__(self, settings: RunnerSettings) -> None:
        self._delay = settings.echo_delay_ms / 1000

    async def stream(self, turn: TurnInput) -> AsyncIterator[Part]:
        for word in _WORDS.findall(_last_user_text(turn)):
            if self._delay:
                await asyncio.sleep(self._delay)
            else:
                await asyncio.sleep(0)
            yield TextPart(text=word)


def _last_user_text(turn: TurnInput) -> str:
    for message in reversed(turn.history):
        if message.role == "user":
            return "".join(part.text for part in message.parts if isinstance(part, TextPart))
    return ""
