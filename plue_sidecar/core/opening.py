"""Opening the data directory: on a thread at process start, while the rest imports.

Importing pygls and pydantic takes about as long as loading and indexing a large data
directory. The thread first takes the lock and reads the catalogue's head: after a
clean exit that is enough to answer `initialize` and the first `session/list` pages.
It then waits until the process is ready for requests (competing with the imports for
the interpreter would only slow both) and loads everything; other requests wait for
that. Without a usable head it loads everything at once, and `initialize` waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from plue_sidecar import errors
from plue_sidecar.core.index import SessionIndex
from plue_sidecar.models.records import Session
from plue_sidecar.store.storage import Head, LoadedData, SessionStorage

log = logging.getLogger(__name__)

HEAD_WAIT_SECONDS = 30.0
"""The longest the full load waits for the process to be ready before going ahead."""


@dataclass
class OpenedStore:
    loaded: LoadedData
    index: SessionIndex


def open_store(storage: SessionStorage) -> OpenedStore:
    """Lock, load and index the data directory (any thread)."""
    loaded = storage.load()
    return OpenedStore(loaded, SessionIndex(loaded.sessions, loaded.id_numbers))


class Opening:
    """The two results of opening: the head (or None), then everything."""

    def __init__(self) -> None:
        self.head: Future[Head | None] = Future()
        self.full: Future[OpenedStore] = Future()
        self._requests_answered = threading.Event()

    def forget_head(self) -> None:
        """Everything is loaded: the head's sessions are not needed any more."""
        self.head = Future()
        self.head.set_result(None)

    def allow_full_load(self) -> None:
        """The process answers requests now: the full load may use the interpreter."""
        self._requests_answered.set()

    def run(self, storage: SessionStorage) -> None:
        try:
            head = storage.preview()
        except BaseException as exc:
            self.head.set_exception(exc)
            self.full.set_exception(exc)
            return
        self.head.set_result(head)
        if head is not None:
            self._requests_answered.wait(HEAD_WAIT_SECONDS)
        try:
            self.full.set_result(open_store(storage))
        except BaseException as exc:
            self.full.set_exception(exc)


def start_opening(storage: SessionStorage) -> Opening:
    """Open `storage` on a thread of its own; see `Opening`."""
    opening = Opening()
    threading.Thread(target=opening.run, args=(storage,), name="plue-open", daemon=True).start()
    return opening


class Loader:
    """Brings an `Opening` into the running core.

    `open` returns once the first requests can be answered: at once from the head
    when there is one, else after the full load. `use_loaded` receives the full load on
    the event loop; `ready` waits for it (and raises what made it fail).
    """

    def __init__(
        self,
        storage: SessionStorage,
        opening: Opening | None,
        use_loaded: Callable[[OpenedStore], None],
    ) -> None:
        self._storage = storage
        self._opening = opening
        self._use_loaded = use_loaded
        self._started: Opening | None = None
        self.head: Head | None = None
        """Until every session is loaded: the newest ones, from the catalogue's head."""
        self._ready = asyncio.Event()
        self._waiting = 0
        """Requests waiting in `ready` and not yet resumed."""
        self._failure: Exception | None = None
        self._loading_task: asyncio.Task[None] | None = None

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set() and self._failure is None

    async def open(self, answer_early: bool) -> None:
        opening, self._opening = self._opening, None
        if opening is None:
            opening = Opening()
            self._storage.in_background(lambda: opening.run(self._storage))
        self._started = opening
        head = await asyncio.wrap_future(opening.head)
        opening.allow_full_load()
        if head is None or not answer_early:
            await self._finish(opening)
            return
        self.head = head
        log.info(
            "the catalogue's head answers the first list pages while %d sessions load", head.total
        )
        self._loading_task = asyncio.get_running_loop().create_task(self._finish_behind(opening))

    def open_behind(self) -> None:
        """Open as `open` does, for a client already answered `initialize` (see
        `early`): what makes the opening fail is what every request that waits for the
        load answers."""
        self._loading_task = asyncio.get_running_loop().create_task(self._open_behind())

    async def _open_behind(self) -> None:
        try:
            await self.open(answer_early=True)
        except Exception as exc:
            log.error("opening the data directory failed: %s", exc)
            self._failure = exc
            self._ready.set()

    async def ready(self) -> None:
        """Wait until every session is loaded."""
        if not self._ready.is_set():
            self._waiting += 1
            try:
                await self._ready.wait()
            finally:
                self._waiting -= 1
        elif self._waiting:
            # Requests that waited for the load resume first, in the order they came:
            # this one must not overtake them (creates would get ids out of order).
            await asyncio.sleep(0)
        failure = self._failure
        if failure is not None:
            raise errors.storage_error(failure) if isinstance(failure, OSError) else failure

    def wait_for_loading_to_end(self) -> None:
        """Block until the opening thread is done (at exit, before anything was loaded)."""
        if self._started is not None:
            concurrent.futures.wait([self._started.full])

    async def _finish_behind(self, opening: Opening) -> None:
        try:
            await self._finish(opening)
        except Exception as exc:
            log.error("loading the data directory failed: %s", exc)
            self._failure = exc
            self._ready.set()

    async def _finish(self, opening: Opening) -> None:
        opened = await asyncio.wrap_future(opening.full)
        self.head = None
        opening.forget_head()
        self._use_loaded(opened)
        self._ready.set()

    def head_sessions(
        self, parent_id: str | None, roots_only: bool, limit: int, cursor: str | None
    ) -> tuple[list[Session], bool] | None:
        """The first page from the head, and whether more follow; None when the head
        cannot answer (no head, a cursor or a parent, or a page beyond it)."""
        head = self.head
        if head is None or parent_id is not None or cursor is not None:
            return None
        newest, total = (
            (head.newest_roots, head.roots_total) if roots_only else (head.newest, head.total)
        )
        if limit > len(newest) and total > len(newest):
            return None
        return newest[:limit], total > limit
