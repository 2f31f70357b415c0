"""A small, fast JSON-RPC client over a subprocess's pipes, with pipelining."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path
from typing import Any

import orjson

PYTHON = sys.executable


class RpcClient:
    def __init__(self, process: asyncio.subprocess.Process, watch_stderr: bool = False) -> None:
        self.process = process
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._notifications: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reading = asyncio.Event()
        self._reading.set()
        self._stderr_seen = bytearray() if watch_stderr else None
        self._stderr_grew = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self._stderr = asyncio.create_task(self._drain_stderr())

    @classmethod
    async def spawn(
        cls,
        *command: str,
        env: dict[str, str] | None = None,
        watch_stderr: bool = False,
        cwd: Path | None = None,
    ) -> RpcClient:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        return cls(process, watch_stderr)

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            if self._stderr_seen is not None:
                self._stderr_seen += chunk
                self._stderr_grew.set()
        self._stderr_grew.set()

    async def wait_for_stderr(self, text: bytes, timeout: float) -> None:
        """Wait until the server has logged `text` (needs `watch_stderr`)."""
        assert self._stderr_seen is not None

        async def scan() -> None:
            assert self._stderr_seen is not None
            while text not in self._stderr_seen:
                if self._stderr.done():
                    raise EOFError(f"the server exited without logging {text!r}")
                self._stderr_grew.clear()
                await self._stderr_grew.wait()

        await asyncio.wait_for(scan(), timeout)

    def stop_reading(self) -> None:
        """Leave the server's output unread (the pipe fills up) until `resume_reading`."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    async def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                await self._reading.wait()
                header = await stream.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                message = orjson.loads(await stream.readexactly(length))
                if "id" in message and "method" not in message:
                    future = self._pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    self._notifications.put_nowait(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(EOFError("the server closed its output"))

    def send(self, method: str, params: Any = None) -> asyncio.Future[Any]:
        msg_id = next(self._ids)
        body = orjson.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return future

    async def call(self, method: str, params: Any = None) -> Any:
        answer = await self.send(method, params)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def next_notification(self) -> dict[str, Any]:
        return await self._notifications.get()

    async def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would end it."""
        self.process.kill()
        await self.process.wait()
        self._reader.cancel()
        self._stderr.cancel()

    async def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        self._stderr.cancel()


def sidecar_command(data_dir: Path, *extra: str) -> list[str]:
    return [PYTHON, "-m", "plue_sidecar", "--data-dir", str(data_dir), *extra]
