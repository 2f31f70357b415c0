"""Pauses of the cyclic collector: it is off while any pause holds, from any thread,
and back on after the last only if a pause turned it off."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from plue_sidecar.gc_pause import collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_overlapping_pauses_from_two_threads_keep_it_off_until_the_last_ends(
    collector_on: None,
) -> None:
    first_in, first_may_end = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            first_may_end.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(5)
    with collector_paused():
        seen.append(gc.isenabled())
    seen.append(gc.isenabled())  # the first pause still holds
    first_may_end.set()
    thread.join(5)
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()


def test_it_comes_back_on_when_the_paused_work_fails(collector_on: None) -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("bad log")
    assert gc.isenabled()
