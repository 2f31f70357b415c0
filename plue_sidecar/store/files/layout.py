"""Where each file of a data directory lives. Paths are only ever built from checked ids."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import NamedTuple

from plue_sidecar.session_format import SESSION_ID_PATTERN, id_number
from plue_sidecar.store.disk.root import Root

_SESSION_ID = re.compile(SESSION_ID_PATTERN)
DOCUMENT_SUFFIX = ".json"
LOG_SUFFIX = ".messages.jsonl"


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.sessions_dir = data_dir / "sessions"
        self.quarantine_dir = data_dir / "quarantine"
        self.state_file = data_dir / "state.json"
        self.tombstone_file = data_dir / "tombstone.json"
        self.catalogue_file = data_dir / "catalogue.json"
        self.migration_marker = data_dir / "migrations.json"
        self.repairs_file = data_dir / "repairs.log"
        self.reserve_file = data_dir / "reserve"
        """Space set aside for when the disk is full (see `reserve`)."""

    def session_dir(self, session_id: str) -> Path:
        return self.sessions_dir / bucket_of(session_id)

    def document(self, session_id: str) -> Path:
        return self.session_dir(session_id) / f"{session_id}{DOCUMENT_SUFFIX}"

    def message_log(self, session_id: str) -> Path:
        return self.session_dir(session_id) / f"{session_id}{LOG_SUFFIX}"

    def files_of(self, session_id: str) -> list[Path]:
        return [self.message_log(session_id), self.document(session_id)]


def bucket_of(session_id: str) -> str:
    """The directory below `sessions/` that holds a session's files ("2026/11"): the
    month its id was made in. A string, without `pathlib`, and remembered by the day:
    the catalogue asks it of every session it saves."""
    if not is_session_id(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    millis = id_number(session_id)
    day = millis // MILLIS_A_DAY  # a UTC day lies within one month
    bucket = _buckets_by_day.get(day)
    if bucket is None:
        bucket = _month_of(millis)
        if len(_buckets_by_day) >= _DAYS_REMEMBERED:
            _buckets_by_day.clear()
        _buckets_by_day[day] = bucket
    return bucket


MILLIS_A_DAY = 86_400_000
_DAYS_REMEMBERED = 4096
_buckets_by_day: dict[int, str] = {}


def _month_of(millis: int) -> str:
    try:
        moment = time.gmtime(millis // 1000)
    except (OverflowError, OSError, ValueError):
        return "far/future"
    return f"{moment.tm_year:04d}/{moment.tm_mon:02d}"


def is_session_id(text: str) -> bool:
    return _SESSION_ID.fullmatch(text) is not None


def session_id_of(name: str) -> str | None:
    """The session id a document's file name claims, if it is a well-formed one."""
    if not name.endswith(DOCUMENT_SUFFIX) or name.endswith(LOG_SUFFIX):
        return None
    candidate = name[: -len(DOCUMENT_SUFFIX)]
    return candidate if is_session_id(candidate) else None


def log_session_id_of(name: str) -> str | None:
    """The session id a message log's file name claims, if it is a well-formed one."""
    candidate = name.removesuffix(LOG_SUFFIX)
    return candidate if candidate != name and is_session_id(candidate) else None


_QUARANTINED = re.compile(
    rf"({SESSION_ID_PATTERN})({re.escape(DOCUMENT_SUFFIX)}|{re.escape(LOG_SUFFIX)})"
    r"\.[0-9]+"
)
"""A session's file in `quarantine/`: its own name, then when it was moved there (ms)."""


class QuarantinedFile(NamedTuple):
    name: str
    """Its name in `quarantine/`."""
    session_id: str
    suffix: str
    """`DOCUMENT_SUFFIX` or `LOG_SUFFIX`: what the file was."""

    @property
    def is_message_log(self) -> bool:
        return self.suffix == LOG_SUFFIX


def quarantined_file(name: str) -> QuarantinedFile | None:
    """The session's file that was moved to quarantine under `name`, if one was."""
    match = _QUARANTINED.fullmatch(name)
    return QuarantinedFile(name, match.group(1), match.group(2)) if match else None


_JOURNAL_FILE = re.compile(r"journal-(\d{6,})\.log")
"""The journal's generations: `sessions/journal-<n>.log`, numbered from 1."""


def journal_path(directory: Path, generation: int) -> Path:
    return directory / f"journal-{generation:06d}.log"


def generations_in(root: Root, directory: Path) -> list[tuple[int, Path]]:
    """Each journal generation's number and file in `directory`, oldest first."""
    try:
        names = root.listdir(directory)
    except FileNotFoundError:
        return []
    found = [
        (int(m.group(1)), directory / name)
        for name in names
        if (m := _JOURNAL_FILE.fullmatch(name))
    ]
    return sorted(found)
