"""Nothing a user wrote is deleted on a guess: a message log whose session is gone
without a trace goes to quarantine at the next start, `doctor` names it, and
`doctor --recover` brings it back as a session, never over one that exists."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from plue_sidecar.cli import DATA_DIR_IN_USE
from plue_sidecar.session_format import id_number
from tests.conftest import StartSidecar
from tests.faults.traced import at_rename
from tests.harness.doctor import doctor

GREETING = [{"type": "text", "text": "Hello! What shall we look at today?"}]
QUESTION = [{"type": "text", "text": "why does the build fail on arm64"}]


async def a_conversation(start_sidecar: StartSidecar) -> tuple[dict[str, Any], list[Any]]:
    """A session with an assistant's greeting, then a prompt the echo runner answers;
    the sidecar stopped cleanly. The session as `session/get` gave it, and its messages."""
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {})
    session_id = info["id"]
    await sidecar.call(
        "message/append", {"sessionId": session_id, "role": "assistant", "parts": GREETING}
    )
    await sidecar.call("session/prompt", {"sessionId": session_id, "parts": QUESTION})
    info = await sidecar.call("session/get", {"sessionId": session_id})
    messages = (await sidecar.call("message/list", {"sessionId": session_id}))["messages"]
    assert await sidecar.stop() == 0
    return info, messages


def lose_its_document_and_the_catalogue(data_dir: Path, session_id: str) -> None:
    """What a user (or a sync tool, or a disk) does while the sidecar is stopped."""
    next(data_dir.rglob(f"{session_id}.json")).unlink()
    (data_dir / "catalogue.json").unlink()


async def a_conversation_in_quarantine(
    start_sidecar: StartSidecar, data_dir: Path
) -> tuple[dict[str, Any], list[Any]]:
    """`a_conversation`, its document and the catalogue lost, then a start that put its
    log in quarantine."""
    info, messages = await a_conversation(start_sidecar)
    lose_its_document_and_the_catalogue(data_dir, info["id"])
    await restart_without(start_sidecar, info["id"])
    return info, messages


def quarantine(data_dir: Path) -> list[str]:
    directory = data_dir / "quarantine"
    return sorted(os.listdir(directory)) if directory.is_dir() else []


async def restart_without(start_sidecar: StartSidecar, session_id: str) -> None:
    """A start that must not show the session; stopped cleanly."""
    sidecar = await start_sidecar()
    missing = await sidecar.failure("session/get", {"sessionId": session_id})
    assert missing.kind == "session_not_found"
    assert await sidecar.stop() == 0


async def assert_back_whole(
    start_sidecar: StartSidecar, info: dict[str, Any], messages: list[Any]
) -> None:
    """A start shows the session with every message, titled by its first user message,
    and takes new ones."""
    sidecar = await start_sidecar()
    session_id = info["id"]
    recovered = await sidecar.call("session/get", {"sessionId": session_id})
    assert recovered == {
        **info,
        "title": QUESTION[0]["text"],
        "createdAt": messages[0]["createdAt"],
        "updatedAt": messages[-1]["completedAt"],
    }
    listed = await sidecar.call("message/list", {"sessionId": session_id})
    assert listed["messages"] == messages
    page = await sidecar.call("session/list", {})
    assert session_id in [session["id"] for session in page["sessions"]]
    await sidecar.call("session/prompt", {"sessionId": session_id, "parts": QUESTION})
    again = await sidecar.call("session/get", {"sessionId": session_id})
    assert again["messageCount"] == len(messages) + 2
    assert await sidecar.stop() == 0


async def test_a_conversation_whose_document_and_catalogue_were_deleted_comes_back_whole(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    info, messages = await a_conversation(start_sidecar)
    session_id = info["id"]
    assert len(messages) == 3
    lose_its_document_and_the_catalogue(data_dir, session_id)

    await restart_without(start_sidecar, session_id)
    [name] = quarantine(data_dir)
    assert name.startswith(f"{session_id}.messages.jsonl.")
    assert not list((data_dir / "sessions").rglob(f"{session_id}*"))

    code, report = doctor(data_dir)
    assert code == 1
    assert (
        f"- quarantined: {name}: the message log of {session_id} (3 messages), whose "
        "document is lost (or a fork that never committed); `plue-sidecar doctor "
        "--recover` restores it as a session"
    ) in report.splitlines()

    code, report = doctor(data_dir, "--recover")
    assert (code, report.splitlines()) == (
        0,
        [f"{session_id}: recovered from {name} (3 messages, titled {QUESTION[0]['text']!r})"],
    )
    assert quarantine(data_dir) == []
    assert doctor(data_dir) == (0, "1 sessions, no problems\n")
    await assert_back_whole(start_sidecar, info, messages)


@pytest.mark.parametrize("kept_by", ["its document", "the journal"])
async def test_recover_never_overwrites_a_session_that_exists(
    start_sidecar: StartSidecar, data_dir: Path, kept_by: str
) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {"title": "kept"})
    session_id = info["id"]
    await sidecar.call(
        "message/append", {"sessionId": session_id, "role": "user", "parts": QUESTION}
    )
    log = next(data_dir.rglob(f"{session_id}.messages.jsonl"))
    (data_dir / "quarantine").mkdir()
    stray = data_dir / "quarantine" / f"{log.name}.1795000000000"
    if kept_by == "its document":
        assert await sidecar.stop() == 0
        stray.write_bytes(log.read_bytes())  # an older copy of the same session's log
    else:
        await sidecar.kill()  # the journal alone holds the session
        assert not list(data_dir.rglob(f"{session_id}.json"))
        log.rename(stray)
    sessions_before = files_in(data_dir / "sessions")

    code, report = doctor(data_dir, "--recover")
    assert (code, report.splitlines()) == (
        1,
        [f"{stray.name}: left in quarantine, {session_id} exists (a session is never overwritten)"],
    )
    assert quarantine(data_dir) == [stray.name]
    assert files_in(data_dir / "sessions") == sessions_before
    restarted = await start_sidecar()
    kept = await restarted.call("session/get", {"sessionId": session_id})
    assert (kept["title"], kept["createdAt"]) == ("kept", info["createdAt"])


def files_in(directory: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in directory.rglob("*") if path.is_file()}


async def test_recover_refuses_while_a_sidecar_holds_the_data_directory(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    info, messages = await a_conversation_in_quarantine(start_sidecar, data_dir)
    held = quarantine(data_dir)
    sidecar = await start_sidecar()

    code, report = doctor(data_dir, "--recover")
    assert (code, report) == (
        DATA_DIR_IN_USE,
        f"{data_dir} is in use by a running sidecar (pid {sidecar.process.pid}); nothing "
        "was changed: stop it, then run `plue-sidecar doctor --recover` again\n",
    )
    assert quarantine(data_dir) == held
    missing = await sidecar.failure("session/get", {"sessionId": info["id"]})
    assert missing.kind == "session_not_found"
    assert await sidecar.stop() == 0
    assert doctor(data_dir, "--recover")[0] == 0
    await assert_back_whole(start_sidecar, info, messages)


async def test_no_new_session_takes_the_id_of_a_log_in_quarantine(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    older = await start_sidecar()
    await older.call("session/create", {"title": "older"})
    assert await older.stop() == 0
    info, _ = await a_conversation(start_sidecar)
    lose_its_document_and_the_catalogue(data_dir, info["id"])
    (data_dir / "state.json").unlink()  # the id high-water mark lost with them

    await restart_without(start_sidecar, info["id"])
    assert high_water(data_dir) >= id_number(info["id"])
    (data_dir / "state.json").unlink()
    assert doctor(data_dir, "--recover")[0] == 0
    assert high_water(data_dir) >= id_number(info["id"])


def high_water(data_dir: Path) -> int:
    return int(orjson.loads((data_dir / "state.json").read_bytes())["highWater"])


RENAMES = {
    "the id high-water mark": '"state.json"',
    "the log's move back": '.messages.jsonl"',
    "the document": '.json"',
}
"""What `doctor --recover` renames into place for one log, in order: how the target of
each rename ends in strace's log."""


def killed_by_strace(code: int, trace: Path, killed_before: int) -> bool:
    """Whether strace killed the process as it entered its `killed_before`th rename."""
    renames = trace.read_text().splitlines()
    target = list(RENAMES.values())[killed_before - 1]
    return (
        code == -signal.SIGKILL
        and len(renames) == killed_before
        and renames[-1].endswith(f"{target}) = ?")
    )


@pytest.mark.parametrize("killed_before", range(1, len(RENAMES) + 1), ids=list(RENAMES))
async def test_a_recovery_killed_at_any_step_is_finished_by_the_next_start_and_recover(
    start_sidecar: StartSidecar, data_dir: Path, tmp_path: Path, killed_before: int
) -> None:
    info, messages = await a_conversation_in_quarantine(start_sidecar, data_dir)
    session_id = info["id"]
    trace = tmp_path / "recover.strace"

    code, _ = doctor(
        data_dir, "--recover", under=at_rename(trace, data_dir, killed_before, "signal=KILL")
    )
    assert killed_by_strace(code, trace, killed_before), trace.read_text()
    assert not list((data_dir / "sessions").rglob(f"{session_id}.json"))

    await restart_without(start_sidecar, session_id)
    [name] = quarantine(data_dir)
    assert name.startswith(f"{session_id}.messages.jsonl.")
    assert doctor(data_dir, "--recover")[0] == 0
    await assert_back_whole(start_sidecar, info, messages)


@pytest.mark.parametrize("inject", ["signal=KILL", "error=EIO"])
async def test_a_recovery_stopped_between_a_log_and_its_document_is_finished_by_another(
    start_sidecar: StartSidecar, data_dir: Path, tmp_path: Path, inject: str
) -> None:
    """Killed, or its document's write failing, after the log was moved back."""
    info, messages = await a_conversation_in_quarantine(start_sidecar, data_dir)
    trace = tmp_path / "recover.strace"
    code, report = doctor(
        data_dir, "--recover", under=at_rename(trace, data_dir, len(RENAMES), inject)
    )
    if inject == "signal=KILL":
        assert killed_by_strace(code, trace, len(RENAMES)), trace.read_text()
    else:
        assert code == 1
        assert report.startswith("stopped: [Errno 5] Input/output error")
        assert report.endswith("run `plue-sidecar doctor --recover` again\n")
    assert next((data_dir / "sessions").rglob(f"{info['id']}.messages.jsonl"))
    assert not list((data_dir / "sessions").rglob(f"{info['id']}.json"))
    assert quarantine(data_dir) == []

    code, report = doctor(data_dir, "--recover")
    assert code == 0
    assert report.startswith(f"{info['id']}: recovered from {info['id']}.messages.jsonl.")
    await assert_back_whole(start_sidecar, info, messages)


async def test_the_log_of_a_delete_cut_short_is_removed_not_quarantined(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    sidecar = await start_sidecar()
    info = await sidecar.call("session/create", {})
    await sidecar.call(
        "message/append", {"sessionId": info["id"], "role": "user", "parts": QUESTION}
    )
    log = next(data_dir.rglob(f"{info['id']}.messages.jsonl"))
    written = log.read_bytes()
    await sidecar.call("session/delete", {"sessionId": info["id"]})
    await sidecar.kill()
    assert not list(data_dir.rglob(f"{info['id']}.json"))  # the journal alone held it
    log.write_bytes(written)  # as if the kill came between the delete's record and its files

    await restart_without(start_sidecar, info["id"])
    assert not log.exists()
    assert quarantine(data_dir) == []


async def test_what_recover_cannot_use_stays_in_quarantine(data_dir: Path) -> None:
    assert doctor(data_dir, "--recover") == (1, f"{data_dir} is not a directory\n")
    (data_dir / "quarantine").mkdir(parents=True)
    assert doctor(data_dir, "--recover") == (0, "no message log in quarantine to recover\n")
    torn = data_dir / "quarantine" / "session_1795000000001.messages.jsonl.1795000000002"
    torn.write_bytes(b'{"id":"msg_1","sessionId":"session_1795000000001","se')
    damaged = data_dir / "quarantine" / "session_1795000000003.json.1795000000004"
    damaged.write_bytes(b"\0" * 10)
    assert doctor(data_dir, "--recover") == (
        1,
        f"{torn.name}: left in quarantine, it holds no whole message\n",
    )
    assert quarantine(data_dir) == sorted([torn.name, damaged.name])
