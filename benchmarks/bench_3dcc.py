"""Time every 3D Common Corruption (severity 3) on 224 x 224 and 32 x 32 images.

Usage::

    python3 benchmarks/bench_3dcc.py [--shared ../shared] [--images 8] [--video-images 4]

Images: the scikit-image photographs (shorter side to 256, centre crop 224, the
ImageNet-C recipe) for 224 px; the first CIFAR-10 test images from
``shared/datasets/cifar10`` for 32 px (or the photographs area-downsampled to 32
when shared/ is absent). Depth corruptions get the built-in pseudo-depth,
computed once per image outside the timed call (its own cost is a separate row).
Every call goes through ``corruptions.apply`` with
``derive_rng(0, sample_id, name, 3)``, single process. Reports the median and
mean wall time per image; writes ``benchmarks/results/3dcc_speed.md`` (the fidelity
table is ``benchmarks/results/3dcc.md``).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corruptions import apply, get_registry  # noqa: E402
from corruptions.pseudo_depth import PSEUDO_DEPTH_METHOD, pseudo_depth  # noqa: E402
from corruptions.rng import derive_rng  # noqa: E402
from corruptions.video import ffmpeg_version  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field",
          "immunohistochemistry", "retina", "colorwheel")  # fmt: skip


def photos() -> list[np.ndarray]:
    """The scikit-image photographs of :data:`PHOTOS` as uint8 RGB, full size."""
    import skimage.data
    from PIL import Image

    return [np.asarray(Image.fromarray(skimage.data.stereo_motorcycle()[0]
                                       if name == "motorcycle_left"
                                       else getattr(skimage.data, name)()).convert("RGB"))
            for name in PHOTOS]


def photos224() -> list[np.ndarray]:
    from PIL import Image

    out = []
    for img in photos():
        pil = Image.fromarray(img)
        s = 256 / min(pil.size)
        pil = pil.resize((max(256, round(pil.size[0] * s)), max(256, round(pil.size[1] * s))),
                         Image.BILINEAR)
        a = np.asarray(pil)
        top, left = (a.shape[0] - 224) // 2, (a.shape[1] - 224) // 2
        out.append(np.ascontiguousarray(a[top : top + 224, left : left + 224]))
    return out


def cifar32(shared: Path, n: int, fallback: list[np.ndarray]) -> tuple[list[np.ndarray], str]:
    path = shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    if path.is_file():
        import pyarrow.parquet as pq
        from PIL import Image

        rows = pq.read_table(path, columns=["image"]).slice(0, n)["image"].to_pylist()
        imgs = [np.asarray(Image.open(io.BytesIO(r["bytes"])).convert("RGB")) for r in rows]
        return imgs, "CIFAR-10 test (first images)"
    import cv2

    imgs = [cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in fallback]
    return imgs, "scikit-image photos downsampled to 32 px (shared/ not found)"


def time_op(name: str, images: list[np.ndarray], depths: list[np.ndarray], preset: str,
            needs_depth: bool) -> list[float]:
    times = []
    for i, img in enumerate(images):
        aux = {"depth": depths[i]} if needs_depth else {}
        rng = derive_rng(0, f"bench/{preset}/{i}", name, 3)
        t0 = time.perf_counter()
        apply(name, img, severity=3, preset=preset, rng=rng, **aux)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--images", type=int, default=8, help="images per size (non-video)")
    parser.add_argument("--video-images", type=int, default=4, help="images per size (video)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/3dcc_speed.md")
    args = parser.parse_args(argv)

    registry = get_registry()
    names = registry.in_suite("3dcc")
    big = photos224()[: args.images]
    small, small_src = cifar32(args.shared, args.images, photos224())
    sets = {"224x224": (big, "imagenet224"), "32x32": (small, "cifar32")}
    have_ffmpeg = ffmpeg_version() != "missing"

    results: dict[tuple[str, str], tuple[float, float, int]] = {}
    for label, (imgs, preset) in sets.items():
        # warm-up (imports, OpenCV/FFT plans), untimed
        apply("fog_3d", imgs[0], severity=3, preset=preset, rng=None, depth=pseudo_depth(imgs[0]))
        t = []
        depths = []
        for img in imgs:
            t0 = time.perf_counter()
            depths.append(pseudo_depth(img))
            t.append(time.perf_counter() - t0)
        results[("pseudo_depth", label)] = (statistics.median(t), statistics.fmean(t), len(t))
        for name in names:
            spec = registry[name]
            video = spec.family == "video"
            if video and not have_ffmpeg:
                continue
            subset = imgs[: args.video_images] if video else imgs
            ts = time_op(name, subset, depths, preset, "depth" in spec.needs)
            results[(name, label)] = (statistics.median(ts), statistics.fmean(ts), len(ts))
            print(f"{label:8s} {name:20s} median {1e3 * results[(name, label)][0]:8.1f} ms",
                  flush=True)

    rows = ["pseudo_depth", *names]
    lines = [
        "# 3D Common Corruptions: time per image (severity 3)",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU(s) (shared with other jobs), "
        f"Python {platform.python_version()}, NumPy {np.__version__}",
        f"- ffmpeg: {ffmpeg_version()}",
        f"- 224x224: scikit-image photographs ({len(big)}); 32x32: {small_src} ({len(small)})",
        f"- depth: built-in pseudo-depth ({PSEUDO_DEPTH_METHOD}), computed outside the timed "
        "call; its own cost is the first row",
        "- one process, `corruptions.apply` including the uint8 boundary; video rows run "
        f"ffmpeg as subprocesses ({args.video_images} images per size)",
        "",
        "| corruption | family | 224x224 median ms | 224x224 mean ms | 32x32 median ms "
        "| 32x32 mean ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in rows:
        fam = "pseudo-depth" if name == "pseudo_depth" else registry[name].family
        cells = []
        for label in sets:
            r = results.get((name, label))
            cells += ([f"{1e3 * r[0]:.1f}", f"{1e3 * r[1]:.1f}"] if r else ["n/a", "n/a"])
        lines.append(f"| {name} | {fam} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
