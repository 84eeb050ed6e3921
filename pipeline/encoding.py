"""How derived images are stored: lossless PNG or the reference's JPEG save.

The manifest's top-level ``encoding`` section picks the format of corrupted
images; clean configs always stay lossless PNG. Two formats::

    encoding: {format: png}                                  # default (absent = this)
    encoding: {format: jpeg, quality: 85, optimize: true}    # ImageNet-C / Tiny-ImageNet-C

JPEG goes through Pillow exactly like the release scripts of ImageNet-C
(``Image.fromarray(np.uint8(img)).save(path, quality=85, optimize=True)``), so the
bytes are identical to the reference's for the same array and the same
libjpeg build. PNG goes through OpenCV; the zlib strategy defaults to RLE
(``benchmarks/bench_png_encoding.py``: on MNIST, CIFAR-10 and scikit-image photos
at 28-224 px it is 1.2-5x faster than zlib's default strategy at level 6 with
sizes from -8% to +6%; decoded pixels are identical by construction).

:func:`describe` returns the settings plus the encoder library versions; it goes
into every task fingerprint, the config ``manifest.json`` (``encoding`` key),
each row's ``params`` provenance and the dataset card.

Reference: Hendrycks & Dietterich, ICLR 2019, hendrycks/robustness
``ImageNet-C/create_c/make_imagenet_c.py`` (the final save).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from pipeline.errors import ManifestError

__all__ = [
    "FORMATS",
    "PNG_STRATEGIES",
    "JPEG_SUBSAMPLING",
    "EncodingSpec",
    "PNG_FAST",
    "PNG_LEGACY",
    "JPEG_RELEASE",
    "DEFAULT",
    "parse_section",
    "encode_image",
    "describe",
    "library_versions",
]

FORMATS = ("png", "jpeg")
#: zlib strategies OpenCV's PNG writer exposes (``cv2.IMWRITE_PNG_STRATEGY_*``).
PNG_STRATEGIES = ("default", "filtered", "huffman_only", "rle", "fixed")
#: Chroma subsampling Pillow's JPEG writer accepts; ``4:2:0`` is its default.
JPEG_SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")

_PNG_KEYS = {
    "format": "png | jpeg",
    "compression": "zlib level 0..9 (PNG; default 1, no effect on size with strategy rle)",
    "strategy": f"zlib strategy (PNG): {' | '.join(PNG_STRATEGIES)} (default rle)",
}
_JPEG_KEYS = {
    "format": "png | jpeg",
    "quality": "JPEG quality 1..100 (default 85, the ImageNet-C release)",
    "optimize": "optimized Huffman tables, true | false (default true, the ImageNet-C release)",
    "subsampling": f"chroma subsampling: {' | '.join(JPEG_SUBSAMPLING)} (default 4:2:0, Pillow's)",
}


@dataclass(frozen=True)
class EncodingSpec:
    """One image encoding.

    Attributes:
        format: ``png`` (lossless) or ``jpeg``.
        quality: JPEG quality 1..100 (JPEG only).
        optimize: JPEG optimized Huffman tables (JPEG only).
        subsampling: JPEG chroma subsampling (JPEG only; Pillow's default is ``4:2:0``).
        compression: zlib level 0..9 (PNG only).
        strategy: zlib strategy (PNG only), one of :data:`PNG_STRATEGIES`.
    """

    format: str = "png"
    quality: int = 85
    optimize: bool = True
    subsampling: str = "4:2:0"
    compression: int = 1
    strategy: str = "rle"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"encoding format {self.format!r} is not one of {list(FORMATS)}")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not (
            1 <= self.quality <= 100
        ):
            raise ValueError(f"JPEG quality {self.quality!r} is not an integer in 1..100")
        if not isinstance(self.optimize, bool):
            raise ValueError(f"JPEG optimize {self.optimize!r} is not true or false")
        if self.subsampling not in JPEG_SUBSAMPLING:
            raise ValueError(
                f"JPEG subsampling {self.subsampling!r} is not one of {list(JPEG_SUBSAMPLING)}"
            )
        if isinstance(self.compression, bool) or not isinstance(self.compression, int) or not (
            0 <= self.compression <= 9
        ):
            raise ValueError(f"PNG compression {self.compression!r} is not an integer in 0..9")
        if self.strategy not in PNG_STRATEGIES:
            raise ValueError(
                f"PNG strategy {self.strategy!r} is not one of {list(PNG_STRATEGIES)}"
            )

    def settings(self) -> dict[str, Any]:
        """Return the settings that apply to this format (what the manifest would say)."""
        if self.format == "jpeg":
            return {"format": "jpeg", "quality": self.quality, "optimize": self.optimize,
                    "subsampling": self.subsampling}
        return {"format": "png", "compression": self.compression, "strategy": self.strategy}


#: The fast lossless default (zlib RLE strategy).
PNG_FAST = EncodingSpec("png", compression=1, strategy="rle")
#: What benchsmith wrote before the encoding section existed (zlib level 6, default strategy).
PNG_LEGACY = EncodingSpec("png", compression=6, strategy="default")
#: The ImageNet-C / Tiny-ImageNet-C release save (Pillow, quality 85, optimize).
JPEG_RELEASE = EncodingSpec("jpeg", quality=85, optimize=True)
#: Used when a manifest has no ``encoding`` section.
DEFAULT = PNG_FAST


def parse_section(data: Any, where: str) -> EncodingSpec:
    """Validate the manifest's ``encoding`` section.

    Args:
        data: The parsed YAML value, e.g. ``{"format": "jpeg", "quality": 85}``.
        where: Key path for messages (``manifests/x.yaml: encoding``).

    Returns:
        The encoding.

    Raises:
        ManifestError: Not a mapping, unknown format, a key that does not belong
            to the format, or a bad value; the message names the key and the
            allowed values.
    """
    from pipeline.manifest import check_keys

    if not isinstance(data, dict):
        raise ManifestError(
            f"{where}: expected a mapping like {{format: png}} or "
            f"{{format: jpeg, quality: 85, optimize: true}}, got {data!r}"
        )
    fmt = data.get("format")
    if fmt not in FORMATS:
        raise ManifestError(f"{where}.format: {fmt!r} is not one of {list(FORMATS)}")
    allowed = _JPEG_KEYS if fmt == "jpeg" else _PNG_KEYS
    d = check_keys(data, where, allowed, {"format"})
    for key, value in d.items():
        if key != "format":
            try:
                EncodingSpec(format=fmt, **{key: value})
            except (TypeError, ValueError) as exc:
                raise ManifestError(f"{where}.{key}: {exc}; allowed: {allowed[key]}") from None
    base = JPEG_RELEASE if fmt == "jpeg" else PNG_FAST
    kwargs = {k: d.get(k, getattr(base, k)) for k in allowed if k != "format"}
    return EncodingSpec(format=fmt, **kwargs)


@cache
def _png_params(compression: int, strategy: str) -> list[int]:
    import cv2

    # Order matters: OpenCV resets the strategy when it reads the compression level.
    return [cv2.IMWRITE_PNG_COMPRESSION, compression, cv2.IMWRITE_PNG_STRATEGY,
            getattr(cv2, f"IMWRITE_PNG_STRATEGY_{strategy.upper()}")]


def _png(arr: np.ndarray, spec: EncodingSpec) -> bytes:
    import cv2

    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        code = cv2.COLOR_RGB2BGR if arr.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        arr = cv2.cvtColor(np.ascontiguousarray(arr), code)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr),
                           _png_params(spec.compression, spec.strategy))
    if not ok:
        raise ValueError(f"PNG encoding failed for an array of shape {arr.shape} {arr.dtype}")
    return buf.tobytes()


def _jpeg(arr: np.ndarray, spec: EncodingSpec) -> bytes:
    from PIL import Image

    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(
            f"JPEG stores gray (H, W) or RGB (H, W, 3) images, got shape {arr.shape}; "
            "use encoding: {format: png} for images with alpha"
        )
    buf = io.BytesIO()
    # Exactly the reference call. Subsampling is passed only when it is not Pillow's
    # default and there is chroma to subsample: for gray images an explicit value
    # changes libjpeg's sampling factors (other bytes, same pixels).
    extra = {} if spec.subsampling == "4:2:0" or arr.ndim == 2 else {
        "subsampling": spec.subsampling}
    Image.fromarray(np.uint8(arr)).save(
        buf, "JPEG", quality=spec.quality, optimize=spec.optimize, **extra
    )
    return buf.getvalue()


def encode_image(array: np.ndarray, spec: EncodingSpec = DEFAULT) -> bytes:
    r"""Encode one image with ``spec`` (deterministic for a given encoder build).

    Args:
        array: uint8 gray (H, W)/(H, W, 1), RGB or RGBA pixels (PNG also takes
            uint16 gray, e.g. depth maps); JPEG takes gray or RGB only.
        spec: The encoding.

    Returns:
        The encoded file bytes.

    Raises:
        ValueError: Unsupported array for the format, or the encoder failed.

    Example:
        >>> png = encode_image(np.zeros((2, 2, 3), np.uint8), PNG_FAST)
        >>> png[:4] == b"\x89PNG"
        True
    """
    arr = np.asarray(array)
    if spec.format == "jpeg":
        if arr.dtype != np.uint8:
            raise ValueError(f"JPEG stores uint8 pixels, got {arr.dtype}")
        return _jpeg(arr, spec)
    return _png(arr, spec)


@cache
def library_versions(fmt: str) -> dict[str, str]:
    """Versions of the libraries whose build decides the encoded bytes of ``fmt``."""
    if fmt == "jpeg":
        import PIL
        from PIL import features

        return {
            "pillow": PIL.__version__,
            "libjpeg": str(features.version("jpg")),
            "libjpeg_turbo": str(features.version("libjpeg_turbo") or "no"),
        }
    import cv2

    info: dict[str, str] = {"opencv": cv2.__version__}
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name in ("ZLib", "PNG"):
            info.setdefault("zlib" if name == "ZLib" else "libpng", value.strip())
    return info


def describe(spec: EncodingSpec) -> dict[str, Any]:
    """Return the settings and encoder library versions (for fingerprint, manifest, card).

    Example:
        >>> d = describe(JPEG_RELEASE)
        >>> d["format"], d["quality"], d["optimize"], "pillow" in d["library"]
        ('jpeg', 85, True, True)
    """
    return {**spec.settings(), "library": dict(library_versions(spec.format))}
