"""Mean |change| per severity of every 3DCC corruption at 28, 32, 64, 224 and 512 px.

Usage::

    python3 benchmarks/bench_3dcc_monotone.py [--images 4] [--sizes 28,32,64,224,512] [--video]
        [--ops xy_motion_blur,z_motion_blur]

Images: the scikit-image photographs, shorter side resized to the size (PIL
bilinear) and centre-cropped square; depth is the built-in pseudo-depth of each
resized image. Each corruption runs through ``corruptions.apply`` with
``preset="auto"`` and ``derive_rng(0, str(i), name, 1)`` at every severity (same
draws, only the table changes). Prints one row per corruption and size: the
mean |change| (0..255) at severities 1..5 and whether it grows strictly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corruptions import apply, get_registry  # noqa: E402
from corruptions.pseudo_depth import pseudo_depth  # noqa: E402
from corruptions.rng import derive_rng  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")


def photos(side: int, n: int) -> list[np.ndarray]:
    """The first ``n`` scikit-image photographs, short side to ``side``, centre-cropped."""
    import skimage.data
    from PIL import Image

    out = []
    for name in PHOTOS[:n]:
        img = (skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left"
               else getattr(skimage.data, name)())
        pil = Image.fromarray(img).convert("RGB")
        s = side / min(pil.size)
        pil = pil.resize((max(side, round(pil.size[0] * s)), max(side, round(pil.size[1] * s))),
                         Image.BILINEAR)
        a = np.asarray(pil)
        top, left = (a.shape[0] - side) // 2, (a.shape[1] - side) // 2
        out.append(np.ascontiguousarray(a[top : top + side, left : left + side]))
    return out


def mean_change(name: str, imgs: list[np.ndarray], depths: list[np.ndarray]) -> list[float]:
    """Mean |out - in| over the images at each severity 1..5."""
    spec = get_registry()[name]
    errs = []
    for s in (1, 2, 3, 4, 5):
        vals = []
        for i, (img, d) in enumerate(zip(imgs, depths, strict=True)):
            aux = {"depth": d} if "depth" in spec.needs else {}
            rng = derive_rng(0, str(i), name, 1)
            out = apply(name, img, severity=s, preset="auto", rng=rng, **aux)
            vals.append(float(np.abs(out.astype(np.float64) - img).mean()))
        errs.append(float(np.mean(vals)))
    return errs


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--sizes", default="28,32,64,224,512")
    ap.add_argument("--video", action="store_true", help="include the ffmpeg corruptions")
    ap.add_argument("--ops", default="", help="comma-separated subset (default: all)")
    args = ap.parse_args(argv)
    names = [n for n in get_registry().in_suite("3dcc")
             if args.video or get_registry()[n].family != "video"]
    if args.ops:
        wanted = args.ops.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            ap.error(f"unknown --ops {unknown}; valid: {', '.join(names)}")
        names = [n for n in names if n in wanted]
    print("| corruption | px | s1 | s2 | s3 | s4 | s5 | strictly growing |")
    print("|---|---|---|---|---|---|---|---|")
    bad = 0
    for side in (int(x) for x in args.sizes.split(",")):
        imgs = photos(side, args.images)
        depths = [pseudo_depth(im) for im in imgs]
        for name in names:
            e = mean_change(name, imgs, depths)
            ok = all(a < b for a, b in zip(e, e[1:], strict=False))
            bad += not ok
            print(f"| {name} | {side} | " + " | ".join(f"{v:.2f}" for v in e) + f" | {ok} |",
                  flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
