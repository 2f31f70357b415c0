"""What a catalogue save takes from memory on the event loop: little, and in C.

The catalogue pairs each session with the stamp of the file that holds that very
version, as memory has them at one moment; memory changes only on the loop, so that
moment is taken there. Making an `Entry` for each of 100,000 sessions took about
100 ms of the loop. The loop now takes only what may change after it (which document
each session is, the stamp each holds, which are dirty) in a few C-speed copies, and
the entries are made from those on a store thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue import SavedEntry
from plue_sidecar.store.stamps import HeldStamp, StampRows

_STAMP = attrgetter("stamp")


@dataclass(frozen=True)
class HeldStamps:
    documents: list[Session]
    held: list[HeldStamp | None]
    """Each document's stamp as it was then (a checkpoint may set it later)."""
    dirty: frozenset[str]
    """Sessions whose newest version was in the journal only."""
    rows: StampRows
    """The load's catalogue stamps, for the documents that held True (they do not
    change after the load)."""

    @classmethod
    def take(cls, documents: Iterable[Session], dirty: set[str], rows: StampRows) -> HeldStamps:
        listed = list(documents)
        return cls(listed, list(map(_STAMP, listed)), frozenset(dirty), rows)

    def entries(self) -> list[SavedEntry]:
        """Each session whose file held its version then, with that file's stamp (by its
        row in `rows` for the catalogue's)."""
        entries = self._entries_in_row_order()
        return self._entries_by_id() if entries is None else entries

    def _entries_in_row_order(self) -> list[SavedEntry] | None:
        """`entries`, when the sessions holding the catalogue's stamps come in the order
        of its rows, as the load leaves them (memory keeps that order: a change replaces
        a session in place, a new one comes last): each is found by one walk along the
        rows, where a dict of them by id took 5 MB at 100,000 sessions. None when the
        walk runs off the rows' end."""
        entries: list[SavedEntry] = []
        ids, dirty = self.rows.ids, self.dirty
        row, rows = 0, len(ids)
        for document, held in zip(self.documents, self.held, strict=True):
            if held is None or document.id in dirty:
                continue
            if held is not True:
                entries.append(SavedEntry(document, held))
                continue
            while row < rows and ids[row] != document.id:
                row += 1
            if row == rows:
                return None
            entries.append(SavedEntry(document, row))
            row += 1
        return entries

    def _entries_by_id(self) -> list[SavedEntry]:
        entries: list[SavedEntry] = []
        recorded: dict[str, Session] = {}
        for document, held in zip(self.documents, self.held, strict=True):
            if document.id in self.dirty:
                continue
            if held is True:
                recorded[document.id] = document
            elif held is not None:
                entries.append(SavedEntry(document, held))

        def holds_recorded(session_id: str) -> Literal[True] | None:
            return True if session_id in recorded else None

        entries.extend(SavedEntry(recorded[session_id], row)
                       for session_id, row in self.rows.recorded(holds_recorded))
        return entries

    def complete(self, entries: list[SavedEntry]) -> bool:
        """Whether `entries` (made by `entries`) are every session there was."""
        return len(entries) == len(self.documents)
