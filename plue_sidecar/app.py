"""The composition root: builds the store, the core and the protocol, registers the
handlers, and runs the process: stdio in, frames, dispatch, the session core, stdio out.

The one module that knows every layer; each layer below knows only the ones beneath it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

from plue_sidecar import errors
from plue_sidecar.core import collector, large_blocks
from plue_sidecar.core.opening import Opening
from plue_sidecar.core.sidecar_core import SidecarCore, Sink
from plue_sidecar.early.start import Handover
from plue_sidecar.fd_io import claim_stdout
from plue_sidecar.handlers import lifecycle, messages, sessions, shares
from plue_sidecar.models.fast_json import JsonObject
from plue_sidecar.models.wire import SessionChange, SessionUpdate
from plue_sidecar.rpc import framing
from plue_sidecar.rpc.client_watch import watch_process
from plue_sidecar.rpc.protocol import SidecarProtocol
from plue_sidecar.rpc.registrar import Registrar
from plue_sidecar.rpc.stdio import OutputPipe, read_input
from plue_sidecar.settings import Settings
from plue_sidecar.store.session_store import SessionStore
from plue_sidecar.store.storage import SessionStorage

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0
PENDING_REQUESTS_SECONDS = 10.0


class ClientNotifier(Sink):
    def __init__(self, protocol: SidecarProtocol) -> None:
        self._protocol = protocol

    def session_changed(self, change: SessionChange) -> None:
        self._protocol.notify("session/didChange", _dump(change))

    def session_changed_json(self, change: JsonObject) -> None:
        self._protocol.notify("session/didChange", change)

    def turn_update(self, update: SessionUpdate) -> None:
        self._protocol.notify("session/update", _dump(update))

    def has_output_room(self) -> bool:
        return self._protocol.has_output_room()

    async def wait_for_output_room(self) -> None:
        await self._protocol.wait_for_output_room()


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=False)


class Sidecar:
    """One running sidecar: wires the pieces together and runs until told to exit."""

    def __init__(
        self,
        settings: Settings,
        storage: SessionStorage | None = None,
        opening: Opening | None = None,
    ) -> None:
        self.settings = settings
        self.protocol = SidecarProtocol()
        storage = storage or open_storage(settings)
        self.core = SidecarCore(settings, ClientNotifier(self.protocol), storage, opening)
        self._opened = False
        self._collector: asyncio.Task[None] | None = None
        self._large_blocks: asyncio.Task[bool] | None = None
        self._settling: asyncio.Future[None] | None = None
        self._splitter = framing.FrameSplitter(settings.max_frame_bytes)
        registrar = Registrar(self.protocol, self.core.inflight, self.core.ready)
        for route in [
            *lifecycle.routes(
                self._open_core,
                self._watch_client,
                data_dir=str(settings.data_dir),
                runners=self.core.turns.runner_names,
                settle=self._settle,
            ),
            *sessions.routes(self.core),
            *shares.routes(self.core),
            *messages.routes(self.core),
        ]:
            registrar.add(route)
        self.methods = sorted(registrar.methods)

    async def _open_core(self) -> None:
        await self.core.open()
        self._opened = True

    def _watch_client(self, pid: int) -> None:
        watch_process(pid, self._client_gone)

    def _client_gone(self) -> None:
        log.warning("the client process is gone; exiting")
        self.protocol.request_exit(0)

    def receive(self, data: bytes) -> None:
        for event in self._splitter.feed(data):
            self._handle_safely(event)

    def _handle_safely(self, event: framing.FrameEvent) -> None:
        try:
            self._handle(event)
        except Exception:
            # Defence in depth: one frame that trips a bug must not cost the frames
            # that came with it, nor the process.
            log.exception("could not handle a frame from the client")

    def _handle(self, event: framing.FrameEvent) -> None:
        if isinstance(event, framing.Frame):
            self.protocol.receive_body(event.body)
        elif isinstance(event, framing.OversizedFrame):
            self.protocol.send_error_with_id_json(
                event.request_id,
                errors.payload_too_large(event.size, self.settings.max_frame_bytes),
            )
        else:
            self.protocol.warnings.warn(
                "broken header",
                "broken header, %d bytes skipped: %s",
                event.skipped,
                event.reason,
            )

    def terminated(self) -> None:
        log.info("SIGTERM; finishing and exiting")
        self.protocol.request_exit(0)

    def end_of_input(self) -> None:
        log.info("stdin closed; finishing and exiting")
        self.protocol.request_exit(0)

    def _take_over(self, handover: Handover[Any]) -> None:
        """Carry on where the early answers stopped (see `early.start`)."""
        self._splitter = handover.splitter
        if handover.initialized:
            self.protocol.initialized_elsewhere()
            self._opened = True
            self.core.open_behind()
            if handover.process_id is not None:
                self._watch_client(handover.process_id)
        deferred, handover.deferred = handover.deferred, []
        for event in deferred:
            self._handle_safely(event)

    async def run(
        self, input_fd: int, output_fd: int, handover: Handover[Any] | None = None
    ) -> int:
        loop = asyncio.get_running_loop()
        exit_requested = self.protocol.exit_requested()
        output = OutputPipe(output_fd, self.settings.max_pending_output_bytes)
        await output.open()
        self.protocol.set_writer(output)
        # SIGTERM (what an editor's terminate() sends) ends the sidecar the way EOF does.
        loop.add_signal_handler(signal.SIGTERM, self.terminated)
        self._collector = loop.create_task(
            collector.resume_when(self.core.ready, busy=lambda: bool(self.protocol.in_flight()))
        )
        self._large_blocks = loop.create_task(large_blocks.return_after_the_start(self.core.ready))
        if handover is not None:
            self._take_over(handover)
            if handover.terminated():  # asked only now that the handler above is set
                self.terminated()
        await read_input(input_fd, self.receive, self.end_of_input)
        code = await exit_requested
        await self._settle()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(output.drain(), DRAIN_SECONDS)
        output.close()
        return code

    def _settle(self) -> asyncio.Future[None]:
        """Settle the data directory, once: at `shutdown` (LSP's point for cleaning up,
        after which some clients kill the process at once), else at exit."""
        if self._settling is None:
            self._settling = asyncio.ensure_future(self._settle_now(asyncio.current_task()))
        return asyncio.shield(self._settling)

    async def _settle_now(self, asking: asyncio.Task[Any] | None) -> None:
        """End turns (stored as aborted), let the other requests in flight answer, then
        write everything behind the journal and the catalogue and release the data dir:
        requests still writing need the store until they are done."""
        if self._opened:
            await self.core.end_turns()
        pending = [future for future in self.protocol.in_flight() if future is not asking]
        if pending:
            _, still = await asyncio.wait(pending, timeout=PENDING_REQUESTS_SECONDS)
            if still:
                log.warning(
                    "%d requests still in flight after %.0f s; closing the store under them",
                    len(still),
                    PENDING_REQUESTS_SECONDS,
                )
        if self._opened:
            # What is loaded behind the first answers must be in memory before the
            # catalogue is written from it; a load that failed leaves nothing to write.
            with contextlib.suppress(Exception):
                await self.core.ready()
            self.core.close()


def open_storage(settings: Settings) -> SessionStorage:
    """The data directory's storage (not opened yet: see `core.opening`)."""
    return SessionStorage(SessionStore(settings.data_dir), settings.checkpoint_every)


def serve(
    settings: Settings,
    storage: SessionStorage | None = None,
    opening: Opening | None = None,
    output_fd: int | None = None,
    handover: Handover[Any] | None = None,
) -> int:
    """Serve on stdio; `output_fd` is stdout claimed already, `handover` what the early
    answers leave (see `early.start`)."""
    if output_fd is None:
        output_fd = claim_stdout()
    sidecar = Sidecar(settings, storage, opening)
    try:
        return asyncio.run(sidecar.run(0, output_fd, handover))
    finally:
        with contextlib.suppress(OSError):
            os.close(output_fd)
