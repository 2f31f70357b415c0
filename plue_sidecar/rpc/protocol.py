"""The sidecar's wire rules over the pygls dispatcher.

pygls (behind `rpc.pygls_dispatch`) runs handlers and cancels them; this layer adds
what it lacks: -32700/-32600 answers, the lifecycle (`initialize` first, `shutdown`,
`exit`), error objects without tracebacks, and a fast byte-exact encoder.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from concurrent.futures import Future
from typing import Any, Protocol

import orjson

from plue_sidecar import errors
from plue_sidecar.rpc.framing import encode_frame, find_request_id
from plue_sidecar.rpc.pygls_dispatch import MsgId, PyglsDispatcher, RequestHandler
from plue_sidecar.rpc.repeated_log import RepeatedWarnings

log = logging.getLogger(__name__)

CANCEL_REQUEST = "$/cancelRequest"
INITIALIZE = "initialize"
EXIT = "exit"
SHUTDOWN = "shutdown"


_NO_INITIALIZE = object()
_NO_SHUTDOWN = object()


class Phase(enum.Enum):
    STARTED = "started"
    INITIALIZING = "initializing"
    RUNNING = "running"
    SHUT_DOWN = "shut_down"


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    def has_room(self) -> bool:
        """False while more than its bound waits for the client to read."""
        ...

    async def wait_for_room(self) -> None: ...


class SidecarProtocol:
    """One client connection: decodes bodies, enforces the lifecycle, dispatches
    requests to registered handlers and answers each exactly once.

    The phase moves here alone: to INITIALIZING when `initialize` arrives, to RUNNING
    when its handler succeeds (back to STARTED when it fails, so the client may try
    again) and to SHUT_DOWN when `shutdown` arrives.
    """

    def __init__(self) -> None:
        self.phase = Phase.STARTED
        self._exit_code: asyncio.Future[int] | None = None
        self._dispatcher = PyglsDispatcher(self._request_finished)
        self._writer: Writer | None = None
        self._initialize_id: object = _NO_INITIALIZE
        self._shutdown_id: object = _NO_SHUTDOWN
        self._held: list[bytes] = []
        self.warnings = RepeatedWarnings(log)

    def set_writer(self, writer: Writer) -> None:
        self._writer = writer

    def register(self, method: str, handler: RequestHandler) -> None:
        self._dispatcher.register(method, handler)

    def has_output_room(self) -> bool:
        return self._writer is None or self._writer.has_room()

    async def wait_for_output_room(self) -> None:
        if self._writer is not None:
            await self._writer.wait_for_room()

    def in_flight(self) -> list[asyncio.Future[Any]]:
        """Requests not answered yet, but `shutdown`: it waits for the others."""
        return self._dispatcher.in_flight(excluding=self._shutdown_id)

    def initialized_elsewhere(self) -> None:
        """`initialize` was answered before this protocol took over (see `early`)."""
        if self.phase is Phase.STARTED:
            self.phase = Phase.RUNNING

    # --- inbound -------------------------------------------------------------

    def receive_body(self, body: bytes) -> None:
        """Handle one frame's body: decode, check the envelope and the lifecycle, dispatch.

        Messages that arrive while `initialize` runs wait for it, in order, so that a
        client may pipeline its first requests behind `initialize`.
        """
        if self.phase is Phase.INITIALIZING:
            self._held.append(body)
            return
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            self.send_error(None, errors.parse_error(str(exc)))
            return
        if _is_response(data):
            # The sidecar sends the client no requests, so no response answers one: it
            # must not reach pygls, which would resolve an in-flight request's future.
            self.warnings.warn(
                "response",
                "ignoring a response from the client, id %s",
                repr(data.get("id"))[:100],
            )
            return
        problem = _envelope_problem(data)
        if problem is not None:
            self._refuse_envelope(body, data, errors.invalid_request(problem))
            return
        method: str = data["method"]
        if "id" not in data:
            self._receive_notification(method, data.get("params"))
            return
        refusal = self._lifecycle_refusal(method)
        if refusal is not None:
            self.send_error(data["id"], refusal)
            return
        if self._dispatcher.is_in_flight(data["id"]):
            # Its answer could not be told from the first one's, and pygls would lose
            # track of the first (so a cancel of that id could no longer reach it).
            self.send_error(data["id"], errors.invalid_request("a request with this id runs"))
            return
        if method == INITIALIZE:
            self.phase = Phase.INITIALIZING
            self._initialize_id = data["id"]
        elif method == SHUTDOWN:
            # At once, not when the handler runs: an `exit` or request may follow in the
            # same read, before any handler task has had a turn.
            self.phase = Phase.SHUT_DOWN
            self._shutdown_id = data["id"]
        if not self._dispatcher.handles(method):
            self.send_error(data["id"], errors.method_not_found(method))
            return
        self._dispatcher.request(data["id"], method, data.get("params"))

    def _receive_notification(self, method: str, params: Any) -> None:
        if method == EXIT:
            self.request_exit(0 if self.phase is Phase.SHUT_DOWN else 1)
        elif method == CANCEL_REQUEST:
            cancelled = _id_of(params)
            if cancelled is not None and self._dispatcher.is_in_flight(cancelled):
                self._dispatcher.cancel(cancelled)
            else:
                self.warnings.warn(
                    "unknown cancel",
                    "ignoring $/cancelRequest for no request in flight: %s",
                    repr(params)[:100],
                )
        elif self._dispatcher.handles(method):
            # A request sent without an id must not run: nobody could see it fail, and
            # `initialize` would reopen the data directory over what is in memory.
            self.warnings.warn(
                "request as notification",
                "ignoring a notification of request method %r",
                method[:100],
            )
        else:
            log.debug("ignoring notification %r", method[:100])

    def _refuse_envelope(self, body: bytes, data: Any, error: errors.RpcError) -> None:
        if isinstance(data, dict) and isinstance(data.get("id"), float):
            # orjson reads 1.5, 25 digits and 2**64 alike as floats: echo the id as written.
            self.send_error_with_id_json(find_request_id(body), error)
        else:
            self.send_error(_id_of(data), error)

    def _lifecycle_refusal(self, method: str) -> errors.RpcError | None:
        if self.phase is Phase.SHUT_DOWN:
            return errors.shutting_down()
        if method == INITIALIZE:
            if self.phase is not Phase.STARTED:
                return errors.invalid_request("initialize was already sent")
            return None
        if self.phase is not Phase.RUNNING:
            return errors.server_not_initialized()
        return None

    def exit_requested(self) -> asyncio.Future[int]:
        """The code to exit with, once something asks for the exit (`request_exit`: the
        client's `exit`, the end of its input, SIGTERM, its process gone). Made on the
        running loop when first asked for; asks before then are not kept."""
        if self._exit_code is None:
            self._exit_code = asyncio.get_running_loop().create_future()
        return self._exit_code

    def request_exit(self, code: int) -> None:
        if self._exit_code is not None and not self._exit_code.done():
            self._exit_code.set_result(code)

    # --- outbound ------------------------------------------------------------

    def _request_finished(self, msg_id: MsgId, future: Future[Any]) -> None:
        if self._initialize_id is not _NO_INITIALIZE and msg_id == self._initialize_id:
            self._initialize_ended(msg_id, future)
            return
        self._answer(msg_id, future)

    def _initialize_ended(self, msg_id: MsgId, future: Future[Any]) -> None:
        """Answer initialize, then let the messages that waited for it through."""
        succeeded = not future.cancelled() and future.exception() is None
        if self.phase is Phase.INITIALIZING:
            # A failed initialize (bad params, locked data dir) may be sent again.
            self.phase = Phase.RUNNING if succeeded else Phase.STARTED
        self._answer(msg_id, future)
        self._initialize_id = _NO_INITIALIZE
        held, self._held = self._held, []
        for body in held:
            self.receive_body(body)

    def _answer(self, msg_id: MsgId | None, future: Future[Any]) -> None:
        if future.cancelled():
            self.send_error(msg_id, errors.request_cancelled())
            return
        exc = future.exception()
        if exc is None:
            self._write({"jsonrpc": "2.0", "id": msg_id, "result": future.result()})
        elif isinstance(exc, errors.RpcError):
            self.send_error(msg_id, exc)
        else:
            log.error("request %r failed", msg_id, exc_info=exc)
            self.send_error(msg_id, errors.internal_error())

    def send_error(self, msg_id: MsgId | None, error: errors.RpcError) -> None:
        self._write({"jsonrpc": "2.0", "id": msg_id, "error": error.to_wire()})

    def send_error_with_id_json(self, id_json: bytes | None, error: errors.RpcError) -> None:
        """An error whose id is the client's id as JSON text (see framing.find_request_id),
        echoed exactly even when no Python value round-trips it (1.5, 25 digits)."""
        if id_json is None:
            self.send_error(None, error)
            return
        assert self._writer is not None, "set_writer() comes before the first message"
        error_json = orjson.dumps(error.to_wire())
        self._writer.write(
            encode_frame(b'{"jsonrpc":"2.0","id":%s,"error":%s}' % (id_json, error_json))
        )

    def notify(self, method: str, params: Any | None = None) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def _write(self, message: dict[str, Any]) -> None:
        assert self._writer is not None, "set_writer() comes before the first message"
        try:
            body = orjson.dumps(message)
        except TypeError:
            log.exception("cannot encode a message to the client")
            failure = errors.internal_error().to_wire()
            body = orjson.dumps({"jsonrpc": "2.0", "id": message.get("id"), "error": failure})
        self._writer.write(encode_frame(body))


def _is_response(data: Any) -> bool:
    """A response object (even a malformed one): never answered, as JSON-RPC requires."""
    return isinstance(data, dict) and "method" not in data and ("result" in data or "error" in data)


def _envelope_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "a message must be a JSON object"
    if data.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "id" in data and _id_of(data) is None and data["id"] is not None:
        return "id must be a string, an integer of at most 64 bits, or null"
    if "method" in data:
        if not isinstance(data["method"], str) or not data["method"]:
            return "method must be a non-empty string"
        if data.get("params") is not None and not isinstance(data["params"], dict | list):
            return "params must be an object"
        return None
    return "neither a request, a notification nor a response"


def _id_of(data: Any) -> MsgId | None:
    if isinstance(data, dict):
        candidate = data.get("id")
        if isinstance(candidate, int | str) and not isinstance(candidate, bool):
            return candidate
    return None
