"""The session core: owns every session in memory and changes it only after the disk has.

Each change follows one path: take the session's lock, build the new document, make it
durable, then swap it into memory and announce it. A failed write raises before the
swap, so memory and disk stay as they were.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from plue_sidecar import errors
from plue_sidecar.core.clock import now_ms
from plue_sidecar.core.ids import SessionIdAllocator
from plue_sidecar.core.index import SessionIndex, sort_key
from plue_sidecar.core.opening import Opening
from plue_sidecar.core.ordering import decode_cursor, encode_cursor
from plue_sidecar.core.shares import new_secret
from plue_sidecar.core.uninterrupted import finish_even_if_cancelled
from plue_sidecar.models.parts import Part
from plue_sidecar.models.records import (
    SESSION_SCHEMA_VERSION,
    MessageRecord,
    Session,
    ShareRecord,
)
from plue_sidecar.models.wire import (
    ChangeKind,
    Message,
    MessagePage,
    MessageStatus,
    Role,
    SessionChange,
    SessionInfo,
    ShareInfo,
)
from plue_sidecar.settings import Settings
from plue_sidecar.store.catalogue import Entry, Head, Stamp
from plue_sidecar.store.journal import Record
from plue_sidecar.store.message_log import encode_record
from plue_sidecar.store.session_store import CheckpointWritten, SessionStore

log = logging.getLogger(__name__)
T = TypeVar("T")
JsonObject = dict[str, Any]
FORK_SUFFIX = " (fork)"
MAX_TITLE = 200


class ChangeSink(Protocol):
    def session_changed(self, change: SessionChange) -> None: ...


@dataclass
class History:
    records: list[MessageRecord] = field(default_factory=list)
    by_id: dict[str, MessageRecord] = field(default_factory=dict)
    log_bytes: int = 0

    def add(self, record: MessageRecord, size: int) -> None:
        self.records.append(record)
        self.by_id[record.id] = record
        self.log_bytes += size


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(16)}"



class SessionService:
    def __init__(
        self,
        store: SessionStore,
        settings: Settings,
        sink: ChangeSink,
        opening: Opening | None = None,
    ) -> None:
        self._store = store
        self._opening = opening
        self._settings = settings
        self._sink = sink
        self._executor = ThreadPoolExecutor(settings.store_threads, thread_name_prefix="plue-store")
        self._index = SessionIndex()
        self._locks: dict[str, asyncio.Lock] = {}
        self._histories: dict[str, History] = {}
        self._read_only: dict[str, str] = {}
        self._stamps: dict[str, Stamp] = {}
        """Each session's document file, for the catalogue; valid unless it is dirty."""
        self._dirty: set[str] = set()
        """Sessions whose newest version is in the journal but not yet in their file."""
        self._deleted: set[str] = set()
        """Deleted sessions whose files the next checkpoint removes (again)."""
        self._unsettled: dict[int, int] = {}
        """Journal records per generation not yet applied to memory (or failed)."""
        self._settled = asyncio.Event()
        self._checkpointing: asyncio.Task[None] | None = None
        self._closed = False
        self._loading: Opening | None = None
        self._loading_task: asyncio.Task[None] | None = None
        self._head: Head | None = None
        """Until every session is loaded: the newest ones, from the catalogue's head."""
        self._ready = asyncio.Event()
        self._load_failure: Exception | None = None
        self._info_cache: dict[str, tuple[Session, JsonObject]] = {}
        self._changes_since_checkpoint = 0
        self._io_in_flight = 0
        self._catalogue_saving: asyncio.Future[None] | None = None
        self._ids = SessionIdAllocator(0)
        self.busy: set[str] = set()
        """Sessions with a running turn: writes from outside the turn are refused."""

    # --- opening -------------------------------------------------------------

    async def open(self, answer_early: bool = False) -> None:
        """Load every session. With `answer_early`, return as soon as the catalogue's head
        can answer the first list pages (see `core.opening`) and load the rest behind;
        `ready` waits for that."""
        opening, self._opening = self._opening, None
        if opening is None:
            opening = Opening()
            self._executor.submit(opening.run, self._store)
        self._loading = opening
        head = await asyncio.wrap_future(opening.head)
        opening.go_on()
        if head is None or not answer_early:
            await self._install(opening)
            return
        self._head = head
        log.info("the catalogue's head answers the first list pages while %d sessions load",
                 head.total)
        self._loading_task = asyncio.get_running_loop().create_task(self._load_behind(opening))

    async def ready(self) -> None:
        """Wait until every session is loaded."""
        if not self._ready.is_set():
            await self._ready.wait()
        failure = self._load_failure
        if failure is not None:
            raise errors.storage_error(failure) if isinstance(failure, OSError) else failure

    async def _load_behind(self, opening: Opening) -> None:
        try:
            await self._install(opening)
        except Exception as exc:
            log.error("loading the data directory failed: %s", exc)
            self._load_failure = exc
            self._ready.set()

    async def _install(self, opening: Opening) -> None:
        opened = await asyncio.wrap_future(opening.full)
        self._head = None
        loaded, self._index = opened.loaded, opened.index
        for orphan in self._index.orphans:
            log.warning("%s: its parent is gone; it is listed as a root", orphan)
        self._read_only.update(loaded.read_only)
        self._stamps = loaded.stamps
        self._dirty = loaded.replayed
        self._deleted = loaded.deleted
        self._ids = SessionIdAllocator(loaded.high_water)
        log.info("loaded %d sessions (%d read from their files, %d replayed from the journal, "
                 "%d quarantined)", len(self._index), loaded.documents_read,
                 len(loaded.journal.records), len(loaded.quarantined))
        self._ready.set()
        if loaded.journal.generations:
            self._start_checkpoint()
        elif loaded.catalogue_stale:
            self._save_catalogue_in_background()

    def close(self) -> None:
        """Wait for writes in flight, write every document behind the journal, write the
        catalogue, release the data directory."""
        self._closed = True
        if not self._ready.is_set() or self._load_failure is not None:
            # Nothing was written (writes wait for the load): only let the loading end.
            if self._loading is not None:
                concurrent.futures.wait([self._loading.full])
            self._executor.shutdown(wait=True)
            self._store.close()
            return
        self._executor.shutdown(wait=True)
        try:
            covered = self._store.journal.rotate()
            self._checkpoint_written(self._store.checkpoint(*self._checkpoint_snapshot(covered)))
            self._store.wait_until_directories_are_quiet()
            self._store.save_catalogue(*self._catalogue_snapshot())
        except OSError as exc:
            log.warning("could not write the documents or the catalogue at exit (%s); "
                        "the next start replays the journal", exc)
        self._store.close()

    # --- checkpoints -----------------------------------------------------------

    def _start_checkpoint(self) -> None:
        if self._checkpointing is None or self._checkpointing.done():
            self._changes_since_checkpoint = 0
            self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Write the documents the journal holds newer versions of, then cut the journal.

        New records go to a new generation from here on; once every record of the older
        ones is in memory, the dirty documents (at least as new as those records) are
        written to their files, and the older generations are removed.
        """
        covered = self._store.journal.rotate()
        while any(generation <= covered for generation in self._unsettled):
            self._settled.clear()
            await self._settled.wait()
        try:
            written = await self._io(self._store.checkpoint, *self._checkpoint_snapshot(covered))
        except errors.RpcError as exc:
            log.warning("checkpoint failed (%s); the journal keeps every change", exc.message)
            return
        if self._closed:
            return  # `close` has made its own checkpoint, covering this one
        log.info("checkpoint: %d documents written, %d deleted sessions' files removed, "
                 "journal cut through generation %d", len(written.documents),
                 len(written.removed), covered)
        self._checkpoint_written(written)
        self._save_catalogue_in_background()

    def _checkpoint_snapshot(
        self, covered: int
    ) -> tuple[list[Session], list[str], int, int]:
        documents = [doc for sid in self._dirty if (doc := self._index.get(sid)) is not None]
        return documents, sorted(self._deleted), self._ids.high_water, covered

    def _checkpoint_written(self, written: CheckpointWritten) -> None:
        for document, stamp in written.documents:
            if self._index.get(document.id) is document:
                self._stamps[document.id] = stamp
                self._dirty.discard(document.id)
        self._deleted.difference_update(written.removed)

    def _catalogue_snapshot(self) -> tuple[list[Entry], dict[str, int], int, bool]:
        """Documents and stamps as they are now; directory mtimes only when no write is
        in flight, since only then does every directory agree with memory. Complete when
        that is so and every session's file holds its newest version."""
        taken_at_ns = time.time_ns()
        quiet = self._io_in_flight == 0
        mtimes = self._store.directory_mtimes() if quiet else {}
        entries = [
            Entry(document, self._stamps[session_id])
            for session_id, document in self._index.items()
            if session_id in self._stamps and session_id not in self._dirty
        ]
        return entries, mtimes, taken_at_ns, quiet and len(entries) == len(self._index)

    def _save_catalogue_in_background(self) -> None:
        """Snapshot documents and stamps together, here on the loop, and write them aside."""
        if self._catalogue_saving is not None and not self._catalogue_saving.done():
            return
        saving = asyncio.get_running_loop().run_in_executor(
            self._executor, self._store.save_catalogue, *self._catalogue_snapshot()
        )
        saving.add_done_callback(_log_catalogue_failure)
        self._catalogue_saving = saving

    # --- reading -------------------------------------------------------------

    def document(self, session_id: str) -> Session:
        document = self._index.get(session_id)
        if document is None:
            raise errors.session_not_found(session_id)
        return document

    def info(self, session_id: str) -> JsonObject:
        """`SessionInfo` of the session, as JSON."""
        return self._info_json(self.document(session_id))

    async def list_page(
        self, *, parent_id: str | None, roots_only: bool, limit: int, cursor: str | None
    ) -> JsonObject:
        """A `SessionPage`, as JSON; the first pages are answered before everything is
        loaded when the catalogue's head holds them."""
        if not self._ready.is_set():
            page = self._head_page(parent_id, roots_only, limit, cursor)
            if page is not None:
                return page
            await self.ready()
        position = None
        if cursor is not None:
            position = decode_cursor(cursor)
            if position is None:
                raise errors.invalid_params("cursor", "not a cursor this server gave out")
        if parent_id is not None:
            self.document(parent_id)
        sessions, last = self._index.page(parent_id, roots_only, limit, position)
        return {
            "sessions": [self._info_json(session) for session in sessions],
            "nextCursor": encode_cursor(last) if last is not None else None,
        }

    def _head_page(
        self, parent_id: str | None, roots_only: bool, limit: int, cursor: str | None
    ) -> JsonObject | None:
        head = self._head
        if head is None or parent_id is not None or cursor is not None:
            return None
        newest, total = (head.newest_roots, head.roots_total) if roots_only else (
            head.newest, head.total)
        if limit > len(newest) and total > len(newest):
            return None
        page = newest[:limit]
        return {
            "sessions": [self._info_json(session) for session in page],
            "nextCursor": encode_cursor(sort_key(page[-1])) if total > limit else None,
        }

    def subtree(self, session_id: str) -> list[str]:
        """The session and its descendants, deepest first."""
        self.document(session_id)
        return self._index.subtree(session_id)

    def resolve_share(self, secret: str) -> SessionInfo:
        session_id = self._index.shared_session(secret)
        document = self._index.get(session_id) if session_id else None
        if document is None or document.share is None or not document.share.is_live(now_ms()):
            raise errors.share_not_found()
        return self._info(document).model_copy(update={"share": None})

    # --- session writes ------------------------------------------------------

    async def create(
        self, *, parent_id: str | None, title: str | None, runner: str | None
    ) -> SessionInfo:
        if parent_id is None:
            return await self._create(None, title or "New Session", runner, [])
        if parent_id not in self._index:
            raise errors.parent_not_found(parent_id)
        async with self._locked(parent_id):
            return await self._create(parent_id, title or "New Session", runner, [])

    async def update_title(self, session_id: str, title: str) -> SessionInfo:
        return await self._update(session_id, "updated", lambda doc, now: {"title": title})

    async def mark_aborted(self, session_id: str) -> SessionInfo:
        return await self._update(
            session_id, "aborted", lambda doc, now: {"is_aborted": True, "aborted_at": now}
        )

    async def share(self, session_id: str, expires_in_seconds: int | None) -> ShareInfo:
        async with self._locked(session_id) as document:
            now = now_ms()
            if document.share is not None and document.share.is_live(now):
                return self._share_info(document.share)
            expires_at = now + expires_in_seconds * 1000 if expires_in_seconds else None
            share = ShareRecord(secret=new_secret(), created_at=now, expires_at=expires_at)
            updated = await self._commit(document, "shared", {"share": share})
            assert updated.share is not None
            return self._share_info(updated.share)

    async def unshare(self, session_id: str) -> SessionInfo:
        async with self._locked(session_id) as document:
            if document.share is None:
                return self._info(document)
            return self._info(await self._commit(document, "unshared", {"share": None}))

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
            async with self._journaled({"delete": doomed, "highWater": self._ids.high_water}):
                for member in doomed:
                    self._unindex(member)
                self._deleted.update(doomed)
                self._note_change()
            for member in doomed:
                self._sink.session_changed(SessionChange(change="deleted", session_id=member))
        for member in doomed:
            self._locks.pop(member, None)
        await self._remove_files_quietly(doomed)
        return doomed

    def release(self, session_id: str) -> None:
        """Forget what is loaded for a session (its history); the next use reloads it."""
        self.document(session_id)
        self._histories.pop(session_id, None)

    # --- messages ------------------------------------------------------------

    async def append_message(
        self,
        session_id: str,
        role: Role,
        parts: Sequence[Part],
        *,
        from_turn: bool = False,
        status: MessageStatus = "complete",
        error: str | None = None,
        message_id: str | None = None,
        created_at: int | None = None,
        starts_turn: bool = False,
    ) -> Message:
        if not from_turn and session_id in self.busy:
            raise errors.session_busy(session_id)
        async with self._locked(session_id) as document:
            history = await self._history_locked(document)
            self._ensure_writable(session_id)
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
            line = encode_record(record)
            if len(line) > self._settings.max_message_bytes:
                raise errors.payload_too_large(len(line), self._settings.max_message_bytes)
            await self._io(self._store.append_message, record)
            changes: dict[str, Any] = {"message_count": record.seq}
            if starts_turn:
                changes["is_aborted"] = False
            try:
                await self._commit(document, "updated", changes)
            except errors.RpcError:
                await self._cut_log_back(session_id, history.log_bytes)
                raise
            history.add(record, len(line))
            return _as_message(record)

    async def list_messages(self, session_id: str, after_seq: int, limit: int) -> MessagePage:
        history = await self.history(session_id)
        page = history.records[after_seq : after_seq + limit]
        more = after_seq + limit < len(history.records)
        return MessagePage(
            messages=[_as_message(record) for record in page],
            next_after_seq=page[-1].seq if more and page else None,
        )

    async def get_message(self, session_id: str, message_id: str) -> Message:
        record = (await self.history(session_id)).by_id.get(message_id)
        if record is None:
            raise errors.message_not_found(message_id)
        return _as_message(record)

    async def history(self, session_id: str) -> History:
        loaded = self._histories.get(session_id)
        if loaded is not None:
            return loaded
        async with self._locked(session_id) as document:
            return await self._history_locked(document)

    async def fork(self, session_id: str, message_id: str | None, title: str | None) -> SessionInfo:
        async with self._locked(session_id) as source:
            history = await self._history_locked(source)
            kept = history.records
            if message_id is not None:
                cut = history.by_id.get(message_id)
                if cut is None:
                    raise errors.message_not_found(message_id)
                kept = history.records[: cut.seq]
            fork_title = title or (source.title[: MAX_TITLE - len(FORK_SUFFIX)] + FORK_SUFFIX)
            return await self._create(session_id, fork_title, source.runner, kept)

    # --- the write path --------------------------------------------------------

    async def _create(
        self, parent_id: str | None, title: str, runner: str | None, copied: list[MessageRecord]
    ) -> SessionInfo:
        session_id = self._ids.allocate()
        now = now_ms()
        records = [
            record.model_copy(update={"id": new_message_id(), "session_id": session_id, "seq": seq})
            for seq, record in enumerate(copied, start=1)
        ]
        document = Session(
            schema_version=SESSION_SCHEMA_VERSION, id=session_id, parent_id=parent_id,
            title=title, created_at=now, updated_at=now, message_count=len(records),
            is_aborted=False, aborted_at=None, runner=runner, share=None,
        )
        if records:
            await self._io(self._store.write_messages, session_id, records)
        try:
            async with self._journaled({"put": document.to_json()}):
                self._index.add(document)
                self._dirty.add(session_id)
                self._note_change()
        except errors.RpcError as failure:
            failure.data.setdefault("sessionId", session_id)  # to look for it after an io error
            if records:
                await self._remove_files_quietly([session_id])
            raise
        if records:
            history = History()
            for record in records:
                history.add(record, len(encode_record(record)))
            self._histories[session_id] = history
        info = self._info(document)
        self._sink.session_changed(SessionChange(change="created", session_id=session_id,
                                                 session=info))
        return info

    async def _update(
        self,
        session_id: str,
        change: ChangeKind,
        changes: Callable[[Session, int], dict[str, Any]],
    ) -> SessionInfo:
        async with self._locked(session_id) as document:
            return self._info(await self._commit(document, change, changes(document, now_ms())))

    async def _commit(
        self, document: Session, change: ChangeKind, changes: dict[str, Any]
    ) -> Session:
        """Write the changed document, then swap it into memory and announce it."""
        self._ensure_writable(document.id)
        updated_at = max(now_ms(), document.updated_at)
        updated = dataclasses.replace(document, **changes, updated_at=updated_at)
        async with self._journaled({"put": updated.to_json()}):
            self._index.replace(document, updated)
            self._dirty.add(updated.id)
            self._note_change()
        self._sink.session_changed(
            SessionChange(change=change, session_id=updated.id, session=self._info(updated))
        )
        return updated

    @asynccontextmanager
    async def _journaled(self, record: Record) -> AsyncIterator[None]:
        """Make `record` durable in the journal; the body applies it to memory.

        A checkpoint waits until every record of the generations it covers has been
        applied (or has failed), so none is cut from the journal before its document
        is written.
        """
        journal = self._store.journal
        generation = journal.generation
        self._unsettled[generation] = self._unsettled.get(generation, 0) + 1
        try:
            try:
                await finish_even_if_cancelled(asyncio.wrap_future(journal.append(record)))
            except OSError as exc:
                log.error("storage failure: %s", exc)
                raise errors.storage_error(exc) from exc
            yield
        finally:
            self._unsettled[generation] -= 1
            if not self._unsettled[generation]:
                del self._unsettled[generation]
                self._settled.set()

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        self._io_in_flight += 1
        try:
            return await finish_even_if_cancelled(future)
        except OSError as exc:
            log.error("storage failure: %s", exc)
            raise errors.storage_error(exc) from exc
        finally:
            self._io_in_flight -= 1

    async def _cut_log_back(self, session_id: str, size: int) -> None:
        path = self._store.layout.message_log(session_id)
        try:
            await self._io(self._store.files.truncate, path, size)
        except errors.RpcError:
            log.warning("%s: could not cut an unacknowledged message off its log", session_id)

    async def _remove_files_quietly(self, session_ids: list[str]) -> None:
        """Remove files of sessions that are gone; what is left, a checkpoint removes."""
        try:
            await self._io(self._store.remove_session_files, session_ids)
        except errors.RpcError:
            log.warning("could not remove the files of %s yet", ", ".join(session_ids))

    async def _history_locked(self, document: Session) -> History:
        session_id = document.id
        loaded = self._histories.get(session_id)
        if loaded is not None:
            return loaded
        contents = await self._io(self._store.read_messages, session_id, document.message_count)
        history = History(log_bytes=contents.keep_bytes)
        for record in contents.records:
            history.records.append(record)
            history.by_id[record.id] = record
        if contents.damage is not None:
            self._read_only[session_id] = contents.damage
        self._histories[session_id] = history
        return history

    def _note_change(self) -> None:
        self._changes_since_checkpoint += 1
        if self._changes_since_checkpoint >= self._settings.checkpoint_every:
            self._start_checkpoint()

    def _ensure_writable(self, session_id: str) -> None:
        reason = self._read_only.get(session_id)
        if reason is not None:
            raise errors.session_read_only(session_id, reason)

    # --- locks and indexes ----------------------------------------------------

    def _lock_of(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _locked(self, session_id: str) -> AsyncIterator[Session]:
        self.document(session_id)
        async with self._lock_of(session_id):
            yield self.document(session_id)

    def _unindex(self, session_id: str) -> None:
        self._index.remove(session_id)
        self._histories.pop(session_id, None)
        self._read_only.pop(session_id, None)
        self._stamps.pop(session_id, None)
        self._dirty.discard(session_id)
        self._info_cache.pop(session_id, None)

    # --- wire shapes -----------------------------------------------------------

    def _share_info(self, share: ShareRecord) -> ShareInfo:
        return ShareInfo.model_construct(
            url=self._settings.share_base_url + share.secret,
            secret=share.secret,
            created_at=share.created_at,
            expires_at=share.expires_at,
        )

    def _info(self, document: Session) -> SessionInfo:
        return SessionInfo.model_validate(self._info_json(document))

    def _info_json(self, session: Session) -> JsonObject:
        """`SessionInfo` as JSON, made once per version of the session.

        Reads dominate an editor's traffic, and building pydantic models per session
        per page cost more than the rest of the request; sessions are immutable, so
        the JSON of each version is kept until the next version replaces it.
        """
        cached = self._info_cache.get(session.id)
        if cached is not None and cached[0] is session:
            return cached[1]
        share = session.share
        wire: JsonObject = {
            "id": session.id,
            "parentId": session.parent_id,
            "title": session.title,
            "createdAt": session.created_at,
            "updatedAt": session.updated_at,
            "messageCount": session.message_count,
            "isAborted": session.is_aborted,
            "abortedAt": session.aborted_at,
            "share": None if share is None else {
                "url": self._settings.share_base_url + share.secret,
                "secret": share.secret,
                "createdAt": share.created_at,
                "expiresAt": share.expires_at,
            },
        }
        self._info_cache[session.id] = (session, wire)
        return wire


def _log_catalogue_failure(saving: asyncio.Future[None]) -> None:
    if not saving.cancelled() and saving.exception() is not None:
        log.warning("could not write the catalogue (%s); it is rebuilt later", saving.exception())


def _as_message(record: MessageRecord) -> Message:
    return Message.model_construct(**{name: getattr(record, name) for name in Message.model_fields})
