"""Every use of pygls, behind one small interface: register, dispatch, cancel, in flight.

pygls runs each request handler as an asyncio task, keeps the tasks by request id and
cancels one on `$/cancelRequest`. Nothing else of it is used: the sidecar owns the
I/O loop, the framing, the envelope checks, the lifecycle and the encoder
(`rpc.protocol`). The entry points pygls offers for that split are private methods, so
they are named once here, in `PYGLS_INTERNALS`, and a test fails loudly when a pygls
release renames any of them; pyproject.toml pins pygls to the 2.x line they were read
from.

Why keep pygls at all: it is the engine the project chose, and behind this adapter it
costs little per request: `python -m bench` puts a `session/get` round trip at
0.8-1.5x a hand-written raw loop across runs, and 64 requests in flight at 0.6-0.75x
its rate, both inside their targets; what remains is the sidecar's own work
(validation, the session lock, orjson). Its real cost is the start: `pygls.exceptions`
imports `lsprotocol.types`, about 255 of the 430 ms that importing the app takes.
Replacing it would save that and little else, and the start's target is better met by
answering the first requests before pygls is imported at all (see BENCHMARKS.md), so
it stays; this module is the only place that would change.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import cattrs
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCProtocol,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.server import JsonRPCServer

MsgId = int | str
RequestHandler = Callable[[Any], Awaitable[Any]]
Finished = Callable[[MsgId, "Future[Any]"], None]

PYGLS_INTERNALS = (
    (JsonRPCProtocol, "_handle_request"),
    (JsonRPCProtocol, "_send_handler_result"),
    (JsonRPCProtocol, "_handle_cancel_notification"),
    (JsonRPCProtocol, "_request_futures"),
    (JsonRPCProtocol, "fm"),
)
"""The pygls names this adapter relies on; `_request_futures` and `fm` are attributes
of an instance, the rest methods of the class."""


def converter_factory() -> cattrs.Converter:
    """Keep params as the raw JSON value (validated later by pydantic), absent as None."""
    converter = cattrs.Converter()
    converter.register_structure_hook(
        JsonRPCRequestMessage,
        lambda obj, cls: cls(
            id=obj["id"], method=obj["method"], jsonrpc=obj["jsonrpc"], params=obj.get("params")
        ),
    )
    converter.register_structure_hook(
        JsonRPCNotification,
        lambda obj, cls: cls(
            method=obj["method"], jsonrpc=obj["jsonrpc"], params=obj.get("params")
        ),
    )
    converter.register_structure_hook(
        JsonRPCResponseMessage,
        lambda obj, cls: cls(id=obj["id"], jsonrpc=obj["jsonrpc"], result=obj.get("result")),
    )
    return converter


class _Engine(JsonRPCProtocol):
    """pygls's protocol, with each finished request handed to the dispatcher's callback."""

    finished: Finished

    def _send_handler_result(self, future: Future[Any], *, msg_id: MsgId) -> None:
        self._request_futures.pop(msg_id, None)
        self.finished(msg_id, future)


class PyglsDispatcher:
    """Runs registered handlers as tasks, tracks them by request id, cancels them.

    `finished(msg_id, future)` is called once for every request dispatched, with its
    done future (cancelled, failed or with a result); answering is the caller's job.
    """

    def __init__(self, finished: Finished) -> None:
        server = JsonRPCServer(_Engine, converter_factory)
        self._engine: _Engine = server.protocol  # type: ignore[assignment]
        self._engine.finished = finished

    def register(self, method: str, handler: RequestHandler) -> None:
        self._engine.fm.feature(method)(handler)

    def handles(self, method: str) -> bool:
        return method in self._engine.fm.features

    def request(self, msg_id: MsgId, method: str, params: Any) -> None:
        """Start the handler of a registered `method` as a task for request `msg_id`."""
        # Entered one step in: the envelope is already checked, and pygls's own entry
        # re-checks it against runtime-checkable protocols at a real cost per request.
        contextvars.copy_context().run(self._engine._handle_request, msg_id, method, params)

    def is_in_flight(self, msg_id: MsgId) -> bool:
        return msg_id in self._engine._request_futures

    def cancel(self, msg_id: MsgId) -> None:
        """Cancel request `msg_id` if it is still running; unknown ids are ignored."""
        self._engine._handle_cancel_notification(msg_id)

    def in_flight(self, excluding: object = None) -> list[asyncio.Future[Any]]:
        """The tasks of requests not answered yet (but request `excluding`)."""
        in_flight: list[asyncio.Future[Any]] = []
        for msg_id, future in self._engine._request_futures.items():
            # pygls types them as thread futures
            if isinstance(future, asyncio.Future) and msg_id != excluding:
                in_flight.append(future)
        return in_flight
