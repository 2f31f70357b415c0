#!/usr/bin/env python3
"""Fail when Swift code uses a platform-only symbol outside its platform's guard.

The bridge ships for macOS and is tested on Linux, so code that only compiles on one
of them must sit in a `#if canImport(Darwin)` / `#elseif canImport(Glibc)` chain, and
every such chain must have both branches written. Rules, per file:

- a Glibc-only symbol (`Glibc.kill`, `sigtimedwait`, ...) only inside a branch whose
  condition names `canImport(Glibc)` or `os(Linux)`;
- a Darwin-only symbol (`Darwin.kill`, `F_SETNOSIGPIPE`, ...) only inside a branch
  whose condition names `canImport(Darwin)` or `os(macOS)`;
- a chain that tests `canImport(Darwin)` must also test `canImport(Glibc)`, and the
  other way round.

Usage: check_platform_guards.py PATH... (directories are searched for *.swift);
       check_platform_guards.py --self-test
Exit status 0 when clean, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

GLIBC_ONLY = [
    r"\bGlibc\b", r"\bsigtimedwait\b", r"\bsigwaitinfo\b", r"\bpipe2\b", r"\bdup3\b",
    r"\baccept4\b", r"\bprctl\b", r"\bPR_SET_PDEATHSIG\b", r"\bepoll_\w+", r"\beventfd\b",
    r"\binotify_\w+", r"\bMSG_NOSIGNAL\b", r"\b__sigaction_handler\b", r"\bsignalfd\b",
    r"\btimerfd_\w+", r"\bmemfd_create\b", r"\bsched_getaffinity\b", r"\bO_TMPFILE\b",
    r"\bSOCK_CLOEXEC\b", r"\bgetrandom\b",
]
DARWIN_ONLY = [
    r"\bDarwin\b", r"\bF_SETNOSIGPIPE\b", r"\bSO_NOSIGPIPE\b", r"\b__sigaction_u\b",
    r"\bkqueue\b", r"\bkevent\b", r"\bmach_\w+", r"\bproc_pidinfo\b",
]
LINUX_CONDITION = re.compile(r"canImport\(Glibc\)|os\(Linux\)")
DARWIN_CONDITION = re.compile(r"canImport\(Darwin\)|os\(macOS\)")
DIRECTIVE = re.compile(r"^\s*#(if|elseif|else|endif)\b(.*)$")


def strip(line: str) -> str:
    """The line without string literals and `//` comments."""
    line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    return line.split("//", 1)[0]


def check_text(name: str, text: str) -> list[str]:
    problems: list[str] = []
    # Each open chain: (the conditions of its branches so far, the current branch's).
    stack: list[tuple[list[str], str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = strip(raw)
        directive = DIRECTIVE.match(line)
        if directive:
            kind, condition = directive.group(1), directive.group(2).strip()
            if kind == "if":
                stack.append(([condition], condition))
            elif kind in ("elseif", "else") and stack:
                branches, _ = stack[-1]
                branches.append(condition if kind == "elseif" else "else")
                stack[-1] = (branches, condition if kind == "elseif" else "else")
            elif kind == "endif" and stack:
                branches, _ = stack.pop()
                joined = " ".join(branches)
                has_darwin = DARWIN_CONDITION.search(joined) is not None
                has_linux = LINUX_CONDITION.search(joined) is not None
                if has_darwin != has_linux:
                    missing = "canImport(Glibc)" if has_darwin else "canImport(Darwin)"
                    problems.append(
                        f"{name}:{number}: a platform #if chain without its {missing} branch")
            continue
        active = " ".join(current for _, current in stack)
        for pattern in GLIBC_ONLY:
            match = re.search(pattern, line)
            if match and not LINUX_CONDITION.search(active):
                problems.append(f"{name}:{number}: Glibc-only `{match.group(0)}` outside "
                                "`#if canImport(Glibc)`")
        for pattern in DARWIN_ONLY:
            match = re.search(pattern, line)
            if match and not DARWIN_CONDITION.search(active):
                problems.append(f"{name}:{number}: Darwin-only `{match.group(0)}` outside "
                                "`#if canImport(Darwin)`")
    return problems


def check_paths(paths: list[str]) -> list[str]:
    problems: list[str] = []
    for path in map(Path, paths):
        files = sorted(path.rglob("*.swift")) if path.is_dir() else [path]
        for file in files:
            problems += check_text(str(file), file.read_text(encoding="utf-8"))
    return problems


def self_test() -> list[str]:
    """The checker must flag what it exists to flag, and pass what is guarded."""
    cases = {
        "unguarded Glibc call": ("import Foundation\nfunc f() { Glibc.kill(1, 9) }\n", 1),
        "Glibc call in the Darwin branch": (
            "#if canImport(Darwin)\nlet a = Glibc.kill(1, 9)\n#elseif canImport(Glibc)\n"
            "let a = Glibc.kill(1, 9)\n#endif\n", 1),
        "one-sided chain": ("#if canImport(Glibc)\nimport Glibc\n#endif\n", 1),
        "unguarded Darwin option": ("let x = F_SETNOSIGPIPE\n", 1),
        "guarded both ways": (
            "#if canImport(Darwin)\nimport Darwin\nlet x = F_SETNOSIGPIPE\n"
            "#elseif canImport(Glibc)\nimport Glibc\nlet x = sigtimedwait\n#endif\n", 0),
        "names in comments and strings": ("// Glibc.kill\nlet s = \"sigtimedwait\"\n", 0),
    }
    failures = []
    with tempfile.TemporaryDirectory() as directory:
        for label, (source, expected) in cases.items():
            file = Path(directory) / "Case.swift"
            file.write_text(source, encoding="utf-8")
            found = len(check_paths([str(file)]))
            if found != expected:
                failures.append(f"self-test '{label}': {found} problems, expected {expected}")
    return failures


def main(arguments: list[str]) -> int:
    if arguments == ["--self-test"]:
        problems = self_test()
    elif arguments:
        problems = check_paths(arguments)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
