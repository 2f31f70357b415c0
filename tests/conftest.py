from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.harness.client import RpcError, SidecarProcess
from tests.harness.raw import RawSidecar


async def end_gracefully(process: asyncio.subprocess.Process) -> None:
    """Close stdin so the sidecar exits by itself (and writes its coverage); else kill."""
    if process.returncode is not None:
        return
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


StartSidecar = Callable[..., Awaitable[SidecarProcess]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def start_sidecar(data_dir: Path) -> AsyncIterator[StartSidecar]:
    """Start sidecars (initialized unless told not to); every one is stopped at the end."""
    started: list[SidecarProcess] = []

    async def start(
        *extra: str, initialize: bool = True, directory: Path | None = None, **env: str
    ) -> SidecarProcess:
        sidecar = await SidecarProcess.start(directory or data_dir, *extra, env=env)
        started.append(sidecar)
        if initialize:
            try:
                await sidecar.initialize()
            except RpcError as failure:
                await end_gracefully(sidecar.process)
                log = (await sidecar.stderr_text())[-4000:]
                raise AssertionError(f"initialize failed: {failure}\n{log}") from None
        return sidecar

    yield start
    for sidecar in started:
        if sidecar.process.returncode is None:
            await end_gracefully(sidecar.process)
        await sidecar.client.stop()


@pytest.fixture
async def sidecar(start_sidecar: StartSidecar) -> SidecarProcess:
    return await start_sidecar()


@pytest.fixture
async def raw_sidecar(data_dir: Path) -> AsyncIterator[RawSidecar]:
    """A sidecar spoken to byte by byte, not yet initialized."""
    raw = await RawSidecar.start(data_dir)
    yield raw
    await end_gracefully(raw.process)
