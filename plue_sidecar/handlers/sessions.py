"""session/*: create, read, list, retitle, delete, abort, close."""

from __future__ import annotations

from typing import Any

from plue_sidecar.core.sidecar_core import SidecarCore
from plue_sidecar.models.fast_json import JsonObject
from plue_sidecar.models.wire import (
    AbortResult,
    CloseResult,
    CreateSessionParams,
    DeleteResult,
    ListSessionsParams,
    SessionInfo,
    SessionRef,
    UpdateTitleParams,
)
from plue_sidecar.routes import Route, Routes


def routes(core: SidecarCore) -> list[Route[Any]]:
    rpc = Routes()

    @rpc.request("session/create", CreateSessionParams)
    async def create(params: CreateSessionParams) -> JsonObject:
        """A new session, a child of `parentId` when given."""
        return await core.create(params.parent_id, params.title, params.runner)

    @rpc.request("session/get", SessionRef)
    async def get(params: SessionRef) -> JsonObject:
        """One session's info."""
        return core.sessions.info(params.session_id)

    @rpc.request("session/list", ListSessionsParams, waits_for_load=False)
    async def list_sessions(params: ListSessionsParams) -> JsonObject:
        """A page of sessions, newest updatedAt first."""
        return await core.sessions.list_page(
            parent_id=params.parent_id,
            roots_only=params.roots_only,
            limit=params.limit,
            cursor=params.cursor,
        )

    @rpc.request("session/updateTitle", UpdateTitleParams)
    async def update_title(params: UpdateTitleParams) -> SessionInfo:
        """Rename a session."""
        return await core.sessions.update_title(params.session_id, params.title)

    @rpc.request("session/delete", SessionRef, bound_to_session=False)
    async def delete(params: SessionRef) -> DeleteResult:
        """Delete a session and its descendants, all or nothing."""
        return DeleteResult(deleted=await core.delete(params.session_id))

    @rpc.request("session/abort", SessionRef, bound_to_session=False)
    async def abort(params: SessionRef) -> AbortResult:
        """End the session's running work and mark it aborted."""
        return await core.abort(params.session_id)

    @rpc.request("session/close", SessionRef)
    async def close(params: SessionRef) -> CloseResult:
        """Release what is loaded for the session; deletes nothing."""
        core.release(params.session_id)
        return CloseResult(closed=True)

    return rpc.routes
