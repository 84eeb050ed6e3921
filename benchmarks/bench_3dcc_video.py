"""3DCC video corruptions: PSNR against the paper's own ffmpeg chain, and batch throughput.

Usage::

    python3 benchmarks/bench_3dcc_video.py [--shared ../shared] [--images 8] [--batch 48]

**Fidelity.** For each image, corruption and severity the camera clip is built
once per image (:func:`corruptions.video.camera_clip` with ``derive_rng(0, i,
"video", 0)``, the family generator ``apply`` draws it from; the script makes one
source video per image for all 15 outputs) and then run through the script's chain exactly as
its code does it, file by file with the installed ffmpeg at default threading:
the moviepy encode (``-vcodec libx264 -preset medium -pix_fmt yuv420p``,
CRF 23 by default), ``ffprobe`` for ``format.bit_rate``, ``-vcodec libx265
-crf c`` / ``-b:v -maxrate -bufsize`` / ``-c copy -bsf noise=c`` with its own
noise generator, decoding to ``input%05d.png`` and keeping ``input00120.png``.
benchsmith's output for the same image comes from
:func:`corruptions.video.apply_many`. Reported: mean PSNR (dB, vs the clean
image) per severity of both, and their difference.

**Throughput.** :func:`apply_many` over ``--batch`` CIFAR-10 test images at
each severity of each corruption in turn, as the stage's family task runs them
(one shared H.264 source per image, encoded once), single process; projected to 10,000 images
x 5 severities x 3 corruptions on 2 cores (two such processes side by side).
The load average is printed beside every timing: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corruptions import resolve_params  # noqa: E402
from corruptions.rng import derive_rng  # noqa: E402
from corruptions.video import (  # noqa: E402
    _CLIP_KEYS,
    _SOURCES,
    SOURCE_OP,
    apply_many,
    camera_clip,
    ffmpeg_version,
)

NAMES = ("h265_crf", "h265_abr", "bit_error")
VALUE = {"h265_crf": "crf", "h265_abr": "divisor", "bit_error": "period"}


def load() -> str:
    """Return the 1-minute load average."""
    return Path("/proc/loadavg").read_text().split()[0]


def cifar(shared: Path, n: int) -> list[np.ndarray]:
    """The first ``n`` CIFAR-10 test images (JPEG-decoded parquet from shared/)."""
    import io

    import pyarrow.parquet as pq
    from PIL import Image

    path = shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    table = pq.read_table(path).slice(0, n).to_pylist()
    col = next(k for k, v in table[0].items() if isinstance(v, dict | bytes))
    out = []
    for row in table:
        v = row[col]
        data = v["bytes"] if isinstance(v, dict) else v
        out.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB (255 peak)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def ff(*args: str) -> None:
    """Run ffmpeg as the script does (default threads)."""
    subprocess.run(["ffmpeg", "-y", "-loglevel", "quiet", "-nostdin", *args], check=True,
                   stderr=subprocess.DEVNULL)


def reference_chain(name: str, image: np.ndarray, severity: int, i: int) -> np.ndarray | None:
    """The paper's chain on benchsmith's clip for this image; None if frame 120 is missing."""
    params = resolve_params(name, severity=severity, preset="auto", shape=image.shape)
    clip = camera_clip(image, **{k: params[k] for k in _CLIP_KEYS},
                       rng=derive_rng(0, str(i), SOURCE_OP, 0))  # one clip per image
    value = params[VALUE[name]]
    _, h, w, _ = clip.shape
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "clip.rgb").write_bytes(clip.tobytes())
        ff("-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{w}x{h}", "-pix_fmt", "rgb24",
           "-r", "25.00", "-an", "-i", str(d / "clip.rgb"), "-vcodec", "libx264",
           "-preset", "medium", "-pix_fmt", "yuv420p", str(d / "src.mp4"))
        src, dst = str(d / "src.mp4"), str(d / "dst.mp4")
        crop = ["-vf", "crop='iw-mod(iw,2)':'ih-mod(ih,2)'"]
        if name == "bit_error":
            ff("-i", src, "-c", "copy", "-bsf", f"noise={int(value)}", dst)
        elif name == "h265_crf":
            ff("-i", src, *crop, "-vcodec", "libx265", "-crf", str(int(value)), dst)
        else:
            probe = subprocess.run(["ffprobe", "-v", "quiet", "-print_format", "json",
                                    "-show_format", src], capture_output=True, check=True)
            rate = str(int(float(json.loads(probe.stdout)["format"]["bit_rate"]) / value))
            ff("-i", src, *crop, "-vcodec", "libx265", "-b:v", rate, "-maxrate", rate,
               "-bufsize", rate, dst)
        (d / "tmp").mkdir()
        try:
            ff("-i", dst, str(d / "tmp/input%05d.png"))
        except subprocess.CalledProcessError:
            return None
        kept = d / "tmp/input00120.png"
        if not kept.exists():
            return None
        from PIL import Image

        return np.asarray(Image.open(kept).convert("RGB"))[: image.shape[0], : image.shape[1]]


def ci95(a: list[float], b: list[float]) -> str:
    """Half-width of the normal-approximation 95% interval of mean(a) - mean(b) (Welch SE).

    The right yardstick for bit_error, whose hits are random on both sides (our generator,
    ffmpeg's LCG): a mean difference inside it is what two draws of the same process give.
    """
    if len(a) < 2 or len(b) < 2:
        return "n/a"
    se = float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
    return f"+-{1.96 * se:.2f}"


def crops224(n: int) -> list[np.ndarray]:
    """``n`` seeded 224 px crops (scale 0.5-1 of the shorter side) of scikit-image photos."""
    from PIL import Image

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_3dcc import photos as load_photos

    rng = np.random.default_rng(224)
    photos = load_photos()
    out = []
    for i in range(n):
        a = photos[i % len(photos)]
        side = int(rng.integers(min(a.shape[:2]) // 2, min(a.shape[:2]) + 1))
        top = int(rng.integers(0, a.shape[0] - side + 1))
        left = int(rng.integers(0, a.shape[1] - side + 1))
        crop = Image.fromarray(a[top:top + side, left:left + side]).resize((224, 224),
                                                                           Image.BILINEAR)
        out.append(np.asarray(crop))
    return out


def fidelity(images: list[np.ndarray], label: str, names: tuple[str, ...] = NAMES) -> list[str]:
    """Markdown rows: PSNR per severity, benchsmith vs the script's chain."""
    rows = []
    for name in names:
        for s in (1, 2, 3, 4, 5):
            ids = range(len(images))
            ours = apply_many(name, images, severity=s, preset="auto",
                              rngs=[derive_rng(0, str(i), name, s) for i in ids],
                              source_rngs=[derive_rng(0, str(i), SOURCE_OP, 0) for i in ids])
            p_ours = [psnr(o, im) for o, im in zip(ours, images, strict=True)]
            refs = [reference_chain(name, im, s, i) for i, im in enumerate(images)]
            p_ref = [psnr(r, im) for r, im in zip(refs, images, strict=True) if r is not None]
            missing = sum(r is None for r in refs)
            a, b = float(np.mean(p_ours)), float(np.mean(p_ref)) if p_ref else float("nan")
            rows.append(f"| {name} | {label} | {s} | {a:.2f} | {b:.2f} | {a - b:+.2f} | "
                        f"{ci95(p_ours, p_ref)} | {missing} |")
            print(rows[-1], flush=True)
    return rows


def throughput(images: list[np.ndarray]) -> list[str]:
    """Markdown rows: ms per image per severity as the stage runs them, and the projection.

    The stage writes every (corruption, severity) of the family for a shard, and all 15
    outputs of an image start from one shared H.264 source (encoded by the first config
    that needs it): the first row includes that encode, later rows reuse it.
    """
    rows, total = [], 0.0
    _SOURCES.clear()
    ids = range(len(images))
    for name in NAMES:
        per = []
        for s in (1, 2, 3, 4, 5):
            t0 = time.perf_counter()
            apply_many(name, images, severity=s, preset="cifar32",
                       rngs=[derive_rng(0, str(i), name, s) for i in ids],
                       source_rngs=[derive_rng(0, str(i), SOURCE_OP, 0) for i in ids])
            per.append((time.perf_counter() - t0) / len(images))
        sec = float(np.mean(per))
        total += sec * 5 * 10_000 / 2
        rows.append(f"| {name} | {len(images)} | {sec * 1000:.1f} | "
                    f"{sec * 5 * 10_000 / 2 / 60:.1f} | {load()} |")
        print(rows[-1], flush=True)
    rows.append(f"| all three | | | {total / 60:.1f} | {load()} |")
    print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get(
        "BENCHSMITH_SHARED", REPO.parent / "shared")))
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--skip-fidelity", action="store_true")
    ap.add_argument("--names", default=",".join(NAMES), help="corruptions to compare")
    ap.add_argument("--photos", type=int, default=0,
                    help="also compare on this many 224 px scikit-image photographs")
    ap.add_argument("--crops", type=int, default=0,
                    help="also compare on this many seeded 224 px crops of those photographs")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args(argv)
    print(f"ffmpeg: {ffmpeg_version()}; cpus {os.cpu_count()}; load {load()}")
    imgs = cifar(args.shared, max(args.images, args.batch))
    if not args.skip_fidelity:
        print("| corruption | images | severity | benchsmith PSNR | script chain PSNR | diff dB |"
              " 95% CI of diff | frame 120 missing |")
        print("|---|---|---|---|---|---|---|---|")
        names = tuple(args.names.split(","))
        if args.images:
            fidelity(imgs[: args.images], f"{args.images} CIFAR-10 32 px", names)
        if args.photos:
            sys.path.insert(0, str(REPO / "benchmarks"))
            from bench_3dcc import photos224

            fidelity(photos224()[: args.photos], f"{args.photos} photos 224 px", names)
        if args.crops:
            fidelity(crops224(args.crops), f"{args.crops} photo crops 224 px", names)
    if args.skip_throughput:
        return 0
    print("| corruption | batch | ms / image / severity | projected min, 10k x 5 sev, 2 procs |"
          " load |")
    print("|---|---|---|---|---|")
    throughput(imgs[: args.batch])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
