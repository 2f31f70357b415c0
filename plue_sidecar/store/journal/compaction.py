"""Journal compaction: drop the records a later record makes pointless.

On a disk the sessions filled, deleting sessions must free space although the journal
may hold everything: a delete adds a record, and a checkpoint (one file per session)
needs far more room than the journal. Compaction frees it in place: a put of a session
that a later record replaces (a later valid put of it, or its delete) changes nothing
the replay ends with, so it goes. Deletes are never dropped (they carry the id
high-water mark and finish a delete interrupted by a crash), nor is anything the
replay would skip (and report) or that cannot be read: a generation holding a damaged or torn
record is left as it is, for `doctor`.

The replay of the compacted journal gives exactly the sessions (and the sets of put and
deleted sessions) the original does. Every record that replaces another is kept, so
each generation can be replaced on its own and a crash between two leaves a journal
that replays the same.
"""

from __future__ import annotations

from collections.abc import Callable

from plue_sidecar.store.files.documents import document_from_fields
from plue_sidecar.store.journal.journal import Record, decode_line


def compact_generations(generations: list[tuple[int, bytes]]) -> dict[int, bytes]:
    """The new contents of each generation compaction shortens (see the module)."""
    return compact_generations_with(generations, _is_document)


def compact_generations_with(
    generations: list[tuple[int, bytes]], is_document: Callable[[object], bool]
) -> dict[int, bytes]:
    lines = [
        (number, line, decode_line(line))
        for number, data in generations
        for line in data.split(b"\n")[:-1]
    ]
    unreadable = {number for number, data in generations if not data.endswith(b"\n") and data}
    unreadable.update(number for number, _, record in lines if record is None)
    dropped = _superseded(lines, is_document)
    compacted: dict[int, bytes] = {}
    for number, data in generations:
        if number in unreadable:
            continue
        kept = [
            line + b"\n"
            for index, (owner, line, _) in enumerate(lines)
            if owner == number and index not in dropped
        ]
        new = b"".join(kept)
        if len(new) < len(data):
            compacted[number] = new
    return compacted


def _superseded(
    lines: list[tuple[int, bytes, Record | None]], is_document: Callable[[object], bool]
) -> set[int]:
    """Indexes of the puts a later delete or valid put of the same session replaces."""
    replaced: set[str] = set()
    dropped: set[int] = set()
    for index in range(len(lines) - 1, -1, -1):
        record = lines[index][2]
        if record is None:
            continue
        if "put" in record:
            put = record["put"]
            session_id = put.get("id") if isinstance(put, dict) else None
            if not isinstance(session_id, str):
                continue
            if is_document(put):
                if session_id in replaced:
                    dropped.add(index)
                replaced.add(session_id)
        elif "delete" in record:
            replaced.update(sid for sid in record["delete"] if isinstance(sid, str))
    return dropped


def _is_document(fields: object) -> bool:
    return document_from_fields(fields, None).session is not None
