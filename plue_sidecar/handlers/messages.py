"""message/*, session/fork and session/prompt."""

from __future__ import annotations

from typing import Any

from plue_sidecar.core.sidecar_core import SidecarCore
from plue_sidecar.models.fast_json import JsonObject
from plue_sidecar.models.wire import (
    AppendMessageParams,
    ForkParams,
    ListMessagesParams,
    MessageRef,
    PromptParams,
    PromptResult,
    SessionInfo,
)
from plue_sidecar.routes import Route, Routes


def routes(core: SidecarCore) -> list[Route[Any]]:
    rpc = Routes()

    @rpc.request("message/append", AppendMessageParams)
    async def append(params: AppendMessageParams) -> JsonObject:
        """Store a message written elsewhere; durable before the answer."""
        return await core.append_message(params.session_id, params.role, list(params.parts))

    @rpc.request("message/list", ListMessagesParams)
    async def list_messages(params: ListMessagesParams) -> JsonObject:
        """A page of a session's messages in seq order."""
        return await core.histories.list_messages(params.session_id, params.after_seq, params.limit)

    @rpc.request("message/get", MessageRef)
    async def get(params: MessageRef) -> JsonObject:
        """One message."""
        return await core.histories.get_message(params.session_id, params.message_id)

    @rpc.request("session/fork", ForkParams)
    async def fork(params: ForkParams) -> SessionInfo:
        """A child session holding a copy of the history up to a message."""
        return await core.histories.fork(params.session_id, params.message_id, params.title)

    @rpc.request("session/prompt", PromptParams, bound_to_session=False)
    async def prompt(params: PromptParams) -> PromptResult:
        """Run a turn: store the prompt, stream the answer, store it."""
        return await core.turns.prompt(params.session_id, list(params.parts))

    return rpc.routes
