"""``benchsmith validate <dir>``: check a published benchmark against the whole contract.

The checks live in :mod:`pipeline.validation` (folder, config and shard level, and
``--recompute FRACTION``, :mod:`pipeline.recompute`); this module is the stage's command.

Output: a human-readable report on stdout; ``--json`` (compact counts, the DVC
metric), ``--report`` (every finding) and ``--junit``. Exit status 1 when a check
fails (each finding names the config, the file and the row), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.shards import atomic_write_bytes, atomic_write_json
from pipeline.stage import positive_int, scheduler_arg
from pipeline.validation import validate

__all__ = ["main", "validate"]


def main(argv: list[str] | None = None) -> int:
    """``benchsmith validate``: check a published benchmark folder."""
    parser = argparse.ArgumentParser(prog="benchsmith validate", description=main.__doc__)
    parser.add_argument("root", type=Path, help="benchmark folder written by `benchsmith publish`")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the compact, counts-only metric (JSON) here")
    parser.add_argument("--report", type=Path, default=None,
                        help="write every finding (JSON list) here")
    parser.add_argument("--junit", type=Path, default=None, help="write JUnit XML here")
    parser.add_argument("--recompute", type=float, default=0.0, metavar="FRACTION",
                        help="regenerate this fraction (0..1] of each corruption config's rows "
                             "and compare bytes")
    parser.add_argument("--recompute-seed", type=int, default=0,
                        help="seed choosing the recomputed rows")
    parser.add_argument("--scheduler", default="threads", type=scheduler_arg)
    parser.add_argument("--workers", type=positive_int, default=2)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not 0.0 <= args.recompute <= 1.0:
        parser.error(f"--recompute {args.recompute}: give a fraction between 0 and 1")
    report = validate(args.root, scheduler=args.scheduler, workers=args.workers,
                      progress=not args.no_progress, recompute=args.recompute,
                      recompute_seed=args.recompute_seed)
    print(report.text())
    if args.json:
        atomic_write_json(args.json, report.metrics())
    if args.report:
        atomic_write_json(args.report, report.findings())
    if args.junit:
        atomic_write_bytes(args.junit, report.to_junit().encode())
    sys.stdout.flush()
    return 0 if report.ok else 1
