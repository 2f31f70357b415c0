"""Documents that rot in place are found and rewritten from the verified copy; a
message log whose document is gone becomes a session again, never dropped."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from tests.conftest import StartSidecar
from tests.harness.doctor import doctor

TEXT = [{"type": "text", "text": "why does the build fail on arm64"}]


def rot_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Change bytes inside the file without replacing it: same inode, size, mtime."""
    before = path.stat()
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    with open(path, "r+b") as file:
        file.seek(data.index(old))
        file.write(new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


async def a_session_with_a_message(start_sidecar: StartSidecar) -> dict[str, object]:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {"title": "kept"})
    await sidecar.call("message/append", {"sessionId": info["id"], "role": "user", "parts": TEXT})
    info = await sidecar.call("session/get", {"sessionId": info["id"]})
    await sidecar.stop()
    return info


async def test_a_document_rotted_in_place_is_rewritten_from_the_catalogue(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    info = await a_session_with_a_message(start_sidecar)
    document = next(data_dir.rglob(f"{info['id']}.json"))
    good = document.read_bytes()
    rot_in_place(document, b'"kept"', b'"kepT"')
    sidecar = await start_sidecar()
    await sidecar.wait_for_stderr(f"{info['id']}: its document was damaged on disk")
    assert await sidecar.call("session/get", {"sessionId": info["id"]}) == info
    await sidecar.wait_for_stderr("rewritten from the verified copy")
    await sidecar.stop()
    assert orjson.loads(document.read_bytes()) == orjson.loads(good)
    code, out = doctor(data_dir)
    assert code == 0, out
    assert f"repaired: {info['id']}: its document was damaged on disk" in out
    (data_dir / "catalogue.json").unlink()
    restarted = await start_sidecar()
    assert await restarted.call("session/get", {"sessionId": info["id"]}) == info
    assert not (data_dir / "quarantine").exists()


async def test_doctor_names_a_document_changed_in_place(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    info = await a_session_with_a_message(start_sidecar)
    rot_in_place(next(data_dir.rglob(f"{info['id']}.json")), b'"kept"', b'"kepT"')
    code, out = doctor(data_dir)
    assert code == 1
    assert (
        f"{info['id']}: its document changed in place since the catalogue recorded it "
        "(the sidecar rewrites it from the catalogue's copy)"
    ) in out


async def test_a_log_whose_document_was_quarantined_is_recovered_as_a_session(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    info = await a_session_with_a_message(start_sidecar)
    document = next(data_dir.rglob(f"{info['id']}.json"))
    document.write_bytes(b"\0" * len(document.read_bytes()))
    (data_dir / "catalogue.json").unlink()
    sidecar = await start_sidecar()
    recovered = await sidecar.call("session/get", {"sessionId": info["id"]})
    messages = (await sidecar.call("message/list", {"sessionId": info["id"]}))["messages"]
    assert [m["parts"] for m in messages] == [TEXT]
    assert recovered["title"] == TEXT[0]["text"]
    assert recovered["messageCount"] == 1
    assert recovered["createdAt"] == messages[0]["createdAt"]
    assert recovered["updatedAt"] == messages[0]["completedAt"]
    await sidecar.call("message/append", {"sessionId": info["id"], "role": "user", "parts": TEXT})
    await sidecar.stop()
    restarted = await start_sidecar()
    again = await restarted.call("session/get", {"sessionId": info["id"]})
    assert again["messageCount"] == 2


async def test_a_session_rebuilt_from_its_log_is_titled_by_its_first_user_message(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {"title": "kept"})
    greeting = [{"type": "text", "text": "Hello! What shall we work on?"}]
    for role, parts in (("assistant", greeting), ("user", TEXT)):
        await sidecar.call(
            "message/append", {"sessionId": info["id"], "role": role, "parts": parts}
        )
    await sidecar.stop()
    document = next(data_dir.rglob(f"{info['id']}.json"))
    document.write_bytes(b"\0" * len(document.read_bytes()))
    (data_dir / "catalogue.json").unlink()
    restarted = await start_sidecar()
    recovered = await restarted.call("session/get", {"sessionId": info["id"]})
    assert (recovered["title"], recovered["messageCount"]) == (TEXT[0]["text"], 2)
    await restarted.call("session/updateTitle", {"sessionId": info["id"], "title": "writable"})
    await restarted.stop()
    assert "read-only" not in await restarted.stderr_text()


async def test_a_log_whose_document_is_gone_is_recovered_from_the_catalogue(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    info = await a_session_with_a_message(start_sidecar)
    next(data_dir.rglob(f"{info['id']}.json")).unlink()
    sidecar = await start_sidecar()
    assert await sidecar.call("session/get", {"sessionId": info["id"]}) == info
    await sidecar.stop()
    assert next(data_dir.rglob(f"{info['id']}.json")).exists()
