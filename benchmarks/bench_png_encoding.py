"""Which lossless PNG setting to store images with: zlib strategies and levels on real images.

OpenCV's PNG writer (what :mod:`pipeline.encoding` uses) at zlib levels 1/3/6 with
the default, FILTERED, RLE and HUFFMAN_ONLY strategies, on real images at every
preset size: MNIST test digits (28 px gray), lossless CIFAR-10 test images (32 px),
and crops of scikit-image's photos (64 and 224 px); each clean, after
``gaussian_noise`` s3 (noisy: hard to compress) and after ``defocus_blur`` s3
(smooth). Decoded pixels are identical for every setting (PNG is lossless; checked
here too). Reports ms per image and mean size relative to the old setting
(level 6, default strategy), with the load average.

    nice -n 10 python benchmarks/bench_png_encoding.py --shared ../shared
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from corruptions.registry import apply
from corruptions.rng import derive_rng
from pipeline.encoding import EncodingSpec, encode_image
from pipeline.sources.idx import read_idx

HERE = Path(__file__).resolve()
SETTINGS = [(s, lv) for s in ("default", "filtered", "rle", "huffman_only") for lv in (1, 3, 6)]


def _crops(side: int, n: int) -> list[np.ndarray]:
    import skimage.data

    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(),
              skimage.data.rocket()]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        p = photos[i % len(photos)]
        h, w = p.shape[:2]
        s = side / min(h, w) * float(rng.uniform(1.0, 2.0))
        img = np.asarray(Image.fromarray(p).resize((max(side, round(w * s)),
                                                    max(side, round(h * s))), Image.BILINEAR))
        y = int(rng.integers(0, img.shape[0] - side + 1))
        x = int(rng.integers(0, img.shape[1] - side + 1))
        out.append(np.ascontiguousarray(img[y:y + side, x:x + side]))
    return out


def main() -> None:
    """Measure and write ``benchmarks/results/png_encoding.md``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared")
    parser.add_argument("--n", type=int, default=100, help="images per set (224 px: n / 3)")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results" / "png_encoding.md")
    args = parser.parse_args()
    mnist = read_idx(args.shared / "datasets/mnist/t10k-images-idx3-ubyte.gz")[: args.n]
    cifar = np.load(args.shared / "datasets/cifar10/cifar10_test_lossless_prefix.npz")["images"]
    sets = {"MNIST 28 gray": list(mnist), "CIFAR-10 32": list(cifar[: args.n]),
            "photos 64": _crops(64, args.n), "photos 224": _crops(224, max(10, args.n // 3))}
    lines = ["# Lossless PNG setting: zlib strategy x level (OpenCV writer)", "",
             f"OpenCV {cv2.__version__}; load average at start "
             f"{Path('/proc/loadavg').read_text().split()[0]} (shared machine). ms per image "
             "(lower is better) and mean size vs level 6 / default strategy (the old setting).",
             "", "| images | variant | " + " | ".join(f"{s} L{lv}" for s, lv in SETTINGS) + " |",
             "|---|---|" + "---|" * len(SETTINGS)]
    for set_name, images in sets.items():
        for variant, op in (("clean", None), ("gaussian_noise s3", "gaussian_noise"),
                            ("defocus_blur s3", "defocus_blur")):
            data = images if op is None else [
                apply(op, im, severity=3, preset="auto", rng=derive_rng(0, str(i), op, 3))
                for i, im in enumerate(images)]
            cells = []
            for strategy, level in SETTINGS:
                spec = EncodingSpec("png", compression=level, strategy=strategy)
                t0 = time.perf_counter()
                blobs = [encode_image(a, spec) for a in data]
                ms = (time.perf_counter() - t0) / len(data) * 1e3
                size = sum(map(len, blobs)) / len(blobs)
                for a, b in zip(data, blobs, strict=True):  # lossless by construction; check it
                    back = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)
                    back = cv2.cvtColor(back, cv2.COLOR_BGR2RGB) if back.ndim == 3 else back
                    assert np.array_equal(back, a)
                cells.append((ms, size))
            base = cells[SETTINGS.index(("default", 6))][1]
            lines.append(f"| {set_name} | {variant} | " + " | ".join(
                f"{ms:.3f} ms, {size / base - 1:+.1%}" for ms, size in cells) + " |")
            print(lines[-1], flush=True)
    lines += ["", "Chosen default (`pipeline.encoding.PNG_FAST`): strategy `rle` (its bytes do not "
              "depend on the level 1-9). Recorded in every config's `encoding`."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
