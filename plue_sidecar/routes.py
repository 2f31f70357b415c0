"""What a handler module hands to the RPC layer: methods, their params and handlers.

Handlers declare their methods here, knowing nothing of the RPC layer that serves them;
the composition root (`plue_sidecar.app`) gives the routes to the registrar.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

P = TypeVar("P", bound=BaseModel)
Result = BaseModel | dict[str, Any] | None
"""A model, or JSON the core already shaped as that model (see `models.fast_json`)."""
Handler = Callable[[P], Awaitable[Result]]


@dataclass(frozen=True)
class Route(Generic[P]):
    method: str
    params_model: type[P]
    handler: Handler[P]
    bound_to_session: bool = True
    """The request ends when its session is aborted or deleted."""
    waits_for_load: bool = True
    """The request waits until every session is loaded (see `core.opening`)."""


class Routes:
    """A list of routes, filled by decorating handlers."""

    def __init__(self) -> None:
        self.routes: list[Route[Any]] = []

    def request(
        self,
        method: str,
        params_model: type[P],
        *,
        bound_to_session: bool = True,
        waits_for_load: bool = True,
    ) -> Callable[[Handler[P]], Handler[P]]:
        def decorator(handler: Handler[P]) -> Handler[P]:
            self.routes.append(
                Route(method, params_model, handler, bound_to_session, waits_for_load)
            )
            return handler

        return decorator
