"""`plue-sidecar doctor` as a user runs it: its exit code and its report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def doctor(data_dir: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "plue_sidecar", "doctor", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout
