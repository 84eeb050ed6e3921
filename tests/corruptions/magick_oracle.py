"""ImageMagick motion blur, run through Wand exactly as the ImageNet-C scripts do (test oracle).

The ImageNet-C, Tiny-ImageNet-C, CIFAR-10-C and MNIST-C generators blur with
``MagickMotionBlurImage`` through Wand: the uint8 image is written as a PNG by
PIL, read by ImageMagick, blurred, written back as a PNG blob by ImageMagick and
decoded by OpenCV with ``IMREAD_UNCHANGED`` (a gray PNG comes back 2-D and is
stacked to three channels). This module does those same steps with the real
library (Debian ``libmagickwand-6.q16-6`` + PyPI ``Wand``), so tests compare our
kernels with the real thing, not with a re-implementation.

Reference:
    hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py`` ``MotionImage``,
    ``motion_blur`` and ``snow``; google-research/mnist-c ``corruptions.py``.
"""

from __future__ import annotations

import ctypes
import io

import cv2
import numpy as np
import pytest
from PIL import Image


def _library():
    try:
        from wand.api import library
        from wand.image import Image as WandImage
    except ImportError as exc:  # a fidelity test must not pass by skipping
        pytest.fail(
            f"ImageMagick/Wand is not importable ({exc}); `make test` installs it "
            "(apt-get install libmagickwand-dev; pip install Wand)"
        )
    library.MagickMotionBlurImage.argtypes = (
        ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_double,
    )
    return library, WandImage


def magick_version() -> str:
    """The ImageMagick build Wand talks to (e.g. ``ImageMagick 6.9.11-60 Q16``)."""
    _library()
    from wand.version import MAGICK_VERSION

    return str(MAGICK_VERSION)


def motion_blur_png(png: bytes, radius: float, sigma: float, angle: float) -> np.ndarray:
    """Blur a PNG blob with ``MagickMotionBlurImage`` and decode the PNG it writes (OpenCV)."""
    library, wand_image = _library()
    with wand_image(blob=png) as img:
        library.MagickMotionBlurImage(img.wand, float(radius), float(sigma), float(angle))
        blob = img.make_blob()
    return cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array, mode=mode).save(out, format="PNG")
    return out.getvalue()


def motion_blur(image: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """The scripts' ``motion_blur`` given its one draw (the angle), as uint8 (H, W, C).

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) gray (MNIST-C).
        radius: ImageMagick radius.
        sigma: ImageMagick sigma.
        angle: Degrees.

    Returns:
        uint8 of the input's shape (RGB from BGR; a gray PNG stacked back to RGB
        for RGB input, as the scripts do).
    """
    out = motion_blur_png(_png(np.ascontiguousarray(image)), radius, sigma, angle)
    if image.ndim == 2:
        return out if out.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    if out.ndim == 2:
        return np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out[..., [2, 1, 0]])


def snow_layer_blur(layer_u8: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """The scripts' snow-layer blur: an 8-bit 'L' PNG through ImageMagick, back as float / 255."""
    out = motion_blur_png(_png(np.ascontiguousarray(layer_u8), mode="L"), radius, sigma, angle)
    if out.ndim == 3:
        out = out[..., 0]
    return out / 255.0
