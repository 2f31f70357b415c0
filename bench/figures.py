"""A figure of the benchmark: a value, the floor it is held to and its verdict."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    scenario: str
    figure: str
    value: float
    unit: str
    floor: str | None = None
    floor_value: float | None = None
    target: str = ""
    met: bool | None = None
    p99: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.floor_value in (None, 0):
            return None
        assert self.floor_value is not None
        return self.value / self.floor_value
