"""What a client is answered while the sidecar exits is what the next start shows.

At exit the sidecar waits a while for the requests in flight, then closes the store
under those still writing; a write answered as a success after that must still be on
disk after a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from plue_sidecar.app import PENDING_REQUESTS_SECONDS
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import Layout, journal_path
from plue_sidecar.store.journal.journal import read_journal
from tests.conftest import StartSidecar
from tests.faults.capabilities import require, strace_problem
from tests.faults.traced import held_syncs, kill_sidecar, start_with_held_fsync
from tests.harness.client import WAIT_SECONDS
from tests.harness.in_process import core_at, storage_at

HELD_SECONDS = int(PENDING_REQUESTS_SECONDS) + 5
"""Longer than the exit waits for requests in flight: it closes the store under them."""


async def test_a_title_answered_after_the_store_closed_under_it_survives_a_restart(
    start_sidecar: StartSidecar, data_dir: Path, tmp_path: Path
) -> None:
    """`shutdown` while a title change waits for its journal sync, held back for longer
    than the exit waits: the store closes under it, then the change is answered."""
    require(strace_problem())
    first = await start_sidecar()
    session = await first.call("session/create", {"title": "before"})
    await first.stop()  # a clean exit: the journal is empty, the next one is generation 1
    trace_log = tmp_path / "strace.log"
    journal = journal_path(Layout(data_dir).sessions_dir, 1)
    sidecar = await start_with_held_fsync(data_dir, [journal], "1", HELD_SECONDS, trace_log)
    try:
        retitled = sidecar.send(
            "session/updateTitle", {"sessionId": session["id"], "title": "after"}
        )
        shut_down = sidecar.send("shutdown")
        await sidecar.wait_for_stderr(
            "requests still in flight", PENDING_REQUESTS_SECONDS + WAIT_SECONDS
        )
        await asyncio.wait_for(shut_down, HELD_SECONDS + WAIT_SECONDS)
        answered = await asyncio.wait_for(retitled, WAIT_SECONDS)
        sidecar.protocol.notify("exit")
        assert await sidecar.wait_exit() == 0
    finally:
        if sidecar.process.returncode is None:
            await kill_sidecar(sidecar)
    assert held_syncs(trace_log), "the title's sync was not held back"
    assert answered["title"] == "after"
    restarted = await start_sidecar()
    assert (await restarted.call("session/get", {"sessionId": session["id"]}))["title"] == "after"


async def test_no_journal_generation_holding_a_record_not_yet_applied_is_removed_at_close(
    tmp_path: Path,
) -> None:
    """A record durable in the journal but not yet in memory when the store closes (its
    request resumes only after the close) stays in the journal, and the next start
    replays it. In process: only here can a record be held between the two."""
    data = tmp_path / "data"
    storage = storage_at(data)
    core = core_at(data, storage)
    await core.open()
    session = await core.sessions.create(parent_id=None, title="before", runner=None)
    renamed = dataclasses.replace(core.sessions.document(session.id), title="after")
    durable, may_apply = asyncio.Event(), asyncio.Event()

    async def rename_slowly() -> None:
        async with storage.journaled({"put": renamed.to_json()}):
            durable.set()
            await may_apply.wait()

    renaming = asyncio.create_task(rename_slowly())
    await asyncio.wait_for(durable.wait(), WAIT_SECONDS)
    core.close()
    may_apply.set()
    await renaming
    assert {"put": renamed.to_json()} in read_journal(Root(data), Layout(data).sessions_dir).records
    reopened = core_at(data)
    await reopened.open()
    assert reopened.sessions.info(session.id)["title"] == "after"
    reopened.close()
