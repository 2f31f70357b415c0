"""The catalogue: a derived index of every session document, for a fast start.

It holds each session's document together with its file's stamp (inode, mtime,
size), grouped by directory with the directory's mtime. At start a directory whose
mtime is still the recorded one (and was recorded long enough before the snapshot
that no later change can share its timestamp) is trusted whole without being
listed; in any other directory each file's stamp is compared, again only for files
quiet long enough before the snapshot, and the other files are read. So the
catalogue is never a source of truth: missing, stale or corrupt, it only makes the
start slower. It is written atomically at clean shutdown,
after a start that found it stale, and after every checkpoint.

Each row also holds the checksum (CRC-32) of its document's bytes as the sidecar
writes them: the scrub (see `files.scrub`) checks a row against it before it trusts the
row over a file that changed in place, and recovers a lost document from it.

The file is a JSON line, the head (padded with spaces: it is written after the body,
in the room left for it), then the body. The head holds the directories'
mtimes and, when the snapshot held every session, the newest sessions (all, and roots
only) in list order: a start whose every directory is trusted can answer the first
`session/list` pages from the head alone, while the body (every row, by directory)
loads behind it. The body is written column by column (see `columns`); a row's
layout is `rows`'s.
"""

from __future__ import annotations

import logging
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.store.catalogue import columns as catalogue_columns
from plue_sidecar.store.catalogue import order as catalogue_order
from plue_sidecar.store.catalogue import rows as row
from plue_sidecar.store.catalogue.columns import ColumnChunk, resolved_parents
from plue_sidecar.store.catalogue.head import CATALOGUE_VERSION, RawHead, parse_head_line
from plue_sidecar.store.catalogue.stamp_rows import HeldStamp, StampRows
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.files.documents import document_bytes
from plue_sidecar.store.files.stamps import Stamp, quiet_before
from plue_sidecar.wire_limits import MAX_PAGE_LIMIT

log = logging.getLogger(__name__)
HEAD_ROWS = MAX_PAGE_LIMIT
"""Newest sessions kept in the head: the largest page a client may ask for."""


class Entry(NamedTuple):
    document: Session
    stamp: Stamp


@dataclass
class RecordedDirectory:
    mtime_ns: int | None
    sessions: list[Session] = field(default_factory=list)
    """Each holds True for its stamp: the recorded one, in `rows`."""
    rows: StampRows = field(default_factory=StampRows)
    row_ranges: list[range] = field(default_factory=list)
    """The rows of `rows` its sessions' stamps are in, in the same order."""

    @property
    def stamps(self) -> list[Stamp]:
        """Each session's stamp, in the same order."""
        return [self.rows[row] for rows in self.row_ranges for row in rows]

    @property
    def entries(self) -> list[Entry]:
        return [Entry(*pair) for pair in zip(self.sessions, self.stamps, strict=True)]


class BodyLayout(NamedTuple):
    """The body as written: its length, CRC-32 and each chunk (see `columns`). It lets
    the load parse one chunk at a time: orjson's parse of a whole body held a parsed
    copy of it (about 40 MB at 100,000 sessions) on top of every row."""

    length: int
    crc: int
    chunks: list[catalogue_columns.ChunkPlace]


@dataclass
class Head:
    """The first line of the catalogue: enough to answer the first list pages."""

    taken_at_ns: int
    mtimes: dict[str, int | None]
    complete: bool
    """Every session was in the snapshot (none waited in the journal alone)."""
    total: int = 0
    roots_total: int = 0
    newest: list[Session] = field(default_factory=list)
    newest_roots: list[Session] = field(default_factory=list)
    body: BodyLayout | None = None
    """Where the body's chunks of rows are, when the body is still the one written."""


class Checksums:
    """Session ids with their documents' checksums, in order, as a list and an array
    of 32-bit numbers: a dict and an int object each cost 80 bytes a session, kept
    for as long as the scrub runs."""

    __slots__ = ("ids", "values")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.values = array("I")

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, session_id: str, checksum: int) -> None:
        self.values.append(checksum)
        self.ids.append(session_id)

    def extend(self, session_ids: list[str], checksums: Iterable[int]) -> None:
        values = self.values
        values.extend(checksums)
        if len(values) != len(self.ids) + len(session_ids):
            del values[len(self.ids) :]
            raise ValueError("as many checksums as sessions")
        self.ids.extend(session_ids)

    def items(self) -> Iterator[tuple[str, int]]:
        return zip(self.ids, self.values, strict=True)


@dataclass
class Snapshot:
    taken_at_ns: int = 0
    directories: dict[str, RecordedDirectory] = field(default_factory=dict)
    recorded: Checksums = field(default_factory=Checksums)
    """Each row's document checksum, in row order."""
    rows: StampRows = field(default_factory=StampRows)
    """Each row's stamp (each session of `directories` holds True for it)."""
    _by_id: dict[str, int] | None = field(default=None, repr=False)

    @property
    def checksums(self) -> dict[str, int]:
        """Each row's document checksum, by session id (made when first asked for: a
        start that trusts every directory never needs it)."""
        if self._by_id is None:
            self._by_id = dict(self.recorded.items())
        return self._by_id

    def trusts(self, relative: str, mtime_ns: int) -> bool:
        recorded = self.directories.get(relative)
        return (
            recorded is not None
            and recorded.mtime_ns == mtime_ns
            and quiet_before(mtime_ns, self.taken_at_ns)
        )

    def vouches_for(self, entry: Entry, stamp: Stamp) -> bool:
        """The row still describes the file: same stamp, and the file had been quiet
        long enough before the snapshot that a later rewrite (which may reuse the inode
        and fall in the same timestamp tick) cannot look the same."""
        return entry.stamp == stamp and quiet_before(stamp[1], self.taken_at_ns)

    def entries(self, relative: str) -> list[Entry]:
        recorded = self.directories.get(relative)
        return recorded.entries if recorded else []


class Catalogue:
    def __init__(self, path: Path, files: DurableFiles) -> None:
        self.path = path
        self._files = files

    def load(self) -> Snapshot:
        """The recorded snapshot, or an empty one when it is missing, of another version
        or damaged."""
        try:
            with self._files.open_for_reading(self.path) as file:
                raw = parse_head_line(file.readline())
                if raw is None:
                    return Snapshot()
                head = head_of(raw, with_sessions=False)
                if head.body is None:
                    raise ValueError("a catalogue head without its body's layout")
                chunks = catalogue_columns.read_chunks(
                    file, head.body.chunks, head.body.length, head.body.crc
                )
                return _snapshot_of(head, chunks)
        except FileNotFoundError:
            return Snapshot()
        except (
            orjson.JSONDecodeError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            OverflowError,
            IndexError,
        ) as exc:
            log.warning("catalogue is unreadable (%s); rebuilding it", exc)
            return Snapshot()

    def save(
        self,
        documents: list[Session],
        directory_of: Callable[[str], str],
        directory_mtimes: dict[str, int],
        taken_at_ns: int,
        complete: bool,
        *,
        stamp_rows: StampRows | None = None,
        left_out: frozenset[str] = frozenset(),
    ) -> None:
        """Write a snapshot of `documents` (taken over: emptied once in order), each
        with the stamp of the file that holds it (`Session.stamp`; see
        `order`); those in `left_out` and those without one are left out.
        Directories without a known mtime are checked file by file. `complete`:
        `documents` are every session there is, and every directory's mtime is known
        (so the head's newest sessions are the newest of all, when none is left out).
        `stamp_rows`: the rows of the stamps the documents hold as True."""
        rows = StampRows() if stamp_rows is None else stamp_rows
        given = len(documents)
        directories: dict[str, catalogue_columns.Directory] = {
            name: (sessions, stamps, array("I", map(checksum_of, sessions)))
            for name, (sessions, stamps) in catalogue_order.by_directory_in_order(
                documents, left_out, directory_of
            ).items()
        }
        parent_rows = catalogue_order.ParentRows(
            {name: sessions for name, (sessions, _, _) in directories.items()}, directory_of
        )
        saved = sum(len(sessions) for sessions, _, _ in directories.values())
        head: dict[str, Any] = {
            "version": CATALOGUE_VERSION,
            "takenAt": taken_at_ns,
            "mtimes": {name: directory_mtimes.get(name) for name in directories},
            "complete": complete
            and directory_mtimes.keys() >= directories.keys()
            and saved == given,
        }
        if head["complete"]:
            head["mtimes"] = dict(directory_mtimes)
            parts = [(sessions, stamps) for sessions, stamps, _ in directories.values()]

            def is_root(session: Session) -> bool:
                return session.parent_id is None or not parent_rows.saved(session.parent_id)

            newest = catalogue_order.newest(parts, HEAD_ROWS, lambda session: True)
            newest_roots = catalogue_order.newest(parts, HEAD_ROWS, is_root)
            held_rows = rows.rows_of(
                {document.id for document, held in (*newest, *newest_roots) if held is True}
            )

            def head_row(document: Session, held: HeldStamp) -> list[Any]:
                stamp = rows[held_rows[document.id]] if held is True else held
                return row_of(document, stamp)

            head.update(
                total=saved,
                rootsTotal=sum(sum(map(is_root, sessions)) for sessions, _ in parts),
                newest=[head_row(*pair) for pair in newest],
                newestRoots=[head_row(*pair) for pair in newest_roots],
            )
        self._files.write_atomic_with(
            self.path,
            lambda fd: catalogue_columns.write_with_head(fd, head, directories, parent_rows, rows),
        )


def head_of(raw: RawHead, with_sessions: bool) -> Head:
    """The head of `parse_head_line`, its newest sessions built when asked and there
    (rows `head.trusted_head` checked)."""
    head = Head(int(raw["takenAt"]), dict(raw["mtimes"]), bool(raw["complete"]))
    body = raw.get("body")
    if body is not None:
        head.body = BodyLayout(
            int(body["length"]),
            int(body["crc"]),
            [
                (str(name), int(rows), int(start), int(end))
                for name, rows, start, end in body["columns"]
            ],
        )
    if with_sessions and head.complete:
        head.total, head.roots_total = int(raw["total"]), int(raw["rootsTotal"])
        head.newest = list(map(session_of_row, raw["newest"]))
        head.newest_roots = list(map(session_of_row, raw["newestRoots"]))
    return head


def row_of(session: Session, stamp: Stamp) -> list[Any]:
    return row.row_of(session, stamp, checksum_of(session))


def checksum_of(session: Session) -> int:
    return zlib.crc32(document_bytes(session))


def session_of_row(fields: list[Any]) -> Session:
    """The session a row holds (see `rows`)."""
    if len(fields) != row.ROW_LENGTH:
        raise ValueError("a catalogue row of the wrong length")
    stored = fields[: row.SHARE]
    return Session(*stored, _share_of(fields[row.SHARE]))  # type: ignore[call-arg]


def entry_of(fields: list[Any]) -> Entry:
    """The session a row holds, with its file's stamp."""
    inode, mtime_ns, size = fields[row.STAMP]
    return Entry(session_of_row(fields), (inode, mtime_ns, size))


def _share_of(share: list[Any] | None) -> ShareRecord | None:
    if share is None:
        return None
    return ShareRecord(
        secret=share[row.SHARE_SECRET],
        created_at=share[row.SHARE_CREATED_AT],
        expires_at=share[row.SHARE_EXPIRES_AT],
    )


def _snapshot_of(head: Head, chunks: Iterable[ColumnChunk]) -> Snapshot:
    """Every row as a `Session`, its stamp in the snapshot's `StampRows`, one chunk at
    a time (each is dropped before the next is parsed). A catalogue the sidecar wrote
    lists each session once; one that lists a session twice was edited or damaged, and
    is not used. `Session` is the only call per row: each column is read in C, and a
    parent id is its parent's own id string when the parent came first (one copy of
    each id in memory)."""
    checksums = Checksums()
    stamp_rows = StampRows(checksums.ids)
    directories = {
        name: RecordedDirectory(mtime, rows=stamp_rows) for name, mtime in head.mtimes.items()
    }
    for chunk in chunks:
        columns = chunk.columns
        checksums.extend(columns[row.ID], chunk.checksums)
        columns[row.PARENT_ID] = resolved_parents(columns[row.PARENT_ID], checksums.ids)
        shares = columns[row.SHARE]
        if shares.count(None) != len(shares):
            columns[row.SHARE] = list(map(_share_of, shares))
        sessions = list(map(Session, *columns))
        del columns
        recorded = directories.get(chunk.directory)
        if recorded is None:
            recorded = directories[chunk.directory] = RecordedDirectory(None, rows=stamp_rows)
        recorded.row_ranges.append(stamp_rows.extend(chunk.inodes, chunk.mtimes, chunk.sizes))
        _mark_stamped(sessions)
        recorded.sessions.extend(sessions)
        del chunk, sessions
    if len(set(checksums.ids)) != len(checksums):
        raise ValueError("a session twice in the catalogue")
    return Snapshot(head.taken_at_ns, directories, checksums, stamp_rows)


def _mark_stamped(sessions: list[Session]) -> None:
    """Each session holds True: its stamp is in the snapshot's rows (set in C; `any`
    consumes the Nones setattr returns)."""
    any(map(setattr, sessions, repeat("stamp"), repeat(True)))
