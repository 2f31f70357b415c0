"""What is stored on disk: documents with a schemaVersion, distinct from wire models."""

from __future__ import annotations

from pydantic import Field

from plue_sidecar.models.base import Millis, WireModel
from plue_sidecar.models.wire import Message

SESSION_SCHEMA_VERSION = 1
MESSAGE_SCHEMA_VERSION = 1


class ShareRecord(WireModel):
    secret: str
    created_at: Millis
    expires_at: Millis | None = None

    def is_live(self, now: Millis) -> bool:
        return self.expires_at is None or now < self.expires_at


class SessionDocument(WireModel):
    """One session as stored in `sessions/<yyyy>/<mm>/<id>.json`."""

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
