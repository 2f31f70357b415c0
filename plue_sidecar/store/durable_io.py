"""The only place that writes bytes to disk: atomic replace, durable append, fsync.

Every write is durable when the function returns. Directory fsyncs are shared by
concurrent writers into the same directory (group commit): a writer waits for one
fsync that started after its rename instead of issuing its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from plue_sidecar.fd_io import write_all

FILE_MODE = 0o600
DIR_MODE = 0o700
BATCH_FILES = 200
"""Files a batched write holds open at once (well under the usual descriptor limits)."""
SYNC_THREADS = 4
"""Concurrent fsyncs in a batched write: the filesystem commits them together."""
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def fsync_fd(fd: int) -> None:
    full_fsync = getattr(fcntl, "F_FULLFSYNC", None)
    if full_fsync is not None:  # macOS: plain fsync does not reach the platter
        fcntl.fcntl(fd, full_fsync)
    else:
        os.fsync(fd)


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _DirState:
    __slots__ = ("in_progress", "requested", "synced")

    def __init__(self) -> None:
        self.requested = 0
        self.synced = 0
        self.in_progress = False


class DirectorySyncer:
    """Makes directory entries durable, sharing one fsync among concurrent callers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._dirs: dict[Path, _DirState] = {}

    def sync(self, directory: Path) -> None:
        with self._lock:
            state = self._dirs.setdefault(directory, _DirState())
            state.requested += 1
            target = state.requested
            while state.synced < target:
                if state.in_progress:
                    self._changed.wait()
                    continue
                state.in_progress = True
                covers = state.requested
                self._lock.release()
                try:
                    fsync_directory(directory)
                finally:
                    self._lock.acquire()
                    state.in_progress = False
                    self._changed.notify_all()
                state.synced = max(state.synced, covers)


class DurableFiles:
    """Atomic, durable file operations below one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._syncer = DirectorySyncer()
        self._known_dirs: set[Path] = set()
        self._dirs_lock = threading.Lock()

    def ensure_directory(self, directory: Path) -> None:
        """Create `directory` (0700) and its missing parents, each entry made durable."""
        if directory in self._known_dirs:
            return
        with self._dirs_lock:
            missing: list[Path] = []
            probe = directory
            while not probe.is_dir():
                missing.append(probe)
                probe = probe.parent
            for path in reversed(missing):
                try:
                    os.mkdir(path, DIR_MODE)
                except FileExistsError:
                    continue
                fsync_directory(path.parent)
            self._known_dirs.add(directory)

    def write_atomic(self, path: Path, data: bytes) -> None:
        """Replace `path` with `data`: temp file, fsync, rename, directory fsync."""
        self.ensure_directory(path.parent)
        temp = _temp_path(path)
        fd = os.open(temp, _CREATE_FLAGS, FILE_MODE)
        try:
            try:
                write_all(fd, data)
                fsync_fd(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except BaseException:
            _unlink_quietly(temp)
            raise
        self._syncer.sync(path.parent)

    def write_many_atomic(self, files: list[tuple[Path, bytes]]) -> None:
        """Replace each path with its data, durably: what `write_atomic` does for one,
        batched (every temp file written, then synced by a few threads at once, then
        renamed; one fsync per directory). On failure, what was renamed is whole and
        the rest is as it was."""
        with ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="plue-sync") as syncers:
            for start in range(0, len(files), BATCH_FILES):
                self._write_batch(files[start : start + BATCH_FILES], syncers)

    def _write_batch(
        self, files: list[tuple[Path, bytes]], syncers: ThreadPoolExecutor
    ) -> None:
        temps: list[tuple[Path, Path]] = []
        fds: list[int] = []
        renamed = 0
        try:
            try:
                for path, data in files:
                    self.ensure_directory(path.parent)
                    temp = _temp_path(path)
                    fds.append(os.open(temp, _CREATE_FLAGS, FILE_MODE))
                    temps.append((temp, path))
                    write_all(fds[-1], data)
                list(syncers.map(fsync_fd, fds))
            finally:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            for temp, path in temps:
                os.replace(temp, path)
                renamed += 1
        except BaseException:
            for temp, _ in temps[renamed:]:
                _unlink_quietly(temp)
            raise
        for parent in {path.parent for _, path in temps}:
            self._syncer.sync(parent)

    def append_durable(self, path: Path, data: bytes) -> None:
        """Append `data` to `path` and fsync; on failure the file is as it was (cut back, or
        gone again if this append created it)."""
        self.ensure_directory(path.parent)
        created = not path.exists()
        fd = os.open(path, _APPEND_FLAGS, FILE_MODE)
        try:
            size_before = os.fstat(fd).st_size
            try:
                write_all(fd, data)
                fsync_fd(fd)
            except BaseException:
                if created:
                    _unlink_quietly(path)
                else:
                    _truncate_quietly(fd, size_before)
                raise
        finally:
            os.close(fd)
        if created:
            self._syncer.sync(path.parent)

    def truncate(self, path: Path, size: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            fsync_fd(fd)
        finally:
            os.close(fd)

    def move(self, source: Path, target: Path) -> None:
        """Rename `source` to `target` (its directory must exist), durably in both
        directories."""
        os.replace(source, target)
        for directory in {source.parent, target.parent}:
            self._syncer.sync(directory)

    def remove(self, paths: list[Path]) -> None:
        """Remove files (missing ones are fine) and make the removals durable."""
        parents: set[Path] = set()
        for path in paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            parents.add(path.parent)
        for parent in parents:
            self._syncer.sync(parent)


def _temp_path(path: Path) -> Path:
    """A fresh hidden name beside `path`: loading skips and removes dot files."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")



def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _truncate_quietly(fd: int, size: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size)
