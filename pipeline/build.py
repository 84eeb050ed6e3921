"""``benchsmith build``: pull -> corrupt -> publish -> validate in one command (no DVC).

Intermediate data goes to ``<work>/pulled`` and ``<work>/corrupted``; the
benchmark lands in ``--out``. ``dvc repro`` runs the same stages one by one
with caching; this command is for one-off builds and CI.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.corrupt import corrupt
from pipeline.manifest import load_manifest
from pipeline.publish import check_target, publish
from pipeline.pull import pull
from pipeline.stage import add_common_args
from pipeline.validate import validate

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """``benchsmith build``: build a benchmark from a manifest end to end."""
    parser = argparse.ArgumentParser(prog="benchsmith build", description=main.__doc__)
    add_common_args(parser, shard_size=2000)
    parser.add_argument("--out", required=True, type=Path, help="benchmark folder to write")
    parser.add_argument("--work", type=Path, default=Path("data"), help="intermediate folder")
    parser.add_argument("--force", action="store_true",
                        help="replace benchsmith's files in an --out that also holds others "
                        "(never deletes files benchsmith did not write)")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    check_target(args.out, force=args.force)  # refuse a foreign --out before any work
    kw = {"scheduler": args.scheduler, "workers": args.workers, "progress": not args.no_progress}
    t0 = time.perf_counter()
    pull(manifest, args.work / "pulled", shard_size=args.shard_size, **kw)
    t1 = time.perf_counter()
    corrupt(manifest, args.work / "pulled", args.work / "corrupted", **kw)
    t2 = time.perf_counter()
    publish(manifest, [args.work / "pulled", args.work / "corrupted"], args.out, force=args.force)
    t3 = time.perf_counter()
    report = validate(args.out, scheduler=args.scheduler, workers=args.workers)
    t4 = time.perf_counter()
    print(report.text())
    print(f"timings (s): pull {t1 - t0:.1f}, corrupt {t2 - t1:.1f}, publish {t3 - t2:.1f}, "
          f"validate {t4 - t3:.1f}")
    return 0 if report.ok else 1
