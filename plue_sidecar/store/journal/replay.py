"""Replaying the journal's records over the documents their files hold.

For both readers of a data directory: the store, when it opens one, and `doctor`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from plue_sidecar.models.records import Session
from plue_sidecar.store.files.documents import document_from_fields
from plue_sidecar.store.journal.journal import Record

log = logging.getLogger(__name__)


@dataclass
class JournalReplay:
    put: set[str] = field(default_factory=set)
    """Sessions whose newest version came from the journal."""
    deleted: set[str] = field(default_factory=set)
    high_water: int = 0
    """The highest id a delete recorded."""
    problems: list[str] = field(default_factory=list)


def replay_journal(records: list[Record], sessions: dict[str, Session]) -> JournalReplay:
    """Apply journal records, oldest first, to `sessions` (documents as their files hold them)."""
    replay = JournalReplay()
    for record in records:
        if "put" in record:
            read = document_from_fields(record["put"], None)
            if read.session is None:
                log.error("journal: skipping a record that is not a document (%s)", read.problem)
                replay.problems.append(f"a journal record is not a document: {read.problem}")
                continue
            sessions[read.session.id] = read.session
            replay.put.add(read.session.id)
            replay.deleted.discard(read.session.id)
        elif "delete" in record:
            for session_id in record["delete"]:
                sessions.pop(session_id, None)
                replay.put.discard(session_id)
                replay.deleted.add(session_id)
            replay.high_water = max(replay.high_water, int(record.get("highWater", 0)))
    return replay


def journaled_ids(records: list[Record]) -> frozenset[str]:
    """Sessions the journal names, alive or deleted: their message logs are not orphans
    (the replay keeps the ones of the sessions it leaves alive and removes the others)."""
    named: set[str] = set()
    for record in records:
        put = record.get("put")
        if isinstance(put, dict) and isinstance(put.get("id"), str):
            named.add(put["id"])
        named.update(record.get("delete", ()))
    return frozenset(named)
