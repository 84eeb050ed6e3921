"""Linear motion-blur kernel shared by ``motion_blur`` and ``snow`` (private).

ImageMagick's ``MotionBlurImage`` (used by the ImageNet-C, Tiny-ImageNet-C,
CIFAR-10-C and MNIST-C scripts through Wand) and its numpy port in
``imagecorruptions._motion_blur`` sum ``width = 2 * ceil(radius) + 1`` copies of
the image, copy ``i`` shifted by ``(ceil(i sin(a) - 1/2), ceil(i cos(a) - 1/2))``
pixels (row, column) and weighted by a half-Gaussian ``exp(-i^2 / (2 sigma^2))``
normalised to sum 1; samples outside the image repeat the edge pixel. Here that
sum is one sparse 2-D correlation kernel run by :func:`cv2.filter2D` with
``BORDER_REPLICATE``.

Reference:
    ImageMagick ``MagickCore/effect.c`` ``MotionBlurImage``;
    bethgelab/imagecorruptions ``corruptions.py`` ``_motion_blur``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["motion_kernel", "motion_filter", "magick_motion_blur"]


def motion_kernel(radius: float, sigma: float, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Build the motion-blur correlation kernel.

    Args:
        radius: Blur radius in pixels (> 0); the kernel has ``2 * ceil(radius) + 1`` taps.
        sigma: Standard deviation of the half-Gaussian tap weights, in taps (> 0).
        angle: Direction in degrees (0 = towards +x, 90 = towards +y, image rows down).

    Returns:
        ``(kernel, anchor)``: a float64 kernel cropped to its non-zero bounding box
        and the ``(x, y)`` anchor to pass to :func:`cv2.filter2D`.

    Example:
        >>> k, anchor = motion_kernel(2, 1.0, 0.0)
        >>> k.shape, anchor, round(float(k.sum()), 6)
        ((1, 5), (0, 0), 1.0)

    """
    if radius <= 0 or sigma <= 0:
        raise ValueError(f"motion blur needs radius > 0 and sigma > 0, got {radius}, {sigma}")
    width = 2 * math.ceil(radius) + 1
    taps = np.arange(width, dtype=np.float64)
    weights = np.exp(-(taps**2) / (2.0 * sigma**2))
    weights /= weights.sum()
    rad = np.deg2rad(angle)
    # Same rounding as ImageMagick / imagecorruptions: ceil(t - 0.5).
    dy = np.ceil(taps * math.sin(rad) - 0.5).astype(np.int64)
    dx = np.ceil(taps * math.cos(rad) - 0.5).astype(np.int64)
    y0, x0 = int(dy.min()), int(dx.min())
    kernel = np.zeros((int(dy.max()) - y0 + 1, int(dx.max()) - x0 + 1), dtype=np.float64)
    np.add.at(kernel, (dy - y0, dx - x0), weights)
    return kernel, (-x0, -y0)


def motion_filter(image: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """Blur a float image along a line (edge pixels repeat beyond the border).

    Args:
        image: float array (H, W) or (H, W, C), any value scale; float64 stays
            float64, anything else is computed in float32.
        radius: Blur radius in pixels (> 0).
        sigma: Tap-weight standard deviation, in taps (> 0).
        angle: Direction in degrees.

    Returns:
        A new array of the input's shape (float64 or float32).

    """
    kernel, anchor = motion_kernel(radius, sigma, angle)
    dtype = np.float64 if np.asarray(image).dtype == np.float64 else np.float32
    src = np.ascontiguousarray(image, dtype=dtype)
    depth = cv2.CV_64F if dtype == np.float64 else cv2.CV_32F
    out = cv2.filter2D(
        src, depth, kernel.astype(dtype), anchor=anchor, borderType=cv2.BORDER_REPLICATE
    )
    return out.reshape(np.shape(image))


def _tap_sum(image: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """Sum the motion taps one by one on an edge-replicated copy (float64, one pass each)."""
    width = 2 * math.ceil(radius) + 1
    taps = np.arange(width, dtype=np.float64)
    weights = np.exp(-(taps**2) / (2.0 * sigma**2))
    weights /= weights.sum()
    rad = np.deg2rad(angle)
    dy = np.ceil(taps * math.sin(rad) - 0.5).astype(np.int64)
    dx = np.ceil(taps * math.cos(rad) - 0.5).astype(np.int64)
    top, left = max(0, -int(dy.min())), max(0, -int(dx.min()))
    padded = cv2.copyMakeBorder(
        np.ascontiguousarray(image), top, max(0, int(dy.max())), left, max(0, int(dx.max())),
        cv2.BORDER_REPLICATE,
    ).astype(np.float64)
    h, w = image.shape[:2]
    acc = None
    for wi, a, b in zip(weights.tolist(), dy.tolist(), dx.tolist(), strict=True):
        view = padded[top + a : top + a + h, left + b : left + b + w]
        if acc is None:
            acc = view * wi
        else:
            cv2.scaleAdd(view, wi, acc, dst=acc)
    return acc.reshape(image.shape)


def magick_motion_blur(image: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick Q16's ``MotionBlurImage`` of an 8-bit image, as the 8-bit PNG it writes.

    ImageMagick scales 8-bit values to 16 bits (``v * 257``), sums the taps in
    double precision, rounds to a 16-bit quantum (``ClampToQuantum``), and its
    8-bit PNG export then truncates ``q // 257``. Measured against the real
    library (6.9.11-60 Q16 through Wand, ``tests/corruptions/magick_oracle.py``):
    equal on every pixel, where rounding the float sum is +1 on about half of them.
    The float64 sum is formed like ImageMagick's, tap by tap, except for
    kernels on one row or column, which OpenCV's direct ``filter2D`` sums as
    fast; either way it is within 1e-10 of ImageMagick's, far from the 0.5
    rounding step (flat areas sum to the exact quantum).

    Args:
        image: uint8 (H, W) or (H, W, C).
        radius: Blur radius in pixels (> 0).
        sigma: Tap-weight standard deviation, in taps (> 0).
        angle: Direction in degrees.

    Returns:
        float64 array of the input's shape holding the integer levels 0..255.

    """
    if radius <= 0 or sigma <= 0:
        raise ValueError(f"motion blur needs radius > 0 and sigma > 0, got {radius}, {sigma}")
    kernel, _ = motion_kernel(radius, sigma, angle)
    if min(kernel.shape) == 1:
        acc = motion_filter(np.asarray(image, dtype=np.float64), radius, sigma, angle)
    else:  # a 2-D kernel would take OpenCV's (slower) DFT path
        acc = _tap_sum(np.asarray(image), radius, sigma, angle)
    acc *= 257.0  # the 16-bit quantum scale (sum of v * 257 up to rounding far below 0.5)
    acc += 0.5
    np.floor(acc, out=acc)
    # q // 257 for the integer quantum q >= 0: q / 257 is exact when 257 divides q and
    # at least 1/257 below the next integer otherwise, so floor(q / 257) is the same
    # (and several times faster than numpy's float floor_divide).
    np.divide(acc, 257.0, out=acc)
    np.floor(acc, out=acc)
    return acc
