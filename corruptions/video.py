"""Video family of the 3D Common Corruptions: H.265 CRF, H.265 ABR and bit errors.

The paper's chain (EPFL-VILAB/3DCommonCorruptions ``motion_video/create_motion.py``
and ``video_distortions.py``), reproduced step by step:

1. **Clip.** A 60-step camera path starting at the original view, played
   forward then backward (``frames + reversed(frames)[1:]``, 119 views) and
   written by moviepy at 25 fps, which emits **120** frames: its frame times
   ``arange(0, 119 * 0.04, 0.04)`` get one extra entry from the float sum of
   the durations, a repeat of the last view. The path is, with equal
   probability, a sideways move (``|u| ~ U[u_min, u_max)`` with random sign,
   ``v ~ U[-v_max, v_max)``) or a zoom to a crop of scale ``U[zoom_min,
   zoom_max)`` per axis shifted by ``U[-jitter, jitter)``: the script's xy/z
   motion paths, whose pixel values are pixels of its 512 px render. Here the
   path is a 2-D warp of the image (the script renders a depth point cloud).
2. **Source.** The 120 frames encoded as an H.264 mp4 by libx264 at its
   defaults (CRF 23, preset medium, yuv420p: moviepy's ``write_videofile``).
   As in the script (``create_video.py`` makes one source video per image and
   applies all 3 corruptions x 5 severities to it), the clip and its mp4 are
   shared by every video corruption and severity of an image: the path is drawn
   from ``source_rng`` (``derive_rng(seed, sample_id, "video", 0)``, the
   family's generator), never from the per-(corruption, severity) ``rng``, and
   the encoded source is memoised per (image, clip parameters, generator
   state), so the 15 outputs of an image cost one H.264 encode.
3. **Corruption** of that mp4, as the script's ffmpeg calls:

   * ``h265_crf``: ``-vcodec libx265 -crf c`` (mp4 out);
   * ``h265_abr``: ``-b:v = -maxrate = -bufsize = bit_rate / c``, ``bit_rate``
     the container bitrate ffprobe reports for the source (file bits / 4.8 s);
   * ``bit_error``: ``-c copy -bsf noise=c`` replaces each byte of every
     packet with probability ``1 / c`` by a pseudo-random byte. The packet
     bytes of these single-track files are exactly the ``mdat`` payload
     (length-prefixed NAL units, parameter sets live in ``moov``); here each is
     replaced with probability ``1 / c`` by a byte drawn from ``rng``
     (ffmpeg's own LCG state would ignore the seed contract).
4. **Frame kept.** Decoded to images, the script keeps ``input00120.png``: the
   120th frame, which shows the original view. If a corrupted stream decodes
   to fewer frames, the script's ``mv`` fails and the image is missing; here
   the last decoded frame is kept (black if none).

**Determinism.** x264 runs with ``-threads 1`` and x265 with ``pools=1:
frame-threads=1`` (threaded encoders depend on timing); decoding runs with
``-threads 1``. The ffmpeg build is recorded in the provenance (``_ffmpeg``);
other builds may give other bytes. Frames are padded by edge replication to an
even height and a width that is a multiple of 32, and the kept frame is
cropped back (the script crops odd sizes to even): Debian 12's x265 3.5 aborts
with heap corruption, intermittently, on 32 x 40, 32 x 48, 48 x 48 or 32 x 46
frames (measured), never in our runs on widths that are multiples of 32. The
presets' 32, 64 and 224 px squares are unchanged by this.

**Batches.** :func:`apply_many` pushes many images through one ffmpeg process
per step (one input and one independent encoder/decoder per image, files in a
private temporary folder), with the same bytes as :func:`corruptions.apply` on
each image alone: no image's output depends on the others in its batch.
The x265 steps of an image's ten H.265 outputs read its H.264 source decoded
once: the first step that decodes it also writes the raw yuv420p frames, which
later steps feed to x265 as rawvideo (same 120 frames at 25 fps; the decoded
outputs are byte-identical to decoding the mp4 each time, tested). They are
kept in memory while a whole batch's fit in ``_YUV_MAX_BYTES`` (a batch with
H.265 jobs drops the frames of images outside it); otherwise every step
decodes the mp4, as before.

Reference:
    O. F. Kar, T. Yeo, A. Atanov, A. Zamir, "3D Common Corruptions and Data
    Augmentation", CVPR 2022; video corruptions after Yi et al. 2021,
    "Benchmarking the Robustness of Spatial-Temporal Models".
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from corruptions._video_clip import WIDTH_MULTIPLE, camera_clip, mdat_span
from corruptions.image import U8Image, check_image, from_layout, to_layout
from corruptions.registry import PRESETS, CorruptionSpec, SeverityTable, get_registry

__all__ = [
    "FFmpegNotFoundError",
    "ffmpeg_version",
    "camera_clip",
    "mdat_span",
    "h265_crf",
    "h265_abr",
    "bit_error",
    "apply_many",
    "clear_memos",
    "SOURCE_OP",
    "SPECS",
]

_FPS = 25
_CLIP_FRAMES = 120  # moviepy's frame count for 119 views at 25 fps
_KEPT = 120  # input00120.png
_X265 = "log-level=none:pools=1:frame-threads=1"
_CHUNK = 48  # images per ffmpeg process (bounds open files and memory)
#: Operation key of the shared clip's generator: ``derive_rng(seed, sample_id, "video", 0)``.
SOURCE_OP = "video"
_MEMO_MAX = 4096  # encoded sources kept (a 32 px source mp4 is ~5 KB, 224 px ~100 KB)
_SOURCES: OrderedDict[str, tuple[tuple[int, int, int], bytes]] = OrderedDict()
_YUV_MAX_BYTES = 1 << 30  # decoded sources kept for the x265 steps (32 px: 184 KB each)
_YUV: OrderedDict[str, bytes] = OrderedDict()  # source key -> 120 yuv420p frames
_YUV_LOCK = threading.Lock()
#: Decoder options of an x265 step's mp4 input: one thread (frame threads of 48 small
#: decoders only add overhead; H.264 decoding gives the same frames with any thread count).
_MP4_INPUT = ("-threads", "1")
_SOURCE = "Kar et al. CVPR 2022, EPFL-VILAB/3DCommonCorruptions motion_video/video_distortions.py"


class FFmpegNotFoundError(RuntimeError):
    """ffmpeg (with libx264/libx265) is not on PATH."""


@cache
def ffmpeg_version() -> str:
    """Return the first line of ``ffmpeg -version``, or ``"missing"``."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        return "missing"
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FFmpegNotFoundError(
            "the video corruptions (h265_crf, h265_abr, bit_error) need ffmpeg with libx264 and "
            "libx265 on PATH; install it (Debian/Ubuntu: apt-get install ffmpeg, conda: "
            "conda install -c conda-forge ffmpeg) or leave these corruptions out of the manifest"
        )
    return exe


def _run(args: list[str]) -> None:
    proc = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        capture_output=True, check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-500:]
        raise RuntimeError(f"ffmpeg failed ({' '.join(args[:12])} ...): {tail}")


@dataclass
class _Job:
    name: str
    work: U8Image  # RGB
    params: dict[str, Any]
    rng: np.random.Generator  # per (corruption, severity): the bit errors
    source_rng: np.random.Generator  # per image and family: the camera path


def _source_key(job: _Job) -> str:
    """Memo key of a job's source mp4: everything that determines its bytes."""
    h = hashlib.sha256()
    h.update(str(job.work.shape).encode())
    h.update(np.ascontiguousarray(job.work).tobytes())
    h.update(json.dumps({k: job.params[k] for k in _CLIP_KEYS}, sort_keys=True).encode())
    h.update(json.dumps(job.source_rng.bit_generator.state, sort_keys=True,
                        default=str).encode())
    return h.hexdigest()


_CLIP_KEYS = ("path_frames", "u_min", "u_max", "v_max", "zoom_min", "zoom_max", "jitter")


def _source_bitrate(size_bytes: int) -> float:
    """Return ffprobe's ``format.bit_rate``: file bits over the 120-frame duration (4.8 s)."""
    return size_bytes * 8 / (_CLIP_FRAMES / _FPS)


def _kept_frame(raw: bytes, shape: tuple[int, int, int], like: U8Image) -> U8Image:
    h, w = like.shape[:2]
    size = shape[0] * shape[1] * 3
    n = len(raw) // size
    if n == 0:  # nothing decodable: a lost frame shows black
        return np.zeros((h, w, 3), np.uint8)
    k = min(n, _KEPT) - 1
    frame = np.frombuffer(raw, np.uint8, count=size, offset=k * size)
    return np.ascontiguousarray(frame.reshape(shape[0], shape[1], 3)[:h, :w])


def _yuv_bytes(image: U8Image) -> int:
    """Bytes of an image's 120 decoded yuv420p clip frames (padded as :func:`camera_clip`)."""
    h, w = image.shape[:2]
    return _CLIP_FRAMES * (h + h % 2) * (w - w % -WIDTH_MULTIPLE) * 3 // 2


def _run_jobs(jobs: Sequence[_Job]) -> list[U8Image]:
    """Run the chain for many images, one ffmpeg process per step per chunk."""
    x265 = [job for job in jobs if job.name != "bit_error"]
    keep = sum(_yuv_bytes(job.work) for job in x265) <= _YUV_MAX_BYTES  # else evicted anyway
    if x265:  # frames of images outside this batch (an earlier shard's) are not needed again
        wanted = {_source_key(job) for job in x265}
        with _YUV_LOCK:
            for key in [k for k in _YUV if k not in wanted]:
                del _YUV[key]
    out: list[U8Image] = []
    for i in range(0, len(jobs), _CHUNK):
        out.extend(_run_chunk(jobs[i : i + _CHUNK], keep))
    return out


def clear_memos() -> None:
    """Forget every memoised H.264 source and decoded source clip (frees their memory)."""
    with _YUV_LOCK:
        _YUV.clear()
    _SOURCES.clear()


def _keep_yuv(key: str, data: bytes) -> None:
    with _YUV_LOCK:
        _YUV[key] = data
        total = sum(map(len, _YUV.values()))
        while total > _YUV_MAX_BYTES:
            total -= len(_YUV.popitem(last=False)[1])


def _sources(jobs: Sequence[_Job], d: Path) -> tuple[list[tuple[int, int, int]], list[str]]:
    """Write each job's H.264 source to ``d/<i>.src.mp4``; return its frame shape and memo key.

    Sources already encoded (same image, clip parameters and generator state) are taken
    from the memo; the others are drawn and encoded in one ffmpeg process.
    """
    shapes: list[tuple[int, int, int]] = []
    todo: list[tuple[int, str, tuple[int, int, int]]] = []
    enc: list[str] = []
    keys: list[str] = []
    for i, job in enumerate(jobs):
        key = _source_key(job)  # before the clip's draws advance the generator
        keys.append(key)
        hit = _SOURCES.get(key)
        if hit is not None:
            _SOURCES.move_to_end(key)
            shapes.append(hit[0])
            (d / f"{i}.src.mp4").write_bytes(hit[1])
            continue
        clip = camera_clip(job.work, **{k: job.params[k] for k in _CLIP_KEYS},
                           rng=job.source_rng)
        _, ph, pw, _ = clip.shape
        shapes.append((ph, pw, 3))
        (d / f"{i}.rgb").write_bytes(clip.tobytes())
        enc += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}", "-r", str(_FPS),
                "-i", str(d / f"{i}.rgb")]
        todo.append((i, key, (ph, pw, 3)))
    if todo:
        for j, (i, _, _) in enumerate(todo):
            enc += ["-map", f"{j}:v", "-c:v", "libx264", "-preset", "medium", "-crf", "23",
                    "-threads", "1", "-pix_fmt", "yuv420p", str(d / f"{i}.src.mp4")]
        _run(enc)
        for i, key, shape in todo:
            _SOURCES[key] = (shape, (d / f"{i}.src.mp4").read_bytes())
            while len(_SOURCES) > _MEMO_MAX:
                _SOURCES.popitem(last=False)
    return shapes, keys


def _run_chunk(jobs: Sequence[_Job], keep: bool) -> list[U8Image]:
    with tempfile.TemporaryDirectory(prefix="benchsmith-video-") as tmp:
        d = Path(tmp)
        shapes, keys = _sources(jobs, d)
        step: list[str] = []
        outs: list[str] = []
        captured: dict[int, str] = {}  # job -> source key whose yuv this step writes
        for i, job in enumerate(jobs):
            src = d / f"{i}.src.mp4"
            dst = d / f"{i}.dst.mp4"
            value = job.params[_VALUE_FIELD[job.name]]
            if job.name == "bit_error":
                data = bytearray(src.read_bytes())
                start, end = mdat_span(bytes(data))
                payload = np.frombuffer(data, np.uint8, count=end - start, offset=start).copy()
                hit = np.flatnonzero(job.rng.random(len(payload)) < 1.0 / int(value))
                payload[hit] = job.rng.integers(0, 256, size=len(hit), dtype=np.uint8)
                data[start:end] = payload.tobytes()
                dst.write_bytes(bytes(data))
                continue
            if job.name == "h265_crf":
                rate = ["-crf", str(int(value))]
            else:
                bps = str(int(_source_bitrate(src.stat().st_size) / float(value)))
                rate = ["-b:v", bps, "-maxrate", bps, "-bufsize", bps]
            ph, pw, _ = shapes[i]
            with _YUV_LOCK:
                yuv = _YUV.get(keys[i])
                if yuv is not None:
                    _YUV.move_to_end(keys[i])
            n_in = step.count("-i")  # this job's input index
            if yuv is not None:  # the source's frames, decoded by an earlier step
                (d / f"{i}.yuv").write_bytes(yuv)
                step += ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{pw}x{ph}",
                         "-r", str(_FPS), "-i", str(d / f"{i}.yuv")]
            else:
                step += [*_MP4_INPUT, "-i", str(src)]
                if keep and keys[i] not in captured.values():
                    outs += ["-map", f"{n_in}:v", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                             str(d / f"{i}.yuv")]
                    captured[i] = keys[i]
            outs += ["-map", f"{n_in}:v",
                     "-c:v", "libx265", *rate, "-x265-params", _X265, str(dst)]
        if step:
            _run(step + outs)
        for i, key in captured.items():
            data = (d / f"{i}.yuv").read_bytes()
            if len(data) == _yuv_bytes(jobs[i].work):  # all 120 frames, else never reused
                _keep_yuv(key, data)
        dec: list[str] = []
        for i in range(len(jobs)):
            dec += ["-threads", "1", "-i", str(d / f"{i}.dst.mp4")]  # default concealment
        for i in range(len(jobs)):
            dec += ["-map", f"{i}:v", "-f", "rawvideo", "-pix_fmt", "rgb24", str(d / f"{i}.raw")]
        _run(dec)
        return [
            _kept_frame((d / f"{i}.raw").read_bytes(), shapes[i], job.work)
            for i, job in enumerate(jobs)
        ]


_VALUE_FIELD = {"h265_crf": "crf", "h265_abr": "divisor", "bit_error": "period"}


def _check_value(name: str, value: float) -> None:
    if name == "h265_abr" and value <= 0:
        raise ValueError(f"divisor must be > 0, got {value}")
    if name == "bit_error" and value < 1:
        raise ValueError(f"period must be >= 1, got {value}")
    if name == "h265_crf" and not 0 <= value <= 51:
        raise ValueError(f"crf must be in 0..51, got {value}")


def _kernel(name: str, image: U8Image, params: dict[str, Any], rng: np.random.Generator,
            source_rng: np.random.Generator) -> U8Image:
    return _batch(name, [image], [{**params, "rng": rng, "source_rng": source_rng}])[0]


def _batch(name: str, works: Sequence[U8Image], kwargs: Sequence[dict[str, Any]]) -> list[U8Image]:
    """Run one corruption over many images in a few ffmpeg processes (the batch hook).

    Args:
        name: ``h265_crf``, ``h265_abr`` or ``bit_error``.
        works: uint8 RGB images.
        kwargs: Per image, the kernel's keyword arguments (table parameters, ``rng``,
            ``source_rng``).

    Returns:
        What the kernel returns for each image alone.
    """
    field = _VALUE_FIELD[name]
    jobs = []
    for work, kw in zip(works, kwargs, strict=True):
        params = {k: v for k, v in kw.items() if k not in ("rng", "source_rng")}
        _check_value(name, params[field])
        jobs.append(_Job(name, work, params, kw["rng"], kw["source_rng"]))
    return _run_jobs(jobs)


def h265_crf(image: U8Image, *, crf: int, rng: np.random.Generator,
             source_rng: np.random.Generator, **clip: Any) -> U8Image:
    """H.265-compress the camera clip at constant rate factor; return frame 120.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        crf: x265 constant rate factor, 0..51 (higher = more compression).
        rng: Unused (the path comes from ``source_rng``); kept so every video kernel
            has the same signature.
        source_rng: Draws the camera path: ``derive_rng(seed, sample_id, "video", 0)``,
            shared by every video corruption and severity of the image.
        **clip: The :func:`camera_clip` parameters (``path_frames``, ``u_min``...).

    Returns:
        uint8 (H, W, 3): the decoded 120th frame (the original view).

    Raises:
        FFmpegNotFoundError: ffmpeg is not installed.

    Reference:
        ``h265_crf`` in video_distortions.py (``-vcodec libx265 -crf c``).

    """
    return _kernel("h265_crf", image, {"crf": crf, **clip}, rng, source_rng)


def h265_abr(image: U8Image, *, divisor: float, rng: np.random.Generator,
             source_rng: np.random.Generator, **clip: Any) -> U8Image:
    """H.265-compress the camera clip at ``source bitrate / divisor``; return frame 120.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        divisor: ``c``: target bitrate = the H.264 source mp4's container bitrate / c, > 0.
        rng: Unused (the path comes from ``source_rng``).
        source_rng: Draws the camera path (shared by the image's video corruptions).
        **clip: The :func:`camera_clip` parameters.

    Returns:
        uint8 (H, W, 3): the decoded 120th frame.

    Raises:
        FFmpegNotFoundError: ffmpeg is not installed.

    Reference:
        ``h265_abr`` in video_distortions.py (``-b:v -maxrate -bufsize = bit_rate / c``).

    """
    return _kernel("h265_abr", image, {"divisor": divisor, **clip}, rng, source_rng)


def bit_error(image: U8Image, *, period: int, rng: np.random.Generator,
              source_rng: np.random.Generator, **clip: Any) -> U8Image:
    """Replace random packet bytes of the H.264 clip, decode with concealment; return frame 120.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        period: ``c``: each packet byte is replaced with probability 1/c (>= 1).
        rng: Draws which bytes are hit and their new values
            (``derive_rng(seed, sample_id, "bit_error", severity)``).
        source_rng: Draws the camera path (shared by the image's video corruptions).
        **clip: The :func:`camera_clip` parameters.

    Returns:
        uint8 (H, W, 3): the 120th (or last) decoded frame, black if nothing decodes.

    Raises:
        FFmpegNotFoundError: ffmpeg is not installed.

    Reference:
        ``bit_error`` in video_distortions.py (``-c copy -bsf noise=c``).

    """
    return _kernel("bit_error", image, {"period": period, **clip}, rng, source_rng)


def apply_many(
    name: str,
    images: Sequence[np.ndarray],
    *,
    severity: int,
    rngs: Sequence[np.random.Generator],
    source_rngs: Sequence[np.random.Generator],
    preset: str,
) -> list[U8Image]:
    """Corrupt many images with one video corruption, a few ffmpeg processes per 48 images.

    Returns, for each image, the same bytes as ``corruptions.apply(name, image,
    severity=severity, preset=preset, rng=rng, source_rng=source_rng)`` (video kernels
    return uint8,
    so rounding does not apply): each image has its own encoder and decoder
    instance and its own generator, so results do not depend on batch mates.

    Args:
        name: ``h265_crf``, ``h265_abr`` or ``bit_error``.
        images: uint8 images as ``apply`` accepts them; not modified.
        severity: 1..5.
        rngs: One generator per image, ``derive_rng(seed, sample_id, name, severity)``.
        source_rngs: One per image, ``derive_rng(seed, sample_id, SOURCE_OP, 0)``.
        preset: Preset key or ``"auto"``.

    Returns:
        One uint8 image per input, same shape.

    Raises:
        ValueError: Unknown video corruption, or ``rngs`` not one per image.
        FFmpegNotFoundError: ffmpeg is not installed.
    """
    from corruptions.registry import resolve_params

    if name not in _VALUE_FIELD:
        raise ValueError(f"apply_many handles {sorted(_VALUE_FIELD)}, got {name!r}")
    if len(rngs) != len(images) or len(source_rngs) != len(images):
        raise ValueError(f"need one rng and one source_rng per image: {len(images)} images, "
                         f"{len(rngs)} rngs, {len(source_rngs)} source_rngs")
    spec = get_registry()[name]
    works, kwargs, layouts = [], [], []
    for image, rng, src in zip(images, rngs, source_rngs, strict=True):
        check_image(image)
        if not isinstance(rng, np.random.Generator) or not isinstance(src, np.random.Generator):
            raise ValueError(f"{name!r} needs one np.random.Generator per image")
        params = resolve_params(name, severity=severity, preset=preset, shape=image.shape)
        work, alpha = to_layout(image, spec.layout)
        works.append(work)
        kwargs.append({**{k: v for k, v in params.items() if not k.startswith("_")},
                       "rng": rng, "source_rng": src})
        layouts.append((image, alpha))
    results = _batch(name, works, kwargs)
    return [from_layout(r, img, alpha) for r, (img, alpha) in zip(results, layouts, strict=True)]


def _provenance(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "_ffmpeg": ffmpeg_version()}


_PATH_NOTE = (
    " Clip: the script's 60-step camera path (xy: |u| in [50, 75), v in [-75, 75); zoom: end "
    "crop scale [0.5, 0.6), shift [-30, 30)) forward and back, 120 frames at 25 fps as moviepy "
    "writes them; path pixels are px of the script's 512 px render, scaled by side / 512 "
    "(scaling rule). 2-D warp instead of the depth point cloud."
)


def _tables(field: str, values: tuple[float, ...], notes: str) -> dict[str, SeverityTable]:
    tables = {}
    for preset in ("imagenet224", "tiny64", "cifar32"):
        f = PRESETS[preset] / 512.0
        tables[preset] = SeverityTable(
            fields=(field, *_CLIP_KEYS),
            rows=tuple(
                (v, 60, round(50 * f, 4), round(75 * f, 4), round(75 * f, 4), 0.5, 0.6,
                 round(30 * f, 4))
                for v in values
            ),
            source=_SOURCE,
            pixel_fields=frozenset({"u_min", "u_max", "v_max", "jitter"}),
            notes=notes + _PATH_NOTE,
        )
    return tables


_SUITE = frozenset({"3dcc"})
SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="h265_crf", family="video", kernel=h265_crf, needs=frozenset({"source_rng"}),
        batch=partial(_batch, "h265_crf"),
        tables=_tables("crf", (24, 26, 32, 39, 41), "crf = c of h265_crf (libx265)."),
        stochastic=True, suites=_SUITE, param_hook=_provenance,
        reference="Kar et al. 2022, video_distortions.py h265_crf", cost=1000,
    ),
    CorruptionSpec(
        name="h265_abr", family="video", kernel=h265_abr, needs=frozenset({"source_rng"}),
        batch=partial(_batch, "h265_abr"),
        tables=_tables("divisor", (2, 4, 8, 16, 32),
                       "divisor = c of h265_abr; source = the H.264 mp4's container bitrate."),
        stochastic=True, suites=_SUITE, param_hook=_provenance,
        reference="Kar et al. 2022, video_distortions.py h265_abr", cost=1000,
    ),
    CorruptionSpec(
        name="bit_error", family="video", kernel=bit_error, needs=frozenset({"source_rng"}),
        batch=partial(_batch, "bit_error"),
        tables=_tables("period", (100000, 50000, 30000, 20000, 10000),
                       "period = c of bit_error (ffmpeg noise bsf amount) over the mp4's packet "
                       "bytes; which bytes and their values drawn from rng."),
        stochastic=True, suites=_SUITE, param_hook=_provenance,
        reference="Kar et al. 2022, video_distortions.py bit_error", cost=400,
    ),
)
