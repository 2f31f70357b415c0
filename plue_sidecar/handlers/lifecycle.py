"""initialize and shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from plue_sidecar.capabilities import initialize_result
from plue_sidecar.models.base import WireModel
from plue_sidecar.models.wire import InitializeParams
from plue_sidecar.routes import Route, Routes


class NoParams(WireModel):
    pass


def routes(
    open_core: Callable[[], Awaitable[None]],
    watch_client: Callable[[int], None],
    *,
    data_dir: str,
    runners: Callable[[], list[str]],
    settle: Callable[[], Awaitable[None]],
) -> list[Route[Any]]:
    rpc = Routes()

    @rpc.request("initialize", InitializeParams, bound_to_session=False, waits_for_load=False)
    async def initialize(params: InitializeParams) -> dict[str, Any]:
        """Open the data directory and say what this sidecar can do (`InitializeResult`)."""
        await open_core()
        if params.process_id is not None:
            watch_client(params.process_id)
        return initialize_result(data_dir, runners())

    @rpc.request("shutdown", NoParams, bound_to_session=False, waits_for_load=False)
    async def shutdown(params: NoParams) -> None:
        """End turns, let other requests answer, write everything behind the journal and
        release the data directory; then answer. The protocol already refuses every
        later request."""
        await settle()

    return rpc.routes
