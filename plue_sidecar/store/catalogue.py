"""The catalogue: a derived index of every session document, for a fast start.

It holds each session's document together with its file's stamp (inode, mtime,
size), grouped by directory with the directory's mtime. At start a directory whose
mtime is still the recorded one (and was recorded long enough before the snapshot
that no later change can share its timestamp) is trusted whole without being
listed; in any other directory each file's stamp is compared, again only for files
quiet long enough before the snapshot, and the other files are read. So the
catalogue is never a source of truth: missing, stale or corrupt, it only makes the
start slower. It is written atomically at clean shutdown,
after a start that found it stale, and every few thousand changes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from plue_sidecar.models.records import Session, ShareRecord
from plue_sidecar.store.durable_io import DurableFiles

log = logging.getLogger(__name__)
CATALOGUE_VERSION = 2
RACY_NS = 2_000_000_000
"""A directory changed this close to the snapshot may change again with the same mtime."""
_ROW_FIELDS = 10
"""Leading fields of a row, in `Session` field order; then share and the stamp."""

Stamp = tuple[int, int, int]
"""A file's (inode, mtime in ns, size): a replaced or edited file gets a new one."""


def stamp_of(stat: os.stat_result) -> Stamp:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


class Entry(NamedTuple):
    document: Session
    stamp: Stamp


@dataclass
class RecordedDirectory:
    mtime_ns: int | None
    entries: list[Entry]


@dataclass
class Snapshot:
    taken_at_ns: int = 0
    directories: dict[str, RecordedDirectory] = field(default_factory=dict)

    def trusts(self, relative: str, mtime_ns: int) -> bool:
        recorded = self.directories.get(relative)
        return (
            recorded is not None
            and recorded.mtime_ns == mtime_ns
            and mtime_ns + RACY_NS < self.taken_at_ns
        )

    def vouches_for(self, entry: Entry, stamp: Stamp) -> bool:
        """The row still describes the file: same stamp, and the file had been quiet
        long enough before the snapshot that a later rewrite (which may reuse the inode
        and fall in the same timestamp tick) cannot look the same."""
        return entry.stamp == stamp and stamp[1] + RACY_NS < self.taken_at_ns

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
            raw = orjson.loads(self.path.read_bytes())
            if raw.get("version") != CATALOGUE_VERSION:
                log.warning("catalogue has version %r; rebuilding it", raw.get("version"))
                return Snapshot()
            return Snapshot(
                int(raw["takenAt"]),
                {
                    name: RecordedDirectory(
                        recorded["mtime"], [entry_of(row) for row in recorded["rows"]]
                    )
                    for name, recorded in raw["directories"].items()
                },
            )
        except FileNotFoundError:
            return Snapshot()
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("catalogue is unreadable (%s); rebuilding it", exc)
            return Snapshot()

    def save(
        self,
        entries: Iterable[Entry],
        directory_of: Callable[[str], str],
        directory_mtimes: dict[str, int],
        taken_at_ns: int,
    ) -> None:
        """Write a snapshot; directories without a known mtime are checked file by file."""
        directories: dict[str, dict[str, Any]] = {}
        for entry in entries:
            relative = directory_of(entry.document.id)
            recorded = directories.get(relative)
            if recorded is None:
                recorded = directories[relative] = {
                    "mtime": directory_mtimes.get(relative), "rows": [],
                }
            recorded["rows"].append(row_of(entry))
        document = {"version": CATALOGUE_VERSION, "takenAt": taken_at_ns,
                    "directories": directories}
        self._files.write_atomic(self.path, orjson.dumps(document))


def row_of(entry: Entry) -> list[Any]:
    session = entry.document
    share = session.share
    return [
        session.schema_version, session.id, session.parent_id, session.title,
        session.created_at, session.updated_at, session.message_count, session.is_aborted,
        session.aborted_at, session.runner,
        None if share is None else [share.secret, share.created_at, share.expires_at],
        *entry.stamp,
    ]


def entry_of(row: list[Any]) -> Entry:
    if len(row) != _ROW_FIELDS + 4:
        raise ValueError("a catalogue row of the wrong length")
    share = row[_ROW_FIELDS]
    if share is not None:
        share = ShareRecord(secret=share[0], created_at=share[1], expires_at=share[2])
    schema, session_id, parent, title, created, updated, count, aborted, aborted_at, runner = (
        row[:_ROW_FIELDS]
    )
    session = Session(
        schema, session_id, parent, title, created, updated, count, aborted, aborted_at, runner,
        share,
    )
    inode, mtime_ns, size = row[_ROW_FIELDS + 1 :]
    return Entry(session, (inode, mtime_ns, size))


def session_directories(sessions_dir: Path) -> Iterator[tuple[str, Path, int]]:
    """Each `<yyyy>/<mm>` directory: its name relative to `sessions_dir`, path and mtime."""
    if not sessions_dir.is_dir():
        return
    with os.scandir(sessions_dir) as years:
        year_dirs = [Path(y.path) for y in years if y.is_dir(follow_symlinks=False)]
    for year in year_dirs:
        with os.scandir(year) as months:
            for month in months:
                if month.is_dir(follow_symlinks=False):
                    mtime = month.stat(follow_symlinks=False).st_mtime_ns
                    yield f"{year.name}/{month.name}", Path(month.path), mtime


def files_with_stamps(directory: Path) -> Iterator[tuple[os.DirEntry[str], Stamp]]:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                yield entry, stamp_of(entry.stat(follow_symlinks=False))
