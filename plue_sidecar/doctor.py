"""`plue-sidecar doctor`: read a data directory and report what is wrong with it.

It changes nothing and needs no lock, so it can run beside a live sidecar (`doctor
--recover`, which changes the data directory, is `store.log_recovery`). It exits
non-zero when it finds anything: quarantined files (a message log among them can be
recovered as a session), documents that cannot be loaded, damaged message logs, logs
without a session, leftovers of an interrupted write or delete, damaged journal
records, sessions whose parent is gone, and a catalogue that disagrees with the
documents. Changes the journal holds but no document yet are normal
(a checkpoint writes them) and are read as the sidecar reads them: on top of the files.
What the sidecar repaired (documents rewritten from the verified copy) is listed after
the problems, and is not one.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from plue_sidecar.models.records import Session
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.catalogue.catalogue import Catalogue, Entry, checksum_of
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.documents import read_document
from plue_sidecar.store.files.layout import (
    LOG_SUFFIX,
    Layout,
    log_session_id_of,
    quarantined_file,
    session_id_of,
)
from plue_sidecar.store.files.message_log import parse_log
from plue_sidecar.store.files.stamps import Stamp, files_with_stamps, session_directories
from plue_sidecar.store.journal.journal import read_journal
from plue_sidecar.store.journal.replay import replay_journal


@dataclass
class Report:
    sessions: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        found = f"{len(self.problems)} problem(s)" if self.problems else "no problems"
        return [
            f"{self.sessions} sessions, {found}",
            *(f"- {p}" for p in self.problems),
            *(f"repaired: {r}" for r in self.repaired),
        ]


def examine(data_dir: Path) -> Report:
    layout = Layout(data_dir)
    report = Report()
    if not data_dir.is_dir():
        report.problems.append(f"{data_dir} is not a directory")
        return report
    if layout.quarantine_dir.is_dir():
        for path in sorted(layout.quarantine_dir.iterdir()):
            report.problems.append(_quarantined_problem(path))
    if layout.tombstone_file.exists():
        report.problems.append("an interrupted delete is pending (tombstone.json)")
    by_path = Root(data_dir)  # no lock is taken, no descriptor held: files are read by path
    sessions, stamps, logs = _read_documents(by_path, layout, report)
    on_disk = dict(sessions)
    journal = read_journal(by_path, layout.sessions_dir)
    report.problems.extend(journal.problems)
    report.problems.extend(
        f"{torn} (an unacknowledged write, ignored at the next start)" for torn in journal.torn
    )
    replay = replay_journal(journal.records, sessions)
    report.problems.extend(replay.problems)
    report.sessions = len(sessions)
    _check_interrupted_deletes(replay.deleted, on_disk, logs, report)
    _check_logs(layout, sessions, [s for s in logs if s not in replay.deleted], report)
    for session in sessions.values():
        if session.parent_id is not None and session.parent_id not in sessions:
            report.problems.append(f"{session.id}: its parent {session.parent_id} is missing")
    _check_catalogue(layout, on_disk, stamps, report)
    report.repaired = _repairs(layout)
    return report


def _quarantined_problem(path: Path) -> str:
    found = quarantined_file(path.name)
    if found is None or not found.is_message_log:
        return f"quarantined: {path.name}"
    records = parse_log(path.read_bytes(), found.session_id, None).records
    return (
        f"quarantined: {path.name}: the message log of {found.session_id} ({len(records)} "
        "messages), whose document is lost (or a fork that never committed); "
        "`plue-sidecar doctor --recover` restores it as a session"
    )


def _repairs(layout: Layout) -> list[str]:
    try:
        lines = layout.repairs_file.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    repaired = []
    for line in lines:
        try:
            repair = orjson.loads(line)
            repaired.append(
                f"{repair['sessionId']}: its document was damaged on disk "
                f"({repair['problem']}); rewritten from the verified copy"
            )
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # a torn last line: the repair was not recorded
    return repaired


def _read_documents(
    root: Root, layout: Layout, report: Report
) -> tuple[dict[str, Session], dict[str, Stamp], list[str]]:
    sessions: dict[str, Session] = {}
    stamps: dict[str, Stamp] = {}
    logs: list[str] = []
    for _, directory, _ in session_directories(root, layout.sessions_dir):
        for name, stamp in files_with_stamps(root, directory):
            if name.startswith("."):
                report.problems.append(f"leftover temporary file: {name}")
            elif name.endswith(LOG_SUFFIX):
                # A name that is no session's is not the sidecar's file: left alone.
                if (log_of := log_session_id_of(name)) is not None:
                    logs.append(log_of)
            elif (session_id := session_id_of(name)) is not None:
                read = read_document(root, directory / name, session_id)
                if read.session is None:
                    report.problems.append(f"{name}: {read.problem}")
                    continue
                if read.version != SESSION_SCHEMA_VERSION:
                    report.problems.append(
                        f"{name}: schemaVersion {read.version}, "
                        f"this sidecar writes {SESSION_SCHEMA_VERSION}"
                    )
                sessions[session_id] = read.session
                stamps[session_id] = stamp
    return sessions, stamps, logs


def _check_interrupted_deletes(
    deleted: set[str], on_disk: dict[str, Session], logs: list[str], report: Report
) -> None:
    """Sessions the journal deletes whose files a crash left behind (the next start
    removes them)."""
    for session_id in sorted(deleted):
        left = [
            name
            for name, there in (
                ("document", session_id in on_disk),
                ("message log", session_id in logs),
            )
            if there
        ]
        if left:
            report.problems.append(
                f"{session_id}: an interrupted delete (the journal deletes it; its "
                f"{' and '.join(left)} {'are' if len(left) > 1 else 'is'} still there and go "
                "at the next start)"
            )


def _check_logs(
    layout: Layout, sessions: dict[str, Session], logs: list[str], report: Report
) -> None:
    quarantined = _quarantined_documents(layout)
    catalogued = _catalogued_sessions(layout)
    for session_id in logs:
        session = sessions.get(session_id)
        if session is None:
            report.problems.append(_orphan_log_problem(session_id, quarantined, catalogued))
            continue
        data = layout.message_log(session_id).read_bytes()
        contents = parse_log(data, session_id, session.message_count)
        if contents.damage is not None:
            report.problems.append(f"{session_id}: {contents.damage}")
        elif contents.has_droppable_tail:
            report.problems.append(
                f"{session_id}: the message log has a torn or "
                "unacknowledged tail (cut at the next load)"
            )
    with_logs = set(logs)
    for session_id, session in sessions.items():
        if session.message_count and session_id not in with_logs:
            report.problems.append(
                f"{session_id}: it counts {session.message_count} messages but has no message log"
            )


def _quarantined_documents(layout: Layout) -> set[str]:
    if not layout.quarantine_dir.is_dir():
        return set()
    return {
        found.session_id
        for path in layout.quarantine_dir.iterdir()
        if (found := quarantined_file(path.name)) is not None and not found.is_message_log
    }


def _catalogued_sessions(layout: Layout) -> set[str]:
    if not layout.catalogue_file.exists():
        return set()
    snapshot = Catalogue(layout.catalogue_file, DurableFiles(layout.data_dir)).load()
    return set(snapshot.checksums)


def _orphan_log_problem(session_id: str, quarantined: set[str], catalogued: set[str]) -> str:
    if session_id in catalogued:
        return (
            f"{session_id}: its document is missing (the next start recovers it from the catalogue)"
        )
    if session_id in quarantined:
        return (
            f"{session_id}: a message log whose document is quarantined (the next start "
            "recovers the session from its log)"
        )
    return (
        f"{session_id}: a message log with no session (its document is lost, or a fork "
        "never committed; the next start moves it to quarantine, from where "
        "`plue-sidecar doctor --recover` restores it)"
    )


def _check_catalogue(
    layout: Layout,
    sessions: dict[str, Session],
    stamps: dict[str, Stamp],
    report: Report,
) -> None:
    if not layout.catalogue_file.exists():
        return
    snapshot = Catalogue(layout.catalogue_file, DurableFiles(layout.data_dir)).load()
    recorded: dict[str, Entry] = {
        entry.document.id: entry
        for directory in snapshot.directories.values()
        for entry in directory.entries
    }
    if not recorded and snapshot.taken_at_ns == 0:
        report.problems.append("catalogue.json is unreadable (rebuilt at the next start)")
        return
    for session_id, entry in recorded.items():
        session = sessions.get(session_id)
        if session is None:
            report.problems.append(f"catalogue lists {session_id}, which has no document")
        elif entry.stamp != stamps[session_id]:
            continue
        elif _changed_in_place(layout, entry, snapshot.checksums[session_id]):
            report.problems.append(
                f"{session_id}: its document changed in place since the catalogue recorded "
                "it (the sidecar rewrites it from the catalogue's copy)"
            )
        elif entry.document != session:
            report.problems.append(f"catalogue disagrees with the document of {session_id}")


def _changed_in_place(layout: Layout, entry: Entry, checksum: int) -> bool:
    """The row is intact (matches its checksum) and the file does not match it."""
    if checksum_of(entry.document) != checksum:
        return False
    data = layout.document(entry.document.id).read_bytes()
    return zlib.crc32(data) != checksum
