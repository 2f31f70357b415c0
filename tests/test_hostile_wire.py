"""The wire as a trust boundary: hostile or careless bytes, spoken to the real process.

Every test here sends what a well-behaved client never sends and checks what a client
can see: the answers, the state they report, and that the sidecar keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plue_sidecar import errors
from tests.conftest import end_gracefully
from tests.harness.raw import RawSidecar, frame, request

PROTOCOL = (Path(__file__).resolve().parent.parent / "protocol.md").read_text()
StartRaw = Callable[..., Awaitable[RawSidecar]]
LONG_PROMPT = " ".join(f"word{index}" for index in range(100))


@pytest.fixture
async def start_raw(data_dir: Path) -> AsyncIterator[StartRaw]:
    """Start raw sidecars with extra arguments, initialized; every one ends at the end."""
    started: list[RawSidecar] = []

    async def start(*extra: str) -> RawSidecar:
        raw = await RawSidecar.start(data_dir, *extra)
        started.append(raw)
        await raw.initialize()
        return raw

    yield start
    for raw in started:
        await end_gracefully(raw.process)


def notification(method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return frame(json.dumps(message).encode())


async def start_long_prompt(raw: RawSidecar, msg_id: Any) -> str:
    """A `session/prompt` still running when this returns (it has streamed output)."""
    session = (await raw.ask("create", "session/create", {}))["result"]["id"]
    await raw.write(
        request(
            msg_id,
            "session/prompt",
            {
                "sessionId": session,
                "parts": [{"type": "text", "text": LONG_PROMPT}],
            },
        )
    )
    while True:
        _, message = await raw.read_frame()
        if message.get("method") == "session/update":
            return session
        assert message.get("id") != msg_id, message


@contextlib.contextmanager
def unlimited_int_digits() -> Iterator[None]:
    """Let json.loads read an integer of thousands of digits, as JSON allows."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


async def answers_by_id(raw: RawSidecar, count: int) -> dict[Any, dict[str, Any]]:
    answers: dict[Any, dict[str, Any]] = {}
    while len(answers) < count:
        answer = await raw.response()
        answers[answer["id"]] = answer
    return answers


async def test_a_notification_naming_a_request_method_never_runs(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    stream = bytearray()
    for index in range(300):
        if index % 10 == 0:
            stream += notification("initialize", {"processId": None})
            stream += notification("session/delete", {"sessionId": "session_0000000000001"})
        stream += request(index, "session/create", {"title": f"kept {index}"})
    await raw_sidecar.write(bytes(stream))
    answers = await answers_by_id(raw_sidecar, 300)
    created = {answer["result"]["id"] for answer in answers.values()}
    assert len(created) == 300
    listed = await raw_sidecar.ask("list", "session/list", {"limit": 1000})
    assert {session["id"] for session in listed["result"]["sessions"]} == created
    await raw_sidecar.close()
    log = await raw_sidecar.stderr()
    # 60 of them: logged the 1st and the 10th time, not 60 times.
    assert log.count("ignoring a notification") == 2, log
    assert "(10 so far)" in log


async def test_a_content_length_of_thousands_of_digits_is_a_broken_header(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    for index, digits in enumerate([b"9" * 5000, b"1" * 25, b"0" * 30 + b"2"]):
        await raw_sidecar.write(b"Content-Length: " + digits + b"\r\n\r\n{}")
        await raw_sidecar.write(request(index, "session/list", {}))
        answer = await raw_sidecar.response()
        assert answer["id"] == index
        assert "result" in answer


async def test_a_response_from_the_client_is_ignored_and_never_touches_a_request(
    start_raw: StartRaw,
) -> None:
    raw = await start_raw("--echo-delay-ms", "200")
    await start_long_prompt(raw, 77)
    await raw.write(
        frame(b'{"id":77,"result":null}')
        + frame(b'{"jsonrpc":"2.0","id":77,"result":null}')
        + frame(b'{"jsonrpc":"2.0","id":77,"error":{"code":1,"message":"no"}}')
        + request("list", "session/list", {})
    )
    answer = await raw.response()
    assert answer["id"] == "list" and "result" in answer
    await raw.write(notification("$/cancelRequest", {"id": 77}))
    answer = await raw.response()
    assert answer["id"] == 77
    assert answer["result"]["stopReason"] == "aborted"


def oversized(id_json: bytes, size: int = 5000) -> bytes:
    body = (
        b'{"jsonrpc":"2.0","id":'
        + id_json
        + b',"method":"session/create","params":{"title":"'
        + b"x" * size
        + b'"}}'
    )
    return frame(body)


@pytest.mark.parametrize(
    ("id_json", "answered_id_json"),
    [
        (b"1234567890123456789012345", b"1234567890123456789012345"),
        (b"9" * 5000, b"9" * 5000),
        (b"1.5", b"1.5"),
        (b'"a\\"b"', b'"a\\"b"'),
        (b'"caf\\u00e9"', '"café"'.encode()),
        (b"null", b"null"),
        (b"[7]", b"null"),
    ],
    ids=[
        "25 digits",
        "5000 digits",
        "fraction",
        "escaped quote",
        "unicode escape",
        "null",
        "array",
    ],
)
async def test_an_oversized_frame_is_answered_with_its_exact_id_and_the_next_frame_kept(
    start_raw: StartRaw, id_json: bytes, answered_id_json: bytes
) -> None:
    raw = await start_raw("--max-frame-bytes", "1000")
    with unlimited_int_digits():
        await raw.write(oversized(id_json) + request("next", "session/list", {}))
        answer = await raw.response()
        expected = json.loads(answered_id_json)
    assert answer["id"] == expected
    assert type(answer["id"]) is type(expected)
    assert answer["error"]["code"] == errors.INVALID_REQUEST
    assert answer["error"]["data"] == {
        "kind": "payload_too_large",
        "size": len(oversized(id_json).partition(b"\r\n\r\n")[2]),
        "limit": 1000,
    }
    following = await raw.response()
    assert following["id"] == "next" and "result" in following


async def test_an_oversized_frame_is_answered_before_its_body_has_arrived(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    declared = 200 * 1024 * 1024
    await raw_sidecar.write(
        b"Content-Length: %d\r\n\r\n" % declared
        + b'{"jsonrpc":"2.0","id":42,"method":"message/append","params":{"parts":['
    )
    answer = await raw_sidecar.response()
    assert answer["id"] == 42
    assert answer["error"]["data"]["kind"] == "payload_too_large"
    assert answer["error"]["data"]["size"] == declared


async def test_an_oversized_frame_whose_id_is_not_in_its_first_64_kib_is_answered_with_null(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(
        b"Content-Length: %d\r\n\r\n" % (1 << 30)
        + b'{"jsonrpc":"2.0","params":{"text":"'
        + b"x" * (70 * 1024)
    )
    answer = await raw_sidecar.response()
    assert answer["id"] is None
    assert answer["error"]["data"]["kind"] == "payload_too_large"


async def test_an_oversized_frame_never_answers_with_the_id_of_a_frame_it_swallowed(
    start_raw: StartRaw,
) -> None:
    raw = await start_raw("--max-frame-bytes", "100")
    swallowed = request(9, "session/list", {})
    body = b'{"jsonrpc":"2.0","method":"session/list"}' + swallowed + b" " * 100
    await raw.write(frame(body) + request(10, "session/list", {}))
    answer = await raw.response()
    assert answer["id"] is None
    assert answer["error"]["data"]["kind"] == "payload_too_large"
    assert (await raw.response())["id"] == 10


async def test_initialize_with_an_impossible_process_id_fails_and_changes_nothing(
    raw_sidecar: RawSidecar,
) -> None:
    for process_id in (2**31, 2**63, 0, -1):
        refused = await raw_sidecar.ask("init", "initialize", {"processId": process_id})
        assert refused["error"]["code"] == errors.INVALID_PARAMS, process_id
        assert refused["error"]["data"]["field"] == "processId"
        still = await raw_sidecar.ask("list", "session/list", {})
        assert still["error"]["code"] == errors.SERVER_NOT_INITIALIZED
    await raw_sidecar.initialize()


def nested(depth: int) -> Any:
    value: Any = "core"
    for _ in range(depth):
        value = [value]
    return value


async def test_params_nested_past_the_documented_depth_are_invalid_params(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    session = (await raw_sidecar.ask("s", "session/create", {}))["result"]["id"]

    def tool_call(depth: int) -> dict[str, Any]:
        part = {"type": "toolCall", "callId": "c", "name": "n", "input": nested(depth)}
        return {"sessionId": session, "role": "assistant", "parts": [part]}

    # params, parts, the part and the input's own levels: 128 levels in all.
    deepest = await raw_sidecar.ask(1, "message/append", tool_call(125))
    assert deepest["result"]["parts"][0]["input"] == nested(125)
    got = await raw_sidecar.ask(
        2,
        "message/get",
        {
            "sessionId": session,
            "messageId": deepest["result"]["id"],
        },
    )
    assert got["result"]["parts"][0]["input"] == nested(125)
    for depth in (126, 254, 500):
        refused = await raw_sidecar.ask(3, "message/append", tool_call(depth))
        assert refused["error"]["code"] == errors.INVALID_PARAMS, depth
        assert refused["error"]["data"]["field"].startswith("parts.0.input.0.0.")
    listed = await raw_sidecar.ask(4, "message/list", {"sessionId": session})
    assert len(listed["result"]["messages"]) == 1


async def test_a_cursor_of_non_ascii_digits_is_invalid_params(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    for cursor in ("².1", "1.²", "١٢.٣", "1.", ".1"):
        refused = await raw_sidecar.ask(1, "session/list", {"cursor": cursor})
        assert refused["error"]["code"] == errors.INVALID_PARAMS, cursor
        assert refused["error"]["data"]["field"] == "cursor"


async def test_session_ids_have_13_to_32_digits_as_documented(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    documented = re.search(r"Session ids must match `([^`]+)`", PROTOCOL)
    assert documented is not None
    for digits, code in (
        (12, errors.INVALID_PARAMS),
        (13, errors.SESSION_NOT_FOUND),
        (32, errors.SESSION_NOT_FOUND),
        (33, errors.INVALID_PARAMS),
    ):
        session_id = "session_" + "1" * digits
        answer = await raw_sidecar.ask(digits, "session/get", {"sessionId": session_id})
        assert answer["error"]["code"] == code, digits
        assert bool(re.fullmatch(documented.group(1), session_id)) == (
            code == errors.SESSION_NOT_FOUND
        ), digits


async def test_repeated_content_length_headers_must_agree(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    body = json.dumps({"jsonrpc": "2.0", "id": "same", "method": "session/list"}).encode()
    await raw_sidecar.write(
        b"Content-Length: %d\r\ncontent-length: %d\r\n\r\n%s" % (len(body), len(body), body)
    )
    assert (await raw_sidecar.response())["id"] == "same"
    conflicting = json.dumps({"jsonrpc": "2.0", "id": "conflict", "method": "session/list"})
    await raw_sidecar.write(
        b"Content-Length: %d\r\nContent-Length: 2\r\n\r\n" % len(conflicting)
        + conflicting.encode()
        + request("after", "session/list", {})
    )
    assert (await raw_sidecar.response())["id"] == "after"
    await raw_sidecar.close()
    assert "conflicting Content-Length" in await raw_sidecar.stderr()


async def test_duplicate_keys_the_last_one_wins(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(
        frame(
            b'{"jsonrpc":"2.0","id":1,"method":"no/such","id":2,"method":"session/list",'
            b'"params":{"limit":0},"params":{"limit":1}}'
        )
    )
    answer = await raw_sidecar.response()
    assert answer["id"] == 2
    assert "result" in answer


@pytest.mark.parametrize(
    "id_json",
    [
        b"1.5",
        b"5.0",
        b"1e3",
        b"-0.0",
        b"1234567890123456789012345",
        b"18446744073709551616",
    ],
    ids=["fraction", "integral float", "exponent", "negative zero", "25 digits", "2^64"],
)
async def test_a_number_id_that_is_not_a_64_bit_integer_is_refused_and_echoed_exactly(
    raw_sidecar: RawSidecar, id_json: bytes
) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(
        frame(b'{"jsonrpc":"2.0","id":' + id_json + b',"method":"session/list"}')
    )
    answer = await raw_sidecar.response()
    assert answer["error"]["code"] == errors.INVALID_REQUEST
    assert answer["error"]["data"]["kind"] == "invalid_request"
    expected = json.loads(id_json)
    assert answer["id"] == expected and type(answer["id"]) is type(expected)
    if isinstance(expected, float):
        assert str(answer["id"]) == str(expected)


async def test_64_bit_integer_ids_are_answered(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    for msg_id in (2**64 - 1, -(2**63), 0):
        assert (await raw_sidecar.ask(msg_id, "session/list", {}))["id"] == msg_id


async def test_a_second_request_with_the_id_of_one_in_flight_is_refused(
    start_raw: StartRaw,
) -> None:
    raw = await start_raw("--echo-delay-ms", "200")
    await start_long_prompt(raw, 5)
    duplicate = await raw.ask(5, "session/list", {})
    assert duplicate["error"]["code"] == errors.INVALID_REQUEST
    assert duplicate["error"]["data"]["kind"] == "invalid_request"
    await raw.write(notification("$/cancelRequest", {"id": 5}))
    answer = await raw.response()
    assert answer["id"] == 5
    assert answer["result"]["stopReason"] == "aborted"
    assert "result" in await raw.ask(5, "session/list", {})


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"expiresInSeconds": "3600"}, "expiresInSeconds"),
        ({"expiresInSeconds": True}, "expiresInSeconds"),
        ({"expiresInSeconds": 5.0}, "expiresInSeconds"),
    ],
)
async def test_types_are_strict(
    raw_sidecar: RawSidecar, params: dict[str, Any], field: str
) -> None:
    await raw_sidecar.initialize()
    session = (await raw_sidecar.ask("s", "session/create", {}))["result"]["id"]
    refused = await raw_sidecar.ask(1, "session/share", {"sessionId": session, **params})
    assert refused["error"]["code"] == errors.INVALID_PARAMS
    assert refused["error"]["data"]["field"] == field
    unshared = await raw_sidecar.ask(2, "session/get", {"sessionId": session})
    assert unshared["result"]["share"] is None
    for loose in ({"limit": "5"}, {"limit": 5.0}, {"rootsOnly": 1}, {"rootsOnly": "true"}):
        answer = await raw_sidecar.ask(3, "session/list", loose)
        assert answer["error"]["code"] == errors.INVALID_PARAMS, loose


async def test_floods_of_bad_frames_are_logged_a_bounded_number_of_times(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    flood = (
        b"Content-Length: x\r\n\r\n" * 500
        + notification("$/cancelRequest", {"id": "never-sent"}) * 500
        + frame(b'{"jsonrpc":"2.0","id":"nobody","result":1}') * 500
    )
    await raw_sidecar.write(flood)
    assert "result" in await raw_sidecar.ask("after", "session/list", {})
    await raw_sidecar.close()
    log = await raw_sidecar.stderr()
    assert len(log.splitlines()) <= 15, log
    assert "(100 so far)" in log


@pytest.mark.parametrize("params", [[], [None], None], ids=["[]", "[null]", "null"])
async def test_empty_positional_params_are_no_params(raw_sidecar: RawSidecar, params: Any) -> None:
    await raw_sidecar.initialize()
    body = {"jsonrpc": "2.0", "id": 1, "method": "session/list", "params": params}
    await raw_sidecar.write(frame(json.dumps(body).encode()))
    assert "result" in await raw_sidecar.response()
    body = {"jsonrpc": "2.0", "id": 2, "method": "session/get", "params": params}
    await raw_sidecar.write(frame(json.dumps(body).encode()))
    refused = await raw_sidecar.response()
    assert refused["error"]["data"]["field"] == "sessionId"
    assert "result" in await raw_sidecar.ask(3, "shutdown", params)
