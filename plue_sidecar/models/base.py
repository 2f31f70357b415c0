"""Shared pydantic configuration: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from plue_sidecar.session_format import SESSION_ID_PATTERN

SessionId = Annotated[str, StringConstraints(pattern=rf"^{SESSION_ID_PATTERN}$", max_length=40)]
"""Anchored: pydantic searches its pattern (in Rust's regex, where `$` is the end of the
text, never before a trailing newline)."""
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Millis = int


class WireModel(BaseModel):
    """A model that reads and writes camelCase JSON and ignores unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        # Validators are built on first use: the first answer (initialize) needs two
        # models, and building all of them up front delays it by about 0.1 s.
        defer_build=True,
    )
