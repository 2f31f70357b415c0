"""`python -m bench.ab SCENARIO ROUNDS LABEL=TREE LABEL=TREE ...`: trees of the sidecar
measured in the same rounds, in alternating order, with the median of each figure.

For a change's before and after: full `python -m bench` runs minutes apart swing by
20-30 % on a shared machine, more than most changes move a figure. Each TREE is a
checkout (a worktree of another commit, say). Its sidecars run with TREE first on
`sys.path` and from a scratch directory: `python -m` puts the current directory ahead
of PYTHONPATH, so a sidecar started from a checkout would run that checkout whatever
TREE says.

Scenarios:
- `creates`: 500 sequential creates per second; 64 in flight, creates and gets in turns
  in the same sidecar (3 each, medians) and their ratio.
- `appends`: message/append p50, one at a time; appends per second with 64 in flight
  across 64 sessions; the event loop thread's CPU per append in flight.
- `pages`: message/list, a page of 50 in a 400-message session: p50 one at a time, and
  pages per second with 64 in flight.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.measure import rate_in_flight
from bench.rpc_client import RpcClient, sidecar_command

Figures = dict[str, float]


def thread_cpu_seconds(pid: int) -> float:
    """User and system CPU of the process's main thread (its event loop)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def p50_us(client: RpcClient, method: str, params: Any, count: int) -> float:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await client.call(method, params)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


async def creates(client: RpcClient) -> Figures:
    first = await client.call("session/create", {})
    start = time.perf_counter()
    for _ in range(500):
        await client.call("session/create", {})
    sequential = 500 / (time.perf_counter() - start)
    get = {"sessionId": first["id"]}
    made, got = [], []
    for _ in range(3):
        made.append(await rate_in_flight(client, "session/create", lambda i: {}, 1000, 64))
        got.append(await rate_in_flight(client, "session/get", lambda i: get, 9000, 64))
    created, gets = statistics.median(made), statistics.median(got)
    return {
        "sequential/s": sequential,
        "in flight/s": created,
        "gets in flight/s": gets,
        "ratio to gets": created / gets,
    }


async def appends(client: RpcClient) -> Figures:
    ids = [(await client.call("session/create", {}))["id"] for _ in range(64)]

    def append(i: int) -> dict[str, Any]:
        return {
            "sessionId": ids[i % 64],
            "role": "user",
            "parts": [{"type": "text", "text": "hello " * 20}],
        }

    await rate_in_flight(client, "message/append", append, 500, 64)
    p50 = await p50_us(client, "message/append", append(0), 300)
    before, count = thread_cpu_seconds(client.process.pid), 4000
    rate = await rate_in_flight(client, "message/append", append, count, 64)
    loop_us = (thread_cpu_seconds(client.process.pid) - before) / count * 1e6
    return {"p50 us": p50, "in flight/s": rate, "loop CPU us": loop_us}


async def pages(client: RpcClient) -> Figures:
    session = (await client.call("session/create", {}))["id"]

    def append(i: int) -> dict[str, Any]:
        return {
            "sessionId": session,
            "role": "user",
            "parts": [{"type": "text", "text": f"message {i} " * 10}],
        }

    await rate_in_flight(client, "message/append", append, 400, 1)
    page = {"sessionId": session, "afterSeq": 100, "limit": 50}
    return {
        "p50 us": await p50_us(client, "message/list", page, 400),
        "in flight/s": await rate_in_flight(client, "message/list", lambda i: page, 2000, 64),
    }


SCENARIOS: dict[str, Callable[[RpcClient], Awaitable[Figures]]] = {
    "creates": creates,
    "appends": appends,
    "pages": pages,
}


async def one_sidecar(
    tree: Path, scenario: Callable[[RpcClient], Awaitable[Figures]], scratch: Path
) -> Figures:
    data_dir = Path(tempfile.mkdtemp(dir=scratch)) / "data"
    client = await RpcClient.spawn(
        *sidecar_command(data_dir), env={"PYTHONPATH": str(tree)}, cwd=scratch
    )
    await client.call("initialize", {})
    try:
        return await scenario(client)
    finally:
        await client.close()


async def run(scenario: str, rounds: int, trees: list[tuple[str, Path]]) -> None:
    measure = SCENARIOS[scenario]
    results: dict[str, list[Figures]] = {label: [] for label, _ in trees}
    with tempfile.TemporaryDirectory(prefix="plue-ab-", dir="/var/tmp") as scratch:
        for round_ in range(rounds):
            for label, tree in trees if round_ % 2 == 0 else trees[::-1]:
                results[label].append(await one_sidecar(tree, measure, Path(scratch)))
    for label, rows in results.items():
        medians = {name: statistics.median(row[name] for row in rows) for name in rows[0]}
        print(
            f"{label:>8}  "
            + "  ".join(
                f"{name} {value:,.3g}" if value < 10 else f"{name} {value:,.0f}"
                for name, value in medians.items()
            )
        )


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in SCENARIOS or not argv[1].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    trees = []
    for spec in argv[2:]:
        label, _, path = spec.partition("=")
        tree = Path(path).resolve()
        compileall.compile_dir(tree / "plue_sidecar", quiet=1)
        trees.append((label, tree))
    asyncio.run(run(argv[0], int(argv[1]), trees))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
