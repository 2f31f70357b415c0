"""Data directories for the scenarios, written directly in the sidecar's own format.

Creating 100,000 sessions through the protocol would take minutes of fsyncs; these
use the store's own layout and record types but skip fsync, since they only prepare
input.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from plue_sidecar.models.parts import TextPart
from plue_sidecar.models.records import MessageRecord, Session
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.files.layout import Layout
from plue_sidecar.store.files.message_log import encode_record

BASE_MS = 1_795_000_000_000
TEXT = [{"type": "text", "text": "benchmark"}]
"""The parts of the messages the scenarios append."""


def session(number: int, parent: int | None = None, messages: int = 0) -> Session:
    created = BASE_MS + number * 7
    return Session(
        SESSION_SCHEMA_VERSION,
        f"session_{created}",
        None if parent is None else f"session_{BASE_MS + parent * 7}",
        f"Session {number}",
        created,
        created,
        messages,
        False,
        None,
        None,
        None,
    )


def write_sessions(data_dir: Path, count: int) -> None:
    """`count` sessions, one in five a child of the one before it."""
    layout = Layout(data_dir)
    made: set[Path] = set()
    for number in range(count):
        parent = number - 1 if number % 5 else None
        document = session(number, parent)
        path = layout.document(document.id)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(orjson.dumps(document.to_json()))
    (data_dir / "migrations.json").write_bytes(orjson.dumps({"completed": SESSION_SCHEMA_VERSION}))


def write_long_session(data_dir: Path, messages: int) -> str:
    """One session holding `messages` messages; returns its id."""
    layout = Layout(data_dir)
    document = session(0, messages=messages)
    path = layout.document(document.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with layout.message_log(document.id).open("wb") as log:
        for seq in range(1, messages + 1):
            log.write(
                encode_record(
                    MessageRecord(
                        id=f"msg_{seq:032x}",
                        session_id=document.id,
                        seq=seq,
                        role="user",
                        parts=[TextPart(text=f"message {seq} " + "lorem ipsum " * 8)],
                        created_at=BASE_MS + seq,
                        completed_at=BASE_MS + seq,
                    )
                )
            )
    path.write_bytes(orjson.dumps(document.to_json()))
    (data_dir / "migrations.json").write_bytes(orjson.dumps({"completed": SESSION_SCHEMA_VERSION}))
    return document.id
