"""The `pygls` floor: a minimal pygls 2 JsonRPCServer with its stock start_io()."""

from __future__ import annotations

from typing import Any

from pygls.protocol import JsonRPCProtocol, default_converter
from pygls.server import JsonRPCServer

server = JsonRPCServer(JsonRPCProtocol, default_converter)
SESSION = {
    "id": "session_1795000000000", "parentId": None, "title": "New Session",
    "createdAt": 1795000000000, "updatedAt": 1795000000000, "messageCount": 0,
    "isAborted": False, "abortedAt": None, "share": None,
}


@server.feature("initialize")
def initialize(params: Any) -> dict[str, Any]:
    return {"protocolVersion": 1}


@server.feature("session/get")
def get(params: Any) -> dict[str, Any]:
    return SESSION


if __name__ == "__main__":
    server.start_io()
