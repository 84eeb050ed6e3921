"""Does benchsmith's CIFAR-10-C make a fixed classifier as wrong as the reference does?

Usage::

    python3 benchmarks/bench_difficulty.py --shared ../shared [--limit N] [--only a,b]

A fixed simple classifier (HOG-style gradient histograms + 8x8 colour thumbnail,
standardised, multinomial logistic regression) is trained on the first 5,000
images of the JPEG-decoded CIFAR-10 test set and evaluated on the other 5,000,
clean and corrupted, for every corruption registered at run time in the suites
``imagenet_c`` and ``imagenet_c_extra``, every severity, preset ``cifar32``:

* benchsmith: ``corruptions.apply(name, img, severity=s, preset="cifar32",
  rng=derive_rng(seed, f"cifar10/test/{idx}", name, s))``.
* reference: imagecorruptions 1.1.2 only has ImageNet constants, and comparing at
  ImageNet parameters on upsampled images would measure something CIFAR-10-C never
  was. So the reference is imagecorruptions' own function body with its
  ``c = [...][severity - 1]`` list replaced by the CIFAR-10-C list of
  make_cifar_c.py (read from ``shared/reference/corruption-params.md``, not from
  benchsmith's tables), called on the 32x32 image. Where imagecorruptions'
  algorithm is not make_cifar_c.py's (its ``elastic_transform`` has no affine step
  and other constants), the reference is a literal scipy re-implementation of
  make_cifar_c.py's function instead; the table says which reference each row used.
  Corruptions with neither are reported without a reference.

The table (error % per severity, benchsmith vs reference, and the difference in
points) goes to stdout and to ``benchmarks/results/difficulty.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import io
import re
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SUITES = ("imagenet_c", "imagenet_c_extra")
SEVERITIES = (1, 2, 3, 4, 5)


# ----------------------------------------------------------------------------- data


def load_cifar10(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 JPEG-decoded CIFAR-10 test images (official order) and labels."""
    import pyarrow.parquet as pq
    from PIL import Image

    path = shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    if not path.is_file():
        raise SystemExit(f"CIFAR-10 parquet not found at {path}; pass --shared <shared folder>")
    table = pq.read_table(path)
    images = np.stack(
        [np.asarray(Image.open(io.BytesIO(d["bytes"])).convert("RGB"))
         for d in table["image"].to_pylist()]
    )
    return images, np.asarray(table["label"].to_numpy(), dtype=np.int64)


def cifar_constants(shared: Path) -> dict[str, list]:
    """Parse the cifar32 lists of corruption-params.md (make_cifar_c.py's constants)."""
    text = (shared / "reference/corruption-params.md").read_text()
    section = text.split("### cifar32", 1)[1].split("\n#", 1)[0]
    constants: dict[str, list] = {}
    for line in section.splitlines():
        match = re.match(r"- (\w+): (\[.*\])\s*$", line)
        if match:
            env = {"__builtins__": {}, "np": np, "IMSIZE": 32}
            constants[match.group(1)] = list(eval(match.group(2), env))  # noqa: S307
    return constants


# ----------------------------------------------------------------------------- features


def features(images: np.ndarray) -> np.ndarray:
    """Batch HOG-style features (9 unsigned orientations, 8x8 cells, 2x2-cell L2 blocks)
    plus the 8x8 average-pooled colour thumbnail, for (N, 32, 32, 3) uint8 images."""
    x = images.astype(np.float32) / 255.0
    gray = x @ np.float32([0.299, 0.587, 0.114])
    gy, gx = np.gradient(gray, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((angle / np.pi * 9).astype(np.int64), 8)
    n = len(images)
    onehot = np.zeros((n, 32, 32, 9), np.float32)
    np.put_along_axis(onehot, bins[..., None], magnitude[..., None], axis=3)
    cells = onehot.reshape(n, 4, 8, 4, 8, 9).sum(axis=(2, 4))
    blocks = np.stack(
        [cells[:, i : i + 2, j : j + 2].reshape(n, -1) for i in range(3) for j in range(3)], axis=1
    )
    blocks /= np.sqrt(np.square(blocks).sum(axis=2, keepdims=True) + 1e-6)
    thumb = x.reshape(n, 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(n, -1)
    return np.concatenate([blocks.reshape(n, -1), thumb], axis=1)


def train_classifier(images: np.ndarray, labels: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    return model.fit(features(images), labels)


def error_pct(model, images: np.ndarray, labels: np.ndarray) -> float:
    return float(100.0 * np.mean(model.predict(features(images)) != labels))


# ----------------------------------------------------------------------------- references


def _load_oracle():
    path = REPO / "tests/corruptions/oracle.py"
    spec = importlib.util.spec_from_file_location("benchsmith_oracle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_module()


def patched_imagecorruptions(icc, name: str, values: list) -> Callable | None:
    """imagecorruptions' ``name`` with its severity list replaced by ``values``."""
    func = getattr(icc, name, None)
    if func is None:
        return None
    source = textwrap.dedent(inspect.getsource(func))
    patched, count = re.subn(
        r"\bc = \[.*?\]\[\s*severity - 1\]", "c = __cifar_c__[severity - 1]", source, count=1,
        flags=re.S,
    )
    if count != 1:
        return None
    namespace = dict(vars(icc))
    namespace["__cifar_c__"] = values
    exec(compile(patched, f"<imagecorruptions.{name}, CIFAR-10-C constants>", "exec"), namespace)
    return namespace[name]


def literal_elastic_cifar(image: np.ndarray, c: tuple, rs: np.random.RandomState) -> np.ndarray:
    """make_cifar_c.py's elastic_transform algorithm, the slow literal way (scipy)."""
    import cv2
    from scipy.ndimage import gaussian_filter, map_coordinates

    x = image.astype(np.float32) / 255.0
    h, w = x.shape[:2]
    centre = np.float32([h, w]) // 2
    half = min(h, w) // 3
    src = np.float32([centre + half, [centre[0] + half, centre[1] - half], centre - half])
    dst = src + rs.uniform(-c[2], c[2], size=src.shape).astype(np.float32)
    x = cv2.warpAffine(x, cv2.getAffineTransform(src, dst), (w, h),
                       borderMode=cv2.BORDER_REFLECT_101)
    dx, dy = (
        (gaussian_filter(rs.uniform(-1, 1, (h, w)), c[1], mode="reflect", truncate=3) * c[0])
        .astype(np.float32)
        for _ in range(2)
    )
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    out = np.stack(
        [map_coordinates(x[..., k], [rows + dy, cols + dx], order=1, mode="reflect")
         for k in range(3)], axis=-1,
    )
    return np.uint8(np.clip(out, 0, 1) * 255)


def reference_corrupter(name: str, constants: dict[str, list], icc, seed: int):
    """Return ``(label, corrupt(images, severity))`` for the reference, or ``None``."""
    from PIL import Image

    if name not in constants:
        return None
    values = constants[name]
    if name == "elastic_transform":

        def run_elastic(images: np.ndarray, severity: int) -> np.ndarray:
            rs = np.random.RandomState(seed + severity)
            return np.stack([literal_elastic_cifar(im, values[severity - 1], rs) for im in images])

        return "literal make_cifar_c.py (scipy)", run_elastic
    func = patched_imagecorruptions(icc, name, values)
    if func is None:
        return None

    def run(images: np.ndarray, severity: int) -> np.ndarray:
        np.random.seed(seed + severity)  # noqa: NPY002 - the reference only knows the global RNG
        return np.stack([np.uint8(func(Image.fromarray(im), severity)) for im in images])

    return "imagecorruptions body + CIFAR constants", run


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                        help="the shared/ folder with datasets/ and reference/")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/difficulty.md")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0,
                        help="evaluate on only the first N of the 5,000 held-out images")
    parser.add_argument("--only", default="", help="comma-separated corruption names")
    parser.add_argument("--same-draws", action=argparse.BooleanOptionalAction, default=True,
                        help="also build the reference on benchsmith's own draws "
                             "(tests/corruptions/replay.py) where the scripts' body is known")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(REPO), str(REPO / "tests/corruptions")]
    import replay

    from corruptions import apply, derive_rng, get_registry

    t0 = time.perf_counter()
    images, labels = load_cifar10(args.shared)
    train_x, train_y = images[:5000], labels[:5000]
    test_idx = np.arange(5000, 10000)[: args.limit or None]
    test_x, test_y = images[test_idx], labels[test_idx]
    model = train_classifier(train_x, train_y)
    clean = error_pct(model, test_x, test_y)
    print(f"trained on 5000, evaluating on {len(test_idx)}; clean error {clean:.2f}% "
          f"({time.perf_counter() - t0:.1f}s)", flush=True)

    registry = get_registry()
    names = [n for suite in SUITES for n in registry.in_suite(suite)]
    names = list(dict.fromkeys(names))
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    constants = cifar_constants(args.shared)
    icc = _load_oracle()

    rows, same_rows = [], []
    for name in names:
        ref = reference_corrupter(name, constants, icc, args.seed)
        ours_err, ref_err, t_ours, t_ref = [], [], 0.0, 0.0
        same_ours, same_ref = [], []
        for severity in SEVERITIES:
            if args.same_draws and name in replay.SAME_DRAWS:
                pairs = [replay.same_draws(name, im, severity=severity, preset="cifar32",
                                           seed=int(idx) * 5 + severity)
                         for idx, im in zip(test_idx, test_x, strict=True)]
                same_ours.append(error_pct(model, np.stack([a for a, _ in pairs]), test_y))
                same_ref.append(error_pct(model, np.stack([b for _, b in pairs]), test_y))
            t = time.perf_counter()
            corrupted = np.stack([
                apply(name, im, severity=severity, preset="cifar32",
                      rng=derive_rng(args.seed, f"cifar10/test/{idx}", name, severity))
                for idx, im in zip(test_idx, test_x, strict=True)
            ])
            t_ours += time.perf_counter() - t
            ours_err.append(error_pct(model, corrupted, test_y))
            if ref is not None:
                t = time.perf_counter()
                ref_err.append(error_pct(model, ref[1](test_x, severity), test_y))
                t_ref += time.perf_counter() - t
        rows.append((name, ours_err, ref_err, ref[0] if ref else "none", t_ours, t_ref))
        print(format_row(rows[-1]), flush=True)
        if same_ours:
            same_rows.append((name, same_ours, same_ref))

    report = render(rows, clean, len(test_idx), time.perf_counter() - t0, args.seed)
    if same_rows:
        report += render_same_draws(same_rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    return 0


def format_row(row) -> str:
    name, ours, ref, _, t_ours, t_ref = row
    mean_ours = np.mean(ours)
    if ref:
        mean_ref = np.mean(ref)
        worst = max(abs(a - b) for a, b in zip(ours, ref, strict=True))
        tail = f"ref {mean_ref:6.2f}  diff {mean_ours - mean_ref:+6.2f} (max |d| {worst:5.2f})"
    else:
        tail = "ref   n/a"
    return f"{name:20s} ours {mean_ours:6.2f}  {tail}  [{t_ours:.1f}s / {t_ref:.1f}s]"


def render(rows, clean: float, n: int, seconds: float, seed: int) -> str:
    lines = [
        "# Difficulty of benchsmith's CIFAR-10-C vs the reference",
        "",
        f"Classifier: HOG-style gradient histograms + 8x8 colour thumbnail, logistic regression, "
        f"trained on CIFAR-10 test images 0-4999 (JPEG-decoded), evaluated on {n} images from "
        f"5000 on. Clean error {clean:.2f} %. Seed {seed}. Total {seconds:.0f} s. "
        "Error in %, per severity 1..5; diff = benchsmith - reference, in points.",
        "",
        "| corruption | reference | benchsmith s1..s5 | reference s1..s5 | mean diff "
        "| max abs diff | time ours / ref (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ours, ref, label, t_ours, t_ref in rows:
        ours_s = " ".join(f"{e:.1f}" for e in ours)
        if ref:
            ref_s = " ".join(f"{e:.1f}" for e in ref)
            mean_d = f"{np.mean(ours) - np.mean(ref):+.2f}"
            max_d = f"{max(abs(a - b) for a, b in zip(ours, ref, strict=True)):.2f}"
        else:
            ref_s, mean_d, max_d = "n/a", "n/a", "n/a"
        lines.append(f"| {name} | {label} | {ours_s} | {ref_s} | {mean_d} | {max_d} | "
                     f"{t_ours:.1f} / {t_ref:.1f} |")
    return "\n".join(lines) + "\n"


def render_same_draws(rows) -> str:
    """The same-draws table: benchsmith and the scripts' body on one set of draws."""
    lines = [
        "",
        "## Same draws",
        "",
        "benchsmith's `apply` on a recording generator vs the reference script's body "
        "(`tests/corruptions/upstream.py`, make_cifar_c.py constants) fed the same draws "
        "(`tests/corruptions/replay.py`): the sampling noise of two independent draws "
        "(about 1 point at 5,000 images) cancels, leaving only kernel differences.",
        "",
        "| corruption | benchsmith s1..s5 | reference s1..s5 | max abs diff |",
        "|---|---|---|---|",
    ]
    for name, ours, ref in rows:
        worst = max(abs(a - b) for a, b in zip(ours, ref, strict=True))
        lines.append(f"| {name} | {' '.join(f'{e:.2f}' for e in ours)} | "
                     f"{' '.join(f'{e:.2f}' for e in ref)} | {worst:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
