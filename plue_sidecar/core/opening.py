"""Opening the data directory on a thread at process start, while the rest imports.

Importing pygls and pydantic takes about as long as loading and indexing a large data
directory. The thread first takes the lock and reads the catalogue's head: after a
clean exit that is enough to answer `initialize` and the first `session/list` pages.
It then waits until the process is ready for requests (competing with the imports for
the interpreter would only slow both) and loads everything; other requests wait for
that. Without a usable head it loads everything at once, and `initialize` waits.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

from plue_sidecar.core.index import SessionIndex
from plue_sidecar.store.catalogue import Head
from plue_sidecar.store.session_store import LoadedData, SessionStore

HEAD_WAIT_SECONDS = 30.0
"""The longest the full load waits for the process to be ready before going ahead."""


@dataclass
class OpenedStore:
    loaded: LoadedData
    index: SessionIndex


def open_store(store: SessionStore) -> OpenedStore:
    """Lock, load and index the data directory (any thread)."""
    loaded = store.open()
    return OpenedStore(loaded, SessionIndex(loaded.sessions))


class Opening:
    """The two results of opening: the head (or None), then everything."""

    def __init__(self) -> None:
        self.head: Future[Head | None] = Future()
        self.full: Future[OpenedStore] = Future()
        self._go_on = threading.Event()

    def go_on(self) -> None:
        """The process answers requests now: the full load may use the interpreter."""
        self._go_on.set()

    def run(self, store: SessionStore) -> None:
        try:
            head = store.open_preview()
        except BaseException as exc:
            self.head.set_exception(exc)
            self.full.set_exception(exc)
            return
        self.head.set_result(head)
        if head is not None:
            self._go_on.wait(HEAD_WAIT_SECONDS)
        try:
            self.full.set_result(open_store(store))
        except BaseException as exc:
            self.full.set_exception(exc)


def start_opening(store: SessionStore) -> Opening:
    """Open `store` on a thread; see `Opening`."""
    opening = Opening()
    threading.Thread(target=opening.run, args=(store,), name="plue-open", daemon=True).start()
    return opening
