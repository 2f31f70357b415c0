"""An append-only file kept open over zeros written ahead: the journal's generations.

Its appends are synced with `fdatasync` (see `AppendLog`); the rest of the disk's
rules (the root as it was locked, directory entries synced once) are `durable_io`'s.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from plue_sidecar.store.disk import durable_io
from plue_sidecar.store.disk.durable_io import DurableFiles

_LOG_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
PREALLOCATE_BYTES = 4 << 20
"""How far into its file an `AppendLog` writes zeros ahead of its data."""


def open_log(files: DurableFiles, path: Path, preallocate: int = PREALLOCATE_BYTES) -> AppendLog:
    """`path` as an `AppendLog` (created 0600 if missing), appended after the last
    non-zero byte it holds; zeros are written ahead up to `preallocate` bytes into
    the file, or as far as the data reaches."""
    files.ensure_directory(path.parent)
    fd = files.open_relative(path, _LOG_FLAGS)
    try:
        size = os.fstat(fd).st_size
        end = _end_of_data(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return AppendLog(files, path, fd, end=end, size=size, preallocate=preallocate)


class AppendLog:
    """An append-only file kept open, whose appends are synced with `fdatasync`.

    The file is grown ahead of its data with zeros written and fully synced (to
    `preallocate` bytes, once), so an append then writes over blocks that are
    already allocated and counted in the file's size: its sync flushes the data alone,
    not the file system's metadata. Readers take the zeros at the end for the end of
    the data (the data itself must never end in a zero byte); a cut in the middle of
    an append leaves some of its bytes over the zeros, which is a torn last write.
    On a disk without room for the zeros it grows by exactly what is appended.

    Used by one thread at a time. A failed append is cut off again, but what reached
    the disk is unknown: the log closes itself, and its owner must make the file known
    again (rewrite or remove it, see `journal`) before anything more is trusted to it.
    While idle it may `release` its descriptor (a file open for writing keeps its file
    system from being remounted read-only); the next append opens the file again.
    """

    def __init__(
        self,
        files: DurableFiles,
        path: Path,
        fd: int,
        *,
        end: int,
        size: int,
        preallocate: int,
    ) -> None:
        self.path = path
        self._files = files
        self._fd = fd
        self._released = False
        self._inode = os.fstat(fd).st_ino
        self.end = end
        """Bytes of data (what follows, to the file's size, is zeros)."""
        self._size = size
        self._preallocate = preallocate

    @property
    def closed(self) -> bool:
        return self._fd < 0 and not self._released

    def release(self) -> None:
        """Close the descriptor until the next append; the zeros stay."""
        if self._fd >= 0:
            self._close_fd()
            self._released = True

    def _reopen(self) -> None:
        fd = self._files.open_relative(self.path, _LOG_FLAGS & ~os.O_CREAT)
        try:
            found = os.fstat(fd)
            if (found.st_ino, found.st_size) != (self._inode, self._size):
                self._inode, self._size = found.st_ino, found.st_size
                self.end = _end_of_data(fd, found.st_size)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._released = fd, False

    def append(self, data: bytes) -> None:
        """Write `data` after the data and make it durable; see the class on failure."""
        # Before a reopen too: in a directory deleted meanwhile it finds no file (ENOENT).
        self._files.check_root()
        if self._released:
            self._reopen()
        if self._fd < 0:
            raise ValueError(f"{self.path} is closed")
        try:
            end = self.end + len(data)
            _pwrite_all(self._fd, data, self.end)
            if end > self._size:
                self._size = self._grow(end)
                durable_io.fsync_fd(self._fd)  # the size and the blocks changed: metadata too
            else:
                durable_io.datasync_fd(self._fd)
            if not self._files.entry_synced(self.path):
                self._files.sync_entry(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.end)  # as it was, as far as reads go
            self._close_fd()
            raise
        self.end = end

    def _grow(self, end: int) -> int:
        """Write zeros from `end` on; the file's new size."""
        target = max(end, self._preallocate)
        if target == end:
            return end
        try:
            _pwrite_all(self._fd, bytes(target - end), end)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            os.ftruncate(self._fd, end)  # no room for zeros: the data alone
            return end
        return target

    def close(self) -> None:
        """Cut the zeros off (not synced: zeros left by a crash read as the end) and close."""
        if self._released:
            with contextlib.suppress(OSError):
                self._reopen()
            self._released = False
        if self._fd < 0:
            return
        if self._size > self.end:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.end)
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _end_of_data(fd: int, size: int) -> int:
    """Where the data of an `AppendLog` file ends: before the zeros that end it."""
    if size == 0 or os.pread(fd, 1, size - 1) != b"\0":
        return size
    data = b""
    while len(data) < size:
        chunk = os.pread(fd, size - len(data), len(data))
        if not chunk:
            break
        data += chunk
    return len(data.rstrip(b"\0"))
