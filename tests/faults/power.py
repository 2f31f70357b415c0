"""A power cut on demand: an ext4 image on a loop device, shut down without flushing its log.

`EXT4_IOC_SHUTDOWN` with `EXT4_GOING_FLAGS_NOLOGFLUSH` stops the file system at once
and discards whatever its journal had not committed, as a power cut does; after an
unmount, mounting the image again replays the journal like a reboot. A control file
written without fsync just before the cut shows that the cut really discards.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import subprocess
import time
from pathlib import Path

EXT4_IOC_SHUTDOWN = 0x8004587D
"""_IOR('X', 125, __u32) on x86_64 and arm64."""
EXT4_GOING_FLAGS_NOLOGFLUSH = 2


class Ext4Image:
    def __init__(self, image: Path, mount_point: Path, size_mb: int) -> None:
        self.image = image
        self.mount_point = mount_point
        with image.open("wb") as sparse:
            sparse.truncate(size_mb * 1024 * 1024)
        _run("mkfs.ext4", "-q", "-F", str(image))
        mount_point.mkdir(parents=True, exist_ok=True)

    def mount(self) -> None:
        _run("mount", "-o", "loop", str(self.image), str(self.mount_point))

    def unmount(self) -> None:
        """Unmount (what a reboot does to the page cache); waits for late closers."""
        for _ in range(50):
            if (
                subprocess.run(
                    ["umount", str(self.mount_point)], capture_output=True, check=False
                ).returncode
                == 0
            ):
                return
            time.sleep(0.1)
        _run("umount", "-l", str(self.mount_point))

    def cut_power(self) -> None:
        fd = os.open(self.mount_point, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def is_mounted(self) -> bool:
        return os.path.ismount(self.mount_point)

    def close(self) -> None:
        if self.is_mounted():
            self.unmount()
        with contextlib.suppress(OSError):
            self.image.unlink()


class ControlFile:
    """Bytes written without fsync right before a cut: a cut that works loses them."""

    def __init__(self, path: Path, cycle: int) -> None:
        self.path = path
        self.content = f"control for cycle {cycle}\n".encode() * 1024

    def write_unsynced(self) -> None:
        self.path.write_bytes(self.content)

    def was_discarded(self) -> bool:
        try:
            return self.path.read_bytes() != self.content
        except FileNotFoundError:
            return True


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
