"""The first `session/list` pages from the catalogue head's rows, as the full path
answers them from the same head (`core.opening.Loader.head_sessions` and
`models.fast_json`): the same JSON, built without a session object."""

from __future__ import annotations

from typing import Any

from plue_sidecar.core.ordering import encode_cursor
from plue_sidecar.session_format import id_number
from plue_sidecar.store.catalogue import rows as row
from plue_sidecar.store.catalogue.head import RawHead

JsonObject = dict[str, Any]


def first_page(
    head: RawHead, roots_only: bool, limit: int, share_base_url: str
) -> JsonObject | None:
    """The first page of `limit` sessions (roots only when asked), or None when the head
    holds fewer sessions than the page needs."""
    newest, total = (
        (head["newestRoots"], head["rootsTotal"]) if roots_only else (head["newest"], head["total"])
    )
    if limit > len(newest) and total > len(newest):
        return None
    page = newest[:limit]
    last = page[-1] if total > limit else None
    return {
        "sessions": [_session_info(fields, share_base_url) for fields in page],
        "nextCursor": None
        if last is None
        else encode_cursor((last[row.UPDATED_AT], id_number(last[row.ID]))),
    }


def _session_info(fields: list[Any], share_base_url: str) -> JsonObject:
    """`SessionInfo` of a catalogue row (see `catalogue.rows`)."""
    share = fields[row.SHARE]
    return {
        "id": fields[row.ID],
        "parentId": fields[row.PARENT_ID],
        "title": fields[row.TITLE],
        "createdAt": fields[row.CREATED_AT],
        "updatedAt": fields[row.UPDATED_AT],
        "messageCount": fields[row.MESSAGE_COUNT],
        "isAborted": fields[row.IS_ABORTED],
        "abortedAt": fields[row.ABORTED_AT],
        "share": None
        if share is None
        else {
            "url": share_base_url + share[row.SHARE_SECRET],
            "secret": share[row.SHARE_SECRET],
            "createdAt": share[row.SHARE_CREATED_AT],
            "expiresAt": share[row.SHARE_EXPIRES_AT],
        },
    }
