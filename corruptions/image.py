"""The image contract at the registry boundary.

Every public entry point takes and returns ``uint8`` arrays. The boundary rule:

* ``(H, W)`` and ``(H, W, 1)`` grayscale, ``(H, W, 3)`` RGB and ``(H, W, 4)``
  RGBA are accepted; anything else is a ``ValueError``.
* A kernel declares which channel layout it works on (``"rgb"``, ``"gray"`` or
  ``"any"``). Grayscale fed to an RGB kernel is replicated to three channels and
  the result is converted back with ITU-R 601 luma weights; RGB fed to a gray
  kernel is converted to luma, corrupted, and replicated back. The alpha channel
  of RGBA input is passed through unchanged.
* Kernels may return floats on the 0..255 scale; they are clipped to [0, 255]
  and quantised by the rounding policy: ``"truncate"`` (``np.uint8`` of the
  clipped value, what the ImageNet-C / CIFAR-10-C / MNIST-C scripts do, the
  default for benchmark parity) or ``"nearest"`` (round half to even).
* The output always has the input's shape and dtype.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "U8Image",
    "FloatImage",
    "Rounding",
    "ROUNDINGS",
    "check_image",
    "quantize",
    "to_layout",
    "from_layout",
    "REC709",
    "rgb_to_hsv",
    "hsv_to_rgb",
]

U8Image = NDArray[np.uint8]
FloatImage = NDArray[np.floating]
Rounding = Literal["truncate", "nearest"]
ROUNDINGS: tuple[str, ...] = ("truncate", "nearest")
Layout = Literal["rgb", "gray", "any"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def check_image(image: np.ndarray, *, name: str = "image") -> None:
    """Raise a ``ValueError``/``TypeError`` unless ``image`` meets the contract.

    Args:
        image: The array to check.
        name: What to call it in the message.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(
            f"{name} must be uint8 (0..255), got {image.dtype}; convert with "
            "np.clip(x, 0, 255).astype(np.uint8) or PIL's np.asarray(img)"
        )
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4)):
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ValueError(f"{name} is empty: shape {image.shape}")
        return
    raise ValueError(
        f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {image.shape}"
    )


def quantize(values: np.ndarray, rounding: Rounding) -> U8Image:
    """Clip to [0, 255] and convert to uint8 by the rounding policy.

    Args:
        values: Pixel values on the 0..255 scale (any real dtype; uint8 passes through).
        rounding: ``"truncate"`` (upstream parity) or ``"nearest"``.

    Returns:
        A new ``uint8`` array.

    Example:
        >>> quantize(np.array([-3.0, 1.7, 254.5, 300.0]), "truncate").tolist()
        [0, 1, 254, 255]
        >>> quantize(np.array([1.7, 254.5]), "nearest").tolist()
        [2, 254]
    """
    if values.dtype == np.uint8:
        return values
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    clipped = np.clip(values, 0, 255)
    if rounding == "nearest":
        clipped = np.rint(clipped)
    return clipped.astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ _LUMA


def to_layout(image: U8Image, layout: Layout) -> tuple[U8Image, np.ndarray | None]:
    """Convert a contract image to what a kernel works on.

    Args:
        image: A checked uint8 image.
        layout: The kernel's layout (``"rgb"``: (H, W, 3); ``"gray"``: (H, W);
            ``"any"``: (H, W, C) with C in {1, 3}, alpha removed).

    Returns:
        ``(work, alpha)``: the array the kernel sees, and the alpha channel to
        restore (or ``None``).
    """
    alpha = None
    img = image
    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[..., 3].copy()
        img = img[..., :3]
    if img.ndim == 2:
        img = img[..., None]
    channels = img.shape[2]
    if layout == "rgb":
        work = np.repeat(img, 3, axis=2) if channels == 1 else img
    elif layout == "gray":
        work = img[..., 0] if channels == 1 else quantize(_luma(img), "nearest")
    else:
        work = img
    return np.ascontiguousarray(work), alpha


def from_layout(result: U8Image, like: U8Image, alpha: np.ndarray | None) -> U8Image:
    """Bring a kernel's uint8 result back to the input's layout and shape.

    Args:
        result: The kernel output (after quantisation).
        like: The original input image.
        alpha: The alpha channel removed by :func:`to_layout`, if any.

    Returns:
        A uint8 array with ``like.shape``.
    """
    if result.ndim == 2:
        result = result[..., None]
    target_c = 1 if (like.ndim == 2 or like.shape[2] == 1) else 3
    if result.shape[2] != target_c:
        if target_c == 1:
            result = quantize(_luma(result), "nearest")[..., None]
        else:
            result = np.repeat(result, 3, axis=2)
    if alpha is not None:
        result = np.concatenate([result, alpha[..., None]], axis=2)
    return np.ascontiguousarray(result.reshape(like.shape))


#: Per hue sector 0..5, which of (v, p, q, t) becomes R, G and B (skimage ``hsv2rgb``).
_HSV_SECTOR_SOURCES = np.array(
    [[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]], dtype=np.intp
)

#: skimage ``rgb2gray`` weights (Rec. 709), float64 as skimage builds them for float64 input.
REC709 = np.array([0.2125, 0.7154, 0.0721], dtype=np.float64)


def rgb_to_hsv(
    image: U8Image,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HSV of a uint8 RGB image, bit for bit as ``skimage.color.rgb2hsv(image / 255.)``.

    The same float64 operations in the same order as scikit-image's ``rgb2hsv``
    (0.14 ... 0.26): ``V = max``, ``S = (max - min) / V`` (0 where max == min),
    hue from the red, green or blue formula with blue winning ties over green and
    green over red (skimage assigns them in that order), ``(h / 6) % 1``, 0 for grays.

    Args:
        image: uint8 (H, W, 3); not modified.

    Returns:
        ``(h, s, v)``, three float64 (H, W) arrays in [0, 1].

    Reference:
        scikit-image ``skimage/color/colorconv.py`` ``rgb2hsv``.

    Example:
        >>> [float(c[0, 0]) for c in rgb_to_hsv(np.array([[[255, 0, 0]]], np.uint8))]
        [0.0, 1.0, 1.0]
    """
    r, g, b = (image[..., k] / 255.0 for k in range(3))
    v = np.maximum(np.maximum(r, g), b)
    delta = v - np.minimum(np.minimum(r, g), b)
    gray = delta == 0.0
    d = np.where(gray, 1.0, delta)
    s = np.divide(delta, v, out=np.zeros_like(v), where=~gray)
    # One division: 0.0 + x == x exactly, so the red case needs no branch of its own.
    blue, green = b == v, g == v
    num = np.where(blue, r - g, np.where(green, b - r, g - b))
    h = np.where(blue, 4.0, np.where(green, 2.0, 0.0))
    h += num / d
    h /= 6.0
    h %= 1.0
    h[gray] = 0.0
    return h, s, v


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB on the 0..1 scale, bit for bit as ``skimage.color.hsv2rgb`` of ``stack(h, s, v)``.

    Args:
        h: Hue, float64 (H, W), in [0, 1].
        s: Saturation, float64 (H, W), in [0, 1].
        v: Value, float64 (H, W), in [0, 1].

    Returns:
        float64 (H, W, 3).

    Reference:
        scikit-image ``skimage/color/colorconv.py`` ``hsv2rgb``: ``hi = floor(6 h)``,
        ``f = 6 h - hi``, ``p = v (1 - s)``, ``q = v (1 - f s)``, ``t = v (1 - (1 - f) s)``.

    Example:
        >>> one = np.ones((1, 1))
        >>> hsv_to_rgb(0 * one, one, one).tolist()
        [[[1.0, 0.0, 0.0]]]
    """
    h6 = h * 6
    hi = np.floor(h6)
    f = h6 - hi
    n = v.size
    sources = np.empty((4, *v.shape))  # v, p, q, t
    sources[0] = v
    np.multiply(v, 1 - s, out=sources[1])
    np.multiply(v, 1 - f * s, out=sources[2])
    np.multiply(v, 1 - (1 - f) * s, out=sources[3])
    # skimage's np.choose over six (R, G, B) stacks, as one gather: flat index source * n + pixel.
    index = _HSV_SECTOR_SOURCES[(hi.astype(np.uint8) % 6).ravel()]
    index *= n
    index += np.arange(n)[:, None]
    return sources.ravel()[index].reshape(*v.shape, 3)
