"""The stamps a load took from the catalogue, kept in arrays, and how a save finds them.

A session taken from the catalogue holds True for its file's stamp (`HeldStamp`): the
stamp itself is in its row of the load's `StampRows`.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Literal

from plue_sidecar.store.files.stamps import Stamp

HeldStamp = Stamp | Literal[True]
"""What a `Session` holds of its file's stamp (`Session.stamp`): the stamp itself, or
True for the one the catalogue recorded, which the load's `StampRows` holds."""


class StampRows:
    """The stamps a load took from the catalogue: each row's session id, and three
    arrays of 64-bit numbers. Each of those sessions holds True for its stamp: a tuple
    of three ints in a dict by session id cost about 170 bytes a session, a row's
    number held by each session 32, these 24."""

    __slots__ = ("ids", "inodes", "mtimes", "sizes")

    def __init__(self, ids: list[str] | None = None) -> None:
        self.ids: list[str] = [] if ids is None else ids
        """Each row's session id, each once: extended by whoever gave the list (the
        catalogue shares its checksums' ids, in the same order)."""
        self.inodes = array("Q")
        self.mtimes = array("q")
        self.sizes = array("q")

    def __len__(self) -> int:
        return len(self.inodes)

    def extend(self, inodes: Iterable[int], mtimes: Iterable[int], sizes: Iterable[int]) -> range:
        """Add stamps (column by column, in C); the rows they were given. A number out
        of range raises OverflowError and leaves the rows as they were."""
        first = len(self.inodes)
        try:
            self.inodes.extend(inodes)
            self.mtimes.extend(mtimes)
            self.sizes.extend(sizes)
            if not len(self.inodes) == len(self.mtimes) == len(self.sizes):
                raise ValueError("as many mtimes and sizes as inodes")
        except BaseException:
            del self.inodes[first:], self.mtimes[first:], self.sizes[first:]
            raise
        return range(first, len(self.inodes))

    def __getitem__(self, row: int) -> Stamp:
        return (self.inodes[row], self.mtimes[row], self.sizes[row])

    def rows_of(self, session_ids: set[str]) -> dict[str, int]:
        """The row of each of these sessions that has one."""
        return {
            session_id: row for row, session_id in enumerate(self.ids) if session_id in session_ids
        }


MAX_WALK_RESTARTS = 64


class RowWalk:
    """Finds the rows of sessions that hold the catalogue's stamps (True), asked for
    about in the order of the rows: a save writes them in the order of the catalogue
    it was loaded from, less what changed since (a dict of every id took 5 MB at
    100,000 sessions). The walk goes on from the last row found; once it has had to
    start over more often than a save's directories could move, it makes that dict."""

    def __init__(self, rows: StampRows) -> None:
        self._rows = rows
        self._next = 0
        self._restarts = 0
        self._by_id: dict[str, int] | None = None

    def stamp(self, session_id: str, held: HeldStamp) -> Stamp:
        """`held`, or the stamp of the session's row when it is True."""
        return self._rows[self.row(session_id)] if held is True else held

    def row(self, session_id: str) -> int:
        """The row of a session that has one (ValueError if it has none)."""
        if self._by_id is not None:
            found = self._by_id.get(session_id)
            if found is None:
                raise ValueError(f"{session_id} has no row")
            return found
        ids, at = self._rows.ids, self._next
        if at < len(ids) and ids[at] == session_id:
            row = at
        else:
            try:
                row = ids.index(session_id, at)  # in C: a pass over the rows is cheap
            except ValueError:
                self._restarts += 1
                if self._restarts > MAX_WALK_RESTARTS:
                    self._by_id = dict(zip(ids, range(len(ids)), strict=True))
                    return self.row(session_id)
                row = ids.index(session_id, 0, at)
        self._next = row + 1
        return row
