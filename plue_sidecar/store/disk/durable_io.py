"""Durable writes below the data directory: atomic replace, durable append, fsync.

Every write of the store goes through here but two: the journal's appends, to a file
it keeps open (`append_log`, which uses these syncs and the directory's handle), and
the pid the lock writes into the `lock` file (`lock`).

Every write is durable when the function returns. Directory fsyncs are shared by
concurrent writers into the same directory (group commit): a writer waits for one
fsync that started after its rename instead of issuing its own.

A failed sync says nothing about what reached the disk, and a later sync that
succeeds does not make up for it (the kernel may have dropped what the failed one
was to write). So nothing here retries a sync and trusts it: what a failed sync
covered is undone in the file system (a created file removed, an append cut back, a
new directory removed), the failure reaches every writer the sync covered, and the
next write that depends on it makes it known afresh (cuts the file again and syncs
it, or syncs a directory entry made again) before it returns.

Once attached to the data directory as it was locked (`DurableFiles.attach`), every
file below it is opened relative to that directory's descriptor, and every write first
checks that the path still leads there: a directory moved, deleted or replaced under a
running sidecar is never written through (a second sidecar may hold what is there now);
from then on each write raises `DataDirReplacedError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from plue_sidecar.errors import DataDirReplacedError
from plue_sidecar.fd_io import write_all
from plue_sidecar.store.disk.root import DIR_MODE, FILE_MODE, Root

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


def datasync_fd(fd: int) -> None:
    """Sync `fd`'s data, and of its metadata only what reading the data back needs
    (`fdatasync`: a write over blocks already allocated and sized needs none)."""
    full_fsync = getattr(fcntl, "F_FULLFSYNC", None)
    if full_fsync is not None:  # macOS has no cheaper sync that reaches the platter
        fcntl.fcntl(fd, full_fsync)
    else:
        os.fdatasync(fd)


def fsync_directory(path: Path, root: Root | None = None) -> None:
    """Make the entries of the directory at `path` durable (opened through `root`, when
    given, as every path below the data directory is)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    fd = os.open(path, flags) if root is None else root.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _DirState:
    __slots__ = ("failed_through", "failure", "in_progress", "requested", "synced")

    def __init__(self) -> None:
        self.requested = 0
        self.synced = 0
        self.failed_through = 0
        """Requests up to this one were covered by a sync that failed."""
        self.failure: OSError | None = None
        self.in_progress = False


class DirectorySyncer:
    """Makes directory entries durable, sharing one fsync among concurrent callers.

    When a shared fsync fails, every caller it covered gets the failure: none of them
    is released by a later fsync, which could not vouch for what the failed one missed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._dirs: dict[Path, _DirState] = {}

    def sync(self, directory: Path, root: Root | None = None) -> None:
        """Return once a sync of `directory` (opened through `root`, when given) that
        started after this call covers it; raise what that sync raised."""
        with self._lock:
            state = self._dirs.setdefault(directory, _DirState())
            state.requested += 1
            target = state.requested
            while state.synced < target:
                if state.in_progress:
                    self._changed.wait()
                    continue
                if target <= state.failed_through:
                    assert state.failure is not None
                    raise OSError(state.failure.errno, state.failure.strerror)
                state.in_progress = True
                covers = state.requested
                try:
                    self._fsync_unlocked(directory, root)
                except OSError as exc:
                    state.failed_through = covers
                    state.failure = exc
                    raise
                else:
                    state.synced = covers
                finally:
                    # Anything but an OSError (a bug) is no failed sync: it says nothing
                    # of the disk, so those waiting on this one sync afresh.
                    state.in_progress = False
                    self._changed.notify_all()

    def _fsync_unlocked(self, directory: Path, root: Root | None) -> None:
        """Sync `directory` with the lock released; it is held again however that ends."""
        self._lock.release()
        try:
            fsync_directory(directory, root)
        finally:
            self._lock.acquire()


class DurableFiles:
    """Atomic, durable file operations below one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._at = Root(root)
        self._replaced = False
        self._syncer = DirectorySyncer()
        self._known_dirs: set[Path] = set()
        self._dirs_lock = threading.Lock()
        self._files_lock = threading.Lock()
        self._entries_synced: set[Path] = set()
        """Appended files whose directory entry this process has synced."""
        self._trusted_sizes: dict[Path, int] = {}
        """Appended files whose end a failure left unknown: the size to cut them back to
        (and sync) before anything more is appended."""

    def attach(self, root_fd: int) -> None:
        """Open everything relative to `root_fd` (the root as it was locked) from now on,
        and write only while the root's path still leads to it."""
        self._at = Root(self.root, root_fd)

    def detach(self) -> None:
        """Open paths by their full name again (the root's descriptor is closed)."""
        self._at = Root(self.root)

    @property
    def root_handle(self) -> Root:
        """Where every path below the root is opened, read and listed: relative to the
        root as it was locked once attached, else by its full path."""
        return self._at

    def read_bytes(self, path: Path) -> bytes:
        return self._at.read_bytes(path)

    def open_for_reading(self, path: Path) -> BinaryIO:
        return self._at.open_for_reading(path)

    def stat(self, path: Path) -> os.stat_result:
        return self._at.lstat(path)

    def names_in(self, directory: Path) -> list[str]:
        """The names in `directory`, sorted (none when it does not exist)."""
        try:
            return sorted(self._at.listdir(directory))
        except FileNotFoundError:
            return []

    def check_root(self) -> None:
        """Raise `DataDirReplacedError`, now and from now on, once the root's path no
        longer leads to the directory attached."""
        if self._at.fd is None:
            return
        if self._replaced or not self._at.still_at_path():
            self._replaced = True
            raise DataDirReplacedError(str(self.root))

    def ensure_directory(self, directory: Path) -> None:
        """Create `directory` (0700) and its missing parents, and make the entry of each
        one below the root durable, once per process: one found on disk may have been
        made by a process that died before (or failed) syncing it. A directory whose
        entry cannot be synced is removed again when this call made it (and empty), so
        the next call makes and syncs it afresh."""
        self.check_root()
        self._ensure_directory(directory)

    def _ensure_directory(self, directory: Path) -> None:
        if directory in self._known_dirs:
            return
        with self._dirs_lock:
            chain: list[Path] = []
            probe = directory
            while (
                probe not in self._known_dirs
                and probe != self.root
                and probe.is_relative_to(self.root)
            ):
                chain.append(probe)
                probe = probe.parent
            if not chain and not directory.is_dir():
                os.makedirs(directory, DIR_MODE, exist_ok=True)  # outside the root: as asked
            if chain and self._at.fd is None and not self.root.is_dir():
                os.makedirs(self.root, DIR_MODE, exist_ok=True)
            for path in reversed(chain):
                self._make_and_sync_entry(path)
                self._known_dirs.add(path)
            self._known_dirs.add(directory)

    def write_atomic(self, path: Path, data: bytes) -> None:
        """Replace `path` with `data`: temp file, fsync, rename, directory fsync.

        If the directory's fsync fails, a file this call created is removed again; a file
        it replaced holds the old or the new data, whole, and which is unknown."""
        self.write_atomic_with(path, lambda fd: write_all(fd, data))

    def write_atomic_with(self, path: Path, write: Callable[[int], None]) -> None:
        """`write_atomic` of what `write` writes to the temp file's descriptor: a large
        file made in pieces need not be held whole in memory."""
        self.ensure_directory(path.parent)
        temp = _temp_path(path)
        existed = self._at.lexists(path)
        fd = self._at.open(temp, _CREATE_FLAGS, FILE_MODE)
        try:
            try:
                write(fd)
                fsync_fd(fd)
            finally:
                os.close(fd)
            self._at.replace(temp, path)
        except BaseException:
            self._unlink_quietly(temp)
            raise
        self._forget_appends(path)
        try:
            self._syncer.sync(path.parent, self._at)
        except OSError:
            if not existed:
                self._unlink_quietly(path)
            raise
        with self._files_lock:
            self._entries_synced.add(path)

    def write_many_atomic(self, files: list[tuple[Path, bytes]]) -> None:
        """Replace each path with its data, durably: what `write_atomic` does for one,
        batched (every temp file written, then synced by a few threads at once, then
        renamed; one fsync per directory). On failure, what was renamed is whole and
        the rest is as it was."""
        self.check_root()
        with ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="plue-sync") as syncers:
            for start in range(0, len(files), BATCH_FILES):
                self._write_batch(files[start : start + BATCH_FILES], syncers)

    def _write_batch(self, files: list[tuple[Path, bytes]], syncers: ThreadPoolExecutor) -> None:
        temps: list[tuple[Path, Path]] = []
        fds: list[int] = []
        renamed = 0
        try:
            try:
                for path, data in files:
                    self._ensure_directory(path.parent)
                    temp = _temp_path(path)
                    fds.append(self._at.open(temp, _CREATE_FLAGS, FILE_MODE))
                    temps.append((temp, path))
                    write_all(fds[-1], data)
                list(syncers.map(fsync_fd, fds))
            finally:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            for temp, path in temps:
                self._at.replace(temp, path)
                renamed += 1
        except BaseException:
            for temp, _ in temps[renamed:]:
                self._unlink_quietly(temp)
            raise
        for parent in {path.parent for _, path in temps}:
            self._syncer.sync(parent, self._at)

    def append_durable(self, path: Path, data: bytes) -> None:
        """Append `data` to `path`, fsync it and, the first time this process appends to
        it, its directory entry. On failure the file is as it was: cut back, or removed
        if this call created it. (What reached the disk is unknown after a failed sync;
        the next append cuts the file back again and its sync covers that.)"""
        self.ensure_directory(path.parent)
        created = not self._at.lexists(path)
        with self._files_lock:
            trusted = None if created else self._trusted_sizes.get(path)
            entry_synced = path in self._entries_synced
        fd = self._at.open(path, _APPEND_FLAGS, FILE_MODE)
        try:
            size_before = os.fstat(fd).st_size if trusted is None else trusted
            try:
                if trusted is not None:
                    os.ftruncate(fd, trusted)
                write_all(fd, data)
                fsync_fd(fd)
                if created or not entry_synced:
                    self._syncer.sync(path.parent, self._at)
            except BaseException:
                self._undo_append(path, fd, size_before, created)
                raise
        finally:
            os.close(fd)
        with self._files_lock:
            self._trusted_sizes.pop(path, None)
            self._entries_synced.add(path)

    def _undo_append(self, path: Path, fd: int, size_before: int, created: bool) -> None:
        """Put a file back as it was before a failed append: removed if the append
        created it, else cut back; either way its end is unknown on disk until the next
        append to it syncs again (a removed file is created and its entry synced anew)."""
        if created and self._unlinked(path):
            self._forget_appends(path)
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size_before)
        with self._files_lock:
            self._trusted_sizes[path] = size_before
            if created:
                self._entries_synced.discard(path)

    def truncate(self, path: Path, size: int) -> None:
        """Cut `path` to `size` bytes and fsync it. If that fails, the next append to
        `path` cuts it to `size` first (and its sync covers the cut)."""
        self.check_root()
        with self._files_lock:
            self._trusted_sizes[path] = size
        fd = self._at.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            fsync_fd(fd)
        finally:
            os.close(fd)
        with self._files_lock:
            if self._trusted_sizes.get(path) == size:
                del self._trusted_sizes[path]

    def move(self, source: Path, target: Path) -> None:
        """Rename `source` to `target` (its directory must exist), durably in both
        directories."""
        self.check_root()
        self._at.replace(source, target)
        for directory in {source.parent, target.parent}:
            self._syncer.sync(directory, self._at)

    def remove(self, paths: list[Path]) -> None:
        """Remove files (missing ones are fine) and make the removals durable. The
        directory of a file already gone is synced too: an earlier removal whose sync
        failed may have taken it."""
        self.check_root()
        parents: set[Path] = set()
        for path in paths:
            parents.add(path.parent)
            self._forget_appends(path)
            with contextlib.suppress(FileNotFoundError):
                self._at.unlink(path)
        for parent in parents:
            if self._at.is_dir(parent):
                self._syncer.sync(parent, self._at)

    def open_relative(self, path: Path, flags: int, mode: int = FILE_MODE) -> int:
        """An fd of `path`, opened below the data directory as it was locked."""
        return self._at.open(path, flags, mode)

    def entry_synced(self, path: Path) -> bool:
        with self._files_lock:
            return path in self._entries_synced

    def sync_entry(self, path: Path) -> None:
        """Make `path`'s directory entry durable (once per process, see `append_durable`)."""
        self._syncer.sync(path.parent, self._at)
        with self._files_lock:
            self._entries_synced.add(path)

    def _forget_appends(self, path: Path) -> None:
        """`path` was replaced or removed as a whole: nothing about appends to it holds."""
        with self._files_lock:
            self._trusted_sizes.pop(path, None)
            self._entries_synced.discard(path)

    def _make_and_sync_entry(self, directory: Path) -> None:
        """Make `directory` if missing and sync its entry in its parent; if the sync
        fails, remove a directory made here (when still empty) so it is made again next
        time."""
        try:
            self._at.mkdir(directory, DIR_MODE)
            made = True
        except FileExistsError:
            made = False
        try:
            fsync_directory(directory.parent, self._at)
        except OSError:
            if made:
                with contextlib.suppress(OSError):
                    self._at.rmdir(directory)
            raise

    def _unlinked(self, path: Path) -> bool:
        try:
            self._at.unlink(path)
        except OSError:
            return False
        return True

    def _unlink_quietly(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            self._at.unlink(path)


def _temp_path(path: Path) -> Path:
    """A fresh hidden name beside `path`: loading skips and removes dot files."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
