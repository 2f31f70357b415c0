"""One writer per data directory: an OS lock that dies with its holder.

The lock is held on the directory itself, so deleting or replacing the `lock` file
cannot let a second sidecar share a directory the first still holds; the `lock` file
is locked too (older sidecars lock only it) and names the holder's pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from plue_sidecar.store.disk.root import FILE_MODE

LOCK_FILE = "lock"


class DataDirLockedError(Exception):
    def __init__(self, holder_pid: int | None) -> None:
        super().__init__(f"data directory locked by pid {holder_pid}")
        self.holder_pid = holder_pid


class DataDirLock:
    """Exclusive `flock`s on the data directory and on `<data dir>/lock`, which holds
    the owner's pid as text. `dir_fd` is the directory as it was locked."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._fds: list[int] = []

    @property
    def dir_fd(self) -> int:
        return self._fds[0]

    def acquire(self) -> None:
        if self._fds:
            return
        dir_fd = os.open(self._data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._fds.append(dir_fd)
        try:
            file_fd = os.open(
                LOCK_FILE,
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                FILE_MODE,
                dir_fd=dir_fd,
            )
            self._fds.append(file_fd)
            for fd in self._fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise DataDirLockedError(_read_pid(file_fd)) from None
            os.ftruncate(file_fd, 0)
            os.pwrite(file_fd, str(os.getpid()).encode(), 0)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        for fd in reversed(self._fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
