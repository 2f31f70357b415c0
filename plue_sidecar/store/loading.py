"""Reading a whole data directory into memory when the store opens it.

The documents come from the catalogue where it vouches for them and from their files
where it does not; documents in an older format are migrated and written back; a
delete interrupted by a crash is finished; damaged documents go to quarantine; the
journal is replayed on top. A message log whose document is gone becomes a session
again: from the catalogue's row when it has one, else from the log itself when its
document was quarantined; any other goes to quarantine too (`doctor --recover` brings it
back). The store (`SessionStore.open`) holds the lock meanwhile, and every file is read
through the directory it locked (`DurableFiles.root_handle`), never by its path, which
may lead elsewhere by now.
"""

from __future__ import annotations

import contextlib
import logging
from array import array
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from pathlib import Path

import orjson

from plue_sidecar.models.records import Session
from plue_sidecar.session_format import SESSION_ID_PREFIX, SESSION_SCHEMA_VERSION, id_number
from plue_sidecar.store.catalogue.catalogue import (
    Catalogue,
    Checksums,
    Entry,
    Head,
    Snapshot,
    checksum_of,
    head_of,
)
from plue_sidecar.store.catalogue.head import completed_migration, trusted_head
from plue_sidecar.store.catalogue.stamp_rows import StampRows
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.documents import read_document
from plue_sidecar.store.files.layout import (
    LOG_SUFFIX,
    is_session_id,
    log_session_id_of,
    session_id_of,
)
from plue_sidecar.store.files.message_log import session_from_log
from plue_sidecar.store.files.session_files import SessionFiles
from plue_sidecar.store.files.stamps import Stamp, files_with_stamps, session_directories
from plue_sidecar.store.journal.journal import JournalContents, Record, read_journal
from plue_sidecar.store.journal.replay import journaled_ids, replay_journal

log = logging.getLogger(__name__)
_ID_DIGITS = itemgetter(slice(len(SESSION_ID_PREFIX), None))


@dataclass
class LoadedData:
    sessions: list[Session] = field(default_factory=list)
    """Each holds its file's stamp (`Session.stamp`), or None when no file holds it."""
    stamp_rows: StampRows = field(default_factory=StampRows)
    """The stamps the sessions taken from the catalogue hold the rows of."""
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
    unverified: Checksums = field(default_factory=Checksums)
    """Sessions taken from the catalogue without reading their files, with the checksum
    the catalogue recorded: the scrub compares them with their files."""
    recovered: list[Session] = field(default_factory=list)
    """Sessions whose document was gone, rebuilt: written back by `open`."""
    id_numbers: array[int] | None = None
    """Each session's id number, in the order of `sessions`, for the index (which
    empties it); None when one does not fit in 64 bits."""


class DataDirLoader:
    """One load of a data directory, for `SessionStore.open` and `open_preview`."""

    def __init__(self, sessions: SessionFiles, catalogue: Catalogue) -> None:
        self._sessions = sessions
        self._catalogue = catalogue
        self.layout = sessions.layout
        self.files = sessions.files

    @property
    def _root(self) -> Root:
        return self.files.root_handle

    def load(self) -> LoadedData:
        high_water = self._finish_interrupted_delete()
        journal = read_journal(self._root, self.layout.sessions_dir)
        migrations_done = completed_migration(self._root, self.layout) >= SESSION_SCHEMA_VERSION
        loaded = self._load_documents(migrations_done, journaled_ids(journal.records))
        if not migrations_done or not self._root.lexists(self.layout.migration_marker):
            self._write_back_migrated(loaded)
        for session in loaded.recovered:
            session.stamp = self._sessions.save_session(session)
        loaded.journal = journal
        high_water = max(high_water, self._replay(journal.records, loaded))
        loaded.id_numbers = _id_numbers(loaded.sessions)
        newest = max(
            loaded.id_numbers
            if loaded.id_numbers is not None
            else map(int, map(_ID_DIGITS, map(attrgetter("id"), loaded.sessions))),
            default=0,
        )
        loaded.high_water = max(
            high_water, self._read_high_water(), newest, self._newest_in_quarantine()
        )
        return loaded

    def head(self) -> Head | None:
        """The catalogue's head when it alone describes the newest sessions."""
        raw = trusted_head(self._root, self.layout)
        if raw is None:
            return None
        try:
            return head_of(raw, with_sessions=True)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("catalogue head is unreadable (%s)", exc)
            return None

    def _replay(self, records: list[Record], loaded: LoadedData) -> int:
        """Apply the journal's records in order; the highest id a delete recorded."""
        if not records:
            return 0
        sessions = dict(
            zip(map(attrgetter("id"), loaded.sessions), loaded.sessions, strict=True)
        )  # in C: a comprehension took 9 ms at 100,000
        replay = replay_journal(records, sessions)
        loaded.sessions = list(sessions.values())
        loaded.replayed = replay.put
        loaded.deleted = replay.deleted
        for session_id in replay.deleted:
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
            self._sessions.remove_session_files(session_ids)
        except OSError as exc:
            log.warning(
                "could not remove the files of deleted sessions (%s); "
                "they stay hidden and are removed later",
                exc,
            )

    def _write_back_migrated(self, loaded: LoadedData) -> None:
        """Write every migrated document in the current format, then advance the marker."""
        for session in loaded.migrated:
            session.stamp = self._sessions.save_session(session)
        if loaded.migrated:
            log.warning(
                "migrated %d sessions to schemaVersion %d",
                len(loaded.migrated),
                SESSION_SCHEMA_VERSION,
            )
        marker = orjson.dumps({"completed": SESSION_SCHEMA_VERSION})
        self.files.write_atomic(self.layout.migration_marker, marker)

    def _load_documents(
        self, trust_catalogue: bool = True, journaled: frozenset[str] = frozenset()
    ) -> LoadedData:
        loaded = LoadedData()
        snapshot = self._catalogue.load() if trust_catalogue else Snapshot()
        loaded.stamp_rows = snapshot.rows
        seen: set[str] = set()
        trusted: list[list[str]] = []
        for relative, directory, mtime_ns in session_directories(
            self._root, self.layout.sessions_dir
        ):
            seen.add(relative)
            if snapshot.trusts(relative, mtime_ns):
                recorded = snapshot.directories[relative]
                ids = list(map(attrgetter("id"), recorded.sessions))
                loaded.sessions.extend(recorded.sessions)  # each holds True: in stamp_rows
                trusted.append(ids)
                if (
                    max(map(attrgetter("schema_version"), recorded.sessions), default=0)
                    > SESSION_SCHEMA_VERSION
                ):
                    for document in recorded.sessions:
                        if document.schema_version > SESSION_SCHEMA_VERSION:
                            self._accept_newer(document, loaded)
            else:
                loaded.catalogue_stale = True
                self._load_directory(directory, snapshot, relative, loaded, journaled)
        if set(snapshot.directories) - seen:
            loaded.catalogue_stale = True
        if not loaded.catalogue_stale:
            # Every row was trusted: the snapshot's checksums are exactly the unverified.
            loaded.unverified = snapshot.recorded
        else:
            checksums = snapshot.checksums
            for ids in trusted:
                loaded.unverified.extend(ids, map(checksums.__getitem__, ids))
        return loaded

    def _load_directory(
        self,
        directory: Path,
        snapshot: Snapshot,
        relative: str,
        loaded: LoadedData,
        journaled: frozenset[str],
    ) -> None:
        """Trust a recorded row only where the file's stamp is unchanged; read the rest."""
        rows = {entry.document.id: entry for entry in snapshot.entries(relative)}
        present: set[str] = set()
        logs: list[str] = []
        for name, stamp in files_with_stamps(self._root, directory):
            if name.startswith("."):
                if name.endswith(".tmp"):
                    self._remove_leftover(directory / name)
                continue
            if name.endswith(LOG_SUFFIX):
                log_of = log_session_id_of(name)
                if log_of is not None:
                    logs.append(log_of)
                continue
            session_id = session_id_of(name)
            if session_id is None:
                continue
            present.add(session_id)
            row = rows.get(session_id)
            if row is not None and snapshot.vouches_for(row, stamp):
                self._accept(row.document, stamp, loaded)
                loaded.unverified.add(session_id, snapshot.checksums[session_id])
                continue
            loaded.documents_read += 1
            document = self._read_or_quarantine(directory / name, session_id, loaded)
            if document is not None:
                self._accept(document, stamp, loaded)
            elif loaded.quarantined and loaded.quarantined[-1] == name:
                present.discard(session_id)  # its log is recovered below
        self._recover_or_quarantine_orphan_logs(
            directory,
            [s for s in logs if s not in present and s not in journaled],
            rows,
            snapshot,
            loaded,
        )

    def _recover_or_quarantine_orphan_logs(
        self,
        directory: Path,
        orphans: list[str],
        rows: dict[str, Entry],
        snapshot: Snapshot,
        loaded: LoadedData,
    ) -> None:
        """A log without its document (in a file or in the journal) belongs to a session
        whose document was lost when the catalogue lists it or its document was
        quarantined: the session is rebuilt. Otherwise nothing tells a lost document
        from a fork that never committed (a fork writes its log before its session):
        the log goes to quarantine, never deleted on a guess, for `doctor --recover`."""
        quarantined_documents = (
            {found.session_id for found in self._sessions.quarantined() if not found.is_message_log}
            if orphans
            else set()
        )
        for session_id in orphans:
            path = directory / f"{session_id}{LOG_SUFFIX}"
            row = rows.get(session_id)
            if row is not None and checksum_of(row.document) == snapshot.checksums[session_id]:
                log.error("%s: its document is missing; recovered from the catalogue", session_id)
                self._recovered(row.document, loaded)
                continue
            if session_id in quarantined_documents:
                recovered = session_from_log(session_id, self._root.read_bytes(path))
                if recovered is not None:
                    log.error(
                        "%s: its document is lost; recovered from its message log", session_id
                    )
                    self._recovered(recovered, loaded)
                    continue
            self._sessions.quarantine(
                path,
                "a message log without a session (its document is lost, or a fork never "
                "committed); `plue-sidecar doctor --recover` restores it",
            )
            loaded.quarantined.append(path.name)

    def _remove_leftover(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            self._root.unlink(path)

    def _recovered(self, document: Session, loaded: LoadedData) -> None:
        loaded.recovered.append(document)
        loaded.sessions.append(document)

    def _accept(self, document: Session, stamp: Stamp, loaded: LoadedData) -> None:
        document.stamp = stamp
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
        read = read_document(self._root, path, session_id)
        if read.session is None:
            if read.version > SESSION_SCHEMA_VERSION:
                log.error(
                    "%s is from a newer plue-sidecar and unreadable here (%s); left untouched",
                    path.name,
                    read.problem,
                )
            else:
                self._sessions.quarantine(path, read.problem)
                loaded.quarantined.append(path.name)
        elif read.version < SESSION_SCHEMA_VERSION:
            loaded.migrated.append(read.session)
        return read.session

    def _remove_and_clear_tombstone(self, session_ids: list[str], high_water: int) -> None:
        """Tombstones are how deletes were committed before the journal: finished, never made."""
        self._sessions.remove_session_files(session_ids)
        self._sessions.save_high_water(high_water)
        self.files.remove([self.layout.tombstone_file])

    def _finish_interrupted_delete(self) -> int:
        path = self.layout.tombstone_file
        try:
            raw = self._root.read_bytes(path)
        except FileNotFoundError:
            return 0
        try:
            tombstone = orjson.loads(raw)
            listed = tombstone["sessionIds"]
            session_ids = [sid for sid in listed if is_session_id(sid)]
            high_water = int(tombstone["highWater"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # A tombstone is written atomically, so it is whole or absent; this is damage.
            log.error("ignoring an unreadable tombstone")
            self.files.remove([path])
            return 0
        log.warning("finishing an interrupted delete of %s", ", ".join(session_ids))
        self._remove_and_clear_tombstone(session_ids, high_water)
        return high_water

    def _newest_in_quarantine(self) -> int:
        """The newest id a file in quarantine holds: no new session may take it, so
        that `doctor --recover` can bring that one back."""
        return max(
            (id_number(found.session_id) for found in self._sessions.quarantined()), default=0
        )

    def _read_high_water(self) -> int:
        try:
            return int(orjson.loads(self._root.read_bytes(self.layout.state_file))["highWater"])
        except FileNotFoundError:
            return 0
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("state.json is unreadable; ids continue from the newest session")
            return 0


def _id_numbers(sessions: list[Session]) -> array[int] | None:
    """Each session's `id_number` (in C, without keeping an int object for each:
    100,000 of them held 3 MB, which the allocator kept after they were freed)."""
    try:
        return array("Q", map(int, map(_ID_DIGITS, map(attrgetter("id"), sessions))))
    except OverflowError:
        return None
