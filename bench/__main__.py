"""`python -m bench [--quick]`: every scenario against its floors, in one run."""

from __future__ import annotations

import argparse
import asyncio
import compileall
import shutil
import sys
import tempfile
from pathlib import Path

from bench import report
from bench.measure import machine
from bench.scenarios import Bench, Sizes

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few rounds: a smoke run in under a minute",
    )
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print only; leave results.json and BENCHMARKS.md alone",
    )
    args = parser.parse_args()
    # Measure the sidecar as an installed package runs, with its modules byte-compiled
    # (the floors' are, in site-packages): where PYTHONDONTWRITEBYTECODE is set, a run
    # from the source tree would otherwise compile every module at every start.
    compileall.compile_dir(ROOT / "plue_sidecar", quiet=1)
    # The data directories live beside the repository, on the disk a user's would use.
    work = Path(tempfile.mkdtemp(prefix="plue-bench-"))
    bench = Bench(Sizes.of(args.quick), work)
    try:
        asyncio.run(bench.run())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.print_table(bench.figures)
    if not args.no_write:
        command = "python -m bench" + (" --quick" if args.quick else "")
        report.write(
            bench.figures,
            machine(),
            command,
            args.quick,
            results_path=ROOT / "bench" / "results.json",
            benchmarks_md=ROOT / "BENCHMARKS.md",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
