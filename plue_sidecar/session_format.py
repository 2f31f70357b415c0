"""What a session id and a stored session's version look like.

A leaf of its own, without pydantic, so that the early answers (see `early`) can read
the catalogue's head before the models are imported.
"""

from __future__ import annotations

SESSION_ID_PATTERN = r"session_[0-9]{13,32}"
"""A whole session id, unanchored: match it with `re.fullmatch` (with `re.match`, `$`
also matches before a trailing newline)."""
SESSION_ID_PREFIX = "session_"
SESSION_SCHEMA_VERSION = 1


def id_number(session_id: str) -> int:
    """The millisecond number of a well-formed session id."""
    return int(session_id[len(SESSION_ID_PREFIX) :])
