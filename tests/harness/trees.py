"""Session trees as a test's model of the sidecar knows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class HasParent(Protocol):
    parent: str | None


def descendants(sessions: Mapping[str, HasParent], root: str) -> set[str]:
    """`root` and every session below it."""
    found = {root}
    grew = True
    while grew:
        grew = False
        for session_id, known in sessions.items():
            if known.parent in found and session_id not in found:
                found.add(session_id)
                grew = True
    return found
