"""A start after a clean exit answers the first list pages from the catalogue's head
while the rest loads; everything else waits for the load. Pages must be the same
either way."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from plue_sidecar import errors
from plue_sidecar.app import PENDING_REQUESTS_SECONDS
from plue_sidecar.core.opening import Opening, open_store
from tests.conftest import StartSidecar
from tests.harness.client import SidecarProcess
from tests.harness.in_process import core_at, storage_at
from tests.harness.raw import frame, request
from tests.harness.scripted import finish_script, start_script

HEAD_USED = "the catalogue's head answers the first list pages"


async def populate(sidecar: SidecarProcess, roots: int) -> None:
    for number in range(roots):
        root = await sidecar.call("session/create", {"title": f"root {number}"})
        child = await sidecar.call("session/create", {"parentId": root["id"]})
        if number % 3 == 0:
            await sidecar.call("session/updateTitle", {"sessionId": child["id"], "title": "x"})


async def pages(sidecar: SidecarProcess, **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following the cursors."""
    found = [await sidecar.call("session/list", params)]
    while found[-1]["nextCursor"] is not None:
        found.append(
            await sidecar.call("session/list", {**params, "cursor": found[-1]["nextCursor"]})
        )
    return found


async def test_after_a_clean_exit_the_first_pages_come_from_the_head_and_agree(
    start_sidecar: StartSidecar,
) -> None:
    first = await start_sidecar()
    await populate(first, 12)
    expected = {
        "all": await pages(first, limit=5),
        "roots": await pages(first, limit=4, rootsOnly=True),
        "big": await first.call("session/list", {"limit": 1000}),
    }
    assert await first.stop() == 0
    restarted = await start_sidecar("--log-level", "INFO")
    answered = await asyncio.gather(
        restarted.call("session/list", {"limit": 5}),
        restarted.call("session/list", {"limit": 4, "rootsOnly": True}),
        restarted.call("session/list", {"limit": 1000}),
    )
    assert list(answered) == [expected["all"][0], expected["roots"][0], expected["big"]]
    assert await pages(restarted, limit=5) == expected["all"]
    assert await pages(restarted, limit=4, rootsOnly=True) == expected["roots"]
    created = await restarted.call("session/create", {})
    assert (await restarted.call("session/list", {"limit": 1}))["sessions"] == [created]
    assert await restarted.stop() == 0
    assert HEAD_USED in await restarted.stderr_text()


async def test_after_a_kill_the_journal_is_replayed_and_the_head_is_not_used(
    start_sidecar: StartSidecar,
) -> None:
    first = await start_sidecar()
    await populate(first, 2)
    await first.stop()
    second = await start_sidecar()
    renamed = await second.call(
        "session/updateTitle",
        {
            "sessionId": (await second.call("session/list", {"limit": 1}))["sessions"][0]["id"],
            "title": "after the catalogue",
        },
    )
    await second.kill()
    third = await start_sidecar("--log-level", "INFO")
    assert (await third.call("session/list", {"limit": 1}))["sessions"] == [renamed]
    await third.stop()
    assert HEAD_USED not in await third.stderr_text()


async def test_requests_that_need_every_session_wait_for_the_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = core_at(data).sessions
    await service.open()
    made = [await service.create(parent_id=None, title=f"s{n}", runner=None) for n in range(3)]
    service.close()

    opening = Opening()
    storage = storage_at(data)
    reopened = core_at(data, storage, opening).sessions
    opening.head.set_result(storage.preview())
    await reopened.open(answer_early=True)
    page = await reopened.list_page(parent_id=None, roots_only=False, limit=2, cursor=None)
    assert [s["id"] for s in page["sessions"]] == [made[2].id, made[1].id]
    waiting = asyncio.ensure_future(reopened.ready())
    following = asyncio.ensure_future(
        reopened.list_page(parent_id=None, roots_only=False, limit=2, cursor=page["nextCursor"])
    )
    for _ in range(20):  # turns of the loop: nothing but the full load can end them
        await asyncio.sleep(0)
    assert not waiting.done() and not following.done()
    opening.full.set_result(open_store(storage))
    await waiting
    assert [s["id"] for s in (await following)["sessions"]] == [made[0].id]
    assert reopened.info(made[0].id)["title"] == "s0"
    reopened.close()


async def test_a_failed_load_behind_the_head_answers_storage_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = core_at(data).sessions
    await service.open()
    await service.create(parent_id=None, title="kept", runner=None)
    service.close()
    opening = Opening()
    storage = storage_at(data)
    reopened = core_at(data, storage, opening).sessions
    opening.head.set_result(storage.preview())
    await reopened.open(answer_early=True)
    opening.full.set_exception(PermissionError(13, "denied"))
    with pytest.raises(errors.RpcError) as raised:
        await reopened.ready()
    assert raised.value.kind == "storage_unavailable"
    assert raised.value.data["reason"] == "permission"
    reopened.close()


async def test_a_client_that_kills_the_sidecar_once_shutdown_is_answered_gets_a_fast_start(
    start_sidecar: StartSidecar,
) -> None:
    """Eglot sends `exit` and kills the process at once: everything a clean exit writes
    is written before `shutdown` is answered."""
    first = await start_sidecar()
    await populate(first, 3)
    expected = await first.call("session/list", {"limit": 50})
    assert await first.call("shutdown") is None
    await first.kill()
    restarted = await start_sidecar("--log-level", "INFO")
    assert await restarted.call("session/list", {"limit": 50}) == expected
    await restarted.stop()
    assert HEAD_USED in await restarted.stderr_text()


@pytest.mark.parametrize("early", [True, False], ids=["early answers", "full path"])
async def test_shutdown_and_exit_sent_with_requests_still_waiting_end_without_delay(
    start_sidecar: StartSidecar, data_dir: Path, early: bool
) -> None:
    """`shutdown` waits for the requests before it, never for itself: sent in one write
    with `exit` and a create that waits for the load, it used to wait 10 s for its own
    answer before the process could exit."""
    first = await start_sidecar()
    await populate(first, 3)
    assert await first.stop() == 0
    script = [
        request(1, "initialize", {}),
        request(2, "session/create", {}),
        request(3, "shutdown"),
        frame(b'{"jsonrpc":"2.0","method":"exit"}'),
    ]
    process = start_script(data_dir, script, *([] if early else ["--no-early-answers"]))
    bodies, _ = finish_script(process, timeout=PENDING_REQUESTS_SECONDS - 2)
    answers = {
        json.loads(body)["id"]: json.loads(body) for body in bodies if "id" in json.loads(body)
    }
    assert answers[3] == {"jsonrpc": "2.0", "id": 3, "result": None}
    assert answers[2]["result"]["title"] == "New Session"
    assert process.returncode == 0


async def test_shutdown_stores_a_running_turn_as_aborted_before_it_answers(
    start_sidecar: StartSidecar,
) -> None:
    sidecar = await start_sidecar("--echo-delay-ms", "50")
    session = await sidecar.call("session/create", {})
    prompt = sidecar.send(
        "session/prompt",
        {"sessionId": session["id"], "parts": [{"type": "text", "text": "a b c d e f g h"}]},
    )
    await sidecar.wait_for_notification(lambda method, _: method == "session/update")
    assert await sidecar.call("shutdown") is None
    assert (await prompt)["stopReason"] == "aborted"
    await sidecar.kill()
    restarted = await start_sidecar()
    messages = (await restarted.call("message/list", {"sessionId": session["id"]}))["messages"]
    assert [m["status"] for m in messages] == ["complete", "aborted"]


async def test_after_a_replayed_start_the_journal_is_checkpointed_without_an_exit(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    """The follow-up work a load leaves waits out the start, then runs by itself."""
    first = await start_sidecar()
    await populate(first, 2)
    await first.kill()
    assert list(data_dir.glob("sessions/journal-*.log"))
    restarted = await start_sidecar("--log-level", "INFO")
    listed = await restarted.call("session/list", {"limit": 50})
    await restarted.wait_for_stderr("checkpoint: ")
    assert await restarted.call("session/list", {"limit": 50}) == listed
    await restarted.kill()
    again = await start_sidecar("--log-level", "INFO")
    assert await again.call("session/list", {"limit": 50}) == listed
    await again.stop()


async def test_a_lost_catalogue_is_saved_again_soon_after_the_start(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    first = await start_sidecar()
    await populate(first, 2)
    assert await first.stop() == 0
    (data_dir / "catalogue.json").unlink()
    rebuilt = await start_sidecar("--log-level", "INFO")
    listed = await rebuilt.call("session/list", {"limit": 50})
    await rebuilt.wait_for_stderr("catalogue saved")
    await rebuilt.kill()  # no clean exit: only the catalogue saved after the start remains
    assert (data_dir / "catalogue.json").exists()
    again = await start_sidecar("--log-level", "INFO")
    assert await again.call("session/list", {"limit": 50}) == listed
    await again.stop()
    assert HEAD_USED in await again.stderr_text()
