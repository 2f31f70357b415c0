"""The first `session/list` pages from the catalogue head's rows, as the full path
answers them from the same head (`core.opening.Loader.head_sessions` and
`models.fast_json`): the same JSON, built without a session object."""

from __future__ import annotations

from typing import Any

from plue_sidecar.core.ordering import encode_cursor
from plue_sidecar.session_format import id_number
from plue_sidecar.store.head import SHARE_FIELD, RawHead

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
    rows = newest[:limit]
    more = total > limit
    return {
        "sessions": [_session_info(row, share_base_url) for row in rows],
        "nextCursor": encode_cursor((rows[-1][5], id_number(rows[-1][1]))) if more else None,
    }


def _session_info(row: list[Any], share_base_url: str) -> JsonObject:
    """`SessionInfo` of a catalogue row (see `catalogue.row_of`)."""
    share = row[SHARE_FIELD]
    return {
        "id": row[1],
        "parentId": row[2],
        "title": row[3],
        "createdAt": row[4],
        "updatedAt": row[5],
        "messageCount": row[6],
        "isAborted": row[7],
        "abortedAt": row[8],
        "share": None
        if share is None
        else {
            "url": share_base_url + share[0],
            "secret": share[0],
            "createdAt": share[1],
            "expiresAt": share[2],
        },
    }
