"""The sessions: every one in memory, changed only after the disk has changed.

Each change follows one path: take the session's lock, build the new document, make it
durable (`SessionStorage.journaled`), then swap it into memory and announce it. A
failed write raises before the swap, so memory stays as it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

from plue_sidecar import errors
from plue_sidecar.core.clock import now_ms
from plue_sidecar.core.ids import SessionIdAllocator, new_message_id
from plue_sidecar.core.index import SessionIndex, sort_key
from plue_sidecar.core.info_cache import SessionInfoCache
from plue_sidecar.core.opening import Loader, OpenedStore, Opening
from plue_sidecar.core.ordering import decode_cursor
from plue_sidecar.core.shares import new_secret
from plue_sidecar.models.fast_json import JsonObject
from plue_sidecar.models.records import MessageRecord, Session, ShareRecord
from plue_sidecar.models.wire import ChangeKind, SessionChange, SessionInfo, ShareInfo
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.settings import Settings
from plue_sidecar.store.storage import Before, SessionStorage

log = logging.getLogger(__name__)
DEFAULT_TITLE = "New Session"


class ChangeSink(Protocol):
    def session_changed(self, change: SessionChange) -> None: ...

    def session_changed_json(self, change: JsonObject) -> None:
        """`session_changed` with the change already as its JSON (a create's, built from
        the `SessionInfo` JSON the answer carries too)."""
        ...


class SessionService:
    """Owns the sessions: their documents, index, locks, ids and read-only marks.

    Reads are answered from memory; every write goes through `commit` (or the journal
    record of a create or delete) and is announced to the sink once durable. Message
    histories live beside it, in `core.histories`, and use its locks and `commit`.

    It has more methods than most classes here (about twenty public and private)
    because each session method a client can call is one of them; what they share
    (the index, the locks, the read-only marks) is its state, and splitting the writes
    from the reads would only pass that state around.
    """

    def __init__(
        self,
        storage: SessionStorage,
        settings: Settings,
        sink: ChangeSink,
        opening: Opening | None = None,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._sink = sink
        self._loader = Loader(storage, opening, self._use_loaded)
        self._index = SessionIndex()
        self._locks: dict[str, asyncio.Lock] = {}
        self._read_only: dict[str, str] = {}
        self._wire = SessionInfoCache(settings.share_base_url)
        self._ids = SessionIdAllocator(0)

    # --- opening and closing -------------------------------------------------

    async def open(self, answer_early: bool = False) -> None:
        """Load every session. With `answer_early`, return as soon as the catalogue's head
        can answer the first list pages (see `core.opening`) and load the rest behind;
        `ready` waits for that."""
        await self._loader.open(answer_early)

    def open_behind(self) -> None:
        """Open for a client answered `initialize` already (see `Loader.open_behind`)."""
        self._loader.open_behind()

    async def ready(self) -> None:
        """Wait until every session is loaded."""
        await self._loader.ready()

    def _use_loaded(self, opened: OpenedStore) -> None:
        loaded, self._index = opened.loaded, opened.index
        for orphan in self._index.orphans:
            log.warning("%s: its parent is gone; it is listed as a root", orphan)
        self._read_only.update(loaded.read_only)
        self._ids = SessionIdAllocator(loaded.high_water)
        log.info(
            "loaded %d sessions (%d read from their files, %d replayed from the journal, "
            "%d quarantined)",
            len(self._index),
            loaded.documents_read,
            len(loaded.journal.records),
            len(loaded.quarantined),
        )
        self._storage.loaded(loaded, self._index, lambda: self._ids.high_water)

    def close(self) -> None:
        """Wait for writes in flight, write what the journal holds behind it and the
        catalogue, release the data directory (no request may be running)."""
        if not self._loader.is_ready:
            self._loader.wait_for_loading_to_end()
        self._storage.close()

    # --- reading -------------------------------------------------------------

    def document(self, session_id: str) -> Session:
        document = self._index.get(session_id)
        if document is None:
            raise errors.session_not_found(session_id)
        return document

    def info(self, session_id: str) -> JsonObject:
        """`SessionInfo` of the session, as JSON."""
        return self._wire.json(self.document(session_id))

    async def list_page(
        self, *, parent_id: str | None, roots_only: bool, limit: int, cursor: str | None
    ) -> JsonObject:
        """A `SessionPage`, as JSON; the first pages are answered before everything is
        loaded when the catalogue's head holds them."""
        if not self._loader.is_ready:
            from_head = self._loader.head_sessions(parent_id, roots_only, limit, cursor)
            if from_head is not None:
                page, more = from_head
                return self._wire.page(page, sort_key(page[-1]) if more else None)
            await self.ready()
        position = None
        if cursor is not None:
            position = decode_cursor(cursor)
            if position is None:
                raise errors.invalid_params("cursor", "not a cursor this server gave out")
        if parent_id is not None:
            self.document(parent_id)
        sessions, last = self._index.page(parent_id, roots_only, limit, position)
        return self._wire.page(sessions, last)

    def subtree(self, session_id: str) -> list[str]:
        """The session and its descendants, deepest first."""
        self.document(session_id)
        return self._index.subtree(session_id)

    def resolve_share(self, secret: str) -> SessionInfo:
        session_id = self._index.shared_session(secret)
        document = self._index.get(session_id) if session_id else None
        if document is None or document.share is None or not document.share.is_live(now_ms()):
            raise errors.share_not_found()
        return self._wire.model(document).model_copy(update={"share": None})

    # --- writes --------------------------------------------------------------

    async def create(
        self, *, parent_id: str | None, title: str | None, runner: str | None
    ) -> SessionInfo:
        return SessionInfo.model_validate(
            await self.create_json(parent_id=parent_id, title=title, runner=runner)
        )

    async def create_json(
        self, *, parent_id: str | None, title: str | None, runner: str | None
    ) -> JsonObject:
        """A new session's `SessionInfo`, as JSON."""
        if parent_id is None:
            return self._wire.json(await self._create(None, title or DEFAULT_TITLE, runner, []))
        async with self.locked(parent_id, missing=errors.parent_not_found):
            document = await self._create(parent_id, title or DEFAULT_TITLE, runner, [])
            return self._wire.json(document)

    async def update_title(self, session_id: str, title: str) -> SessionInfo:
        return await self._update(session_id, "updated", lambda doc, now: {"title": title})

    async def mark_aborted(self, session_id: str) -> SessionInfo:
        return await self._update(
            session_id, "aborted", lambda doc, now: {"is_aborted": True, "aborted_at": now}
        )

    async def share(self, session_id: str, expires_in_seconds: int | None) -> ShareInfo:
        async with self.locked(session_id) as document:
            now = now_ms()
            if document.share is not None and document.share.is_live(now):
                return self._wire.share(document.share)
            expires_at = now + expires_in_seconds * 1000 if expires_in_seconds else None
            share = ShareRecord(secret=new_secret(), created_at=now, expires_at=expires_at)
            updated = await self.commit(document, "shared", {"share": share})
            assert updated.share is not None
            return self._wire.share(updated.share)

    async def unshare(self, session_id: str) -> SessionInfo:
        async with self.locked(session_id) as document:
            if document.share is None:
                return self._wire.model(document)
            return self._wire.model(await self.commit(document, "unshared", {"share": None}))

    async def delete(self, session_id: str) -> list[str]:
        """Delete the session and its descendants, all or nothing."""
        async with AsyncExitStack() as held:
            locked: set[str] = set()
            while True:
                doomed = self.subtree(session_id)
                missing = sorted(set(doomed) - locked)
                if not missing:
                    break
                for member in missing:
                    await held.enter_async_context(self._lock_of(member))
                    locked.add(member)
                if session_id not in self._index:
                    raise errors.session_not_found(session_id)
            record = {"delete": doomed, "highWater": self._ids.high_water}
            async with self._storage.journaled(record):
                for member in doomed:
                    self._index.remove(member)
                    self._read_only.pop(member, None)
                    self._wire.forget(member)
            for member in doomed:
                self._sink.session_changed(SessionChange(change="deleted", session_id=member))
        for member in doomed:
            self._locks.pop(member, None)
        await self._storage.remove_session_files(doomed)
        return doomed

    async def create_locked(
        self,
        parent_id: str | None,
        title: str,
        runner: str | None,
        copied: Sequence[MessageRecord],
    ) -> SessionInfo:
        """A new session holding a copy of `copied` (a fork's history, given new ids and
        renumbered from 1), with the parent's lock held by the caller."""
        return self._wire.model(await self._create(parent_id, title, runner, copied))

    async def _create(
        self,
        parent_id: str | None,
        title: str,
        runner: str | None,
        copied: Sequence[MessageRecord],
    ) -> Session:
        session_id = self._ids.allocate()
        now = now_ms()
        messages = [
            record.model_copy(update={"id": new_message_id(), "session_id": session_id, "seq": seq})
            for seq, record in enumerate(copied, start=1)
        ]
        document = Session(
            schema_version=SESSION_SCHEMA_VERSION,
            id=session_id,
            parent_id=parent_id,
            title=title,
            created_at=now,
            updated_at=now,
            message_count=len(messages),
            is_aborted=False,
            aborted_at=None,
            runner=runner,
            share=None,
        )
        if messages:
            await self._storage.write_messages(session_id, messages)
        try:
            async with self._storage.journaled({"put": document.to_json()}):
                self._index.add(document)
        except errors.RpcError as failure:
            failure.data.setdefault("sessionId", session_id)  # to look for it after an io error
            if messages:
                await self._storage.remove_session_files([session_id])
            raise
        self._sink.session_changed_json(
            {"change": "created", "sessionId": session_id, "session": self._wire.json(document)}
        )
        return document

    async def _update(
        self,
        session_id: str,
        change: ChangeKind,
        changes: Callable[[Session, int], dict[str, Any]],
    ) -> SessionInfo:
        async with self.locked(session_id) as document:
            updated = await self.commit(document, change, changes(document, now_ms()))
            return self._wire.model(updated)

    async def commit(
        self,
        document: Session,
        change: ChangeKind,
        changes: dict[str, Any],
        before: Before | None = None,
    ) -> Session:
        """Write the changed document (after `before`, see `SessionStorage.journaled`),
        then swap it into memory and announce it (the caller holds the session's lock)."""
        self.ensure_writable(document.id)
        updated_at = max(now_ms(), document.updated_at)
        updated = dataclasses.replace(document, **changes, updated_at=updated_at)
        async with self._storage.journaled({"put": updated.to_json()}, before):
            self._index.replace(document, updated)
        self._sink.session_changed_json(
            {"change": change, "sessionId": updated.id, "session": self._wire.json(updated)}
        )
        return updated

    # --- read-only marks and locks ---------------------------------------------

    def ensure_writable(self, session_id: str) -> None:
        reason = self._read_only.get(session_id)
        if reason is not None:
            raise errors.session_read_only(session_id, reason)

    def mark_read_only(self, session_id: str, reason: str) -> None:
        self._read_only[session_id] = reason

    def _lock_of(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def locked(
        self,
        session_id: str,
        missing: Callable[[str], errors.RpcError] = errors.session_not_found,
    ) -> AsyncIterator[Session]:
        """Hold the session's lock; yields its document as it is under the lock.

        Raises `missing(session_id)` when there is no such session: checked again under
        the lock, since a delete holding it may have removed the session meanwhile
        (checked before too, so that no lock is made for a name nobody has)."""
        if session_id not in self._index:
            raise missing(session_id)
        async with self._lock_of(session_id):
            document = self._index.get(session_id)
            if document is None:
                raise missing(session_id)
            yield document
