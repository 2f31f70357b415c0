"""Message history end to end: append, list, get, fork."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from plue_sidecar import errors
from tests.conftest import StartSidecar
from tests.harness.client import SidecarProcess

ALL_PARTS: list[dict[str, Any]] = [
    {"type": "text", "text": "héllo wörld 🌍"},
    {"type": "reasoning", "text": "because"},
    {"type": "toolCall", "callId": "call-1", "name": "read_file", "input": {"path": "a.py"}},
    {"type": "toolResult", "callId": "call-1", "output": ["line 1"], "isError": False},
    {"type": "file", "uri": "file:///a.py", "mimeType": "text/x-python"},
]


def text(value: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": value}]


async def append(sidecar: SidecarProcess, session_id: str, value: str, role: str = "user") -> Any:
    return await sidecar.call(
        "message/append", {"sessionId": session_id, "role": role, "parts": text(value)}
    )


async def texts(sidecar: SidecarProcess, session_id: str) -> list[str]:
    page = await sidecar.call("message/list", {"sessionId": session_id, "limit": 1000})
    return [m["parts"][0]["text"] for m in page["messages"]]


async def test_append_stores_every_part_type_exactly(sidecar: SidecarProcess) -> None:
    session = await sidecar.call("session/create", {})
    message = await sidecar.call(
        "message/append", {"sessionId": session["id"], "role": "assistant", "parts": ALL_PARTS}
    )
    assert message["parts"] == ALL_PARTS
    assert message["seq"] == 1 and message["status"] == "complete"
    assert message["sessionId"] == session["id"] and message["error"] is None
    got = await sidecar.call(
        "message/get", {"sessionId": session["id"], "messageId": message["id"]}
    )
    assert got == message


async def test_append_moves_count_and_updated_at_and_announces_each_change(
    sidecar: SidecarProcess,
) -> None:
    session = await sidecar.call("session/create", {})
    for index in range(3):
        await append(sidecar, session["id"], f"m{index}")
    info = await sidecar.call("session/get", {"sessionId": session["id"]})
    assert info["messageCount"] == 3
    assert info["updatedAt"] >= session["updatedAt"]
    updates = [
        p["session"]["messageCount"]
        for p in sidecar.notifications("session/didChange")
        if p["change"] == "updated" and p["sessionId"] == session["id"]
    ]
    assert updates == [1, 2, 3]


async def test_bad_messages_are_invalid_params_naming_the_field(sidecar: SidecarProcess) -> None:
    session = await sidecar.call("session/create", {})
    cases = [
        ({"role": "user", "parts": [{"type": "video", "url": "x"}]}, "parts.0"),
        ({"role": "user", "parts": []}, "parts"),
        ({"role": "robot", "parts": text("x")}, "role"),
        ({"role": "user", "parts": [{"type": "text"}]}, "parts.0.text.text"),
    ]
    for params, field in cases:
        failure = await sidecar.failure("message/append", {"sessionId": session["id"], **params})
        assert failure.code == errors.INVALID_PARAMS
        assert failure.data["field"].startswith(field.split(".")[0]), failure.data
    assert (await sidecar.call("session/get", {"sessionId": session["id"]}))["messageCount"] == 0


async def test_list_pages_in_seq_order(sidecar: SidecarProcess) -> None:
    session = await sidecar.call("session/create", {})
    for index in range(7):
        await append(sidecar, session["id"], f"m{index}")
    seen: list[int] = []
    after = 0
    while True:
        page = await sidecar.call(
            "message/list", {"sessionId": session["id"], "afterSeq": after, "limit": 3}
        )
        seen += [m["seq"] for m in page["messages"]]
        if page["nextAfterSeq"] is None:
            break
        after = page["nextAfterSeq"]
    assert seen == list(range(1, 8))
    beyond = await sidecar.call("message/list", {"sessionId": session["id"], "afterSeq": 50})
    assert beyond == {"messages": [], "nextAfterSeq": None}
    for bad in [{"limit": 0}, {"limit": 1001}, {"afterSeq": -1}]:
        failure = await sidecar.failure("message/list", {"sessionId": session["id"], **bad})
        assert failure.code == errors.INVALID_PARAMS


async def test_unknown_messages_and_sessions_are_named_errors(sidecar: SidecarProcess) -> None:
    session = await sidecar.call("session/create", {})
    failure = await sidecar.failure(
        "message/get", {"sessionId": session["id"], "messageId": "msg_nope"}
    )
    assert failure.code == errors.MESSAGE_NOT_FOUND and failure.kind == "message_not_found"
    for method in ("message/list", "message/append"):
        failure = await sidecar.failure(
            method, {"sessionId": "session_1234567890123", "role": "user", "parts": text("x")}
        )
        assert failure.code == errors.SESSION_NOT_FOUND


async def test_a_message_over_the_size_limit_is_refused_and_nothing_is_stored(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar("--max-message-bytes", "2000")
    session = await sidecar.call("session/create", {})
    failure = await sidecar.failure(
        "message/append", {"sessionId": session["id"], "role": "user", "parts": text("x" * 5000)}
    )
    assert failure.code == errors.INVALID_REQUEST
    assert failure.kind == "payload_too_large"
    assert await texts(sidecar, session["id"]) == []
    await append(sidecar, session["id"], "small")
    assert await texts(sidecar, session["id"]) == ["small"]


async def test_fork_at_first_middle_last_and_whole_copies_history_with_new_ids(
    sidecar: SidecarProcess,
) -> None:
    source = await sidecar.call("session/create", {"title": "source"})
    call = {"type": "toolCall", "callId": "c1", "name": "run", "input": {}}
    result = {"type": "toolResult", "callId": "c1", "output": "ok", "isError": False}
    messages = [
        await append(sidecar, source["id"], "one"),
        await sidecar.call(
            "message/append", {"sessionId": source["id"], "role": "assistant", "parts": [call]}
        ),
        await sidecar.call(
            "message/append", {"sessionId": source["id"], "role": "user", "parts": [result]}
        ),
        await append(sidecar, source["id"], "four"),
    ]
    for cut, expected in [(messages[0], 1), (messages[2], 3), (messages[3], 4), (None, 4)]:
        params = {"sessionId": source["id"]}
        if cut is not None:
            params["messageId"] = cut["id"]
        fork = await sidecar.call("session/fork", params)
        assert fork["parentId"] == source["id"]
        assert fork["title"] == "source (fork)"
        assert fork["messageCount"] == expected
        copied = (await sidecar.call("message/list", {"sessionId": fork["id"]}))["messages"]
        assert [m["seq"] for m in copied] == list(range(1, expected + 1))
        assert [m["parts"] for m in copied] == [m["parts"] for m in messages[:expected]]
        assert {m["id"] for m in copied}.isdisjoint({m["id"] for m in messages})
        assert all(m["sessionId"] == fork["id"] for m in copied)
    titled = await sidecar.call("session/fork", {"sessionId": source["id"], "title": "mine"})
    assert titled["title"] == "mine"
    missing = await sidecar.failure(
        "session/fork", {"sessionId": source["id"], "messageId": "msg_nope"}
    )
    assert missing.code == errors.MESSAGE_NOT_FOUND


async def test_forked_sessions_diverge_without_affecting_each_other(
    sidecar: SidecarProcess,
) -> None:
    source = await sidecar.call("session/create", {"title": "t" * 200})
    first = await append(sidecar, source["id"], "shared")
    await append(sidecar, source["id"], "later")
    fork = await sidecar.call("session/fork", {"sessionId": source["id"], "messageId": first["id"]})
    assert len(fork["title"]) == 200 and fork["title"].endswith(" (fork)")
    await append(sidecar, fork["id"], "only in fork")
    await append(sidecar, source["id"], "only in source")
    assert await texts(sidecar, source["id"]) == ["shared", "later", "only in source"]
    assert await texts(sidecar, fork["id"]) == ["shared", "only in fork"]


async def test_a_ten_thousand_message_session_appends_and_lists_correctly(
    sidecar: SidecarProcess,
) -> None:
    session = await sidecar.call("session/create", {})
    for batch in range(20):
        await asyncio.gather(
            *(
                sidecar.send(
                    "message/append",
                    {"sessionId": session["id"], "role": "user", "parts": text(f"{batch}-{i}")},
                )
                for i in range(500)
            )
        )
    info = await sidecar.call("session/get", {"sessionId": session["id"]})
    assert info["messageCount"] == 10_000
    seqs: list[int] = []
    after = 0
    while after is not None:
        page = await sidecar.call(
            "message/list", {"sessionId": session["id"], "afterSeq": after, "limit": 1000}
        )
        seqs += [m["seq"] for m in page["messages"]]
        after = page["nextAfterSeq"]
    assert seqs == list(range(1, 10_001))
    last = await append(sidecar, session["id"], "the 10,001st")
    assert last["seq"] == 10_001


async def test_delete_removes_message_logs(sidecar: SidecarProcess, data_dir: Path) -> None:
    parent = await sidecar.call("session/create", {})
    child = await sidecar.call("session/create", {"parentId": parent["id"]})
    for session in (parent, child):
        await append(sidecar, session["id"], "x")
    assert len(list(data_dir.rglob("*.messages.jsonl"))) == 2
    await sidecar.call("session/delete", {"sessionId": parent["id"]})
    assert list(data_dir.rglob("*.messages.jsonl")) == []


async def test_history_survives_a_restart(start_sidecar: StartSidecar) -> None:
    first = await start_sidecar()
    session = await first.call("session/create", {})
    for value in ("a", "b", "c"):
        await append(first, session["id"], value)
    await first.kill()
    second = await start_sidecar()
    assert await texts(second, session["id"]) == ["a", "b", "c"]
    assert (await append(second, session["id"], "d"))["seq"] == 4


async def test_message_pages_are_bounded_by_bytes_as_well_as_by_count(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    """With `--max-message-bytes` 1 MiB, six 400 KB messages come two a page (whose
    frames stay near the limit), before and after a restart (log sizes as read back)."""
    limit = 1 << 20
    sidecar = await start_sidecar("--max-message-bytes", str(limit))
    session = (await sidecar.call("session/create", {}))["id"]
    for index in range(6):
        await sidecar.call(
            "message/append",
            {"sessionId": session, "role": "user", "parts": text(f"{index}" * 400_000)},
        )
    for round_ in ("live", "restarted"):
        pages: list[list[int]] = []
        after: int | None = 0
        while after is not None:
            page = await sidecar.call(
                "message/list", {"sessionId": session, "afterSeq": after, "limit": 1000}
            )
            pages.append([m["seq"] for m in page["messages"]])
            after = page["nextAfterSeq"]
        assert pages == [[1, 2], [3, 4], [5, 6]], round_
        await sidecar.stop()
        sidecar = await start_sidecar("--max-message-bytes", str(limit))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_histories_held_in_memory_are_bounded_by_bytes_and_read_back_on_demand(
    start_sidecar: StartSidecar,
) -> None:
    """30 MB of messages across 15 sessions, with 2 MiB of histories kept: memory stays
    far below what was written, and every history reads back whole. Once the start is
    over, glibc gives freed large blocks back to the system (`core.large_blocks`)."""
    sidecar = await start_sidecar("--history-cache-bytes", str(2 << 20), "--log-level", "INFO")
    await sidecar.wait_for_stderr("freed large blocks now go back to the system")
    sessions = [(await sidecar.call("session/create", {}))["id"] for _ in range(15)]
    before = rss_bytes(sidecar.process.pid)
    for round_ in range(2):
        for index, session in enumerate(sessions):
            body = f"{round_}-{index}-" + "x" * 1_000_000
            await sidecar.call(
                "message/append", {"sessionId": session, "role": "user", "parts": text(body)}
            )
    grown = rss_bytes(sidecar.process.pid) - before
    assert grown < 15_000_000, grown
    for index, session in enumerate(sessions):
        page = await sidecar.call("message/list", {"sessionId": session})
        assert [m["parts"][0]["text"] for m in page["messages"]] == [
            f"{round_}-{index}-" + "x" * 1_000_000 for round_ in range(2)
        ]
        appended = await sidecar.call(
            "message/append", {"sessionId": session, "role": "user", "parts": text("z")}
        )
        assert appended["seq"] == 3
