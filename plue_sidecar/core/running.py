"""Which sessions have a turn running: the one record of it.

`TurnManager` alone starts and ends turns here; message appends from outside a turn
read it to refuse with `session_busy`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from plue_sidecar.core.ids import new_message_id


@dataclass
class Turn:
    session_id: str
    assistant_message_id: str = field(default_factory=new_message_id)
    abort_requested: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    discard_output: bool = False


class RunningTurns:
    def __init__(self) -> None:
        self._turns: dict[str, Turn] = {}

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._turns

    def get(self, session_id: str) -> Turn | None:
        return self._turns.get(session_id)

    def sessions(self) -> list[str]:
        return list(self._turns)

    def begin(self, turn: Turn) -> None:
        self._turns[turn.session_id] = turn

    def end(self, turn: Turn) -> None:
        if self._turns.get(turn.session_id) is turn:
            del self._turns[turn.session_id]
        turn.ended.set()
