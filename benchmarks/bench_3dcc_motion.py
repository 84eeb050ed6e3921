"""3DCC xy/z motion blur: occlusion-aware layers vs the previous layered blur.

Usage::

    python3 benchmarks/bench_3dcc_motion.py [--repeats 3] [--cifar 8]

Scene: the Middlebury "motorcycle" left view with its ground-truth disparity
(scikit-image ``stereo_motorcycle``; depth = 1 / disparity, invalid pixels
filled with the nearest valid depth), resized to 224 rows and centre-cropped,
as ``tests/corruptions/test_depth.py`` does; also area-resized to 32 px.

Measures, per severity, for the new kernel (``corruptions.depth``, rendered by
``corruptions.motion3d``) and the old one (``tests/corruptions/layered_motion_baseline``),
same draws (``default_rng(3)``) at every severity:

* near / far displacement, px: a coordinate ramp is blurred and ``input - output``
  of its x/y channels is each pixel's mean displacement; the median over the
  near and far depth quartiles (valid pixels, 40 px border excluded). ``script``
  is what the script's point cloud gives those depths by construction:
  ``|t_end / 2| * |(u, v)| * near / z`` for xy (its per-point motion, averaged over
  the frames), the same zoom formula for z; occlusion is not in it.
* PSNR of the output against the clean image (dB), on the real photo.
* CPU time per image (``time.process_time``, best of ``--repeats``, old and new
  alternated) at 224 px on the photo and at 32 px on CIFAR-10 test images with
  the built-in pseudo-depth (or the photo at 32 px without shared/).

Prints Markdown tables and the load average.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "corruptions")]

import layered_motion_baseline as old  # noqa: E402

from corruptions import motion3d, resolve_params  # noqa: E402
from corruptions.depth import normalise_depth, xy_motion_blur, z_motion_blur  # noqa: E402
from corruptions.pseudo_depth import pseudo_depth  # noqa: E402

KERNELS = {"xy": (xy_motion_blur, old.xy_motion_blur), "z": (z_motion_blur, old.z_motion_blur)}


def motorcycle(side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image, depth and validity mask of the Middlebury motorcycle, side x side."""
    import skimage.data
    from scipy import ndimage

    left, _, disp = skimage.data.stereo_motorcycle()
    valid = np.isfinite(disp) & (disp > 0)
    h, w = left.shape[:2]
    width = round(w * 224 / h)
    img = cv2.resize(left, (width, 224), interpolation=cv2.INTER_AREA)
    depth = np.where(valid, 1.0 / np.where(valid, disp, 1.0), 0.0).astype(np.float32)
    _, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
    depth = cv2.resize(depth[iy, ix], (width, 224), interpolation=cv2.INTER_NEAREST)
    valid = cv2.resize(valid.astype(np.uint8), (width, 224), interpolation=cv2.INTER_NEAREST) > 0
    x0 = (width - 224) // 2
    img, depth, valid = (np.ascontiguousarray(a[:, x0 : x0 + 224]) for a in (img, depth, valid))
    if side != 224:
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        depth = cv2.resize(depth, (side, side), interpolation=cv2.INTER_NEAREST)
        valid = cv2.resize(valid.astype(np.uint8), (side, side),
                           interpolation=cv2.INTER_NEAREST) > 0
    return img, depth, valid


def script_displacement(kind: str, params: dict, depth: np.ndarray) -> np.ndarray:
    """Mean displacement (px) the script's point cloud gives each pixel, by its own depth.

    Measured where the ramp measures it: at each output pixel, ``x - source(x)``
    with the pixel's own depth (no layers), averaged over the frames the script
    averages; occlusion is not in it. Same draws as the kernels
    (``default_rng(3)``).
    """
    rng = np.random.default_rng(3)
    d = normalise_depth(depth, depth.shape).astype(np.float64)
    near = motion3d.principal_depth(d)
    t = np.linspace(0.0, (params["n_frames"] - 1) / (params["path_frames"] - 1),
                    params["n_frames"])
    if kind == "xy":
        sign = -1.0 if rng.integers(2) else 1.0
        u = sign * rng.uniform(params["u_min"], params["u_max"])
        v = rng.uniform(-params["v_max"], params["v_max"])
        return np.mean(t) * np.hypot(u, v) * near / d
    du, dv = rng.uniform(-params["jitter"], params["jitter"], size=2)
    su, _ = rng.uniform(params["zoom_min"], params["zoom_max"], size=2)
    h, w = d.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    acc = np.zeros_like(d)
    for tt in t:  # pixel x shows the point from c + (x - c - shift) / m (motion3d.z_warp)
        fwd = tt * near * (1.0 - su)
        m = d / (d - fwd)
        k = near * (1.0 - tt * (1.0 - su)) * tt / (d - fwd) / m
        acc += np.hypot((1 - 1 / m) * (xx - cx) + du * k, (1 - 1 / m) * (yy - cy) + dv * k)
    return acc / len(t)


def displacement_rows(side: int) -> list[str]:
    img, depth, valid = motorcycle(side)
    lo, hi = np.quantile(depth[valid], [0.25, 0.75])
    near, far = valid & (depth <= lo), valid & (depth >= hi)
    b = round(40 * side / 224)
    inner = np.zeros_like(near)
    inner[b:-b, b:-b] = True
    ramp = np.zeros((side, side, 3), np.uint8)
    ramp[..., 0] = np.arange(side, dtype=np.uint8)[None, :]
    ramp[..., 1] = np.arange(side, dtype=np.uint8)[:, None]
    rows = []
    for kind, (new_fn, old_fn) in KERNELS.items():
        for s in (1, 2, 3, 4, 5):
            params = resolve_params(f"{kind}_motion_blur", severity=s, preset="auto",
                                    shape=img.shape)
            cells = []
            for fn in (new_fn, old_fn):
                out = fn(ramp, **params, depth=depth, rng=np.random.default_rng(3))
                disp = np.hypot(out[..., 0] - ramp[..., 0], out[..., 1] - ramp[..., 1])
                cells += [float(np.median(disp[near & inner])), float(np.median(disp[far & inner]))]
            ref = script_displacement(kind, params, depth)
            script = [float(np.median(ref[m & inner])) for m in (near, far)]
            psnr = []
            for fn in (new_fn, old_fn):  # clipped and truncated as ``apply`` does
                out = np.clip(fn(img, **params, depth=depth, rng=np.random.default_rng(3)),
                              0, 255).astype(np.uint8)
                mse = float(np.mean((out.astype(np.float64) - img) ** 2))
                psnr.append(10 * np.log10(255.0**2 / max(mse, 1e-10)))
            rows.append(f"| {kind}_motion_blur | {side} | {s} | "
                        f"{cells[0]:.2f} / {cells[1]:.2f} | {cells[2]:.2f} / {cells[3]:.2f} | "
                        f"{script[0]:.2f} / {script[1]:.2f} | {psnr[0]:.2f} | {psnr[1]:.2f} |")
            print(rows[-1], flush=True)
    return rows


def cifar(n: int) -> list[np.ndarray]:
    path = REPO.parent / "shared/datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    if not path.is_file():
        return [motorcycle(32)[0]]
    import pyarrow.parquet as pq
    from PIL import Image

    rows = pq.read_table(path, columns=["image"]).slice(0, n)["image"].to_pylist()
    return [np.asarray(Image.open(io.BytesIO(r["bytes"])).convert("RGB")) for r in rows]


def timing_rows(repeats: int, n_cifar: int) -> list[str]:
    sets = {224: [motorcycle(224)[:2]], 32: [(im, pseudo_depth(im)) for im in cifar(n_cifar)]}
    rows = []
    for side, items in sets.items():
        for kind, (new_fn, old_fn) in KERNELS.items():
            for s in (1, 5):
                best = {"new": np.inf, "old": np.inf}
                for _ in range(repeats):
                    for label, fn in (("new", new_fn), ("old", old_fn)):  # alternate
                        t0 = time.process_time()
                        for img, dep in items:
                            p = resolve_params(f"{kind}_motion_blur", severity=s, preset="auto",
                                               shape=img.shape)
                            fn(img, **p, depth=dep, rng=np.random.default_rng(0))
                        best[label] = min(best[label], (time.process_time() - t0) / len(items))
                load = open("/proc/loadavg").read().split()[0]
                rows.append(f"| {kind}_motion_blur | {side} | {s} | {1e3 * best['new']:.1f} | "
                            f"{1e3 * best['old']:.1f} | {best['new'] / best['old']:.1f} | "
                            f"{len(items)} | {load} |")
                print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cifar", type=int, default=8, help="CIFAR-10 test images timed at 32 px")
    ap.add_argument("--sizes", default="224,32", help="sizes for the displacement/PSNR table")
    args = ap.parse_args(argv)
    print("load average at start:", open("/proc/loadavg").read().strip())
    print("| corruption | px | severity | new near / far px | old near / far px "
          "| script near / far px | new PSNR dB | old PSNR dB |")
    print("|---|---|---|---|---|---|---|---|")
    for side in (int(x) for x in args.sizes.split(",")):
        displacement_rows(side)
    print()
    print("| corruption | px | severity | new ms | old ms | new / old | images | load |")
    print("|---|---|---|---|---|---|---|---|")
    timing_rows(args.repeats, args.cifar)
    print("load average at end:", open("/proc/loadavg").read().strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
