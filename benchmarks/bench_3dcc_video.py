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
(one shared H.264 source per image, encoded once), single process, once with every x265
step decoding the mp4 and once reading the source decoded once; projected from CPU seconds
(ffmpeg's included) to 10,000 images x 5 severities x 3 corruptions on 2 cores.
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
    SOURCE_OP,
    apply_many,
    camera_clip,
    clear_memos,
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


def _cpu() -> float:
    """User + sys CPU seconds of this process and its finished children (the ffmpegs)."""
    import resource

    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(images: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Per corruption: (wall s, CPU s) per image per severity, as the stage runs them.

    CPU seconds include ffmpeg's threads: one process's wall time would hide the second core
    those threads already use, so projections are made from CPU seconds over 2 cores.

    The stage writes every (corruption, severity) of the family for a shard, and all 15
    outputs of an image start from one shared H.264 source (encoded by the first config
    that needs it): the first severity includes that encode, later ones reuse it.
    """
    out = {}
    clear_memos()
    ids = range(len(images))
    for name in NAMES:
        per, cpu = [], []
        for s in (1, 2, 3, 4, 5):
            t0, c0 = time.perf_counter(), _cpu()
            apply_many(name, images, severity=s, preset="cifar32",
                       rngs=[derive_rng(0, str(i), name, s) for i in ids],
                       source_rngs=[derive_rng(0, str(i), SOURCE_OP, 0) for i in ids])
            per.append((time.perf_counter() - t0) / len(images))
            cpu.append((_cpu() - c0) / len(images))
        out[name] = (float(np.mean(per)), float(np.mean(cpu)))
    return out


def throughput_table(images: list[np.ndarray], repeats: int) -> None:
    """Print, per x265 input mode, the best of ``repeats`` alternating runs and the projection."""
    import corruptions.video as video

    room, threads = video._YUV_MAX_BYTES, video._MP4_INPUT
    modes = (("before: every x265 step decodes the mp4, default decoder threads", 0, ()),
             ("every x265 step decodes the mp4, one decoder thread", 0, threads),
             ("x265 steps read the source decoded once (today)", room, threads))
    best: dict[str, dict[str, tuple[float, float]]] = {label: {} for label, _, _ in modes}
    for r in range(repeats):
        for label, limit, mp4_input in modes:
            video._YUV_MAX_BYTES, video._MP4_INPUT = limit, mp4_input
            for name, (wall, cpu) in throughput(images).items():
                old = best[label].get(name)
                if old is None or cpu < old[1]:
                    best[label][name] = (wall, cpu)
            print(f"run {r + 1}, {label}: load {load()}", flush=True)
    video._YUV_MAX_BYTES, video._MP4_INPUT = room, threads
    for label, _, _ in modes:
        print(f"\n{label} (best of {repeats}, by CPU):\n")
        print("| corruption | batch | wall ms / image / severity | CPU ms (ffmpeg included) | "
              "projected min, 10k x 5 sev, 2 cores (CPU / 2) |")
        print("|---|---|---|---|---|")
        total = 0.0
        for name, (wall, cpu) in best[label].items():
            total += cpu * 5 * 10_000 / 2 / 60
            print(f"| {name} | {len(images)} | {wall * 1000:.1f} | {cpu * 1000:.1f} | "
                  f"{cpu * 5 * 10_000 / 2 / 60:.1f} |")
        print(f"| all three | | | | {total:.1f} |")
    print(f"\nload at end {load()}")


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
    ap.add_argument("--repeats", type=int, default=3, help="alternating throughput runs")
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
    throughput_table(imgs[: args.batch], args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
