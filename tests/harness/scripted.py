"""A sidecar sent a whole script of frames at once, its stdin then closed, as a client
that pipelines everything does."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.client import sidecar_command


def start_script(data_dir: Path, script: list[bytes], *extra: str) -> subprocess.Popen[bytes]:
    """A sidecar sent every frame of `script` at once, its stdin then closed."""
    process = subprocess.Popen(
        sidecar_command(data_dir, "--log-level", "INFO", *extra),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(b"".join(script))
    process.stdin.close()
    process.stdin = None  # so that communicate() only reads
    return process


def finish_script(process: subprocess.Popen[bytes], timeout: float = 60) -> tuple[list[bytes], str]:
    """Every body the sidecar wrote, and its log, once it exited (within `timeout`)."""
    output, log = process.communicate(timeout=timeout)
    assert process.returncode in (0, 1), log.decode()[-3000:]
    return split_frames(output), log.decode()


def run_script(data_dir: Path, script: list[bytes], *extra: str) -> tuple[list[bytes], str]:
    return finish_script(start_script(data_dir, script, *extra))


def split_frames(output: bytes) -> list[bytes]:
    bodies = []
    while output:
        header, _, rest = output.partition(b"\r\n\r\n")
        length = int(header.removeprefix(b"Content-Length: "))
        bodies.append(rest[:length])
        output = rest[length:]
    return bodies
