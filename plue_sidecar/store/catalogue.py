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
writes them: the scrub (see `scrub`) checks a row against it before it trusts the
row over a file that changed in place, and recovers a lost document from it.

The file is a JSON line, the head (padded with spaces: it is written after the body,
in the room left for it), then the body. The head holds the directories'
mtimes and, when the snapshot held every session, the newest sessions (all, and roots
only) in list order: a start whose every directory is trusted can answer the first
`session/list` pages from the head alone, while the body (every row, by directory)
loads behind it. The body is written column by column (`catalogue_columns`, version
6); a catalogue of version 5, whose body is one JSON line of rows, is still read.
"""

from __future__ import annotations

import logging
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.store import catalogue_columns, catalogue_order
from plue_sidecar.store.catalogue_columns import ColumnChunk, resolved_parents
from plue_sidecar.store.durable_io import DurableFiles
from plue_sidecar.store.head import (
    CATALOGUE_VERSION,
    READABLE_VERSIONS,
    ROW_FIELDS,
    RawHead,
    parse_head_line,
)
from plue_sidecar.store.stamps import HeldStamp, Stamp, StampRows, quiet_before
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
    """The body as written: its length, CRC-32 and each chunk of rows. Version 6: see
    `catalogue_columns`. Version 5: (directory, start, end), the bytes between a
    directory's brackets that hold up to 4,096 whole rows. It lets the load parse one
    chunk at a time: orjson's parse of the whole body held a parsed copy of it (about
    40 MB at 100,000 sessions) on top of every row, the highest point of the process's
    memory."""

    length: int
    crc: int
    chunks: list[tuple[str, int, int]]
    """Version 5's chunks."""
    columns: list[catalogue_columns.ChunkPlace] | None = None
    """Version 6's chunks (then `chunks` is empty)."""


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
        """The recorded snapshot, or an empty one when it is missing, foreign or damaged."""
        try:
            with open(self.path, "rb") as file:
                raw = parse_head_line(file.readline(), READABLE_VERSIONS)
                if raw is None:
                    return Snapshot()
                head = head_of(raw, with_sessions=False)
                if head.body is not None and head.body.columns is not None:
                    return _columns_snapshot(
                        head,
                        catalogue_columns.read_chunks(
                            file, head.body.columns, head.body.length, head.body.crc
                        ),
                    )
                if raw["version"] != 5:
                    raise ValueError("a catalogue body of no known layout")
                if head.body is not None:
                    body_start = file.tell()
                    try:
                        return _snapshot_of(head, _chunks_read(file, head.body))
                    except (
                        _BodyChangedError,
                        orjson.JSONDecodeError,
                        KeyError,
                        TypeError,
                        ValueError,
                        AttributeError,
                        OverflowError,
                    ):
                        # Not the body written with this head (edited by hand, or
                        # damaged): parse it whole.
                        file.seek(body_start)
                rows_by_directory = orjson.loads(file.read())["directories"]
            return _snapshot_of(head, rows_by_directory.items())
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
        `catalogue_order`); those in `left_out` and those without one are left out.
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

            def row(document: Session, held: HeldStamp) -> list[Any]:
                stamp = rows[held_rows[document.id]] if held is True else held
                return row_of(document, stamp)

            head.update(
                total=saved,
                rootsTotal=sum(sum(map(is_root, sessions)) for sessions, _ in parts),
                newest=[row(*pair) for pair in newest],
                newestRoots=[row(*pair) for pair in newest_roots],
            )
        self._files.write_atomic_with(
            self.path,
            lambda fd: catalogue_columns.write_with_head(fd, head, directories, parent_rows, rows),
        )


class _BodyChangedError(Exception):
    pass


def _chunks_read(file: BinaryIO, layout: BodyLayout) -> Iterator[tuple[str, list[list[Any]]]]:
    """Each chunk of rows, parsed, reading the body only as far as the chunk; the body
    is checked against its recorded length and CRC-32 after the last one, and
    `_BodyChangedError` raised then if it is not the one written."""
    position, crc = 0, 0
    for name, start, end in layout.chunks:
        if not position <= start <= end:
            raise _BodyChangedError
        data = file.read(end - position)
        if len(data) != end - position:
            raise _BodyChangedError
        crc = zlib.crc32(data, crc)
        chunk = b"[" + data[start - position :] + b"]"
        position = end
        del data
        yield name, orjson.loads(chunk)
    rest = file.read()
    if position + len(rest) != layout.length or zlib.crc32(rest, crc) != layout.crc:
        raise _BodyChangedError


def head_of(raw: RawHead, with_sessions: bool) -> Head:
    """The head of `parse_head_line`, its newest sessions built when asked and there
    (rows `head.trusted_head` checked)."""
    head = Head(int(raw["takenAt"]), dict(raw["mtimes"]), bool(raw["complete"]))
    body = raw.get("body")
    if body is not None and raw["version"] == 5:
        head.body = BodyLayout(
            int(body["length"]),
            int(body["crc"]),
            [(str(name), int(start), int(end)) for name, start, end in body["chunks"]],
        )
    elif body is not None:
        head.body = BodyLayout(
            int(body["length"]),
            int(body["crc"]),
            [],
            [
                (str(name), int(rows), int(start), int(end))
                for name, rows, start, end in body["columns"]
            ],
        )
    if with_sessions and head.complete:
        head.total, head.roots_total = int(raw["total"]), int(raw["rootsTotal"])
        head.newest = [entry_of(row).document for row in raw["newest"]]
        head.newest_roots = [entry_of(row).document for row in raw["newestRoots"]]
    return head


def row_of(session: Session, stamp: Stamp) -> list[Any]:
    share = session.share
    return [
        session.schema_version,
        session.id,
        session.parent_id,
        session.title,
        session.created_at,
        session.updated_at,
        session.message_count,
        session.is_aborted,
        session.aborted_at,
        session.runner,
        None if share is None else [share.secret, share.created_at, share.expires_at],
        *stamp,
        checksum_of(session),
    ]


def document_bytes(session: Session) -> bytes:
    """A document's file as the sidecar writes it."""
    return orjson.dumps(session.to_json())


def checksum_of(session: Session) -> int:
    return zlib.crc32(document_bytes(session))


def entry_of(row: list[Any]) -> Entry:
    if len(row) != ROW_FIELDS + 5:
        raise ValueError("a catalogue row of the wrong length")
    share = row[ROW_FIELDS]
    if share is not None:
        share = ShareRecord(secret=share[0], created_at=share[1], expires_at=share[2])
    schema, session_id, parent, title, created, updated, count, aborted, aborted_at, runner = row[
        :ROW_FIELDS
    ]
    session = Session(
        schema,
        session_id,
        parent,
        title,
        created,
        updated,
        count,
        aborted,
        aborted_at,
        runner,
        share,
    )
    inode, mtime_ns, size = row[ROW_FIELDS + 1 : ROW_FIELDS + 4]
    return Entry(session, (inode, mtime_ns, size))


_COLUMNS = [itemgetter(i) for i in range(ROW_FIELDS + 5)]
"""Each field of a row, for reading a column in C without building it."""
_STAMP_FIELDS = range(ROW_FIELDS + 1, ROW_FIELDS + 4)


def _snapshot_of(head: Head, chunks: Iterable[tuple[str, list[list[Any]]]]) -> Snapshot:
    """Every row as a `Session`, its stamp in the snapshot's `StampRows`, column by
    column, one chunk of rows at a time (each is dropped before the next is parsed).
    A catalogue the sidecar wrote lists each session once; one that lists a session
    twice was edited or damaged, and is not used.

    A loop in Python per row (unpacking it, an `Entry` each) was most of the load's time;
    here each column is read by `map` in C and `Session` is the only call per row. A
    parent id is the parent's own id string when the parent came first (one copy of
    each id in memory)."""
    col = _COLUMNS
    ids_col, checksum_col, parent_col = col[1], col[-1], col[2]
    checksums = Checksums()
    stamp_rows = StampRows(checksums.ids)  # the same rows, in the same order
    own_id: dict[str, str] = {}
    directories = {
        name: RecordedDirectory(mtime, rows=stamp_rows) for name, mtime in head.mtimes.items()
    }
    for name, rows in chunks:
        if set(map(len, rows)) - {ROW_FIELDS + 5}:
            raise ValueError("a catalogue row of the wrong length")
        ids = list(map(ids_col, rows))
        checksums.extend(ids, map(checksum_col, rows))
        own_id.update(zip(ids, ids, strict=True))
        shares: Iterator[ShareRecord | None] = map(col[ROW_FIELDS], rows)
        if list(map(col[ROW_FIELDS], rows)).count(None) != len(rows):
            shares = iter([_share_of(row[ROW_FIELDS]) for row in rows])
        recorded = directories.get(name)
        if recorded is None:
            recorded = directories[name] = RecordedDirectory(None, rows=stamp_rows)
        sessions = list(
            map(
                Session,
                map(col[0], rows),
                ids,
                map(own_id.get, map(parent_col, rows), map(parent_col, rows)),
                *(map(col[i], rows) for i in range(3, ROW_FIELDS)),
                shares,
            )
        )
        recorded.row_ranges.append(stamp_rows.extend(*(map(col[i], rows) for i in _STAMP_FIELDS)))
        _mark_stamped(sessions)
        recorded.sessions.extend(sessions)
        del rows, ids, sessions
    if len(own_id) != len(checksums):
        raise ValueError("a session twice in the catalogue")
    return Snapshot(head.taken_at_ns, directories, checksums, stamp_rows)


def _share_of(share: list[Any] | None) -> ShareRecord | None:
    if share is None:
        return None
    return ShareRecord(secret=share[0], created_at=share[1], expires_at=share[2])


def _columns_snapshot(head: Head, chunks: Iterable[ColumnChunk]) -> Snapshot:
    """Every row of a version 6 body as a `Session`, its stamp in the snapshot's
    `StampRows`, one chunk at a time; see `_snapshot_of`."""
    checksums = Checksums()
    stamp_rows = StampRows(checksums.ids)
    directories = {
        name: RecordedDirectory(mtime, rows=stamp_rows) for name, mtime in head.mtimes.items()
    }
    for chunk in chunks:
        columns = chunk.columns
        checksums.extend(columns[1], chunk.checksums)
        columns[2] = resolved_parents(columns[2], checksums.ids)
        if columns[10].count(None) != len(columns[10]):
            columns[10] = [_share_of(share) for share in columns[10]]
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
