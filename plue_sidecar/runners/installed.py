"""The entry points installed packages declare, read from their metadata on `sys.path`.

`importlib.metadata` would do it, but importing it (zipfile, email, csv) and letting it
scan every distribution took 14 of the 41 ms that importing the early answers and
listing the runners took: this reads the one file a group needs from each
`*.dist-info` and `*.egg-info` directory.
Distributions in zip files are not searched.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator

METADATA_SUFFIXES = (".dist-info", ".egg-info")
ENTRY_POINTS_FILE = "entry_points.txt"
_NAME_SEPARATORS = re.compile(r"[-_.]+")


def declared_entry_points(group: str, path: Iterable[str] | None = None) -> dict[str, str]:
    """`name -> value` of `group`'s entry points in the distributions on `path`
    (`sys.path` unless given). As with imports, the first distribution of a project on
    the path is the installed one, and the first to declare a name wins."""
    found: dict[str, str] = {}
    projects_seen: set[str] = set()
    for directory in _metadata_directories(sys.path if path is None else path):
        project = _project_name(os.path.basename(directory))
        if project in projects_seen:
            continue
        projects_seen.add(project)
        for name, value in _group_entries(_read_text(directory), group):
            found.setdefault(name, value)
    return found


def _metadata_directories(path: Iterable[str]) -> Iterator[str]:
    for entry in path:
        base = entry or "."
        try:
            names = sorted(os.listdir(base))
        except OSError:  # gone, a zip file, unreadable
            continue
        for name in names:
            if name.endswith(METADATA_SUFFIXES):
                yield os.path.join(base, name)


def _project_name(directory_name: str) -> str:
    """`Foo_Bar-1.0.dist-info` -> `foo-bar`, as packaging normalizes names."""
    stem = directory_name.rsplit(".", 1)[0]
    return _NAME_SEPARATORS.sub("-", stem.split("-", 1)[0]).lower()


def _read_text(directory: str) -> str:
    try:
        with open(os.path.join(directory, ENTRY_POINTS_FILE), encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError):  # none declared, or not a directory
        return ""


def _group_entries(text: str, group: str) -> Iterator[tuple[str, str]]:
    """The `name = value` lines of `[group]` in an INI-style entry_points.txt."""
    section: str | None = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section != group:
            continue
        name, equals, value = line.partition("=")
        if equals and name.strip() and value.strip():
            yield name.strip(), value.strip()
