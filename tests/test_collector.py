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


async def test_it_stays_off_while_requests_are_in_flight(collector_off: None) -> None:
    in_flight = True
    resumed = asyncio.create_task(
        collector.resume_when(nothing_to_load, busy=lambda: in_flight, quiet_within=30)
    )
    await asyncio.sleep(collector.SETTLE_SECONDS + 5 * collector.QUIET_SECONDS)
    assert not resumed.done()
    assert not gc.isenabled()
    in_flight = False
    await asyncio.wait_for(resumed, 5)
    assert gc.isenabled()


async def test_it_comes_back_on_for_a_client_that_never_pauses(collector_off: None) -> None:
    await asyncio.wait_for(
        collector.resume_when(nothing_to_load, busy=lambda: True, quiet_within=0.05), 5
    )
    assert gc.isenabled()


async def nothing_to_load() -> None:
    return None
