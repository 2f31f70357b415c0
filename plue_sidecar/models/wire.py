"""Params and results of every method, and the notifications: the wire format."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from plue_sidecar.models.base import MessageId, Millis, SessionId, Title, WireModel
from plue_sidecar.models.parts import Part, PartList
from plue_sidecar.wire_limits import MAX_PAGE_LIMIT, MAX_PROCESS_ID, SESSION_PAGE_DEFAULT

Role = Literal["user", "assistant", "system"]
MessageStatus = Literal["complete", "aborted", "error"]
StopReason = Literal["end_turn", "aborted", "error"]
ChangeKind = Literal["created", "updated", "deleted", "aborted", "shared", "unshared"]
PageLimit = Annotated[int, Field(ge=1, le=MAX_PAGE_LIMIT)]
MAX_SHARE_SECONDS = 365 * 24 * 3600
CURSOR_PATTERN = r"^[0-9]+\.[0-9]+$"
"""ASCII digits only: str.isdigit() also accepts '²', which int() then refuses."""


class ShareInfo(WireModel):
    url: str
    secret: str
    created_at: Millis
    expires_at: Millis | None


class SessionInfo(WireModel):
    id: str
    parent_id: str | None
    title: str
    created_at: Millis
    updated_at: Millis
    message_count: int
    is_aborted: bool
    aborted_at: Millis | None
    share: ShareInfo | None


class Message(WireModel):
    id: str
    session_id: str
    seq: int
    role: Role
    parts: list[Part]
    created_at: Millis
    completed_at: Millis | None = None
    status: MessageStatus = "complete"
    error: str | None = None


# --- lifecycle ---------------------------------------------------------------


class ClientInfo(WireModel):
    name: str
    version: str | None = None


class InitializeParams(WireModel):
    process_id: Annotated[int, Field(ge=1, le=MAX_PROCESS_ID)] | None = None
    client_info: ClientInfo | None = None
    protocol_version: int | None = None


class ServerInfo(WireModel):
    name: str
    version: str


class Capabilities(WireModel):
    methods: list[str]
    notifications: list[str]
    runners: list[str]


class InitializeResult(WireModel):
    protocol_version: int
    server_info: ServerInfo
    data_dir: str
    capabilities: Capabilities


# --- sessions ----------------------------------------------------------------


class SessionRef(WireModel):
    session_id: SessionId


class CreateSessionParams(WireModel):
    parent_id: SessionId | None = None
    title: Title | None = None
    runner: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ListSessionsParams(WireModel):
    parent_id: SessionId | None = None
    roots_only: bool = False
    limit: PageLimit = SESSION_PAGE_DEFAULT
    cursor: Annotated[str, Field(max_length=100, pattern=CURSOR_PATTERN)] | None = None


class SessionPage(WireModel):
    sessions: list[SessionInfo]
    next_cursor: str | None


class UpdateTitleParams(WireModel):
    session_id: SessionId
    title: Title


class DeleteResult(WireModel):
    deleted: list[str]


class AbortResult(WireModel):
    session_id: str
    cancelled: int


class ShareParams(WireModel):
    session_id: SessionId
    expires_in_seconds: Annotated[int, Field(ge=1, le=MAX_SHARE_SECONDS)] | None = None


class ResolveShareParams(WireModel):
    secret: Annotated[str, Field(min_length=1, max_length=200)]


class ResolvedShare(WireModel):
    session: SessionInfo


class CloseResult(WireModel):
    closed: bool = True


# --- messages and turns ------------------------------------------------------


class AppendMessageParams(WireModel):
    session_id: SessionId
    role: Role
    parts: PartList


class ListMessagesParams(WireModel):
    session_id: SessionId
    after_seq: Annotated[int, Field(ge=0)] = 0
    limit: PageLimit = 200


class MessagePage(WireModel):
    messages: list[Message]
    next_after_seq: int | None


class MessageRef(WireModel):
    session_id: SessionId
    message_id: MessageId


class ForkParams(WireModel):
    session_id: SessionId
    message_id: MessageId | None = None
    title: Title | None = None


class PromptParams(WireModel):
    session_id: SessionId
    parts: PartList


class PromptResult(WireModel):
    user_message_id: str
    assistant_message_id: str
    stop_reason: StopReason


# --- notifications -----------------------------------------------------------


class SessionChange(WireModel):
    change: ChangeKind
    session_id: str
    session: SessionInfo | None = None


class SessionUpdate(WireModel):
    session_id: str
    message_id: str
    seq: int
    delta: Part
