"""The results table: printed, as JSON, and as Markdown in BENCHMARKS.md."""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict
from pathlib import Path

from bench.figures import Figure


def verdict(figure: Figure) -> str:
    if figure.met is None:
        return "report"
    return "met" if figure.met else "NOT met"


def rows(figures: list[Figure]) -> list[list[str]]:
    table = []
    for figure in figures:
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else ""
        floor = (
            f"{figure.floor} {figure.floor_value:,.2f}" if figure.floor_value is not None else ""
        )
        p99 = f"{figure.p99:,.2f}" if figure.p99 is not None else ""
        table.append(
            [
                figure.scenario,
                figure.figure,
                f"{figure.value:,.2f} {figure.unit}",
                p99,
                floor,
                ratio,
                figure.target,
                verdict(figure),
            ]
        )
    return table


HEADER = [
    "scenario",
    "figure",
    "median / value",
    "p99",
    "floor (same run)",
    "ratio",
    "target",
    "verdict",
]


def print_table(figures: list[Figure]) -> None:
    table = [HEADER, *rows(figures)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def markdown(figures: list[Figure], machine: dict[str, str], command: str, quick: bool) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        f"| {' | '.join(HEADER)} |",
        f"|{'---|' * len(HEADER)}",
        *(f"| {' | '.join(row)} |" for row in rows(figures)),
    ]
    mode = " (quick mode: smaller sizes, fewer rounds)" if quick else ""
    return "\n".join(
        [
            f"### Run of {today}{mode}",
            "",
            f"Machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}. "
            f"Command: `{command}`.",
            "",
            *lines,
            "",
        ]
    )


def write(
    figures: list[Figure],
    machine: dict[str, str],
    command: str,
    quick: bool,
    *,
    results_path: Path,
    benchmarks_md: Path,
) -> None:
    results_path.write_text(
        json.dumps(
            {
                "machine": machine,
                "command": command,
                "quick": quick,
                "date": datetime.date.today().isoformat(),
                "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
            },
            indent=2,
        )
    )
    marker = "<!-- results -->"
    text = benchmarks_md.read_text() if benchmarks_md.exists() else f"# Benchmarks\n\n{marker}\n"
    head, _, _ = text.partition(marker)
    benchmarks_md.write_text(f"{head}{marker}\n\n{markdown(figures, machine, command, quick)}")
