"""A client that stops reading never makes the sidecar buffer without bound: a streaming
turn waits for it, and nothing is lost once it reads again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.harness.raw import RawSidecar, request

WORDS = 60_000
BOUND = 256 * 1024
PAUSED = b"the client is not reading its output; the turn waits for it"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def wait_for_stderr(sidecar: RawSidecar, text: bytes, seen: bytearray) -> None:
    stream = sidecar.process.stderr
    assert stream is not None
    while text not in seen:
        chunk = await stream.read(65536)
        if not chunk:
            raise AssertionError(f"the sidecar exited without logging {text!r}")
        seen += chunk


async def test_a_turn_waits_for_a_client_that_does_not_read_and_loses_nothing(
    tmp_path: Path,
) -> None:
    sidecar = await RawSidecar.start(tmp_path / "data", "--max-pending-output-bytes", str(BOUND))
    await sidecar.initialize()
    session = (await sidecar.ask(1, "session/create", {}))["result"]["id"]
    idle = rss_bytes(sidecar.process.pid)
    text = " ".join(f"w{n}" for n in range(WORDS))
    # Stop reading stdout: every update (about 150 bytes each, 9 MB in all) piles up.
    await sidecar.write(
        request(
            2, "session/prompt", {"sessionId": session, "parts": [{"type": "text", "text": text}]}
        )
    )
    log = bytearray()
    await asyncio.wait_for(wait_for_stderr(sidecar, PAUSED, log), 30)
    held = rss_bytes(sidecar.process.pid)
    assert held - idle < 4 * BOUND + 8 * 1024 * 1024, (idle, held)

    deltas: list[str] = []
    while True:
        _, message = await sidecar.read_frame()
        if message.get("method") == "session/update":
            deltas.append(message["params"]["delta"]["text"])
        elif message.get("id") == 2:
            break
    assert message["result"]["stopReason"] == "end_turn"
    stored = await sidecar.ask(
        3,
        "message/get",
        {"sessionId": session, "messageId": message["result"]["assistantMessageId"]},
    )
    assert "".join(deltas) == stored["result"]["parts"][0]["text"] == text
    assert await sidecar.close() == 0
