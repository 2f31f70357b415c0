"""Catalogue files as tests need them: what a start loads from them, and a body's
columns edited with its head kept true."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from plue_sidecar.models.records import Session
from plue_sidecar.store.catalogue.catalogue import Entry
from plue_sidecar.store.catalogue.columns import ROW_BYTES
from plue_sidecar.store.session_store import SessionStore


def loaded(directory: Path) -> tuple[dict[str, Session], int, dict[str, int]]:
    """What a start loads from `directory`: the sessions by id, how many documents it
    read, and the files it could not verify."""
    store = SessionStore(directory)
    data = store.open()
    store.close()
    return ({s.id: s for s in data.sessions}, data.documents_read, dict(data.unverified.items()))


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
