"""Stamps of files and directories, and how long a change may hide behind one.

A file's stamp (inode, mtime, size) changes when it is replaced or edited; a
directory's mtime changes when an entry in it does. Either can be trusted only for
changes made long enough before it was read: a filesystem's clock ticks, so a later
change within a tick may carry the same mtime (the racy window).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from plue_sidecar.store.disk.root import Root

RACY_NS = 2_000_000_000
"""A directory changed this close to the snapshot may change again with the same mtime
(filesystems that keep whole seconds, or two: FAT)."""
FINE_RACY_NS = 50_000_000
"""The same for a filesystem that keeps sub-second mtimes: its clock ticks every few
milliseconds at worst, and this is several ticks."""


def racy_window(mtime_ns: int) -> int:
    """How long after `mtime_ns` a later change may still carry the same mtime."""
    return FINE_RACY_NS if mtime_ns % 1_000_000_000 else RACY_NS


def quiet_before(mtime_ns: int, taken_at_ns: int) -> bool:
    """A change after `taken_at_ns` cannot carry `mtime_ns` again."""
    return mtime_ns + racy_window(mtime_ns) < taken_at_ns


Stamp = tuple[int, int, int]
"""A file's (inode, mtime in ns, size): a replaced or edited file gets a new one."""


def stamp_of(stat: os.stat_result) -> Stamp:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def session_directories(root: Root, sessions_dir: Path) -> Iterator[tuple[str, Path, int]]:
    """Each `<yyyy>/<mm>` directory: its name relative to `sessions_dir`, path and mtime."""
    try:
        with root.scandir(sessions_dir) as years:
            year_names = [y.name for y in years if y.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return
    for year in year_names:
        with root.scandir(sessions_dir / year) as months:
            for month in months:
                if month.is_dir(follow_symlinks=False):
                    mtime = month.stat(follow_symlinks=False).st_mtime_ns
                    yield f"{year}/{month.name}", sessions_dir / year / month.name, mtime


def files_with_stamps(root: Root, directory: Path) -> Iterator[tuple[str, Stamp]]:
    """The name and stamp of each file in `directory` (symlinks are no files here)."""
    with root.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                yield entry.name, stamp_of(entry.stat(follow_symlinks=False))
