"""Where the journal's generations are: `journal-<n>.log`, numbered from 1."""

from __future__ import annotations

import os
import re
from pathlib import Path

_FILE_NAME = re.compile(r"journal-(\d{6,})\.log")


def journal_path(directory: Path, generation: int) -> Path:
    return directory / f"journal-{generation:06d}.log"


def generations_in(directory: Path) -> list[tuple[int, Path]]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [
        (int(m.group(1)), directory / name) for name in names if (m := _FILE_NAME.fullmatch(name))
    ]
    return sorted(found)
