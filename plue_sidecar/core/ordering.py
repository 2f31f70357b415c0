"""Sessions ordered newest `updatedAt` first, paged with keyset cursors."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

SortKey = tuple[int, int]
"""(updatedAt, id number): ascending in memory, read from the end for newest first."""


class RecencyIndex:
    def __init__(self, keys: Iterable[SortKey] = ()) -> None:
        self._keys = sorted(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: SortKey) -> None:
        bisect.insort(self._keys, key)

    def discard(self, key: SortKey) -> None:
        index = bisect.bisect_left(self._keys, key)
        if index < len(self._keys) and self._keys[index] == key:
            del self._keys[index]

    def newest_before(
        self, cursor: SortKey | None, limit: int, accept: Callable[[SortKey], bool] | None = None
    ) -> tuple[list[SortKey], bool]:
        """Up to `limit` keys older than `cursor`, newest first, and whether more remain."""
        end = len(self._keys) if cursor is None else bisect.bisect_left(self._keys, cursor)
        page: list[SortKey] = []
        index = end - 1
        while index >= 0:
            key = self._keys[index]
            index -= 1
            if accept is not None and not accept(key):
                continue
            if len(page) == limit:
                return page, True
            page.append(key)
        return page, False


def encode_cursor(key: SortKey) -> str:
    return f"{key[0]}.{key[1]}"


def decode_cursor(cursor: str) -> SortKey | None:
    updated, _, number = cursor.partition(".")
    if not (updated.isdigit() and number.isdigit()):
        return None
    return int(updated), int(number)
