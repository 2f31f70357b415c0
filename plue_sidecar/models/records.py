"""What is stored on disk: documents with a schemaVersion, distinct from wire models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from plue_sidecar.models.base import Millis, WireModel
from plue_sidecar.models.wire import Message
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION

MESSAGE_SCHEMA_VERSION = 1


class ShareRecord(WireModel):
    secret: str
    created_at: Millis
    expires_at: Millis | None = None

    def is_live(self, now: Millis) -> bool:
        return self.expires_at is None or now < self.expires_at


class SessionDocument(WireModel):
    """One session as stored in `sessions/<yyyy>/<mm>/<id>.json`: validates what is read."""

    schema_version: int = SESSION_SCHEMA_VERSION
    id: str
    parent_id: str | None = None
    title: str
    created_at: Millis
    updated_at: Millis
    message_count: int = 0
    is_aborted: bool = False
    aborted_at: Millis | None = None
    share: ShareRecord | None = None
    runner: str | None = None


class MessageRecord(Message):
    """One line of a session's message log: a message plus its record version."""

    schema_version: int = Field(default=MESSAGE_SCHEMA_VERSION, alias="v")


@dataclass(slots=True)
class Session:
    """A session as the core keeps it in memory: light, built fast from the catalogue.

    Treated as immutable: a change makes a new one with `dataclasses.replace`.
    Field order is the catalogue's row order.
    """

    schema_version: int
    id: str
    parent_id: str | None
    title: str
    created_at: int
    updated_at: int
    message_count: int
    is_aborted: bool
    aborted_at: int | None
    runner: str | None
    share: ShareRecord | None
    stamp: tuple[int, int, int] | Literal[True] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The stamp of the file that holds this very version, set by the store (see
    `store.catalogue.stamp_rows`): the stamp itself, or True for the one the catalogue recorded (the
    load keeps those); None while no file is known to hold it. Not part of the
    document: a changed version (`dataclasses.replace`) starts without one."""

    @classmethod
    def from_document(cls, document: SessionDocument) -> Session:
        return cls(
            document.schema_version,
            document.id,
            document.parent_id,
            document.title,
            document.created_at,
            document.updated_at,
            document.message_count,
            document.is_aborted,
            document.aborted_at,
            document.runner,
            document.share,
        )

    def to_json(self) -> dict[str, Any]:
        """The stored document, camelCase, as `SessionDocument` reads it back.

        Written out by hand because every change pays for it; a test holds it equal to
        `SessionDocument`'s own serialisation.
        """
        share = self.share
        return {
            "schemaVersion": self.schema_version,
            **self.info_fields(),
            "share": None
            if share is None
            else {
                "secret": share.secret,
                "createdAt": share.created_at,
                "expiresAt": share.expires_at,
            },
            "runner": self.runner,
        }

    def info_fields(self) -> dict[str, Any]:
        """The fields the stored document and the wire's `SessionInfo` share, in order."""
        return {
            "id": self.id,
            "parentId": self.parent_id,
            "title": self.title,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "messageCount": self.message_count,
            "isAborted": self.is_aborted,
            "abortedAt": self.aborted_at,
        }
