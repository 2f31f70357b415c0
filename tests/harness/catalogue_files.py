"""Catalogue files as tests need them: written as version 5 wrote them (a start must
still load those), and a version 6 body's columns edited with its head kept true."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue import Entry, row_of
from plue_sidecar.store.catalogue_columns import ROW_BYTES
from plue_sidecar.store.session_store import SessionStore

V5_CHUNK_ROWS = 4096


def loaded(directory: Path) -> tuple[dict[str, Session], int, dict[str, int]]:
    """What a start loads from `directory`: the sessions by id, how many documents it
    read, and the files it could not verify."""
    store = SessionStore(directory)
    data = store.open()
    store.close()
    return ({s.id: s for s in data.sessions}, data.documents_read, dict(data.unverified.items()))


def write_version_5(
    path: Path,
    entries: list[Entry],
    directory_of: dict[str, str],
    mtimes: dict[str, int],
    *,
    taken_at_ns: int,
    chunk_rows: int = V5_CHUNK_ROWS,
) -> None:
    """The catalogue version 5 wrote of `entries` (oldest first), with no head rows."""
    directories: dict[str, list[list[Any]]] = {}
    for entry in sorted(entries, key=lambda e: (e.document.updated_at, e.document.id)):
        directories.setdefault(directory_of[entry.document.id], []).append(
            row_of(entry.document, entry.stamp)
        )
    parts: list[bytes] = [b'{"directories":{']
    offset = len(parts[0])
    chunks: list[tuple[str, int, int]] = []
    for number, (name, rows) in enumerate(directories.items()):
        opening = (b"," if number else b"") + orjson.dumps(name) + b":["
        parts.append(opening)
        offset += len(opening)
        for first in range(0, len(rows), chunk_rows):
            if first:
                parts.append(b",")
                offset += 1
            chunk = orjson.dumps(rows[first : first + chunk_rows])[1:-1]
            parts.append(chunk)
            chunks.append((name, offset, offset + len(chunk)))
            offset += len(chunk)
        parts.append(b"]")
        offset += 1
    parts.append(b"}}")
    body = b"".join(parts)
    head = {
        "version": 5,
        "takenAt": taken_at_ns,
        "mtimes": mtimes,
        "complete": False,
        "body": {"length": len(body), "crc": zlib.crc32(body), "chunks": chunks},
    }
    path.write_bytes(orjson.dumps(head) + b"\n" + body)


def edit_columns(path: Path, edit: Any) -> None:
    """Call `edit(columns)` on each chunk's columns of a version 6 catalogue, then write
    the body again with its head's offsets, length and CRC-32 made to match."""
    data = path.read_bytes()
    head_line, _, body = data.partition(b"\n")
    head = orjson.loads(head_line)
    parts: list[bytes] = []
    places = []
    offset = 0
    for name, rows, start, end in head["body"]["columns"]:
        columns = orjson.loads(body[start:end])
        edit(columns)
        text = orjson.dumps(columns)
        places.append([name, rows, offset, offset + len(text)])
        parts += [text, body[end : end + rows * ROW_BYTES]]
        offset += len(text) + rows * ROW_BYTES
    body = b"".join(parts)
    head["body"] = {"length": len(body), "crc": zlib.crc32(body), "columns": places}
    path.write_bytes(orjson.dumps(head) + b"\n" + body)


def stamped(entries: Iterable[Entry]) -> list[Session]:
    """The entries' sessions, each holding its entry's stamp as the store sets it, as
    a catalogue save takes them."""
    documents = []
    for document, stamp in entries:
        document.stamp = stamp
        documents.append(document)
    return documents
