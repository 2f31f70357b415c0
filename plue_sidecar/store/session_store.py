"""The session store: documents, message logs, the id high-water mark and deletes.

Opening a data directory (documents, migrations, interrupted deletes, the journal
replayed on top), checkpoints and the catalogue, and the files of each session.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from plue_sidecar.gc_pause import collector_paused
from plue_sidecar.models.records import (
    MessageRecord,
    Session,
)
from plue_sidecar.store.catalogue import Catalogue, Entry, Head, document_bytes
from plue_sidecar.store.durable_io import DurableFiles
from plue_sidecar.store.head import directory_mtimes
from plue_sidecar.store.journal import (
    Journal,
)
from plue_sidecar.store.layout import Layout, bucket_of
from plue_sidecar.store.loading import DataDirLoader, LoadedData
from plue_sidecar.store.lock import DataDirLock
from plue_sidecar.store.message_log import LogContents, encode_record, parse_log
from plue_sidecar.store.modes import DIR_MODE
from plue_sidecar.store.stamps import (
    FINE_RACY_NS,
    Stamp,
    StampRows,
    racy_window,
    stamp_of,
)

log = logging.getLogger(__name__)


class SessionStore:
    """One data directory on disk: its lock, documents, journal, message logs,
    catalogue and id high-water mark.

    Synchronous (the core calls it through `SessionStorage`, on threads) and safe for
    different sessions at once; callers serialise writes to one session. Every method
    that writes is durable when it returns.
    """

    def __init__(self, data_dir: Path, lock: DataDirLock | None = None) -> None:
        """`lock`: the data directory's, when it was taken already (see `early`)."""
        self.layout = Layout(data_dir)
        self.files = DurableFiles(data_dir)
        self.catalogue = Catalogue(self.layout.catalogue_file, self.files)
        self._lock = lock or DataDirLock(data_dir)
        self.journal = Journal(self.files, self.layout.sessions_dir, 1)

    # --- opening -------------------------------------------------------------

    def open(self) -> LoadedData:
        """Take the data directory's lock, finish an interrupted delete, load every
        session and replay the journal on top (see `loading`)."""
        self._take_lock()
        try:
            loaded = DataDirLoader(self).load()
        except BaseException:
            self.files.detach()
            self._lock.release()
            raise
        self.journal = Journal(self.files, self.layout.sessions_dir, loaded.journal.next_generation)
        return loaded

    def open_preview(self) -> Head | None:
        """Take the lock; the catalogue's head when it alone describes the newest sessions
        (a clean last exit: nothing in the journal, every directory trusted), else None.
        `open` must follow either way."""
        self._take_lock()
        return DataDirLoader(self).head()

    def _take_lock(self) -> None:
        """Create the data directory if need be and hold its lock (once per store)."""
        self.layout.data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self._lock.acquire()
        self.files.attach(self._lock.dir_fd)

    def close(self) -> None:
        self.journal.close()
        self.files.detach()
        self._lock.release()

    # --- documents -----------------------------------------------------------

    def save_session(self, document: Session) -> Stamp:
        """Write the document; its file's stamp, for the catalogue."""
        data = document_bytes(document)
        path = self.layout.document(document.id)
        self.files.write_atomic(path, data)
        return stamp_of(self.files.stat(path))

    def checkpoint(
        self, documents: list[Session], deleted: list[str], high_water: int, covered: int
    ) -> CheckpointWritten:
        """Write `documents`, remove the files of `deleted` sessions and record the id
        high-water mark (a delete in the journal may hold the only record of it); then
        the journal generations up to `covered` hold nothing the files do not, and go."""
        written = CheckpointWritten()
        paths = [self.layout.document(document.id) for document in documents]
        files = [
            (path, document_bytes(document))
            for path, document in zip(paths, documents, strict=True)
        ]
        self._check_room_for([len(data) for _, data in files])
        self.files.write_many_atomic(files)
        for path, document in zip(paths, documents, strict=True):
            try:
                stamp = stamp_of(self.files.stat(path))
            except FileNotFoundError:
                continue  # deleted meanwhile: its delete is in a later generation
            written.documents.append(Entry(document, stamp))
        self.remove_session_files(deleted)
        written.removed = deleted
        self.save_high_water(high_water)
        self.journal.remove_through(covered)
        return written

    def _check_room_for(self, sizes: list[int]) -> None:
        """Refuse a checkpoint the disk has no room for before it writes anything: one
        that failed half-way would keep the documents it wrote and use up the room the
        journal needs (a disk that reports no size is trusted)."""
        disk = os.statvfs(self.layout.data_dir)
        block = disk.f_frsize or disk.f_bsize
        if not disk.f_blocks or not block:
            return
        needed = sum(-(-size // block) * block for size in sizes)
        if needed > disk.f_bavail * block:
            raise OSError(
                errno.ENOSPC, f"the documents need {needed} bytes, more than the disk has free"
            )

    def save_catalogue(
        self,
        documents: list[Session],
        directory_mtimes: dict[str, int],
        taken_at_ns: int,
        complete: bool = False,
        stamp_rows: StampRows | None = None,
        *,
        left_out: frozenset[str] = frozenset(),
    ) -> None:
        """Write the catalogue; `directory_mtimes` only when no write was in flight.
        `documents` are taken over (see `Catalogue.save`)."""
        self.catalogue.save(
            documents,
            bucket_of,
            directory_mtimes,
            taken_at_ns,
            complete,
            stamp_rows=stamp_rows,
            left_out=left_out,
        )

    def wait_until_directories_are_quiet(self) -> None:
        """Sleep the few milliseconds until no directory changed within its racy window,
        so a catalogue written now can vouch for every directory (see `catalogue`)."""
        now = time.time_ns()
        due = max(
            (
                mtime + FINE_RACY_NS
                for mtime in self.directory_mtimes().values()
                if racy_window(mtime) == FINE_RACY_NS
            ),
            default=now,
        )
        if due >= now:
            time.sleep((due - now) / 1e9 + 0.001)

    def directory_mtimes(self) -> dict[str, int]:
        return directory_mtimes(self.layout)

    # --- message logs --------------------------------------------------------

    def read_messages(self, session_id: str, acknowledged: int) -> LogContents:
        """Load a log; cut a torn or unacknowledged tail so appends start clean."""
        path = self.layout.message_log(session_id)
        try:
            data = self.files.read_bytes(path)
        except FileNotFoundError:
            data = b""
        with collector_paused():
            contents = parse_log(data, session_id, acknowledged)
        if contents.has_droppable_tail:
            self.files.truncate(path, contents.keep_bytes)
            contents.total_bytes = contents.keep_bytes
        return contents

    def append_message(self, session_id: str, line: bytes) -> None:
        """Append one record's `line` (`message_log.encode_record`) to the session's log."""
        self.files.append_durable(self.layout.message_log(session_id), line)

    def cut_message_log(self, session_id: str, size: int) -> None:
        self.files.truncate(self.layout.message_log(session_id), size)

    def write_messages(self, session_id: str, records: Iterable[MessageRecord]) -> None:
        data = b"".join(encode_record(record) for record in records)
        self.files.write_atomic(self.layout.message_log(session_id), data)

    # --- deletes and ids -----------------------------------------------------

    def remove_session_files(self, session_ids: list[str]) -> None:
        """Remove the files of deleted sessions (whose delete the journal already holds)."""
        self.files.remove([path for sid in session_ids for path in self.layout.files_of(sid)])

    def save_high_water(self, high_water: int) -> None:
        self.files.write_atomic(self.layout.state_file, orjson.dumps({"highWater": high_water}))

    # --- scrubbing -----------------------------------------------------------

    def read_document_bytes(self, session_id: str) -> bytes | None:
        try:
            return self.files.read_bytes(self.layout.document(session_id))
        except FileNotFoundError:
            return None

    def record_repair(self, session_id: str, problem: str) -> None:
        """Note a repair where `doctor` reports it."""
        line = {"sessionId": session_id, "at": int(time.time() * 1000), "problem": problem}
        self.files.append_durable(self.layout.repairs_file, orjson.dumps(line) + b"\n")


@dataclass
class CheckpointWritten:
    documents: list[Entry] = field(default_factory=list)
    """Each document written, with its file's new stamp."""
    removed: list[str] = field(default_factory=list)
