"""The cyclic collector, off during the start, always comes back on."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from plue_sidecar.core import collector


@pytest.fixture
def collector_off() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


async def test_it_comes_back_on_even_if_nothing_is_ever_loaded(collector_off: None) -> None:
    never = asyncio.Event()
    await asyncio.wait_for(collector.resume_when(never.wait, at_most=0.05), 5)
    assert gc.isenabled()


async def test_it_comes_back_on_after_a_failed_load(collector_off: None) -> None:
    async def failing() -> None:
        raise OSError("the disk is gone")

    await asyncio.wait_for(collector.resume_when(failing), 5)
    assert gc.isenabled()
