"""Time benchsmith's corruptions against imagecorruptions 1.1.2, single core, side by side.

Usage::

    python3 benchmarks/bench_corruptions.py [--shared ../shared] [--min-time 1.0]
    python3 benchmarks/bench_corruptions.py --baseline /tmp/main --rounds 6  # old vs new

(``/tmp/main`` holding another revision's ``corruptions/``, e.g. from
``git archive main corruptions | tar -x -C /tmp/main``.)

Times every registered corruption of the suites ``imagenet_c`` and
``imagenet_c_extra`` at severity 3 on real 224x224 photographs (the RGB
photographs bundled with scikit-image, shorter side resized to 256 and centre
cropped, the ImageNet-C recipe) and on 32x32 CIFAR-10 test images (ours with
the ``cifar32`` preset; imagecorruptions only has its ImageNet parameters), then
the whole 15 x 5 benchmark suite at 224x224 (total time per image over all 15
corruptions and 5 severities; per image the best of ``--suite-rounds`` alternating
ref/ours calls, CPU time by default, with the five largest shares of ours). Prints a
markdown table and writes it to ``benchmarks/results/corruptions.md``, with the load
average, and (``--every-severity``, default on) each corruption's slowest ratio over
severities 1..5 at both sizes.

Everything runs on one core: the thread-count variables are set before numpy
is imported and OpenCV is limited with ``cv2.setNumThreads(1)``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from corruptions import apply, get_registry  # noqa: E402
from corruptions.rng import derive_rng  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
               "immunohistochemistry", "retina", "motorcycle_left", "colorwheel")
SUITES = ("imagenet_c", "imagenet_c_extra")


def load_photos224() -> list[np.ndarray]:
    """The scikit-image RGB photographs, shorter side 256 (bilinear), centre 224x224."""
    import skimage.data
    from PIL import Image

    out = []
    for name in PHOTO_NAMES:
        img = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(
            skimage.data, name)()
        pil = Image.fromarray(img).convert("RGB")
        s = 256 / min(pil.size)
        pil = pil.resize((max(256, round(pil.size[0] * s)), max(256, round(pil.size[1] * s))),
                         Image.BILINEAR)
        arr = np.asarray(pil)
        top, left = (arr.shape[0] - 224) // 2, (arr.shape[1] - 224) // 2
        out.append(np.ascontiguousarray(arr[top : top + 224, left : left + 224]))
    return out


def load_cifar(shared: Path, n: int) -> list[np.ndarray]:
    """The first ``n`` CIFAR-10 test images (decoded from the shared JPEG parquet)."""
    import pyarrow.parquet as pq
    from PIL import Image

    path = shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    if not path.is_file():
        raise SystemExit(f"CIFAR-10 not found at {path}; pass --shared <shared folder>")
    rows = pq.read_table(path, columns=["image"]).slice(0, n)["image"].to_pylist()
    return [np.asarray(Image.open(io.BytesIO(r["bytes"])).convert("RGB")) for r in rows]


def load_reference() -> Callable[[str, np.ndarray, int, int], np.ndarray] | None:
    """imagecorruptions' ``corrupt`` through the tests' oracle (its shims for numpy 2,
    scikit-image 0.26 and setuptools without pkg_resources), or ``None`` if not installed."""
    import importlib.util

    if importlib.util.find_spec("imagecorruptions") is None:
        return None
    path = Path(__file__).resolve().parents[1] / "tests/corruptions/oracle.py"
    spec = importlib.util.spec_from_file_location("benchsmith_oracle", path)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)  # type: ignore[union-attr]
    oracle.reference_module()
    import imagecorruptions

    def run(name: str, image: np.ndarray, severity: int, seed: int) -> np.ndarray:
        return oracle.reference(name, image, severity, seed)

    run.names = set(imagecorruptions.get_corruption_names("all"))  # type: ignore[attr-defined]
    return run


def per_image_seconds(fn: Callable[[int], object], n_images: int, min_time: float,
                      max_calls: int) -> float:
    """Mean wall time of ``fn(i)`` cycling over images, after one warm-up call."""
    fn(0)
    calls, start = 0, time.perf_counter()
    while calls < max_calls and (calls < n_images or time.perf_counter() - start < min_time):
        fn(calls % n_images)
        calls += 1
    return (time.perf_counter() - start) / calls


def paired_best_seconds(ref: Callable[[int], object], ours: Callable[[int], object],
                        n_images: int, rounds: int,
                        clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """Per-image best of ``rounds`` calls, ref and ours alternating call by call, averaged.

    The best of several calls is the estimator least sensitive to other jobs on a shared
    machine; alternating exposes both sides to the same load. ``clock`` is
    ``time.perf_counter`` (wall) or ``time.process_time`` (this process's CPU time).
    """
    ref(0), ours(0)
    best_ref, best_ours = [float("inf")] * n_images, [float("inf")] * n_images
    for _ in range(rounds):
        for i in range(n_images):
            t = clock()
            ref(i)
            best_ref[i] = min(best_ref[i], clock() - t)
            t = clock()
            ours(i)
            best_ours[i] = min(best_ours[i], clock() - t)
    return sum(best_ref) / n_images, sum(best_ours) / n_images


def _ours(name: str, images: list[np.ndarray], severity: int, preset: str):
    spec = get_registry()[name]

    def run(i: int) -> np.ndarray:
        rng = derive_rng(0, f"bench/{i}", name, severity) if spec.stochastic else None
        return apply(name, images[i], severity=severity, preset=preset, rng=rng)

    return run


def _ref(reference, name: str, images: list[np.ndarray], severity: int):
    return lambda i: reference(name, images[i], severity, i)


def _loadavg() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "n/a"


def _rate(seconds: float | None) -> str:
    return "-" if not seconds else f"{1.0 / seconds:,.1f}"


def _ratio(ref: float | None, ours: float | None) -> str:
    return "-" if not ref or not ours else f"{ref / ours:,.1f}x"


def load_baseline(checkout: Path):
    """Import another checkout's ``corruptions`` package beside this one (``corruptions_baseline``).

    ``checkout`` is a tree holding ``corruptions/`` (e.g. ``git worktree add /tmp/main main``).
    The package is copied to a temporary folder with its absolute imports renamed, so
    both versions run in this process and can be timed call by call against each other.
    """
    import re
    import shutil
    import sys
    import tempfile

    src = checkout / "corruptions"
    if not (src / "registry.py").is_file():
        raise SystemExit(f"no corruptions/ package under {checkout}; pass --baseline <checkout>")
    tmp = Path(tempfile.mkdtemp(prefix="bench_baseline_"))
    shutil.copytree(src, tmp / "corruptions_baseline", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (tmp / "corruptions_baseline").rglob("*.py"):
        text = re.sub(r"\bfrom corruptions([. ])", r"from corruptions_baseline\1", path.read_text())
        text = re.sub(r"\bimport corruptions\b", "import corruptions_baseline", text)
        path.write_text(text.replace('"corruptions.', '"corruptions_baseline.'))
    sys.path.insert(0, str(tmp))
    import corruptions_baseline

    return corruptions_baseline


def three_way(reference, baseline, name: str, images: list[np.ndarray], severity: int,
              preset: str, rounds: int) -> tuple[float, float, float]:
    """Per-image best of ``rounds`` CPU-time calls of reference, baseline and this tree.

    The three run call by call on the same image in all six orders in turn (the call
    after another one on the same image runs with warm caches), and the baseline's
    output must equal this tree's byte for byte.
    """
    import itertools

    spec = get_registry()[name]

    def base(i: int) -> np.ndarray:
        rng = derive_rng(0, f"bench/{i}", name, severity) if spec.stochastic else None
        return baseline.apply(name, images[i], severity=severity, preset=preset, rng=rng)

    fns = (_ref(reference, name, images, severity), base, _ours(name, images, severity, preset))
    for f in fns:
        f(0)
    if not np.array_equal(fns[1](0), fns[2](0)):
        raise SystemExit(f"{name} {preset} s{severity}: output bytes differ from the baseline's")
    orders = list(itertools.permutations(range(3)))
    best = [[float("inf")] * len(images) for _ in fns]
    for r in range(rounds):
        for i in range(len(images)):
            for k in orders[(r * len(images) + i) % 6]:
                t = time.process_time()
                fns[k](i)
                best[k][i] = min(best[k][i], time.process_time() - t)
    ref_s, base_s, ours_s = (sum(b) / len(b) for b in best)
    return ref_s, base_s, ours_s


def baseline_report(reference, baseline, names: list[str], sets, rounds: int) -> list[str]:
    """Markdown: per corruption, ratios to the reference and speed-up over the baseline."""
    lines = [
        "| corruption | size | s | ref ms | baseline ms | ours ms | baseline ratio "
        "| ours ratio | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for name in names:
        for images, preset in sets:
            for s in (1, 2, 3, 4, 5):
                slow = name == "glass_blur" and preset == "imagenet224"
                r, b, o = three_way(reference, baseline, name, images[:1] if slow else images,
                                    s, preset, 1 if slow else rounds)
                line = (f"| {name} | {images[0].shape[0]} | {s} | {r * 1e3:.2f} | {b * 1e3:.2f} "
                        f"| {o * 1e3:.2f} | {r / b:.1f}x | {r / o:.1f}x | {b / o:.2f}x |")
                lines.append(line)
                print(line, flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                        help="the shared/ folder holding datasets/cifar10 (default: ../shared)")
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="seconds per measurement (at least one pass over the images)")
    parser.add_argument("--cifar-images", type=int, default=64)
    parser.add_argument("--suite-images", type=int, default=3,
                        help="224x224 photographs per (corruption, severity) in the suite total")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/corruptions.md")
    parser.add_argument("--every-severity", action=argparse.BooleanOptionalAction, default=True,
                        help="also report each corruption's slowest ratio over severities 1..5")
    parser.add_argument("--rounds", type=int, default=5,
                        help="calls per image and side in the every-severity check (alternating "
                             "ref/ours; the best call of each is kept)")
    parser.add_argument("--suite", action=argparse.BooleanOptionalAction, default=True,
                        help="time the whole 15 x 5 suite at 224")
    parser.add_argument("--suite-rounds", type=int, default=3,
                        help="calls per image and side in the suite total (alternating "
                             "ref/ours; the best call of each is kept)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="suite and every-severity timer: this process's CPU time "
                             "(robust to other jobs on a shared machine) or wall time")
    parser.add_argument("--only", default="", help="comma-separated corruption names")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. a git worktree of main): instead of the "
                             "tables above, time reference, baseline and this tree per "
                             "corruption and severity in one process (CPU time, best of "
                             "--rounds) and check that their output bytes are equal")
    args = parser.parse_args(argv)
    load_start = _loadavg()
    print(f"loadavg {load_start}", flush=True)

    cv2.setNumThreads(1)
    warnings.filterwarnings("ignore")
    photos = load_photos224()
    cifar = load_cifar(args.shared, args.cifar_images)
    reference = load_reference()
    registry = get_registry()
    names = [n for suite in SUITES for n in registry.in_suite(suite)]
    if args.only:
        names = [n for n in names if n in set(args.only.split(","))]

    if args.baseline is not None:
        if reference is None:
            raise SystemExit("--baseline needs imagecorruptions (the reference) installed")
        out = args.out if args.out != REPO / "benchmarks/results/corruptions.md" else (
            REPO / "benchmarks/results/kernel_speedups_raw.md")
        lines = [f"# Kernels: reference vs baseline ({args.baseline}) vs this tree", "",
                 f"Load average at start: {load_start}. CPU time per image, best of "
                 f"{args.rounds} (1 for glass_blur at 224, first photograph only), the three "
                 "alternating in all orders; baseline and this tree give equal bytes.", ""]
        lines += baseline_report(reference, load_baseline(args.baseline), names,
                                 ((photos[:3], "imagenet224"), (cifar[:8], "cifar32")),
                                 args.rounds)
        lines.append(f"\nLoad average at end: {_loadavg()}.")
        out.write_text("\n".join(lines) + "\n")
        print(f"wrote {out}")
        return 0

    lines = [
        f"# Corruption speed, severity {args.severity}, single core",
        "",
        f"{platform.python_version()} on {platform.machine()}, numpy {np.__version__}, "
        f"OpenCV {cv2.__version__}; reference: "
        + ("imagecorruptions 1.1.2" if reference else "imagecorruptions not installed"),
        f"224x224: {len(photos)} scikit-image photographs; 32x32: {len(cifar)} CIFAR-10 test "
        "images (ours with preset cifar32, imagecorruptions with its ImageNet parameters).",
        "",
        "| corruption | suite | ref img/s 224 | ours img/s 224 | ratio 224 "
        "| ref img/s 32 | ours img/s 32 | ratio 32 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    sev = args.severity
    for name in names:
        suite = "imagenet_c" if "imagenet_c" in registry[name].suites else "imagenet_c_extra"
        has_ref = reference is not None and name in reference.names
        row = [name, suite]
        for images, preset in ((photos, "imagenet224"), (cifar, "cifar32")):
            slow = name == "glass_blur" and images is photos
            ref_s = per_image_seconds(_ref(reference, name, images, sev), len(images),
                                      args.min_time, 3 if slow else 10**6) if has_ref else None
            ours_s = per_image_seconds(_ours(name, images, sev, preset), len(images),
                                       args.min_time, 10**6)
            row += [_rate(ref_s), _rate(ours_s), _ratio(ref_s, ours_s)]
        line = "| " + " | ".join(row) + " |"
        lines.append(line)
        print(line, flush=True)

    if reference is not None and args.suite:
        bench = [n for n in registry.in_suite("imagenet_c") if n in reference.names]
        subset = photos[: args.suite_images]
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        ref_total = ours_total = 0.0
        per_op = []
        for name in bench:
            ref_op = ours_op = 0.0
            for s in (1, 2, 3, 4, 5):
                ref_s, ours_s = paired_best_seconds(
                    _ref(reference, name, subset, s), _ours(name, subset, s, "imagenet224"),
                    len(subset), 1 if name == "glass_blur" else args.suite_rounds, clock)
                ref_op, ours_op = ref_op + ref_s, ours_op + ours_s
            per_op.append((ours_op, ref_op, name))
            ref_total, ours_total = ref_total + ref_op, ours_total + ours_op
        worst = sorted(per_op, reverse=True)[:5]
        tail = [
            "",
            f"Whole suite at 224x224 ({len(bench)} corruptions x 5 severities, "
            f"mean over {len(subset)} photographs, per image the best of {args.suite_rounds} "
            f"alternating calls per side (1 for glass_blur), {args.clock} time, loadavg "
            f"{_loadavg()}): one image through all 75 takes {ref_total:.2f} s with the "
            f"reference, {ours_total:.3f} s with benchsmith; ratio {ref_total / ours_total:.1f}x. "
            "Largest shares of ours (ms over 5 severities): "
            + ", ".join(f"{n} {o * 1e3:.1f} ({r / o:.1f}x)" for o, r, n in worst) + ".",
        ]
        lines += tail
        print("\n".join(tail), flush=True)

    if reference is not None and args.every_severity:
        head = [
            "",
            f"Every severity (loadavg {_loadavg()}): the slowest ratio of each corruption "
            f"over severities 1..5 (the severity in brackets), per image the best of "
            f"{args.rounds} alternating calls per side ({args.clock} time); goal: no ratio "
            "below 1x. At 32 px "
            "the reference runs its ImageNet constants, ours the cifar32 ones (different work).",
            "",
            "| corruption | min ratio 224 | min ratio 32 |",
            "|---|---:|---:|",
        ]
        lines += head
        print("\n".join(head), flush=True)
        for name in [n for n in names if n in reference.names]:
            row = [name]
            for images, preset in ((photos[:3], "imagenet224"), (cifar[:16], "cifar32")):
                ratios = []
                for s in (1, 2, 3, 4, 5):
                    slow = name == "glass_blur" and preset == "imagenet224"
                    ref_s, ours_s = paired_best_seconds(
                        _ref(reference, name, images, s), _ours(name, images, s, preset),
                        len(images), 1 if slow else args.rounds,
                        time.process_time if args.clock == "cpu" else time.perf_counter)
                    ratios.append((ref_s / ours_s, s))
                worst, at = min(ratios)
                row.append(f"{worst:,.1f}x (s{at})")
            line = "| " + " | ".join(row) + " |"
            lines.append(line)
            print(line, flush=True)

    lines.insert(2, f"Load average at start: {load_start}; at end: {_loadavg()} (2-core machine "
                 "shared with other jobs; ratios are measured side by side in one run).")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
