"""Fidelity of the noise and digital families to the reference scripts, every preset.

Usage::

    python3 benchmarks/bench_fidelity.py [--shared ../shared] [--images 9] [--out F]

For every corruption of the noise and digital families x severity 1..5 x preset
(imagenet224, imagenet299, tiny64, cifar32, mnist28):

* **same draws**: benchsmith's ``apply`` runs on a recording generator; the reference
  script's body (``tests/corruptions/upstream.py``: hendrycks/robustness
  ``make_{imagenet,tinyimagenet,cifar}_c.py`` / ``make_imagenet_c_inception.py``,
  google-research/mnist-c, with the preset's published constants) runs on the same
  draws (``tests/corruptions/replay.py``). Reported: max and mean ``|ours - ref|`` in
  gray levels and the fraction of values that differ (goal 0 / 0 / 0).
* **independent draws** (stochastic corruptions): ours from ``derive_rng`` vs the
  reference body on NumPy's legacy ``RandomState`` (what the scripts drew from), the
  mean and standard deviation of ``output - input`` pooled over the images, and the
  difference of the means in standard errors (``z``; |z| < 3 is within noise).

Images: 224 px photographs (scikit-image's, torchvision-era Resize(256) +
CenterCrop(224), ``pipeline.preprocess``), resized for 299/64 px; CIFAR-10 test images
at 32 px; MNIST test digits at 28 px. Writes one markdown section (its own heading, so
that the lead can concatenate it with the blur/weather section) to
``benchmarks/results/fidelity.md`` by default.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests/corruptions")]

import replay  # noqa: E402
import upstream  # noqa: E402

from corruptions import PRESETS, apply, get_registry  # noqa: E402
from corruptions.registry import resolve_params  # noqa: E402
from corruptions.rng import derive_rng  # noqa: E402

FAMILIES = ("noise", "digital")
PRESET_ORDER = ("imagenet224", "imagenet299", "tiny64", "cifar32", "mnist28")
PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
               "immunohistochemistry", "retina", "motorcycle_left", "colorwheel")


def load_images(shared: Path, n: int) -> dict[str, list[np.ndarray]]:
    """``n`` images per preset (photographs, CIFAR-10 test, MNIST test digits)."""
    import skimage.data
    from PIL import Image

    from pipeline.preprocess import preprocess_image
    from pipeline.sources.idx import read_idx

    photos = []
    for name in PHOTO_NAMES[:n]:
        img = (skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left"
               else getattr(skimage.data, name)())
        rgb = np.asarray(Image.fromarray(img).convert("RGB"))
        photos.append(preprocess_image(rgb, {"resize_shorter": 256, "center_crop": 224}))
    out = {"imagenet224": photos}
    for preset in ("imagenet299", "tiny64"):
        side = PRESETS[preset]
        out[preset] = [np.asarray(Image.fromarray(p).resize((side, side), Image.BILINEAR))
                       for p in photos]
    cifar = np.load(shared / "datasets/cifar10/cifar10_test_lossless_prefix.npz")
    key = next(k for k in cifar.files if cifar[k].ndim == 4)
    out["cifar32"] = [np.ascontiguousarray(x) for x in cifar[key][: 5 * n]]
    digits = read_idx(shared / "datasets/mnist/t10k-images-idx3-ubyte.gz")
    out["mnist28"] = [np.ascontiguousarray(d) for d in digits[: 5 * n]]
    return out


def _reference_independent(name: str, image: np.ndarray, p: dict, seed: int) -> np.ndarray:
    """The reference body on its own draws (legacy RandomState, as the scripts)."""
    random = np.random.RandomState(seed)  # noqa: NPY002 - the scripts' legacy RNG
    if name in ("gaussian_noise", "speckle_noise"):
        return getattr(upstream, name)(image, p["sigma"], random)
    if name == "shot_noise":
        return upstream.shot_noise(image, p["photons"], random)
    if name == "impulse_noise":
        return upstream.impulse_noise(image, p["amount"], np.random.default_rng(seed))
    c = (p["alpha"], p["sigma"], p["affine_jitter"])
    if p["border"] == "constant":
        return upstream.elastic_transform_mnist(image, c, random)
    return upstream.elastic_transform(image, c, random)


def _delta_stats(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, float]:
    """Pooled mean and std of ``out - in``, and the standard error of the mean over images."""
    diffs = [out.astype(np.float64) - inp for out, inp in pairs]
    allv = np.concatenate([d.ravel() for d in diffs])
    per_image = np.array([d.mean() for d in diffs])
    return float(allv.mean()), float(allv.std()), float(per_image.std(ddof=1) / np.sqrt(len(diffs)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--images", type=int, default=9, help="photographs (x5 for 32/28 px)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks/results/fidelity.md")
    args = parser.parse_args(argv)

    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    start = time.perf_counter()
    images = load_images(args.shared, args.images)
    registry = get_registry()
    names = [n for n, s in registry.items() if s.family in FAMILIES]
    same_rows, indep_rows = [], []
    for name in names:
        spec = registry[name]
        for preset in PRESET_ORDER:
            if preset not in spec.tables:
                continue
            for severity in range(1, 6):
                imgs = images[preset]
                diffs = []
                for i, image in enumerate(imgs):
                    ours, ref = replay.same_draws(name, image, severity=severity,
                                                  preset=preset, seed=i)
                    diffs.append(np.abs(ours.astype(np.int16) - ref))
                d = np.concatenate([x.ravel() for x in diffs])
                same_rows.append((name, preset, severity, len(imgs), int(d.max()),
                                  float(d.mean()), float(np.count_nonzero(d)) / d.size))
                if not spec.stochastic:
                    continue
                p = resolve_params(name, severity=severity, preset=preset, shape=imgs[0].shape)
                ours_pairs = [(apply(name, x, severity=severity, preset=preset,
                                     rng=derive_rng(0, f"fidelity/{i}", name, severity)), x)
                              for i, x in enumerate(imgs)]
                ref_pairs = [(_reference_independent(name, x, p, 1000 + i), x)
                             for i, x in enumerate(imgs)]
                om, osd, ose = _delta_stats(ours_pairs)
                rm, rsd, rse = _delta_stats(ref_pairs)
                z = (om - rm) / max(np.hypot(ose, rse), 1e-12)
                indep_rows.append((name, preset, severity, om, rm, osd, rsd, z))
        print(f"{name}: done ({time.perf_counter() - start:.0f} s)", flush=True)

    lines = [
        "## Fidelity: noise and digital families (same draws, every preset)",
        "",
        f"`benchmarks/bench_fidelity.py`, {args.images} photographs (224/299/64 px), "
        f"{5 * args.images} CIFAR-10 (32 px) and MNIST (28 px) test images per preset; "
        f"loadavg {' '.join(load)}; {time.perf_counter() - start:.0f} s. Reference: the "
        "scripts' bodies (`tests/corruptions/upstream.py`) with each preset's published "
        "constants, fed benchsmith's recorded draws (`tests/corruptions/replay.py`).",
        "",
        "| corruption | preset | severity | images | max abs diff | mean abs diff "
        "| values off |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {p} | {s} | {k} | {mx} | {mean:.4f} | {off:.2%} |"
              for n, p, s, k, mx, mean, off in same_rows]
    worst = max(r[4] for r in same_rows)
    lines += ["", f"Worst max abs diff over all {len(same_rows)} rows: {worst} gray levels.", "",
              "### Independent draws (stochastic corruptions): `output - input`", "",
              "| corruption | preset | severity | mean ours | mean ref | std ours | std ref "
              "| z (means) |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {n} | {p} | {s} | {om:.3f} | {rm:.3f} | {osd:.3f} | {rsd:.3f} | {z:+.2f} |"
              for n, p, s, om, rm, osd, rsd, z in indep_rows]
    outside = [r for r in indep_rows if abs(r[7]) >= 3]
    lines += ["", f"{len(indep_rows) - len(outside)} of {len(indep_rows)} rows have |z| < 3."]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(args.out)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
