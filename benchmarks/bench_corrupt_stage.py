"""Throughput of the ``corrupt`` stage on CIFAR-10 test (15 corruptions x 5 severities).

Pulls the JPEG-decoded CIFAR-10 test set from ``shared/`` through the ``parquet``
source, then runs the stage with 1 and 2 dask workers (process pool, and a
distributed LocalCluster) and prints images/s (corrupted images written per
second, PNG encoding and Parquet writing included).

    python3 benchmarks/bench_corrupt_stage.py --shared ../shared [--limit 2000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from pipeline.corrupt import corrupt
from pipeline.manifest import parse_manifest
from pipeline.pull import pull


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N test images (default all)")
    parser.add_argument(
        "--schedulers", nargs="+", default=["processes:1", "processes:2", "local:2"]
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "corrupt_stage.md"
    )
    args = parser.parse_args()
    files = str(args.shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    manifest = parse_manifest(
        {
            "name": "cifar10-c-bench",
            "seed": 0,
            "sources": [
                {
                    "source": "parquet",
                    "name": "cifar10",
                    "splits": ["test"],
                    "limit": args.limit,
                    "options": {"files": {"test": files}},
                }
            ],
            "corrupt": {
                "preset": "cifar32",
                "rounding": "truncate",
                "suites": [{"suite": "imagenet_c", "severities": [1, 2, 3, 4, 5]}],
            },
        },
        path="bench",
    )
    work = Path(tempfile.mkdtemp(prefix="bench-corrupt-"))
    try:
        pull(
            manifest,
            work / "pulled",
            scheduler="processes",
            workers=2,
            shard_size=1000,
            progress=False,
        )
        n = args.limit or 10_000
        configs = len(manifest.corrupt.configs())
        rows = ["| scheduler | workers | seconds | images/s |", "|---|---|---|---|"]
        for item in args.schedulers:
            sched, workers = item.split(":")
            out = work / f"corrupted-{sched}-{workers}"
            t0 = time.perf_counter()
            corrupt(
                manifest,
                work / "pulled",
                out,
                scheduler=sched,
                workers=int(workers),
                progress=False,
            )
            dt = time.perf_counter() - t0
            rows.append(f"| {sched} | {workers} | {dt:.1f} | {n * configs / dt:,.0f} |")
            print(rows[-1], flush=True)
            shutil.rmtree(out)
        text = (
            f"corrupt stage, CIFAR-10 test ({n} JPEG-decoded images) x {configs} configs "
            f"(15 corruptions x 5 severities, cifar32)\n\n" + "\n".join(rows) + "\n"
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
