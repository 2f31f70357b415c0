"""The process's standard streams as a byte pipe in and a byte pipe out.

stdout is claimed at start (`fd_io.claim_stdout`): the protocol writes to a private
duplicate of fd 1, and fd 1 itself is pointed at stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable

from plue_sidecar.fd_io import write_all

log = logging.getLogger(__name__)
READ_CHUNK = 256 * 1024
COALESCE_BYTES = 64 * 1024
"""Frames gathered for one write are written at once past this many bytes."""


class _PipeReader(asyncio.Protocol):
    def __init__(self, on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self._on_data = on_data
        self._on_eof = on_eof

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def eof_received(self) -> bool:
        self._on_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_eof()


async def read_input(fd: int, on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
    """Deliver bytes from `fd` on the event loop as they arrive; `on_eof` at the end."""
    loop = asyncio.get_running_loop()
    pipe = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115 - owned by the transport
    try:
        await loop.connect_read_pipe(lambda: _PipeReader(on_data, on_eof), pipe)
    except ValueError:
        # A regular file (`plue-sidecar < script`): read it on a thread instead.
        pipe.close()
        threading.Thread(
            target=_read_blocking, args=(fd, loop, on_data, on_eof), daemon=True
        ).start()


def _read_blocking(
    fd: int,
    loop: asyncio.AbstractEventLoop,
    on_data: Callable[[bytes], None],
    on_eof: Callable[[], None],
) -> None:
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            loop.call_soon_threadsafe(on_eof)
            return
        loop.call_soon_threadsafe(on_data, chunk)


class _WriteFlow(asyncio.Protocol):
    """The output transport's flow control, as an event: set while it may be written."""

    def __init__(self) -> None:
        self.resumed = asyncio.Event()
        self.resumed.set()

    def pause_writing(self) -> None:
        self.resumed.clear()

    def resume_writing(self) -> None:
        self.resumed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.resumed.set()


class OutputPipe:
    """Writes frames to the protocol fd without blocking the event loop.

    Frames written during a step of the loop go out together, in order, with one write
    a step or two later (a request's change notification and its answer, or the
    answers of many requests in flight, cost the pipe and the client one wake-up),
    or at once past `COALESCE_BYTES`.

    What the client has not read yet waits in the transport's buffer. Once that passes
    `max_pending_bytes`, `has_room` is False until it drains to a quarter of it: a
    turn's stream waits for `wait_for_room` then, so a client that stops reading never
    makes the sidecar buffer without bound.
    """

    def __init__(self, fd: int, max_pending_bytes: int = 4 << 20) -> None:
        self._fd = fd
        self._max_pending_bytes = max_pending_bytes
        self._transport: asyncio.WriteTransport | None = None
        self._flow = _WriteFlow()
        self.broken = False
        self._gathered: list[bytes] = []
        self._gathered_bytes = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        pipe = open(self._fd, "wb", buffering=0, closefd=False)  # noqa: SIM115
        try:
            self._transport, _ = await loop.connect_write_pipe(lambda: self._flow, pipe)
            self._transport.set_write_buffer_limits(
                high=self._max_pending_bytes, low=self._max_pending_bytes // 4
            )
        except ValueError:
            pipe.close()  # a regular file: plain blocking writes are fine there

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        if self._transport is None or self._loop is None:
            self._write_now(data)
            return
        if not self._gathered:
            # Two hops: a task's notification is written in its last step, its answer
            # by the done callback that step schedules; both go in the same write.
            self._loop.call_soon(self._loop.call_soon, self.flush)
        self._gathered.append(data)
        self._gathered_bytes += len(data)
        if self._gathered_bytes >= COALESCE_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what was gathered (the loop's thread)."""
        if not self._gathered:
            return
        data = b"".join(self._gathered) if len(self._gathered) > 1 else self._gathered[0]
        self._gathered.clear()
        self._gathered_bytes = 0
        if not self.broken:
            self._write_now(data)

    def _write_now(self, data: bytes) -> None:
        try:
            if self._transport is not None:
                if self._transport.is_closing():
                    self.broken = True
                    return
                self._transport.write(data)
            else:
                write_all(self._fd, data)
        except OSError as exc:
            log.error("the client's pipe is gone: %s", exc)
            self.broken = True

    def has_room(self) -> bool:
        self.flush()  # what waits here counts too
        return self._flow.resumed.is_set()

    async def wait_for_room(self) -> None:
        self.flush()
        await self._flow.resumed.wait()

    async def drain(self) -> None:
        """Wait until everything written has left the process (bounded by the caller)."""
        self.flush()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # With no room at all, the transport pauses its protocol while anything is
        # buffered and resumes it once the buffer is empty.
        transport.set_write_buffer_limits(high=0, low=0)
        await self._flow.resumed.wait()

    def close(self) -> None:
        self.flush()
        if self._transport is not None:
            with contextlib.suppress(Exception):
                self._transport.close()
