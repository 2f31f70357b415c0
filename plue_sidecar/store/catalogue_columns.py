"""The catalogue's body from version 6: chunks of rows, column by column.

Each chunk holds up to `CHUNK_ROWS` rows of one directory as two parts, one after the
other: a JSON array of `Session`'s fields as columns (`[schemaVersions, ids, parents,
titles, createdAts, updatedAts, messageCounts, isAborteds, abortedAts, runners,
shares]`), then the rows' stamps and document checksums as little-endian binary
arrays (every inode as 64 bits unsigned, every mtime and size as 64 bits signed, every
checksum as 32 bits unsigned). A parent is the number of its row in the body when that
row is in this chunk or an earlier one (its id is then held once in memory), else its
id. The head lists each chunk as `[directory, rows, start, end]`: the JSON part is
`body[start:end]`, the binary part the `rows * 28` bytes that follow it, and each
chunk starts where the one before it ends.

Version 5's rows (a JSON array per session) took a Python object per field and a
list per row to parse, then a pass per column to take them apart: most of a start's
load. Columns parse straight into the lists `Session` is built from, and the stamps
and checksums straight into the arrays that keep them.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from collections.abc import Iterator
from operator import attrgetter
from typing import Any, BinaryIO, NamedTuple

import orjson

from plue_sidecar.models.records import Session
from plue_sidecar.store.stamps import Stamp

CHUNK_ROWS = 4096
FIELDS = 11
"""`Session`'s fields, in order: the JSON columns of a chunk."""
ROW_BYTES = 8 + 8 + 8 + 4
_BINARY = (("Q", 8), ("q", 8), ("q", 8), ("I", 4))
"""Inodes, mtimes, sizes, checksums."""
_SWAP = sys.byteorder != "little"
_FIELD_COLUMNS = [attrgetter(name) for name in (
    "schema_version", "id", "parent_id", "title", "created_at", "updated_at",
    "message_count", "is_aborted", "aborted_at", "runner")]

ChunkPlace = tuple[str, int, int, int]
"""(directory, rows, start, end) of a chunk; see the module's docstring."""


class ColumnChunk(NamedTuple):
    directory: str
    columns: list[list[Any]]
    """`Session`'s fields, with each parent as written (a row number or an id)."""
    inodes: array[int]
    mtimes: array[int]
    sizes: array[int]
    checksums: array[int]


class ColumnsChangedError(ValueError):
    """The body is not the one its head describes."""


def read_chunks(
    file: BinaryIO, places: list[ChunkPlace], length: int, crc: int
) -> Iterator[ColumnChunk]:
    """Each chunk, parsed, reading the body only as far as the chunk; the body is
    checked against its recorded length and CRC-32 after the last one (raising
    `ColumnsChangedError` then if it is not the one written)."""
    position, running = 0, 0
    for directory, rows, start, end in places:
        if start != position or end < start or rows < 0:
            raise ColumnsChangedError("the chunks are not where the head says")
        data = file.read(end - start + rows * ROW_BYTES)
        if len(data) != end - start + rows * ROW_BYTES:
            raise ColumnsChangedError("the body is shorter than its head says")
        running = zlib.crc32(data, running)
        position = end + rows * ROW_BYTES
        view = memoryview(data)
        columns = orjson.loads(view[: end - start])
        if not isinstance(columns, list) or len(columns) != FIELDS or any(
            not isinstance(column, list) or len(column) != rows for column in columns
        ):
            raise ColumnsChangedError("a chunk's columns are not of its rows")
        offset = end - start
        numbers: list[array[int]] = []
        for code, size in _BINARY:
            values = array(code)
            values.frombytes(view[offset : offset + rows * size])
            numbers.append(values)
            offset += rows * size
        if _SWAP:
            for values in numbers:
                values.byteswap()
        del view, data
        yield ColumnChunk(directory, columns, *numbers)
    if file.read(1) or position != length or running != crc:
        raise ColumnsChangedError("the body is not the one its head describes")


def resolved_parents(parents: list[Any], ids: list[str]) -> list[str | None]:
    """Each parent as an id: a row number is the id of that row of `ids` (every id so
    far, this chunk's included)."""
    numbers = [parent for parent in parents if parent.__class__ is int]
    if numbers and not (min(numbers) >= 0 and max(numbers) < len(ids)):
        raise ValueError("a parent's row is not in the catalogue")
    return [parent if parent is None or parent.__class__ is str else ids[parent]
            for parent in parents]


def body_of(
    directories: dict[str, tuple[list[Session], list[Stamp], list[int]]]
) -> tuple[bytes, list[ChunkPlace]]:
    """The body of these directories' sessions (each with its file's stamp and its
    document's checksum, in the order given), and where its chunks are."""
    row_of: dict[str, int] = {}
    for sessions, _, _ in directories.values():
        row_of.update(zip(map(attrgetter("id"), sessions),
                          range(len(row_of), len(row_of) + len(sessions)), strict=True))
    parts: list[bytes] = []
    places: list[ChunkPlace] = []
    offset = row = 0
    for name, (sessions, stamps, checksums) in directories.items():
        for first in range(0, len(sessions), CHUNK_ROWS):
            chunk = sessions[first : first + CHUNK_ROWS]
            row += len(chunk)
            columns: list[list[Any]] = [list(map(get, chunk)) for get in _FIELD_COLUMNS]
            columns[2] = [_parent_written(parent, row_of, row) for parent in columns[2]]
            columns.append([None if s.share is None else
                            [s.share.secret, s.share.created_at, s.share.expires_at]
                            for s in chunk])
            text = orjson.dumps(columns)
            numbers = _binary_of(stamps[first : first + CHUNK_ROWS],
                                 checksums[first : first + CHUNK_ROWS])
            if _SWAP:
                for values in numbers:
                    values.byteswap()
            places.append((name, len(chunk), offset, offset + len(text)))
            parts.append(text)
            parts.extend(values.tobytes() for values in numbers)
            offset += len(text) + len(chunk) * ROW_BYTES
    return b"".join(parts), places


NO_STAMP: Stamp = (0, 0, -1)
"""Written for a stamp that does not fit the arrays: no file has it, so the row never
vouches for its file, which is read instead."""


def _binary_of(stamps: list[Stamp], checksums: list[int]) -> list[array[int]]:
    try:
        return _arrays_of(stamps, checksums)
    except OverflowError:
        return _arrays_of([stamp if _fits(stamp) else NO_STAMP for stamp in stamps],
                          checksums)


def _arrays_of(stamps: list[Stamp], checksums: list[int]) -> list[array[int]]:
    inodes, mtimes, sizes = zip(*stamps, strict=True) if stamps else ((), (), ())
    return [array("Q", inodes), array("q", mtimes), array("q", sizes),
            array("I", checksums)]


def _fits(stamp: Stamp) -> bool:
    inode, mtime, size = stamp
    return 0 <= inode < 1 << 64 and all(-(1 << 63) <= n < 1 << 63 for n in (mtime, size))


def _parent_written(parent: str | None, row_of: dict[str, int], rows_so_far: int) -> Any:
    if parent is None:
        return None
    row = row_of.get(parent)
    return row if row is not None and row < rows_so_far else parent
