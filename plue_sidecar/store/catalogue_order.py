"""The order a catalogue save writes its sessions in, and the head's newest of them.

Rows go oldest first in the list's order (`updatedAt`, then the id's number; see
`core.index.sort_key`): the load then meets the sessions nearly in the recency index's
order, and that index's sort is a merge. A save runs beside the event loop with every
session in memory, so what it holds counts: the sort keys each entry by the int it
already holds, `updated_at` (a key made of both numbers, one new int per session, took
5 MB at 100,000 sessions), then puts the rare runs of equal `updated_at` in id order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from operator import attrgetter, eq
from typing import Protocol, TypeVar

from plue_sidecar.models.records import Session
from plue_sidecar.session_format import id_number
from plue_sidecar.store.stamps import Stamp


class Sorted(Protocol):
    @property
    def document(self) -> Session: ...


T = TypeVar("T", bound=Sorted)
_updated_at = attrgetter("document.updated_at")


def sort_by_recency(entries: list[T]) -> None:
    """Sort `entries` in place, oldest first in the list's order."""
    entries.sort(key=_updated_at)
    updated = list(map(_updated_at, entries))
    if not any(map(eq, updated, islice(updated, 1, None))):
        return
    start = 0
    for end in range(1, len(updated) + 1):
        if end == len(updated) or updated[end] != updated[start]:
            if end - start > 1:
                entries[start:end] = sorted(entries[start:end], key=_entry_id_number)
            start = end


def _entry_id_number(entry: Sorted) -> int:
    return id_number(entry.document.id)


def recency(session: Session) -> tuple[int, int]:
    return session.updated_at, id_number(session.id)


def newest(
    columns: Iterable[tuple[list[Session], list[Stamp | int]]], count: int,
    keep: Callable[[Session], bool],
) -> list[tuple[Session, Stamp | int]]:
    """The `count` newest sessions that `keep` keeps, newest first, with their stamps,
    from sessions given in parts (a directory each), each part oldest first."""
    found: list[tuple[Session, Stamp | int]] = []
    for sessions, stamps in columns:
        kept = 0
        for index in range(len(sessions) - 1, -1, -1):
            if kept == count:
                break
            if keep(sessions[index]):
                found.append((sessions[index], stamps[index]))
                kept += 1
    found.sort(key=lambda pair: recency(pair[0]), reverse=True)
    return found[:count]
