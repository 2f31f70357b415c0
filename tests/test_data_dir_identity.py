"""A data directory moved, deleted or replaced under a running sidecar: the sidecar
stops writing (it never writes into a directory another sidecar holds), reads only the
directory it locked, and a second sidecar never shares the directory the first one
holds."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from plue_sidecar import errors
from plue_sidecar.models.records import Session, SessionDocument
from plue_sidecar.store.catalogue.head import trusted_head
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import Layout
from plue_sidecar.store.journal.journal import IDLE_SECONDS
from plue_sidecar.store.session_store import SessionStore
from tests.conftest import StartSidecar
from tests.harness.client import WAIT_SECONDS, SidecarProcess

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


async def until_locked_by(data_dir: Path, pid: int) -> None:
    """Wait until the sidecar `pid` holds `data_dir`: it writes its pid into the lock
    file once it holds the lock."""
    async with asyncio.timeout(WAIT_SECONDS):
        while (data_dir / "lock").read_bytes() != str(pid).encode():
            await asyncio.sleep(0.01)


async def test_a_replaced_data_directory_is_never_read_from(
    start_sidecar: StartSidecar, data_dir: Path, tmp_path: Path
) -> None:
    """The sidecar locks its data directory at process start (the early answers take
    the lock); moved away before the client's first request, with another data
    directory put at its path, it is still the one every answer comes from."""
    first = await start_sidecar()
    kept = await first.call("session/create", {"title": "kept"})
    await first.call("message/append", {"sessionId": kept["id"], "role": "user", "parts": TEXT})
    kept = await first.call("session/get", {"sessionId": kept["id"]})
    await first.stop()
    other_dir = tmp_path / "other"
    other = await start_sidecar(directory=other_dir)
    theirs = await other.call("session/create", {"title": "the other directory's"})
    await other.stop()
    # A clean exit left a head the next start trusts: the load of the rest then waits
    # for `initialize`, and so reads after the directories are swapped.
    assert trusted_head(Root(data_dir), Layout(data_dir)) is not None
    sidecar = await start_sidecar(initialize=False)
    await until_locked_by(data_dir, sidecar.process.pid)
    data_dir.rename(tmp_path / "moved")
    other_dir.rename(data_dir)
    await sidecar.initialize()
    assert await sidecar.call("session/get", {"sessionId": kept["id"]}) == kept
    missing = await sidecar.failure("session/get", {"sessionId": theirs["id"]})
    assert missing.kind == "session_not_found"
    page = await sidecar.call("session/list", {})
    assert [s["id"] for s in page["sessions"]] == [kept["id"]]
    history = await sidecar.call("message/list", {"sessionId": kept["id"]})
    assert [m["parts"] for m in history["messages"]] == [TEXT]
    await every_write_is_refused_as_replaced(sidecar, kept["id"])
    await sidecar.stop()
    replacement = await start_sidecar()
    page = await replacement.call("session/list", {})
    assert [s["id"] for s in page["sessions"]] == [theirs["id"]]
    await replacement.stop()


def session(session_id: str, title: str) -> Session:
    fields = {"id": session_id, "title": title, "createdAt": 1, "updatedAt": 1}
    return Session.from_document(SessionDocument.model_validate(fields))


def data_dir_holding(
    data_dir: Path, in_files: Session, in_journal: Session, high_water: int
) -> None:
    """A data directory holding a session in its file, another only in the journal,
    and the id high-water mark; its month directory's mtime is `high_water` ns."""
    store = SessionStore(data_dir)
    store.open()
    store.sessions.save_session(in_files)
    store.journal.append({"put": in_journal.to_json()}).result(WAIT_SECONDS)
    store.sessions.save_high_water(high_water)
    store.close()
    month = store.layout.session_dir(in_files.id)
    os.utime(month, ns=(high_water, high_water))


def test_a_store_reads_only_the_data_directory_it_locked(tmp_path: Path) -> None:
    locked, other = tmp_path / "data", tmp_path / "other"
    mine = [session("session_1795000000001", "mine"), session("session_1795000000002", "mine")]
    data_dir_holding(locked, *mine, high_water=1795000000005)
    data_dir_holding(
        other,
        session("session_1795000000009", "theirs"),
        session("session_1795000000008", "theirs"),
        high_water=1795000000077,
    )
    store = SessionStore(locked)
    store.open_preview()  # takes the lock
    locked.rename(tmp_path / "moved")
    other.rename(locked)
    theirs = {p: p.read_bytes() for p in locked.rglob("*") if p.is_file()}
    loaded = store.open()
    mtimes = store.directory_mtimes()
    store.close()
    assert sorted((s.id, s.title) for s in loaded.sessions) == [(s.id, s.title) for s in mine]
    assert loaded.high_water == 1795000000005
    assert mtimes == {"2026/11": 1795000000005}
    assert {p: p.read_bytes() for p in theirs} == theirs
