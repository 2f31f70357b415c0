"""Freed large blocks go back to the system where the C library is glibc, and nothing
is tried elsewhere. (Through the real process: tests/test_messages.py, histories.)"""

from __future__ import annotations

import os
from unittest import mock

import pytest

from plue_sidecar.core import large_blocks


def test_glibc_takes_the_fixed_threshold() -> None:
    # This project's machines run glibc; elsewhere nothing is tried (below).
    assert large_blocks.return_freed_large_blocks() is large_blocks.is_glibc()


@pytest.mark.parametrize(
    "confstr",
    [
        mock.Mock(side_effect=ValueError("unknown name")),
        mock.Mock(return_value=None),
        mock.Mock(return_value="musl 1.2"),
    ],
)
def test_other_c_libraries_are_left_alone(confstr: mock.Mock) -> None:
    with (
        mock.patch.object(os, "confstr", confstr),
        mock.patch("ctypes.CDLL", side_effect=AssertionError("ctypes used")),
    ):
        assert large_blocks.return_freed_large_blocks() is False
