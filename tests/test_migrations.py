"""Documents of older formats are migrated on load, written back, and the marker advances."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from plue_sidecar import errors
from tests.conftest import StartSidecar
from tests.test_storage_failures import can_mount, mounted

UNVERSIONED = {
    "id": "session_1795000000000",
    "parentID": None,
    "title": "from the JSON era",
    "version": "0.3.1",
    "time": {"created": 1795000000000, "updated": 1795000000500},
    "share": {"url": "https://plue.app/share/abcDEF123"},
}
CHILD = {
    "id": "session_1795000000100",
    "parentID": "session_1795000000000",
    "time": {"created": 1795000000100, "updated": 1795000000100},
}


def plant(data_dir: Path, *documents: dict[str, object]) -> list[Path]:
    folder = data_dir / "sessions" / "2026" / "11"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for document in documents:
        path = folder / f"{document['id']}.json"
        path.write_bytes(orjson.dumps(document))
        paths.append(path)
    return paths


async def test_unversioned_documents_are_migrated_written_back_and_served(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    root_path, child_path = plant(data_dir, UNVERSIONED, CHILD)
    sidecar = await start_sidecar()
    root = await sidecar.call("session/get", {"sessionId": UNVERSIONED["id"]})
    assert root["title"] == "from the JSON era"
    assert (root["createdAt"], root["updatedAt"]) == (1795000000000, 1795000000500)
    assert root["share"]["secret"] == "abcDEF123"
    child = await sidecar.call("session/get", {"sessionId": CHILD["id"]})
    assert child["parentId"] == UNVERSIONED["id"]
    assert child["title"] == "New Session"
    for path in (root_path, child_path):
        assert orjson.loads(path.read_bytes())["schemaVersion"] == 1
    assert orjson.loads((data_dir / "migrations.json").read_bytes()) == {"completed": 1}
    resolved = await sidecar.call("share/resolve", {"secret": "abcDEF123"})
    assert resolved["session"]["id"] == UNVERSIONED["id"]


async def test_a_migration_that_cannot_write_is_retried_at_the_next_start(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    if not can_mount():
        raise AssertionError("this test mounts a read-only directory and needs root")
    (path,) = plant(data_dir, UNVERSIONED)
    sessions = data_dir / "sessions"
    with mounted("--bind", str(sessions), str(sessions)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(sessions)], check=True)
        refused = await start_sidecar(initialize=False)
        failure = await refused.failure("initialize", {"processId": None})
        assert failure.code == errors.STORAGE_UNAVAILABLE
        await refused.stop()
    assert not (data_dir / "migrations.json").exists()
    assert "schemaVersion" not in orjson.loads(path.read_bytes())
    sidecar = await start_sidecar()
    assert (await sidecar.call("session/get", {"sessionId": UNVERSIONED["id"]}))["title"]
    assert orjson.loads(path.read_bytes())["schemaVersion"] == 1


async def test_an_unreadable_document_from_a_newer_sidecar_is_left_untouched(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    future = {"schemaVersion": 7, "id": "session_1795000000000", "title": {"rich": True}}
    (path,) = plant(data_dir, future)
    raw = path.read_bytes()
    sidecar = await start_sidecar()
    assert (await sidecar.call("session/list", {}))["sessions"] == []
    assert path.read_bytes() == raw
    assert not (data_dir / "quarantine").exists()
