"""When and what is written behind the journal: checkpoints and the catalogue.

A change is durable once its record is in the journal (see `journal`); the documents
of the sessions it changed reach their own files later, in a checkpoint, after which
the journal generations the checkpoint covers are removed. The checkpointer keeps the
bookkeeping that needs: which sessions are newer in the journal than in their files,
which deleted sessions may still have files, each document file's stamp (for the
catalogue; each session holds its own, see `Session.stamp`), and how many records of
each generation are not yet applied to memory, so that no generation is cut before
every record in it is either applied or failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, ValuesView
from dataclasses import dataclass
from typing import Protocol

from plue_sidecar import errors
from plue_sidecar.gc_pause import collector_paused
from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue.scrub import Scrub
from plue_sidecar.store.catalogue.stamp_rows import StampRows
from plue_sidecar.store.disk.io_pool import IoPool
from plue_sidecar.store.disk.uninterrupted import Uncancellable
from plue_sidecar.store.journal.journal import Record
from plue_sidecar.store.loading import LoadedData
from plue_sidecar.store.session_store import CheckpointWritten, SessionStore

log = logging.getLogger(__name__)
QUIET_START_SECONDS = 2.0
"""How long after the load its follow-up work (checkpoint, catalogue, scrub) waits."""
MakeRoom = Callable[[], Awaitable[bool]]
Before = Callable[[], None]
"""Blocking work a journal record must follow on disk, run on a store thread."""
ROOM_ATTEMPTS = 3
"""Appends of a record for which room is made (release the reserve, or compact)."""


class Documents(Protocol):
    """The sessions as memory holds them: what a checkpoint writes."""

    def get(self, session_id: str) -> Session | None: ...

    def values(self) -> ValuesView[Session]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class CatalogueSnapshot:
    """What a catalogue save takes from memory on the event loop: little, and in C.

    The catalogue pairs each session with the stamp of the file that holds that very
    version. Memory changes only on the loop, so which version each session is, and
    which are dirty (their newest version is in the journal only), are taken there, in
    C-speed copies: making an entry for each of 100,000 sessions took about 100 ms of
    the loop. A store thread then reads each version's stamp as it puts the sessions in
    order (see `catalogue.order`). A version's stamp changes after that moment only to
    None, when its session is deleted (once the delete is in the journal, which replays
    it), or to the stamp of a file rewritten with that very version: either may be read.
    """

    documents: list[Session]
    """Each session's version then: handed over to the save, which empties it."""
    dirty: frozenset[str]
    """Sessions whose newest version was in the journal only: left out."""
    rows: StampRows
    """The load's catalogue stamps, for the versions that hold True (they do not
    change after the load)."""

    @classmethod
    def take(
        cls, documents: Iterable[Session], dirty: set[str], rows: StampRows
    ) -> CatalogueSnapshot:
        return cls(list(documents), frozenset(dirty), rows)


class Checkpointer:
    def __init__(
        self,
        store: SessionStore,
        io: IoPool,
        checkpoint_every: int,
        low_on_space: Callable[[], bool] = lambda: False,
    ) -> None:
        """`low_on_space`: while it is true, no checkpoint starts (after the load, after
        `checkpoint_every` changes, at exit): on a disk the sessions filled it would use
        up, one file per session, the room journal compaction needs, and could not
        finish (see `reserve`). The next change after it turns false starts one held
        back."""
        self._store = store
        self._io = io
        self._checkpoint_every = checkpoint_every
        self._documents: Documents = {}
        self._high_water: Callable[[], int] = lambda: 0
        self._stamp_rows = StampRows()
        """The stamps of the sessions the load took from the catalogue (each session
        holds its file's stamp, or True for its row here; valid unless it is dirty)."""
        self._dirty: set[str] = set()
        """Sessions whose newest version is in the journal but not yet in their file."""
        self._deleted: set[str] = set()
        """Deleted sessions whose files the next checkpoint removes (again)."""
        self._unapplied: dict[int, int] = {}
        """Journal records per generation not yet applied to memory (or failed)."""
        self._all_applied = asyncio.Event()
        self._changes_since_checkpoint = 0
        self._checkpointing: asyncio.Task[None] | None = None
        self._catalogue_saving: asyncio.Future[None] | None = None
        self._scrubbing: asyncio.Task[None] | None = None
        self._closed = False
        self._low_on_space = low_on_space
        self._held_back = False
        self._room_turn = asyncio.Lock()

    def take_over(
        self, loaded: LoadedData, documents: Documents, high_water: Callable[[], int]
    ) -> None:
        """Take over what the load found; write behind what it replayed."""
        self._documents = documents
        self._high_water = high_water
        self._stamp_rows = loaded.stamp_rows
        self._dirty = loaded.replayed
        self._deleted = loaded.deleted
        # What the load leaves to do waits out the start: a checkpoint after a replay
        # saves the whole catalogue, and competing with the first requests for the
        # interpreter would delay what the editor shows first.
        asyncio.get_running_loop().call_later(QUIET_START_SECONDS, self._after_the_start, loaded)

    def _after_the_start(self, loaded: LoadedData) -> None:
        if self._closed:
            return
        if loaded.journal.generations:
            self._start_checkpoint_unless_low_on_space()
        elif loaded.catalogue_stale:
            self._save_catalogue_in_background()
        if loaded.unverified:
            scrub = Scrub(self._store.sessions, self._written_document, self._rewrite)
            self._scrubbing = asyncio.get_running_loop().create_task(scrub.run(loaded.unverified))

    def _written_document(self, session_id: str) -> Session | None:
        """The session's document while its file should hold exactly it."""
        document = self._documents.get(session_id)
        if document is None or document.stamp is None or session_id in self._dirty:
            return None
        return document

    async def _rewrite(self, session_id: str, document: Session, problem: str) -> None:
        """Write `document` (memory's, verified) over its damaged file, and record it."""
        while self._checkpointing is not None and not self._checkpointing.done():
            await asyncio.shield(self._checkpointing)
        if self._closed or self._written_document(session_id) is not document:
            return  # changed meanwhile: the change writes it
        self._dirty.add(session_id)
        self._start_checkpoint()
        assert self._checkpointing is not None
        await asyncio.shield(self._checkpointing)
        if session_id in self._dirty:
            return  # the checkpoint failed; it stays dirty and the next one writes it
        log.warning("%s: its document was rewritten from the verified copy", session_id)
        try:
            await self._io.run(self._store.sessions.record_repair, session_id, problem)
        except errors.RpcError as exc:
            log.warning("could not record the repair of %s (%s)", session_id, exc.message)

    def journaled(
        self, record: Record, make_room: MakeRoom | None = None, before: Before | None = None
    ) -> Journaled:
        """Make `record` durable in the journal; the body of the `async with` applies it
        to memory.

        `record` is `{"put": document}` or `{"delete": [ids], "highWater": n}`. With
        `make_room` (deletes), a full disk is not the end: see `_append_making_room`.
        `before` is blocking work the record must follow on disk (a message's line in its
        log): see `_append_after`.
        """
        return Journaled(self, record, make_room, before)

    async def _append_durably(self, record: Record, make_room: MakeRoom | None) -> None:
        if make_room is not None and self._low_on_space():
            await self._append_making_room(record, make_room)
            return
        try:
            await self._append(record)
        except OSError as exc:
            if make_room is None or not _disk_full(exc):
                raise errors.storage_error(exc) from exc
            await self._append_making_room(record, make_room)

    def _counted(self, generation: int) -> None:
        # A record may land in a later generation than this (the journal ends one when
        # it is full, or a retry comes after a checkpoint): counting it here only makes
        # a checkpoint wait longer, never cut it early.
        self._unapplied[generation] = self._unapplied.get(generation, 0) + 1

    def _applied(self, generation: int) -> None:
        self._unapplied[generation] -= 1
        if not self._unapplied[generation]:
            del self._unapplied[generation]
            self._all_applied.set()

    def _append(self, record: Record) -> Awaitable[None]:
        # Not a coroutine of its own: every change awaits through it.
        return self._durable(self._store.journal.append_on_loop(record))

    async def _append_after(self, before: Before, record: Record) -> None:
        """Run `before` on a store thread, then queue `record` from that same thread: the
        loop hands off once and is woken once, by the journal, where awaiting `before`
        first would hand off and wake it twice."""
        done: asyncio.Future[int] = Uncancellable(loop=asyncio.get_running_loop())
        journal = self._store.journal

        def before_then_queue() -> None:
            before()
            journal.append_for(record, done)

        self._io.start(before_then_queue, done)
        try:
            await self._durable(done)
        except OSError as exc:
            raise errors.storage_error(exc) from exc

    async def _durable(self, written: asyncio.Future[int]) -> None:
        try:
            await self._io.finish(written)
        except OSError as exc:
            log.error("storage failure: %s", exc)
            raise

    async def _append_making_room(self, record: Record, make_room: MakeRoom) -> None:
        """Append `record` on a (nearly) full disk: one such record at a time, each
        after `make_room` (which releases the reserve or compacts the journal while
        there is room to), again while it made room, at most `ROOM_ATTEMPTS` times.
        One at a time, since a batch of them could need more room than there is."""
        async with self._room_turn:
            for _ in range(ROOM_ATTEMPTS):
                made = await make_room()
                try:
                    await self._append(record)
                    return
                except OSError as exc:
                    if not made or not _disk_full(exc):
                        raise errors.storage_error(exc) from exc
                    failure = exc
            raise errors.storage_error(failure) from failure

    def _note(self, record: Record) -> None:
        put = record.get("put")
        if put is not None:
            self._dirty.add(put["id"])
        for session_id in record.get("delete", ()):
            document = self._documents.get(session_id)
            if document is not None:
                document.stamp = None  # no longer one the catalogue may list
            self._dirty.discard(session_id)
            self._deleted.add(session_id)
        self._changes_since_checkpoint += 1
        if self._held_back or self._changes_since_checkpoint >= self._checkpoint_every:
            self._start_checkpoint_unless_low_on_space()

    def _start_checkpoint_unless_low_on_space(self) -> None:
        self._held_back = self._low_on_space()
        if not self._held_back:
            self._start_checkpoint()

    def _start_checkpoint(self) -> None:
        if self._closed:
            return  # a write that resumed after `close`: the next start replays it
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
        while any(generation <= covered for generation in self._unapplied):
            self._all_applied.clear()
            await self._all_applied.wait()
        try:
            written = await self._io.run_behind(self._store.checkpoint, *self._snapshot(covered))
        except errors.RpcError as exc:
            log.warning("checkpoint failed (%s); the journal keeps every change", exc.message)
            return
        if self._closed:
            return  # `close` has made its own checkpoint, covering this one
        log.info(
            "checkpoint: %d documents written, %d deleted sessions' files removed, "
            "journal cut through generation %d",
            len(written.documents),
            len(written.removed),
            covered,
        )
        self._written(written)
        self._save_catalogue_in_background()

    def _snapshot(self, covered: int) -> tuple[list[Session], list[str], int, int]:
        documents = [doc for sid in self._dirty if (doc := self._documents.get(sid)) is not None]
        return documents, sorted(self._deleted), self._high_water(), covered

    def _written(self, written: CheckpointWritten) -> None:
        for document, stamp in written.documents:
            if self._documents.get(document.id) is document:
                document.stamp = stamp
                self._dirty.discard(document.id)
        self._deleted.difference_update(written.removed)

    def _catalogue_snapshot(self) -> tuple[CatalogueSnapshot, dict[str, int], int, bool]:
        """Documents as they are now (see `CatalogueSnapshot`);
        directory mtimes only when no write is in flight, since only then does every
        directory agree with memory; and whether that was so."""
        taken_at_ns = time.time_ns()
        quiet = self._io.in_flight == 0
        mtimes = self._store.directory_mtimes() if quiet else {}
        snapshot = CatalogueSnapshot.take(self._documents.values(), self._dirty, self._stamp_rows)
        return snapshot, mtimes, taken_at_ns, quiet

    def _save_catalogue(
        self,
        snapshot: CatalogueSnapshot,
        mtimes: dict[str, int],
        taken_at_ns: int,
        quiet: bool,
    ) -> None:
        """Write the catalogue of a snapshot (off the loop): complete when no write was
        in flight and every session's file held its newest version."""
        with collector_paused():  # lists of every session, none cyclic: no pass walks them
            self._store.save_catalogue(
                snapshot.documents,
                mtimes,
                taken_at_ns,
                quiet,
                snapshot.rows,
                left_out=snapshot.dirty,
            )

    def _save_catalogue_in_background(self) -> None:
        """Snapshot the documents here on the loop, and write them aside."""
        if self._catalogue_saving is not None and not self._catalogue_saving.done():
            return
        saving = asyncio.wrap_future(
            self._io.submit(self._save_catalogue, *self._catalogue_snapshot())
        )
        saving.add_done_callback(_log_catalogue_saved)
        self._catalogue_saving = saving

    def close(self) -> None:
        """Write every document behind the journal, then the catalogue (the store's
        threads are stopped: nothing may be writing any more).

        The journal is closed first, so what it has queued is on disk and nothing more
        joins it. Requests still writing resume only after this returns, and are then
        answered: their records must outlive the close. So the journal is cut only
        through the generations whose every record is in memory (and so in the
        documents written here); from the first one holding a record not yet applied
        on, it stays, and the next start replays it.
        """
        self._closed = True
        if self._scrubbing is not None:
            self._scrubbing.cancel()
        self._store.journal.close()
        if self._low_on_space():
            log.warning(
                "the disk is nearly full: the documents are not written at exit; "
                "the next start replays the journal"
            )
            return
        try:
            applied_through = min(
                [self._store.journal.generation, *(number - 1 for number in self._unapplied)]
            )
            self._written(self._store.checkpoint(*self._snapshot(applied_through)))
            self._store.wait_until_directories_are_quiet()
            self._save_catalogue(*self._catalogue_snapshot())
        except OSError as exc:
            log.warning(
                "could not write the documents or the catalogue at exit (%s); "
                "the next start replays the journal",
                exc,
            )


def _disk_full(exc: OSError) -> bool:
    return errors.storage_error(exc).code == errors.STORAGE_FULL


def _log_catalogue_saved(saving: asyncio.Future[None]) -> None:
    if saving.cancelled():
        return
    if saving.exception() is not None:
        log.warning("could not write the catalogue (%s); it is rebuilt later", saving.exception())
    else:
        log.info("catalogue saved")


class Journaled:
    """`Checkpointer.journaled`, as a class rather than an `asynccontextmanager`: every
    change passes through it, and the generator and its wrapper cost more per change
    than the bookkeeping they hold."""

    __slots__ = ("_before", "_checkpointer", "_generation", "_make_room", "_record")

    def __init__(
        self,
        checkpointer: Checkpointer,
        record: Record,
        make_room: MakeRoom | None,
        before: Before | None,
    ) -> None:
        self._checkpointer = checkpointer
        self._record = record
        self._make_room = make_room
        self._before = before
        self._generation = 0

    async def __aenter__(self) -> None:
        checkpointer = self._checkpointer
        self._generation = checkpointer._store.journal.generation
        checkpointer._counted(self._generation)
        try:
            if self._before is not None:
                await checkpointer._append_after(self._before, self._record)
            else:
                await checkpointer._append_durably(self._record, self._make_room)
            checkpointer._note(self._record)
        except BaseException:
            checkpointer._applied(self._generation)
            raise

    async def __aexit__(self, *_: object) -> None:
        self._checkpointer._applied(self._generation)
