"""session/share, session/unshare, share/resolve."""

from __future__ import annotations

from typing import Any

from plue_sidecar.core.sidecar_core import SidecarCore
from plue_sidecar.models.wire import (
    ResolvedShare,
    ResolveShareParams,
    SessionInfo,
    SessionRef,
    ShareInfo,
    ShareParams,
)
from plue_sidecar.routes import Route, Routes


def routes(core: SidecarCore) -> list[Route[Any]]:
    rpc = Routes()

    @rpc.request("session/share", ShareParams)
    async def share(params: ShareParams) -> ShareInfo:
        """Share a session, or return its live share."""
        return await core.sessions.share(params.session_id, params.expires_in_seconds)

    @rpc.request("session/unshare", SessionRef)
    async def unshare(params: SessionRef) -> SessionInfo:
        """Revoke a session's share."""
        return await core.sessions.unshare(params.session_id)

    @rpc.request("share/resolve", ResolveShareParams)
    async def resolve(params: ResolveShareParams) -> ResolvedShare:
        """The session a live secret names, without the secret."""
        return ResolvedShare(session=core.sessions.resolve_share(params.secret))

    return rpc.routes
