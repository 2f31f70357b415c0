"""Message histories: each session's messages, loaded on first use and appended durably.

An append writes the message to the session's log first and then commits the
document's new `messageCount`, which is what makes the message acknowledged; when the
commit fails the message is cut off the log again. A client's append is refused while
a turn runs in the session; the turn's own appends (`append_for_turn`) are not.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from plue_sidecar import errors
from plue_sidecar.core.clock import now_ms
from plue_sidecar.core.ids import new_message_id
from plue_sidecar.core.running import RunningTurns
from plue_sidecar.core.sessions import SessionService
from plue_sidecar.models.fast_json import (
    JsonObject,
    message_json,
    message_page_json,
    message_record_json,
)
from plue_sidecar.models.parts import Part
from plue_sidecar.models.records import MessageRecord, Session
from plue_sidecar.models.wire import Message, MessageStatus, Role, SessionInfo
from plue_sidecar.settings import Settings
from plue_sidecar.store.storage import SessionStorage, encode_record_json

FORK_SUFFIX = " (fork)"
MAX_TITLE = 200


@dataclass
class History:
    records: list[MessageRecord] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    """Each message's encoded size: pages are bounded by bytes as well as by count."""
    by_id: dict[str, MessageRecord] = field(default_factory=dict)
    log_bytes: int = 0

    def add(self, record: MessageRecord, size: int) -> None:
        self.records.append(record)
        self.sizes.append(size)
        self.by_id[record.id] = record
        self.log_bytes += size


class MessageHistories:
    """The loaded histories, by session, least recently used first.

    They hold at most about `--history-cache-bytes` of stored messages: past that, the
    least recently used are forgotten and read back from their logs when next needed
    (the log is the source of truth; a history in use by a turn or an append stays
    valid for it). `release` forgets one at once.
    """

    def __init__(
        self,
        sessions: SessionService,
        storage: SessionStorage,
        settings: Settings,
        running: RunningTurns,
    ) -> None:
        self._sessions = sessions
        self._storage = storage
        self._settings = settings
        self._running = running
        self._histories: OrderedDict[str, History] = OrderedDict()
        self._held_bytes = 0

    # --- appends -------------------------------------------------------------

    async def append_from_client(
        self, session_id: str, role: Role, parts: Sequence[Part]
    ) -> JsonObject:
        """`message/append`: refused while a turn runs in the session; the `Message` as
        JSON."""
        if session_id in self._running:
            raise errors.session_busy(session_id)
        _, record_json = await self._append(
            session_id,
            role,
            parts,
            {},
            message_id=None,
            status="complete",
            error=None,
            created_at=None,
        )
        return message_json(record_json)

    async def append_for_turn(
        self,
        session_id: str,
        role: Role,
        parts: Sequence[Part],
        *,
        message_id: str | None = None,
        status: MessageStatus = "complete",
        error: str | None = None,
        created_at: int | None = None,
    ) -> Message:
        """A running turn's prompt (which clears the session's aborted mark) or answer."""
        changes: dict[str, Any] = {"is_aborted": False} if role == "user" else {}
        record, _ = await self._append(
            session_id,
            role,
            parts,
            changes,
            message_id=message_id,
            status=status,
            error=error,
            created_at=created_at,
        )
        return as_message(record)

    async def _append(
        self,
        session_id: str,
        role: Role,
        parts: Sequence[Part],
        changes: dict[str, Any],
        *,
        message_id: str | None,
        status: MessageStatus,
        error: str | None,
        created_at: int | None,
    ) -> tuple[MessageRecord, JsonObject]:
        """The record appended, and its JSON."""
        async with self._sessions.locked(session_id) as document:
            history = await self._loaded(document)
            self._sessions.ensure_writable(session_id)
            now = now_ms()
            record = MessageRecord(
                id=message_id or new_message_id(),
                session_id=session_id,
                seq=document.message_count + 1,
                role=role,
                parts=list(parts),
                created_at=created_at or now,
                completed_at=now,
                status=status,
                error=error,
            )
            record_json = message_record_json(record)
            line = encode_record_json(record_json)
            if len(line) > self._settings.max_message_bytes:
                raise errors.payload_too_large(len(line), self._settings.max_message_bytes)
            appended = self._storage.message_append(session_id, line)
            try:
                await self._sessions.commit(
                    document, "updated", {"message_count": record.seq, **changes}, appended
                )
            except errors.RpcError:
                if appended.written:
                    await self._storage.cut_message_log(session_id, history.log_bytes)
                raise
            history.add(record, len(line))
            if self._histories.get(session_id) is history:
                self._held_bytes += len(line)
                self._evict_beyond_budget(keep=session_id)
            return record, record_json

    # --- reads ---------------------------------------------------------------

    async def list_messages(self, session_id: str, after_seq: int, limit: int) -> JsonObject:
        """Up to `limit` messages after `after_seq`, and at most `--max-message-bytes` of
        them (at least one), so that a page's frame stays within what a client accepts;
        the `MessagePage` as JSON."""
        history = await self.history(session_id)
        budget = self._settings.max_message_bytes
        page: list[MessageRecord] = []
        used = 0
        for index in range(after_seq, min(after_seq + limit, len(history.records))):
            size = history.sizes[index]
            if page and used + size > budget:
                break
            page.append(history.records[index])
            used += size
        more = after_seq + len(page) < len(history.records)
        return message_page_json(page, page[-1].seq if more and page else None)

    async def get_message(self, session_id: str, message_id: str) -> JsonObject:
        """`message/get`: the `Message` as JSON."""
        record = (await self.history(session_id)).by_id.get(message_id)
        if record is None:
            raise errors.message_not_found(message_id)
        return message_json(message_record_json(record))

    async def history(self, session_id: str) -> History:
        loaded = self._histories.get(session_id)
        if loaded is not None:
            self._histories.move_to_end(session_id)
            return loaded
        async with self._sessions.locked(session_id) as document:
            return await self._loaded(document)

    async def fork(self, session_id: str, message_id: str | None, title: str | None) -> SessionInfo:
        """A child session holding a copy of the history up to `message_id` (all of it
        when None)."""
        async with self._sessions.locked(session_id) as source:
            history = await self._loaded(source)
            kept = history.records
            if message_id is not None:
                cut = history.by_id.get(message_id)
                if cut is None:
                    raise errors.message_not_found(message_id)
                kept = history.records[: cut.seq]
            fork_title = title or (source.title[: MAX_TITLE - len(FORK_SUFFIX)] + FORK_SUFFIX)
            return await self._sessions.create_locked(session_id, fork_title, source.runner, kept)

    def release(self, session_id: str) -> None:
        """Forget the session's loaded history; the next use reads it again."""
        self._sessions.document(session_id)
        self._forget(session_id)

    def forget(self, session_ids: Sequence[str]) -> None:
        """Drop the histories of deleted sessions."""
        for session_id in session_ids:
            self._forget(session_id)

    def _forget(self, session_id: str) -> None:
        history = self._histories.pop(session_id, None)
        if history is not None:
            self._held_bytes -= history.log_bytes

    def _evict_beyond_budget(self, keep: str) -> None:
        """Forget the least recently used histories (never `keep`) while over budget."""
        budget = self._settings.history_cache_bytes
        while self._held_bytes > budget and len(self._histories) > 1:
            oldest = next(iter(self._histories))
            if oldest == keep:
                self._histories.move_to_end(keep)
                continue
            self._forget(oldest)

    async def _loaded(self, document: Session) -> History:
        """The session's history, read from its log the first time (lock held)."""
        session_id = document.id
        loaded = self._histories.get(session_id)
        if loaded is not None:
            self._histories.move_to_end(session_id)
            return loaded
        contents = await self._storage.read_messages(session_id, document.message_count)
        history = History(log_bytes=contents.keep_bytes)
        for record, size in zip(contents.records, contents.sizes, strict=True):
            history.records.append(record)
            history.sizes.append(size)
            history.by_id[record.id] = record
        if contents.damage is not None:
            self._sessions.mark_read_only(session_id, contents.damage)
        self._histories[session_id] = history
        self._held_bytes += history.log_bytes
        self._evict_beyond_budget(keep=session_id)
        return history


def as_message(record: MessageRecord) -> Message:
    return Message.model_construct(**{name: getattr(record, name) for name in Message.model_fields})
