"""Turns end to end: streaming, storing, busy sessions, aborts and crashes mid-turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from plue_sidecar import errors
from tests.conftest import StartSidecar
from tests.harness.client import SidecarProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
WORDS = " ".join(f"word{i}" for i in range(60))


def text(value: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": value}]


def first_update_of(sidecar: SidecarProcess, session_id: str) -> Any:
    """The first `session/update` of the session that arrives from now on."""
    return sidecar.wait_for_notification(
        lambda m, p: m == "session/update" and p["sessionId"] == session_id,
        since=len(sidecar.protocol.notifications),
    )


async def stored(sidecar: SidecarProcess, session_id: str, message_id: str) -> Any:
    return await sidecar.call("message/get", {"sessionId": session_id, "messageId": message_id})


async def test_a_turn_streams_in_order_then_stores_and_answers(sidecar: SidecarProcess) -> None:
    session = await sidecar.call("session/create", {})
    prompt = "hello  streaming world, again"
    result = await sidecar.call(
        "session/prompt", {"sessionId": session["id"], "parts": text(prompt)}
    )
    assert result["stopReason"] == "end_turn"
    updates = [
        p
        for p in sidecar.notifications("session/update")
        if p["messageId"] == result["assistantMessageId"]
    ]
    assert len(updates) > 1
    assert {u["seq"] for u in updates} == {2}
    assert "".join(u["delta"]["text"] for u in updates) == prompt
    user = await stored(sidecar, session["id"], result["userMessageId"])
    assistant = await stored(sidecar, session["id"], result["assistantMessageId"])
    assert (user["seq"], user["role"], user["parts"]) == (1, "user", text(prompt))
    assert (assistant["seq"], assistant["role"]) == (2, "assistant")
    assert assistant["parts"] == text(prompt) and assistant["status"] == "complete"
    order = [m for m, _ in sidecar.protocol.notifications]
    assert order.index("session/update") < len(order) - 1


async def test_abort_mid_turn_stores_the_partial_message_and_answers_aborted(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "100")
    session = await sidecar.call("session/create", {})
    update = first_update_of(sidecar, session["id"])
    prompt = sidecar.send("session/prompt", {"sessionId": session["id"], "parts": text(WORDS)})
    await update
    aborted = await sidecar.call("session/abort", {"sessionId": session["id"]})
    assert aborted == {"sessionId": session["id"], "cancelled": 1}
    result = await asyncio.wait_for(prompt, 5)
    assert result["stopReason"] == "aborted"
    partial = await stored(sidecar, session["id"], result["assistantMessageId"])
    assert partial["status"] == "aborted"
    assert 0 < len(partial["parts"][0]["text"]) < len(WORDS)
    assert WORDS.startswith(partial["parts"][0]["text"])
    info = await sidecar.call("session/get", {"sessionId": session["id"]})
    assert info["isAborted"] is True and info["abortedAt"] is not None
    assert info["messageCount"] == 2
    again = await sidecar.call(
        "session/prompt", {"sessionId": session["id"], "parts": text("short")}
    )
    assert again["stopReason"] == "end_turn"
    info = await sidecar.call("session/get", {"sessionId": session["id"]})
    assert info["isAborted"] is False and info["messageCount"] == 4


async def test_cancel_request_on_a_prompt_acts_as_an_abort(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "100")
    session = await sidecar.call("session/create", {})
    update = first_update_of(sidecar, session["id"])
    prompt = asyncio.wrap_future(
        sidecar.protocol.send_request(
            "session/prompt",
            {"sessionId": session["id"], "parts": text(WORDS)},
            msg_id="p1",
        )
    )
    await update
    sidecar.protocol.notify("$/cancelRequest", {"id": "p1"})
    result = await asyncio.wait_for(prompt, 5)
    assert result["stopReason"] == "aborted"
    partial = await stored(sidecar, session["id"], result["assistantMessageId"])
    assert partial["status"] == "aborted"


async def test_a_second_prompt_is_busy_while_other_sessions_run_in_parallel(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "50")
    busy_session = await sidecar.call("session/create", {})
    other_session = await sidecar.call("session/create", {})
    update = first_update_of(sidecar, busy_session["id"])
    running = sidecar.send(
        "session/prompt", {"sessionId": busy_session["id"], "parts": text("a b c d e f")}
    )
    await update
    refused = await sidecar.failure(
        "session/prompt", {"sessionId": busy_session["id"], "parts": text("again")}
    )
    assert refused.code == errors.SESSION_BUSY and refused.kind == "session_busy"
    refused = await sidecar.failure(
        "message/append", {"sessionId": busy_session["id"], "role": "user", "parts": text("x")}
    )
    assert refused.code == errors.SESSION_BUSY
    parallel = await sidecar.call(
        "session/prompt", {"sessionId": other_session["id"], "parts": text("x y")}
    )
    assert parallel["stopReason"] == "end_turn"
    assert not running.done()
    assert (await asyncio.wait_for(running, 10))["stopReason"] == "end_turn"


async def test_abort_with_nothing_running_cancels_nothing(sidecar: SidecarProcess) -> None:
    session = await sidecar.call("session/create", {})
    result = await sidecar.call("session/abort", {"sessionId": session["id"]})
    assert result["cancelled"] == 0


async def test_a_runner_that_ignores_the_abort_is_ended_after_the_grace_period(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar(
        "--runner",
        "tests.runners:StubbornRunner",
        "--abort-grace-ms",
        "300",
        PYTHONPATH=str(REPO_ROOT),
    )
    session = await sidecar.call("session/create", {})
    update = first_update_of(sidecar, session["id"])
    prompt = sidecar.send("session/prompt", {"sessionId": session["id"], "parts": text("go")})
    await update
    await sidecar.call("session/abort", {"sessionId": session["id"]})
    result = await asyncio.wait_for(prompt, 5)
    assert result["stopReason"] == "aborted"
    count_at_answer = len(sidecar.notifications("session/update"))
    message = await stored(sidecar, session["id"], result["assistantMessageId"])
    assert message["status"] == "aborted"
    stored_text = message["parts"][0]["text"]
    # The stubborn runner produces its next word; it may reach neither the client nor
    # the disk. A request answered after that word was produced orders the check after it.
    await sidecar.wait_for_stderr(f"stubborn runner: word {stored_text.count(' ')}\n")
    await sidecar.call("session/get", {"sessionId": session["id"]})
    assert len(sidecar.notifications("session/update")) == count_at_answer
    again = await stored(sidecar, session["id"], result["assistantMessageId"])
    assert again["parts"][0]["text"] == stored_text


async def test_a_failing_runner_ends_the_turn_with_an_error_message(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar(
        "--runner", "tests.runners:FailingRunner", PYTHONPATH=str(REPO_ROOT)
    )
    session = await sidecar.call("session/create", {})
    result = await sidecar.call("session/prompt", {"sessionId": session["id"], "parts": text("go")})
    assert result["stopReason"] == "error"
    message = await stored(sidecar, session["id"], result["assistantMessageId"])
    assert message["status"] == "error"
    assert "the model went away" in message["error"]
    assert [p["type"] for p in message["parts"]] == ["reasoning", "text"]


async def test_runners_are_chosen_per_session(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar(
        "--runner-module", "failing=tests.runners:FailingRunner", PYTHONPATH=str(REPO_ROOT)
    )
    failing = await sidecar.call("session/create", {"runner": "failing"})
    echo = await sidecar.call("session/create", {})
    bad = await sidecar.call("session/prompt", {"sessionId": failing["id"], "parts": text("x")})
    good = await sidecar.call("session/prompt", {"sessionId": echo["id"], "parts": text("x")})
    assert (bad["stopReason"], good["stopReason"]) == ("error", "end_turn")
    for name in ("nope", "no_such_module:Runner", "tests.runners:FailingRunner"):
        failure = await sidecar.failure("session/create", {"runner": name})
        assert failure.code == errors.UNKNOWN_RUNNER and failure.kind == "unknown_runner"


async def test_kill_during_a_turn_leaves_an_idle_session_with_every_acknowledged_message(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "100")
    session = await sidecar.call("session/create", {})
    before = await sidecar.call(
        "session/prompt", {"sessionId": session["id"], "parts": text("done")}
    )
    update = first_update_of(sidecar, session["id"])
    sidecar.send("session/prompt", {"sessionId": session["id"], "parts": text(WORDS)})
    await update
    await sidecar.kill()
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": session["id"]})
    ids = [m["id"] for m in page["messages"]]
    assert ids[:2] == [before["userMessageId"], before["assistantMessageId"]]
    assert len(ids) == 3 and page["messages"][2]["role"] == "user"
    result = await restarted.call(
        "session/prompt", {"sessionId": session["id"], "parts": text("back")}
    )
    assert result["stopReason"] == "end_turn"


async def test_deleting_a_session_ends_its_running_turn(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "100")
    session = await sidecar.call("session/create", {})
    update = first_update_of(sidecar, session["id"])
    prompt = sidecar.send("session/prompt", {"sessionId": session["id"], "parts": text(WORDS)})
    await update
    deleted = await sidecar.call("session/delete", {"sessionId": session["id"]})
    assert deleted == {"deleted": [session["id"]]}
    result = await asyncio.wait_for(prompt, 5)
    assert result["stopReason"] == "aborted"
    gone = await sidecar.failure("session/get", {"sessionId": session["id"]})
    assert gone.code == errors.SESSION_NOT_FOUND


async def test_end_of_input_stores_running_turns_as_aborted(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "100")
    session = await sidecar.call("session/create", {})
    update = first_update_of(sidecar, session["id"])
    sidecar.send("session/prompt", {"sessionId": session["id"], "parts": text(WORDS)})
    await update
    await sidecar.close_stdin()
    assert await sidecar.wait_exit() == 0
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": session["id"]})
    assert [m["status"] for m in page["messages"]] == ["complete", "aborted"]
