"""Time the decoding front door on real images, beside the bare decoders it wraps.

Usage::

    PYTHONPATH=<checkout> python3 benchmarks/bench_decode.py [--shared ../shared] [--n 10000]

Decodes the CIFAR-10 test JPEGs from shared/ and the same images as PNG (RGB and
gray) through ``pipeline.sources.hf.decode_image`` (the front door on this
branch; the unguarded decoder on an older checkout), and through the floors: bare
``cv2.imdecode`` for PNG and bare Pillow for JPEG. Prints one Markdown table with
the load average; run it once per checkout to compare them side by side.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _best(fn, items, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    from pipeline.sources.hf import decode_image

    table = pq.read_table(args.shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    jpegs = [d["bytes"] for d in table["image"].slice(0, args.n).to_pylist()]
    rgb = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in jpegs]
    png_rgb = [cv2.imencode(".png", a[..., ::-1])[1].tobytes() for a in rgb]
    png_gray = [cv2.imencode(".png", a[..., 0])[1].tobytes() for a in rgb]
    rows = []
    for name, items, floor in (
        ("JPEG RGB 32x32", jpegs, lambda b: np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))),
        ("PNG RGB 32x32", png_rgb,
         lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)),
        ("PNG gray 32x32", png_gray,
         lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)),
    ):
        door = _best(decode_image, items)
        bare = _best(floor, items)
        rows.append(f"| {name} | {len(items)} | {door * 1e6 / len(items):.1f} | "
                    f"{bare * 1e6 / len(items):.1f} | {door / bare:.2f} |")
    print(f"decode_image from {Path(__import__('pipeline').__file__).parent.parent}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| images | n | decode_image us/img | bare decoder us/img | ratio |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
