"""Time every shift and its measurement on real MNIST / CIFAR-10 test images, single core.

Usage::

    python3 benchmarks/bench_shifts.py [--shared ../shared] [--size 1000] [--train-size 2000]

For each dataset (MNIST test from the official IDX files; CIFAR-10 test from the
JPEG-decoded parquet in shared/, read through the product's ``parquet`` source)
the rows are split 50/50 by ``pipeline.shift.split_rows`` into reference and
pool. For every registered shift and intensity in 0, 0.25, 0.5, 0.75, 1 the
script times the kernel (``apply_shift``) and the measurement
(``measure_shift``: PPCA features, outside-support, MMD permutation test, C2ST,
probe), and prints the measured curve: C2ST AUC, MMD², fraction outside the
training support, the probe's accuracy. Writes the table to
``benchmarks/results/shifts.md`` (git-ignored).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from corruptions.rng import stable_u32  # noqa: E402
from corruptions.shift_measures import measure_shift  # noqa: E402
from corruptions.shifts import ShiftData, apply_shift, get_shift_registry, training_set  # noqa: E402
from pipeline.shift import split_rows  # noqa: E402
from pipeline.sources import make_source  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KNOBS = (0.0, 0.25, 0.5, 0.75, 1.0)
PARAMS = {
    "mnist": {"label_shift": {"mode": "one_class", "target_class": 3},
              "spurious_correlation": {"mode": "colorize"}},
    "cifar10": {"label_shift": {"mode": "one_class", "target_class": 3},
                "spurious_correlation": {"mode": "patch"}},
}
MEASURE = {"dim": 32, "label_weight": 2.0, "neighbors": 10, "quantile": 0.95,
           "permutations": 200, "folds": 5, "max_rows": 1000}


def load(name: str, shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """All test images and labels of ``name`` through the product's sources."""
    if name == "mnist":
        src = make_source("mnist", {"path": str(shared / "datasets/mnist")})
    else:
        path = shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
        src = make_source("parquet", {"files": {"test": str(path)}})
    items = list(src.read("test", 0, src.num_rows("test")))
    return np.stack([it.image for it in items]), np.array([it.label for it in items])


def run(name: str, shared: Path, size: int, train_size: int) -> list[str]:
    images, labels = load(name, shared)
    ids = [f"{name}/test/{i}" for i in range(len(labels))]
    mask = split_rows(ids, 0, 0.5)

    def side(m: np.ndarray) -> ShiftData:
        idx = np.flatnonzero(m)
        return ShiftData(images[idx], labels[idx].astype(np.int64), tuple(ids[i] for i in idx), 10)

    ref, pool = side(mask), side(~mask)
    lines = [f"\n### {name} test ({len(ref)} reference / {len(pool)} pool rows, "
             f"shifted sets of {size}, training sets of {train_size})\n",
             "| shift | knob | kernel s | measure s | C2ST AUC | MMD² | p | outside | probe acc |",
             "|---|---|---|---|---|---|---|---|---|"]
    for shift in get_shift_registry():
        params = PARAMS[name].get(shift, {})
        n = min(size, 400) if shift == "label_shift" else size
        t0 = time.perf_counter()
        train = training_set(shift, ref, pool, size=train_size, seed=0, params=params)
        t_train = time.perf_counter() - t0
        for knob in KNOBS:
            t0 = time.perf_counter()
            out = apply_shift(shift, ref, pool, knob=knob, size=n, seed=0, params=params)
            t_kernel = time.perf_counter() - t0
            rng = np.random.default_rng([0, stable_u32(shift), round(knob * 10_000)])
            t0 = time.perf_counter()
            m = measure_shift(train.images, train.labels, out.images, out.labels, num_classes=10,
                              rng=rng, **MEASURE)
            t_measure = time.perf_counter() - t0
            lines.append(
                f"| {shift} | {knob:.2f} | {t_kernel:.2f} | {t_measure:.2f} | "
                f"{m['c2st_auc']:.3f} | "
                f"{m['mmd2']:.4f} | {m['mmd_p_value']:.3f} | {m['outside_support']:.3f} | "
                f"{m['probe_accuracy']:.3f} (train half {m['probe_accuracy_train_cv']:.3f}) |"
            )
        lines.append(f"| {shift} | training set | {t_train:.2f} | | | | | | |")
        print("\n".join(lines[-6:]), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--datasets", default="mnist,cifar10")
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    lines = [f"# Shift kernels and measures, one core ({cpu})",
             "", "Times in seconds per call; measure = PPCA features + all measures + probe."]
    for name in args.datasets.split(","):
        lines += run(name, args.shared, args.size, args.train_size)
    out = REPO / "benchmarks/results/shifts.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
