"""The built-in audit route at 10k / 60k / 1M rows: wall time per phase and peak memory.

Rows are synthetic 28x28 digits made from the real MNIST test set in ``shared/`` (the
machine has no MNIST training images): row ``i`` is test image ``i % 10000`` shifted by a
random (dy, dx) in [-2, 2] with Gaussian pixel noise (sigma 8 levels), keeping its label,
and a planted ``--flip`` fraction of rows gets a random wrong label. Every row is
PNG-encoded into one local Parquet file, pulled with ``benchsmith pull`` (the real stage,
``source: parquet``) and audited with ``benchsmith audit`` using the MNIST manifest's
``audit`` section (random-conv features, 5-fold logistic regression, cleanlab, k-NN
evidence: exact up to 50,000 rows, an inverted file above).

What is measured, per size, in one run with the load average beside each figure:

* the audit's own phase timings (``metrics.json`` ``seconds``: load, features, probs,
  issues, write);
* the audit command's wall time and the peak of the *summed* resident memory of its
  process tree (the command and its fold workers), sampled every 0.2 s with psutil;
* held-out accuracy, and how many planted label flips the review queue and cleanlab's
  issue list catch (recall), as a check that the scaled path still finds errors.

    python benchmarks/bench_audit_scale.py --sizes 10000 60000 1000000

Results go to ``benchmarks/results/audit_scale.md``. Targets (issue #13): 1M rows of
28x28 in under 30 minutes and under 8 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]


def loadavg() -> float:
    """Return the 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (MNIST's format) into a uint8 array."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def make_parquet(shared: Path, n: int, flip: float, out: Path, seed: int = 0) -> set[int]:
    """Write ``n`` synthetic digit rows to ``out``; return the row numbers with a flipped label."""
    import cv2
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = read_idx(shared / "datasets" / "mnist" / "t10k-images-idx3-ubyte.gz")
    base_y = read_idx(shared / "datasets" / "mnist" / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    rng = np.random.default_rng(seed)
    flipped = set(np.flatnonzero(rng.random(n) < flip).tolist())
    schema = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                        ("label", pa.int64())])
    chunk = 50_000
    with pq.ParquetWriter(out, schema) as writer:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            idx = np.arange(start, stop) % len(base)
            shifts = rng.integers(-2, 3, size=(stop - start, 2))
            noise = rng.normal(0.0, 8.0, size=(stop - start, 28, 28))
            images, labels = [], []
            for j, (i, (dy, dx)) in enumerate(zip(idx, shifts, strict=True)):
                im = np.roll(base[i], (int(dy), int(dx)), axis=(0, 1)).astype(np.float64)
                im = np.clip(im + noise[j], 0, 255).astype(np.uint8)
                ok, png = cv2.imencode(".png", im)
                assert ok
                images.append({"bytes": png.tobytes(), "path": None})
                y = int(base_y[i])
                if start + j in flipped:
                    y = int((y + rng.integers(1, 10)) % 10)
                labels.append(y)
            writer.write_table(pa.table({"image": pa.array(images, schema.field("image").type),
                                         "label": pa.array(labels, pa.int64())}, schema=schema))
    return flipped


class TreeRss:
    """Sample the summed RSS (bytes) of a process and its descendants in a thread."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.peak_at = 0.0  # seconds after sampling started
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                if total > self.peak:
                    self.peak, self.peak_at = total, time.perf_counter() - self._t0
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def stop(self) -> int:
        """Stop sampling; return the peak in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak


def run(cmd: list[str], cwd: Path) -> tuple[float, int, float]:
    """Run ``cmd``; return (wall seconds, peak summed tree RSS in bytes, seconds to the peak)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd)
    sampler = TreeRss(proc.pid)
    rc = proc.wait()
    peak = sampler.stop()
    if rc:
        raise SystemExit(f"{' '.join(cmd)} exited {rc}")
    return time.perf_counter() - t0, peak, sampler.peak_at


def pull_and_audit(args: argparse.Namespace, d: Path, manifest: dict[str, Any],
                   pull_workers: bool = False) -> dict[str, Any]:
    """Write ``manifest`` into ``d``, pull and audit it; return times, peaks and metrics."""
    import yaml

    (d / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    bs = [sys.executable, "-m", "pipeline.cli"]
    load_pull = loadavg()
    extra = ["--workers", str(args.workers)] if pull_workers else []
    pull_s, pull_peak, _ = run([*bs, "pull", "--manifest", str(d / "manifest.yaml"), "--out",
                                str(d / "pulled"), *extra, "--no-progress"], REPO)
    load_audit = loadavg()
    audit_s, audit_peak, peak_at = run(
        [*bs, "audit", "--manifest", str(d / "manifest.yaml"), "--clean",
         str(d / "pulled" / "clean"), "--out", str(d / "audit"), "--workers", str(args.workers),
         "--no-progress"], REPO)
    return {"pull_s": pull_s, "pull_gb": pull_peak / 2**30, "audit_s": audit_s,
            "audit_gb": audit_peak / 2**30, "peak_at": peak_at, "load_pull": load_pull,
            "load_audit": load_audit, "load_end": loadavg(),
            "metrics": json.loads((d / "audit" / "metrics.json").read_text())}


def measure(args: argparse.Namespace, n: int, work: Path) -> dict[str, Any]:
    """Build, pull and audit ``n`` rows; return the figures of one results row."""
    d = work / f"n{n}"
    d.mkdir(parents=True)
    t0 = time.perf_counter()
    flipped = make_parquet(args.shared, n, args.flip, d / "train.parquet")
    make_s = time.perf_counter() - t0
    manifest = {
        "name": f"synthetic_mnist_{n}", "seed": 0,
        "sources": [{"source": "parquet", "name": "synthetic_mnist", "splits": ["train"],
                     "options": {"files": {"train": str(d / "train.parquet")},
                                 "names": [str(c) for c in range(10)]}}],
        "audit": {"probs": {"route": "builtin", "featurizer": "random_conv",
                            "featurizer_params": {"filters": 128, "patch": 5}},
                  "rank_by": "normalized_margin", "candidates": args.candidates},
    }
    r = pull_and_audit(args, d, manifest)
    metrics, audit_s, peak_at = r["metrics"], r["audit_s"], r["peak_at"]
    # The phase the peak fell in: the audit's own phase times, after its start-up.
    phases, start = [], audit_s - metrics["seconds"]["total_s"]
    for key in ("load_s", "features_s", "probs_s", "issues_s", "write_s"):
        phases.append((start + metrics["seconds"][key], key[:-2]))
        start = phases[-1][0]
    peak_phase = next((name for end, name in phases if peak_at <= end), "write")
    caught = _caught(d / "audit", flipped)
    return {**r, "rows": n, "make_s": make_s, "peak_phase": peak_phase,
            "planted": len(flipped), **caught}


def measure_imagenet(args: argparse.Namespace, n: int, work: Path) -> dict[str, Any]:
    """An ImageNet-validation-shaped set through the built-in route: memory at 224 px.

    ``n`` JPEG crops of scikit-image's photos in the ``val/<wnid>/`` layout (20 classes,
    the generator of ``bench_corrupt_stage.py``), pulled with the ImageNet-C recipe
    (resize 256, centre crop 224) and audited with CIFAR-10's audit section (random-conv,
    6 px patches): the audit keeps 64 px area-downsampled copies of the 224 px images.
    """
    sys.path.insert(0, str(HERE.parent))
    from bench_corrupt_stage import make_imagenet_layout

    d = work / f"imagenet{n}"
    t0 = time.perf_counter()
    make_imagenet_layout(d / "imagenet", n)
    make_s = time.perf_counter() - t0
    manifest = {
        "name": f"synthetic_imagenet_{n}", "seed": 0,
        "sources": [{"source": "imagefolder", "name": "imagenet", "splits": ["val"],
                     "options": {"root": str(d / "imagenet")},
                     "preprocess": {"resize_shorter": 256, "center_crop": 224}}],
        "audit": {"probs": {"route": "builtin", "featurizer": "random_conv",
                            "featurizer_params": {"filters": 128, "patch": 6}},
                  "rank_by": "normalized_margin", "candidates": args.candidates},
    }
    return {**pull_and_audit(args, d, manifest, pull_workers=True), "rows": n,
            "make_s": make_s}


def _caught(audit_dir: Path, flipped: set[int]) -> dict[str, int]:
    """Count planted flips among the review queue and cleanlab's label issues.

    The pulled ``sample_id`` ends with the source row number (``..._<row>`` or
    ``.../<row>``); the row number is what :func:`make_parquet` planted.
    """
    import pyarrow.parquet as pq

    queue = issues = 0
    for p in sorted(audit_dir.rglob("*.parquet")):
        t = pq.read_table(p, columns=["sample_id", "label_issue", "review_candidate"])
        for sid, issue, cand in zip(t["sample_id"].to_pylist(), t["label_issue"].to_pylist(),
                                    t["review_candidate"].to_pylist(), strict=True):
            hit = int(re.split(r"[^0-9]", sid)[-1]) in flipped
            queue += bool(cand and hit)
            issues += bool(issue and hit)
    return {"queue_caught": queue, "issues_caught": issues}


def write_report(args: argparse.Namespace, started: str, rows: list[dict[str, Any]]) -> None:
    """Write the results table."""
    lines = [
        "# Built-in audit route at scale (benchmarks/bench_audit_scale.py)", "",
        f"Run {started} on {os.cpu_count()} cores, 24 GiB. Synthetic 28x28 digits from the MNIST "
        f"test set (shift +-2 px, noise sigma 8, {args.flip:.0%} labels flipped at random), "
        f"pulled with `benchsmith pull` and audited with `benchsmith audit --workers "
        f"{args.workers}` (random-conv 128 filters, 5-fold, candidates {args.candidates}). "
        "Peak GB = the largest sampled sum of resident memory over the audit's process tree "
        "(command + fold workers). Phase seconds are the audit's own `metrics.json` timings.",
        "",
        "| rows | audit s | peak GB (phase) | load avg (start / end) | load s | features s | "
        "probs s | issues s | write s | held-out acc | planted flips | caught by queue | caught by "
        "cleanlab issues | pull s | pull peak GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, s = r["metrics"], r["metrics"]["seconds"]
        lines.append(
            f"| {r['rows']:,} | {r['audit_s']:.0f} | {r['audit_gb']:.2f} ({r['peak_phase']}) | "
            f"{r['load_audit']:.2f} / {r['load_end']:.2f} | {s['load_s']:.0f} | "
            f"{s['features_s']:.0f} | {s['probs_s']:.0f} | {s['issues_s']:.0f} | "
            f"{s['write_s']:.0f} | {m['heldout_accuracy']:.3f} | {r['planted']:,} | "
            f"{r['queue_caught']:,} of {m['num_review_candidates']:,} | "
            f"{r['issues_caught']:,} of {m['num_label_issues']:,} | {r['pull_s']:.0f} | "
            f"{r['pull_gb']:.2f} |")
    lines += ["", "Targets (issue #13): 1,000,000 rows in under 30 min (1,800 s) and under 8 GB "
              "on 2 cores.", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    """Run the sizes and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 60_000, 1_000_000])
    parser.add_argument("--flip", type=float, default=0.01, help="planted label-flip fraction")
    parser.add_argument("--candidates", default="paper",
                        help="audit.candidates (an int, paper or null)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--imagenet", type=int, default=0,
                        help="also audit this many synthetic 224 px ImageNet-layout images")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results" / "audit_scale.md")
    args = parser.parse_args()
    if args.candidates.isdigit():
        args.candidates = int(args.candidates)
    elif args.candidates == "null":
        args.candidates = None
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-audit-scale-") as tmp:
        for n in args.sizes:
            rows.append(measure(args, n, Path(tmp)))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "metrics"}), flush=True)
            write_report(args, started, rows)
        if args.imagenet:
            r = measure_imagenet(args, args.imagenet, Path(tmp))
            s, m = r["metrics"]["seconds"], r["metrics"]
            line = (f"| {r['rows']:,} x 224 px (64 px copies) | {r['audit_s']:.0f} | "
                    f"{r['audit_gb']:.2f} | {r['load_audit']:.2f} / {r['load_end']:.2f} | "
                    f"{s['load_s']:.0f} | {s['features_s']:.0f} | {s['probs_s']:.0f} | "
                    f"{s['issues_s']:.0f} | {m['heldout_accuracy']:.3f} | {r['pull_s']:.0f} | "
                    f"{r['pull_gb']:.2f} |")
            text = ["", "## ImageNet-validation shape (built-in route at 224 px)", "",
                    "| rows | audit s | peak GB | load avg (start / end) | load s | features s "
                    "| probs s | issues s | held-out acc | pull s | pull peak GB |",
                    "|---|---|---|---|---|---|---|---|---|---|---|", line, ""]
            with args.out.open("a") as f:
                f.write("\n".join(text))
            print("\n".join(text))


if __name__ == "__main__":
    main()
