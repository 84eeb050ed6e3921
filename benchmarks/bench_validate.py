"""Time ``benchsmith validate`` on a built benchmark with and without ``--recompute``.

Usage::

    benchsmith build --manifest manifests/mnist5k.yaml --out build/mnist5k   # once
    nice -n 10 python3 benchmarks/bench_validate.py --root build/mnist5k [--fraction 0.01]

The folder needs the publish completion record (``benchmark.json`` ``complete`` and
``files``); ``--seal`` adds it first when the folder predates it. Runs alternate
(plain, recompute, plain, recompute, ...) so both see the same machine load; wall and
CPU seconds (this process and its threads) are reported per run with the load
average. Writes ``benchmarks/results/validate_recompute.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.download import file_digest  # noqa: E402
from pipeline.validation import validate  # noqa: E402


def seal(root: Path) -> None:
    """Add the completion record the contract describes (for folders built before it)."""
    info = json.loads((root / "benchmark.json").read_text())
    if info.get("complete") is True and isinstance(info.get("files"), dict):
        return
    info["complete"] = True
    info["files"] = {p.relative_to(root).as_posix(): file_digest(p, "sha256")
                     for p in sorted(root.rglob("*"))
                     if p.is_file() and p.name not in ("benchmark.json", ".benchsmith")}
    (root / "benchmark.json").write_text(json.dumps(info, indent=2))


def main() -> int:
    """Run the comparison and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seal", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/validate_recompute.md")
    args = ap.parse_args()
    if args.seal:
        seal(args.root)
    runs: dict[float, list[tuple[float, float, str, int]]] = {0.0: [], args.fraction: []}
    for _ in range(args.repeats):
        for fraction in runs:
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            w0, c0 = time.perf_counter(), time.process_time()
            report = validate(args.root, workers=args.workers, recompute=fraction)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            if not report.ok:
                print(report.text())
                return 1
            runs[fraction].append((wall, cpu, load, report.recompute["rows"]))
            print(f"recompute={fraction}: wall {wall:.1f} s, cpu {cpu:.1f} s, load {load}")
    rows = sum(sum(c["rows"].values()) for c in report.configs.values())
    med = {f: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for f, v in runs.items()}
    base, rec = med[0.0], med[args.fraction]
    lines = [
        "# validate --recompute: added time",
        "",
        f"Folder `{args.root}`: {len(report.configs)} configs, {rows} rows; "
        f"{runs[args.fraction][0][3]} rows regenerated at --recompute {args.fraction}. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"threads scheduler, {args.workers} workers; nice -n 10 on a shared machine.",
        "",
        "| run | recompute | wall s | cpu s | load average (1/5/15 min) |",
        "|---|---|---|---|---|",
    ]
    for f, v in runs.items():
        lines += [f"| {i + 1} | {f} | {w:.1f} | {c:.1f} | {ld} |" for i, (w, c, ld, _) in
                  enumerate(v)]
    lines += [
        "",
        f"Median: plain {base[0]:.1f} s wall / {base[1]:.1f} s cpu; with --recompute "
        f"{args.fraction} {rec[0]:.1f} s wall / {rec[1]:.1f} s cpu: recompute adds "
        f"{rec[0] - base[0]:.1f} s wall ({(rec[0] / base[0] - 1) * 100:.0f}%), "
        f"{rec[1] - base[1]:.1f} s cpu ({(rec[1] / base[1] - 1) * 100:.0f}%).",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
