"""`plue-sidecar doctor --recover`: message logs in quarantine brought back as sessions.

A start moves to quarantine each message log that has no session and nothing to rebuild
one from (see `loading`): nothing tells a session whose document and catalogue row were
lost from a fork that never committed, and nothing a user wrote is deleted on a guess.
This brings each such log back as a session: its document rebuilt from the log
(`session_from_log`). A session that exists is never overwritten: when its id is
taken (a document or a log in its place, the journal), the log stays in quarantine.

It changes the data directory, so it holds the directory's lock (no sidecar runs
meanwhile) and first loads it as a start does (the journal replayed, an interrupted
delete finished, a log without its session quarantined). Each step is durable before
the next: the id high-water mark, then for each log its move back into place, then its
document. A crash between a move and its document leaves a log without a session,
which the next start (or this, run again) puts back in quarantine, and this recovers:
nothing is lost, nothing is half restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from plue_sidecar.models.records import Session
from plue_sidecar.session_format import id_number
from plue_sidecar.store.files.layout import QuarantinedFile
from plue_sidecar.store.files.message_log import session_from_log
from plue_sidecar.store.loading import LoadedData
from plue_sidecar.store.session_store import SessionStore


@dataclass
class Recovery:
    recovered: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    """Logs left in quarantine, each with why."""

    def lines(self) -> list[str]:
        return [*self.recovered, *self.left] or ["no message log in quarantine to recover"]


def recover_quarantined_logs(data_dir: Path) -> Recovery:
    """Bring back every message log in quarantine that can be. Raises
    `DataDirLockedError` while a sidecar holds the data directory, and `OSError` when
    the load fails (a failure after it is reported in `Recovery.left`)."""
    store = SessionStore(data_dir)
    loaded = store.open()
    try:
        return _recover(store, loaded)
    finally:
        store.close()


def _recover(store: SessionStore, loaded: LoadedData) -> Recovery:
    recovery = Recovery()
    taken = {session.id for session in loaded.sessions} | loaded.deleted
    chosen: list[tuple[QuarantinedFile, Session]] = []
    for found in store.sessions.quarantined():
        if not found.is_message_log:
            continue
        if found.session_id in taken or store.sessions.has_files(found.session_id):
            recovery.left.append(
                f"{found.name}: left in quarantine, {found.session_id} exists "
                "(a session is never overwritten)"
            )
            continue
        data = store.files.read_bytes(store.layout.quarantine_dir / found.name)
        document = session_from_log(found.session_id, data)
        if document is None:
            recovery.left.append(f"{found.name}: left in quarantine, it holds no whole message")
            continue
        taken.add(document.id)
        chosen.append((found, document))
    try:
        if chosen:
            newest = max(id_number(document.id) for _, document in chosen)
            store.sessions.save_high_water(max(loaded.high_water, newest))
        for found, document in chosen:
            store.sessions.unquarantine(found)
            store.sessions.save_session(document)
            recovery.recovered.append(
                f"{document.id}: recovered from {found.name} ({document.message_count} "
                f"messages, titled {document.title!r})"
            )
    except OSError as exc:
        recovery.left.append(
            f"stopped: {exc}; what is not recovered yet stays in quarantine (a log moved "
            "back without its document goes back there at the next start, or run): run "
            "`plue-sidecar doctor --recover` again"
        )
    return recovery
