"""A data directory moved, deleted or replaced under a running sidecar: the sidecar
stops writing (it never writes into a directory another sidecar holds), and a second
sidecar never shares the directory the first one holds."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from plue_sidecar import errors
from plue_sidecar.store.journal.journal import IDLE_SECONDS
from tests.conftest import StartSidecar
from tests.harness.client import SidecarProcess

TEXT = [{"type": "text", "text": "hello"}]


async def every_write_is_refused_as_replaced(sidecar: SidecarProcess, session_id: str) -> None:
    for method, params in [
        ("session/create", {}),
        ("session/updateTitle", {"sessionId": session_id, "title": "changed"}),
        ("message/append", {"sessionId": session_id, "role": "user", "parts": TEXT}),
        ("session/delete", {"sessionId": session_id}),
        ("session/create", {}),
    ]:
        failure = await sidecar.failure(method, params)
        assert (failure.code, failure.data["reason"]) == (
            errors.STORAGE_UNAVAILABLE,
            "data_dir_replaced",
        ), (method, failure)


@pytest.mark.parametrize("how", ["moved", "deleted", "deleted while the journal is idle"])
async def test_a_replaced_data_directory_is_never_written_through(
    start_sidecar: StartSidecar, data_dir: Path, tmp_path: Path, how: str
) -> None:
    first = await start_sidecar()
    kept = await first.call("session/create", {"title": "kept"})
    await first.call("message/append", {"sessionId": kept["id"], "role": "user", "parts": TEXT})
    kept = await first.call("session/get", {"sessionId": kept["id"]})
    if how.endswith("idle"):
        await asyncio.sleep(IDLE_SECONDS + 0.5)  # the journal's file closes until used again
    if how == "moved":
        data_dir.rename(tmp_path / "moved")
    else:
        shutil.rmtree(data_dir)
    data_dir.mkdir()
    second = await start_sidecar()
    theirs = await second.call("session/create", {"title": "the second sidecar's"})
    await every_write_is_refused_as_replaced(first, kept["id"])
    assert await first.call("session/get", {"sessionId": kept["id"]}) == kept
    await first.stop()
    await second.stop()
    third = await start_sidecar()
    page = await third.call("session/list", {})
    assert [s["id"] for s in page["sessions"]] == [theirs["id"]]
    await third.stop()
    if how == "moved":
        moved = await start_sidecar(directory=tmp_path / "moved")
        assert (await moved.call("session/get", {"sessionId": kept["id"]}))["messageCount"] == 1
        await moved.stop()


async def test_a_second_sidecar_is_refused_even_when_the_lock_file_was_deleted(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    first = await start_sidecar()
    (data_dir / "lock").unlink()
    second = await start_sidecar(initialize=False)
    failure = await second.failure("initialize", {"processId": None})
    assert (failure.code, failure.data["reason"]) == (errors.STORAGE_UNAVAILABLE, "locked")
    await first.call("session/create", {})
    await first.stop()
