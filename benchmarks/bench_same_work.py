"""Speed against the reference scripts' own bodies at the same constants, single core.

Usage::

    python3 benchmarks/bench_same_work.py [--shared ../shared] [--rounds 7]

``bench_corruptions.py`` times the PyPI ``imagecorruptions`` package, which only has the
ImageNet constants and a re-parameterised ``elastic_transform`` (no affine step, sigma
0.01 x H). Its 32 px column and its elastic rows therefore compare different work: our
``cifar32`` table (make_cifar_c.py's constants) against ImageNet's, and make_imagenet_c.py's
elastic against the package's cheaper one. This script times each corruption with a
restatement of the scripts' bodies (``tests/corruptions/upstream.py``: hendrycks/robustness
``make_imagenet_c.py`` / ``make_cifar_c.py``, operation for operation, drawing from
``np.random`` as the scripts did; the same-draws tests show those restatements equal to the
installed package at the ImageNet constants) **at the constants of our table for that
preset**, so both sides do the same work.

Per (corruption, preset, severity): per image the best of ``--rounds`` alternating calls
(CPU time), averaged over the images; ratio = reference / ours. Writes
``benchmarks/results/same_work.md`` with the load average.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks"), str(REPO / "tests/corruptions")]

from bench_corruptions import (  # noqa: E402
    _loadavg,
    load_cifar,
    load_photos224,
    paired_best_seconds,
)

from corruptions.image import from_layout, quantize, to_layout  # noqa: E402
from corruptions.registry import get_registry, resolve_params  # noqa: E402
from corruptions.rng import derive_rng  # noqa: E402

#: The corruptions ``tests/corruptions/upstream.py`` restates with their constant as argument.
NAMES = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "contrast",
         "brightness", "saturate", "jpeg_compression", "pixelate", "elastic_transform")


def reference_call(name: str, image: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """The script's body for ``name`` at the resolved table row ``p`` (``np.random`` draws)."""
    import upstream

    if name in ("gaussian_noise", "speckle_noise"):
        return getattr(upstream, name)(image, p["sigma"], np.random)
    if name == "shot_noise":
        return upstream.shot_noise(image, p["photons"], np.random)
    if name == "impulse_noise":
        return upstream.impulse_noise(image, p["amount"], None)
    if name == "brightness":
        return upstream.brightness(image, p["delta"])
    if name == "saturate":
        return upstream.saturate(image, (p["scale"], p["offset"]))
    if name == "contrast":
        return upstream.contrast(image, p["factor"])
    if name == "jpeg_compression":
        return upstream.jpeg_compression(image, p["quality"])
    if name == "pixelate":
        return upstream.pixelate(image, p["factor"])
    return upstream.elastic_transform(image, (p["alpha"], p["sigma"], p["affine_jitter"]),
                                      np.random)


def stage_call(name: str, images: list[np.ndarray], severity: int, preset: str) -> Any:
    """Ours as the corrupt stage runs it: parameters resolved once, one generator per image
    made before the timing (the stage derives a shard's generators in one vectorised step;
    the scripts draw from the global state), then kernel, truncation to uint8 and layout."""
    spec = get_registry()[name]
    params = resolve_params(name, severity=severity, preset=preset, shape=images[0].shape)
    kwargs = {k: v for k, v in params.items() if not k.startswith("_")}
    rngs = [derive_rng(0, f"bench/{i}", name, severity) for i in range(len(images))]

    def run(i: int) -> np.ndarray:
        work, alpha = to_layout(images[i], spec.layout)
        kw = {**kwargs, "rng": rngs[i]} if spec.stochastic else kwargs
        return from_layout(quantize(np.asarray(spec.kernel(work, **kw)), "truncate"),
                           images[i], alpha)

    return run


def main(argv: list[str] | None = None) -> int:
    """Time every (corruption, preset, severity) and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get(
        "BENCHSMITH_SHARED", REPO.parent / "shared")))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/same_work.md")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    np.random.seed(0)  # noqa: NPY002 - the scripts draw from the legacy global state
    sets = ((load_photos224()[:3], "imagenet224"), (load_cifar(args.shared, 16), "cifar32"))
    start = _loadavg()
    lines = ["# Speed at the same constants: benchsmith vs the scripts' own bodies", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, niceness {os.nice(0)}, "
             f"one core, CPU time, best of {args.rounds} alternating calls per image "
             "(`benchmarks/bench_same_work.py`). 224 px: 3 scikit-image photographs, "
             "`imagenet224` table (make_imagenet_c.py's constants); 32 px: 16 CIFAR-10 test "
             "images, `cifar32` table (make_cifar_c.py's constants). Reference = the scripts' "
             "bodies restated in `tests/corruptions/upstream.py` at the same constants; ours = "
             "the kernel as the corrupt stage calls it (parameters resolved once per task, "
             "generators made before the timing, truncation to uint8 included).", "",
             "| corruption | preset | ref us s1..s5 | ours us s1..s5 | ratio s1..s5 | min |",
             "|---|---|---|---|---|---|"]
    for name in NAMES:
        for images, preset in sets:
            refs, ours, ratios = [], [], []
            for sev in (1, 2, 3, 4, 5):
                p = resolve_params(name, severity=sev, preset=preset, shape=images[0].shape)
                def ref(i: int, p: dict = p, n: str = name, ims: list = images) -> Any:
                    return reference_call(n, ims[i], p)

                r, o = paired_best_seconds(ref, stage_call(name, images, sev, preset), len(images),
                                           args.rounds, clock=time.process_time)
                refs.append(r)
                ours.append(o)
                ratios.append(r / o)
            k = int(np.argmin(ratios))
            lines.append(f"| {name} | {preset} | {' / '.join(f'{1e6 * x:.0f}' for x in refs)} | "
                         f"{' / '.join(f'{1e6 * x:.0f}' for x in ours)} | "
                         f"{' / '.join(f'{x:.2f}' for x in ratios)} | "
                         f"{ratios[k]:.2f}x (s{k + 1}) |")
            print(lines[-1], flush=True)
    lines += ["", f"Load average at start: {start}; at end: {_loadavg()}."]
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
