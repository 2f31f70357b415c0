"""The session store: documents, message logs, the id high-water mark and deletes.

Synchronous and thread-safe for different sessions; the session core serialises
writes to one session. Every method that writes is durable when it returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from plue_sidecar.models.records import (
    SESSION_SCHEMA_VERSION,
    MessageRecord,
    Session,
)
from plue_sidecar.store.catalogue import (
    FINE_RACY_NS,
    Catalogue,
    Entry,
    Head,
    Snapshot,
    Stamp,
    files_with_stamps,
    racy_window,
    session_directories,
    stamp_of,
)
from plue_sidecar.store.documents import (
    journaled_ids,
    read_document,
    replay_journal,
)
from plue_sidecar.store.durable_io import DIR_MODE, DurableFiles
from plue_sidecar.store.journal import (
    Journal,
    JournalContents,
    Record,
    generations_in,
    read_journal,
)
from plue_sidecar.store.layout import LOG_SUFFIX, Layout, id_number, session_id_of
from plue_sidecar.store.lock import DataDirLock
from plue_sidecar.store.message_log import LogContents, encode_record, parse_log

log = logging.getLogger(__name__)


@dataclass
class LoadedData:
    sessions: list[Session] = field(default_factory=list)
    stamps: dict[str, Stamp] = field(default_factory=dict)
    read_only: dict[str, str] = field(default_factory=dict)
    high_water: int = 0
    quarantined: list[str] = field(default_factory=list)
    documents_read: int = 0
    """Documents read from their files because the catalogue had no valid row for them."""
    catalogue_stale: bool = False
    """The catalogue did not vouch for every session: it should be written again."""
    migrated: list[Session] = field(default_factory=list)
    """Sessions read from an older format: written back by `open` before it returns."""
    replayed: set[str] = field(default_factory=set)
    """Sessions the journal holds a newer version of than their document file."""
    deleted: set[str] = field(default_factory=set)
    """Sessions the journal deleted: their files must be gone before it is cut."""
    journal: JournalContents = field(default_factory=JournalContents)


class SessionStore:
    def __init__(self, data_dir: Path) -> None:
        self.layout = Layout(data_dir)
        self.files = DurableFiles(data_dir)
        self.catalogue = Catalogue(self.layout.catalogue_file, self.files)
        self._lock = DataDirLock(self.layout.lock_file)
        self.journal = Journal(self.files, self.layout.sessions_dir, 1)

    # --- opening -------------------------------------------------------------

    def open(self) -> LoadedData:
        """Take the data directory's lock, finish an interrupted delete, load every
        session and replay the journal on top."""
        self._take_lock()
        try:
            high_water = self._finish_interrupted_delete()
            journal = read_journal(self.layout.sessions_dir)
            migrations_done = self._completed_migration() >= SESSION_SCHEMA_VERSION
            loaded = self._load_documents(migrations_done, journaled_ids(journal.records))
            if not migrations_done or not self.layout.migration_marker.exists():
                self._write_back_migrated(loaded)
            loaded.journal = journal
            high_water = max(high_water, self._replay(journal.records, loaded))
        except BaseException:
            self._lock.release()
            raise
        self.journal = Journal(self.files, self.layout.sessions_dir, journal.next_generation)
        newest = max((id_number(s.id) for s in loaded.sessions), default=0)
        loaded.high_water = max(high_water, self._read_high_water(), newest)
        return loaded

    def open_preview(self) -> Head | None:
        """Take the lock; the catalogue's head when it alone describes the newest sessions
        (a clean last exit: nothing in the journal, every directory trusted), else None.
        `open` must follow either way."""
        self._take_lock()
        if (
            self.layout.tombstone_file.exists()
            or generations_in(self.layout.sessions_dir)
            or self._completed_migration() < SESSION_SCHEMA_VERSION
            or not self.layout.migration_marker.exists()
        ):
            return None
        head = self.catalogue.load_head()
        if head is None or not head.trusts_all(self.directory_mtimes()):
            return None
        return head

    def _take_lock(self) -> None:
        """Create the data directory if need be and hold its lock (once per store)."""
        self.layout.data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self._lock.acquire()

    def close(self) -> None:
        self.journal.close()
        self._lock.release()

    def _replay(self, records: list[Record], loaded: LoadedData) -> int:
        """Apply the journal's records in order; the highest id a delete recorded."""
        if not records:
            return 0
        sessions = {session.id: session for session in loaded.sessions}
        replay = replay_journal(records, sessions)
        loaded.sessions = list(sessions.values())
        loaded.replayed = replay.put
        loaded.deleted = replay.deleted
        for session_id in replay.deleted:
            loaded.stamps.pop(session_id, None)
            loaded.read_only.pop(session_id, None)
        for session_id in replay.put:
            document = sessions[session_id]
            if document.schema_version > SESSION_SCHEMA_VERSION:
                self._accept_newer(document, loaded)
        self._finish_deletes(sorted(replay.deleted))
        return replay.high_water

    def _finish_deletes(self, session_ids: list[str]) -> None:
        """Remove what is left of sessions the journal deleted (a crash may come between
        the delete's record and its files' removal)."""
        try:
            self.remove_session_files(session_ids)
        except OSError as exc:
            log.warning("could not remove the files of deleted sessions (%s); "
                        "they stay hidden and are removed later", exc)

    def _completed_migration(self) -> int:
        try:
            return int(orjson.loads(self.layout.migration_marker.read_bytes())["completed"])
        except FileNotFoundError:
            # A data directory without sessions has nothing to migrate.
            return SESSION_SCHEMA_VERSION if not self.layout.sessions_dir.exists() else 0
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("the migration marker is unreadable; checking every document again")
            return 0

    def _write_back_migrated(self, loaded: LoadedData) -> None:
        """Write every migrated document in the current format, then advance the marker."""
        for session in loaded.migrated:
            loaded.stamps[session.id] = self.save_session(session)
        if loaded.migrated:
            log.warning("migrated %d sessions to schemaVersion %d",
                        len(loaded.migrated), SESSION_SCHEMA_VERSION)
        marker = orjson.dumps({"completed": SESSION_SCHEMA_VERSION})
        self.files.write_atomic(self.layout.migration_marker, marker)

    def _load_documents(
        self, trust_catalogue: bool = True, journaled: frozenset[str] = frozenset()
    ) -> LoadedData:
        loaded = LoadedData()
        snapshot = self.catalogue.load() if trust_catalogue else Snapshot()
        seen: set[str] = set()
        for relative, directory, mtime_ns in session_directories(self.layout.sessions_dir):
            seen.add(relative)
            if snapshot.trusts(relative, mtime_ns):
                sessions, stamps = loaded.sessions, loaded.stamps
                for document, stamp in snapshot.entries(relative):
                    sessions.append(document)
                    stamps[document.id] = stamp
                    if document.schema_version > SESSION_SCHEMA_VERSION:
                        self._accept_newer(document, loaded)
            else:
                loaded.catalogue_stale = True
                self._load_directory(directory, snapshot, relative, loaded, journaled)
        if set(snapshot.directories) - seen:
            loaded.catalogue_stale = True
        return loaded

    def _load_directory(
        self, directory: Path, snapshot: Snapshot, relative: str, loaded: LoadedData,
        journaled: frozenset[str],
    ) -> None:
        """Trust a recorded row only where the file's stamp is unchanged; read the rest."""
        rows = {entry.document.id: entry for entry in snapshot.entries(relative)}
        present: set[str] = set()
        logs: list[str] = []
        for file, stamp in files_with_stamps(directory):
            if file.name.startswith("."):
                if file.name.endswith(".tmp"):
                    _remove_leftover(Path(file.path))
                continue
            if file.name.endswith(LOG_SUFFIX):
                logs.append(file.name.removesuffix(LOG_SUFFIX))
                continue
            session_id = session_id_of(file.name)
            if session_id is None:
                continue
            present.add(session_id)
            row = rows.get(session_id)
            if row is not None and snapshot.vouches_for(row, stamp):
                self._accept(row.document, stamp, loaded)
                continue
            loaded.documents_read += 1
            document = self._read_or_quarantine(Path(file.path), session_id, loaded)
            if document is not None:
                self._accept(document, stamp, loaded)
        self._remove_unacknowledged_logs(
            directory, [s for s in logs if s not in present and s not in journaled]
        )

    def _remove_unacknowledged_logs(self, directory: Path, orphans: list[str]) -> None:
        """A log without its document (in a file or in the journal) is left by a fork that
        never finished (its document is written last); one whose document was
        quarantined is kept."""
        quarantined = (
            {name.split(".", 1)[0] for name in os.listdir(self.layout.quarantine_dir)}
            if orphans and self.layout.quarantine_dir.is_dir() else set()
        )
        for session_id in orphans:
            if session_id not in quarantined and session_id_of(f"{session_id}.json"):
                log.warning("%s: removing the message log of a session never created",
                            session_id)
                _remove_leftover(directory / f"{session_id}{LOG_SUFFIX}")

    def _accept(self, document: Session, stamp: Stamp, loaded: LoadedData) -> None:
        loaded.stamps[document.id] = stamp
        if document.schema_version > SESSION_SCHEMA_VERSION:
            self._accept_newer(document, loaded)
        loaded.sessions.append(document)

    def _accept_newer(self, document: Session, loaded: LoadedData) -> None:
        loaded.read_only[document.id] = (
            f"written by a newer plue-sidecar (schemaVersion {document.schema_version})"
        )

    def _read_or_quarantine(
        self, path: Path, session_id: str, loaded: LoadedData
    ) -> Session | None:
        read = read_document(path, session_id)
        if read.session is None:
            if read.version > SESSION_SCHEMA_VERSION:
                log.error("%s is from a newer plue-sidecar and unreadable here (%s); "
                          "left untouched", path.name, read.problem)
            else:
                self._quarantine(path, read.problem)
                loaded.quarantined.append(path.name)
        elif read.version < SESSION_SCHEMA_VERSION:
            loaded.migrated.append(read.session)
        return read.session

    def _quarantine(self, path: Path, problem: str) -> None:
        log.error("quarantining %s: %s", path.name, problem)
        self.files.ensure_directory(self.layout.quarantine_dir)
        target = self.layout.quarantine_dir / f"{path.name}.{int(time.time() * 1000)}"
        os.replace(path, target)
        self.files.remove([])

    # --- documents -----------------------------------------------------------

    def save_session(self, document: Session) -> Stamp:
        """Write the document; its file's stamp, for the catalogue."""
        data = orjson.dumps(document.to_json())
        path = self.layout.document(document.id)
        self.files.write_atomic(path, data)
        return stamp_of(os.stat(path))

    def checkpoint(
        self, documents: list[Session], deleted: list[str], high_water: int, covered: int
    ) -> CheckpointWritten:
        """Write `documents`, remove the files of `deleted` sessions and record the id
        high-water mark (a delete in the journal may hold the only record of it); then
        the journal generations up to `covered` hold nothing the files do not, and go."""
        written = CheckpointWritten()
        paths = [self.layout.document(document.id) for document in documents]
        self.files.write_many_atomic([
            (path, orjson.dumps(document.to_json()))
            for path, document in zip(paths, documents, strict=True)
        ])
        for path, document in zip(paths, documents, strict=True):
            try:
                stamp = stamp_of(os.stat(path))
            except FileNotFoundError:
                continue  # deleted meanwhile: its delete is in a later generation
            written.documents.append(Entry(document, stamp))
        self.remove_session_files(deleted)
        written.removed = deleted
        self.save_high_water(high_water)
        self.journal.remove_through(covered)
        return written

    def save_catalogue(
        self, entries: list[Entry], directory_mtimes: dict[str, int], taken_at_ns: int,
        complete: bool = False,
    ) -> None:
        """Write the catalogue; `directory_mtimes` only when no write was in flight."""
        self.catalogue.save(
            entries, self._relative_directory, directory_mtimes, taken_at_ns, complete
        )

    def wait_until_directories_are_quiet(self) -> None:
        """Sleep the few milliseconds until no directory changed within its racy window,
        so a catalogue written now can vouch for every directory (see `catalogue`)."""
        now = time.time_ns()
        due = max((mtime + FINE_RACY_NS for mtime in self.directory_mtimes().values()
                   if racy_window(mtime) == FINE_RACY_NS), default=now)
        if due >= now:
            time.sleep((due - now) / 1e9 + 0.001)

    def directory_mtimes(self) -> dict[str, int]:
        return {
            relative: mtime
            for relative, _, mtime in session_directories(self.layout.sessions_dir)
        }

    def _relative_directory(self, session_id: str) -> str:
        return str(self.layout.session_dir(session_id).relative_to(self.layout.sessions_dir))

    # --- message logs --------------------------------------------------------

    def read_messages(self, session_id: str, acknowledged: int) -> LogContents:
        """Load a log; cut a torn or unacknowledged tail so appends start clean."""
        path = self.layout.message_log(session_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        contents = parse_log(data, session_id, acknowledged)
        if contents.has_droppable_tail:
            self.files.truncate(path, contents.keep_bytes)
            contents.total_bytes = contents.keep_bytes
        return contents

    def append_message(self, record: MessageRecord) -> None:
        self.files.append_durable(self.layout.message_log(record.session_id), encode_record(record))

    def cut_message_log(self, session_id: str, size: int) -> None:
        self.files.truncate(self.layout.message_log(session_id), size)

    def write_messages(self, session_id: str, records: Iterable[MessageRecord]) -> None:
        data = b"".join(encode_record(record) for record in records)
        self.files.write_atomic(self.layout.message_log(session_id), data)

    # --- deletes and ids -----------------------------------------------------

    def remove_session_files(self, session_ids: list[str]) -> None:
        """Remove the files of deleted sessions (whose delete the journal already holds)."""
        self.files.remove([path for sid in session_ids for path in self.layout.files_of(sid)])

    def _remove_and_clear_tombstone(self, session_ids: list[str], high_water: int) -> None:
        """Tombstones are how deletes were committed before the journal: finished, never made."""
        self.remove_session_files(session_ids)
        self.save_high_water(high_water)
        self.files.remove([self.layout.tombstone_file])

    def _finish_interrupted_delete(self) -> int:
        path = self.layout.tombstone_file
        if not path.exists():
            return 0
        try:
            tombstone = orjson.loads(path.read_bytes())
            listed = tombstone["sessionIds"]
            session_ids = [sid for sid in listed if session_id_of(f"{sid}.json")]
            high_water = int(tombstone["highWater"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # A tombstone is written atomically, so it is whole or absent; this is damage.
            log.error("ignoring an unreadable tombstone")
            self.files.remove([path])
            return 0
        log.warning("finishing an interrupted delete of %s", ", ".join(session_ids))
        self._remove_and_clear_tombstone(session_ids, high_water)
        return high_water

    def save_high_water(self, high_water: int) -> None:
        self.files.write_atomic(self.layout.state_file, orjson.dumps({"highWater": high_water}))

    def _read_high_water(self) -> int:
        try:
            return int(orjson.loads(self.layout.state_file.read_bytes())["highWater"])
        except FileNotFoundError:
            return 0
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("state.json is unreadable; ids continue from the newest session")
            return 0


@dataclass
class CheckpointWritten:
    documents: list[Entry] = field(default_factory=list)
    """Each document written, with its file's new stamp."""
    removed: list[str] = field(default_factory=list)


def _remove_leftover(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
