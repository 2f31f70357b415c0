"""The store as the session core sees it: a small asynchronous API over the disk.

`SessionStore` (the disk: files, journal, catalogue; synchronous) is to this what
diskcache's `Disk` is to its `Cache`. Everything the core needs from the disk goes
through here, and the core imports nothing else of the store:

- opening: `preview` and `load`, called on the opening thread, then `loaded`;
- `journaled(record, before)`: make a session change durable (after `before`, blocking
  work such as a `message_append`), then apply it to memory;
- message logs: `read_messages`, `message_append`, `write_messages`, `cut_message_log`;
- `remove_session_files` after a delete;
- `take_absorbed_cancel`: whether a write finished through a cancellation of the
  request that made it;
- `close`.

On a disk the sessions filled, deletes still go through and free it (see `reserve`):
while the reserve is released every other write answers `-32014`.

Every call that writes is durable when it returns and raises the client's storage
error (`errors.storage_error`) when the disk fails; checkpoints and the catalogue
happen behind it (see `checkpointer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from plue_sidecar import errors
from plue_sidecar.models.records import MessageRecord
from plue_sidecar.store.catalogue.catalogue import Head
from plue_sidecar.store.checkpointer import Before, Checkpointer, Documents
from plue_sidecar.store.disk.io_pool import IoPool
from plue_sidecar.store.disk.lock import DataDirLockedError
from plue_sidecar.store.files.message_log import LogContents, encode_record_json
from plue_sidecar.store.files.session_files import SessionFiles
from plue_sidecar.store.journal.journal import Record
from plue_sidecar.store.loading import LoadedData
from plue_sidecar.store.reserve import SpaceReserve, full_disk
from plue_sidecar.store.session_store import SessionStore

__all__ = [
    "Before",
    "DataDirLockedError",
    "Documents",
    "Head",
    "LoadedData",
    "LogAppend",
    "LogContents",
    "SessionStorage",
    "encode_record_json",
]
"""What the core takes from the store: this module's own names, and those it passes on."""

log = logging.getLogger(__name__)
IO_THREADS = 16


class SessionStorage:
    def __init__(self, store: SessionStore, checkpoint_every: int) -> None:
        self._store = store
        self._io = IoPool(IO_THREADS)
        self._reserve = SpaceReserve(store)
        self._checkpointer = Checkpointer(
            store, self._io, checkpoint_every, low_on_space=lambda: self._reserve.low_on_space
        )
        self._loaded = False
        self._reserve_taken: Future[None] | None = None

    # --- opening -------------------------------------------------------------

    def preview(self) -> Head | None:
        """Lock the data directory; the catalogue's head when it alone describes the
        newest sessions (see `SessionStore.open_preview`). Any thread."""
        return self._store.open_preview()

    def load(self) -> LoadedData:
        """Lock and load every session, the journal replayed on top. Any thread."""
        return self._store.open()

    def in_background(self, function: Callable[[], None]) -> Future[None]:
        """Run `function` on the store's threads (the opening uses it)."""
        return self._io.submit(function)

    def loaded(
        self, loaded: LoadedData, documents: Documents, high_water: Callable[[], int]
    ) -> None:
        """Memory now holds what `load` found: write behind it from here on."""
        self._loaded = True
        try:
            self._reserve.size_at_start()
        except OSError as exc:
            log.warning("could not size the space reserve (%s)", exc)
        self._store.journal.end_generations_at(self._reserve.generation_bytes)
        self._checkpointer.take_over(loaded, documents, high_water)
        self._reserve_taken = self._io.submit(self._reserve.take_at_start)

    # --- session changes -----------------------------------------------------

    def journaled(
        self, record: Record, before: Before | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Make `record` durable, after the blocking `before` (see `Checkpointer`); the
        body applies it to memory. A delete goes through on a full disk if room can be
        made for it."""
        if "delete" not in record and self._writes_accepted():
            # no wrapper on the common path
            return self._checkpointer.journaled(record, before=before)
        return self._journaled_when_low_or_deleting(record, before)

    @asynccontextmanager
    async def _journaled_when_low_or_deleting(
        self, record: Record, before: Before | None
    ) -> AsyncIterator[None]:
        if "delete" not in record:
            await self._refuse_while_low_on_space()
            if before is not None:
                await self._io.run(before)
            async with self._checkpointer.journaled(record):
                yield
            return
        assert before is None, "nothing goes before a delete"
        await self._reserve_set_aside()
        async with self._checkpointer.journaled(record, self._make_room):
            self._reserve.deleted()
            yield

    async def _reserve_set_aside(self) -> None:
        """Wait until the start has set the reserve aside (or failed to), so that the
        disk a write fills is filled around it."""
        if self._reserve_taken is not None and not self._reserve_taken.done():
            try:
                await asyncio.wrap_future(self._reserve_taken)
            except OSError as exc:
                log.warning("could not size the space reserve (%s)", exc)

    def _writes_accepted(self) -> bool:
        """Known without waiting: the reserve is set aside and the disk not low on space."""
        taken = self._reserve_taken
        if taken is not None:
            if not taken.done():
                return False
            self._reserve_taken = None  # asking a thread's future takes a lock each time
        return not self._reserve.low_on_space

    async def _refuse_while_low_on_space(self) -> None:
        await self._reserve_set_aside()
        if self._reserve.low_on_space and not await self._io.run(self._reserve.leave_low_space):
            raise errors.storage_error(full_disk())

    async def _make_room(self) -> bool:
        try:
            return await self._io.run(self._reserve.make_room)
        except errors.RpcError:
            return False

    async def remove_session_files(self, session_ids: list[str]) -> None:
        """Remove the files of deleted sessions; what is left, a checkpoint removes."""
        try:
            await self._io.run(self._store.sessions.remove_session_files, session_ids)
        except errors.RpcError:
            log.warning("could not remove the files of %s yet", ", ".join(session_ids))

    # --- message logs --------------------------------------------------------

    async def read_messages(self, session_id: str, acknowledged: int) -> LogContents:
        """A session's log, cut back to its `acknowledged` messages."""
        return await self._io.run(self._store.sessions.read_messages, session_id, acknowledged)

    def message_append(self, session_id: str, line: bytes) -> LogAppend:
        """Appending `line` (`message_log.encode_record`) to the session's log: the
        `before` of the commit that acknowledges it."""
        return LogAppend(self._store.sessions, session_id, line)

    async def write_messages(self, session_id: str, records: Iterable[MessageRecord]) -> None:
        """A new session's whole log (a fork's copy)."""
        await self._refuse_while_low_on_space()
        await self._io.run(self._store.sessions.write_messages, session_id, list(records))

    async def cut_message_log(self, session_id: str, size: int) -> None:
        """Cut a message off the log again when its commit failed."""
        try:
            await self._io.run(self._store.sessions.cut_message_log, session_id, size)
        except errors.RpcError:
            log.warning("%s: could not cut an unacknowledged message off its log", session_id)

    def take_absorbed_cancel(self) -> bool:
        """Whether a write absorbed a cancellation of the current task since it last
        asked: a request that goes on after its write (a turn after its prompt is
        stored) asks, so that the cancellation still ends it."""
        return self._io.take_absorbed_cancel()

    # --- closing -------------------------------------------------------------

    def close(self) -> None:
        """Wait for writes in flight, write every document behind the journal and the
        catalogue, and release the data directory."""
        self._io.shutdown()
        if self._loaded:
            self._checkpointer.close()
        self._store.close()


class LogAppend:
    """A line appended durably to a session's message log, on a store thread; `written`
    once it is (a commit that fails after it cuts it off again)."""

    __slots__ = ("_files", "_line", "_session_id", "written")

    def __init__(self, files: SessionFiles, session_id: str, line: bytes) -> None:
        self._files = files
        self._session_id = session_id
        self._line = line
        self.written = False

    def __call__(self) -> None:
        self._files.append_message(self._session_id, self._line)
        self.written = True
