"""The early answers: the editor's first messages answered while the sidecar imports.

Importing pygls and pydantic takes several times as long as starting Python. An
editor's first paint needs only `initialize` and the first `session/list` page, and
after a clean exit the catalogue's head holds that page (see `store.head`). So the
process starts here, importing neither: it takes the data directory's lock, reads the
head, and answers those messages on the main thread while a thread imports the rest.
Then it hands over, at a message boundary, to the full path (`app.Sidecar`): the lock,
the frame splitter with any bytes of a message not yet whole, the messages it did not
answer, in order, and whether `initialize` was answered (and for which client process).

It answers only what it can answer exactly as the full path would, byte for byte
(tests hold the two equal); at anything else it stops answering and stops reading,
and the full path handles that message and what follows. Without a trusted head (a
first start, or after a crash) nothing is answered early, except on a data directory
that holds nothing at all, whose first page is empty.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from plue_sidecar.early.answers import EarlyAnswers
from plue_sidecar.early.page import first_page
from plue_sidecar.fd_io import write_all
from plue_sidecar.rpc.framing import Frame, FrameEvent, FrameSplitter
from plue_sidecar.runners.names import launch_runner_specs, runner_specs
from plue_sidecar.settings import Settings
from plue_sidecar.store.catalogue.head import RawHead, trusted_head
from plue_sidecar.store.disk.lock import LOCK_FILE, DataDirLock, DataDirLockedError
from plue_sidecar.store.disk.root import DIR_MODE, Root
from plue_sidecar.store.files.layout import Layout

log = logging.getLogger(__name__)
T = TypeVar("T")
READ_CHUNK = 64 * 1024
MAX_EARLY_OUTPUT_BYTES = 1024 * 1024
"""What the early answers write at most: a blocking write to a client that does not
read would keep the full path from taking over."""
SWITCH_INTERVAL_SECONDS = 0.0005
"""While the imports run on their thread, a message waits at most this long for the
interpreter (the default, 5 ms, is longer than answering it): `cli` sets it, with the
process's other state."""
EMPTY_HEAD: RawHead = {"total": 0, "rootsTotal": 0, "newest": [], "newestRoots": []}


@dataclass
class Handover(Generic[T]):
    """What the full path takes over from the early answers."""

    prepared: T
    """What the import thread built."""
    splitter: FrameSplitter
    lock: DataDirLock | None
    """The data directory's lock, when the early answers took it."""
    initialized: bool = False
    process_id: int | None = None
    deferred: list[FrameEvent] = field(default_factory=list)
    """Messages received and not answered, in order."""
    terminated: Callable[[], bool] = lambda: False
    """Whether a SIGTERM came before the full path handles it (ask once it does)."""


class EarlyStart:
    def __init__(self, settings: Settings, input_fd: int, output_fd: int) -> None:
        self._settings = settings
        self._input_fd = input_fd
        self._output_fd = output_fd
        self._splitter = FrameSplitter(settings.max_frame_bytes)
        self._lock: DataDirLock | None = None
        self._answers: EarlyAnswers | None = None
        self._deferred: list[FrameEvent] = []
        self._written = 0
        self._terminated = False
        self._wake_write: int | None = None

    @property
    def lock(self) -> DataDirLock | None:
        """The data directory's lock, once `open` took it."""
        return self._lock

    def open(self) -> None:
        """Take the lock and read the head. When anything is amiss (the directory is
        locked, unreadable, or has no trusted head) nothing is answered early: the full
        path finds the same problem and reports it as it always does."""
        data_dir = self._settings.data_dir
        try:
            data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            lock = DataDirLock(data_dir)
            lock.acquire()
        except (OSError, DataDirLockedError) as exc:
            log.debug("no early answers: %s", exc)
            return
        self._lock = lock
        try:
            # Read through the directory locked: its path may lead elsewhere by now.
            head = trusted_head(Root(data_dir, lock.dir_fd), Layout(data_dir))
            if head is None and set(os.listdir(lock.dir_fd)) <= {LOCK_FILE}:
                head = EMPTY_HEAD
            runners = sorted(runner_specs(launch_runner_specs(self._settings)))
        except Exception as exc:
            # Whatever it is (a damaged package's entry points too), the full path meets
            # it again where a request can answer it; the start must not die of it here.
            log.warning("no early answers: %s", exc)
            return
        if head is None:
            return
        base_url = self._settings.share_base_url
        self._answers = EarlyAnswers(
            str(data_dir),
            runners,
            lambda roots_only, limit: first_page(head, roots_only, limit, base_url),
        )

    @property
    def answers_early(self) -> bool:
        """Whether `run` answers while `prepare` runs on a thread (`open` found a head)."""
        return self._answers is not None

    def run(self, prepare: Callable[[], T]) -> Handover[T]:
        """Answer what can be answered early while `prepare` runs on a thread; return
        when it is done, at a message boundary. A SIGTERM meanwhile (`terminate`, which
        the caller makes the signal's handler) ends the wait, and the full path, told by
        the handover, ends the process as it would."""
        answers = self._answers
        if answers is None:
            return self._handover(prepare(), initialized=False, process_id=None)
        wake_read, self._wake_write = os.pipe()
        outcome: list[T] = []
        failure: list[BaseException] = []

        def behind() -> None:
            try:
                outcome.append(prepare())
            except BaseException as exc:  # raised again on the main thread
                failure.append(exc)
            finally:
                self._wake()

        thread = threading.Thread(target=behind, name="plue-import", daemon=True)
        thread.start()
        try:
            self._answer_until(wake_read, answers)
        finally:
            thread.join()
            wake_write, self._wake_write = self._wake_write, None
            os.close(wake_read)
            os.close(wake_write)
        # The head's rows are not needed any more: not kept through the full load.
        self._answers = None
        if failure:
            raise failure[0]
        if answers.initialized:
            log.info(
                "initialize answered before the full path; %d messages hand over",
                len(self._deferred),
            )
        return self._handover(outcome[0], answers.initialized, answers.process_id)

    def _handover(self, prepared: T, initialized: bool, process_id: int | None) -> Handover[T]:
        return Handover(
            prepared,
            self._splitter,
            self._lock,
            initialized,
            process_id,
            self._deferred,
            lambda: self._terminated,
        )

    def terminate(self, signum: int, frame: object) -> None:
        """SIGTERM's handler while `run` runs: stop answering and hand over."""
        self._terminated = True
        self._wake()

    def _wake(self) -> None:
        if self._wake_write is not None:
            os.write(self._wake_write, b"x")

    def _answer_until(self, wake: int, answers: EarlyAnswers) -> None:
        reading = True
        while True:
            watched = [wake, self._input_fd] if reading else [wake]
            ready, _, _ = select.select(watched, [], [])
            if wake in ready:
                return
            try:
                data = os.read(self._input_fd, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                reading = False  # the full path's reader sees the end too
                continue
            for event in self._splitter.feed(data):
                self._take(event, answers)
            # Once something waits for the full path, what follows waits in the pipe.
            reading = not answers.deferring

    def _take(self, event: FrameEvent, answers: EarlyAnswers) -> None:
        if not answers.deferring and self._written > MAX_EARLY_OUTPUT_BYTES:
            answers.defer()
        reply = answers.answer(event.body) if isinstance(event, Frame) else None
        if reply is None:
            answers.defer()
            self._deferred.append(event)
        elif reply:
            write_all(self._output_fd, reply)
            self._written += len(reply)
