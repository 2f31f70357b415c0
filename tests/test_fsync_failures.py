"""Failed fsyncs under a real sidecar (injected with strace), then kill -9 and a restart.

Each test fails the fsync of one thing the store syncs (the journal file, the journal's
directory, a month directory, a message log) and checks what a client sees: every
change answered with an error is absent after the restart, every acknowledged change
present. The strace log also shows whether what a failed sync covered was synced
afresh before a later change was acknowledged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from plue_sidecar import errors
from plue_sidecar.store.files.layout import Layout
from tests.conftest import StartSidecar
from tests.faults.capabilities import require, strace_problem
from tests.faults.traced import (
    injected_failures,
    kill_sidecar,
    start_with_failing_fsync,
    synced_after_failure,
)
from tests.harness.client import RpcError, SidecarProcess

TEXT = [{"type": "text", "text": "hello"}]
StartTraced = Callable[[list[Path], str], Awaitable[SidecarProcess]]


@pytest.fixture
async def start_traced(data_dir: Path, tmp_path: Path) -> AsyncIterator[StartTraced]:
    """Start a sidecar under strace failing the fsyncs of `paths` as `when` says."""
    require(strace_problem())
    started: list[SidecarProcess] = []

    async def start(paths: list[Path], when: str) -> SidecarProcess:
        sidecar = await start_with_failing_fsync(data_dir, paths, when, trace_log(tmp_path))
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        if sidecar.process.returncode is None:
            await kill_sidecar(sidecar)


def trace_log(tmp_path: Path) -> Path:
    return tmp_path / "strace.log"


async def prepared(start_sidecar: StartSidecar, *titles: str) -> list[dict[str, Any]]:
    """Sessions made by a sidecar that then stops cleanly (the journal is empty after)."""
    sidecar = await start_sidecar()
    made = [await sidecar.call("session/create", {"title": title}) for title in titles]
    await sidecar.stop()
    return made


async def titles_after_restart(start_sidecar: StartSidecar) -> dict[str, str]:
    restarted = await start_sidecar()
    page = await restarted.call("session/list", {"limit": 1000})
    return {session["id"]: session["title"] for session in page["sessions"]}


def assert_io_failure(failure: RpcError) -> None:
    assert failure.code == errors.STORAGE_UNAVAILABLE, failure
    assert failure.data["reason"] == "io", failure


async def appended_once_refused(
    sidecar: SidecarProcess, session_id: str, refused: int = 0
) -> dict[str, Any]:
    """Append until one is acknowledged; the first attempt must be refused. strace counts
    fsyncs per thread, so each of the sidecar's store threads meets its own first
    failure: every refused attempt is one more change that must stay absent."""
    for attempt in range(40):
        params = {
            "sessionId": session_id,
            "role": "user",
            "parts": [{"type": "text", "text": f"attempt {attempt}"}],
        }
        try:
            message: dict[str, Any] = await sidecar.call("message/append", params)
        except RpcError as failure:
            assert_io_failure(failure)
            refused += 1
            continue
        assert refused, "the injected failure never happened"
        return message
    raise AssertionError("no append was acknowledged")


async def test_a_create_whose_journal_directory_sync_fails_is_absent_after_kill_9(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path
) -> None:
    (kept,) = await prepared(start_sidecar, "kept")
    sidecar = await start_traced([data_dir / "sessions"], "1")
    failure = await sidecar.failure("session/create", {"title": "refused"})
    assert_io_failure(failure)
    acked = await sidecar.call("session/create", {"title": "acked"})
    await kill_sidecar(sidecar)
    assert await titles_after_restart(start_sidecar) == {kept["id"]: "kept", acked["id"]: "acked"}
    assert failure.data["sessionId"] not in {kept["id"], acked["id"]}


async def test_a_title_whose_journal_directory_sync_fails_is_absent_after_kill_9(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path
) -> None:
    first, second = await prepared(start_sidecar, "first", "second")
    sidecar = await start_traced([data_dir / "sessions"], "1")
    assert_io_failure(
        await sidecar.failure("session/updateTitle", {"sessionId": first["id"], "title": "refused"})
    )
    assert (await sidecar.call("session/get", {"sessionId": first["id"]}))["title"] == "first"
    await sidecar.call("session/updateTitle", {"sessionId": second["id"], "title": "acked"})
    await kill_sidecar(sidecar)
    assert await titles_after_restart(start_sidecar) == {
        first["id"]: "first",
        second["id"]: "acked",
    }


async def test_a_tree_delete_whose_journal_directory_sync_fails_is_absent_after_kill_9(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path
) -> None:
    parent, other = await prepared(start_sidecar, "parent", "other")
    sidecar = await start_sidecar()
    child = await sidecar.call("session/create", {"parentId": parent["id"], "title": "child"})
    await sidecar.stop()
    sidecar = await start_traced([data_dir / "sessions"], "1")
    assert_io_failure(await sidecar.failure("session/delete", {"sessionId": parent["id"]}))
    await sidecar.call("session/updateTitle", {"sessionId": other["id"], "title": "acked"})
    await kill_sidecar(sidecar)
    assert await titles_after_restart(start_sidecar) == {
        parent["id"]: "parent",
        child["id"]: "child",
        other["id"]: "acked",
    }


async def test_a_journal_file_whose_sync_fails_is_rewritten_and_its_entry_synced(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path, tmp_path: Path
) -> None:
    (kept,) = await prepared(start_sidecar, "kept")
    sessions = data_dir / "sessions"
    journal = sessions / "journal-000001.log"
    # Counted together, the first of these is the new journal file's own sync.
    sidecar = await start_traced([journal, sessions], "1")
    assert_io_failure(await sidecar.failure("session/create", {"title": "refused"}))
    acked = await sidecar.call("session/create", {"title": "acked"})
    await kill_sidecar(sidecar)
    assert injected_failures(trace_log(tmp_path))[0].count(str(journal)) == 1
    # The acknowledged record's file must be in a directory entry synced after it was
    # made, or a power cut takes it: kill -9 alone cannot show that.
    assert synced_after_failure(trace_log(tmp_path), journal, sessions)
    assert await titles_after_restart(start_sidecar) == {kept["id"]: "kept", acked["id"]: "acked"}


async def test_a_message_whose_month_directory_sync_fails_is_absent_after_kill_9(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path
) -> None:
    (session,) = await prepared(start_sidecar, "talk")
    month = Layout(data_dir).session_dir(session["id"])
    sidecar = await start_traced([month], "1")
    acked = await appended_once_refused(sidecar, session["id"])
    assert acked["seq"] == 1
    await kill_sidecar(sidecar)
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": session["id"]})
    assert page["messages"] == [acked]
    later = await restarted.call(
        "message/append", {"sessionId": session["id"], "role": "user", "parts": TEXT}
    )
    assert later["seq"] == 2


async def test_a_first_message_whose_log_sync_fails_leaves_no_log_and_is_absent(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path, tmp_path: Path
) -> None:
    (session,) = await prepared(start_sidecar, "talk")
    log = Layout(data_dir).message_log(session["id"])
    sidecar = await start_traced([log, log.parent], "1")
    append = {"sessionId": session["id"], "role": "user"}
    assert_io_failure(
        await sidecar.failure(
            "message/append", {**append, "parts": [{"type": "text", "text": "refused"}]}
        )
    )
    assert not log.exists(), "a failed first append left its log behind"
    acked = await appended_once_refused(sidecar, session["id"], refused=1)
    await kill_sidecar(sidecar)
    # The failed append undid itself: nothing of it was left for its commit to cut.
    assert "could not cut" not in await sidecar.stderr_text()
    assert synced_after_failure(trace_log(tmp_path), log, log.parent)
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": session["id"]})
    assert page["messages"] == [acked]


async def test_a_message_whose_log_sync_fails_later_is_absent_after_kill_9(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path
) -> None:
    (session,) = await prepared(start_sidecar, "talk")
    sidecar = await start_sidecar()
    append = {"sessionId": session["id"], "role": "user"}
    first = await sidecar.call("message/append", {**append, "parts": TEXT})
    await sidecar.stop()
    log = Layout(data_dir).message_log(session["id"])
    sidecar = await start_traced([log], "1")
    acked = await appended_once_refused(sidecar, session["id"])
    await kill_sidecar(sidecar)
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": session["id"]})
    assert page["messages"] == [first, acked]


async def test_a_month_directory_whose_creation_sync_fails_is_made_again_and_synced(
    start_sidecar: StartSidecar, start_traced: StartTraced, data_dir: Path, tmp_path: Path
) -> None:
    sidecar = await start_sidecar()
    session = await sidecar.call("session/create", {"title": "new month"})
    await sidecar.kill()  # only the journal holds it: its month directory is not made yet
    month = Layout(data_dir).session_dir(session["id"])
    assert not month.exists()
    sidecar = await start_traced([month.parent], "1")
    append = {"sessionId": session["id"], "role": "user", "parts": TEXT}
    acked = []
    for _ in range(40):  # the checkpoint at start may meet the failure, or any store thread
        try:
            acked.append(await sidecar.call("message/append", append))
            break
        except RpcError as failure:
            assert_io_failure(failure)
    assert acked, "no append was acknowledged"
    await kill_sidecar(sidecar)
    assert injected_failures(trace_log(tmp_path))
    assert synced_after_failure(trace_log(tmp_path), month.parent)
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": session["id"]})
    assert page["messages"] == acked
