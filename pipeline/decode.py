"""The one decoding front door: encoded image bytes (or a file) -> uint8 pixels."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.errors import SourceError

__all__ = ["decode_image", "read_depth_png", "PNG_SIGNATURE"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_image(data: bytes | None, *, path: str | None = None, what: str = "image") -> np.ndarray:
    """Decode encoded image bytes (or a file) to uint8 gray (H, W) or RGB (H, W, 3).

    Palette, 16-bit and alpha modes are converted: ``L``/``1``/``I;16`` stay
    single-channel (8-bit), everything else becomes ``RGB``.

    PNG bytes take an OpenCV fast path (gray, RGB and 16-bit gray); every other
    format goes through Pillow, so JPEG pixels are exactly what ``datasets`` users get.

    Raises:
        SourceError: The bytes do not decode; the message names ``what``.
    """
    if data is not None and data[:8] == PNG_SIGNATURE:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is not None and arr.ndim == 2 and arr.dtype == np.uint8:
            return arr
        if arr is not None and arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8:
            return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    if data is None and path is None:
        raise SourceError(f"{what}: no image bytes and no path")
    source: io.BytesIO | str = io.BytesIO(data) if data is not None else str(path)
    try:
        with Image.open(source) as img:
            img.load()
            if img.mode in ("L", "1"):
                return np.asarray(img.convert("L"))
            if img.mode.startswith("I"):
                arr = np.asarray(img, dtype=np.float64)
                scale = 255.0 / 65535.0 if arr.max() > 255 else 1.0
                return np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise SourceError(f"{what}: cannot decode image ({exc})") from exc


def read_depth_png(path: Path | None, data: bytes | None = None) -> np.ndarray:
    """Read a depth map stored as a (16-bit or 8-bit) single-channel PNG, unscaled.

    Args:
        path: The PNG file (or ``None`` when ``data`` is given).
        data: The PNG bytes.

    Returns:
        float32 (H, W) with the stored values (0 = unknown depth).

    Raises:
        SourceError: Missing, undecodable or multi-channel file.
    """
    what = str(path) if path is not None else "depth bytes"
    if data is None:
        if path is None or not Path(path).is_file():
            raise SourceError(f"{what}: depth file missing (depth maps must mirror the image tree)")
        data = Path(path).read_bytes()
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 2:
        raise SourceError(f"{what}: not a single-channel PNG depth map")
    return arr.astype(np.float32)
