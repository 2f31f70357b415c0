"""initialize and shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from plue_sidecar import __version__, errors
from plue_sidecar.models.base import WireModel
from plue_sidecar.models.wire import Capabilities, InitializeParams, InitializeResult, ServerInfo
from plue_sidecar.rpc.protocol import Phase, SidecarProtocol
from plue_sidecar.rpc.registrar import Registrar
from plue_sidecar.store.lock import DataDirLockedError

PROTOCOL_VERSION = 1
NOTIFICATIONS = ["session/didChange", "session/update"]


class NoParams(WireModel):
    pass


def register(
    rpc: Registrar,
    protocol: SidecarProtocol,
    open_core: Callable[[], Awaitable[None]],
    watch_client: Callable[[int], None],
    data_dir: str,
) -> None:
    @rpc.request("initialize", InitializeParams, bound_to_session=False, waits_for_load=False)
    async def initialize(params: InitializeParams) -> InitializeResult:
        """Open the data directory and say what this sidecar can do."""
        try:
            await open_core()
        except DataDirLockedError as exc:
            raise errors.data_dir_locked(exc.holder_pid) from None
        except OSError as exc:
            raise errors.storage_error(exc) from None
        protocol.phase = Phase.RUNNING
        if params.process_id is not None:
            watch_client(params.process_id)
        return InitializeResult(
            protocol_version=PROTOCOL_VERSION,
            server_info=ServerInfo(name="plue-sidecar", version=__version__),
            data_dir=data_dir,
            capabilities=Capabilities(methods=sorted(rpc.methods), notifications=NOTIFICATIONS),
        )

    @rpc.request("shutdown", NoParams, bound_to_session=False, waits_for_load=False)
    async def shutdown(params: NoParams) -> None:
        """Acknowledge; the protocol already refuses every later request."""
