"""Video family of the 3D Common Corruptions: H.265 CRF, H.265 ABR and bit errors.

3DCC turns each image into a short camera-motion clip, compresses or corrupts
the clip with ffmpeg, decodes it and keeps the frame that shows the original
view (EPFL-VILAB/3DCommonCorruptions ``create_3dcc/motion_video/video_distortions.py``;
the clip is the motion video played forward then backward, so its last frame is
the first view). benchsmith builds the clip without depth: the image panned
along a random direction by up to ``pan_px`` pixels over ``clip_half`` frames and
back (``2 * clip_half + 1`` frames at 25 fps, last frame = the image), then:

* ``h265_crf``: libx265 at constant rate factor ``crf``.
* ``h265_abr``: libx265 at an average bitrate of ``source / k`` (``-b:v``,
  ``-maxrate`` and ``-bufsize`` all equal), the source bitrate being that of the
  clip encoded as H.264 with libx264 at its default CRF 23 (what the paper's
  moviepy writer produced), measured on the raw stream.
* ``bit_error``: the H.264 source stream with each byte of its slice NAL units
  replaced, with probability ``1 / period``, by a random byte from ``rng``
  (the paper uses ``ffmpeg -c copy -bsf noise=period``, whose pseudo-random
  state depends on the ffmpeg version; drawing here keeps the seed contract),
  then decoded with error concealment.

**I/O**: each call runs ``ffmpeg`` twice as a subprocess, through pipes only (no
files). ffmpeg must be installed with libx264 and libx265 (Debian:
``apt-get install ffmpeg``); otherwise the kernels raise :class:`FFmpegNotFoundError`.
x264/x265 run single-threaded so a given ffmpeg build gives the same bytes; the
build is recorded in the provenance (``_ffmpeg``), as other builds may differ.
Odd heights/widths are padded by edge replication to even (yuv420p) and the
decoded frame cropped back (upstream crops one row/column instead).

Small images make small streams: at ``1 / period`` per byte a 32 x 32 clip
(about 2 KB) is rarely hit by a bit error at severity 1-3.

Reference:
    O. F. Kar, T. Yeo, A. Atanov, A. Zamir, "3D Common Corruptions and Data
    Augmentation", CVPR 2022; video corruptions after Yi et al. 2021,
    "Benchmarking the Robustness of Spatial-Temporal Models".
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from corruptions.image import U8Image
from corruptions.registry import PRESETS, CorruptionSpec, SeverityTable

__all__ = ["FFmpegNotFoundError", "ffmpeg_version", "h265_crf", "h265_abr", "bit_error", "SPECS"]

_FPS = 25
_X265 = "log-level=none:pools=1:frame-threads=1"
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


def _run(args: list[str], data: bytes) -> bytes:
    proc = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", *args],
        input=data, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-500:]
        raise RuntimeError(f"ffmpeg failed ({' '.join(args[:12])} ...): {tail}")
    return proc.stdout


def _clip(image: U8Image, half: int, pan_px: float, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Pan out ``half`` frames and back; the last frame is the (even-padded) image."""
    h, w = image.shape[:2]
    img = cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    step = pan_px * np.array([np.cos(angle), np.sin(angle)]) / max(int(half), 1)
    frames = []
    for i in list(range(int(half))) + list(range(int(half), -1, -1)):
        mat = np.array([[1.0, 0.0, step[0] * i], [0.0, 1.0, step[1] * i]])
        frames.append(
            cv2.warpAffine(img, mat, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
        )
    return np.stack(frames)


def _raw_in(frames: NDArray[np.uint8]) -> list[str]:
    _, h, w, _ = frames.shape
    return ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(_FPS), "-i", "-"]


def _encode_h264(frames: NDArray[np.uint8]) -> bytes:
    return _run([*_raw_in(frames), "-c:v", "libx264", "-crf", "23", "-threads", "1",
                 "-pix_fmt", "yuv420p", "-f", "h264", "-"], frames.tobytes())


def _encode_h265(frames: NDArray[np.uint8], rate: list[str]) -> bytes:
    return _run([*_raw_in(frames), "-c:v", "libx265", *rate, "-x265-params", _X265,
                 "-pix_fmt", "yuv420p", "-f", "hevc", "-"], frames.tobytes())


def _last_frame(stream: bytes, fmt: str, like: U8Image) -> U8Image:
    h, w = like.shape[:2]
    ph, pw = h + h % 2, w + w % 2
    raw = _run(["-err_detect", "ignore_err", "-f", fmt, "-i", "-", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-"], stream)
    n = len(raw) // (ph * pw * 3)
    if n == 0:  # nothing decodable: a lost frame shows black
        return np.zeros((h, w, 3), np.uint8)
    frame = np.frombuffer(raw, np.uint8, count=ph * pw * 3, offset=(n - 1) * ph * pw * 3)
    return np.ascontiguousarray(frame.reshape(ph, pw, 3)[:h, :w])


def h265_crf(
    image: U8Image, *, crf: int, clip_half: int, pan_px: float, rng: np.random.Generator
) -> U8Image:
    """Compress a short pan clip with H.265 at constant rate factor; return its last frame.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        crf: x265 constant rate factor, 0..51 (higher = more compression).
        clip_half: Frames of the outward pan (clip = 2 * clip_half + 1 frames).
        pan_px: Pan length at the turning point, px.
        rng: Draws the pan direction.

    Returns:
        uint8 (H, W, 3): the decoded last frame (the original view).

    Raises:
        FFmpegNotFoundError: ffmpeg is not installed.

    Reference:
        ``h265_crf`` in video_distortions.py (``-vcodec libx265 -crf c``).

    """
    frames = _clip(image, clip_half, pan_px, rng)
    return _last_frame(_encode_h265(frames, ["-crf", str(int(crf))]), "hevc", image)


def h265_abr(
    image: U8Image, *, divisor: float, clip_half: int, pan_px: float, rng: np.random.Generator
) -> U8Image:
    """Compress a short pan clip with H.265 at ``source bitrate / divisor``; return its last frame.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        divisor: ``k``: target bitrate = H.264 (CRF 23) source bitrate / k, > 0.
        clip_half: Frames of the outward pan (clip = 2 * clip_half + 1 frames).
        pan_px: Pan length at the turning point, px.
        rng: Draws the pan direction.

    Returns:
        uint8 (H, W, 3): the decoded last frame.

    Raises:
        FFmpegNotFoundError: ffmpeg is not installed.

    Reference:
        ``h265_abr`` in video_distortions.py (``-b:v -maxrate -bufsize = bit_rate / c``).

    """
    if divisor <= 0:
        raise ValueError(f"divisor must be > 0, got {divisor}")
    frames = _clip(image, clip_half, pan_px, rng)
    source_bps = len(_encode_h264(frames)) * 8 * _FPS / len(frames)
    rate = str(max(1, int(source_bps / divisor)))
    stream = _encode_h265(frames, ["-b:v", rate, "-maxrate", rate, "-bufsize", rate])
    return _last_frame(stream, "hevc", image)


def _slice_payload_positions(stream: bytes) -> NDArray[np.int64]:
    """Byte offsets inside H.264 slice NAL units (types 1 and 5), after the NAL header."""
    buf = np.frombuffer(stream, np.uint8)
    if len(buf) < 4:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero((buf[:-2] == 0) & (buf[1:-1] == 0) & (buf[2:] == 1)) + 3
    ends = np.append(starts[1:] - 3, len(buf))
    ends[:-1] -= buf[np.maximum(ends[:-1] - 1, 0)] == 0  # zero byte of a 4-byte start code
    spans = [
        np.arange(s + 1, e) for s, e in zip(starts, ends, strict=True) if s < len(buf)
        and (buf[s] & 0x1F) in (1, 5)
    ]
    return np.concatenate(spans) if spans else np.zeros(0, np.int64)


def bit_error(
    image: U8Image, *, period: int, clip_half: int, pan_px: float, rng: np.random.Generator
) -> U8Image:
    """Corrupt random bytes of an H.264 pan clip, decode with concealment; return the last frame.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        period: ``N``: each slice byte is replaced with probability 1/N (>= 1).
        clip_half: Frames of the outward pan (clip = 2 * clip_half + 1 frames).
        pan_px: Pan length at the turning point, px.
        rng: Draws the pan direction, then which bytes are hit and their new values.

    Returns:
        uint8 (H, W, 3): the last decoded frame (black if nothing decodes).

    Raises:
        FFmpegNotFoundError: ffmpeg is not installed.

    Reference:
        ``bit_error`` in video_distortions.py (``-c copy -bsf noise=N``).

    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    frames = _clip(image, clip_half, pan_px, rng)
    stream = np.frombuffer(_encode_h264(frames), np.uint8).copy()
    pos = _slice_payload_positions(stream.tobytes())
    hit = pos[rng.random(len(pos)) < 1.0 / period]
    stream[hit] = rng.integers(0, 256, size=len(hit), dtype=np.uint8)
    return _last_frame(stream.tobytes(), "h264", image)


def _provenance(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "_ffmpeg": ffmpeg_version()}


def _tables(field: str, values: tuple[float, ...], notes: str) -> dict[str, SeverityTable]:
    tables = {}
    for preset in ("imagenet224", "tiny64", "cifar32"):
        pan = round(24.0 * PRESETS[preset] / 224.0, 4)
        tables[preset] = SeverityTable(
            fields=(field, "clip_half", "pan_px"),
            rows=tuple((v, 8, pan) for v in values),
            source=_SOURCE,
            pixel_fields=frozenset({"pan_px"}),
            notes=notes + " Clip (8 frames out and back, 24 px pan at 224 px, scaled by side/224) "
            "is benchsmith's stand-in for the paper's 119-frame 3-D motion video.",
        )
    return tables


_SUITE = frozenset({"3dcc"})
SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="h265_crf", family="video", kernel=h265_crf,
        tables=_tables("crf", (24, 26, 32, 39, 41), "crf = c of h265_crf (libx265)."),
        stochastic=True, suites=_SUITE, param_hook=_provenance,
        reference="Kar et al. 2022, video_distortions.py h265_crf",
    ),
    CorruptionSpec(
        name="h265_abr", family="video", kernel=h265_abr,
        tables=_tables("divisor", (2, 4, 8, 16, 32),
                       "divisor = c of h265_abr; source = H.264 CRF 23 raw stream bitrate."),
        stochastic=True, suites=_SUITE, param_hook=_provenance,
        reference="Kar et al. 2022, video_distortions.py h265_abr",
    ),
    CorruptionSpec(
        name="bit_error", family="video", kernel=bit_error,
        tables=_tables("period", (100000, 50000, 30000, 20000, 10000),
                       "period = c of bit_error (ffmpeg noise bsf amount); bytes drawn from rng."),
        stochastic=True, suites=_SUITE, param_hook=_provenance,
        reference="Kar et al. 2022, video_distortions.py bit_error",
    ),
)
