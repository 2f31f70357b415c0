"""`plue-sidecar doctor` as a user runs it: its exit code and its report."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def doctor(data_dir: Path, *extra: str, under: Sequence[str] = ()) -> tuple[int, str]:
    """Run `doctor` (`extra`: more arguments, such as `--recover`; `under`: a command
    it runs under, such as strace)."""
    done = subprocess.run(
        [
            *under,
            sys.executable,
            "-m",
            "plue_sidecar",
            "doctor",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout
