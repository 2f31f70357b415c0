"""`plue-sidecar doctor`: a clean data directory passes, each kind of damage is named."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import StartSidecar
from tests.harness.catalogue_files import edit_columns
from tests.harness.doctor import doctor

TEXT = [{"type": "text", "text": "hi"}]


async def populated(start_sidecar: StartSidecar) -> list[dict[str, object]]:
    sidecar = await start_sidecar()
    root = await sidecar.call("session/create", {})
    child = await sidecar.call("session/create", {"parentId": root["id"]})
    await sidecar.call("message/append", {"sessionId": child["id"], "role": "user", "parts": TEXT})
    await sidecar.stop()
    return [root, child]


async def test_a_healthy_data_directory_passes(start_sidecar: StartSidecar, data_dir: Path) -> None:
    await populated(start_sidecar)
    code, out = doctor(data_dir)
    assert (code, out.splitlines()) == (0, ["2 sessions, no problems"])


async def test_every_kind_of_damage_is_reported_and_nothing_is_changed(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    root, child = await populated(start_sidecar)
    documents = data_dir / "sessions"
    root_doc = next(documents.rglob(f"{root['id']}.json"))
    child_log = next(documents.rglob(f"{child['id']}.messages.jsonl"))
    root_doc.write_bytes(b"\0" * 10)
    child_log.write_bytes(b"garbage\n" + child_log.read_bytes())
    (root_doc.parent / ".leftover.tmp").write_bytes(b"x")
    (root_doc.parent / "session_1795000000001.messages.jsonl").write_bytes(b"")
    (data_dir / "tombstone.json").write_bytes(b"{}")
    (data_dir / "quarantine").mkdir()
    (data_dir / "quarantine" / "session_1795000000002.json.1").write_bytes(b"")
    before = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    code, out = doctor(data_dir)
    assert code == 1
    for expected in (
        "empty or NUL-filled",
        "record 1 of the message log is invalid",
        "leftover temporary file",
        "a message log with no session",
        "interrupted delete",
        "quarantined: session_1795000000002",
        f"its parent {root['id']} is missing",
        f"catalogue lists {root['id']}, which has no document",
    ):
        assert expected in out, expected
    assert {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()} == before


async def test_a_catalogue_that_disagrees_with_a_document_is_reported(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    root, _ = await populated(start_sidecar)

    def retitle(columns: list[list[object]]) -> None:
        for row, session_id in enumerate(columns[1]):
            if session_id == root["id"]:
                columns[3][row] = "a title the document never had"

    edit_columns(data_dir / "catalogue.json", retitle)
    code, out = doctor(data_dir)
    assert code == 1
    assert f"catalogue disagrees with the document of {root['id']}" in out


def test_a_missing_data_directory_is_a_problem(tmp_path: Path) -> None:
    code, out = doctor(tmp_path / "nowhere")
    assert code == 1 and "is not a directory" in out


async def test_changes_only_the_journal_holds_are_read_as_the_sidecar_reads_them(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    sidecar = await start_sidecar()
    root = await sidecar.call("session/create", {})
    await sidecar.call("message/append", {"sessionId": root["id"], "role": "user", "parts": TEXT})
    await sidecar.call("session/fork", {"sessionId": root["id"]})
    gone = await sidecar.call("session/create", {})
    await sidecar.call("session/delete", {"sessionId": gone["id"]})
    await sidecar.kill()
    assert list((data_dir / "sessions").glob("journal-*.log"))
    code, out = doctor(data_dir)
    assert (code, out.splitlines()) == (0, ["2 sessions, no problems"])


async def test_a_damaged_or_torn_journal_record_is_reported(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    sidecar = await start_sidecar()
    for _ in range(3):
        await sidecar.call("session/create", {})
    await sidecar.kill()
    journal = next((data_dir / "sessions").glob("journal-*.log"))
    lines = journal.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b"New Session", b"New Sessiom")
    journal.write_bytes(b"\n".join(lines) + b'0000 {"put":')
    code, out = doctor(data_dir)
    assert code == 1
    assert f"{journal.name}: record 1 is damaged and was skipped" in out
    assert f"{journal.name} ends in a record cut short" in out
    assert out.splitlines()[0].startswith("2 sessions")


async def test_a_delete_the_journal_holds_whose_files_remain_is_an_interrupted_delete(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    _, child = await populated(start_sidecar)
    files = {p: p.read_bytes() for p in data_dir.rglob(f"{child['id']}*")}
    assert len(files) == 2
    sidecar = await start_sidecar()
    await sidecar.call("session/delete", {"sessionId": child["id"]})
    await sidecar.kill()
    for path, data in files.items():  # as if the crash came before the files went
        path.write_bytes(data)
    code, out = doctor(data_dir)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "1 sessions, 1 problem(s)"
    assert lines[1] == (
        f"- {child['id']}: an interrupted delete (the journal deletes it; its "
        "document and message log are still there and go at the next start)"
    )


async def test_a_session_that_claims_messages_it_has_no_log_for_is_reported(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    _, child = await populated(start_sidecar)
    next(data_dir.rglob(f"{child['id']}.messages.jsonl")).unlink()
    code, out = doctor(data_dir)
    assert code == 1
    assert f"{child['id']}: it counts 1 messages but has no message log" in out


async def test_a_log_without_a_document_or_journal_record_is_named_for_quarantine(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    _, child = await populated(start_sidecar)
    log = next(data_dir.rglob(f"{child['id']}.messages.jsonl"))
    (log.parent / "session_1795000000001.messages.jsonl").write_bytes(log.read_bytes())
    code, out = doctor(data_dir)
    assert code == 1
    assert (
        "session_1795000000001: a message log with no session (its document is lost, or a "
        "fork never committed; the next start moves it to quarantine, from where "
        "`plue-sidecar doctor --recover` restores it)"
    ) in out
