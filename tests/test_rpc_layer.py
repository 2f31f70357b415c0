"""The RPC layer on its own, without pipes: envelopes, errors, cancellation, aborts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from plue_sidecar import errors
from plue_sidecar.core.inflight import InflightRequests
from plue_sidecar.models.base import WireModel
from plue_sidecar.models.wire import SessionRef
from plue_sidecar.routes import Routes
from plue_sidecar.rpc.framing import Frame, FrameSplitter
from plue_sidecar.rpc.protocol import Phase, SidecarProtocol
from plue_sidecar.rpc.registrar import Registrar


class Captured:
    """A writer that keeps every frame the protocol sends."""

    def __init__(self) -> None:
        self.splitter = FrameSplitter(1 << 24)
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    def write(self, data: bytes) -> None:
        for event in self.splitter.feed(data):
            assert isinstance(event, Frame)
            self.messages.append(orjson.loads(event.body))
        self.arrived.set()

    async def answer(self, msg_id: object) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for message in self.messages:
                    if message.get("id") == msg_id and "method" not in message:
                        return message
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(find(), 5)


class NoParams(WireModel):
    pass


class Layer:
    def __init__(self) -> None:
        self.protocol = SidecarProtocol()
        self.output = Captured()
        self.protocol.set_writer(self.output)
        self.protocol.phase = Phase.RUNNING
        self.inflight = InflightRequests()
        self.registrar = Registrar(
            self.protocol, self.inflight, wait_until_loaded=lambda: asyncio.sleep(0)
        )
        self.rpc = Routes()
        self.release = asyncio.Event()
        self.calls: list[str] = []
        self.called = asyncio.Event()

    async def wait_for_calls(self, count: int) -> None:
        while len(self.calls) < count:
            self.called.clear()
            await asyncio.wait_for(self.called.wait(), 5)

    def send(self, message: dict[str, Any]) -> None:
        self.protocol.receive_body(orjson.dumps({"jsonrpc": "2.0", **message}))


@pytest.fixture
async def layer() -> AsyncIterator[Layer]:
    layer = Layer()

    @layer.rpc.request("test/boom", NoParams)
    async def boom(params: NoParams) -> None:
        raise RuntimeError("a bug with a secret path /home/someone")

    @layer.rpc.request("test/wait", SessionRef)
    async def wait(params: SessionRef) -> None:
        layer.calls.append(params.session_id)
        layer.called.set()
        await layer.release.wait()

    @layer.rpc.request("test/unencodable", NoParams)
    async def unencodable(params: NoParams) -> dict[str, Any]:
        return {"value": {1, 2}}

    for route in layer.rpc.routes:
        layer.registrar.add(route)
    yield layer
    layer.release.set()


async def test_an_unexpected_exception_is_a_short_internal_error(layer: Layer) -> None:
    layer.send({"id": 1, "method": "test/boom"})
    answer = await layer.output.answer(1)
    assert answer["error"] == {
        "code": errors.INTERNAL_ERROR,
        "message": "internal error (details in the sidecar log)",
        "data": {"kind": "internal_error"},
    }


async def test_a_result_that_cannot_be_encoded_is_an_internal_error(layer: Layer) -> None:
    layer.send({"id": 2, "method": "test/unencodable"})
    assert (await layer.output.answer(2))["error"]["code"] == errors.INTERNAL_ERROR


async def test_cancel_request_ends_a_running_request_with_request_cancelled(
    layer: Layer,
) -> None:
    layer.send({"id": "w", "method": "test/wait", "params": {"sessionId": "session_1795000000000"}})
    await layer.wait_for_calls(1)
    layer.send({"method": "$/cancelRequest", "params": {"id": "w"}})
    answer = await layer.output.answer("w")
    assert answer["error"]["code"] == errors.REQUEST_CANCELLED
    assert answer["error"]["data"] == {"kind": "request_cancelled", "reason": "cancelled"}


async def test_an_abort_ends_the_requests_bound_to_its_session_only(layer: Layer) -> None:
    aborted, other = "session_1795000000000", "session_1795000000001"
    layer.send({"id": 1, "method": "test/wait", "params": {"sessionId": aborted}})
    layer.send({"id": 2, "method": "test/wait", "params": {"sessionId": other}})
    await layer.wait_for_calls(2)
    assert await layer.inflight.abort([aborted]) == 1
    answer = await layer.output.answer(1)
    assert answer["error"]["code"] == errors.SERVER_CANCELLED
    assert answer["error"]["data"] == {"kind": "request_cancelled", "reason": "aborted"}
    layer.release.set()
    assert (await layer.output.answer(2))["result"] is None


async def test_a_notification_naming_a_request_method_never_runs_it(layer: Layer) -> None:
    layer.send({"method": "test/wait", "params": {"sessionId": "session_1795000000000"}})
    layer.send({"id": 4, "method": "test/boom"})
    await layer.output.answer(4)
    assert layer.calls == []
    assert [m.get("id") for m in layer.output.messages] == [4]


async def test_responses_and_unknown_cancels_from_the_client_are_ignored(layer: Layer) -> None:
    layer.send({"id": 99, "result": {"ok": True}})
    layer.send({"method": "$/cancelRequest", "params": {"id": "never-sent"}})
    layer.send({"method": "$/cancelRequest", "params": {"id": {"not": "an id"}}})
    layer.send({"id": 3, "method": "test/boom"})
    await layer.output.answer(3)
    assert [m.get("id") for m in layer.output.messages] == [3]
