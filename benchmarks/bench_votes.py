"""CIFAR-10H from its count matrix: majority, plurality and cleanlab multi-annotator sets.

Reports, per rule, the time to aggregate the 511k votes, how many images get an empty set,
a multi-label set, and how often the set holds / equals the original CIFAR-10 label.

Run: ``python benchmarks/bench_votes.py [--shared ../shared]`` -> benchmarks/results/votes.md
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from pipeline.reannotate.aggregate import aggregate
from pipeline.reannotate.importers import check_join, import_counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent
                    / "shared")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results/votes.md")
    args = ap.parse_args()
    counts_path = args.shared / "datasets/cifar10h/cifar10h-counts.npy"
    labels = np.load(args.shared / "reference/label-errors/cifar10_test_set_original_labels.npy")
    given = {f"cifar10/test/{i}": int(y) for i, y in enumerate(labels)}
    t = time.perf_counter()
    votes = import_counts(counts_path, prefix="cifar10/test")
    matched, rep = check_join(votes, given, source="counts", num_classes=10, min_agreement=0.5)
    t_import = time.perf_counter() - t
    lines = [
        "# CIFAR-10H vote aggregation (benchmarks/bench_votes.py)",
        "",
        f"{votes.num_rows:,} votes from `cifar10h-counts.npy` imported and joined in "
        f"{t_import:.2f} s (join: {rep.matched_samples} samples, checks {rep.checks}).",
        f"Load average before: {os.getloadavg()[0]:.2f}",
        "",
        "| rule | seconds | empty sets | multi-label sets | set holds given label | "
        "set == {given} |",
        "|---|---|---|---|---|---|",
    ]
    pyx = np.load(args.shared / "reference/label-errors/cifar10_test_set_pyx.npy")
    probs = {f"cifar10/test/{i}": (p / p.sum()).astype(np.float32) for i, p in enumerate(pyx)}
    for rule, pp in (("majority", None), ("plurality", None), ("cleanlab", None),
                     ("cleanlab", probs)):
        t = time.perf_counter()
        agg = aggregate(matched, given, rule=rule, threshold=0.5, pred_probs=pp)
        rule = rule + (" + label-errors pyx (CROWDLAB)" if pp is not None else "")
        dt = time.perf_counter() - t
        sets = agg.labels
        empty = sum(1 for v in sets.values() if not v)
        multi = sum(1 for v in sets.values() if len(v) > 1)
        holds = np.mean([given[s] in v for s, v in sets.items()])
        equal = np.mean([v == [given[s]] for s, v in sets.items()])
        lines.append(f"| {rule} | {dt:.1f} | {empty} | {multi} | {holds:.2%} | {equal:.2%} |")
    lines += ["", "cleanlab = `cleanlab.multiannotator.get_majority_vote_label` over the binary "
              "(sample, class) questions without model probabilities; with the label-errors "
              "release's cross-validated CIFAR-10 probabilities it is CROWDLAB "
              "(`get_label_quality_multiannotator`). Agreement is with the original CIFAR-10 "
              f"test labels. Load average after: {os.getloadavg()[0]:.2f}", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
