"""Which of the first messages the early answers may answer, and their answers.

Only the plainest of messages: `initialize` with well-formed params, the `initialized`
notification, and `session/list` first pages that the catalogue's head holds. At the
first message it cannot answer exactly as the full path would, it answers nothing
more: that message and every later one wait for the full path, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from plue_sidecar.capabilities import initialize_result
from plue_sidecar.rpc.framing import encode_frame
from plue_sidecar.rpc.params_depth import path_past_depth
from plue_sidecar.wire_limits import MAX_PAGE_LIMIT, MAX_PROCESS_ID, SESSION_PAGE_DEFAULT

JsonObject = dict[str, Any]
FirstPage = Callable[[bool, int], JsonObject | None]
"""(rootsOnly, limit) -> the first page, or None when the head cannot answer it."""

_INITIALIZE_SNAKE = {"process_id", "client_info", "protocol_version"}
_LIST_SNAKE = {"roots_only", "parent_id"}


class EarlyAnswers:
    """Feed it bodies in order; `answer` returns the frame to send, `b""` for a message
    that needs no answer, or None once the full path must take over."""

    def __init__(self, data_dir: str, runners: list[str], first_page: FirstPage) -> None:
        self._data_dir = data_dir
        self._runners = runners
        self._first_page = first_page
        self.initialized = False
        self.process_id: int | None = None
        self.deferring = False

    def defer(self) -> None:
        """Answer nothing more: the full path answers this message and what follows."""
        self.deferring = True

    def answer(self, body: bytes) -> bytes | None:
        if self.deferring:
            return None
        reply = self._answer(body)
        if reply is None:
            self.defer()
        return reply

    def _answer(self, body: bytes) -> bytes | None:
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return None
        method, params = message.get("method"), message.get("params")
        if "id" not in message:
            # Ignored by the full path too, before `initialize` and after it.
            return b"" if method == "initialized" and "result" not in message else None
        request_id = message["id"]
        if isinstance(request_id, bool) or not isinstance(request_id, int | str):
            return None
        if "result" in message or "error" in message:
            return None
        result: Any = None
        if method == "initialize" and not self.initialized:
            result = self._initialize(params)
        elif method == "session/list" and self.initialized:
            result = self._list(params)
        if result is None:
            return None
        return encode_frame(orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}))

    def _initialize(self, raw: Any) -> JsonObject | None:
        params = _plain_params(raw, _INITIALIZE_SNAKE)
        if params is None:
            return None
        process_id = params.get("processId")
        if process_id is not None and not (
            _is_int(process_id) and 1 <= process_id <= MAX_PROCESS_ID
        ):
            return None
        if not _is_optional_int(params.get("protocolVersion")):
            return None
        client = params.get("clientInfo")
        if client is not None and not _is_client_info(client):
            return None
        self.initialized = True
        self.process_id = process_id
        return initialize_result(self._data_dir, self._runners)

    def _list(self, raw: Any) -> JsonObject | None:
        params = _plain_params(raw, _LIST_SNAKE)
        if (
            params is None
            or params.get("parentId") is not None
            or (params.get("cursor") is not None)
        ):
            return None
        limit = params.get("limit", SESSION_PAGE_DEFAULT)
        roots_only = params.get("rootsOnly", False)
        if not (_is_int(limit) and 1 <= limit <= MAX_PAGE_LIMIT and isinstance(roots_only, bool)):
            return None
        return self._first_page(roots_only, limit)


def _plain_params(raw: Any, snake: set[str]) -> JsonObject | None:
    """Params as an object, when nothing in them could make the full path's validation
    differ from the early checks: no field spelt in snake case (the models accept both
    spellings), and nothing nested too deep. Unknown fields are ignored, as there."""
    if raw is None or raw in ([], [None]):
        return {}
    if not isinstance(raw, dict) or raw.keys() & snake or path_past_depth(raw) is not None:
        return None
    return raw


def _is_client_info(value: Any) -> bool:
    if not isinstance(value, dict) or "client_info" in value:
        return False
    return (
        isinstance(value.get("name"), str)
        and set(value) <= {"name", "version"}
        and (value.get("version") is None or isinstance(value["version"], str))
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_optional_int(value: Any) -> bool:
    return value is None or _is_int(value)
