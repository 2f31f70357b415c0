"""Reading stored documents and replaying the journal over them.

One module for both readers of a data directory: the store, when it opens one, and
`doctor`, which reads without changing anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from pydantic import ValidationError

from plue_sidecar.models.records import Session, SessionDocument
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.journal import Record
from plue_sidecar.store.migrations import migrate, version_of

log = logging.getLogger(__name__)


@dataclass
class DocumentRead:
    session: Session | None
    problem: str = ""
    version: int = SESSION_SCHEMA_VERSION
    """The version the file was written in (the session is always the current one)."""


def read_document(path: Path, session_id: str) -> DocumentRead:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return DocumentRead(None, f"unreadable: {exc.strerror}")
    if not raw.strip(b"\x00 \n\t\r"):
        return DocumentRead(None, "empty or NUL-filled")
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return DocumentRead(None, f"invalid JSON: {exc}")
    return document_from_fields(fields, session_id)


def document_from_fields(fields: object, session_id: str | None) -> DocumentRead:
    """Validate (and migrate) a stored document; `session_id` is the id it must have."""
    if not isinstance(fields, dict):
        return DocumentRead(None, "not a JSON object")
    version = version_of(fields)
    try:
        document = SessionDocument.model_validate(migrate(fields))
    except ValidationError as exc:
        return DocumentRead(None, f"invalid document: {exc.error_count()} problems", version)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return DocumentRead(None, f"cannot migrate from version {version}: {exc}", version)
    if session_id is not None and document.id != session_id:
        return DocumentRead(None, f"its id {document.id!r} does not match its file name")
    return DocumentRead(Session.from_document(document), version=version)


@dataclass
class JournalReplay:
    put: set[str] = field(default_factory=set)
    """Sessions whose newest version came from the journal."""
    deleted: set[str] = field(default_factory=set)
    high_water: int = 0
    """The highest id a delete recorded."""
    problems: list[str] = field(default_factory=list)


def replay_journal(records: list[Record], sessions: dict[str, Session]) -> JournalReplay:
    """Apply journal records, oldest first, to `sessions` (documents as their files hold them)."""
    replay = JournalReplay()
    for record in records:
        if "put" in record:
            read = document_from_fields(record["put"], None)
            if read.session is None:
                log.error("journal: skipping a record that is not a document (%s)", read.problem)
                replay.problems.append(f"a journal record is not a document: {read.problem}")
                continue
            sessions[read.session.id] = read.session
            replay.put.add(read.session.id)
            replay.deleted.discard(read.session.id)
        elif "delete" in record:
            for session_id in record["delete"]:
                sessions.pop(session_id, None)
                replay.put.discard(session_id)
                replay.deleted.add(session_id)
            replay.high_water = max(replay.high_water, int(record.get("highWater", 0)))
    return replay


def journaled_ids(records: list[Record]) -> frozenset[str]:
    """Sessions the journal leaves alive: their message logs are not orphans."""
    alive: set[str] = set()
    for record in records:
        put = record.get("put")
        if isinstance(put, dict) and isinstance(put.get("id"), str):
            alive.add(put["id"])
        for session_id in record.get("delete", ()):
            alive.discard(session_id)
    return frozenset(alive)
