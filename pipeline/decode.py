"""The one decoding front door: encoded image bytes (or a file) -> uint8 pixels.

Every source and stage decodes through :func:`decode_image` (and depth maps
through :func:`read_depth_png`), so one set of rules holds everywhere:

* **Pixel limit, checked before decoding.** The declared size is read from the
  header (PNG ``IHDR`` and the JPEG ``SOF`` marker parsed directly; any other
  format through Pillow's lazy :func:`PIL.Image.open`, which reads only the
  header) and an image declaring more than the limit is refused before a single
  pixel is decompressed, for the OpenCV fast path and for Pillow alike.
  The default, :data:`DEFAULT_MAX_PIXELS` = 89,478,485 pixels, is Pillow's own
  decompression-bomb threshold (``PIL.Image.MAX_IMAGE_PIXELS``): about
  268 MB as RGB uint8. Override it per call (``max_pixels=``), per source
  (the ``max_pixels`` option) or for a whole run with ``$BENCHSMITH_MAX_PIXELS``.
  Pillow itself refuses more than twice its threshold (178,956,970 pixels) at
  open, whatever the limit here; such images are refused the same way.
* **Mode rules** (one rule per mode, never per image):

  ============================  =================================================
  stored mode                   becomes
  ============================  =================================================
  ``L`` (8-bit gray), ``1``     ``(H, W)`` uint8 (bilevel: 0 / 255)
  ``I;16*`` / ``I`` (16-bit)    ``(H, W)`` uint8 = ``round(v * 255 / 65535)``;
                                values outside 0..65535 are refused
  ``F`` (32-bit float)          refused (no agreed 8-bit mapping)
  ``RGB``                       ``(H, W, 3)`` uint8
  ``RGBA``, ``LA``, ``P``,      ``(H, W, 3)`` uint8 via Pillow ``convert("RGB")``
  ``CMYK``, ``YCbCr``, ...      (alpha is dropped, not composited)
  animated / multi-page         the first frame
  ============================  =================================================

  16-bit images are mapped by the full 16-bit range, so a value means the same
  in every image of a dataset (an image whose maximum is 300 is not stretched).
* **Errors** are :class:`~pipeline.errors.DecodeError` (a ``SourceError``)
  naming ``what`` (file, row), the reason and the fix; sources turn them into
  counted quarantines.

PNG bytes whose header says 8-bit gray or 8-bit RGB take an OpenCV fast path
(the pixels equal Pillow's); every other format goes through Pillow, so JPEG
pixels are exactly what ``datasets`` users get.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from pipeline.errors import DecodeError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PNG_SIGNATURE",
    "decode_image",
    "declared_size",
    "max_pixels",
    "read_depth_png",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pillow's decompression-bomb threshold (``PIL.Image.MAX_IMAGE_PIXELS``), in pixels.
DEFAULT_MAX_PIXELS = 89_478_485
_ENV = "BENCHSMITH_MAX_PIXELS"
_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error)


def max_pixels(override: int | None = None) -> int:
    """Return the pixel limit in force: ``override``, else ``$BENCHSMITH_MAX_PIXELS``, else default.

    Raises:
        DecodeError: ``$BENCHSMITH_MAX_PIXELS`` is not a positive integer.
    """
    if override is not None:
        return int(override)
    raw = os.environ.get(_ENV)
    if raw is None:
        return DEFAULT_MAX_PIXELS
    if not raw.strip().isdigit() or int(raw) < 1:
        raise DecodeError(f"${_ENV}={raw!r} must be a positive integer number of pixels")
    return int(raw)


def _png_header(data: bytes) -> tuple[int, int, int, int] | None:
    """``(width, height, bit depth, colour type)`` from a PNG ``IHDR`` chunk, or ``None``."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's first SOF marker, or ``None`` if none is found."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xDA or length < 2:  # scan data starts: no SOF before it
            return None
        i += 2 + length
    return None


def declared_size(data: bytes, *, what: str = "image") -> tuple[int, int]:
    """Return the ``(width, height)`` an encoded image declares, without decoding pixels.

    Raises:
        DecodeError: The bytes are no image format Pillow knows, or the header is broken.
    """
    header = _png_header(data)
    if header is not None:
        return header[0], header[1]
    jpeg = _jpeg_size(data)
    if jpeg is not None:
        return jpeg
    try:
        with Image.open(io.BytesIO(data)) as img:  # lazy: reads the header only
            return img.size
    except (*_PILLOW_ERRORS, Image.DecompressionBombError) as exc:
        raise _pillow_error(exc, data, what) from exc


def _pillow_error(exc: BaseException, data: bytes, what: str) -> DecodeError:
    """Return a deterministic message for a Pillow failure (no object addresses in it)."""
    if isinstance(exc, Image.DecompressionBombError):
        return DecodeError(
            f"{what}: image declares more pixels than Pillow's own bomb limit of "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} ({exc}); it was not decoded. Resize it"
        )
    if isinstance(exc, UnidentifiedImageError):
        return DecodeError(
            f"{what}: cannot decode image: not a recognised format ({len(data)} bytes starting "
            f"{data[:8]!r}); "
            "fix or remove it"
        )
    return DecodeError(f"{what}: cannot decode image ({exc}); fix or remove it")


def _check_size(width: int, height: int, limit: int, what: str) -> None:
    if width < 1 or height < 1:
        raise DecodeError(f"{what}: image declares an empty size {width}x{height}")
    if width * height > limit:
        raise DecodeError(
            f"{what}: image declares {width}x{height} = {width * height:,} pixels, over the "
            f"limit of {limit:,} (a decompression bomb or an unexpectedly huge image); it was not "
            f"decoded. Resize it, or raise the limit with the source option `max_pixels` or "
            f"${_ENV}"
        )


def _read_file(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """Read an image file, refusing one larger than any image within the limit can be.

    An uncompressed image of ``limit`` pixels takes at most 8 bytes per pixel
    (16-bit RGBA); a file bigger than that plus 1 MiB of metadata is not read.
    """
    try:
        size = os.stat(path).st_size
        if size > 8 * limit + (1 << 20):
            raise DecodeError(
                f"{what}: file is {size:,} bytes, more than an image within the pixel limit of "
                f"{limit:,} can take; it was not read"
            )
        return Path(path).read_bytes()
    except OSError as exc:
        raise DecodeError(f"{what}: cannot read the file ({exc.strerror or exc})") from exc


def _to_uint8(img: Image.Image, what: str) -> np.ndarray:
    mode = img.mode
    if mode in ("L", "1"):
        return np.asarray(img.convert("L"))
    if mode.startswith("I"):
        arr = np.asarray(img, dtype=np.int64)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DecodeError(
                f"{what}: {mode} image has values {arr.min()}..{arr.max()} outside the 16-bit "
                "range 0..65535; store it as 8-bit or 16-bit gray"
            )
        return np.rint(arr * (255.0 / 65535.0)).astype(np.uint8)
    if mode == "F":
        raise DecodeError(
            f"{what}: 32-bit float image (mode F) has no agreed 8-bit mapping; convert it to 8-bit"
        )
    return np.asarray(img.convert("RGB"))


def decode_image(
    data: bytes | None,
    *,
    path: str | os.PathLike[str] | None = None,
    what: str = "image",
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode encoded image bytes (or a file) to uint8 gray ``(H, W)`` or RGB ``(H, W, 3)``.

    Args:
        data: The encoded bytes, or ``None`` to read ``path``.
        path: The file to read when ``data`` is ``None``.
        what: What is decoded (file, row), for messages.
        max_pixels: Pixel limit (width x height); ``None`` = :func:`max_pixels`.

    Returns:
        The pixels by the mode rules of this module.

    Raises:
        DecodeError: No data, over the pixel limit, or not decodable; names ``what``.
    """
    limit = _limit(max_pixels)
    if data is None:
        if path is None:
            raise DecodeError(f"{what}: no image bytes and no path")
        data = _read_file(path, what, limit)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(
            f"{what}: image value is {type(data).__name__}, not encoded image bytes"
        )
    data = bytes(data)
    header = _png_header(data)
    if header is not None:
        width, height, depth, colour = header
        _check_size(width, height, limit, what)
        if depth == 8 and colour in (0, 2):  # 8-bit gray / RGB: OpenCV fast path
            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if arr is not None and arr.ndim == 2 and arr.dtype == np.uint8:
                return arr
            if arr is not None and arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8:
                return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    jpeg = _jpeg_size(data)
    if jpeg is not None:
        _check_size(*jpeg, limit, what)
    try:
        with Image.open(io.BytesIO(data)) as img:  # header only, so far
            _check_size(*img.size, limit, what)
            img.load()
            return _to_uint8(img, what)
    except DecodeError:
        raise
    except (*_PILLOW_ERRORS, Image.DecompressionBombError) as exc:
        raise _pillow_error(exc, data, what) from exc


def _limit(override: int | None) -> int:
    return max_pixels(override)


def read_depth_png(
    path: Path | None, data: bytes | None = None, *, max_pixels: int | None = None
) -> np.ndarray:
    """Read a depth map stored as a (16-bit or 8-bit) single-channel PNG, unscaled.

    Args:
        path: The PNG file (or ``None`` when ``data`` is given).
        data: The PNG bytes.
        max_pixels: Pixel limit, as for :func:`decode_image`.

    Returns:
        float32 (H, W) with the stored values (0 = unknown depth).

    Raises:
        DecodeError: Missing, over the limit, undecodable or multi-channel file.
    """
    what = str(path) if path is not None else "depth bytes"
    if data is None:
        if path is None or not Path(path).is_file():
            raise DecodeError(f"{what}: depth file missing (depth maps must mirror the image tree)")
        data = _read_file(path, what, _limit(max_pixels))
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"{what}: depth value is {type(data).__name__}, not PNG bytes")
    data = bytes(data)
    header = _png_header(data)
    if header is None:
        raise DecodeError(f"{what}: not a PNG depth map (depth maps are single-channel PNGs)")
    _check_size(header[0], header[1], _limit(max_pixels), what)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 2:
        raise DecodeError(f"{what}: not a single-channel PNG depth map")
    return arr.astype(np.float32)
