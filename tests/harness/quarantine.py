"""What a start may put in quarantine after a crash: the message log of a fork that was
in flight (it writes its log before its session, and nothing tells that log from one
whose session was lost), never a document, nor the log of a session acknowledged."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from plue_sidecar.store.files.layout import quarantined_file


def check_quarantine(
    data_dir: Path, seen: set[str], creating: bool, acknowledged: Collection[str]
) -> list[str]:
    """Problems with what came into quarantine since `seen` (its names, updated):
    `creating`, whether a create or fork was in flight at the crash; `acknowledged`, the
    ids of every session acknowledged (deleted ones too)."""
    directory = data_dir / "quarantine"
    names = set(os.listdir(directory)) if directory.is_dir() else set()
    problems: list[str] = []
    for name in sorted(names - seen):
        found = quarantined_file(name)
        if found is None or not found.is_message_log:
            problems.append(f"{name}: a file was damaged and quarantined")
        elif found.session_id in acknowledged:
            problems.append(f"{name}: the log of an acknowledged session was quarantined")
        elif not creating:
            problems.append(f"{name}: a log quarantined with no create or fork in flight")
    seen |= names
    return problems


def beyond_quarantined_logs(report: str, names: Collection[str]) -> list[str]:
    """The problems a `doctor` report lists besides the message logs `names` in
    quarantine."""
    return [
        line
        for line in report.splitlines()[1:]
        if not any(line.startswith(f"- quarantined: {name}: the message log of ") for name in names)
    ]


def without_quarantined_logs(log: str) -> str:
    """A sidecar's log without the lines that quarantine a message log."""
    return "\n".join(
        line
        for line in log.splitlines()
        if ".messages.jsonl: a message log without a session" not in line
    )
