"""The session core in the test's own process, for tests that must reach inside it
(inject a failing syscall, hold a load half done)."""

from __future__ import annotations

from pathlib import Path

from plue_sidecar.core.opening import Opening
from plue_sidecar.core.sidecar_core import SidecarCore
from plue_sidecar.models.fast_json import JsonObject
from plue_sidecar.models.wire import SessionChange, SessionUpdate
from plue_sidecar.settings import Settings
from plue_sidecar.store.session_store import SessionStore
from plue_sidecar.store.storage import SessionStorage


class Quiet:
    """A sink that drops every notification."""

    def session_changed(self, change: SessionChange) -> None:
        pass

    def session_changed_json(self, change: JsonObject) -> None:
        pass

    def turn_update(self, update: SessionUpdate) -> None:
        pass

    def has_output_room(self) -> bool:
        return True

    async def wait_for_output_room(self) -> None:
        pass


def storage_at(data_dir: Path) -> SessionStorage:
    return SessionStorage(SessionStore(data_dir), Settings(data_dir).checkpoint_every)


def core_at(
    data_dir: Path, storage: SessionStorage | None = None, opening: Opening | None = None
) -> SidecarCore:
    return SidecarCore(Settings(data_dir), Quiet(), storage or storage_at(data_dir), opening)
