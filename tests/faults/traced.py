"""A sidecar run under strace that fails chosen syncs (fsync, fdatasync) with EIO, or
holds them back.

`strace -e inject=fsync,fdatasync:error=EIO:when=N -P PATH` fails the Nth sync of an
open file or directory whose path is PATH (counting only those, per thread), without
running it; `delay_enter=T` instead of `error=EIO` holds it back for T before it runs.
The sidecar runs as strace's child; `kill_sidecar` SIGKILLs the sidecar itself (not
strace, whose death would only detach it).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

from pygls.client import JsonRPCClient
from pytest_lsp import ClientServerConfig

from tests.harness.client import (
    WAIT_SECONDS,
    RecordingProtocol,
    SidecarProcess,
    client_converter,
    sidecar_command,
)


def strace_command(
    trace_log: Path, paths: list[Path], when: str, effect: str = "error=EIO"
) -> list[str]:
    return [
        "strace",
        "-f",
        "-qq",
        "--seccomp-bpf",
        "-e",
        "signal=none",
        "-y",
        "-o",
        str(trace_log),
        "-e",
        "trace=fsync,fdatasync",
        "-e",
        f"inject=fsync,fdatasync:{effect}:when={when}",
        *(argument for path in paths for argument in ("-P", str(path))),
    ]


async def start_with_failing_fsync(
    data_dir: Path, paths: list[Path], when: str, trace_log: Path, *extra: str
) -> SidecarProcess:
    """A sidecar (initialized) whose fsyncs of `paths` (counted together) fail as `when`
    says ("1": the first, "2+": all from the second on); strace logs them all."""
    return await _start_traced(strace_command(trace_log, paths, when), data_dir, *extra)


async def start_with_held_fsync(
    data_dir: Path, paths: list[Path], when: str, seconds: float, trace_log: Path, *extra: str
) -> SidecarProcess:
    """A sidecar (initialized) whose fsyncs of `paths` (every path when none is given)
    chosen by `when` (counted per thread, see `start_with_failing_fsync`) run only after
    `seconds`."""
    command = strace_command(trace_log, paths, when, f"delay_enter={round(seconds * 1e6)}")
    return await _start_traced(command, data_dir, *extra)


async def _start_traced(strace: list[str], data_dir: Path, *extra: str) -> SidecarProcess:
    command = [*strace, *sidecar_command(data_dir, *extra)]
    config = ClientServerConfig(
        server_command=command,
        client_factory=lambda: JsonRPCClient(RecordingProtocol, client_converter),
        server_env=dict(os.environ),
    )
    sidecar = SidecarProcess(await config.start(), command)
    await sidecar.initialize()
    return sidecar


def traced_child(tracer_pid: int) -> int:
    children = Path(f"/proc/{tracer_pid}/task/{tracer_pid}/children").read_text().split()
    assert len(children) == 1, f"strace {tracer_pid} has children {children}"
    return int(children[0])


async def kill_sidecar(sidecar: SidecarProcess) -> None:
    """SIGKILL the sidecar under strace; strace then exits and flushes its log."""
    os.kill(traced_child(sidecar.process.pid), signal.SIGKILL)
    await sidecar.wait_exit()


async def sync_held(sidecar: SidecarProcess, timeout: float = WAIT_SECONDS) -> None:
    """Wait until one of the sidecar's threads is stopped by strace: with only the syncs
    traced, that is a sync held back (see `start_with_held_fsync`)."""
    tasks = Path(f"/proc/{traced_child(sidecar.process.pid)}/task")
    deadline = time.monotonic() + timeout
    while not any(_stopped_by_tracer(task) for task in tasks.iterdir()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no sync of the sidecar was held back within {timeout} s")
        await asyncio.sleep(0.01)


def _stopped_by_tracer(task: Path) -> bool:
    try:
        stat = (task / "stat").read_text()
    except FileNotFoundError:  # the thread has ended
        return False
    return stat[stat.rindex(")") + 2] == "t"


def injected_failures(trace_log: Path) -> list[str]:
    return [line for line in trace_log.read_text().splitlines() if "(INJECTED)" in line]


def held_syncs(trace_log: Path) -> list[str]:
    """The syncs strace held back (complete once the sidecar has exited)."""
    return [line for line in trace_log.read_text().splitlines() if "(DELAYED)" in line]


def fsyncs(trace_log: Path) -> list[tuple[str, bool]]:
    """Each sync strace saw, in order: the path synced and whether it succeeded."""
    found = []
    for line in trace_log.read_text().splitlines():
        match = re.search(r"(?:fsync|fdatasync)\(\d+<(.*)>\)\s+= (-?\d+)", line)
        if match:
            found.append((match.group(1), match.group(2) == "0"))
    return found


def synced_after_failure(trace_log: Path, *paths: Path) -> bool:
    """Whether, after the first injected failure, each of `paths` was synced
    successfully, in that order."""
    seen = fsyncs(trace_log)
    failed = next(i for i, (_, ok) in enumerate(seen) if not ok)
    wanted = [str(path) for path in paths]
    for path, ok in seen[failed + 1 :]:
        if wanted and ok and path == wanted[0]:
            wanted.pop(0)
    return not wanted


def at_rename(trace_log: Path, data_dir: Path, when: int, inject: str) -> list[str]:
    """The strace command that runs a process and, as it enters its `when`th rename
    below `data_dir`, injects `inject`: "signal=KILL" (a crash at a chosen step of a
    sequence of atomic writes and moves; the rename is not made) or "error=EIO" (the
    rename fails)."""
    return [
        "strace",
        "-f",
        "-qq",
        "-e",
        "signal=none",
        "-o",
        str(trace_log),
        "-P",
        str(data_dir),
        "-e",
        "trace=/^rename",
        "-e",
        f"inject=/^rename:{inject}:when={when}",
    ]
