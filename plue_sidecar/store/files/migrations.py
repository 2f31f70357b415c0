"""Older session documents brought up to the current `schemaVersion`, one step at a time.

Each step is a small pure function from a document of version N to version N+1.
A document is migrated in memory whenever it is read; opening the store
(`SessionStore.open`) also writes every migrated document back (atomically) and then
advances the data directory's completion marker, so a failed or interrupted migration
is simply run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from plue_sidecar.session_format import SESSION_SCHEMA_VERSION

log = logging.getLogger(__name__)

Document = dict[str, Any]


def _from_unversioned(document: Document) -> Document:
    """Version 0: the JSON-era format without `schemaVersion`.

    It named the parent `parentID`, kept times under `time: {created, updated}` and
    shares as `share: {url}` whose last path segment is the secret.
    """
    migrated = {
        key: value
        for key, value in document.items()
        if key not in {"parentID", "time", "share", "version"}
    }
    times: dict[str, Any] = document.get("time") or {}
    migrated["parentId"] = document.get("parentID", document.get("parentId"))
    created: Any = times.get("created", document.get("createdAt", 0))
    updated: Any = times.get("updated", document.get("updatedAt", created))
    migrated["createdAt"] = int(created)
    migrated["updatedAt"] = int(updated)
    migrated.setdefault("title", "New Session")
    share = document.get("share")
    if isinstance(share, dict) and isinstance(share.get("url"), str):
        migrated["share"] = {
            "secret": share["url"].rstrip("/").rsplit("/", 1)[-1],
            "createdAt": migrated["createdAt"],
            "expiresAt": None,
        }
    migrated["schemaVersion"] = 1
    return migrated


STEPS: list[Callable[[Document], Document]] = [_from_unversioned]
"""STEPS[n] turns version n into version n + 1."""

assert len(STEPS) == SESSION_SCHEMA_VERSION


def version_of(document: Document) -> int:
    version = document.get("schemaVersion", 0)
    return version if isinstance(version, int) else 0


def migrate(document: Document) -> Document:
    """The document at the current version (documents from newer sidecars are untouched)."""
    version = version_of(document)
    while version < SESSION_SCHEMA_VERSION:
        document = STEPS[version](document)
        version += 1
    return document
