"""What `initialize` answers: the protocol's version, the methods and notifications.

A leaf without pydantic: the early answers (see `early`) and the `initialize` handler
build the answer with the same function, so it is the same bytes either way.
`METHODS` is held equal to the methods the server registers by a test.
"""

from __future__ import annotations

from typing import Any

from plue_sidecar import __version__

PROTOCOL_VERSION = 1
SERVER_NAME = "plue-sidecar"
METHODS = [
    "initialize",
    "message/append",
    "message/get",
    "message/list",
    "session/abort",
    "session/close",
    "session/create",
    "session/delete",
    "session/fork",
    "session/get",
    "session/list",
    "session/prompt",
    "session/share",
    "session/unshare",
    "session/updateTitle",
    "share/resolve",
    "shutdown",
]
NOTIFICATIONS = ["session/didChange", "session/update"]


def initialize_result(data_dir: str, runners: list[str]) -> dict[str, Any]:
    """`InitializeResult` as JSON (tests hold it equal to the model's own dump)."""
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "serverInfo": {"name": SERVER_NAME, "version": __version__},
        "dataDir": data_dir,
        "capabilities": {"methods": METHODS, "notifications": NOTIFICATIONS, "runners": runners},
    }
