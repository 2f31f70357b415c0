"""The rows of cost as work grows: the same requests at each number of sessions, and
at each length of one session's history, against the same at the smallest."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import datasets
from bench.datasets import TEXT
from bench.measure import sequential_in_turns, summary
from bench.rpc_client import RpcClient, sidecar_command
from plue_sidecar.store.files.layout import Layout

if TYPE_CHECKING:
    from bench.scenarios import Bench

BLOCKS = 10
PROCESSES = 3


async def appending_to(data_dir: Path, session_id: str) -> tuple[RpcClient, dict[str, Any]]:
    """A sidecar on `data_dir` whose history of `session_id` one append has loaded, and
    that append's params."""
    client = await RpcClient.spawn(*sidecar_command(data_dir))
    await client.call("initialize", {})
    append = {"sessionId": session_id, "role": "user", "parts": TEXT}
    await client.call("message/append", append)
    return client, append


async def catalogue_saved(data_dir: Path, at_most: float = 120.0) -> None:
    """Wait until the sidecar on `data_dir` has saved the catalogue its data directory
    lacked (2 s after its load): measured beside that save, the largest step's requests
    shared the interpreter with it."""
    deadline = time.monotonic() + at_most
    while not Layout(data_dir).catalogue_file.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


@dataclass
class Step:
    """One size's sidecar and what is measured on it: name, method, params, how many."""

    client: RpcClient
    requests: list[tuple[str, str, Any, int]]


async def add_rows_in_turns(
    bench: Bench,
    data_dirs: dict[int, Path],
    open_step: Callable[[int, Path], Awaitable[Step]],
    scenario: str,
) -> None:
    """Rows for every size past the smallest against it: every size's sidecar open at
    once, their requests timed in turns (see `sequential_in_turns`), `PROCESSES` times
    with sidecars of their own (one process can run a fifth slower than another on the
    same data for its whole life)."""
    samples: dict[tuple[str, int], list[float]] = defaultdict(list)
    for _ in range(PROCESSES):
        steps = [(count, await open_step(count, data_dir)) for count, data_dir in data_dirs.items()]
        for data_dir in data_dirs.values():
            await catalogue_saved(data_dir)
        measured = [(name, count) for count, step in steps for name, *_ in step.requests]
        probes = [
            (step.client, method, params, total // PROCESSES)
            for _, step in steps
            for _, method, params, total in step.requests
        ]
        for key, times in zip(measured, await sequential_in_turns(probes, BLOCKS), strict=True):
            samples[key] += times
        for _, step in steps:
            await step.client.close()
    for data_dir in data_dirs.values():
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    names = dict.fromkeys(name for name, _ in samples)  # in the order first measured
    medians = {
        name: [summary(samples[name, count])["median"] for count in data_dirs] for name in names
    }
    bench.add_growth(medians, tuple(data_dirs), scenario)


async def cost_as_sessions_grow(bench: Bench) -> None:
    """get, a list page, an append and a message page, at each number of sessions,
    against the same at the smallest."""
    data_dirs: dict[int, Path] = {}
    for count in bench.sizes.session_steps:
        data_dirs[count] = bench.fresh_dir(f"sessions-{count}")
        datasets.write_sessions(data_dirs[count], count)
    requests = bench.sizes.requests

    async def open_step(count: int, data_dir: Path) -> Step:
        client = await RpcClient.spawn(*sidecar_command(data_dir))
        await client.call("initialize", {})
        some = (await client.call("session/list", {"limit": 1}))["sessions"][0]["id"]
        session = {"sessionId": some}
        append = {**session, "role": "user", "parts": TEXT}
        for _ in range(60):
            await client.call("message/append", append)
        return Step(
            client,
            [
                ("session/get", "session/get", session, requests),
                ("session/list page of 50", "session/list", {"limit": 50}, requests),
                ("message/append", "message/append", append, 200),
                ("message/list page of 50", "message/list", {**session, "limit": 50}, requests),
            ],
        )

    await add_rows_in_turns(bench, data_dirs, open_step, "{name} with {count:,} sessions")


async def cost_as_a_history_grows(bench: Bench) -> None:
    """An append and the last message page, at each length of one session's history,
    against the same at the shortest."""
    data_dirs: dict[int, Path] = {}
    session_ids: dict[int, str] = {}
    for count in bench.sizes.message_steps:
        data_dirs[count] = bench.fresh_dir(f"history-{count}")
        session_ids[count] = datasets.write_long_session(data_dirs[count], count)

    async def open_step(count: int, data_dir: Path) -> Step:
        client, append = await appending_to(data_dir, session_ids[count])
        last_page = {"sessionId": session_ids[count], "afterSeq": count - 49, "limit": 50}
        return Step(
            client,
            [
                ("message/append", "message/append", append, 200),
                ("message/list, last page of 50", "message/list", last_page, bench.sizes.requests),
            ],
        )

    await add_rows_in_turns(bench, data_dirs, open_step, "{name} in a {count:,}-message session")
