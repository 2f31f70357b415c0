"""The files of each session (its document and message log) and of the data directory
beside them (the id high-water mark, the repairs record, quarantine).

Synchronous and durable when a method returns: the store calls it on its threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import orjson

from plue_sidecar.gc_pause import collector_paused
from plue_sidecar.models.records import MessageRecord, Session
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.files.documents import document_bytes
from plue_sidecar.store.files.layout import Layout, QuarantinedFile, quarantined_file
from plue_sidecar.store.files.message_log import LogContents, encode_record, parse_log
from plue_sidecar.store.files.stamps import Stamp, stamp_of

log = logging.getLogger(__name__)


class SessionFiles:
    def __init__(self, layout: Layout, files: DurableFiles) -> None:
        self.layout = layout
        self.files = files

    # --- documents -----------------------------------------------------------

    def save_session(self, document: Session) -> Stamp:
        """Write the document; its file's stamp, for the catalogue."""
        path = self.layout.document(document.id)
        self.files.write_atomic(path, document_bytes(document))
        return stamp_of(self.files.stat(path))

    def read_document_bytes(self, session_id: str) -> bytes | None:
        try:
            return self.files.read_bytes(self.layout.document(session_id))
        except FileNotFoundError:
            return None

    def quarantine(self, path: Path, problem: str) -> str:
        """Move a file that cannot be used to `quarantine/`, durably; its name there."""
        log.error("quarantining %s: %s", path.name, problem)
        self.files.ensure_directory(self.layout.quarantine_dir)
        target = self.layout.quarantine_dir / f"{path.name}.{int(time.time() * 1000)}"
        self.files.move(path, target)
        return target.name

    def unquarantine(self, found: QuarantinedFile) -> None:
        """Move a session's file back from quarantine to its place, durably in both
        directories (whatever is in its place is replaced: the caller checks)."""
        target = self.layout.session_dir(found.session_id) / f"{found.session_id}{found.suffix}"
        self.files.ensure_directory(target.parent)
        self.files.move(self.layout.quarantine_dir / found.name, target)

    def has_files(self, session_id: str) -> bool:
        """Whether the session's document or message log is in its place."""
        for path in self.layout.files_of(session_id):
            try:
                self.files.stat(path)
            except FileNotFoundError:
                continue
            return True
        return False

    def quarantined(self) -> list[QuarantinedFile]:
        """Each session's file in quarantine, sorted by name."""
        return [
            found
            for name in self.files.names_in(self.layout.quarantine_dir)
            if (found := quarantined_file(name)) is not None
        ]

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

    # --- deletes, ids and repairs ----------------------------------------------

    def remove_session_files(self, session_ids: list[str]) -> None:
        """Remove the files of deleted sessions (whose delete the journal already holds)."""
        self.files.remove([path for sid in session_ids for path in self.layout.files_of(sid)])

    def save_high_water(self, high_water: int) -> None:
        self.files.write_atomic(self.layout.state_file, orjson.dumps({"highWater": high_water}))

    def record_repair(self, session_id: str, problem: str) -> None:
        """Note a repair where `doctor` reports it."""
        line = {"sessionId": session_id, "at": int(time.time() * 1000), "problem": problem}
        self.files.append_durable(self.layout.repairs_file, orjson.dumps(line) + b"\n")
