"""A session rebuilt from its message log alone, when its document is gone and no
verified copy of it is left: a conversation is never dropped for want of its metadata."""

from __future__ import annotations

import sys

from plue_sidecar.models.parts import TextPart
from plue_sidecar.models.records import Session
from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.message_log import parse_log

RECOVERED_TITLE = "Recovered session"
TITLE_LIMIT = 200


def session_from_log(session_id: str, data: bytes) -> Session | None:
    """The session its log describes: titled by its first message's text, timed by its
    first and last messages, counting every whole message (None if it holds none)."""
    records = parse_log(data, session_id, sys.maxsize).records
    if not records:
        return None
    first, last = records[0], records[-1]
    text = next((part.text for part in first.parts if isinstance(part, TextPart)), "")
    title = " ".join(text.split())[:TITLE_LIMIT] or RECOVERED_TITLE
    return Session(
        schema_version=SESSION_SCHEMA_VERSION,
        id=session_id,
        parent_id=None,
        title=title,
        created_at=first.created_at,
        updated_at=last.completed_at or last.created_at,
        message_count=len(records),
        is_aborted=False,
        aborted_at=None,
        runner=None,
        share=None,
    )
