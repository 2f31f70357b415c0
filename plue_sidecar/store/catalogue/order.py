"""The order a catalogue save writes its sessions in, and the head's newest of them.

Rows go by directory, each oldest first in the list's order (`updatedAt`, then the
id's number; see `core.index.sort_key`): the load then meets the sessions nearly in
the recency index's order, and that index's sort is a merge. A save runs beside the
event loop with every session in memory, so what it holds counts: it sorts the
sessions in place by the int each holds, `updated_at`, then puts the rare runs of
equal `updated_at` in id order (an entry pairing each session with its stamp, sorted
into a new list by a new key made of both numbers, took 13 MB at 100,000 sessions).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from itertools import islice
from operator import attrgetter, eq

from plue_sidecar.models.records import Session
from plue_sidecar.session_format import id_number
from plue_sidecar.store.catalogue.stamp_rows import HeldStamp

Ordered = dict[str, tuple[list[Session], list[HeldStamp]]]
"""Each directory's sessions in the order written, with their files' stamps."""
_updated_at = attrgetter("updated_at")


def by_directory_in_order(
    documents: list[Session], left_out: frozenset[str], directory_of: Callable[[str], str]
) -> Ordered:
    """`documents` (sorted in place, then emptied) by directory, in the order written,
    each with the stamp it holds as it is put in order: those in `left_out`, and those
    that hold none (a session deleted meanwhile), are left out."""
    documents.sort(key=_updated_at)
    updated = list(map(_updated_at, documents))
    if any(map(eq, updated, islice(updated, 1, None))):
        _in_id_order_when_updated_together(documents, updated)
    del updated
    ordered: Ordered = {}
    for document in documents:
        stamp = document.stamp
        if stamp is None or document.id in left_out:
            continue
        name = directory_of(document.id)
        part = ordered.get(name)
        if part is None:
            part = ordered[name] = ([], [])
        part[0].append(document)
        part[1].append(stamp)
    documents.clear()
    return ordered


def _in_id_order_when_updated_together(documents: list[Session], updated: list[int]) -> None:
    start = 0
    for end in range(1, len(updated) + 1):
        if end == len(updated) or updated[end] != updated[start]:
            if end - start > 1:
                documents[start:end] = sorted(documents[start:end], key=_id_number)
            start = end


def _id_number(session: Session) -> int:
    return id_number(session.id)


def recency(session: Session) -> tuple[int, int]:
    return session.updated_at, id_number(session.id)


def newest(
    parts: Iterable[tuple[list[Session], list[HeldStamp]]],
    count: int,
    keep: Callable[[Session], bool],
) -> list[tuple[Session, HeldStamp]]:
    """The `count` newest sessions that `keep` keeps, newest first, with their stamps,
    from sessions given in parts (a directory each), each part oldest first."""
    found: list[tuple[Session, HeldStamp]] = []
    for sessions, stamps in parts:
        kept = 0
        for index in range(len(sessions) - 1, -1, -1):
            if kept == count:
                break
            if keep(sessions[index]):
                found.append((sessions[index], stamps[index]))
                kept += 1
    found.sort(key=lambda pair: recency(pair[0]), reverse=True)
    return found[:count]


class ParentRows:
    """The row of each session some session names as its parent, in sessions ordered
    by directory (`Ordered`'s order). Only the parents are kept by id, each with its
    document: its row is found in its directory by its `updated_at` (a dict of every
    id took 8 MB at 100,000 sessions; of the parents, with a set of them and their
    rows as numbers, 4.5 MB)."""

    def __init__(self, parts: dict[str, list[Session]], directory_of: Callable[[str], str]) -> None:
        self._parts = parts
        self._directory_of = directory_of
        parents: dict[str, Session | None] = dict.fromkeys(
            session.parent_id
            for sessions in parts.values()
            for session in sessions
            if session.parent_id is not None
        )
        self._firsts: dict[str, int] = {}
        first = 0
        for name, sessions in parts.items():
            self._firsts[name] = first
            first += len(sessions)
            for session in sessions:
                if session.id in parents:
                    parents[session.id] = session
        self._parents = parents

    def saved(self, session_id: str) -> bool:
        """Whether this session, some session's parent, is among those saved."""
        return self._parents.get(session_id) is not None

    def row(self, session_id: str) -> int | None:
        """The row of a saved session some session names as its parent, else None."""
        parent = self._parents.get(session_id)
        if parent is None:
            return None
        name = self._directory_of(parent.id)
        sessions = self._parts[name]
        index = bisect_left(sessions, parent.updated_at, key=_updated_at)
        while sessions[index] is not parent:  # past others updated at the same moment
            index += 1
        return self._firsts[name] + index
