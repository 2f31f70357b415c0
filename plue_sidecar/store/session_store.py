"""The session store: one data directory on disk, synchronous.

Opening it (documents, migrations, interrupted deletes, the journal replayed on top:
see `loading`), checkpoints and the catalogue; the files of each session are
`files.session_files`'.
"""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue.catalogue import Catalogue, Entry, Head
from plue_sidecar.store.catalogue.head import directory_mtimes
from plue_sidecar.store.catalogue.stamp_rows import StampRows
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.disk.lock import DataDirLock
from plue_sidecar.store.disk.root import DIR_MODE
from plue_sidecar.store.files.documents import document_bytes
from plue_sidecar.store.files.layout import Layout, bucket_of
from plue_sidecar.store.files.session_files import SessionFiles
from plue_sidecar.store.files.stamps import FINE_RACY_NS, racy_window, stamp_of
from plue_sidecar.store.journal.journal import Journal
from plue_sidecar.store.loading import DataDirLoader, LoadedData

log = logging.getLogger(__name__)


class SessionStore:
    """One data directory on disk: its lock, session files, journal and catalogue.

    Synchronous (the core calls it through `SessionStorage`, on threads) and safe for
    different sessions at once; callers serialise writes to one session. Every method
    that writes is durable when it returns.
    """

    def __init__(self, data_dir: Path, lock: DataDirLock | None = None) -> None:
        """`lock`: the data directory's, when it was taken already (see `early`)."""
        self.layout = Layout(data_dir)
        self.files = DurableFiles(data_dir)
        self.sessions = SessionFiles(self.layout, self.files)
        self.catalogue = Catalogue(self.layout.catalogue_file, self.files)
        self._lock = lock or DataDirLock(data_dir)
        self.journal = Journal(self.files, self.layout.sessions_dir, 1)

    def _loader(self) -> DataDirLoader:
        return DataDirLoader(self.sessions, self.catalogue)

    # --- opening -------------------------------------------------------------

    def open(self) -> LoadedData:
        """Take the data directory's lock, finish an interrupted delete, load every
        session and replay the journal on top (see `loading`)."""
        self._take_lock()
        try:
            loaded = self._loader().load()
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
        return self._loader().head()

    def _take_lock(self) -> None:
        """Create the data directory if need be and hold its lock (once per store)."""
        self.layout.data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self._lock.acquire()
        self.files.attach(self._lock.dir_fd)

    def close(self) -> None:
        self.journal.close()
        self.files.detach()
        self._lock.release()

    # --- checkpoints and the catalogue ----------------------------------------

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
        self.sessions.remove_session_files(deleted)
        written.removed = deleted
        self.sessions.save_high_water(high_water)
        self.journal.remove_through(covered)
        return written

    def _check_room_for(self, sizes: list[int]) -> None:
        """Refuse a checkpoint the disk has no room for before it writes anything: one
        that failed half-way would keep the documents it wrote and use up the room the
        journal needs (a disk that reports no size is trusted)."""
        disk = self.files.root_handle.statvfs()
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
        return directory_mtimes(self.files.root_handle, self.layout)


@dataclass
class CheckpointWritten:
    documents: list[Entry] = field(default_factory=list)
    """Each document written, with its file's new stamp."""
    removed: list[str] = field(default_factory=list)
