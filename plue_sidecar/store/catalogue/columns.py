"""The catalogue's body: chunks of rows, column by column.

Each chunk holds up to `CHUNK_ROWS` rows of one directory as two parts, one after
the other: a JSON array of the rows' session fields as columns, in
`rows.SESSION_FIELDS`' order (`[schemaVersions, ids, parents, titles, createdAts,
updatedAts, messageCounts, isAborteds, abortedAts, runners, shares]`), then the rows'
stamps and document checksums as little-endian binary arrays (every inode as 64 bits
unsigned, every mtime and size as 64 bits signed, every checksum as 32 bits
unsigned). A parent is the number of its row in the body when that row is in this
chunk or an earlier one (its id is then held once in memory), else its id. The head
lists each chunk as `[directory, rows, start, end]`: the JSON part is
`body[start:end]`, the binary part the `rows * 28` bytes that follow it, and each
chunk starts where the one before it ends.

Rows written as JSON arrays (version 5) took a Python object per field and a list per
row to parse, then a pass per column to take them apart: most of a start's load.
Columns parse straight into the lists `Session` is built from, and the stamps and
checksums straight into the arrays that keep them.
"""

from __future__ import annotations

import os
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any, BinaryIO, NamedTuple, TypeAlias

import orjson

from plue_sidecar.fd_io import write_all
from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue import rows as row_layout
from plue_sidecar.store.catalogue.order import ParentRows
from plue_sidecar.store.catalogue.stamp_rows import HeldStamp, RowWalk, StampRows
from plue_sidecar.store.files.stamps import Stamp

CHUNK_ROWS = 4096
FIELDS = len(row_layout.SESSION_FIELDS)
_FIELD_COLUMNS = [attrgetter(name) for name in row_layout.SESSION_FIELDS[: row_layout.SHARE]]
"""Each column before the shares, read from the sessions in C."""
ROW_BYTES = 8 + 8 + 8 + 4
_BINARY = (("Q", 8), ("q", 8), ("q", 8), ("I", 4))
"""Inodes, mtimes, sizes, checksums."""
_SWAP = sys.byteorder != "little"
Directory: TypeAlias = "tuple[list[Session], list[HeldStamp], array[int]]"
"""A directory's sessions, in the order written, each with its file's stamp (True:
the one in its row of a `StampRows`) and its document's checksum."""
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
        if (
            not isinstance(columns, list)
            or len(columns) != FIELDS
            or any(not isinstance(column, list) or len(column) != rows for column in columns)
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
    return [
        parent if parent is None or parent.__class__ is str else ids[parent] for parent in parents
    ]


_ABOVE_ANY_OFFSET = 10**15
"""More digits than any body's length or offset: a head written with it in their place
is at least as long as the real one."""


def write_with_head(
    fd: int,
    head: dict[str, Any],
    directories: dict[str, Directory],
    parent_rows: ParentRows,
    stamp_rows: StampRows,
) -> None:
    """The catalogue's file: the body, chunk by chunk as it is made, after room for
    `head` (given all but its "body"); then the head line, with the body's length,
    CRC-32 and chunks, padded with spaces to fill that room (JSON allows them before
    the line's end). Held whole, the body and the file made of it took about 25 MB at
    100,000 sessions, and each chunk's JSON made whole 1 MB (orjson's bytes hold twice
    their length). `stamp_rows`: the rows of the stamps `directories` hold as True."""
    placeholder = {
        "length": _ABOVE_ANY_OFFSET,
        "crc": 0xFFFFFFFF,
        "columns": [
            [name, rows, _ABOVE_ANY_OFFSET, _ABOVE_ANY_OFFSET]
            for name, rows in _chunk_rows(directories)
        ],
    }
    room = len(orjson.dumps({**head, "body": placeholder}))
    os.lseek(fd, room + 1, os.SEEK_SET)
    places: list[ChunkPlace] = []
    offset = crc = 0

    def put(part: bytes) -> None:
        nonlocal offset, crc
        write_all(fd, part)
        crc = zlib.crc32(part, crc)
        offset += len(part)

    for chunk in _body_chunks(directories, parent_rows, stamp_rows):
        start = offset
        for separator, column in zip(_SEPARATORS, chunk.columns, strict=True):
            put(separator + orjson.dumps(column))  # a column at a time: see above
        put(b"]")
        places.append((chunk.directory, chunk.rows, start, offset))
        put(chunk.numbers)
        del chunk  # before the next is made
    line = orjson.dumps({**head, "body": {"length": offset, "crc": crc, "columns": places}})
    if len(line) > room:
        raise AssertionError("the catalogue's head outgrew the room made for it")
    os.lseek(fd, 0, os.SEEK_SET)
    write_all(fd, line.ljust(room) + b"\n")


_SEPARATORS = (b"[", *(b"," for _ in range(FIELDS - 1)))
"""Before each column of a chunk's JSON part (which ends with "]")."""


class _BodyChunk(NamedTuple):
    directory: str
    rows: int
    columns: list[list[Any]]
    """The JSON part, as values."""
    numbers: bytes
    """The binary part: `rows * ROW_BYTES` bytes."""


def _chunk_rows(directories: dict[str, Directory]) -> Iterator[tuple[str, int]]:
    """The directory and the rows of each chunk `_body_chunks` yields, in order."""
    for name, (sessions, _, _) in directories.items():
        for first in range(0, len(sessions), CHUNK_ROWS):
            yield name, min(CHUNK_ROWS, len(sessions) - first)


def _body_chunks(
    directories: dict[str, Directory],
    parent_rows: ParentRows,
    stamp_rows: StampRows,
) -> Iterator[_BodyChunk]:
    """The body of these directories' sessions, chunk by chunk, each made as it is asked
    for: the body is written as it is made, never held whole."""
    row = 0
    walk = RowWalk(stamp_rows)
    for name, (sessions, stamps, checksums) in directories.items():
        for first in range(0, len(sessions), CHUNK_ROWS):
            chunk = sessions[first : first + CHUNK_ROWS]
            row += len(chunk)
            columns: list[list[Any]] = [list(map(get, chunk)) for get in _FIELD_COLUMNS]
            parents = columns[row_layout.PARENT_ID]
            columns[row_layout.PARENT_ID] = [
                _parent_written(parent, parent_rows, row) for parent in parents
            ]
            columns.append([row_layout.share_fields(session.share) for session in chunk])
            numbers = _binary_of(
                (
                    walk.stamp(session.id, saved)
                    for session, saved in zip(
                        chunk, stamps[first : first + CHUNK_ROWS], strict=True
                    )
                ),
                checksums[first : first + CHUNK_ROWS],
            )
            if _SWAP:
                for values in numbers:
                    values.byteswap()
            yield _BodyChunk(
                name, len(chunk), columns, b"".join(values.tobytes() for values in numbers)
            )


NO_STAMP: Stamp = (0, 0, -1)
"""Written for a stamp that does not fit the arrays: no file has it, so the row never
vouches for its file, which is read instead."""


def _binary_of(stamps: Iterable[Stamp], checksums: array[int]) -> list[array[int]]:
    """The chunk's binary part, each stamp put straight into the arrays (a list of
    them took a tuple and three ints a row)."""
    inodes, mtimes, sizes = array("Q"), array("q"), array("q")
    for inode, mtime, size in stamps:
        try:
            inodes.append(inode)
            mtimes.append(mtime)
            sizes.append(size)
        except OverflowError:
            del inodes[len(sizes) :], mtimes[len(sizes) :]
            for values, number in zip((inodes, mtimes, sizes), NO_STAMP, strict=True):
                values.append(number)
    return [inodes, mtimes, sizes, checksums]


def _parent_written(parent: str | None, rows: ParentRows, rows_so_far: int) -> Any:
    if parent is None:
        return None
    row = rows.row(parent)
    return row if row is not None and row < rows_so_far else parent
