"""Hand-written JSON of the shapes every request pays for; tests hold each equal to its
pydantic model's own dump (tests/test_core_json.py), so the models stay the single
definition of the wire format.

Reads dominate an editor's traffic, and building a pydantic model per session per page
cost more than the rest of the request.
"""

from __future__ import annotations

from typing import Any

from plue_sidecar.models.records import MessageRecord, Session, ShareRecord

JsonObject = dict[str, Any]


def share_info_json(share: ShareRecord, share_base_url: str) -> JsonObject:
    """`ShareInfo`."""
    return {
        "url": share_base_url + share.secret,
        "secret": share.secret,
        "createdAt": share.created_at,
        "expiresAt": share.expires_at,
    }


def session_info_json(session: Session, share_base_url: str) -> JsonObject:
    """`SessionInfo`."""
    share = session.share
    return {
        **session.info_fields(),
        "share": None if share is None else share_info_json(share, share_base_url),
    }


def message_record_json(record: MessageRecord) -> JsonObject:
    """A log line's JSON (`MessageRecord`)."""
    return record.model_dump(mode="json", by_alias=True)


def message_json(record_json: JsonObject) -> JsonObject:
    """`Message`, from its record's JSON: the same fields but the record's version."""
    return {name: value for name, value in record_json.items() if name != "v"}


def message_page_json(records: list[MessageRecord], next_after_seq: int | None) -> JsonObject:
    """`MessagePage`."""
    return {
        "messages": [message_json(message_record_json(record)) for record in records],
        "nextAfterSeq": next_after_seq,
    }
