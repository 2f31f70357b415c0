"""initialize and shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from plue_sidecar import __version__
from plue_sidecar.models.base import WireModel
from plue_sidecar.models.wire import Capabilities, InitializeParams, InitializeResult, ServerInfo
from plue_sidecar.routes import Route, Routes

PROTOCOL_VERSION = 1
NOTIFICATIONS = ["session/didChange", "session/update"]


class NoParams(WireModel):
    pass


def routes(
    open_core: Callable[[], Awaitable[None]],
    watch_client: Callable[[int], None],
    *,
    data_dir: str,
    methods: Callable[[], list[str]],
    runners: Callable[[], list[str]],
    settle: Callable[[], Awaitable[None]],
) -> list[Route[Any]]:
    rpc = Routes()

    @rpc.request("initialize", InitializeParams, bound_to_session=False, waits_for_load=False)
    async def initialize(params: InitializeParams) -> InitializeResult:
        """Open the data directory and say what this sidecar can do."""
        await open_core()
        if params.process_id is not None:
            watch_client(params.process_id)
        return InitializeResult(
            protocol_version=PROTOCOL_VERSION,
            server_info=ServerInfo(name="plue-sidecar", version=__version__),
            data_dir=data_dir,
            capabilities=Capabilities(methods=sorted(methods()), notifications=NOTIFICATIONS,
                                      runners=runners()),
        )

    @rpc.request("shutdown", NoParams, bound_to_session=False, waits_for_load=False)
    async def shutdown(params: NoParams) -> None:
        """End turns, let other requests answer, write everything behind the journal and
        release the data directory; then answer. The protocol already refuses every
        later request."""
        await settle()

    return rpc.routes
