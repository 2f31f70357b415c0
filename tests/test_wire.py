"""Framing and JSON-RPC rules, spoken byte by byte to the real process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from plue_sidecar import errors
from plue_sidecar.rpc.framing import Frame, FrameSplitter
from tests.harness.raw import RawSidecar, frame, request

REPO_ROOT = Path(__file__).resolve().parent.parent


async def test_requests_before_initialize_are_refused_and_notifications_ignored(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.write(frame(b'{"jsonrpc":"2.0","method":"session/didSomething"}'))
    answer = await raw_sidecar.ask(1, "session/list", {})
    assert answer["error"]["code"] == errors.SERVER_NOT_INITIALIZED
    assert answer["error"]["data"]["kind"] == "server_not_initialized"
    await raw_sidecar.initialize()
    assert "result" in await raw_sidecar.ask(2, "session/list", {})


async def test_initialize_ignores_lsp_fields_and_refuses_a_second_initialize(
    raw_sidecar: RawSidecar,
) -> None:
    answer = await raw_sidecar.ask(
        1,
        "initialize",
        {
            "processId": None,
            "rootUri": None,
            "capabilities": {"workspace": {}},
            "clientInfo": {"name": "vscode", "version": "1.99"},
            "trace": "off",
        },
    )
    result = answer["result"]
    assert result["protocolVersion"] == 1
    assert result["serverInfo"]["name"] == "plue-sidecar"
    assert "session/create" in result["capabilities"]["methods"]
    assert result["capabilities"]["notifications"] == ["session/didChange", "session/update"]
    again = await raw_sidecar.ask(2, "initialize", {})
    assert again["error"]["code"] == errors.INVALID_REQUEST


async def test_initialize_with_bad_params_can_be_retried(raw_sidecar: RawSidecar) -> None:
    bad = await raw_sidecar.ask(1, "initialize", {"processId": "me"})
    assert bad["error"]["code"] == errors.INVALID_PARAMS
    assert bad["error"]["data"]["field"] == "processId"
    await raw_sidecar.initialize()


async def test_invalid_json_gets_parse_error_and_the_next_request_works(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(frame(b'{"jsonrpc": "2.0", "id": 1, "method": '))
    answer = await raw_sidecar.response()
    assert answer["id"] is None
    assert answer["error"]["code"] == errors.PARSE_ERROR
    assert answer["error"]["data"]["kind"] == "parse_error"
    assert "result" in await raw_sidecar.ask(2, "session/list", {})


async def test_invalid_utf8_gets_parse_error(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(frame(b'{"jsonrpc":"2.0","id":1,"method":"x\xff"}'))
    assert (await raw_sidecar.response())["error"]["code"] == errors.PARSE_ERROR


async def test_messages_that_are_not_requests_get_invalid_request(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    bodies = [
        b"[]",
        b"42",
        b'{"jsonrpc":"1.0","id":1,"method":"session/list"}',
        b'{"jsonrpc":"2.0","id":2,"method":7}',
        b'{"jsonrpc":"2.0","id":3,"method":"session/list","params":"x"}',
        b'{"jsonrpc":"2.0","id":{"a":1},"method":"session/list"}',
        b'{"jsonrpc":"2.0","id":5}',
    ]
    for body in bodies:
        await raw_sidecar.write(frame(body))
        answer = await raw_sidecar.response()
        assert answer["error"]["code"] == errors.INVALID_REQUEST, body
        assert answer["error"]["data"]["kind"] == "invalid_request"
    await raw_sidecar.write(frame(b'{"jsonrpc":"2.0","id":3,"method":"session/list","params":"x"}'))
    assert (await raw_sidecar.response())["id"] == 3


async def test_unknown_method_is_method_not_found_and_unknown_notification_is_ignored(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(frame(b'{"jsonrpc":"2.0","method":"no/suchNotification"}'))
    answer = await raw_sidecar.ask(1, "no/such", {})
    assert answer == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "code": -32601,
            "message": "method not found: no/such",
            "data": {"kind": "method_not_found"},
        },
    }


async def test_params_given_by_position_are_invalid_params(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    answer = await raw_sidecar.ask(1, "session/get", ["session_1234567890123"])
    assert answer["error"]["code"] == errors.INVALID_PARAMS


async def test_broken_headers_are_reported_and_the_reader_resynchronises(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    broken = [
        b"Content-Length: abc\r\n\r\n{}",
        b"Content-Length: 2\n\n{}",
        b"X-Nonsense\r\n\r\n",
        b"Content-Type: application/json\r\n\r\n{}",
        b"\x00\x01garbage",
    ]
    for index, garbage in enumerate(broken):
        await raw_sidecar.write(garbage + request(index, "session/list", {}))
        answer = await raw_sidecar.response()
        assert answer["id"] == index, garbage
        assert "result" in answer
    await raw_sidecar.close()
    assert "broken header" in await raw_sidecar.stderr()


async def test_header_name_is_case_insensitive_and_content_type_is_accepted(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    body = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "session/list"}).encode()
    header = (
        b"content-length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        % len(body)
    )
    await raw_sidecar.write(header + body)
    assert (await raw_sidecar.response())["id"] == 9


async def test_lengths_are_bytes_and_non_ascii_round_trips_exactly(
    raw_sidecar: RawSidecar,
) -> None:
    await raw_sidecar.initialize()
    title = "Ünïcødé 会话 🚀 \u200d"
    created = await raw_sidecar.ask(1, "session/create", {"title": title})
    assert created["result"]["title"] == title.strip()
    header, body = await _frame_of_response(raw_sidecar, 2, created["result"]["id"])
    length = int(header.split(b":")[1])
    assert length == len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    assert body["result"]["title"] == title.strip()


async def _frame_of_response(raw: RawSidecar, msg_id: int, session_id: str) -> tuple[bytes, dict]:
    await raw.write(request(msg_id, "session/get", {"sessionId": session_id}))
    while True:
        header, message = await raw.read_frame()
        if message.get("id") == msg_id:
            return header, message


async def test_coalesced_and_split_frames_are_all_answered(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    stream = b"".join(request(i, "session/list", {"limit": 1}) for i in range(50))
    for start in range(0, len(stream), 7):
        await raw_sidecar.write(stream[start : start + 7])
    ids = {(await raw_sidecar.response())["id"] for _ in range(50)}
    assert ids == set(range(50))


async def test_oversized_frame_is_refused_without_killing_the_process(data_dir) -> None:  # type: ignore[no-untyped-def]
    raw = await RawSidecar.start(data_dir, "--max-frame-bytes", "1000")
    try:
        await raw.initialize()
        big = request(77, "session/create", {"title": "x" * 5000})
        await raw.write(big)
        answer = await raw.response()
        assert answer["id"] == 77
        assert answer["error"]["code"] == errors.INVALID_REQUEST
        assert answer["error"]["data"]["kind"] == "payload_too_large"
        assert "result" in await raw.ask(78, "session/list", {})
    finally:
        await raw.close()


async def test_shutdown_refuses_requests_and_exit_code_is_zero(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    assert (await raw_sidecar.ask(1, "shutdown"))["result"] is None
    after = await raw_sidecar.ask(2, "session/list", {})
    assert after["error"]["code"] == errors.INVALID_REQUEST
    assert after["error"]["data"]["kind"] == "shutting_down"
    await raw_sidecar.write(frame(b'{"jsonrpc":"2.0","method":"exit"}'))
    assert await asyncio.wait_for(raw_sidecar.process.wait(), 10) == 0


async def test_exit_without_shutdown_exits_with_one(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    await raw_sidecar.write(frame(b'{"jsonrpc":"2.0","method":"exit"}'))
    assert await asyncio.wait_for(raw_sidecar.process.wait(), 10) == 1


async def test_end_of_stdin_exits_zero(raw_sidecar: RawSidecar) -> None:
    await raw_sidecar.initialize()
    assert await raw_sidecar.close() == 0


async def test_sidecar_exits_when_the_client_process_is_gone(raw_sidecar: RawSidecar) -> None:
    client = await asyncio.create_subprocess_exec("sleep", "60")
    answer = await raw_sidecar.ask(1, "initialize", {"processId": client.pid})
    assert "result" in answer
    client.kill()
    await client.wait()
    assert await asyncio.wait_for(raw_sidecar.process.wait(), 10) == 0


async def test_a_client_process_already_gone_at_initialize_ends_the_sidecar(
    raw_sidecar: RawSidecar,
) -> None:
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()
    await raw_sidecar.ask(1, "initialize", {"processId": gone.pid})
    assert await asyncio.wait_for(raw_sidecar.process.wait(), 10) == 0


async def test_stdout_carries_only_frames_even_when_a_runner_prints(data_dir) -> None:  # type: ignore[no-untyped-def]
    raw = await RawSidecar.start(
        data_dir,
        "--runner",
        "tests.noisy_runner:NoisyRunner",
        env={"PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        await raw.initialize()
        session = (await raw.ask(1, "session/create", {}))["result"]
        answer = await raw.ask(
            2,
            "session/prompt",
            {
                "sessionId": session["id"],
                "parts": [{"type": "text", "text": "hi"}],
            },
        )
        assert answer["result"]["stopReason"] == "end_turn"
        assert "result" in await raw.ask(3, "session/get", {"sessionId": session["id"]})
    finally:
        await raw.close()
    assert "noise" in await raw.stderr()


def test_a_script_file_on_stdin_and_a_file_on_stdout_work_too(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_bytes(
        request(1, "initialize", {"processId": None})
        + request(2, "session/create", {"title": "from a file"})
        + request(3, "shutdown")
        + frame(b'{"jsonrpc":"2.0","method":"exit"}')
    )
    output = tmp_path / "output"
    with script.open("rb") as stdin, output.open("wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "plue_sidecar", "--data-dir", str(tmp_path / "data")],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    splitter = FrameSplitter(1 << 20)
    messages = [
        json.loads(e.body) for e in splitter.feed(output.read_bytes()) if isinstance(e, Frame)
    ]
    answers = {m["id"]: m for m in messages if "id" in m}
    assert answers[2]["result"]["title"] == "from a file"
    assert answers[3]["result"] is None


async def test_requests_in_flight_at_end_of_input_are_answered_and_kept(
    raw_sidecar: RawSidecar, data_dir: Path
) -> None:
    await raw_sidecar.initialize()
    session = (await raw_sidecar.ask("s", "session/create", {}))["result"]["id"]
    append = {"sessionId": session, "role": "user", "parts": [{"type": "text", "text": "x"}]}
    await raw_sidecar.write(b"".join(request(i, "message/append", append) for i in range(300)))
    assert raw_sidecar.process.stdin is not None
    raw_sidecar.process.stdin.close()
    answers = []
    while True:
        try:
            answers.append(await raw_sidecar.response(timeout=10))
        except EOFError:
            break
    assert await raw_sidecar.close() == 0
    assert sorted(a["id"] for a in answers if "result" in a) == list(range(300))
    again = await RawSidecar.start(data_dir)
    try:
        await again.initialize()
        listed = await again.ask(1, "message/list", {"sessionId": session, "limit": 1000})
        assert len(listed["result"]["messages"]) == 300
    finally:
        await again.close()


async def test_sigterm_ends_the_sidecar_cleanly_and_keeps_what_was_acknowledged(
    raw_sidecar: RawSidecar, data_dir: Path
) -> None:
    await raw_sidecar.initialize()
    created = (await raw_sidecar.ask(1, "session/create", {"title": "kept"}))["result"]
    raw_sidecar.process.terminate()
    assert await asyncio.wait_for(raw_sidecar.process.wait(), 10) == 0
    again = await RawSidecar.start(data_dir)
    try:
        await again.initialize()
        got = await again.ask(2, "session/get", {"sessionId": created["id"]})
        assert got["result"]["title"] == "kept"
    finally:
        await again.close()
