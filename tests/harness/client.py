"""A test client that drives a real sidecar process over real pipes.

It is pytest-lsp's `ClientServerConfig` with a pygls `JsonRPCClient` whose converter
keeps params and results as plain JSON, and whose protocol records every
notification so tests can wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import converters
from pygls.client import JsonRPCClient
from pygls.exceptions import JsonRpcException
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCProtocol,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pytest_lsp import ClientServerConfig

from plue_sidecar.rpc.pygls_dispatch import converter_factory as sidecar_converter_factory

WAIT_SECONDS = 10.0


def sidecar_command(data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "plue_sidecar", "--data-dir", str(data_dir), *extra]


def client_converter() -> Any:
    converter = converters.get_converter()
    ours = sidecar_converter_factory()
    for target in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(target, ours.get_structure_hook(target))
    return converter


class RecordingProtocol(JsonRPCProtocol):
    """Keeps every notification from the sidecar, in arrival order."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.notifications: list[tuple[str, Any]] = []
        self.arrived = asyncio.Event()

    def _handle_notification(self, method_name: str, params: Any) -> None:
        self.notifications.append((method_name, params))
        self.arrived.set()


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any) -> None:
        super().__init__(f"{code} {message} {data}")
        self.code = code
        self.message = message
        self.data = data or {}

    @property
    def kind(self) -> str | None:
        return self.data.get("kind") if isinstance(self.data, dict) else None


class SidecarProcess:
    """One sidecar process and the client connected to it."""

    def __init__(self, client: JsonRPCClient, args: list[str]) -> None:
        self.client = client
        self.process_args = args
        self.protocol: RecordingProtocol = client.protocol  # type: ignore[assignment]
        self.stderr = bytearray()
        self._stderr_grew = asyncio.Event()
        # A pipe nobody reads fills up and stalls the sidecar's logging: drain it.
        self._drain = asyncio.create_task(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        while chunk := await stream.read(65536):
            self.stderr += chunk
            self._stderr_grew.set()
        self._stderr_grew.set()

    @classmethod
    async def start(
        cls, data_dir: Path, *extra: str, env: dict[str, str] | None = None
    ) -> SidecarProcess:
        command = sidecar_command(data_dir, *extra)
        config = ClientServerConfig(
            server_command=command,
            client_factory=lambda: JsonRPCClient(RecordingProtocol, client_converter),
            server_env={**os.environ, **(env or {})},
        )
        return cls(await config.start(), command)

    @property
    def process(self) -> asyncio.subprocess.Process:
        process = self.client._server
        assert process is not None
        return process

    async def call(self, method: str, params: Any = None, timeout: float = WAIT_SECONDS) -> Any:
        try:
            return await asyncio.wait_for(self.protocol.send_request_async(method, params), timeout)
        except JsonRpcException as exc:
            raise RpcError(exc.code, exc.message, exc.data) from None

    def send(self, method: str, params: Any = None) -> asyncio.Future[Any]:
        """Send a request now; await the returned future for its answer."""
        return asyncio.wrap_future(self.protocol.send_request(method, params))

    async def failure(self, method: str, params: Any = None) -> RpcError:
        try:
            result = await self.call(method, params)
        except RpcError as failure:
            return failure
        raise AssertionError(f"{method} succeeded with {result!r}")

    async def initialize(self, **params: Any) -> Any:
        return await self.call("initialize", {"processId": None, **params})

    async def until_loaded(self) -> None:
        """Wait until the sidecar has loaded its sessions: the early answers (protocol.md,
        Durability) may answer `initialize` and list pages while it is still importing,
        and every write waits for the load. Answered after requests sent before it."""
        missing = await self.failure("session/get", {"sessionId": "session_0000000000000"})
        assert missing.kind == "session_not_found", missing

    def notifications(self, method: str | None = None) -> list[Any]:
        return [p for m, p in self.protocol.notifications if method is None or m == method]

    async def wait_for_notification(
        self,
        predicate: Callable[[str, Any], bool],
        timeout: float = WAIT_SECONDS,
        since: int = 0,
    ) -> Any:
        """The first notification from index `since` on that satisfies `predicate`."""

        async def scan() -> Any:
            seen = since
            while True:
                for method, params in self.protocol.notifications[seen:]:
                    if predicate(method, params):
                        return params
                seen = len(self.protocol.notifications)
                self.protocol.arrived.clear()
                await self.protocol.arrived.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def stop(self) -> int:
        """shutdown, exit, and the exit code."""
        if self.process.returncode is None:
            with contextlib.suppress(TimeoutError, RpcError, RuntimeError):
                await self.call("shutdown")
            self.protocol.notify("exit")
        return await self.wait_exit()

    async def wait_exit(self, timeout: float = WAIT_SECONDS) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self.client.stop()
        return code

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.wait_exit()

    async def close_stdin(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.close()

    async def wait_for_stderr(self, text: str, timeout: float = WAIT_SECONDS) -> None:
        """Wait until the sidecar has written `text` to stderr."""

        async def scan() -> None:
            while text.encode() not in self.stderr:
                if self._drain.done():
                    raise AssertionError(f"the sidecar exited without writing {text!r}")
                self._stderr_grew.clear()
                await self._stderr_grew.wait()

        await asyncio.wait_for(scan(), timeout)

    async def stderr_text(self) -> str:
        """Everything the sidecar wrote to stderr (complete once it has exited)."""
        await asyncio.wait_for(asyncio.shield(self._drain), WAIT_SECONDS)
        return self.stderr.decode(errors="replace")
