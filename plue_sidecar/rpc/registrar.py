"""One place that does the boring parts of every method once.

A handler is `async (params_model) -> result_model`. The registrar validates params
with pydantic (-32602 naming the field), waits until every session is loaded (unless
the method can answer earlier), binds the request to its session so that
`session/abort` can end it, maps a cancellation to -32800, and serialises the result
by alias. Domain errors pass through as they are; anything else becomes -32603.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from plue_sidecar import errors
from plue_sidecar.core.inflight import InflightRequests
from plue_sidecar.routes import Handler, Result, Route
from plue_sidecar.rpc.params_depth import MAX_PARAMS_DEPTH, path_past_depth
from plue_sidecar.rpc.protocol import SidecarProtocol

P = TypeVar("P", bound=BaseModel)


class Registrar:
    """Turns routes into protocol handlers: validation, load gate, binding, errors.

    `wait_until_loaded` is awaited before every route that waits for the load.
    """

    def __init__(
        self,
        protocol: SidecarProtocol,
        inflight: InflightRequests,
        wait_until_loaded: Callable[[], Awaitable[None]],
    ) -> None:
        self._protocol = protocol
        self._inflight = inflight
        self._wait_until_loaded = wait_until_loaded
        self.methods: list[str] = []

    def add(self, route: Route[Any]) -> None:
        """Serve `route.method`; bound requests end when their session aborts."""
        handler, model = route.handler, route.params_model
        waits = route.waits_for_load
        # Asked once here: asking a pydantic model for a field it lacks costs a raised
        # and caught AttributeError on every request.
        bound = route.bound_to_session and "session_id" in model.model_fields

        async def dispatch(raw_params: Any) -> Any:
            params = validate(model, raw_params)
            session_id = params.session_id if bound else None
            if isinstance(session_id, str):
                with self._inflight.bound(session_id):
                    result = await self._run(handler, params, waits)
            else:
                result = await self._run(handler, params, waits)
            if isinstance(result, BaseModel):
                return result.model_dump(mode="json", by_alias=True)
            return result

        self._protocol.register(route.method, dispatch)
        self.methods.append(route.method)

    async def _run(self, handler: Handler[P], params: P, waits_for_load: bool) -> Result:
        try:
            if waits_for_load:
                await self._wait_until_loaded()
            return await handler(params)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            reason = "aborted" if self._inflight.was_aborted(task) else "cancelled"
            if task is not None:
                task.uncancel()
            raise errors.request_cancelled(reason) from None


def validate(model: type[P], raw: Any) -> P:
    # What LSP clients send for "no params": Neovim's empty Lua table is `[]`, and
    # vscode-jsonrpc's sendRequest(method, undefined) is `[null]`.
    if raw is None or raw in ([], [None]):
        raw = {}
    if not isinstance(raw, dict):
        raise errors.invalid_params("", "params must be an object")
    too_deep = path_past_depth(raw)
    if too_deep is not None:
        raise errors.invalid_params(
            too_deep, f"nested deeper than {MAX_PARAMS_DEPTH} levels of objects and arrays"
        )
    try:
        # Strict: "3600", true and 5.0 are not integers, nor 1 a boolean.
        return model.model_validate(raw, strict=True)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors(include_url=False)
        ]
        first = problems[0]
        raise errors.invalid_params(first["field"], first["message"], problems) from None
