"""What the fault rigs need from the machine, and the one way to opt out of them.

CI runs as root on a machine with loop devices and Debian's strace (scripts/test
installs it). A rig whose capability is missing fails with the reason, so a missing
tool can never pass as a skipped test; set PLUE_SKIP_FAULT_RIGS=1 to skip them on
purpose (a developer's laptop without root).
"""

from __future__ import annotations

import os
import shutil

import pytest

OPT_OUT = "PLUE_SKIP_FAULT_RIGS"


def require(problem: str | None) -> None:
    """Fail (or skip, when opted out) if `problem` names something missing."""
    if problem is None:
        return
    if os.environ.get(OPT_OUT) == "1":
        pytest.skip(f"{problem} ({OPT_OUT}=1)")
    pytest.fail(
        f"{problem}: install it, run as root, or set {OPT_OUT}=1 to skip on purpose", pytrace=False
    )


def strace_problem() -> str | None:
    return None if shutil.which("strace") else "strace is not installed (apt-get install strace)"


def loop_mount_problem() -> str | None:
    if os.geteuid() != 0:
        return "the power-cut rig mounts a loop device and needs root"
    for tool in ("mkfs.ext4", "mount", "umount", "losetup"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists("/dev/loop-control"):
        return "there is no /dev/loop-control: loop devices are unavailable"
    return None
