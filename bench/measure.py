"""Figures: medians and p99 of samples, rates, and the floors' own measurements."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.rpc_client import PYTHON, RpcClient

HERE = Path(__file__).resolve().parent


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p99": p99, "n": len(ordered)}


async def time_ms(action: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await action()
    return (time.perf_counter() - start) * 1000


async def cold_start_ms(command: list[str], then: Callable[[RpcClient], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    client = await RpcClient.spawn(*command)
    await client.call("initialize", {"processId": None})
    await then(client)
    elapsed = (time.perf_counter() - start) * 1000
    await client.close()
    return elapsed


async def nothing(client: RpcClient) -> None:
    return None


def python_start_ms() -> float:
    start = time.perf_counter()
    subprocess.run([PYTHON, "-c", "pass"], check=True)
    return (time.perf_counter() - start) * 1000


def raw_command(*extra: str) -> list[str]:
    return [PYTHON, str(HERE / "floor_raw.py"), *extra]


def pygls_command(*extra: str) -> list[str]:
    return [PYTHON, str(HERE / "floor_pygls.py"), *extra]


async def sequential_ms(client: RpcClient, method: str, params: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await client.call(method, params)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


Probe = tuple[RpcClient, str, Any, int]
"""A client, a method, its params, and how many round trips to time."""


async def sequential_in_turns(probes: Sequence[Probe], blocks: int = 10) -> list[list[float]]:
    """Each probe's round trips (ms), timed one at a time in `blocks` rounds that each
    take a share of every probe's count in turn, in reverse every other round: on this
    project's shared machine a request's median moves by a third within seconds, and in
    turns that falls on every probe alike."""
    samples: list[list[float]] = [[] for _ in probes]
    numbered = list(enumerate(probes))
    for block in range(blocks):
        for index, (client, method, params, count) in (
            numbered if block % 2 == 0 else numbered[::-1]
        ):
            samples[index] += await sequential_ms(client, method, params, max(1, count // blocks))
    return samples


async def rate_in_flight(
    client: RpcClient, method: str, params: Callable[[int], Any], count: int, window: int
) -> float:
    """Requests per second with `window` requests always in flight: timed until the last
    request is sent, when every one before the last `window` has been answered. What
    follows is the window draining, fewer and fewer in flight, and is not timed: over a
    short run it weighed on the rate (1,000 creates: 6 % of them are the drain)."""
    semaphore = asyncio.Semaphore(window)
    sent = 0
    last_sent = 0.0

    async def one(index: int) -> None:
        nonlocal sent, last_sent
        async with semaphore:
            sent += 1
            if sent == count:
                last_sent = time.perf_counter()
            answer = await client.send(method, params(index))
            if "error" in answer:
                raise RuntimeError(answer["error"])

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    if count <= window:
        return count / (time.perf_counter() - start)
    return (count - window) / (last_sent - start)


def sqlite_inserts_per_second(directory: Path, count: int, writers: int) -> float:
    """sqlite3, WAL, synchronous=FULL, one durable insert (a session document) per operation."""
    path = directory / f"floor-{writers}.sqlite"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, doc TEXT)")
    setup.commit()
    setup.close()
    local = threading.local()
    document = '{"title":"New Session","createdAt":1795000000000,"messageCount":0}'
    last_started = 0.0

    def insert(index: int) -> None:
        nonlocal last_started
        if index == count - 1:
            last_started = time.perf_counter()
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(path, timeout=60, isolation_level=None)
            connection.execute("PRAGMA synchronous=FULL")
            local.connection = connection
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO sessions VALUES (?, ?)", (f"s{writers}-{index}", document))
        connection.execute("COMMIT")

    start = time.perf_counter()
    if writers == 1:
        for index in range(count):
            insert(index)
    else:
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(insert, range(count)))
    if 1 < writers < count:
        # Timed as `rate_in_flight` is: until the last insert starts, when every writer
        # is busy and every insert before theirs is done.
        rate = (count - writers) / (last_started - start)
    else:
        rate = count / (time.perf_counter() - start)
    os.unlink(path)
    return rate


async def raw_with_sqlite(path: Path, *extra: str) -> RpcClient:
    """The raw floor making one durable sqlite insert in `path` for each request: a
    round trip and an insert, in series (its first insert made, as the sidecar's first
    create is before it is timed). `extra`: the floor's options (`--off-loop`)."""
    client = await RpcClient.spawn(*raw_command(str(path), *extra))
    await client.call("initialize", {})
    await client.call("session/create", {})
    return client


def remove_sqlite(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def per_second(samples_ms: list[float]) -> float:
    """Requests per second of round trips made one after another."""
    return len(samples_ms) / (sum(samples_ms) / 1000)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "python": sys.version.split()[0]}
