"""The reference scripts' noise and digital corruptions, with their constants as arguments.

hendrycks/robustness ``make_imagenet_c.py``, ``make_tinyimagenet_c.py``, ``make_cifar_c.py``
and ``make_imagenet_c_inception.py`` share one body per corruption and differ only in the
constant ``c`` (and the image side); google-research/mnist-c ``corruptions.py`` has gray
variants. None of those scripts is installable, so each body is restated here, operation
for operation, with ``c`` passed in and the ``np.random`` module it drew from passed as
``random`` (a :class:`replay.LegacyReplay`, or ``np.random`` itself). Everything else is the
real library code the scripts called (scikit-image, scipy, OpenCV, Pillow).
:func:`test_noise.test_upstream_restatements_equal_imagecorruptions` ties these
restatements to the installed port (imagecorruptions 1.1.2) at the ImageNet constants.

Every function returns what the script saved: ``np.uint8`` of its float result (the
scripts' ``Image.fromarray(np.uint8(img))`` / CIFAR's ``np.uint8`` arrays).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import cv2
import numpy as np
import skimage as sk
from PIL import Image
from scipy.ndimage import map_coordinates
from skimage.filters import gaussian


def _u8(x: np.ndarray) -> np.ndarray:
    return np.uint8(x)


def gaussian_noise(x: np.ndarray, c: float, random: Any) -> np.ndarray:
    x = np.array(x) / 255.0
    return _u8(np.clip(x + random.normal(size=x.shape, scale=c), 0, 1) * 255)


def shot_noise(x: np.ndarray, c: float, random: Any) -> np.ndarray:
    x = np.array(x) / 255.0
    return _u8(np.clip(random.poisson(x * c) / float(c), 0, 1) * 255)


def impulse_noise(x: np.ndarray, c: float, rng: np.random.Generator | None) -> np.ndarray:
    """skimage's ``random_noise(mode='s&p')``; ``rng`` feeds its two Bernoulli masks."""
    x = sk.util.random_noise(np.array(x) / 255.0, mode="s&p", amount=c, rng=rng)
    return _u8(np.clip(x, 0, 1) * 255)


def speckle_noise(x: np.ndarray, c: float, random: Any) -> np.ndarray:
    x = np.array(x) / 255.0
    return _u8(np.clip(x + x * random.normal(size=x.shape, scale=c), 0, 1) * 255)


def contrast(x: np.ndarray, c: float) -> np.ndarray:
    x = np.array(x) / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return _u8(np.clip((x - means) * c + means, 0, 1) * 255)


def brightness(x: np.ndarray, c: float) -> np.ndarray:
    x = np.array(x) / 255.0
    x = sk.color.rgb2hsv(x)
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    x = sk.color.hsv2rgb(x)
    return _u8(np.clip(x, 0, 1) * 255)


def saturate(x: np.ndarray, c: tuple[float, float]) -> np.ndarray:
    x = np.array(x) / 255.0
    x = sk.color.rgb2hsv(x)
    x[:, :, 1] = np.clip(x[:, :, 1] * c[0] + c[1], 0, 1)
    x = sk.color.hsv2rgb(x)
    return _u8(np.clip(x, 0, 1) * 255)


def brightness_mnist(x: np.ndarray, c: float) -> np.ndarray:
    x = np.array(x) / 255.0
    x = sk.color.rgb2hsv(sk.color.gray2rgb(x))
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    x = sk.color.rgb2gray(sk.color.hsv2rgb(x))
    return _u8(np.clip(x, 0, 1) * 255)


def saturate_mnist(x: np.ndarray, c: tuple[float, float]) -> np.ndarray:
    x = np.array(x) / 255.0
    x = sk.color.rgb2hsv(sk.color.gray2rgb(x))
    x = np.clip(x * c[0] + c[1], 0, 1)
    x = sk.color.rgb2gray(sk.color.hsv2rgb(x))
    return _u8(np.clip(x, 0, 1) * 255)


def jpeg_compression(x: np.ndarray, c: int) -> np.ndarray:
    output = BytesIO()
    Image.fromarray(x).save(output, "JPEG", quality=c)
    return np.array(Image.open(output))


def pixelate(x: np.ndarray, c: float) -> np.ndarray:
    """The scripts write ``int(224 * c)`` for their fixed side; ``int(side * c)`` here."""
    h, w = x.shape[:2]
    img = Image.fromarray(x).resize((int(w * c), int(h * c)), Image.BOX)
    return np.array(img.resize((w, h), Image.BOX))


def elastic_transform(image: np.ndarray, c: tuple[float, float, float], random: Any) -> np.ndarray:
    """The ImageNet-C / Tiny / CIFAR / Inception body (RGB, reflect borders)."""
    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    shape_size = shape[:2]
    center_square = np.float32(shape_size) // 2
    square_size = min(shape_size) // 3
    pts1 = np.float32([center_square + square_size,
                       [center_square[0] + square_size, center_square[1] - square_size],
                       center_square - square_size])
    pts2 = pts1 + random.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    m = cv2.getAffineTransform(pts1, pts2)
    image = cv2.warpAffine(image, m, shape_size[::-1], borderMode=cv2.BORDER_REFLECT_101)
    dx = (gaussian(random.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3)
          * c[0]).astype(np.float32)
    dy = (gaussian(random.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3)
          * c[0]).astype(np.float32)
    dx, dy = dx[..., np.newaxis], dy[..., np.newaxis]
    x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = np.reshape(y + dy, (-1, 1)), np.reshape(x + dx, (-1, 1)), np.reshape(z, (-1, 1))
    out = map_coordinates(image, indices, order=1, mode="reflect").reshape(shape)
    return _u8(np.clip(out, 0, 1) * 255)


def elastic_transform_mnist(
    image: np.ndarray, c: tuple[float, float, float], random: Any
) -> np.ndarray:
    """MNIST-C's body: a (28, 28) digit, zero borders in both warps."""
    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    center_square = np.float32(shape) // 2
    square_size = min(shape) // 3
    pts1 = np.float32([center_square + square_size,
                       [center_square[0] + square_size, center_square[1] - square_size],
                       center_square - square_size])
    pts2 = pts1 + random.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    m = cv2.getAffineTransform(pts1, pts2)
    image = cv2.warpAffine(image, m, shape, borderMode=cv2.BORDER_CONSTANT)
    dx = (gaussian(random.uniform(-1, 1, size=shape), c[1], mode="reflect", truncate=3)
          * c[0]).astype(np.float32)
    dy = (gaussian(random.uniform(-1, 1, size=shape), c[1], mode="reflect", truncate=3)
          * c[0]).astype(np.float32)
    x, y = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]))
    indices = np.reshape(y + dy, (-1, 1)), np.reshape(x + dx, (-1, 1))
    out = map_coordinates(image, indices, order=1, mode="constant").reshape(shape)
    return _u8(np.clip(out, 0, 1) * 255)
