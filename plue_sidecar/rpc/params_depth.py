"""How deep params may nest: checked before validation, and by the early answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_PARAMS_DEPTH = 128
"""Objects and arrays nest at most this deep in params (params itself is level 1): far
below what the encoder refuses (255) once a value is wrapped in a stored record or an
answer, so whatever is accepted can be stored and sent back."""


def path_past_depth(params: dict[str, Any], limit: int = MAX_PARAMS_DEPTH) -> str | None:
    """The dotted path of the first object or array nested below `limit` levels, if any.

    Depth first with one iterator per level: memory grows with the depth (at most
    `limit`), never with the width, and no nesting can exhaust the Python stack.
    """
    path: list[str] = []
    levels: list[Iterator[tuple[Any, Any]]] = [iter(params.items())]
    while levels:
        for key, item in levels[-1]:
            if isinstance(item, dict | list):
                if len(levels) == limit:
                    return ".".join([*path, str(key)])
                if item:
                    path.append(str(key))
                    levels.append(iter(item.items()) if isinstance(item, dict) else enumerate(item))
                    break
        else:
            levels.pop()
            if path:
                path.pop()
    return None
