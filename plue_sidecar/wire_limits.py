"""Bounds of the wire's params that the early answers check before pydantic is
imported; the models (`models.wire`) are built from the same numbers."""

from __future__ import annotations

MAX_PROCESS_ID = 2**31 - 1
"""pid_t is a signed 32-bit integer: a larger processId names no process."""
MAX_PAGE_LIMIT = 1000
"""The largest page a client may ask for."""
SESSION_PAGE_DEFAULT = 100
"""`session/list`'s page when `limit` is not given."""
