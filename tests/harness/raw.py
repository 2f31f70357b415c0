"""A byte-level client, for what a well-behaved client never sends."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.harness.client import WAIT_SECONDS


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def request(msg_id: int | str, method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return frame(json.dumps(message, ensure_ascii=False).encode())


class RawSidecar:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._buffer = b""

    @classmethod
    async def start(
        cls, data_dir: Path, *extra: str, env: dict[str, str] | None = None
    ) -> RawSidecar:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "plue_sidecar",
            "--data-dir",
            str(data_dir),
            *extra,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        return cls(process)

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def read_frame(self, timeout: float = WAIT_SECONDS) -> tuple[bytes, dict[str, Any]]:
        """The raw header block and the decoded body of the next frame."""
        return await asyncio.wait_for(self._read_frame(), timeout)

    async def _read_frame(self) -> tuple[bytes, dict[str, Any]]:
        assert self.process.stdout is not None
        while b"\r\n\r\n" not in self._buffer:
            chunk = await self.process.stdout.read(65536)
            if not chunk:
                raise EOFError("the sidecar closed its stdout")
            self._buffer += chunk
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = int(header.split(b":", 1)[1])
        while len(rest) < length:
            chunk = await self.process.stdout.read(65536)
            if not chunk:
                raise EOFError("the sidecar closed its stdout mid-frame")
            rest += chunk
        self._buffer = rest[length:]
        return header, json.loads(rest[:length])

    async def response(self, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next response, skipping notifications."""
        while True:
            _, message = await self.read_frame(timeout)
            if "method" not in message:
                return message

    async def ask(self, msg_id: int | str, method: str, params: Any = None) -> dict[str, Any]:
        await self.write(request(msg_id, method, params))
        return await self.response()

    async def initialize(self) -> None:
        answer = await self.ask("init", "initialize", {"processId": None})
        assert "result" in answer, answer

    async def close(self) -> int:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        code = await asyncio.wait_for(self.process.wait(), WAIT_SECONDS)
        return code

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode(errors="replace")
