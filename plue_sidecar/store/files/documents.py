"""Session documents as stored: reading and validating one (migrated to the current
format), and the bytes the sidecar writes for one.

For both readers of a data directory: the store, when it opens one, and `doctor`,
which reads without changing anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import ValidationError

from plue_sidecar.models.records import Session, SessionDocument
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.migrations import migrate, version_of

log = logging.getLogger(__name__)


@dataclass
class DocumentRead:
    session: Session | None
    problem: str = ""
    version: int = SESSION_SCHEMA_VERSION
    """The version the file was written in (the session is always the current one)."""


def read_document(root: Root, path: Path, session_id: str) -> DocumentRead:
    try:
        raw = root.read_bytes(path)
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


def document_bytes(session: Session) -> bytes:
    """A document's file as the sidecar writes it."""
    return orjson.dumps(session.to_json())
