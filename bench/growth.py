"""The rows of cost as work grows: the same requests at each number of sessions, and
at each length of one session's history, against the same at the smallest."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import datasets
from bench.datasets import TEXT
from bench.measure import sequential_ms, summary
from bench.rpc_client import RpcClient, sidecar_command

if TYPE_CHECKING:
    from bench.scenarios import Bench


async def appending_to(data_dir: Path, session_id: str) -> tuple[RpcClient, dict[str, Any]]:
    """A sidecar on `data_dir` whose history of `session_id` one append has loaded, and
    that append's params."""
    client = await RpcClient.spawn(*sidecar_command(data_dir))
    await client.call("initialize", {})
    append = {"sessionId": session_id, "role": "user", "parts": TEXT}
    await client.call("message/append", append)
    return client, append


async def cost_as_sessions_grow(bench: Bench) -> None:
    """get, a list page, an append and a message page, at each number of sessions,
    against the same at the smallest."""
    medians: dict[str, list[float]] = {}
    steps = bench.sizes.session_steps
    for count in steps:
        data_dir = bench.fresh_dir(f"sessions-{count}")
        datasets.write_sessions(data_dir, count)
        client = await RpcClient.spawn(*sidecar_command(data_dir))
        await client.call("initialize", {})
        some = (await client.call("session/list", {"limit": 1}))["sessions"][0]["id"]
        session = {"sessionId": some}
        append = {**session, "role": "user", "parts": TEXT}
        for _ in range(60):
            await client.call("message/append", append)
        requests = bench.sizes.requests
        for name, method, params in (
            ("session/get", "session/get", session),
            ("session/list page of 50", "session/list", {"limit": 50}),
            ("message/append", "message/append", append),
            ("message/list page of 50", "message/list", {**session, "limit": 50}),
        ):
            times = await sequential_ms(client, method, params,
                                        requests if "append" not in name else 200)
            medians.setdefault(name, []).append(summary(times)["median"])
        await client.close()
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    bench.add_growth(medians, steps, "{name} with {count:,} sessions")


async def cost_as_a_history_grows(bench: Bench) -> None:
    """An append and the last message page, at each length of one session's history,
    against the same at the shortest."""
    medians: dict[str, list[float]] = {}
    steps = bench.sizes.message_steps
    for count in steps:
        data_dir = bench.fresh_dir(f"history-{count}")
        session_id = datasets.write_long_session(data_dir, count)
        client, append = await appending_to(data_dir, session_id)
        last_page = {"sessionId": session_id, "afterSeq": count - 49, "limit": 50}
        medians.setdefault("message/append", []).append(summary(
            await sequential_ms(client, "message/append", append, 200))["median"])
        medians.setdefault("message/list, last page of 50", []).append(summary(
            await sequential_ms(client, "message/list", last_page,
                                bench.sizes.requests))["median"])
        await client.close()
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    bench.add_growth(medians, steps, "{name} in a {count:,}-message session")

