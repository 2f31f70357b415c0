"""Opening the data directory on a thread at process start, while the rest imports.

Importing pygls and pydantic takes about as long as loading and indexing a large data
directory; doing both at once shortens the time to the first answer.
"""

from __future__ import annotations

import gc
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from plue_sidecar.core.index import SessionIndex
from plue_sidecar.store.session_store import LoadedData, SessionStore


@dataclass
class OpenedStore:
    loaded: LoadedData
    index: SessionIndex


def open_store(store: SessionStore) -> OpenedStore:
    """Lock, load and index the data directory (any thread)."""
    loaded = store.open()
    return OpenedStore(loaded, SessionIndex(loaded.sessions))


def start_opening(store: SessionStore) -> Future[OpenedStore]:
    """Open `store` on a thread; the future holds the result, or why it failed."""
    opened: Future[OpenedStore] = Future()

    def run() -> None:
        try:
            opened.set_result(open_store(store))
        except BaseException as exc:
            opened.set_exception(exc)
        finally:
            gc.enable()

    # Loading creates only objects that live on: collecting meanwhile is wasted work.
    gc.disable()
    threading.Thread(target=run, name="plue-open", daemon=True).start()
    return opened
