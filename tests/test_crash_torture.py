"""Crash torture: concurrent writers, SIGKILL at random moments, checks after every restart.

Seeded and reproducible in what it does and when it kills (set PLUE_TORTURE_SEED and
PLUE_TORTURE_KILLS to replay or to go longer); the interleaving inside the sidecar is
the operating system's.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import StartSidecar
from tests.harness.client import RpcError, SidecarProcess
from tests.harness.doctor import doctor
from tests.harness.quarantine import beyond_quarantined_logs, check_quarantine
from tests.harness.trees import descendants

SEED = int(os.environ.get("PLUE_TORTURE_SEED", "20261124"))
KILLS = int(os.environ.get("PLUE_TORTURE_KILLS", "50"))
WORKERS = 3
CHECKPOINT_EVERY = "7"
"""Checkpoints this often, so kills land in them and in the journal cuts they make."""
LOGS: list[str] = []
TEXT = [{"type": "text", "text": "torture"}]


@dataclass
class Known:
    """What the test knows of one session: acknowledged facts and writes in flight."""

    parent: str | None
    title: str
    messages: list[str] = field(default_factory=list)
    pending_titles: set[str] = field(default_factory=set)
    pending_appends: int = 0
    copied: int = 0
    """Leading messages a fork copied, whose ids the test has not looked up."""


@dataclass
class Model:
    sessions: dict[str, Known] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    pending_creates: dict[str, str | None] = field(default_factory=dict)
    """Title of a create or fork in flight -> its parent."""
    pending_deletes: Counter[str] = field(default_factory=Counter)
    """Deletes in flight, counted: two workers may delete one session at once, and the
    one answered session_not_found must not clear the other, whose answer a kill may
    swallow after its delete is durable."""
    quarantined: set[str] = field(default_factory=set)
    """What is in quarantine, checked: message logs of forks a kill cut short."""
    counter: int = 0
    acknowledged: int = 0
    """Writes answered, over every cycle."""

    def live(self) -> list[str]:
        return sorted(self.sessions)

    def descendants(self, root: str) -> set[str]:
        return descendants(self.sessions, root)


async def worker(sidecar: SidecarProcess, model: Model, rng: random.Random) -> None:
    while True:
        live = model.live()
        choice = rng.random()
        try:
            if choice < 0.3 or not live:
                await create(sidecar, model, rng.choice([None, *live]) if live else None)
            elif choice < 0.5:
                await retitle(sidecar, model, rng.choice(live))
            elif choice < 0.8:
                await append(sidecar, model, rng.choice(live))
            elif choice < 0.9:
                await fork(sidecar, model, rng.choice(live))
            else:
                await delete(sidecar, model, rng.choice(live))
        except RpcError as failure:
            # Another worker deleted the session first (and so ended requests bound to it).
            assert failure.kind in {"session_not_found", "parent_not_found", "request_cancelled"}, (
                failure
            )


async def create(sidecar: SidecarProcess, model: Model, parent: str | None) -> None:
    model.counter += 1
    title = f"c{model.counter}"
    params: dict[str, Any] = {"title": title}
    if parent is not None:
        params["parentId"] = parent
    await created(sidecar, model, "session/create", params, parent)


async def fork(sidecar: SidecarProcess, model: Model, source: str) -> None:
    model.counter += 1
    params = {"sessionId": source, "title": f"f{model.counter}"}
    await created(sidecar, model, "session/fork", params, source)


async def created(
    sidecar: SidecarProcess,
    model: Model,
    method: str,
    params: dict[str, Any],
    parent: str | None,
) -> None:
    """A create or fork: in flight until answered; refused ones are forgotten."""
    title = params["title"]
    model.pending_creates[title] = parent
    try:
        info = await sidecar.call(method, params)
    except RpcError:
        model.pending_creates.pop(title)
        raise
    model.sessions[info["id"]] = Known(parent, title, copied=info["messageCount"])
    model.pending_creates.pop(title)
    model.acknowledged += 1


async def retitle(sidecar: SidecarProcess, model: Model, session_id: str) -> None:
    model.counter += 1
    title = f"t{model.counter}"
    known = model.sessions[session_id]
    known.pending_titles.add(title)
    await sidecar.call("session/updateTitle", {"sessionId": session_id, "title": title})
    known.pending_titles.discard(title)
    known.title = title
    model.acknowledged += 1


async def append(sidecar: SidecarProcess, model: Model, session_id: str) -> None:
    known = model.sessions[session_id]
    known.pending_appends += 1
    try:
        message = await sidecar.call(
            "message/append", {"sessionId": session_id, "role": "user", "parts": TEXT}
        )
    except RpcError:
        known.pending_appends -= 1
        raise
    known.pending_appends -= 1
    known.messages.append(message["id"])
    model.acknowledged += 1


async def delete(sidecar: SidecarProcess, model: Model, session_id: str) -> None:
    model.pending_deletes[session_id] += 1
    try:
        result = await sidecar.call("session/delete", {"sessionId": session_id})
    except RpcError:
        model.pending_deletes -= Counter([session_id])
        raise
    model.pending_deletes -= Counter([session_id])
    for gone in result["deleted"]:
        model.sessions.pop(gone, None)
        model.deleted.add(gone)
    model.acknowledged += 1


async def all_sessions(sidecar: SidecarProcess) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = await sidecar.call("session/list", params)
        found.update({s["id"]: s for s in page["sessions"]})
        cursor = page["nextCursor"]
        if cursor is None:
            return found


async def verify_and_adopt(sidecar: SidecarProcess, model: Model, data_dir: Path) -> None:
    """Every acknowledged change is there; what was in flight is whole or absent."""
    present = await all_sessions(sidecar)
    maybe_deleted: set[str] = set()
    for pending in model.pending_deletes:
        if pending in model.sessions:
            maybe_deleted |= model.descendants(pending)
    for session_id in model.deleted:
        assert session_id not in present, f"{session_id} was deleted but came back"
    for session_id, known in list(model.sessions.items()):
        info = present.get(session_id)
        if info is None:
            assert session_id in maybe_deleted, (
                f"acknowledged {session_id} is missing\n{on_disk(sidecar, session_id)}"
            )
            model.sessions.pop(session_id)
            model.deleted.add(session_id)
            continue
        assert info["title"] in {known.title, *known.pending_titles}, (info, known)
        assert info["parentId"] == known.parent
        await verify_messages(sidecar, session_id, info, known)
    for session_id, info in present.items():
        if session_id in model.sessions:
            continue
        title = info["title"]
        assert title in model.pending_creates, f"{session_id} {title!r} was never asked for"
        assert info["parentId"] == model.pending_creates[title]
        copied = await sidecar.call("message/list", {"sessionId": session_id, "limit": 1000})
        assert len(copied["messages"]) == info["messageCount"]
        model.sessions[session_id] = Known(
            info["parentId"], title, [m["id"] for m in copied["messages"]]
        )
    await sidecar.until_loaded()  # the load has quarantined what it does
    acknowledged = set(model.sessions) | model.deleted
    creating = bool(model.pending_creates)
    assert check_quarantine(data_dir, model.quarantined, creating, acknowledged) == []
    model.pending_creates.clear()
    model.pending_deletes.clear()


async def verify_messages(
    sidecar: SidecarProcess, session_id: str, info: dict[str, Any], known: Known
) -> None:
    count = info["messageCount"]
    acknowledged = known.copied + len(known.messages)
    assert acknowledged <= count <= acknowledged + known.pending_appends
    page = await sidecar.call("message/list", {"sessionId": session_id, "limit": 1000})
    listed = page["messages"]
    assert [m["seq"] for m in listed] == list(range(1, count + 1)), on_disk(sidecar, session_id)
    assert [m["id"] for m in listed[known.copied : acknowledged]] == known.messages
    known.title = info["title"]
    known.pending_titles.clear()
    known.messages = [m["id"] for m in listed]
    known.pending_appends = 0
    known.copied = 0


def on_disk(sidecar: SidecarProcess, session_id: str) -> str:
    """What the data directory holds of a session, for a failure message."""
    data_dir = Path(sidecar.process_args[sidecar.process_args.index("--data-dir") + 1])
    journals = "\n".join(
        f"{path.name}: {path.read_bytes()[-3000:]!r}"
        for path in sorted(data_dir.rglob("journal-*.log"))
    )
    return (
        "\n".join(
            f"{path.name}: {path.read_bytes()[:2000]!r}"
            for path in sorted(data_dir.rglob(f"{session_id}*"))
        )
        + "\n"
        + journals
        + "\n"
        + "".join(LOGS)[-30000:]
        + sidecar.stderr.decode(errors="replace")[-3000:]
    )


async def test_acknowledged_changes_survive_fifty_kills_and_nothing_half_done_remains(
    start_sidecar: StartSidecar, data_dir: Path
) -> None:
    rng = random.Random(SEED)
    model = Model()
    cut_among_writes = 0
    for _ in range(KILLS):
        sidecar = await start_sidecar("--checkpoint-every", CHECKPOINT_EVERY, "--log-level", "INFO")
        await verify_and_adopt(sidecar, model, data_dir)
        workers = [
            asyncio.create_task(worker(sidecar, model, random.Random(rng.random())))
            for _ in range(WORKERS)
        ]
        # The kill lands among the writes, not in the import the early answers leave
        # running: that takes longer than the window on a slow machine.
        await sidecar.until_loaded()
        acknowledged_before = model.acknowledged
        await asyncio.wait(workers, timeout=rng.uniform(0.02, 0.3))
        cut_among_writes += model.acknowledged > acknowledged_before
        sidecar.process.kill()
        outcomes = await asyncio.gather(*workers, return_exceptions=True)
        await sidecar.wait_exit()
        failures = [o for o in outcomes if isinstance(o, AssertionError)]
        log = await sidecar.stderr_text()
        LOGS.append(log)
        assert not failures, (failures, log[-3000:])
        assert "Traceback" not in log, log
    sidecar = await start_sidecar()
    await verify_and_adopt(sidecar, model, data_dir)
    assert len(model.sessions) + len(model.deleted) > KILLS
    assert cut_among_writes > KILLS // 2, "too few kills landed while writes were answered"
    assert await sidecar.stop() == 0
    code, report = doctor(data_dir)
    assert beyond_quarantined_logs(report, model.quarantined) == []
    assert code == (1 if model.quarantined else 0), report
