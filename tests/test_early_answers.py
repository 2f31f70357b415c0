"""The early answers: `initialize` and the first list pages answered while the rest of
the sidecar imports (see `plue_sidecar.early`). Whatever a client sends, it must see
the same bytes as from the full path (`--no-early-answers`), only sooner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plue_sidecar.capabilities import METHODS, initialize_result
from plue_sidecar.models.wire import InitializeResult
from tests.conftest import StartSidecar
from tests.faults.capabilities import require, strace_problem
from tests.faults.traced import start_with_held_fsync
from tests.harness.client import sidecar_command
from tests.harness.raw import frame, request
from tests.harness.scripted import finish_script, run_script, start_script

ANSWERED_EARLY = "initialize answered before the full path"
FULL_PATH = "--no-early-answers"
INITIALIZE = request(
    1,
    "initialize",
    {
        "processId": None,
        "clientInfo": {"name": "test", "version": "1"},
        # What LSP clients add: ignored, however nested (within the depth bound).
        "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
        "rootUri": None,
    },
)
FIRST_PAGES = [
    request(2, "session/list", {"limit": 5}),
    request(3, "session/list", {"limit": 3, "rootsOnly": True}),
    request(4, "session/list", {}),
    request(5, "session/list", {"limit": 1000, "parentId": None, "cursor": None}),
    request("six", "session/list", []),
]
AFTER = [
    request(7, "session/list", {"limit": 2, "rootsOnly": False}),
    request(8, "message/list", {"sessionId": "session_0000000000001"}),
    request(9, "shutdown"),
    frame(b'{"jsonrpc":"2.0","method":"exit"}'),
]


def side_by_side(
    data_dir: Path, script: list[bytes], *extra: str
) -> tuple[list[bytes], list[bytes], str]:
    """The bodies with and without early answers (the latter on a copy of the data
    directory, at the same time, its path then replaced by the original's), and the
    early run's log."""
    copy = data_dir.with_name(data_dir.name + "-full")
    shutil.rmtree(copy, ignore_errors=True)
    if data_dir.exists():
        shutil.copytree(data_dir, copy)
    full_run = start_script(copy, script, *extra, FULL_PATH)
    early, log = run_script(data_dir, script, *extra)
    full, _ = finish_script(full_run)
    shutil.rmtree(copy, ignore_errors=True)
    # Only `initialize`'s dataDir may tell the copy from the original.
    full = [body.replace(bytes(copy), bytes(data_dir)) for body in full]
    return early, full, log


def by_id(bodies: list[bytes]) -> dict[str, bytes]:
    """Each answer's exact bytes, by its id (answers to different requests may come in
    another order: a request waiting for the load is answered after later ones)."""
    answers = {}
    for body in bodies:
        message = json.loads(body)
        assert "method" not in message, body
        answers[json.dumps(message.get("id"))] = body
    return answers


def both_ways(data_dir: Path, script: list[bytes]) -> tuple[dict[str, bytes], str]:
    """The answers with and without early answers, held equal; the early run's log."""
    early, full, log = side_by_side(data_dir, script)
    assert by_id(early) == by_id(full)
    return by_id(early), log


async def populate(start_sidecar: StartSidecar, roots: int) -> None:
    sidecar = await start_sidecar()
    for number in range(roots):
        title = f"r\u00f6\u00f6t {number} \U0001f600"
        root = await sidecar.call("session/create", {"title": title})
        child = await sidecar.call("session/create", {"parentId": root["id"]})
        if number % 3 == 0:
            await sidecar.call("session/share", {"sessionId": child["id"]})
        if number % 4 == 0:
            await sidecar.call("session/share", {"sessionId": root["id"], "expiresIn": 3600})
            await sidecar.call("session/abort", {"sessionId": root["id"]})
    assert await sidecar.stop() == 0


async def test_after_a_clean_exit_the_first_answers_are_early_and_the_same(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    await populate(start_sidecar, 8)
    answers, log = both_ways(data_dir, [INITIALIZE, *FIRST_PAGES, *AFTER])
    assert ANSWERED_EARLY in log
    # Every list page was answered early: message/list, shutdown and exit handed over.
    assert f"{ANSWERED_EARLY}; 3 messages hand over" in log
    pages = [json.loads(answers[key])["result"] for key in ("2", "3", '"six"')]
    assert [len(page["sessions"]) for page in pages] == [5, 3, 16]
    assert pages[0]["nextCursor"] is not None
    assert any(info["share"] for info in pages[2]["sessions"])


async def test_a_data_directory_without_sessions_answers_early_with_an_empty_page(
    tmp_path: Path, start_sidecar: StartSidecar, data_dir: Path
) -> None:
    fresh = tmp_path / "never-used"
    answers, log = both_ways(fresh, [INITIALIZE, *FIRST_PAGES, *AFTER])
    assert ANSWERED_EARLY in log
    assert json.loads(answers["2"])["result"] == {"sessions": [], "nextCursor": None}
    await populate(start_sidecar, 0)  # an empty data directory after a clean exit
    answers, log = both_ways(data_dir, [INITIALIZE, *FIRST_PAGES, *AFTER])
    assert ANSWERED_EARLY in log
    assert json.loads(answers["2"])["result"] == {"sessions": [], "nextCursor": None}


async def test_without_a_trusted_head_nothing_is_answered_early(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    await populate(start_sidecar, 3)
    crashed = await start_sidecar()
    await crashed.call("session/create", {"title": "only in the journal"})
    await crashed.kill()
    answers, log = both_ways(data_dir, [INITIALIZE, *FIRST_PAGES, *AFTER])
    assert ANSWERED_EARLY not in log
    titles = [s["title"] for s in json.loads(answers["2"])["result"]["sessions"]]
    assert titles[0] == "only in the journal"


async def test_a_checkpoint_still_writing_at_a_clean_exit_leaves_a_head_the_next_start_trusts(
    tmp_path: Path, data_dir: Path
) -> None:
    """The fifth change starts a checkpoint, which the slowed fsyncs keep writing while
    the client shuts the sidecar down: the exit's own checkpoint and catalogue come after
    it, and the next start answers early (after 20,000 creates, a round number of
    checkpoints, it did not)."""
    require(strace_problem())
    sidecar = await start_with_held_fsync(
        data_dir, [], "1+", 0.2, tmp_path / "trace.log", "--checkpoint-every", "5"
    )
    for number in range(5):
        await sidecar.call("session/create", {"title": f"batch {number}"})
    assert await sidecar.stop() == 0
    answers, log = both_ways(data_dir, [INITIALIZE, *FIRST_PAGES, *AFTER])
    assert ANSWERED_EARLY in log
    titles = [s["title"] for s in json.loads(answers["2"])["result"]["sessions"]]
    assert titles == [f"batch {number}" for number in range(4, -1, -1)]


ODD_FIRST_MESSAGES = {
    "a list before initialize": [request(2, "session/list", {}), INITIALIZE],
    "initialized before initialize": [
        frame(b'{"jsonrpc":"2.0","method":"initialized"}'),
        INITIALIZE,
    ],
    "initialize twice": [INITIALIZE, request(2, "initialize", {})],
    "processId 0": [request(1, "initialize", {"processId": 0})],
    "processId as text": [request(1, "initialize", {"processId": "12"})],
    "processId true": [request(1, "initialize", {"processId": True})],
    "processId past pid_t": [request(1, "initialize", {"processId": 2**31})],
    "snake-case processId": [request(1, "initialize", {"process_id": None})],
    "clientInfo without a name": [request(1, "initialize", {"clientInfo": {"version": "1"}})],
    "protocolVersion as text": [request(1, "initialize", {"protocolVersion": "1"})],
    "params nested past the bound": [
        request(1, "initialize", {"x": json.loads("[" * 130 + "]" * 130)})
    ],
    "params as text": [frame(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":"x"}')],
    "a float id": [frame(b'{"jsonrpc":"2.0","id":1.5,"method":"initialize"}')],
    "a null id": [frame(b'{"jsonrpc":"2.0","id":null,"method":"initialize"}')],
    "a response": [frame(b'{"jsonrpc":"2.0","id":1,"result":null}'), INITIALIZE],
    "not JSON": [frame(b"{"), INITIALIZE],
    "a broken header": [b"Content-Lemgth: 3\r\n\r\n{}\r\n", INITIALIZE],
    "an oversized frame": [
        frame(
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"' + b"y" * 5000 + b'"}}'
        ),
        INITIALIZE,
    ],
    "limit 0": [INITIALIZE, request(2, "session/list", {"limit": 0})],
    "limit 1001": [INITIALIZE, request(2, "session/list", {"limit": 1001})],
    "limit 5.0": [
        INITIALIZE,
        frame(b'{"jsonrpc":"2.0","id":2,"method":"session/list","params":{"limit":5.0}}'),
    ],
    "limit true": [INITIALIZE, request(2, "session/list", {"limit": True})],
    "rootsOnly as text": [INITIALIZE, request(2, "session/list", {"rootsOnly": "yes"})],
    "snake-case roots_only": [INITIALIZE, request(2, "session/list", {"roots_only": True})],
    "a parent": [INITIALIZE, request(2, "session/list", {"parentId": "session_0000000000001"})],
    "a cursor": [INITIALIZE, request(2, "session/list", {"cursor": "1.2"})],
    "a cancel": [
        INITIALIZE,
        frame(b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}'),
        request(2, "session/list", {}),
    ],
    "a list as a notification": [
        INITIALIZE,
        frame(b'{"jsonrpc":"2.0","method":"session/list","params":{}}'),
        request(2, "session/list", {}),
    ],
}


@pytest.fixture(scope="module")
def headed_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory of 30 sessions after a clean exit."""
    data_dir = tmp_path_factory.mktemp("headed") / "data"
    script = (
        [INITIALIZE]
        + [request(10 + number, "session/create", {"title": f"s{number}"}) for number in range(30)]
        + [request(9, "shutdown"), frame(b'{"jsonrpc":"2.0","method":"exit"}')]
    )
    run_script(data_dir, script)
    return data_dir


@pytest.mark.parametrize("script", ODD_FIRST_MESSAGES.values(), ids=ODD_FIRST_MESSAGES.keys())
def test_odd_first_messages_get_the_full_paths_answers(
    headed_data_dir: Path, script: list[bytes]
) -> None:
    last = request(99, "session/list", {"limit": 1})
    early, full, _ = side_by_side(headed_data_dir, [*script, last], "--max-frame-bytes", "4096")
    assert sorted(early) == sorted(full)


def test_the_early_path_imports_neither_pydantic_nor_pygls() -> None:
    heavy = {"pydantic", "pygls", "lsprotocol", "cattrs", "asyncio", "importlib.metadata"}
    code = (
        "import sys, plue_sidecar.early.start, plue_sidecar.cli\n"
        "names = set(sys.modules) | {m.split('.')[0] for m in sys.modules}\n"
        f"print(sorted(names & {heavy!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COVERAGE_PROCESS_START": ""},
    )
    assert done.stdout.strip() == "[]"


def test_initialize_is_answered_as_its_model_says_and_lists_every_method() -> None:
    from plue_sidecar.app import Sidecar  # noqa: PLC0415 - the full path, for its methods
    from plue_sidecar.settings import Settings  # noqa: PLC0415

    result: dict[str, Any] = initialize_result("/data", ["echo", "x"])
    model = InitializeResult.model_validate(result)
    assert model.model_dump(mode="json", by_alias=True) == result
    assert Sidecar(Settings(data_dir=Path("/nonexistent"))).methods == METHODS


async def test_a_sigterm_right_after_an_early_initialize_ends_the_sidecar_cleanly(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    await populate(start_sidecar, 2)
    process = subprocess.Popen(
        sidecar_command(data_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(INITIALIZE)
    process.stdin.flush()
    header = process.stdout.readline()
    assert header.startswith(b"Content-Length: ")
    process.terminate()
    assert process.wait(30) == 0
    process.stdin.close()
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()
    again = await start_sidecar()
    assert len((await again.call("session/list", {}))["sessions"]) == 4


def damage_head(data_dir: Path, change: str) -> None:
    catalogue = data_dir / "catalogue.json"
    head_line, _, body = catalogue.read_bytes().partition(b"\n")
    head = json.loads(head_line)
    if change == "another version":
        head["version"] -= 1
    elif change == "a count as text":
        head["total"] = str(head["total"])
    elif change == "a share's time as a float":
        shared = next(row for row in head["newest"] if row[10] is not None)
        shared[10][1] = float(shared[10][1])
    elif change == "a short row":
        head["newestRoots"][0].pop()
    head_line = b"{" + head_line if change == "not JSON" else json.dumps(head).encode()
    if change == "an unreadable migration marker":
        (data_dir / "migrations.json").write_text("{")
    catalogue.write_bytes(head_line + b"\n" + body)


@pytest.mark.parametrize(
    "change",
    [
        "another version",
        "not JSON",
        "a count as text",
        "a share's time as a float",
        "a short row",
        "an unreadable migration marker",
    ],
)
async def test_a_head_that_is_not_exactly_as_written_answers_nothing_early(
    start_sidecar: StartSidecar, data_dir: Path, change: str
) -> None:
    await populate(start_sidecar, 4)
    damage_head(data_dir, change)
    answers, log = both_ways(data_dir, [INITIALIZE, *FIRST_PAGES, *AFTER])
    assert ANSWERED_EARLY not in log
    assert len(json.loads(answers["2"])["result"]["sessions"]) == 5
