"""Affine corruptions of MNIST-C: shear, scale, rotate and translate.

The kernels reproduce ``shear``, ``scale``, ``rotate`` and ``translate`` of
google-research/mnist-c ``corruptions.py``. Upstream builds a scikit-image
``AffineTransform``, adds a translation that keeps the image centre
(13.5, 13.5) fixed, and calls ``transform.warp(x / 255., inverse_map=aff)``:
the matrix maps *output* (column, row) coordinates to *input* coordinates,
sampled bilinearly (order 1) with zeros outside the image (``mode="constant"``).
So ``scale`` factors > 1 shrink the digit, and ``translate`` by (dx, dy)
moves the digit by (-dx, -dy).

Two details are kept on purpose:

* **Shear follows the scikit-image of 2019** (0.14/0.15, what MNIST-C was made
  with): ``AffineTransform(shear=s)`` was ``[[1, -sin s], [0, cos s]]``, a
  shear *angle* that also compresses the y axis by ``cos s``. Current
  scikit-image (0.26) builds ``[[1, -tan s], [0, 1]]`` for the same call, so
  the matrix is written out here instead of delegating to it.
* **Arithmetic order**: values go through ``/255``, interpolation in float64,
  a [0, 1] clip and ``* 255`` like upstream, so the registry's truncation gives
  the upstream gray levels.

Random choices (the sign of the shear and rotation, the two signs of the
translation) are drawn from the explicit ``rng``; the deterministic warps are
public (:func:`shear_image`, :func:`rotate_image`, :func:`scale_image`,
:func:`translate_image`) so tests can pin the draw.

Layout is ``gray`` (the 28x28 digit). Other sizes work: the centre is
``((W - 1) / 2, (H - 1) / 2)``, angles and zoom factors are size-free, and the
translation offset (pixels) is scaled by ``min(H, W) / 28`` by the registry.

Reference:
    N. Mu and J. Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision",
    ICML 2019 Workshop on Uncertainty and Robustness in Deep Learning,
    arXiv:1906.02337; code: google-research/mnist-c ``corruptions.py``.
"""

from __future__ import annotations

import math

import numpy as np

from corruptions.image import FloatImage, U8Image
from corruptions.registry import CorruptionSpec, SeverityTable

__all__ = [
    "affine_params",
    "centered",
    "warp_bilinear",
    "shear_image",
    "rotate_image",
    "scale_image",
    "translate_image",
    "shear",
    "rotate",
    "scale",
    "translate",
    "SPECS",
]

_MNIST = "google-research/mnist-c corruptions.py"


def affine_params(
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    rotation: float = 0.0,
    shear: float = 0.0,
    translation: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Build a 3x3 affine matrix the way scikit-image 0.14/0.15 did.

    ``[[sx cos r, -sy sin(r + s), tx], [sx sin r, sy cos(r + s), ty], [0, 0, 1]]``
    acting on (column, row) coordinates.

    Args:
        scale: (sx, sy) factors.
        rotation: Rotation angle, radians (counter-clockwise in (x, y) axes).
        shear: Shear angle, radians.
        translation: (tx, ty), pixels.

    Returns:
        float64 array (3, 3).

    Example:
        >>> affine_params(rotation=0.0, translation=(2.0, -1.0)).tolist()
        [[1.0, -0.0, 2.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]]

    """
    sx, sy = scale
    return np.array(
        [
            [sx * math.cos(rotation), -sy * math.sin(rotation + shear), translation[0]],
            [sx * math.sin(rotation), sy * math.cos(rotation + shear), translation[1]],
            [0.0, 0.0, 1.0],
        ]
    )


def centered(matrix: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Replace a matrix's translation so that the image centre maps to itself.

    Upstream: ``a3 = 13.5 * (1 - a1 - a2)``, ``b3 = 13.5 * (1 - b1 - b2)``
    for 28x28; here the centre is ``((W - 1) / 2, (H - 1) / 2)``.

    Args:
        matrix: 3x3 affine matrix (its translation is ignored).
        shape: Image shape (H, W, ...).

    Returns:
        A new 3x3 matrix.

    """
    cy, cx = (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0
    out = np.array(matrix, dtype=np.float64)
    out[0, 2] = cx - out[0, 0] * cx - out[0, 1] * cy
    out[1, 2] = cy - out[1, 0] * cx - out[1, 1] * cy
    return out


def warp_bilinear(image01: np.ndarray, inverse_map: np.ndarray) -> np.ndarray:
    """Warp a 2-D float image by an inverse affine map, bilinear, zeros outside.

    Output pixel (r, c) takes the input value at ``inverse_map @ (c, r, 1)``,
    interpolated from the four neighbours; neighbours outside the image count
    as 0 (scikit-image ``warp(order=1, mode="constant", cval=0)``).

    Args:
        image01: float array (H, W).
        inverse_map: 3x3 matrix from output (col, row) to input (col, row).

    Returns:
        float64 array (H, W).

    Example:
        >>> img = np.arange(6, dtype=float).reshape(2, 3)
        >>> warp_bilinear(img, np.array([[1, 0, 0.5], [0, 1, 0], [0, 0, 1.0]])).tolist()
        [[0.5, 1.5, 1.0], [3.5, 4.5, 2.5]]

    """
    h, w = image01.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    m = inverse_map
    xs = m[0, 0] * cols + m[0, 1] * rows + m[0, 2]
    ys = m[1, 0] * cols + m[1, 1] * rows + m[1, 2]
    x0 = np.floor(xs)
    y0 = np.floor(ys)
    dc = xs - x0
    dr = ys - y0
    padded = np.zeros((h + 2, w + 2), dtype=np.float64)
    padded[1:-1, 1:-1] = image01
    # Index into the zero-padded copy: anything beyond the border lands on a zero.
    c0 = np.clip(x0 + 1, 0, w + 1).astype(np.intp)
    c1 = np.clip(x0 + 2, 0, w + 1).astype(np.intp)
    r0 = np.clip(y0 + 1, 0, h + 1).astype(np.intp)
    r1 = np.clip(y0 + 2, 0, h + 1).astype(np.intp)
    top = (1 - dc) * padded[r0, c0] + dc * padded[r0, c1]
    bottom = (1 - dc) * padded[r1, c0] + dc * padded[r1, c1]
    return (1 - dr) * top + dr * bottom


def _warp_u8(image: U8Image, inverse_map: np.ndarray) -> FloatImage:
    x = warp_bilinear(np.asarray(image, dtype=np.float64) / 255.0, inverse_map)
    return (np.clip(x, 0, 1) * 255.0).astype(np.float32)


def shear_image(image: U8Image, *, shear_angle: float) -> FloatImage:
    """Shear about the centre by a signed angle (no randomness).

    Args:
        image: uint8 (H, W); not modified.
        shear_angle: Signed shear angle, radians (2019 scikit-image meaning:
            inverse map ``[[1, -sin a], [0, cos a]]``).

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    return _warp_u8(image, centered(affine_params(shear=shear_angle), image.shape))


def rotate_image(image: U8Image, *, angle: float) -> FloatImage:
    """Rotate about the centre by a signed angle (no randomness).

    Args:
        image: uint8 (H, W); not modified.
        angle: Signed angle of the inverse map, radians. With rows pointing
            down, a positive angle turns the digit counter-clockwise on screen.

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    return _warp_u8(image, centered(affine_params(rotation=angle), image.shape))


def scale_image(image: U8Image, *, zoom_out: tuple[float, float]) -> FloatImage:
    """Zoom out about the centre (no randomness).

    Args:
        image: uint8 (H, W); not modified.
        zoom_out: (x, y) factors of the inverse map, > 0; 1/0.7 shrinks the
            digit to 70 % of its size.

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    sx, sy = zoom_out
    return _warp_u8(image, centered(affine_params(scale=(sx, sy)), image.shape))


def translate_image(image: U8Image, *, dx: float, dy: float) -> FloatImage:
    """Translate by the inverse map (dx, dy): the digit moves by (-dx, -dy) pixels.

    Args:
        image: uint8 (H, W); not modified.
        dx: Column offset of the inverse map, pixels.
        dy: Row offset of the inverse map, pixels.

    Returns:
        float32 (H, W) on the 0..255 scale.

    Example:
        >>> img = np.zeros((3, 3), np.uint8); img[1, 1] = 200
        >>> translate_image(img, dx=1.0, dy=0.0)[1].tolist()
        [200.0, 0.0, 0.0]

    """
    return _warp_u8(image, affine_params(translation=(dx, dy)))


def _sign(rng: np.random.Generator) -> float:
    return float(rng.choice((-1.0, 1.0)))


def shear(image: U8Image, *, shear_angle: float, rng: np.random.Generator) -> FloatImage:
    """MNIST-C ``shear``: shear by ``±shear_angle``, sign drawn 50/50.

    Args:
        image: uint8 (H, W); not modified.
        shear_angle: Shear angle magnitude, radians, >= 0 (0.2..1.0 in MNIST-C).
        rng: Draws the sign.

    Returns:
        float32 (H, W) on the 0..255 scale.

    Reference:
        mnist-c ``shear``: ``c`` times a random sign (numpy global ``choice`` of -1, 1),
        ``AffineTransform(shear=c)`` centred, ``warp``.

    """
    return shear_image(image, shear_angle=_sign(rng) * shear_angle)


def rotate(image: U8Image, *, angle: float, rng: np.random.Generator) -> FloatImage:
    """MNIST-C ``rotate``: rotate by ``±angle``, sign drawn 50/50.

    Args:
        image: uint8 (H, W); not modified.
        angle: Rotation magnitude, radians, >= 0 (0.2..1.0 rad in MNIST-C,
            i.e. 11.5..57.3 degrees).
        rng: Draws the sign.

    Returns:
        float32 (H, W) on the 0..255 scale.

    Reference:
        mnist-c ``rotate``: ``AffineTransform(rotation=±c)`` centred, ``warp``.

    """
    return rotate_image(image, angle=_sign(rng) * angle)


def scale(image: U8Image, *, zoom_out: tuple[float, float]) -> FloatImage:
    """MNIST-C ``scale``: zoom out about the centre (deterministic).

    Args:
        image: uint8 (H, W); not modified.
        zoom_out: (x, y) inverse-map factors, > 0.

    Returns:
        float32 (H, W) on the 0..255 scale.

    Reference:
        mnist-c ``scale``: ``AffineTransform(scale=c)`` centred, ``warp``.

    """
    return scale_image(image, zoom_out=zoom_out)


def translate(image: U8Image, *, offset: float, rng: np.random.Generator) -> FloatImage:
    """MNIST-C ``translate``: shift by ``offset`` pixels on both axes, signs drawn 50/50.

    Args:
        image: uint8 (H, W); not modified.
        offset: Shift magnitude per axis, pixels, >= 0.
        rng: Draws the two signs (x then y), independently.

    Returns:
        float32 (H, W) on the 0..255 scale.

    Reference:
        mnist-c ``translate``: ``bit``, two random signs (numpy global ``choice``),
        ``AffineTransform(translation=[c * bit[0], c * bit[1]])``, ``warp``.

    """
    bits = rng.choice((-1.0, 1.0), size=2)
    return translate_image(image, dx=float(bits[0]) * offset, dy=float(bits[1]) * offset)


def _table(
    field: str, values: tuple, note: str, *, pixel: bool = False
) -> dict[str, SeverityTable]:
    return {
        "mnist28": SeverityTable(
            fields=(field,),
            rows=tuple((v,) for v in values),
            source=f"{_MNIST} {field} list",
            pixel_fields=frozenset({field}) if pixel else frozenset(),
            notes=note,
        )
    }


SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="shear",
        family="geometric",
        kernel=shear,
        tables=_table(
            "shear_angle",
            (0.2, 0.4, 0.6, 0.8, 1.0),
            "Shear angle in radians with the 2019 scikit-image matrix [[1, -sin a], [0, cos a]] "
            "(today's AffineTransform(shear=a) means [[1, -tan a], [0, 1]]); sign drawn 50/50. "
            "MNIST-C benchmark corruption at severity 2.",
        ),
        stochastic=True,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py shear",
    ),
    CorruptionSpec(
        name="scale",
        family="geometric",
        kernel=scale,
        tables={
            "mnist28": SeverityTable(
                fields=("zoom_out",),
                rows=tuple(((1 / f, 1 / f),) for f in (0.9, 0.8, 0.7, 0.6, 0.5)),
                source=f"{_MNIST} scale list (1/.9, 1/.9) .. (1/.5, 1/.5)",
                notes="(x, y) factors of the inverse map: the digit shrinks to .9 .. .5 of its "
                "size about the centre. Deterministic. MNIST-C benchmark corruption at severity 3.",
            )
        },
        stochastic=False,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py scale",
    ),
    CorruptionSpec(
        name="rotate",
        family="geometric",
        kernel=rotate,
        tables=_table(
            "angle",
            (0.2, 0.4, 0.6, 0.8, 1.0),
            "Rotation in radians (AffineTransform(rotation=c) takes radians: 0.4 rad = 22.9 "
            "degrees), sign drawn 50/50. MNIST-C benchmark corruption at severity 2.",
        ),
        stochastic=True,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py rotate",
    ),
    CorruptionSpec(
        name="translate",
        family="geometric",
        kernel=translate,
        tables=_table(
            "offset",
            (1, 2, 3, 4, 5),
            "Pixels per axis on 28x28 (scaled by min(H, W) / 28 on other sizes); both signs drawn "
            "50/50 independently. MNIST-C benchmark corruption at severity 3.",
            pixel=True,
        ),
        stochastic=True,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py translate",
    ),
)
