"""A catalogue row: the one place its layout is defined.

A row is a session's stored fields in `Session`'s order (`SESSION_FIELDS`; a test
holds the two equal), its share as `[secret, createdAt, expiresAt]` or null, then its
file's stamp (inode, mtime in ns, size) and its document's checksum. The head's newest
sessions are rows; the body holds the same fields a column each (`columns`), the
stamps and checksums as binary arrays.

Without pydantic: the early answers read the head's rows before it is imported.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plue_sidecar.models.records import Session, ShareRecord
    from plue_sidecar.store.files.stamps import Stamp

SESSION_FIELDS = (
    "schema_version",
    "id",
    "parent_id",
    "title",
    "created_at",
    "updated_at",
    "message_count",
    "is_aborted",
    "aborted_at",
    "runner",
    "share",
)
"""`Session`'s constructor arguments, in order: a row's first fields, a chunk's columns."""

(
    SCHEMA_VERSION,
    ID,
    PARENT_ID,
    TITLE,
    CREATED_AT,
    UPDATED_AT,
    MESSAGE_COUNT,
    IS_ABORTED,
    ABORTED_AT,
    RUNNER,
    SHARE,
) = range(len(SESSION_FIELDS))
INODE, MTIME_NS, SIZE, CHECKSUM = range(len(SESSION_FIELDS), len(SESSION_FIELDS) + 4)
ROW_LENGTH = CHECKSUM + 1
STAMP = slice(INODE, CHECKSUM)

SHARE_SECRET, SHARE_CREATED_AT, SHARE_EXPIRES_AT = range(3)
SHARE_LENGTH = 3


_stored_fields = attrgetter(*SESSION_FIELDS[:SHARE])


def row_of(session: Session, stamp: Stamp, checksum: int) -> list[Any]:
    return [*_stored_fields(session), share_fields(session.share), *stamp, checksum]


def share_fields(share: ShareRecord | None) -> list[Any] | None:
    """A share as a row holds it."""
    return None if share is None else [share.secret, share.created_at, share.expires_at]


def is_row(row: Any) -> bool:
    """Exactly of a row's shape as far as the head's readers rely on it: its length, a
    string id and a share as the sidecar writes it, so that no reader converts a value."""
    if not isinstance(row, list) or len(row) != ROW_LENGTH or not isinstance(row[ID], str):
        return False
    share = row[SHARE]
    return share is None or (
        isinstance(share, list)
        and len(share) == SHARE_LENGTH
        and isinstance(share[SHARE_SECRET], str)
        and is_int(share[SHARE_CREATED_AT])
        and (share[SHARE_EXPIRES_AT] is None or is_int(share[SHARE_EXPIRES_AT]))
    )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
