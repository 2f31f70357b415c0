"""The sidecar process: stdio in, frames, pygls dispatch, the session core, stdio out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

from pygls.server import JsonRPCServer

from plue_sidecar import errors
from plue_sidecar.core import collector
from plue_sidecar.core.app import SidecarCore, Sink
from plue_sidecar.core.opening import Opening
from plue_sidecar.handlers import lifecycle, messages, sessions, shares
from plue_sidecar.models.wire import SessionChange, SessionUpdate
from plue_sidecar.rpc import framing
from plue_sidecar.rpc.client_watch import watch_process
from plue_sidecar.rpc.protocol import SidecarProtocol, converter_factory
from plue_sidecar.rpc.registrar import Registrar
from plue_sidecar.rpc.stdio import OutputPipe, claim_stdout, read_input
from plue_sidecar.settings import Settings
from plue_sidecar.store.session_store import SessionStore

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0
PENDING_REQUESTS_SECONDS = 10.0


class ClientNotifier(Sink):
    def __init__(self, protocol: SidecarProtocol) -> None:
        self._protocol = protocol

    def session_changed(self, change: SessionChange) -> None:
        self._protocol.notify("session/didChange", _dump(change))

    def turn_update(self, update: SessionUpdate) -> None:
        self._protocol.notify("session/update", _dump(update))


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=False)


class Sidecar:
    """One running sidecar: wires the pieces together and runs until told to exit."""

    def __init__(
        self, settings: Settings, store: SessionStore | None = None,
        opening: Opening | None = None,
    ) -> None:
        self.settings = settings
        self.server = JsonRPCServer(SidecarProtocol, converter_factory)
        self.protocol: SidecarProtocol = self.server.protocol  # type: ignore[assignment]
        self.core = SidecarCore(settings, ClientNotifier(self.protocol), store, opening)
        self._opened = False
        self._collector: asyncio.Task[None] | None = None
        self._splitter = framing.FrameSplitter(settings.max_frame_bytes)
        rpc = Registrar(self.protocol, self.core.inflight, self.core.ready)
        lifecycle.register(rpc, self.protocol, self._open_core, self._watch_client,
                           str(settings.data_dir))
        sessions.register(rpc, self.core)
        shares.register(rpc, self.core)
        messages.register(rpc, self.core)
        self.methods = sorted(rpc.methods)

    async def _open_core(self) -> None:
        try:
            await self.core.open()
        finally:
            if self._collector is None:
                self._collector = asyncio.create_task(collector.resume_when(self.core.ready))
        self._opened = True

    def _watch_client(self, pid: int) -> None:
        watch_process(pid, self._client_gone)

    def _client_gone(self) -> None:
        log.warning("the client process is gone; exiting")
        self.protocol.request_exit(0)

    def receive(self, data: bytes) -> None:
        for event in self._splitter.feed(data):
            if isinstance(event, framing.Frame):
                self.protocol.receive_body(event.body)
            elif isinstance(event, framing.OversizedFrame):
                self.protocol.send_error_with_id_json(
                    event.request_id,
                    errors.payload_too_large(event.size, self.settings.max_frame_bytes),
                )
            else:
                self.protocol.warnings.warn(
                    "broken header", "broken header, %d bytes skipped: %s",
                    event.skipped, event.reason,
                )

    def terminated(self) -> None:
        log.info("SIGTERM; finishing and exiting")
        self.protocol.request_exit(0)

    def end_of_input(self) -> None:
        log.info("stdin closed; finishing and exiting")
        self.protocol.request_exit(0)

    async def run(self, input_fd: int, output_fd: int) -> int:
        loop = asyncio.get_running_loop()
        self.protocol.exit_code = loop.create_future()
        output = OutputPipe(output_fd)
        await output.open()
        self.protocol.set_writer(output)
        # SIGTERM (what an editor's terminate() sends) ends the sidecar the way EOF does.
        loop.add_signal_handler(signal.SIGTERM, self.terminated)
        await read_input(input_fd, self.receive, self.end_of_input)
        code = await self.protocol.exit_code
        await self._finish(output)
        return code

    async def _finish(self, output: OutputPipe) -> None:
        """End turns (stored as aborted), let requests in flight answer, then release the
        data dir: requests still writing need the store until they are done."""
        if self._opened:
            await self.core.end_turns()
        in_flight = self.protocol._request_futures.values()
        pending: list[asyncio.Future[Any]] = []
        for future in in_flight:
            if isinstance(future, asyncio.Future):  # pygls types them as thread futures
                pending.append(future)
        if pending:
            await asyncio.wait(pending, timeout=PENDING_REQUESTS_SECONDS)
        if self._opened:
            self.core.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(output.drain(), DRAIN_SECONDS)
        output.close()


def serve(
    settings: Settings, store: SessionStore | None = None,
    opening: Opening | None = None,
) -> int:
    output_fd = claim_stdout()
    sidecar = Sidecar(settings, store, opening)
    try:
        return asyncio.run(sidecar.run(0, output_fd))
    finally:
        with contextlib.suppress(OSError):
            os.close(output_fd)
