"""Control+Shift's three families on real MNIST / CIFAR-10: is each knob what the paper means?

Usage::

    python3 benchmarks/bench_shift_families.py [--shared ../shared] [--size 1000]
        [--train-size 2000] [--datasets mnist,cifar10]

For each dataset the test rows are split 50/50 by ``pipeline.shift.split_rows``;
the reference half fits the decoder once (``corruptions.shifts.copula``) and every
family's generated training set and test sets (knobs 0, 0.25, 0.5, 0.75, 1) are
decoded from it. Per knob the script records the latent non-overlap (from the
known latent laws), image-space MMD² and classifier two-sample AUC against the
generated training set, and the accuracy of a classifier trained on the generated
training set (``measure_shift``'s logistic-regression probe), then checks the
issue's done-means: knob-0 two-sample AUC within 0.5 +- 0.03, accuracy strictly
decreasing, non-overlap strictly increasing. Writes
``benchmarks/results/shift_families.md``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from bench_shifts import load  # noqa: E402 - the same loader as the other shift bench

from corruptions.rng import stable_u32  # noqa: E402
from corruptions.shift_measures import measure_shift  # noqa: E402
from corruptions.shifts import ShiftData, apply_shift, training_set  # noqa: E402
from corruptions.shifts.control_shift import FAMILIES  # noqa: E402
from pipeline.shift import split_rows  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KNOBS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Non-default parameters (the manifests use the same). With a 16-dim latent the paper's
#: overlap extent 0.5 gives a cap so narrow that the probe scores 0.999 at knobs 0 and 0.25
#: (a tie); extent 0.6 keeps the geometry and resolves the low end of the curve.
PARAMS: dict[str, dict] = {"overlap": {"extent": 0.6}}
MEASURE = {"dim": 32, "label_weight": 2.0, "neighbors": 10, "quantile": 0.95,
           "permutations": 200, "folds": 5, "max_rows": 1000}


def strictly(values: list[float], sign: int) -> bool:
    """Whether ``values`` strictly increase (sign 1) or decrease (sign -1)."""
    return all(sign * (b - a) > 0 for a, b in zip(values, values[1:], strict=False))


def run(name: str, shared: Path, size: int, train_size: int,
        params: dict[str, dict]) -> tuple[list[str], bool]:
    images, labels = load(name, shared)
    ids = [f"{name}/test/{i}" for i in range(len(labels))]
    mask = split_rows(ids, 0, 0.5)
    idx = np.flatnonzero(mask)
    ref = ShiftData(images[idx], labels[idx].astype(np.int64), tuple(ids[i] for i in idx), 10)
    lines = [f"\n### {name} ({len(ref)} reference rows fit the decoder; training sets of "
             f"{train_size}, test sets of {size})\n",
             "| family | knob | paper value | latent non-overlap | MMD² | C2ST AUC | accuracy "
             "| s |",
             "|---|---|---|---|---|---|---|---|"]
    ok_all = True
    verdicts = []
    pooled: dict[str, list[float]] = {"accuracy": [], "latent non-overlap": [], "MMD²": [],
                                      "C2ST AUC": []}
    for family in FAMILIES:
        p = params.get(family, {})
        t0 = time.perf_counter()
        train = training_set(family, ref, ref, size=train_size, seed=0, params=p)
        lines.append(f"| {family} | training set | {train.summary['paper_value']:.2f} | | | | | "
                     f"{time.perf_counter() - t0:.1f} |")
        acc, non, auc0 = [], [], None
        for knob in KNOBS:
            t0 = time.perf_counter()
            out = apply_shift(family, ref, ref, knob=knob, size=size, seed=0, params=p)
            rng = np.random.default_rng([0, stable_u32(family), round(knob * 10_000)])
            m = measure_shift(train.images, train.labels, out.images, out.labels, num_classes=10,
                              rng=rng, **MEASURE)
            dt = time.perf_counter() - t0
            for key, value in (("accuracy", m["probe_accuracy"]),
                               ("latent non-overlap", out.summary["latent_non_overlap"]),
                               ("MMD²", m["mmd2"]), ("C2ST AUC", m["c2st_auc"])):
                pooled[key].append(value)
            acc.append(m["probe_accuracy"])
            non.append(out.summary["latent_non_overlap"])
            auc0 = m["c2st_auc"] if knob == 0 else auc0
            lines.append(f"| {family} | {knob:.2f} | {out.summary['paper_value']:.2f} | "
                         f"{non[-1]:.4f} | {m['mmd2']:.4f} | {m['c2st_auc']:.3f} | "
                         f"{acc[-1]:.3f} | {dt:.1f} |")
            print(lines[-1], flush=True)
        ok = (abs(auc0 - 0.5) <= 0.03, strictly(acc, -1), strictly(non, 1))
        ok_all &= all(ok)
        verdicts.append(f"- {name} {family}: knob-0 C2ST AUC {auc0:.3f} "
                        f"({'within' if ok[0] else 'OUTSIDE'} 0.5 +- 0.03); accuracy "
                        f"{'strictly decreasing' if ok[1] else 'NOT strictly decreasing'}; "
                        f"latent non-overlap "
                        f"{'strictly increasing' if ok[2] else 'NOT strictly increasing'}")
    from scipy.stats import spearmanr

    # Which measure tracks degradation *across* families: one rank correlation over every
    # (family, knob) point of the dataset (-1: the measure orders the accuracies perfectly).
    tracks = [f"- {name}: Spearman rank correlation with accuracy over all "
              f"{len(pooled['accuracy'])} (family, knob) points: " + ", ".join(
                  f"{key} {spearmanr(vals, pooled['accuracy']).statistic:+.3f}"
                  for key, vals in pooled.items() if key != "accuracy")]
    return lines + [""] + verdicts + tracks, ok_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--datasets", default="mnist,cifar10")
    args = parser.parse_args()
    load_before = open("/proc/loadavg").read().split()[:3] if Path("/proc/loadavg").exists() else []
    lines = ["# Control+Shift families: latent non-overlap vs accuracy", "",
             "Accuracy: logistic-regression probe (PPCA-32 features) trained on the generated "
             "training set; C2ST AUC and MMD² against the generated training set; s = seconds "
             "to generate and measure one knob (one core).", "",
             f"Parameters other than the registry defaults: {PARAMS}", "",
             f"Load average before: {' '.join(load_before)}"]
    ok = True
    for name in args.datasets.split(","):
        part, good = run(name, args.shared, args.size, args.train_size, PARAMS)
        lines += part
        ok &= good
    load_after = open("/proc/loadavg").read().split()[:3] if Path("/proc/loadavg").exists() else []
    lines += ["", f"Load average after: {' '.join(load_after)}",
              f"All done-means met: {ok}"]
    out = REPO / "benchmarks/results/shift_families.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-12:]))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
