"""The root of a data directory as it was opened: every path below it is opened
relative to that directory's descriptor, so a read or a write reaches the directory the
sidecar locked even when its path has since been moved, deleted or replaced (by a
directory another sidecar may hold)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700
"""The permissions of what the sidecar creates: conversations are the user's alone."""


class Root:
    """Where paths below a root directory are opened: relative to the descriptor of
    that directory as it was locked, once there is one (else by their full path)."""

    def __init__(self, path: Path, fd: int | None = None) -> None:
        self.path = path
        self.fd = fd
        self.identity = _identity(os.fstat(fd)) if fd is not None else None
        self._text = str(path)
        self._prefix = os.path.join(self._text, "")  # "/data/" ("/" for the root itself)

    def at(self, path: Path) -> str:
        """`path` relative to the root (full, and so unaffected by `dir_fd`, outside it).
        By its text, which pathlib keeps normalised: every file operation asks, and
        `relative_to` took about 14 us."""
        text = str(path)
        if self.fd is None:
            return text
        if text.startswith(self._prefix):
            return text[len(self._prefix) :] or "."
        return "." if text == self._text else text

    def still_at_path(self) -> bool:
        try:
            return _identity(os.stat(self.path)) == self.identity
        except (FileNotFoundError, NotADirectoryError):
            return False

    def open(self, path: Path, flags: int, mode: int = 0o777) -> int:
        return os.open(self.at(path), flags, mode, dir_fd=self.fd)

    def replace(self, source: Path, target: Path) -> None:
        os.replace(self.at(source), self.at(target), src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, path: Path) -> None:
        os.unlink(self.at(path), dir_fd=self.fd)

    def mkdir(self, path: Path, mode: int) -> None:
        os.mkdir(self.at(path), mode, dir_fd=self.fd)

    def rmdir(self, path: Path) -> None:
        os.rmdir(self.at(path), dir_fd=self.fd)

    def lstat(self, path: Path) -> os.stat_result:
        return os.stat(self.at(path), dir_fd=self.fd, follow_symlinks=False)

    def lexists(self, path: Path) -> bool:
        try:
            self.lstat(path)
        except FileNotFoundError:
            return False
        return True

    def is_dir(self, path: Path) -> bool:
        try:
            return stat.S_ISDIR(self.lstat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def open_for_reading(self, path: Path) -> BinaryIO:
        return os.fdopen(self.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")

    def read_bytes(self, path: Path) -> bytes:
        with self.open_for_reading(path) as file:
            return file.read()

    @contextlib.contextmanager
    def scandir(self, directory: Path) -> Iterator[Iterator[os.DirEntry[str]]]:
        """`os.scandir` of `directory`. Below a descriptor each entry's `path` is its bare
        name (build paths from `directory`), and its `stat()` asks the directory's own
        descriptor, as cheap as the stat of a full path."""
        if self.fd is None:
            with os.scandir(directory) as entries:
                yield entries
            return
        fd = self.open(directory, _DIRECTORY_FLAGS)
        try:
            with os.scandir(fd) as entries:
                yield entries
        finally:
            os.close(fd)

    def listdir(self, directory: Path) -> list[str]:
        if self.fd is None:
            return os.listdir(directory)
        fd = self.open(directory, _DIRECTORY_FLAGS)
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def statvfs(self) -> os.statvfs_result:
        """The file system the root is on."""
        return os.statvfs(self.path if self.fd is None else self.fd)


_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _identity(stat_result: os.stat_result) -> tuple[int, int]:
    return stat_result.st_dev, stat_result.st_ino
