"""The journal: the append-only log that makes each session change durable.

A change is acknowledged once its record is in the journal and synced to disk. The
documents under `sessions/<yyyy>/<mm>/` are written behind it by a checkpoint, after
which the journal generations the checkpoint covers are removed; at start, whatever
the journal still holds is replayed on top of the documents.

Concurrent changes share one sync (group commit): one flusher thread takes every record
queued so far, appends them with one write, syncs once and then releases each waiter
(those on an event loop with one call to it per batch, see `append_on_loop`). A record
queued while a sync runs goes out with the next one, so no waiter is released by a
sync that started before its record was written.

The flusher keeps the current generation's file open as an `AppendLog`: the file is
grown ahead of its records with zeros, synced once, so that each batch is written over
them and synced with `fdatasync` (its data alone, no metadata). Readers take the zeros
at the end of a generation for its end; a power cut during a batch leaves part of it
over the zeros, which reads as a torn last record. The zeros are cut off when the
flusher moves on to another generation or closes.

A failed write (above all a failed sync) leaves the end of its generation's file
unknown: the failed records may be on disk or not. Before anything more is
acknowledged, that file is made known again from memory: rewritten atomically with
exactly the records acknowledged in it, or removed if it holds none. Until that
succeeds every write fails, so a change answered with an error can come back after a
crash only if the sidecar acknowledged nothing after it.

A generation also ends once it holds what `end_generations_at` set, so each file stays
small enough to be rewritten on a nearly full disk: `rewrite_generations` replaces
generations atomically, one at a time (the compaction in `compaction` uses it).

Each generation is a file `sessions/journal-<generation>.log` holding one record a
line: the CRC-32 of the JSON as 8 hex digits, a space, the JSON. A line that is cut
short or fails its check is a write that was never acknowledged when it is the last
one; anywhere else it is damage, reported and skipped. Zero bytes at the end of a
generation are room written ahead (no record holds a zero byte), not records.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from plue_sidecar.errors import DataDirReplacedError
from plue_sidecar.store.disk.append_log import PREALLOCATE_BYTES, AppendLog, open_log
from plue_sidecar.store.disk.durable_io import DurableFiles
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.disk.uninterrupted import Uncancellable
from plue_sidecar.store.files.layout import generations_in, journal_path

log = logging.getLogger(__name__)
Record = dict[str, Any]
IDLE_SECONDS = 1.0
"""After this long without a record, the flusher closes the generation's file (it opens
it again for the next): a file open for writing keeps its disk from going read-only."""
Waiter = Future[int] | asyncio.Future[int]


def encode(record: Record) -> bytes:
    payload = orjson.dumps(record)
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


@dataclass
class JournalContents:
    """What the journal generations on disk hold, oldest first."""

    generations: list[int] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Damage: records skipped in the middle of a generation."""
    torn: list[str] = field(default_factory=list)
    """Generations ending in a record that was never acknowledged."""

    @property
    def next_generation(self) -> int:
        return self.generations[-1] + 1 if self.generations else 1


def read_journal(root: Root, directory: Path) -> JournalContents:
    """Read every generation in `directory`; it changes nothing."""
    contents = JournalContents()
    for generation, path in generations_in(root, directory):
        contents.generations.append(generation)
        _parse_generation(root.read_bytes(path), path.name, contents)
    return contents


def _parse_generation(data: bytes, name: str, contents: JournalContents) -> None:
    lines = data.rstrip(b"\0").split(b"\n")
    complete, last = lines[:-1], lines[-1]
    bad: list[int] = []
    for number, line in enumerate(complete, start=1):
        record = decode_line(line)
        if record is None:
            bad.append(number)
        else:
            contents.records.append(record)
    if last:
        contents.torn.append(f"{name} ends in a record cut short")
    elif bad and bad[-1] == len(complete):
        bad.pop()
        contents.torn.append(f"{name} ends in a record that fails its check")
    for number in bad:
        problem = f"{name}: record {number} is damaged and was skipped"
        log.error("journal %s", problem)
        contents.problems.append(problem)


def decode_line(line: bytes) -> Record | None:
    checksum, _, payload = line.partition(b" ")
    try:
        if int(checksum, 16) != zlib.crc32(payload) or len(checksum) != 8:
            return None
        record = orjson.loads(payload)
    except (ValueError, orjson.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


class Journal:
    """Appends records to the current generation, durably and in batches."""

    def __init__(self, files: DurableFiles, directory: Path, generation: int) -> None:
        self._files = files
        self._directory = directory
        self._generation = generation
        self._lock = threading.Lock()
        self._queued = threading.Condition(self._lock)
        self._pending: list[tuple[int, bytes, Waiter]] = []
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._disk_lock = threading.Lock()
        """Held while the files change: by the flusher, and by `remove_through`."""
        self._acknowledged: dict[int, bytearray] = {}
        """The records acknowledged in each generation not yet removed, as written."""
        self._unknown: set[int] = set()
        """Generations whose file a failed write left unknown on disk."""
        self._removed_through = 0
        self._generation_bytes = 0
        """A generation ends once it holds this many bytes (0: only `rotate` ends one)."""
        self._queued_in_generation = 0
        self._log: AppendLog | None = None
        """The generation the flusher appends to, open (only under `_disk_lock`)."""
        self._log_generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def append(self, record: Record) -> Future[int]:
        """Queue `record`; the future ends when it is durable, with its generation."""
        done: Future[int] = Future()
        self._queue(encode(record), done)
        return done

    def append_on_loop(self, record: Record) -> asyncio.Future[int]:
        """`append` for a caller on an event loop: the waiters of one batch on the same
        loop are released together, with one call to it (not one wake-up each). The
        future cannot be cancelled (see `uninterrupted`)."""
        done: asyncio.Future[int] = Uncancellable(loop=asyncio.get_running_loop())
        self._queue(encode(record), done)
        return done

    def append_for(self, record: Record, done: asyncio.Future[int]) -> None:
        """`append_on_loop` with the loop's future made by the caller: from any thread."""
        self._queue(encode(record), done)

    def _queue(self, data: bytes, done: Waiter) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the journal is closed")
            if 0 < self._generation_bytes <= self._queued_in_generation:
                self._generation += 1
                self._queued_in_generation = 0
            self._queued_in_generation += len(data)
            self._pending.append((self._generation, data, done))
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="plue-journal", daemon=True
                )
                self._flusher.start()
            self._queued.notify()

    def end_generations_at(self, size: int) -> None:
        """End each generation once it holds `size` bytes from now on (0: only `rotate`
        ends one)."""
        with self._lock:
            self._generation_bytes = size

    def rotate(self) -> int:
        """Start a new generation for records queued from now on; the old one's number."""
        with self._lock:
            self._generation += 1
            self._queued_in_generation = 0
            return self._generation - 1

    def remove_through(self, generation: int) -> None:
        """Remove the files of every generation up to `generation` (a checkpoint covers them)."""
        with self._disk_lock:
            if self._log_generation <= generation:
                self._close_log()
            covered = {
                path
                for number, path in generations_in(self._files.root_handle, self._directory)
                if number <= generation
            }
            covered.update(
                journal_path(self._directory, number)
                for number in self._unknown
                if number <= generation
            )
            self._files.remove(sorted(covered))
            self._removed_through = max(self._removed_through, generation)
            self._unknown = {number for number in self._unknown if number > generation}
            for number in [number for number in self._acknowledged if number <= generation]:
                del self._acknowledged[number]

    def rewrite_generations(
        self, rewrite: Callable[[list[tuple[int, bytes]]], dict[int, bytes]]
    ) -> int:
        """Replace generations with shorter versions of themselves; the bytes freed.

        `rewrite` gets every generation's file, oldest first, and answers the new
        contents of those it shortens (never the current one). Each is replaced
        atomically, oldest first, so a crash leaves every generation old or new, whole.
        Nothing is appended meanwhile."""
        with self._disk_lock:
            self._make_known()
            current = self._generation
            on_disk = [
                (number, self._files.read_bytes(path))
                for number, path in generations_in(self._files.root_handle, self._directory)
            ]
            freed = 0
            rewritten = rewrite([(number, data.rstrip(b"\0")) for number, data in on_disk])
            for number, old in on_disk:
                new = rewritten.get(number, old.rstrip(b"\0"))  # zeros a crash left go too
                if number >= current or len(new) >= len(old):
                    continue
                if number == self._log_generation:
                    self._close_log()
                self._files.write_atomic(journal_path(self._directory, number), new)
                if number in self._acknowledged:
                    self._acknowledged[number] = bytearray(new)
                freed += len(old) - len(new)
            return freed

    def close(self) -> None:
        """Finish what is queued and stop the flusher."""
        with self._lock:
            self._closed = True
            self._queued.notify()
            flusher = self._flusher
        if flusher is not None:
            flusher.join()
        with self._disk_lock:
            self._close_log()

    def _flush_forever(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    if not self._queued.wait(IDLE_SECONDS) and not self._pending:
                        self._release_log()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            for generation, group in _by_generation(batch):
                self._flush(generation, group)

    def _flush(self, generation: int, group: list[tuple[bytes, Waiter]]) -> None:
        data = b"".join(data for data, _ in group)
        with self._disk_lock:
            try:
                self._make_known()
                self._append(generation, data)
            except Exception as exc:  # anything: a dead flusher would hang every write
                _release(group, None, _as_os_error(exc))
                return
        _release(group, generation, None)

    def _append(self, generation: int, data: bytes) -> None:
        try:
            self._log_of(generation).append(data)
        except Exception as exc:
            log.error("journal write failed: %r", exc)
            self._close_log()
            self._unknown.add(generation)
            try:
                self._make_known()
            except OSError as again:
                log.error(
                    "journal: generation %d stays unknown on disk (%s); every write "
                    "fails until it is rewritten",
                    generation,
                    again,
                )
            raise
        self._acknowledged.setdefault(generation, bytearray()).extend(data)

    def _log_of(self, generation: int) -> AppendLog:
        if self._log is None or self._log.closed or self._log_generation != generation:
            self._close_log()
            # A generation ends once it holds that size: no zeros beyond that.
            preallocate = self._generation_bytes or PREALLOCATE_BYTES
            self._log = open_log(
                self._files, journal_path(self._directory, generation), preallocate
            )
            self._log_generation = generation
        return self._log

    def _release_log(self) -> None:
        """Idle: close the file until the next batch (without waiting for the disk)."""
        if self._disk_lock.acquire(blocking=False):
            try:
                if self._log is not None:
                    self._log.release()
            finally:
                self._disk_lock.release()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _make_known(self) -> None:
        """Rewrite each generation a failure left unknown with what was acknowledged in
        it (or remove its file, if nothing was), durably."""
        if self._unknown:
            self._close_log()
        for generation in sorted(self._unknown):
            path = journal_path(self._directory, generation)
            acknowledged = self._acknowledged.get(generation)
            if acknowledged and generation > self._removed_through:
                self._files.write_atomic(path, bytes(acknowledged))
            else:
                self._files.remove([path])
            self._unknown.discard(generation)
            log.warning(
                "journal: generation %d rewritten with its %d acknowledged bytes",
                generation,
                len(acknowledged or b""),
            )


def _as_os_error(exc: Exception) -> OSError:
    """What a failed batch's waiters get: an unexpected error (a bug, no memory) is an
    I/O error to them, as the end of the generation's file is unknown either way."""
    if isinstance(exc, OSError):
        return exc
    log.error("journal: unexpected failure of a batch", exc_info=exc)
    return OSError(errno.EIO, f"the journal's write failed: {exc!r}")


def _fresh_copy(exc: OSError) -> OSError:
    """One exception per waiter (each raises its own), of the same meaning."""
    if isinstance(exc, DataDirReplacedError):
        return DataDirReplacedError(exc.filename)
    return OSError(exc.errno, exc.strerror)


def _release(
    group: list[tuple[bytes, Waiter]], generation: int | None, failure: OSError | None
) -> None:
    """End each waiter with `generation` or (a copy of) `failure`; those on event loops
    with one call to each loop."""
    on_loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[int]]] = {}
    for _, done in group:
        if isinstance(done, asyncio.Future):
            on_loops.setdefault(done.get_loop(), []).append(done)
        elif done.done():
            continue  # cancelled by its caller: nobody waits for it
        elif failure is not None:
            done.set_exception(_fresh_copy(failure))
        else:
            assert generation is not None
            done.set_result(generation)
    for loop, waiters in on_loops.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, waiters, generation, failure)


def _settle(
    waiters: list[asyncio.Future[int]], generation: int | None, failure: OSError | None
) -> None:
    for done in waiters:
        if done.done():
            continue
        if failure is not None:
            done.set_exception(_fresh_copy(failure))
        else:
            assert generation is not None
            done.set_result(generation)


def _by_generation(
    batch: list[tuple[int, bytes, Waiter]],
) -> Iterator[tuple[int, list[tuple[bytes, Waiter]]]]:
    groups: dict[int, list[tuple[bytes, Waiter]]] = {}
    for generation, data, done in batch:
        groups.setdefault(generation, []).append((data, done))
    yield from groups.items()
