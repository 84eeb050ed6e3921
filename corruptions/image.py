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
