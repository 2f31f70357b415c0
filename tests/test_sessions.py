"""The session API end to end: every method's success and failure paths."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest
from pygls.exceptions import JsonRpcException

from plue_sidecar import errors
from plue_sidecar.store.files.layout import Layout, journal_path
from tests.conftest import StartSidecar
from tests.faults.capabilities import require, strace_problem
from tests.faults.traced import held_syncs, kill_sidecar, start_with_held_fsync, sync_held
from tests.harness.client import WAIT_SECONDS, SidecarProcess
from tests.harness.doctor import doctor

SESSION_ID = re.compile(r"^session_[0-9]{13,}$")
HELD_SECONDS = 5
"""How long a held journal sync waits: the requests sent meanwhile all reach it."""
TEXT = [{"type": "text", "text": "hello"}]


def session_files(data_dir: Path, session_id: str) -> list[Path]:
    return list((data_dir / "sessions").rglob(f"{session_id}*"))


async def test_create_gives_a_new_root_session_with_defaults(sidecar: SidecarProcess) -> None:
    info = await sidecar.call("session/create", {})
    assert SESSION_ID.match(info["id"])
    assert info["title"] == "New Session"
    assert info["parentId"] is None
    assert info["messageCount"] == 0
    assert info["isAborted"] is False and info["abortedAt"] is None
    assert info["share"] is None
    assert info["createdAt"] == info["updatedAt"]


async def test_create_is_announced_after_it_is_durable(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {"title": "  Fix the build  "})
    assert info["title"] == "Fix the build"
    change = await sidecar.wait_for_notification(
        lambda m, p: m == "session/didChange" and p["sessionId"] == info["id"]
    )
    assert change == {"change": "created", "sessionId": info["id"], "session": info}
    await sidecar.kill()
    restarted = await start_sidecar()
    assert await restarted.call("session/get", {"sessionId": info["id"]}) == info


async def test_create_under_a_missing_parent_is_parent_not_found(sidecar: SidecarProcess) -> None:
    failure = await sidecar.failure("session/create", {"parentId": "session_1000000000000"})
    assert failure.code == errors.PARENT_NOT_FOUND
    assert failure.kind == "parent_not_found"


async def test_create_under_a_parent_deleted_while_it_waits_is_parent_not_found(
    start_sidecar: StartSidecar, data_dir: Path, tmp_path: Path
) -> None:
    """The create waits for the parent's lock, which the delete holds while its journal
    sync is held back; the delete goes through, so the parent is not found."""
    require(strace_problem())
    first = await start_sidecar()
    parent = await first.call("session/create", {"title": "parent"})
    await first.stop()  # a clean exit: the journal is empty, the next one is generation 1
    journal = journal_path(Layout(data_dir).sessions_dir, 1)
    trace_log = tmp_path / "strace.log"
    sidecar = await start_with_held_fsync(data_dir, [journal], "1", HELD_SECONDS, trace_log)
    try:
        await sidecar.until_loaded()
        deleting = sidecar.send("session/delete", {"sessionId": parent["id"]})
        await sync_held(sidecar)  # the delete's record: it holds the parent's lock
        creating = sidecar.send("session/create", {"parentId": parent["id"], "title": "child"})
        # Answered once the create waits for the lock, and before the delete is applied.
        assert await sidecar.call("session/get", {"sessionId": parent["id"]}) == parent
        await asyncio.wait_for(deleting, HELD_SECONDS + WAIT_SECONDS)
        with pytest.raises(JsonRpcException) as raised:
            await asyncio.wait_for(creating, WAIT_SECONDS)
    finally:
        await kill_sidecar(sidecar)
    assert held_syncs(trace_log), "the delete's sync was not held back"
    assert raised.value.code == errors.PARENT_NOT_FOUND
    assert raised.value.data == {"kind": "parent_not_found", "parentId": parent["id"]}


@pytest.mark.parametrize(
    "bad_id",
    [
        "../../etc/passwd",
        "session_../../x",
        "session_123",
        "session_12345678901234/..",
        "session_1234567890123/",
        "/tmp/session_1234567890123",
        "session_1234567890123\n",
        "",
        17,
    ],
)
async def test_ids_that_are_not_session_ids_are_invalid_params_and_touch_no_file(
    sidecar: SidecarProcess, data_dir: Path, bad_id: object
) -> None:
    await sidecar.call("session/list", {"cursor": "0.0"})  # waits until the load is done
    before = paths_but_the_reserve(data_dir)
    failure = await sidecar.failure("session/get", {"sessionId": bad_id})
    assert failure.code == errors.INVALID_PARAMS
    assert failure.data["field"] == "sessionId"
    failure = await sidecar.failure("session/delete", {"sessionId": bad_id})
    assert failure.code == errors.INVALID_PARAMS
    assert paths_but_the_reserve(data_dir) == before


async def test_a_file_named_like_a_session_s_but_for_a_newline_is_a_stray_file(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    """`session_<ms>\\n.json` names no session (nor does such a `.messages.jsonl`): in a
    month's directory it is what any stray file is there, neither loaded, moved to
    quarantine, nor removed, and `doctor` finds nothing wrong with it."""
    first = await start_sidecar()
    real = await first.call("session/create", {"title": "real"})
    await first.call("message/append", {"sessionId": real["id"], "role": "user", "parts": TEXT})
    await first.stop()
    (document,) = session_files(data_dir, f"{real['id']}.json")
    (log,) = session_files(data_dir, f"{real['id']}.messages.jsonl")
    lookalike = f"session_{int(real['id'].removeprefix('session_')) + 1}\n"
    as_document = orjson.dumps({**orjson.loads(document.read_bytes()), "id": lookalike})
    strays = {
        document.with_name(f"{lookalike}.json"): as_document,
        document.with_name(f"{lookalike}.messages.jsonl"): log.read_bytes(),
        document.with_name("notes.json"): as_document,
        document.with_name("notes.messages.jsonl"): log.read_bytes(),
    }
    for path, data in strays.items():
        path.write_bytes(data)
    second = await start_sidecar()
    await second.until_loaded()
    page = await second.call("session/list", {})
    assert [s["id"] for s in page["sessions"]] == [real["id"]]
    await second.stop()
    assert {path: path.read_bytes() for path in strays} == strays
    assert not (data_dir / "quarantine").exists()
    assert doctor(data_dir) == (0, "1 sessions, no problems\n")


def paths_but_the_reserve(data_dir: Path) -> list[str]:
    """Every path but the space reserve, which the sidecar sets aside in the background."""
    return sorted(str(p) for p in data_dir.rglob("*") if "reserve" not in p.name)


async def test_missing_params_name_the_missing_field(sidecar: SidecarProcess) -> None:
    failure = await sidecar.failure("session/updateTitle", {"sessionId": "session_1234567890123"})
    assert failure.code == errors.INVALID_PARAMS
    assert failure.data["field"] == "title"
    assert "title" in failure.message


async def test_thousand_creates_give_distinct_strictly_increasing_ids(
    sidecar: SidecarProcess,
) -> None:
    results = await asyncio.gather(*(sidecar.send("session/create", {}) for _ in range(1000)))
    numbers = [int(r["id"].removeprefix("session_")) for r in results]
    assert len(set(numbers)) == 1000
    assert numbers == sorted(numbers)


async def test_get_of_unknown_session_is_session_not_found(sidecar: SidecarProcess) -> None:
    failure = await sidecar.failure("session/get", {"sessionId": "session_1234567890123"})
    assert failure.code == errors.SESSION_NOT_FOUND
    assert failure.data == {"kind": "session_not_found", "sessionId": "session_1234567890123"}


async def test_update_title_trims_checks_length_and_moves_updated_at(
    sidecar: SidecarProcess,
) -> None:
    info = await sidecar.call("session/create", {"title": "old"})
    updated = await sidecar.call(
        "session/updateTitle", {"sessionId": info["id"], "title": "  new title "}
    )
    assert updated["title"] == "new title"
    assert updated["updatedAt"] >= info["updatedAt"]
    for bad in ["", "   ", "x" * 201]:
        failure = await sidecar.failure(
            "session/updateTitle", {"sessionId": info["id"], "title": bad}
        )
        assert failure.code == errors.INVALID_PARAMS
        assert failure.data["field"] == "title"
    assert (await sidecar.call("session/get", {"sessionId": info["id"]}))["title"] == "new title"
    long_ok = await sidecar.call(
        "session/updateTitle", {"sessionId": info["id"], "title": "y" * 200}
    )
    assert long_ok["title"] == "y" * 200
    missing = await sidecar.failure(
        "session/updateTitle", {"sessionId": "session_1234567890123", "title": "t"}
    )
    assert missing.code == errors.SESSION_NOT_FOUND


async def test_branching_three_levels_deep_and_listing_children(sidecar: SidecarProcess) -> None:
    root = await sidecar.call("session/create", {"title": "root"})
    child = await sidecar.call("session/create", {"parentId": root["id"], "title": "child"})
    grandchild = await sidecar.call("session/create", {"parentId": child["id"]})
    great = await sidecar.call("session/create", {"parentId": grandchild["id"]})
    assert great["parentId"] == grandchild["id"]
    children = await sidecar.call("session/list", {"parentId": root["id"]})
    assert [s["id"] for s in children["sessions"]] == [child["id"]]
    roots = await sidecar.call("session/list", {"rootsOnly": True})
    assert [s["id"] for s in roots["sessions"]] == [root["id"]]
    everything = await sidecar.call("session/list", {})
    assert len(everything["sessions"]) == 4
    missing = await sidecar.failure("session/list", {"parentId": "session_1234567890123"})
    assert missing.code == errors.SESSION_NOT_FOUND


async def test_delete_cascades_to_descendants_and_their_files_but_spares_siblings(
    sidecar: SidecarProcess, data_dir: Path
) -> None:
    root = await sidecar.call("session/create", {})
    doomed = await sidecar.call("session/create", {"parentId": root["id"]})
    sibling = await sidecar.call("session/create", {"parentId": root["id"]})
    grandchild = await sidecar.call("session/create", {"parentId": doomed["id"]})
    await sidecar.call(
        "message/append",
        {
            "sessionId": grandchild["id"],
            "role": "user",
            "parts": [{"type": "text", "text": "x"}],
        },
    )
    assert session_files(data_dir, grandchild["id"])
    result = await sidecar.call("session/delete", {"sessionId": doomed["id"]})
    assert result == {"deleted": [grandchild["id"], doomed["id"]]}
    for gone in (doomed, grandchild):
        assert session_files(data_dir, gone["id"]) == []
        failure = await sidecar.failure("session/get", {"sessionId": gone["id"]})
        assert failure.code == errors.SESSION_NOT_FOUND
    assert (await sidecar.call("session/get", {"sessionId": sibling["id"]}))["id"] == sibling["id"]
    children = await sidecar.call("session/list", {"parentId": root["id"]})
    assert [s["id"] for s in children["sessions"]] == [sibling["id"]]
    deleted = [
        p["sessionId"]
        for p in sidecar.notifications("session/didChange")
        if p["change"] == "deleted"
    ]
    assert deleted == [grandchild["id"], doomed["id"]]
    again = await sidecar.failure("session/delete", {"sessionId": doomed["id"]})
    assert again.code == errors.SESSION_NOT_FOUND


async def test_ids_are_never_reused_after_delete_and_restart(
    start_sidecar: StartSidecar,
) -> None:
    first = await start_sidecar()
    newest = await first.call("session/create", {})
    await first.call("session/delete", {"sessionId": newest["id"]})
    assert await first.stop() == 0
    second = await start_sidecar()
    fresh = await second.call("session/create", {})
    assert int(fresh["id"][8:]) > int(newest["id"][8:])


async def test_pagination_across_250_sessions_with_writes_between_pages(
    sidecar: SidecarProcess,
) -> None:
    created = await asyncio.gather(*(sidecar.send("session/create", {}) for _ in range(250)))
    seen: list[str] = []
    cursor = None
    touched = False
    while True:
        params: dict[str, object] = {"limit": 40}
        if cursor is not None:
            params["cursor"] = cursor
        page = await sidecar.call("session/list", params)
        seen.extend(s["id"] for s in page["sessions"])
        if not touched and cursor is not None:
            # A page already seen changes, and new sessions arrive, between pages.
            await sidecar.call("session/updateTitle", {"sessionId": seen[0], "title": "moved"})
            await sidecar.call("session/create", {})
            touched = True
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == {s["id"] for s in created}


async def test_list_is_newest_updated_first_and_limits_are_checked(
    sidecar: SidecarProcess,
) -> None:
    a = await sidecar.call("session/create", {"title": "a"})
    b = await sidecar.call("session/create", {"title": "b"})
    await sidecar.call("session/updateTitle", {"sessionId": a["id"], "title": "a2"})
    page = await sidecar.call("session/list", {"limit": 1})
    assert [s["id"] for s in page["sessions"]] == [a["id"]]
    page = await sidecar.call("session/list", {"limit": 1, "cursor": page["nextCursor"]})
    assert [s["id"] for s in page["sessions"]] == [b["id"]]
    assert page["nextCursor"] is None
    for bad in [{"limit": 0}, {"limit": 1001}, {"cursor": "nonsense"}]:
        failure = await sidecar.failure("session/list", bad)
        assert failure.code == errors.INVALID_PARAMS


async def test_restart_shows_exactly_what_was_acknowledged(start_sidecar: StartSidecar) -> None:
    first = await start_sidecar()
    root = await first.call("session/create", {"title": "keep"})
    child = await first.call("session/create", {"parentId": root["id"]})
    await first.call("session/updateTitle", {"sessionId": child["id"], "title": "renamed"})
    await first.call("session/share", {"sessionId": root["id"]})
    before = await first.call("session/list", {})
    await first.kill()
    second = await start_sidecar()
    assert await second.call("session/list", {}) == before


async def test_abort_without_running_work_marks_persists_and_notifies(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {})
    result = await sidecar.call("session/abort", {"sessionId": info["id"]})
    assert result == {"sessionId": info["id"], "cancelled": 0}
    change = await sidecar.wait_for_notification(
        lambda m, p: m == "session/didChange" and p["change"] == "aborted"
    )
    assert change["session"]["isAborted"] is True
    assert change["session"]["abortedAt"] is not None
    await sidecar.kill()
    restarted = await start_sidecar()
    after = await restarted.call("session/get", {"sessionId": info["id"]})
    assert after["isAborted"] is True
    assert after["abortedAt"] == change["session"]["abortedAt"]
    missing = await restarted.failure("session/abort", {"sessionId": "session_1234567890123"})
    assert missing.code == errors.SESSION_NOT_FOUND


async def test_close_releases_history_and_a_later_call_reloads_it(
    sidecar: SidecarProcess,
) -> None:
    info = await sidecar.call("session/create", {})
    await sidecar.call(
        "message/append",
        {
            "sessionId": info["id"],
            "role": "user",
            "parts": [{"type": "text", "text": "kept"}],
        },
    )
    assert await sidecar.call("session/close", {"sessionId": info["id"]}) == {"closed": True}
    page = await sidecar.call("message/list", {"sessionId": info["id"]})
    assert [m["parts"][0]["text"] for m in page["messages"]] == ["kept"]
    missing = await sidecar.failure("session/close", {"sessionId": "session_1234567890123"})
    assert missing.code == errors.SESSION_NOT_FOUND


async def test_a_second_sidecar_on_the_same_data_dir_is_refused_naming_the_holder(
    start_sidecar: StartSidecar,
) -> None:
    first = await start_sidecar()
    second = await start_sidecar(initialize=False)
    failure = await second.failure("initialize", {"processId": None})
    assert failure.code == errors.STORAGE_UNAVAILABLE
    assert failure.data["reason"] == "locked"
    assert failure.data["holderPid"] == first.process.pid
    assert str(first.process.pid) in failure.message
    await first.kill()
    await second.initialize()
    assert (await second.call("session/list", {}))["sessions"] == []
