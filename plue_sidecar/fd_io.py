"""Writing to a raw file descriptor, shared by the protocol's output and the store."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd` (a blocking write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
