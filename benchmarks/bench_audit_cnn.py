"""Audit probability routes side by side on the real test sets (2 cores).

For CIFAR-10 test (the JPEG Parquet in shared/) and MNIST test: held-out accuracy, ECE,
time, and how well the route's review queue matches the label-errors release:

* CIFAR-10: overlap of the route's top-275 (``candidates: paper``'s K) with the top-275 of
  the published probabilities' ranking (normalized margin);
* MNIST: how many of the 15 MTurk-validated errors are in the route's top-100.

The ``release`` route is the published probabilities themselves, passed through the same
ranking code (the ceiling: 275 / 275 and the 15 errors by construction, a check that the
comparison is the release's own ranking of its candidates). Cost is wall seconds and CPU
seconds (``getrusage`` of this process and its reaped worker processes, user + sys): on a
shared machine the CPU seconds are the comparable figure, and "20 minutes on 2 cores" is
2,400 CPU seconds. A section ``## Earlier runs`` of the results file is kept as it is.

Run: ``python benchmarks/bench_audit_cnn.py [--routes release builtin cnn]
[--datasets cifar10 mnist]`` -> ``benchmarks/results/audit_routes.md``.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import time
from pathlib import Path

import numpy as np

from pipeline.audit.issues import label_issues
from pipeline.audit.probs import fold_ids
from pipeline.audit.reference import load_release, mturk_records, paper_candidates
from pipeline.audit.stage import model_adequacy

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _cifar(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq
    from PIL import Image

    t = pq.read_table(shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    imgs = np.stack([np.asarray(Image.open(io.BytesIO(d["bytes"])).convert("RGB"))
                     for d in t["image"].to_pylist()])
    return imgs, np.asarray(t["label"].to_numpy(), np.int64)


def _mnist(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    from pipeline.sources.idx import read_idx

    d = shared / "datasets/mnist"
    return (read_idx(d / "t10k-images-idx3-ubyte.gz"),
            read_idx(d / "t10k-labels-idx1-ubyte.gz").astype(np.int64))


def _cpu_seconds() -> float:
    """User + sys CPU seconds of this process and its reaped children (dask workers)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _route(route: str, images: np.ndarray, labels: np.ndarray, ids: list[str],
           natural: bool, release: np.ndarray) -> np.ndarray:
    if route == "release":
        p = release / release.sum(axis=1, keepdims=True)
        return p.astype(np.float32)
    fid = fold_ids(ids, labels, folds=5, seed=0)
    if route == "cnn":
        from pipeline.audit.cnn import cnn_pred_probs

        # Digits: no flips, and 8 epochs are plenty (a manifest's audit.probs.cnn overrides);
        # kept after the planted-flip selection of bench_audit_planted.py (audit_routes.md).
        params = {} if natural else {"flip": False, "epochs": 8}
        probs, _ = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0, params=params,
                                  scheduler="processes", workers=2)
        return probs
    from pipeline.audit.features import featurize
    from pipeline.audit.probs import cross_val_pred_probs, whiten

    rng = np.random.default_rng(np.random.SeedSequence([0, 0xA0D17, len("random_conv")]))
    raw = np.sqrt(featurize("random_conv", images, rng=rng, filters=256, patch=5,
                            sample_patches=50000))
    x = whiten(raw, 256)
    return cross_val_pred_probs(x, labels, ids, n_classes=10, folds=5, C=0.01, seed=0,
                                scheduler="processes", workers=2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--routes", nargs="+", default=["release", "builtin", "cnn"],
                    choices=["release", "builtin", "cnn"])
    ap.add_argument("--datasets", nargs="+", default=["cifar10", "mnist"])
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results/audit_routes.md")
    args = ap.parse_args()
    rel = args.shared / "reference/label-errors"
    lines = ["# Audit probability routes (benchmarks/bench_audit_cnn.py)", "",
             "5-fold cross-validated probabilities on the test sets, 2 dask processes.", "",
             "| dataset | route | wall s | CPU s | load avg (start-end) | held-out acc | ECE | "
             "adequate | queue vs the release |", "|---|---|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        images, labels = (_cifar if name == "cifar10" else _mnist)(args.shared)
        ids = [f"{name}/test/{i}" for i in range(len(labels))]
        release = load_release(rel, name, prefix=name)
        for route in args.routes:
            load, t, cpu = os.getloadavg()[0], time.perf_counter(), _cpu_seconds()
            probs = _route(route, images, labels, ids, natural=name == "cifar10",
                           release=release.pred_probs)
            dt, dcpu, load_end = time.perf_counter() - t, _cpu_seconds() - cpu, os.getloadavg()[0]
            trust = model_adequacy(probs, labels)
            if name == "cifar10":
                li = label_issues(labels, probs, ids, filter_by="prune_by_noise_rate",
                                  rank_by="normalized_margin", candidates=275)
                ours = set(np.flatnonzero(li["review_candidate"]).tolist())
                ref = set(paper_candidates(release.labels, release.pred_probs, 275).tolist())
                queue = f"top-275 overlap {len(ours & ref)} / 275"
            else:
                li = label_issues(labels, probs, ids, filter_by="prune_by_noise_rate",
                                  rank_by="normalized_margin", candidates=100)
                ours = set(np.flatnonzero(li["review_candidate"]).tolist())
                errs = {r["index"] for r in mturk_records(rel, "mnist", prefix="mnist")
                        if r["validated_error"]}
                missed = sorted(int(li["rank"][i]) for i in errs - ours)
                queue = (f"top-100 holds {len(ours & errs)} / {len(errs)} validated errors"
                         + (f" (the others rank {', '.join(map(str, missed))})" if missed else ""))
            lines.append(f"| {name} | {route} | {dt:.0f} | {dcpu:.0f} | "
                         f"{load:.1f}-{load_end:.1f} | "
                         f"{trust['heldout_accuracy']:.2%} | {trust['ece']:.3f} | "
                         f"{trust['model_adequate']} | {queue} |")
            print(lines[-1], flush=True)
    lines += ["", "Load average is the 1-minute figure when the route started and ended; the "
              "machine was shared with other work when it was above 2 (the routes then ran at "
              "nice 19 and wall seconds overstate the cost: compare CPU seconds).", ""]
    earlier = (args.out.read_text().partition("## Earlier runs")
               if args.out.is_file() else ("", "", ""))
    if earlier[1]:
        lines += [earlier[1] + earlier[2].rstrip("\n"), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
