"""Raw file descriptors: writing to one, shared by the protocol's output and the
store, and claiming stdout for the protocol."""

from __future__ import annotations

import os
import sys


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd` (a blocking write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def claim_stdout() -> int:
    """Return a private fd for protocol output; fd 1 and sys.stdout now go to stderr.

    So a stray print call or a child's output can never corrupt the frames the
    editor reads."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd
