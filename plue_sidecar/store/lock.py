"""One writer per data directory: an OS lock that dies with its holder."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from plue_sidecar.store.durable_io import FILE_MODE


class DataDirLockedError(Exception):
    def __init__(self, holder_pid: int | None) -> None:
        super().__init__(f"data directory locked by pid {holder_pid}")
        self.holder_pid = holder_pid


class DataDirLock:
    """An exclusive `flock` on `<data dir>/lock`, holding the owner's pid as text."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirLockedError(holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
