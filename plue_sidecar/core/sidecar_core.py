"""The session core as one object: sessions, histories, turns and the requests bound
to them, over one `SessionStorage`."""

from __future__ import annotations

import asyncio
import logging

from plue_sidecar import errors
from plue_sidecar.core.histories import MessageHistories
from plue_sidecar.core.inflight import InflightRequests
from plue_sidecar.core.opening import Opening
from plue_sidecar.core.running import RunningTurns
from plue_sidecar.core.sessions import ChangeSink, SessionService
from plue_sidecar.core.turns import TurnManager, UpdateSink
from plue_sidecar.models.fast_json import JsonObject
from plue_sidecar.models.parts import Part
from plue_sidecar.models.wire import AbortResult, Role
from plue_sidecar.runners.base import RunnerSettings
from plue_sidecar.runners.names import launch_runner_specs
from plue_sidecar.runners.registry import RunnerRegistry
from plue_sidecar.settings import Settings
from plue_sidecar.store.storage import DataDirLockedError, SessionStorage

log = logging.getLogger(__name__)


class Sink(ChangeSink, UpdateSink):
    """Where the core's notifications go (the client, in the server)."""


class SidecarCore:
    """What the handlers call: each method a client's request, coordinated across
    sessions, histories and turns (an abort or delete ends turns and requests first)."""

    def __init__(
        self,
        settings: Settings,
        sink: Sink,
        storage: SessionStorage,
        opening: Opening | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = SessionService(storage, settings, sink, opening)
        running = RunningTurns()
        self.histories = MessageHistories(self.sessions, storage, settings, running)
        self.turns = TurnManager(
            self.sessions,
            self.histories,
            running,
            runners=RunnerRegistry(
                RunnerSettings(echo_delay_ms=settings.echo_delay_ms),
                launch_runner_specs(settings),
            ),
            sink=sink,
            default_runner=settings.runner,
            abort_grace_seconds=settings.abort_grace_ms / 1000,
            take_absorbed_cancel=storage.take_absorbed_cancel,
        )
        self.inflight = InflightRequests()

    async def open(self) -> None:
        """Open the data directory; the newest sessions may be listed before the rest
        is loaded (see `core.opening`): `ready` waits for everything."""
        try:
            await self.sessions.open(answer_early=True)
        except DataDirLockedError as exc:
            raise errors.data_dir_locked(exc.holder_pid) from None
        except OSError as exc:
            raise errors.storage_error(exc) from None

    def open_behind(self) -> None:
        """Open the data directory for a client answered `initialize` already (see
        `early`); requests that need the sessions wait for it, or answer its failure."""
        self.sessions.open_behind()

    async def ready(self) -> None:
        await self.sessions.ready()

    async def end_turns(self) -> None:
        """End every running turn; each stores its partial output as aborted."""
        await asyncio.gather(*(self.turns.abort(sid) for sid in self.turns.running()))

    def close(self) -> None:
        """Write the catalogue and release the data directory (no request may be running)."""
        self.sessions.close()

    async def create(
        self, parent_id: str | None, title: str | None, runner: str | None
    ) -> JsonObject:
        """The new session's `SessionInfo`, as JSON."""
        if runner is not None:
            self.turns.runner_for(runner)
        return await self.sessions.create_json(parent_id=parent_id, title=title, runner=runner)

    async def append_message(self, session_id: str, role: Role, parts: list[Part]) -> JsonObject:
        return await self.histories.append_from_client(session_id, role, parts)

    async def abort(self, session_id: str) -> AbortResult:
        self.sessions.document(session_id)
        ended_turn = await self.turns.abort(session_id)
        cancelled = await self.inflight.abort([session_id])
        await self.sessions.mark_aborted(session_id)
        return AbortResult(session_id=session_id, cancelled=cancelled + int(ended_turn))

    async def delete(self, session_id: str) -> list[str]:
        doomed = self.sessions.subtree(session_id)
        await asyncio.gather(*(self.turns.abort(member) for member in doomed))
        await self.inflight.abort(doomed)
        deleted = await self.sessions.delete(session_id)
        self.histories.forget(deleted)
        return deleted

    def release(self, session_id: str) -> None:
        """Forget what is loaded for a session (its history); the next use reloads it."""
        self.histories.release(session_id)
