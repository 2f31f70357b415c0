"""Every error a client can see: one exception type, one table of codes and kinds.

Codes are stable; clients match on `code` and `data.kind`, never on the message.
"""

from __future__ import annotations

import errno
from typing import Any

PARSE_ERROR = -32700
"""The body is not valid UTF-8 JSON."""
INVALID_REQUEST = -32600
"""Not a JSON-RPC request object, a request after `shutdown`, or a payload too large."""
METHOD_NOT_FOUND = -32601
"""No such method."""
INVALID_PARAMS = -32602
"""Params failed validation; `data.field` names the offending field."""
INTERNAL_ERROR = -32603
"""A bug in the sidecar; details go to the log only."""
SERVER_NOT_INITIALIZED = -32002
"""A request before `initialize`."""
REQUEST_CANCELLED = -32800
"""Cancelled by the client's `$/cancelRequest`."""
SERVER_CANCELLED = -32802
"""Ended by the sidecar, not the client: by `session/abort` or a delete (LSP 3.17's
ServerCancelled; some clients drop -32800 answers they did not ask for)."""
SESSION_NOT_FOUND = -32010
"""No session with that id."""
PARENT_NOT_FOUND = -32011
"""`parentId` names no session."""
SESSION_BUSY = -32012
"""A turn is already running in that session."""
SHARE_NOT_FOUND = -32013
"""Unknown, revoked or expired share secret."""
STORAGE_FULL = -32014
"""The disk is full (ENOSPC, EDQUOT)."""
STORAGE_UNAVAILABLE = -32015
"""Read-only disk, permission or I/O error, the data dir is locked, or it was replaced."""
MESSAGE_NOT_FOUND = -32016
"""No message with that id in that session."""
SESSION_READ_ONLY = -32017
"""The session cannot be written (newer format or damaged history)."""
UNKNOWN_RUNNER = -32018
"""The runner named is not available."""


class DataDirReplacedError(OSError):
    """The data directory's path no longer leads to the directory this sidecar opened
    (it was moved, deleted or replaced): nothing more may be written through it."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.ESTALE, "the data directory was moved, deleted or replaced", path)


class RpcError(Exception):
    """An error answered to the client as a JSON-RPC error object."""

    def __init__(self, code: int, kind: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
        self.message = message
        self.data: dict[str, Any] = {"kind": kind, **data}

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def parse_error(detail: str) -> RpcError:
    return RpcError(PARSE_ERROR, "parse_error", f"parse error: {detail}")


def invalid_request(detail: str) -> RpcError:
    return RpcError(INVALID_REQUEST, "invalid_request", f"invalid request: {detail}")


def payload_too_large(size: int, limit: int) -> RpcError:
    return RpcError(
        INVALID_REQUEST,
        "payload_too_large",
        f"payload of {size} bytes exceeds the limit of {limit} bytes",
        size=size,
        limit=limit,
    )


def shutting_down() -> RpcError:
    return RpcError(INVALID_REQUEST, "shutting_down", "the server is shutting down")


def method_not_found(method: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, "method_not_found", f"method not found: {method}")


def invalid_params(
    field: str, message: str, errors: list[dict[str, str]] | None = None
) -> RpcError:
    shown = field or "params"
    return RpcError(
        INVALID_PARAMS,
        "invalid_params",
        f"invalid params: {shown}: {message}",
        field=field,
        errors=errors or [{"field": field, "message": message}],
    )


def internal_error() -> RpcError:
    return RpcError(INTERNAL_ERROR, "internal_error", "internal error (details in the sidecar log)")


def server_not_initialized() -> RpcError:
    return RpcError(
        SERVER_NOT_INITIALIZED, "server_not_initialized", "initialize must be the first request"
    )


def request_cancelled(reason: str = "cancelled") -> RpcError:
    """`reason` "cancelled": the client's own `$/cancelRequest`; any other: the sidecar's."""
    code = REQUEST_CANCELLED if reason == "cancelled" else SERVER_CANCELLED
    return RpcError(code, "request_cancelled", f"request {reason}", reason=reason)


def session_not_found(session_id: str) -> RpcError:
    return RpcError(
        SESSION_NOT_FOUND,
        "session_not_found",
        f"session not found: {session_id}",
        sessionId=session_id,
    )


def parent_not_found(parent_id: str) -> RpcError:
    return RpcError(
        PARENT_NOT_FOUND,
        "parent_not_found",
        f"parent session not found: {parent_id}",
        parentId=parent_id,
    )


def session_busy(session_id: str) -> RpcError:
    return RpcError(
        SESSION_BUSY,
        "session_busy",
        f"a turn is already running in {session_id}",
        sessionId=session_id,
    )


def share_not_found() -> RpcError:
    return RpcError(SHARE_NOT_FOUND, "share_not_found", "share not found")


def message_not_found(message_id: str) -> RpcError:
    return RpcError(
        MESSAGE_NOT_FOUND,
        "message_not_found",
        f"message not found: {message_id}",
        messageId=message_id,
    )


def session_read_only(session_id: str, reason: str) -> RpcError:
    return RpcError(
        SESSION_READ_ONLY,
        "session_read_only",
        f"session {session_id} is read-only: {reason}",
        sessionId=session_id,
        reason=reason,
    )


def unknown_runner(name: str) -> RpcError:
    return RpcError(UNKNOWN_RUNNER, "unknown_runner", f"unknown runner: {name}", runner=name)


# By name: the numbers differ between platforms (EDQUOT is 122 on Linux, 69 on macOS).
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY_ERRNOS = {errno.EROFS}
_PERMISSION_ERRNOS = {errno.EPERM, errno.EACCES}


def storage_error(exc: OSError) -> RpcError:
    """Classify a failed disk operation into the two storage errors a client sees."""
    number = exc.errno or 0
    detail = exc.strerror or str(exc)
    if isinstance(exc, DataDirReplacedError):
        return RpcError(
            STORAGE_UNAVAILABLE,
            "storage_unavailable",
            f"storage unavailable: {detail}",
            reason="data_dir_replaced",
            errno=number,
        )
    if number in _FULL_ERRNOS:
        return RpcError(STORAGE_FULL, "storage_full", f"storage full: {detail}", errno=number)
    if number in _READ_ONLY_ERRNOS:
        reason = "read_only"
    elif number in _PERMISSION_ERRNOS:
        reason = "permission"
    else:
        reason = "io"
    return RpcError(
        STORAGE_UNAVAILABLE,
        "storage_unavailable",
        f"storage unavailable: {detail}",
        reason=reason,
        errno=number,
    )


def data_dir_locked(holder_pid: int | None) -> RpcError:
    holder = f"pid {holder_pid}" if holder_pid else "another process"
    return RpcError(
        STORAGE_UNAVAILABLE,
        "storage_unavailable",
        f"data directory is in use by another plue-sidecar ({holder})",
        reason="locked",
        holderPid=holder_pid,
    )
