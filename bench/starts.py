"""The cold starts, measured in turns: each round starts every process once, the floors
included, so that a swing of this shared machine falls on a row and its floor alike (in
blocks, minutes apart, the floors and the sidecar's starts drifted by 10-20 % against
each other)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import datasets
from bench.figures import Figure
from bench.measure import (
    cold_start_ms,
    nothing,
    pygls_command,
    python_start_ms,
    rate_in_flight,
    raw_command,
    summary,
)
from bench.rpc_client import RpcClient, sidecar_command

if TYPE_CHECKING:
    from bench.scenarios import Bench


async def one_get(client: RpcClient) -> None:
    """The newest session's info: a request that waits until every session is loaded."""
    newest = (await client.call("session/list", {"limit": 1}))["sessions"][0]
    await client.call("session/get", {"sessionId": newest["id"]})


async def first_page(client: RpcClient) -> None:
    await client.call("session/list", {"limit": 50})


async def crashed_after_a_change(data_dir: Path) -> None:
    """Leave `data_dir` as a kill -9 does, one change after its catalogue."""
    client = await RpcClient.spawn(*sidecar_command(data_dir))
    await client.call("initialize", {})
    newest = (await client.call("session/list", {"limit": 1}))["sessions"][0]
    await client.call(
        "session/updateTitle", {"sessionId": newest["id"], "title": "before the kill"}
    )
    await client.kill()


async def with_one_session(data_dir: Path) -> Path:
    client = await RpcClient.spawn(*sidecar_command(data_dir))
    await client.call("initialize", {})
    await client.call("session/create", {})
    await client.close()
    return data_dir


async def after_a_batch_of_creates(data_dir: Path, count: int) -> Path:
    """`count` creates, 64 in flight, the last of them starting a checkpoint (one every
    quarter of them), then a clean shutdown: what an editor's batch leaves."""
    client = await RpcClient.spawn(
        *sidecar_command(data_dir, "--checkpoint-every", str(count // 4))
    )
    await client.call("initialize", {})
    await rate_in_flight(client, "session/create", lambda index: {}, count, 64)
    await client.close()
    return data_dir


def copied(pristine: Path, bench: Bench) -> Path:
    """A copy of `pristine`, its files' and directories' times kept (as a user's own data
    directory would be: a start trusts a directory by its mtime)."""
    copy = bench.fresh_dir("batch-copy")
    shutil.copytree(pristine, copy)
    return copy


async def with_sessions(data_dir: Path, count: int) -> Path:
    datasets.write_sessions(data_dir, count)
    # One start reads every document and leaves a catalogue at its clean exit, as every
    # start after the first finds it.
    await cold_start_ms(sidecar_command(data_dir), nothing)
    return data_dir


async def cold_starts(bench: Bench) -> Path:
    """Every start row; returns the large data directory, left as a clean exit leaves it."""
    sizes = bench.sizes
    one_session = await with_one_session(bench.fresh_dir("cold-get"))
    large = await with_sessions(bench.fresh_dir("large"), sizes.sessions)
    batch = await after_a_batch_of_creates(bench.fresh_dir("batch"), sizes.batch)

    async def replayed() -> float:
        await crashed_after_a_change(large)
        return await cold_start_ms(sidecar_command(large), one_get)

    def start(
        command: Callable[[], list[str]],
        then: Callable[[RpcClient], Awaitable[Any]] = nothing,
    ) -> Callable[[], Awaitable[float]]:
        return lambda: cold_start_ms(command(), then)

    async def python() -> float:
        return python_start_ms()

    starts: dict[str, Callable[[], Awaitable[float]]] = {
        "python": python,
        "raw": start(raw_command),
        "pygls": start(pygls_command),
        "pygls + pydantic": start(lambda: pygls_command("--pydantic")),
        "empty": start(lambda: sidecar_command(bench.fresh_dir("cold"))),
        "empty, first page": start(
            lambda: sidecar_command(bench.fresh_dir("cold-list")), first_page
        ),
        "one session": start(lambda: sidecar_command(one_session), one_get),
        "large, first page": start(lambda: sidecar_command(large), first_page),
        "large": start(lambda: sidecar_command(large), one_get),
        "large, replayed": replayed,
        # Each round's start is the first after the batch: on a copy of it.
        "after a batch, first page": start(
            lambda: sidecar_command(copied(batch, bench)), first_page
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in starts}
    for _ in range(sizes.rounds):
        for name, measure in starts.items():
            samples[name].append(await measure())
    add_start_rows(bench, {name: summary(values) for name, values in samples.items()})
    return large


def add_start_rows(bench: Bench, starts: dict[str, dict[str, float]]) -> None:
    empty = starts["empty"]
    # Each floor: its name in the table, its median, and how a target names it.
    floors = {
        "pygls": ("pygls", starts["pygls"]["median"], "pygls"),
        "pygls + pydantic": (
            "pygls + pydantic",
            starts["pygls + pydantic"]["median"],
            "pygls + pydantic",
        ),
        "raw": ("raw start", starts["raw"]["median"], "raw start"),
        "python": ("python", starts["python"]["median"], "python"),
        "empty": ("empty data dir start", empty["median"], "empty"),
        "one session": ("same with one session", starts["one session"]["median"], "one session"),
    }

    def row(scenario: str, figure: str, measured: str, floor: str, limit: float | None) -> None:
        """A start against a floor: held to `limit` times it, or a report (None)."""
        name, value, short = floors[floor]
        bench.add(
            Figure(
                scenario,
                figure,
                starts[measured]["median"],
                "ms",
                name,
                value,
                "report" if limit is None else f"<= {limit:g} x {short}",
                p99=starts[measured]["p99"],
            ),
            limit,
        )

    empty_dir = "cold start, empty data dir"
    row(empty_dir, "spawn to initialize answered", "empty", "pygls", 1.1)
    row(empty_dir, "against raw", "empty", "raw", None)
    row(empty_dir, "against python -c pass", "empty", "python", None)
    row(empty_dir, "spawn to first session/list page answered", "empty, first page", "raw", 2)
    # The early answers (see plue_sidecar.early) answer initialize and the first page
    # before the rest imports; a request that needs the sessions waits for all of it.
    # That start is the floor of the rows that load every session.
    one_session = "cold start, one session on disk"
    # A start that needs every module pays for pydantic, which the stack requires and
    # bare pygls does not import: held to the stack's own start, the pygls floor
    # importing pydantic and validating one model, with nothing of the sidecar's (what
    # the sidecar's modules, store and load add). The editor's first paint is the early
    # answers' first page, held to the raw start above.
    row(
        one_session,
        "spawn to a session/get answered (every module imported)",
        "one session",
        "pygls",
        None,
    )
    row(
        one_session,
        "against pygls importing pydantic and validating one model",
        "one session",
        "pygls + pydantic",
        1.1,
    )
    row(
        one_session,
        "pygls + pydantic against pygls (the stack, no sidecar)",
        "pygls + pydantic",
        "pygls",
        None,
    )

    large = f"cold start, {bench.sizes.sessions:,} sessions on disk"
    row(large, "spawn to first session/list page answered", "large, first page", "empty", 1.5)
    row(
        large,
        "spawn to first session/list page answered, against raw",
        "large, first page",
        "raw",
        2,
    )
    # The first page comes from the catalogue's head; a get waits for everything.
    row(
        large, "spawn to a session/get answered (every session loaded)", "large", "one session", 1.5
    )
    row(
        f"cold start after {bench.sizes.batch:,} creates and a clean shutdown",
        "spawn to first session/list page answered (the first start after them)",
        "after a batch, first page",
        "raw",
        2,
    )
    row(
        f"{large}, after a kill -9",
        "spawn to a session/get answered (journal replayed)",
        "large, replayed",
        "one session",
        1.5,
    )
