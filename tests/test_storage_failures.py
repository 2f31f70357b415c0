"""Real disks failing under a real sidecar: full, read-only, damaged."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest

from plue_sidecar import errors
from plue_sidecar.store.disk import durable_io
from plue_sidecar.store.journal.journal import IDLE_SECONDS
from tests.conftest import StartSidecar
from tests.harness.client import RpcError, SidecarProcess
from tests.harness.in_process import core_at

TEXT = [{"type": "text", "text": "hello"}]


def can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def mounted(*args: str) -> Iterator[None]:
    subprocess.run(["mount", *args], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", args[-1]], check=False)


def snapshot(directory: Path, skip: str = "filler") -> dict[str, bytes]:
    """Every file's bytes; of a journal generation, without the zeros it holds ahead."""
    return {
        str(p.relative_to(directory)): p.read_bytes().rstrip(b"\0")
        if p.name.startswith("journal-")
        else p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and p.name not in (skip, "lock")
    }


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


async def every_write_fails(
    sidecar: SidecarProcess, session_id: str, code: int, deletes_too: bool = True
) -> None:
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("session/create", {}),
        ("session/create", {"parentId": session_id}),
        ("session/updateTitle", {"sessionId": session_id, "title": "changed"}),
        ("message/append", {"sessionId": session_id, "role": "user", "parts": TEXT}),
        ("session/share", {"sessionId": session_id}),
        ("session/fork", {"sessionId": session_id}),
        ("session/prompt", {"sessionId": session_id, "parts": TEXT}),
    ]
    if deletes_too:
        attempts.append(("session/delete", {"sessionId": session_id}))
    for method, params in attempts:
        failure = await sidecar.failure(method, params)
        assert failure.code == code, (method, failure)


async def test_a_full_disk_answers_storage_full_changes_nothing_and_recovers(
    start_sidecar: StartSidecar, tmp_path: Path, record_property: Any
) -> None:
    """Filled by another program: writes fail and change nothing, except deletes, which
    the released space reserve lets through; once space returns, every write works."""
    if not can_mount():
        pytest.fail("needs root for a real tmpfs; test_an_injected_enospc_* covers the rest")
    record_property("disk_full_mode", "real tmpfs")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(disk)):
        sidecar = await start_sidecar(directory=disk)
        kept = await sidecar.call("session/create", {"title": "kept"})
        await sidecar.call(
            "message/append", {"sessionId": kept["id"], "role": "user", "parts": TEXT}
        )
        spare = [(await sidecar.call("session/create", {}))["id"] for _ in range(8)]
        assert (disk / "reserve").exists()
        filler = fill(disk)
        await use_up_the_last_block(sidecar)
        before = snapshot(disk)
        failure = await sidecar.failure("session/create", {})
        assert failure.code == errors.STORAGE_FULL
        assert snapshot(disk) == before
        for session_id in spare:
            await sidecar.call("session/delete", {"sessionId": session_id})
        assert not (disk / "reserve").exists()
        listing = await sidecar.call("session/list", {"limit": 200})
        listed = {s["id"] for s in listing["sessions"]}
        assert kept["id"] in listed and not listed & set(spare)
        # The first write refused compacts what the deletes left in the journal's older
        # generations (writes over the zeros a generation holds ahead may have filled
        # more than one); it stores nothing of its own.
        refused = await sidecar.failure(
            "session/updateTitle", {"sessionId": kept["id"], "title": "refused"}
        )
        assert refused.code == errors.STORAGE_FULL
        before = snapshot(disk)
        await every_write_fails(sidecar, kept["id"], errors.STORAGE_FULL, deletes_too=False)
        assert snapshot(disk) == before
        assert await sidecar.call("session/list", {"limit": 200}) == listing
        messages = await sidecar.call("message/list", {"sessionId": kept["id"]})
        assert len(messages["messages"]) == 1
        filler.unlink()
        renamed = await sidecar.call(
            "session/updateTitle", {"sessionId": kept["id"], "title": "after"}
        )
        assert renamed["title"] == "after"
        assert (disk / "reserve").exists()
        await sidecar.call(
            "message/append", {"sessionId": kept["id"], "role": "user", "parts": TEXT}
        )
        created = await sidecar.call("session/create", {})
        after = await sidecar.call("session/list", {"limit": 200})
        assert after["sessions"][0] == created
        await sidecar.kill()
        restarted = await start_sidecar(directory=disk)
        assert await restarted.call("session/list", {"limit": 200}) == after
        await restarted.stop()


async def use_up_the_last_block(sidecar: SidecarProcess) -> None:
    """A full disk still has room in the last block of the journal, which is appended
    to: creates succeed, truthfully, until that is used up."""
    for _ in range(100):
        try:
            await sidecar.call("session/create", {})
        except RpcError as failure:
            assert failure.code == errors.STORAGE_FULL
            return
    raise AssertionError("a full disk kept accepting changes")


async def every_write_fails_in_process(tmp_path: Path, failure: OSError, code: int) -> None:
    """With every write raising `failure`, each kind of write answers `code`, and memory
    and disk stay as they were; once writes work again, so does the core."""
    core = core_at(tmp_path / "data")
    await core.open()
    kept = await core.sessions.create(parent_id=None, title="kept", runner=None)
    before = snapshot(tmp_path / "data")
    with (
        mock.patch.object(durable_io.os, "write", side_effect=failure),
        mock.patch.object(durable_io.os, "pwrite", side_effect=failure),
    ):
        for attempt in (
            core.sessions.create(parent_id=None, title=None, runner=None),
            core.sessions.update_title(kept.id, "changed"),
            core.append_message(kept.id, "user", []),
        ):
            with pytest.raises(errors.RpcError) as raised:
                await attempt
            assert raised.value.code == code
    assert snapshot(tmp_path / "data") == before
    assert core.sessions.info(kept.id) == kept.model_dump(mode="json", by_alias=True)
    assert (await core.sessions.update_title(kept.id, "after")).title == "after"
    core.close()


async def test_an_injected_enospc_answers_storage_full_and_changes_nothing(
    tmp_path: Path,
) -> None:
    await every_write_fails_in_process(tmp_path, OSError(errno.ENOSPC, "full"), errors.STORAGE_FULL)


async def test_an_injected_erofs_answers_storage_unavailable_and_changes_nothing(
    tmp_path: Path,
) -> None:
    await every_write_fails_in_process(
        tmp_path, OSError(errno.EROFS, "read-only"), errors.STORAGE_UNAVAILABLE
    )


async def test_a_read_only_disk_answers_storage_unavailable_and_recovers(
    start_sidecar: StartSidecar, tmp_path: Path, record_property: Any
) -> None:
    if not can_mount():
        pytest.fail(
            "needs root for a read-only bind mount; test_an_injected_erofs_* covers the rest"
        )
    record_property("read_only_mode", "real read-only bind mount")
    disk = tmp_path / "disk"
    sessions = disk / "sessions"
    sessions.mkdir(parents=True)
    # The lock file stays open for writing at the top, so the sessions below go read-only.
    with mounted("--bind", str(sessions), str(sessions)):
        sidecar = await start_sidecar(directory=disk)
        kept = await sidecar.call("session/create", {"title": "kept"})
        before = snapshot(disk)
        await remount_read_only(sessions)
        await every_write_fails(sidecar, kept["id"], errors.STORAGE_UNAVAILABLE)
        failure = await sidecar.failure("session/create", {})
        assert failure.data["reason"] == "read_only"
        assert (await sidecar.call("session/get", {"sessionId": kept["id"]})) == kept
        subprocess.run(["mount", "-o", "remount,bind,rw", str(sessions)], check=True)
        assert snapshot(disk) == before
        await sidecar.call("session/updateTitle", {"sessionId": kept["id"], "title": "again"})
        await sidecar.stop()


async def remount_read_only(mount_point: Path) -> None:
    """Remount read-only as soon as no file below is open for writing (the journal
    keeps its file open until it has been idle for `IDLE_SECONDS`)."""
    for _ in range(int(IDLE_SECONDS * 20) + 40):
        done = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(mount_point)], capture_output=True, check=False
        )
        if done.returncode == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"could not remount {mount_point} read-only: {done.stderr!r}")


async def test_a_session_whose_log_is_damaged_in_the_middle_is_served_read_only(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {})
    for _ in range(3):
        await sidecar.call(
            "message/append", {"sessionId": info["id"], "role": "user", "parts": TEXT}
        )
    await sidecar.stop()
    log = next(data_dir.rglob(f"{info['id']}.messages.jsonl"))
    lines = log.read_bytes().split(b"\n")
    lines[1] = b"{damaged"
    damaged = b"\n".join(lines)
    log.write_bytes(damaged)
    restarted = await start_sidecar()
    page = await restarted.call("message/list", {"sessionId": info["id"]})
    assert [m["seq"] for m in page["messages"]] == [1]
    failure = await restarted.failure(
        "message/append", {"sessionId": info["id"], "role": "user", "parts": TEXT}
    )
    assert failure.code == errors.SESSION_READ_ONLY
    assert failure.kind == "session_read_only"
    assert log.read_bytes() == damaged


async def test_a_session_from_a_newer_sidecar_is_readable_but_not_writable(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {"title": "future"})
    await sidecar.stop()
    path = next(data_dir.rglob(f"{info['id']}.json"))
    future = {**orjson.loads(path.read_bytes()), "schemaVersion": 99}
    # Replaced, not edited in place, as protocol.md asks of tools that edit documents.
    path.with_name("replacement").write_bytes(orjson.dumps(future))
    path.with_name("replacement").replace(path)
    restarted = await start_sidecar()
    assert (await restarted.call("session/get", {"sessionId": info["id"]}))["title"] == "future"
    failure = await restarted.failure(
        "session/updateTitle", {"sessionId": info["id"], "title": "x"}
    )
    assert failure.code == errors.SESSION_READ_ONLY
    assert orjson.loads(path.read_bytes()) == future


async def test_acknowledged_changes_survive_kill_9_at_once(start_sidecar: StartSidecar) -> None:
    sidecar = await start_sidecar()
    created = await asyncio.gather(*(sidecar.send("session/create", {}) for _ in range(50)))
    titled = await sidecar.call(
        "session/updateTitle", {"sessionId": created[0]["id"], "title": "last words"}
    )
    await sidecar.kill()
    restarted = await start_sidecar()
    page = await restarted.call("session/list", {"limit": 100})
    assert {s["id"] for s in page["sessions"]} == {s["id"] for s in created}
    assert page["sessions"][0] == titled


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str = "512k") -> Iterator[Path]:
    """A real tmpfs of `size`, mounted for the test (root only, as in CI)."""
    if not can_mount():
        pytest.fail("needs root for a real tmpfs")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(disk)):
        yield disk


async def all_session_ids(sidecar: SidecarProcess) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor is not None:
            params["cursor"] = cursor
        page = await sidecar.call("session/list", params)
        ids.extend(session["id"] for session in page["sessions"])
        cursor = page["nextCursor"]
        if cursor is None:
            return ids


async def test_a_disk_the_sidecar_filled_with_sessions_is_emptied_by_deleting_them(
    start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    """Issue 12 item 5: deletes go through on a disk full of sessions and free it."""
    with small_disk(tmp_path) as disk:
        sidecar = await start_sidecar(directory=disk)
        created = await fill_with_sessions(sidecar)
        deleted = created[::2]
        for session_id in deleted[:10]:
            await sidecar.call("session/delete", {"sessionId": session_id})
        await sidecar.stop()  # a clean exit on a full disk neither loses nor blocks
        sidecar = await start_sidecar(directory=disk)
        assert sorted(await all_session_ids(sidecar)) == sorted(set(created) - set(deleted[:10]))
        for session_id in deleted[10:]:
            await sidecar.call("session/delete", {"sessionId": session_id})
        kept = created[1::2]
        assert sorted(await all_session_ids(sidecar)) == sorted(kept)
        again = [(await sidecar.call("session/create", {}))["id"] for _ in range(20)]
        listing = await all_session_ids(sidecar)
        assert sorted(listing) == sorted(kept + again)
        await sidecar.kill()
        restarted = await start_sidecar(directory=disk)
        assert await all_session_ids(restarted) == listing
        await restarted.stop()


async def fill_with_sessions(sidecar: SidecarProcess) -> list[str]:
    """Create sessions until the disk is full; their ids."""
    created: list[str] = []
    for _ in range(10_000):
        try:
            created.append((await sidecar.call("session/create", {}))["id"])
        except RpcError as failure:
            assert failure.code == errors.STORAGE_FULL
            assert len(created) > 500
            return created
    raise AssertionError("the disk never filled")


async def test_concurrent_deletes_on_a_disk_full_of_sessions_survive_kill_9(
    start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    """Deletes that release the reserve and compact the journal at once, then a kill."""
    with small_disk(tmp_path) as disk:
        sidecar = await start_sidecar(directory=disk)
        created = await fill_with_sessions(sidecar)
        deleted = created[: len(created) // 2]
        await asyncio.gather(
            *(sidecar.send("session/delete", {"sessionId": session_id}) for session_id in deleted)
        )
        await sidecar.kill()
        restarted = await start_sidecar(directory=disk)
        assert sorted(await all_session_ids(restarted)) == sorted(created[len(deleted) :])
        await restarted.call("session/create", {})
        await restarted.stop()
