"""Digital family of the 2-D common corruptions.

Brightness, contrast, saturate, JPEG compression, pixelate and elastic transform of the
ImageNet-C / Tiny-ImageNet-C / CIFAR-10-C / Inception generation scripts
(hendrycks/robustness ``ImageNet-C/create_c/``) and MNIST-C (google-research/mnist-c).
Upstream variants are table columns: ``pixelate`` ``upsample`` (the scripts: PIL ``BOX``;
PyPI ``imagecorruptions``: ``NEAREST``, which differs at 28 px), ``saturate``
``hsv_channels`` (MNIST-C changes H, S and V) and ``elastic_transform`` ``border``
(MNIST-C pads with zeros).

Kernels work on any channel count (``layout="any"``); gray goes through the RGB
formula as MNIST-C does (``gray2rgb`` ... ``rgb2gray``) for brightness and saturate.
Every kernel repeats upstream's arithmetic (float64 ``x / 255.`` ... ``* 255``, float32
for elastic) so that the registry's truncation gives upstream's levels exactly.

Reference:
    Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common
    Corruptions and Perturbations", ICLR 2019. Mu & Gilmer, "MNIST-C", 2019.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from corruptions import _jit
from corruptions._filters import reflect_gaussian
from corruptions._pil_resample import _pixelate_box, _pixelate_plan
from corruptions.image import REC709, FloatImage, U8Image, hsv_to_rgb, rgb_to_hsv
from corruptions.registry import CorruptionSpec, SeverityTable

__all__ = [
    "brightness",
    "contrast",
    "saturate",
    "jpeg_compression",
    "pixelate",
    "elastic_transform",
    "SPECS",
]

_IMAGENET = "hendrycks/robustness ImageNet-C/create_c/make_imagenet_c.py"
_TINY = "hendrycks/robustness ImageNet-C/create_c/make_tinyimagenet_c.py"
_CIFAR = "hendrycks/robustness ImageNet-C/create_c/make_cifar_c.py"
_MNIST = "google-research/mnist-c corruptions.py"
_INCEPTION = "hendrycks/robustness ImageNet-C/create_c/make_imagenet_c_inception.py"

#: (h, s, v) float64 planes, as :func:`corruptions.image.rgb_to_hsv` returns them.
_HSV = tuple[np.ndarray, np.ndarray, np.ndarray]


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _hsv_round_trip(image: U8Image, op: Callable[[_HSV], _HSV]) -> FloatImage:
    """Return ``hsv2rgb(op(rgb2hsv(x / 255.))) * 255`` (float64; gray via MNIST-C's route)."""
    x = _as_hwc(image)
    gray = x.shape[2] == 1
    rgb = hsv_to_rgb(*op(rgb_to_hsv(np.repeat(x, 3, axis=2) if gray else x)))
    out = rgb @ REC709 if gray else rgb
    out *= 255.0
    return out.reshape(image.shape)


def brightness(image: U8Image, *, delta: float) -> FloatImage:
    """Raise the HSV value channel by ``delta`` (clipped at full scale).

    Upstream's float64 arithmetic step for step (``x / 255.``, skimage's ``rgb2hsv``,
    ``V' = clip(V + delta, 0, 1)``, ``hsv2rgb``, ``* 255``; see
    :func:`corruptions.image.rgb_to_hsv`). Gray takes MNIST-C's route.

    Args:
        image: uint8 image, (H, W) or (H, W, C) with C in {1, 3}; not modified.
        delta: Increment of V as a fraction of full scale, in [0, 1].

    Returns:
        float64 image on the 0..255 scale, same shape.

    Reference:
        ``brightness`` in make_imagenet_c.py (``sk.color.rgb2hsv``, V + c,
        ``hsv2rgb``); MNIST-C's gray variant (``gray2rgb``, ..., ``rgb2gray``).

    Example:
        >>> brightness(np.array([[[100, 50, 0]]], np.uint8), delta=0.2).round(2).tolist()
        [[[151.0, 75.5, 0.0]]]

    """

    def op(hsv: _HSV) -> _HSV:
        h, s, v = hsv
        return h, s, np.clip(v + delta, 0, 1)

    return _hsv_round_trip(image, op)


def contrast(image: U8Image, *, factor: float) -> FloatImage:
    """Shrink each channel towards its image mean: ``(v - mean) * factor + mean``.

    Upstream's float64 order: ``x / 255.``, mean over H, W, ``(x - m) * c + m``, ``* 255``;
    the map is applied to the 256 levels of each channel and looked up (the same
    operations on the same values).

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        factor: Contrast multiplier, > 0 (1 = unchanged).

    Returns:
        float64 image on the 0..255 scale, same shape.

    Reference:
        ``contrast`` in make_imagenet_c.py (per-channel mean over H and W).

    Example:
        >>> contrast(np.array([[0, 200]], np.uint8), factor=0.5).tolist()
        [[50.0, 150.0]]

    """
    x = image / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    if x.size <= 16 * 256:  # small images: the pointwise ops cost less than a table
        x -= means
        x *= factor
        x += means
        return np.multiply(x, 255.0, out=x)
    # The map is per channel and value: apply it to the 256 levels, then look them up.
    table = _LEVELS[:, None] - means.reshape(1, -1)
    table *= factor
    table += means.reshape(1, -1)
    table *= 255.0
    return _lookup(image, table)


_LEVELS = np.arange(256) / 255.0  # float64 k / 255., as image / 255. computes it
_LEVELS32 = np.arange(256, dtype=np.float32) / 255.0  # float32, as astype(float32) / 255.
_LEVELS.setflags(write=False)
_LEVELS32.setflags(write=False)


def _lookup(image: U8Image, table: np.ndarray) -> np.ndarray:
    """``table[image[..., c], c]`` for a (256, C) table, C = 1 (all channels alike) or C.

    A gather (exact), by ``cv2.LUT`` for up to four channels.
    """
    x = image if image.ndim == 3 else image[..., None]
    channels = table.shape[1]
    if channels not in (1, x.shape[2]):
        raise ValueError(f"table of {channels} channels for an image of {x.shape[2]}")
    if x.shape[2] <= 4:
        lut = np.ascontiguousarray(table).reshape(1, 256, channels)
        return cv2.LUT(x, lut).reshape(image.shape)
    if channels == 1:
        return table[:, 0][image]
    return np.take_along_axis(table, x.reshape(-1, channels).astype(np.intp), axis=0
                              ).reshape(image.shape)


def saturate(
    image: U8Image, *, scale: float, offset: float, hsv_channels: Literal["s", "hsv"]
) -> FloatImage:
    """Scale and offset HSV saturation: ``S' = clip(S * scale + offset, 0, 1)``.

    Upstream's float64 arithmetic (see :func:`brightness`). Grays have skimage's hue
    0 (red), so a positive ``offset`` tints them red, as upstream.

    Args:
        image: uint8 image, (H, W) or (H, W, C) with C in {1, 3}; not modified.
        scale: Multiplier of S (>= 0).
        offset: Added to S after scaling, in [0, 1].
        hsv_channels: ``"s"`` (ImageNet-C: only S changes) or ``"hsv"`` (MNIST-C:
            H, S and V are all scaled and offset, an upstream quirk kept).

    Returns:
        float64 image on the 0..255 scale, same shape.

    Reference:
        ``saturate`` in make_imagenet_c.py; in google-research/mnist-c for ``"hsv"``.

    Example:
        >>> saturate(np.array([[[200, 100, 100]]], np.uint8), scale=0.5, offset=0.0,
        ...          hsv_channels="s").round(1).tolist()
        [[[200.0, 150.0, 150.0]]]

    """
    if hsv_channels not in ("s", "hsv"):
        raise ValueError(f"hsv_channels must be 's' or 'hsv', got {hsv_channels!r}")

    def op(hsv: _HSV) -> _HSV:
        if hsv_channels == "hsv":
            h, s, v = (np.clip(c * scale + offset, 0, 1) for c in hsv)
            return h, s, v
        h, s, v = hsv
        return h, np.clip(s * scale + offset, 0, 1), v

    return _hsv_round_trip(image, op)


def jpeg_compression(image: U8Image, *, quality: int) -> U8Image:
    """Encode with PIL's JPEG codec at ``quality``, decode with OpenCV's.

    PIL encodes, as upstream (``PIL.Image.save(..., 'JPEG', quality=q)``: same
    tables, 4:2:0 subsampling, same bitstream); OpenCV's libjpeg-turbo decodes it
    to PIL's pixels byte for byte (tested), ~20 % faster. Gray is encoded as a
    one-channel JPEG, as MNIST-C does.

    Args:
        image: uint8 image, (H, W) or (H, W, C) with C in {1, 3}; not modified.
        quality: PIL JPEG quality, integer in 1..95.

    Returns:
        uint8 image, same shape.

    Reference:
        ``jpeg_compression`` in make_imagenet_c.py.

    Example:
        >>> jpeg_compression(np.full((8, 8, 3), 128, np.uint8), quality=10).shape
        (8, 8, 3)

    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be an integer in 1..100, got {quality}")
    x = _as_hwc(image)
    gray = x.shape[2] == 1
    buffer = io.BytesIO()
    Image.fromarray(x[..., 0] if gray else x).save(buffer, "JPEG", quality=int(quality))
    data = np.frombuffer(buffer.getbuffer(), dtype=np.uint8)
    rgb_flag = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.11
    flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR if rgb_flag is None else rgb_flag
    out = cv2.imdecode(data, flag)
    if out is None:
        raise RuntimeError("OpenCV could not decode the JPEG written by PIL (a bug)")
    if not gray and rgb_flag is None:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return np.asarray(out).reshape(image.shape)


_RESAMPLE = {"box": Image.Resampling.BOX, "nearest": Image.Resampling.NEAREST}


def pixelate(image: U8Image, *, factor: float, upsample: Literal["box", "nearest"]) -> U8Image:
    """Downsample with a box filter by ``factor``, then upsample back.

    Small size ``(int(W * factor), int(H * factor))``, truncated like upstream's
    ``int(224 * c)``. ``upsample="box"`` runs PIL's fixed-point BOX arithmetic in
    numpy (:mod:`corruptions._pil_resample`): byte-identical, ~3x faster at 224.

    Args:
        image: uint8 image, (H, W) or (H, W, C) with C in {1, 3}; not modified.
        factor: Linear downsampling factor, in (0, 1].
        upsample: PIL filter of the way back: ``"box"`` (hendrycks/robustness and
            MNIST-C scripts) or ``"nearest"`` (PyPI ``imagecorruptions``).

    Returns:
        uint8 image, same shape.

    Reference:
        ``pixelate`` in make_imagenet_c.py.

    Example:
        >>> img = np.arange(16, dtype=np.uint8).reshape(4, 4)
        >>> pixelate(img, factor=0.5, upsample="box").tolist()[0]
        [3, 3, 5, 5]

    """
    if not 0.0 < factor <= 1.0:
        raise ValueError(f"factor must be in (0, 1], got {factor}")
    if upsample not in _RESAMPLE:
        raise ValueError(f"upsample must be one of {sorted(_RESAMPLE)}, got {upsample!r}")
    x = np.ascontiguousarray(_as_hwc(image))
    h, w = x.shape[:2]
    sw, sh = max(1, int(w * factor)), max(1, int(h * factor))
    plan = _pixelate_plan(h, w, x.shape[2], sh, sw) if upsample == "box" else None
    if plan is None:
        pil = Image.fromarray(x[..., 0] if x.shape[2] == 1 else x)
        small = pil.resize((sw, sh), Image.Resampling.BOX)
        return np.asarray(small.resize((w, h), _RESAMPLE[upsample])).reshape(image.shape)
    return _pixelate_box(x, *plan).reshape(image.shape)


def _displacement(
    shape: tuple[int, int], sigma: float, alpha: float, rng: np.random.Generator
) -> np.ndarray:
    """``(G_sigma * U(-1, 1) * alpha).astype(float32)``, upstream's order (product in float64)."""
    noise = rng.uniform(-1.0, 1.0, size=shape)
    smoothed = reflect_gaussian(noise, sigma, 3.0) if sigma > 0 else noise
    return (smoothed * alpha).astype(np.float32)


_BORDERS = {"reflect": cv2.BORDER_REFLECT_101, "constant": cv2.BORDER_CONSTANT}


def _warp(plane: np.ndarray, coords: np.ndarray, border: str) -> np.ndarray:
    """``map_coordinates(plane, coords, output=float32, order=1, mode=border)``.

    ``reflect`` runs compiled when numba is installed (:mod:`corruptions._jit`, the
    same bytes as scipy's call), everything else through scipy.
    """
    if border == "reflect" and _jit.AVAILABLE and plane.dtype == np.float32:
        return _jit.map_coordinates_reflect(np.ascontiguousarray(plane), coords)
    from scipy.ndimage import map_coordinates

    return map_coordinates(plane, coords, output=np.float32, order=1, mode=border)


_grid = lru_cache(maxsize=16)(lambda h, w: np.indices((h, w)))  # read-only row/column grid


def elastic_transform(
    image: U8Image,
    *,
    alpha: float,
    sigma: float,
    affine_jitter: float,
    border: Literal["reflect", "constant"],
    rng: np.random.Generator,
) -> FloatImage:
    """Random affine warp, then a smooth random displacement field.

    1. Affine: three control points around the centre (+-``min(H, W)//3`` from
       ``(H//2, W//2)``, upstream's (row, col) order fed to OpenCV as (x, y), kept)
       each move by ``U(-affine_jitter, affine_jitter)`` px (``cv2.warpAffine``).
    2. Elastic: ``dx, dy = alpha * G_sigma * U(-1, 1)`` (``truncate=3``, reflect),
       then ``scipy.ndimage.map_coordinates`` (order 1) at ``(y + dy, x + dx)``
       per channel (equal to upstream's 3-D call), on upstream's float32 0..1 scale.

    Equal to upstream for the same draws (one bound: ``_FFT_NOTE`` in the tables).

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        alpha: Displacement gain, pixels per unit of smoothed noise (>= 0).
        sigma: Standard deviation of the smoothing Gaussian, pixels (>= 0).
        affine_jitter: Half-range of the control-point jitter, pixels (>= 0).
        border: ``"reflect"`` (ImageNet-C: ``BORDER_REFLECT_101`` for the affine,
            scipy ``reflect`` for the elastic step) or ``"constant"`` (MNIST-C: zeros).
        rng: Source of the jitter and the displacement noise. With ``alpha == 0``
            no displacement noise is drawn (upstream draws it and multiplies it by 0).

    Returns:
        float32 image on the 0..255 scale, same shape.

    Reference:
        ``elastic_transform`` in make_imagenet_c.py (after
        gist.github.com/erniejunior/601cdf56d2b424757de5, Simard et al. 2003).

    Example:
        >>> img = np.arange(25, dtype=np.uint8).reshape(5, 5)
        >>> out = elastic_transform(img, alpha=0.0, sigma=0.0, affine_jitter=0.0,
        ...                         border="reflect", rng=np.random.default_rng(0))
        >>> bool((out == img).all())
        True

    """
    if border not in _BORDERS:
        raise ValueError(f"border must be one of {sorted(_BORDERS)}, got {border!r}")
    if min(alpha, sigma, affine_jitter) < 0:
        raise ValueError(
            f"alpha, sigma and affine_jitter must be >= 0, got {alpha}, {sigma}, {affine_jitter}"
        )
    x = _lookup(_as_hwc(image), _LEVELS32[:, None])  # astype(float32) / 255., as a gather
    h, w, c = x.shape
    if affine_jitter > 0:
        centre = np.float32([h, w]) // 2
        half = min(h, w) // 3
        pts1 = np.float32(
            [centre + half, [centre[0] + half, centre[1] - half], centre - half]
        )
        jitter = rng.uniform(-affine_jitter, affine_jitter, size=pts1.shape)
        pts2 = pts1 + jitter.astype(np.float32)
        matrix = cv2.getAffineTransform(pts1, pts2)
        x = cv2.warpAffine(x, matrix, (w, h), borderMode=_BORDERS[border]).reshape(h, w, c)
    if alpha > 0:
        dx = _displacement((h, w), sigma, alpha, rng)
        dy = _displacement((h, w), sigma, alpha, rng)
        rows, cols = _grid(h, w)
        coords = np.empty((2, h, w))
        np.add(rows, dy, out=coords[0])  # int + float32 -> float64, as upstream
        np.add(cols, dx, out=coords[1])
        planes = cv2.split(x) if c > 1 else [x[..., 0]]
        warped = [_warp(p, coords, border) for p in planes]
        x = (cv2.merge(warped) if c > 1 else warped[0]).reshape(h, w, c)
    x *= np.float32(255.0)
    return x.reshape(image.shape)


def _rows(*columns: tuple[object, ...]) -> tuple[tuple[object, ...], ...]:
    return tuple(zip(*columns, strict=True))


def _const(value: object) -> tuple[object, ...]:
    return (value,) * 5


def _scalar_tables(
    field: str, values: dict[str, tuple[float, ...]], notes: dict[str, str]
) -> dict[str, SeverityTable]:
    sources = {"imagenet224": _IMAGENET, "tiny64": _TINY, "cifar32": _CIFAR, "mnist28": _MNIST,
               "imagenet299": _INCEPTION}
    return {
        preset: SeverityTable((field,), _rows(vals), sources[preset], notes=notes.get(preset, ""))
        for preset, vals in values.items()
    }


def _elastic_table(size: float, c: tuple[tuple[float, float, float], ...], source: str,
                   border: str, notes: str) -> SeverityTable:
    return SeverityTable(
        ("alpha", "sigma", "affine_jitter", "border"),
        tuple((size * a, size * s, size * j, border) for a, s, j in c),
        source,
        pixel_fields=frozenset({"alpha", "sigma", "affine_jitter"}),
        notes=notes,
    )


_ELASTIC_SCALE_NOTE = ("alpha, sigma and affine_jitter are multiples of the image size upstream "
                       "and scale linearly with it here too (displacement alpha/sigma does not). ")
_FFT_NOTE = ("Same draws: equal to the script but at s1 (smoothing radius > 64 px, FFT), where a "
             "float32 displacement may round the other way for ~1e-8 of values. ")

SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="brightness",
        family="digital",
        kernel=brightness,
        tables=_scalar_tables(
            "delta",
            {
                "imagenet224": (0.1, 0.2, 0.3, 0.4, 0.5),
                "tiny64": (0.1, 0.2, 0.3, 0.4, 0.5),
                "cifar32": (0.05, 0.1, 0.15, 0.2, 0.3),
                "mnist28": (0.1, 0.2, 0.3, 0.4, 0.5),
                "imagenet299": (0.1, 0.2, 0.3, 0.4, 0.5),
            },
            {"mnist28": "MNIST-C benchmark corruption at severity 5; on gray = clip(v + delta)."},
        ),
        stochastic=False,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py brightness",
    ),
    CorruptionSpec(
        name="contrast",
        family="digital",
        kernel=contrast,
        tables=_scalar_tables(
            "factor",
            {
                "imagenet224": (0.4, 0.3, 0.2, 0.1, 0.05),
                "tiny64": (0.4, 0.3, 0.2, 0.1, 0.05),
                "cifar32": (0.75, 0.5, 0.4, 0.3, 0.15),
                "mnist28": (0.4, 0.3, 0.2, 0.1, 0.05),
                "imagenet299": (0.4, 0.3, 0.2, 0.1, 0.05),
            },
            {"mnist28": "Optional in MNIST-C (default severity 4)."},
        ),
        stochastic=False,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py contrast",
    ),
    CorruptionSpec(
        name="elastic_transform",
        family="digital",
        kernel=elastic_transform,
        tables={
            "imagenet224": _elastic_table(
                244,
                ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                 (0.12, 0.01, 0.02)),
                _IMAGENET, "reflect",
                "Upstream quirk kept: 244 where 224 was meant ('ultimately nothing is "
                "incorrect', upstream comment). " + _ELASTIC_SCALE_NOTE + _FFT_NOTE
                + "The PyPI imagecorruptions package has a different elastic_transform "
                "(no affine step, alpha = 250*{.05,.065,.085,.1,.12} * 0.005*H, "
                "sigma = 0.01*H); this table is the ImageNet-C one.",
            ),
            "tiny64": _elastic_table(
                64,
                ((0, 0, 0.08), (0.05, 0.3, 0.06), (0.1, 0.08, 0.06), (0.1, 0.03, 0.03),
                 (0.16, 0.03, 0.02)),
                _TINY, "reflect",
                "IMSIZE = 64. Severity 1 has alpha = sigma = 0: affine only. "
                + _ELASTIC_SCALE_NOTE,
            ),
            "cifar32": _elastic_table(
                32,
                ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                 (0.1, 0.03, 0.03)),
                _CIFAR, "reflect",
                "IMSIZE = 32. Severity 1 has alpha = sigma = 0: affine only. "
                + _ELASTIC_SCALE_NOTE,
            ),
            "mnist28": _elastic_table(
                28,
                ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                 (0.12, 0.01, 0.02)),
                _MNIST, "constant",
                "ImageNet-C's multipliers with 28 for 244; MNIST-C pads with zeros "
                "(BORDER_CONSTANT, map_coordinates mode='constant'). Optional in MNIST-C "
                "(default severity 1). " + _ELASTIC_SCALE_NOTE,
            ),
            "imagenet299": _elastic_table(
                360,
                ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                 (0.12, 0.01, 0.02)),
                _INCEPTION, "reflect",
                "ImageNet-C's multipliers with 360 for 244 (the Inception script's constants, "
                "on its 299 px crops). " + _ELASTIC_SCALE_NOTE + _FFT_NOTE,
            ),
        },
        stochastic=True,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py elastic_transform", cost=4,
    ),
    CorruptionSpec(
        name="pixelate",
        family="digital",
        kernel=pixelate,
        tables={
            preset: SeverityTable(("factor", "upsample"), _rows(vals, _const("box")), src,
                                  notes=note)
            for preset, vals, src, note in (
                ("imagenet224", (0.6, 0.5, 0.4, 0.3, 0.25), _IMAGENET,
                 "BOX both ways (imagecorruptions upsamples with NEAREST: identical at 224)."),
                ("tiny64", (0.9, 0.8, 0.7, 0.6, 0.5), _TINY, "BOX both ways."),
                ("cifar32", (0.95, 0.9, 0.85, 0.75, 0.65), _CIFAR, "BOX both ways."),
                ("mnist28", (0.6, 0.5, 0.4, 0.3, 0.25), _MNIST,
                 "BOX both ways. Optional in MNIST-C (default severity 3)."),
                ("imagenet299", (0.5, 0.4, 0.3, 0.25, 0.2), _INCEPTION,
                 "BOX both ways, small side int(299 * factor)."),
            )
        },
        stochastic=False,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py pixelate",
    ),
    CorruptionSpec(
        name="jpeg_compression",
        family="digital",
        kernel=jpeg_compression,
        tables=_scalar_tables(
            "quality",
            {
                "imagenet224": (25, 18, 15, 10, 7),
                "tiny64": (65, 58, 50, 40, 25),
                "cifar32": (80, 65, 58, 50, 40),
                "mnist28": (25, 18, 15, 10, 7),
                "imagenet299": (23, 16, 13, 8, 5),
            },
            {"mnist28": "Gray JPEG of the digit. Optional in MNIST-C (default severity 5)."},
        ),
        stochastic=False,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py jpeg_compression",
    ),
    CorruptionSpec(
        name="saturate",
        family="digital",
        kernel=saturate,
        tables={
            preset: SeverityTable(
                ("scale", "offset", "hsv_channels"),
                tuple((a, b, mode) for a, b in rows),
                src,
                notes=note,
            )
            for preset, rows, src, mode, note in (
                ("imagenet224", ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)), _IMAGENET,
                 "s", ""),
                ("tiny64", ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (30, 0.2)), _TINY, "s", ""),
                ("cifar32", ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)), _CIFAR,
                 "s", ""),
                ("mnist28", ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)), _MNIST, "hsv",
                 "Upstream quirk kept: MNIST-C applies clip(x * scale + offset) to H, S and V "
                 "of gray2rgb(digit), then rgb2gray. Optional in MNIST-C (default severity 5)."),
                ("imagenet299", ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)), _INCEPTION,
                 "s", ""),
            )
        },
        stochastic=False,
        layout="any",
        suites=frozenset({"imagenet_c_extra", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py saturate",
    ),
)
