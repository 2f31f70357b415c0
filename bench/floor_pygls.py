"""The `pygls` floor: a minimal pygls 2 JsonRPCServer with its stock start_io().

With `--pydantic` it also validates each request's params with a pydantic model, as the
sidecar does: the `pygls + pydantic` floor, the start of the stack the sidecar is built
on (pygls, pydantic and one model validated once) with nothing of the sidecar's own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pygls.protocol import JsonRPCProtocol, default_converter
from pygls.server import JsonRPCServer

server = JsonRPCServer(JsonRPCProtocol, default_converter)
SESSION = {
    "id": "session_1795000000000",
    "parentId": None,
    "title": "New Session",
    "createdAt": 1795000000000,
    "updatedAt": 1795000000000,
    "messageCount": 0,
    "isAborted": False,
    "abortedAt": None,
    "share": None,
}


def params_validator(with_pydantic: bool) -> Callable[[Any], object]:
    if not with_pydantic:
        return lambda params: params
    from pydantic import BaseModel, ConfigDict, Field  # noqa: PLC0415 - only with --pydantic

    class InitializeParams(BaseModel):
        model_config = ConfigDict(extra="allow")
        process_id: int | None = Field(default=None, alias="processId")

    def validate(params: Any) -> object:
        # pygls's default converter hands params over as a namedtuple.
        as_dict = params._asdict() if hasattr(params, "_asdict") else params
        return InitializeParams.model_validate(as_dict)

    return validate


validate_params = params_validator("--pydantic" in sys.argv[1:])


@server.feature("initialize")
def initialize(params: Any) -> dict[str, Any]:
    validate_params(params)
    return {"protocolVersion": 1}


@server.feature("session/get")
def get(params: Any) -> dict[str, Any]:
    return SESSION


if __name__ == "__main__":
    server.start_io()
