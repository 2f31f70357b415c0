"""The catalogue's head, read and trusted without building a session.

The head is the catalogue's first line (see `catalogue`): the directories' mtimes and,
after a clean exit, the newest sessions' rows. The early answers (see `early`) read it
before pydantic is imported, and the full load decides with the same functions, so
both trust the same head.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from plue_sidecar.session_format import SESSION_SCHEMA_VERSION
from plue_sidecar.store.catalogue.rows import is_int, is_row
from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import Layout, generations_in
from plue_sidecar.store.files.stamps import quiet_before, session_directories

log = logging.getLogger(__name__)
CATALOGUE_VERSION = 6
"""6: the head says where the body's chunks are; the body is written column by column
(see `columns`). A catalogue of any other version is rebuilt, as a damaged one is."""

RawHead = dict[str, Any]
"""The head as parsed JSON: `takenAt`, `mtimes`, `complete`, `body`, and when complete
`total`, `rootsTotal`, `newest` and `newestRoots` (rows, newest first)."""


def parse_head_line(line: bytes) -> RawHead | None:
    """The head, or None when the line is missing or of another version (raises what
    orjson raises on damage)."""
    if not line:
        return None
    raw = orjson.loads(line)
    if not isinstance(raw, dict) or raw.get("version") != CATALOGUE_VERSION:
        version = raw.get("version") if isinstance(raw, dict) else None
        log.warning("catalogue has version %r; rebuilding it", version)
        return None
    return raw


def directory_mtimes(root: Root, layout: Layout) -> dict[str, int]:
    """Each `<yyyy>/<mm>` session directory's mtime, by its relative name."""
    return {
        relative: mtime for relative, _, mtime in session_directories(root, layout.sessions_dir)
    }


def completed_migration(root: Root, layout: Layout) -> int:
    """The schema version every document has been migrated to (0 when unknown)."""
    try:
        return int(orjson.loads(root.read_bytes(layout.migration_marker))["completed"])
    except FileNotFoundError:
        # A data directory without sessions has nothing to migrate.
        return SESSION_SCHEMA_VERSION if not root.lexists(layout.sessions_dir) else 0
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.error("the migration marker is unreadable; checking every document again")
        return 0


def trusts_all(raw: RawHead, on_disk: dict[str, int]) -> bool:
    """The snapshot held every session, and the directories are exactly the recorded
    ones, each trusted whole."""
    mtimes = raw["mtimes"]
    taken_at = int(raw["takenAt"])
    return (
        bool(raw["complete"])
        and on_disk.keys() == mtimes.keys()
        and all(
            mtimes[name] == mtime and quiet_before(mtime, taken_at)
            for name, mtime in on_disk.items()
        )
    )


def trusted_head(root: Root, layout: Layout) -> RawHead | None:
    """The head when it alone describes the newest sessions: a clean last exit (nothing
    in the journal, no delete unfinished, every document migrated) and every directory
    unchanged since; else None. The data directory's lock must be held (`root` is the
    directory as it was locked)."""
    if (
        root.lexists(layout.tombstone_file)
        or generations_in(root, layout.sessions_dir)
        or completed_migration(root, layout) < SESSION_SCHEMA_VERSION
        or not root.lexists(layout.migration_marker)
    ):
        return None
    try:
        with root.open_for_reading(layout.catalogue_file) as file:
            raw = parse_head_line(file.readline())
        if raw is None or not trusts_all(raw, directory_mtimes(root, layout)):
            return None
        _check_rows(raw)
    except FileNotFoundError:
        return None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("catalogue head is unreadable (%s)", exc)
        return None
    return raw


def _check_rows(raw: RawHead) -> None:
    """Raise ValueError unless the newest rows are there and exactly of the row's
    shape (see `rows.is_row`)."""
    if not all(is_int(raw[key]) for key in ("total", "rootsTotal")):
        raise ValueError("a catalogue head count that is not an integer")
    for newest in (raw["newest"], raw["newestRoots"]):
        if not isinstance(newest, list) or not all(map(is_row, newest)):
            raise ValueError("a catalogue head row of the wrong shape")
