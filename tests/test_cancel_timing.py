"""`$/cancelRequest` on a prompt acts as `session/abort` at every moment of the prompt."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from plue_sidecar import errors
from tests.harness.raw import RawSidecar, frame, request

WORDS = " ".join(f"w{n}" for n in range(40))


def cancel(msg_id: int) -> bytes:
    body = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg_id}}
    return frame(json.dumps(body).encode())


async def test_a_cancel_at_any_moment_of_a_prompt_aborts_it_or_stores_nothing(
    tmp_path: Path,
) -> None:
    # Each turn takes over 0.8 s (40 words, 20 ms apart): every cancel below comes early.
    sidecar = await RawSidecar.start(tmp_path / "data", "--echo-delay-ms", "20")
    await sidecar.initialize()
    delays_ms = [0.0, 0.0, *(0.25 * step for step in range(1, 24))]
    for msg_id, delay_ms in enumerate(delays_ms, start=1):
        session = (await sidecar.ask(f"c{msg_id}", "session/create", {}))["result"]["id"]
        prompt = request(
            msg_id,
            "session/prompt",
            {"sessionId": session, "parts": [{"type": "text", "text": WORDS}]},
        )
        if delay_ms == 0:
            await sidecar.write(prompt + cancel(msg_id))
        else:
            await sidecar.write(prompt)
            await asyncio.sleep(delay_ms / 1000)  # where the cancel lands, not a wait
            await sidecar.write(cancel(msg_id))
        answer = await sidecar.response()
        assert answer["id"] == msg_id
        stored = (await sidecar.ask(f"l{msg_id}", "message/list", {"sessionId": session}))[
            "result"
        ]["messages"]
        if "error" in answer:
            assert answer["error"]["code"] == errors.REQUEST_CANCELLED, (delay_ms, answer)
            assert stored == [], (delay_ms, stored)
        else:
            assert answer["result"]["stopReason"] == "aborted", (delay_ms, answer)
            assert [m["role"] for m in stored] == ["user", "assistant"]
            assert stored[1]["status"] == "aborted"
    assert await sidecar.close() == 0
