"""Clean-image preprocessing with the arithmetic of the torchvision the benchmarks were made with.

ImageNet-C (hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py``) fed every
validation image through ``trn.Compose([trn.Resize(256), trn.CenterCrop(224)])`` of the
torchvision of 2018 (0.2.x, ``torchvision/transforms/functional.py``), whose integer
arithmetic differs from "round the resized side, floor the crop offset":

* ``resize(img, size)``, ``size`` an int: if the shorter side already equals ``size`` the
  image is returned unchanged; otherwise the shorter side becomes ``size`` and the longer
  one ``int(size * long / short)`` (truncated), resampled with PIL ``BILINEAR``.
* ``center_crop(img, (th, tw))``: top ``int(round((h - th) / 2.))``, left
  ``int(round((w - tw) / 2.))`` with Python 3's ``round`` (half to even).

The Inception-size variant (``make_imagenet_c_inception.py``, which carries a copy of
both functions) first centre-crops a *fraction* (``int(h * 0.875)``, ``int(w * 0.875)``,
same offsets), then resizes to exactly 299x299 (PIL ``BILINEAR``).

torchvision itself cannot be installed beside this project's torch, so the arithmetic
is written out here and tested against the formulas on odd sizes
(``tests/pipeline/test_preprocess.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image

from pipeline.errors import SourceError

__all__ = [
    "resized_shape",
    "crop_box",
    "resize_shorter",
    "center_crop",
    "resize_exact",
    "preprocess_image",
    "INCEPTION_CROP_FRACTION",
]

#: ``resized_center_crop(scale=0.875)`` in make_imagenet_c_inception.py.
INCEPTION_CROP_FRACTION = 0.875


def resized_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """Output ``(height, width)`` of torchvision 0.2 ``Resize(size)`` for an int ``size``.

    Args:
        h: Input height, pixels (>= 1).
        w: Input width, pixels (>= 1).
        size: Target length of the shorter side, pixels (>= 1).

    Returns:
        ``(h, w)`` unchanged if the shorter side already is ``size``; else the shorter side
        is ``size`` and the longer ``int(size * long / short)``.

    Reference:
        torchvision 0.2.x ``transforms/functional.py`` ``resize``.

    Example:
        >>> resized_shape(375, 500, 256)
        (256, 341)
        >>> resized_shape(500, 333, 256)
        (384, 256)
    """
    if (w <= h and w == size) or (h <= w and h == size):
        return h, w
    if w < h:
        return int(size * h / w), size
    return size, int(size * w / h)


def crop_box(h: int, w: int, th: int, tw: int) -> tuple[int, int]:
    """Top-left corner ``(top, left)`` of torchvision 0.2 ``CenterCrop((th, tw))``.

    Args:
        h: Image height, pixels.
        w: Image width, pixels.
        th: Crop height, pixels (<= h).
        tw: Crop width, pixels (<= w).

    Returns:
        ``(int(round((h - th) / 2.)), int(round((w - tw) / 2.)))``, Python 3 ``round``.

    Reference:
        torchvision 0.2.x ``transforms/functional.py`` ``center_crop``.

    Example:
        >>> crop_box(256, 341, 224, 224)  # (16.0, 58.5): 58.5 rounds half to even
        (16, 58)
    """
    return int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image)


def resize_shorter(image: np.ndarray, size: int) -> np.ndarray:
    """``transforms.Resize(size)`` of torchvision 0.2 on an array (PIL ``BILINEAR``).

    Args:
        image: uint8 (H, W) or (H, W, 3), or any array PIL's ``fromarray`` takes.
        size: Target shorter side, pixels (>= 1).

    Returns:
        The resized array (the input itself if its shorter side already is ``size``).
    """
    h, w = image.shape[:2]
    oh, ow = resized_shape(h, w, size)
    if (oh, ow) == (h, w):
        return image
    return np.asarray(_pil(image).resize((ow, oh), Image.Resampling.BILINEAR))


def center_crop(image: np.ndarray, size: int | float) -> np.ndarray:
    """``transforms.CenterCrop`` of torchvision 0.2: a square side, or a fraction of each side.

    Args:
        image: Array (H, W, ...).
        size: Crop side in pixels (int, <= min(H, W)), or a fraction in (0, 1] of the height
            and of the width (float; ``int(h * f)``, ``int(w * f)``, as the Inception
            script's copy does).

    Returns:
        A contiguous copy of the crop.

    Raises:
        SourceError: The crop is larger than the image, or the fraction is out of range.
    """
    h, w = image.shape[:2]
    if isinstance(size, float):
        if not 0.0 < size <= 1.0:
            raise SourceError(f"center_crop fraction must be in (0, 1], got {size}")
        th, tw = int(h * size), int(w * size)
    else:
        th = tw = int(size)
    if th > h or tw > w or th < 1 or tw < 1:
        raise SourceError(f"center_crop {size} does not fit the image ({w}x{h}); resize first")
    top, left = crop_box(h, w, th, tw)
    return np.ascontiguousarray(image[top : top + th, left : left + tw])


def resize_exact(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to exactly ``(height, width)`` with PIL ``BILINEAR`` (the Inception recipe)."""
    return np.asarray(_pil(image).resize((width, height), Image.Resampling.BILINEAR))


def preprocess_image(image: np.ndarray, spec: Mapping[str, float]) -> np.ndarray:
    """Apply a manifest's ``preprocess`` block, in this order.

    1. ``resize_shorter`` (px): torchvision 0.2 ``Resize(px)``.
    2. ``center_crop`` (px): torchvision 0.2 ``CenterCrop(px)``.
    3. ``center_crop_fraction`` (in (0, 1]): the Inception script's ``center_crop(0.875)``.
    4. ``resize`` (px): exactly ``px`` x ``px``, PIL bilinear (the Inception script's 299).

    ImageNet-C is ``{resize_shorter: 256, center_crop: 224}``; the Inception-size
    ImageNet-C is ``{center_crop_fraction: 0.875, resize: 299}``.

    Args:
        image: uint8 (H, W) or (H, W, 3) (or a 16-bit depth map).
        spec: Any of the four keys; absent keys are skipped.

    Returns:
        The preprocessed array (the input itself when ``spec`` is empty).

    Raises:
        SourceError: A crop does not fit, or the fraction is out of range.

    Example:
        >>> spec = {"resize_shorter": 256, "center_crop": 224}
        >>> preprocess_image(np.zeros((300, 400, 3), np.uint8), spec).shape
        (224, 224, 3)
        >>> spec = {"center_crop_fraction": 0.875, "resize": 299}
        >>> preprocess_image(np.zeros((375, 500, 3), np.uint8), spec).shape
        (299, 299, 3)
    """
    out = image
    if spec.get("resize_shorter"):
        out = resize_shorter(out, int(spec["resize_shorter"]))
    if spec.get("center_crop"):
        out = center_crop(out, int(spec["center_crop"]))
    if spec.get("center_crop_fraction"):
        out = center_crop(out, float(spec["center_crop_fraction"]))
    if spec.get("resize"):
        side = int(spec["resize"])
        out = resize_exact(out, side, side)
    return out
