"""The wire as a trust boundary: hostile or careless bytes, spoken to the real process.

Every test here sends what a well-behaved client never sends and checks what a client
can see: the answers, the state they report, and that the sidecar keeps serving.
"""

from __future__ import annotations

import json
from typing import Any

from tests.harness.raw import RawSidecar, frame, request


def notification(method: str, params: Any = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return frame(json.dumps(message).encode())


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
