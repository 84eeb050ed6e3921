"""Digital family of the 2-D common corruptions.

Brightness, contrast, saturate, JPEG compression, pixelate and elastic
transform, as in the ImageNet-C / Tiny-ImageNet-C / CIFAR-10-C generation
scripts (hendrycks/robustness ``ImageNet-C/create_c/``) and MNIST-C
(google-research/mnist-c ``corruptions.py``). One kernel per corruption takes
physical parameters; the variants of the upstream scripts are table columns:

* ``pixelate``: the ImageNet-C/CIFAR/Tiny/MNIST-C scripts upsample with PIL
  ``BOX``, the PyPI ``imagecorruptions`` package with ``NEAREST`` (identical at
  the 224/32/64 sizes, different at 28 for factors 0.6 and 0.3) -> ``upsample``.
* ``saturate``: MNIST-C scales and offsets all three HSV channels, not only S
  -> ``hsv_channels``.
* ``elastic_transform``: MNIST-C pads with zeros, the others reflect -> ``border``.

Kernels work on any channel count (``layout="any"``); grayscale goes through the
RGB formula as MNIST-C does (``gray2rgb`` ... ``rgb2gray``, Rec. 709 weights)
where that matters (saturate), and straight through where it does not
(brightness, contrast, pixelate, JPEG, elastic).

Reference:
    D. Hendrycks and T. Dietterich, "Benchmarking Neural Network Robustness to
    Common Corruptions and Perturbations", ICLR 2019. N. Mu and J. Gilmer,
    "MNIST-C: A Robustness Benchmark for Computer Vision", 2019.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from corruptions._pil_resample import _pixelate_box, _pixelate_plan
from corruptions.image import FloatImage, U8Image
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

#: skimage ``rgb2gray`` weights (Rec. 709), what MNIST-C uses to go back to gray.
_REC709 = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _like(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    return result.reshape(image.shape)


def brightness(image: U8Image, *, delta: float) -> FloatImage:
    """Raise the HSV value channel by ``delta`` (clipped at full scale).

    For RGB, adding to V with H and S fixed scales each pixel's three values by
    ``V' / V`` (every HSV->RGB channel is V times a factor of H and S), which is
    computed directly instead of through the HSV round trip. Black pixels
    (V = 0, S = 0) become gray ``V'``. Grayscale: ``v + delta``.

    Args:
        image: uint8 image, (H, W) or (H, W, C) with C in {1, 3}; not modified.
        delta: Increment of V as a fraction of full scale, in [0, 1].

    Returns:
        float32 image on the 0..255 scale, same shape.

    Reference:
        ``brightness`` in make_imagenet_c.py (``sk.color.rgb2hsv``, V + c,
        ``hsv2rgb``); MNIST-C's gray variant equals ``clip(v + c)``.

    Example:
        >>> brightness(np.array([[[100, 50, 0]]], np.uint8), delta=0.2).round(2).tolist()
        [[[151.0, 75.5, 0.0]]]

    """
    x = _as_hwc(image).astype(np.float32)
    add = np.float32(delta * 255.0)
    if x.shape[2] == 1:
        return _like(x + add, image)
    v = x.max(axis=2, keepdims=True)
    v_new = np.minimum(v + add, np.float32(255.0))
    ratio = np.divide(v_new, v, out=np.zeros_like(v), where=v > 0)
    return np.where(v > 0, x * ratio, v_new)


def contrast(image: U8Image, *, factor: float) -> FloatImage:
    """Shrink each channel towards its image mean: ``(v - mean) * factor + mean``.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        factor: Contrast multiplier, > 0 (1 = unchanged).

    Returns:
        float32 image on the 0..255 scale, same shape.

    Reference:
        ``contrast`` in make_imagenet_c.py (per-channel mean over H and W).

    Example:
        >>> contrast(np.array([[0, 200]], np.uint8), factor=0.5).tolist()
        [[50.0, 150.0]]

    """
    x = _as_hwc(image)
    means = x.mean(axis=(0, 1), dtype=np.float64, keepdims=True).astype(np.float32)
    out = (x.astype(np.float32) - means) * np.float32(factor) + means
    return _like(out, image)


def _saturate_s(rgb: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """``S' = clip(S * scale + offset)`` with H and V fixed, on float 0..255 RGB."""
    v = rgb.max(axis=2, keepdims=True)
    lo = rgb.min(axis=2, keepdims=True)
    spread = v - lo
    s = np.divide(spread, v, out=np.zeros_like(v), where=v > 0)
    s_new = np.clip(s * np.float32(scale) + np.float32(offset), 0.0, 1.0)
    # Chromatic pixels: each channel keeps its relative place between min and max.
    rel = np.divide(v - rgb, spread, out=np.zeros_like(rgb), where=spread > 0)
    out = v - s_new * v * rel
    # Achromatic pixels have H = 0 (red) in skimage: RGB = (V, V(1-S'), V(1-S')).
    gray = np.concatenate([v, v * (1 - s_new), v * (1 - s_new)], axis=2)
    return np.where(spread > 0, out, gray)


def _saturate_hsv(rgb: np.ndarray, scale: float, offset: float) -> np.ndarray:
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = np.clip(rgb2hsv(rgb / 255.0) * scale + offset, 0.0, 1.0)
    return (hsv2rgb(hsv) * 255.0).astype(np.float32)


def saturate(
    image: U8Image, *, scale: float, offset: float, hsv_channels: Literal["s", "hsv"]
) -> FloatImage:
    """Scale and offset HSV saturation: ``S' = clip(S * scale + offset, 0, 1)``.

    The ``"s"`` mode is computed without trigonometry: with H and V fixed, the
    maximum channel stays V, the minimum becomes ``V (1 - S')`` and the middle
    one keeps its relative position. Achromatic pixels get skimage's hue 0
    (red), so a positive ``offset`` tints grays red, as upstream does.

    Args:
        image: uint8 image, (H, W) or (H, W, C) with C in {1, 3}; not modified.
            Gray is replicated to RGB and converted back with Rec. 709 weights
            (skimage ``rgb2gray``), as MNIST-C does.
        scale: Multiplier of S (>= 0).
        offset: Added to S after scaling, in [0, 1].
        hsv_channels: ``"s"`` (ImageNet-C: only S changes) or ``"hsv"`` (MNIST-C:
            H, S and V are all scaled and offset, an upstream quirk kept).

    Returns:
        float32 image on the 0..255 scale, same shape.

    Reference:
        ``saturate`` in make_imagenet_c.py; in google-research/mnist-c for ``"hsv"``.

    Example:
        >>> saturate(np.array([[[200, 100, 100]]], np.uint8), scale=0.5, offset=0.0,
        ...          hsv_channels="s").round(1).tolist()
        [[[200.0, 150.0, 150.0]]]

    """
    x = _as_hwc(image).astype(np.float32)
    gray = x.shape[2] == 1
    rgb = np.repeat(x, 3, axis=2) if gray else x
    if hsv_channels == "s":
        out = _saturate_s(rgb, scale, offset)
    elif hsv_channels == "hsv":
        out = _saturate_hsv(rgb, scale, offset)
    else:
        raise ValueError(f"hsv_channels must be 's' or 'hsv', got {hsv_channels!r}")
    if gray:
        out = out @ _REC709
    return _like(out, image)


def jpeg_compression(image: U8Image, *, quality: int) -> U8Image:
    """Encode with PIL's JPEG codec at ``quality``, decode with OpenCV's.

    PIL encodes (not OpenCV) because upstream does ``PIL.Image.save(..., 'JPEG',
    quality=q)``: same quantisation tables, 4:2:0 chroma subsampling, same
    bitstream. Decoding that bitstream with OpenCV (libjpeg-turbo, integer
    IDCT, fancy upsampling, as PIL) gives the pixels of PIL's decoder, byte for
    byte (tested over real photographs and CIFAR-10, every table quality, gray
    and RGB), ~20 % faster than PIL's decoder and its conversion to an array.
    Gray input is encoded as a one-channel JPEG, as MNIST-C does (the PyPI
    ``imagecorruptions`` converts gray to RGB first; its ``corrupt`` always
    passes RGB anyway).

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
    return _like(np.asarray(out), image)


_RESAMPLE = {"box": Image.Resampling.BOX, "nearest": Image.Resampling.NEAREST}


def pixelate(image: U8Image, *, factor: float, upsample: Literal["box", "nearest"]) -> U8Image:
    """Downsample with a box filter by ``factor``, then upsample back.

    The small size is ``(int(W * factor), int(H * factor))``, truncated like
    upstream (which wrote ``int(224 * c)`` for its fixed 224 input). Both
    resizes are PIL's; with ``upsample="box"`` they are computed in numpy with
    PIL's exact fixed-point coefficients (:func:`corruptions._pil_resample._pil_box_pass_plan`),
    byte-identical to ``Image.resize(..., BOX)`` and ~3x faster at 224x224.

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
        return _like(np.asarray(small.resize((w, h), _RESAMPLE[upsample])), image)
    return _like(_pixelate_box(x, *plan), image)


def _gaussian_taps(sigma: float, truncate: float) -> np.ndarray:
    """Return scipy's ``gaussian_filter1d`` weights: radius ``int(truncate * sigma + 0.5)``."""
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * taps**2)
    return weights / weights.sum()


@lru_cache(maxsize=64)
def _folded_gaussian_spectrum(n: int, sigma: float, truncate: float) -> np.ndarray:
    """Spectrum of the Gaussian taps wrapped modulo 2n (see :func:`_reflect_gaussian`)."""
    weights = _gaussian_taps(sigma, truncate)
    radius = len(weights) // 2
    folded = np.zeros(2 * n)
    np.add.at(folded, np.arange(-radius, radius + 1) % (2 * n), weights)
    return np.fft.rfft(folded)


#: Above this radius (pixels) the FFT route is faster than direct separable filtering.
_DIRECT_MAX_RADIUS = 16


def _reflect_gaussian(field: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(field, sigma, mode='reflect', truncate=truncate)``.

    Upstream smooths the displacement noise with ``skimage.filters.gaussian``
    (scipy, ``mode='reflect'``, ``truncate=3``), with sigmas up to 171 px where
    the kernel is wider than the image. Small kernels: OpenCV's separable filter
    with the same taps and ``BORDER_REFLECT`` (scipy's ``reflect``). Large ones:
    the half-sample symmetric extension of a length-n line is periodic with
    period 2n, so the filter is a circular convolution of ``[x, x[::-1]]`` with
    the taps wrapped modulo 2n, one small FFT per axis (no BLAS threads, which
    stall when many workers share few cores). Both equal scipy to ~1e-15.
    """
    weights = _gaussian_taps(sigma, truncate)
    radius = len(weights) // 2
    if radius <= _DIRECT_MAX_RADIUS and radius < min(field.shape):
        return cv2.sepFilter2D(field, cv2.CV_64F, weights, weights, borderType=cv2.BORDER_REFLECT)
    out = field
    for _ in range(2):  # rows, then (after the transpose) columns
        n = out.shape[1]
        mirrored = np.concatenate([out, out[:, ::-1]], axis=1)
        spectrum = _folded_gaussian_spectrum(n, float(sigma), float(truncate))
        smoothed = np.fft.irfft(np.fft.rfft(mirrored, axis=1) * spectrum, n=2 * n, axis=1)
        out = np.ascontiguousarray(smoothed[:, :n].T)
    return out


def _smoothed_noise(
    shape: tuple[int, int], sigma: float, rng: np.random.Generator
) -> np.ndarray:
    noise = rng.uniform(-1.0, 1.0, size=shape)
    if sigma <= 0:
        return noise.astype(np.float32)
    return _reflect_gaussian(noise, sigma, 3.0).astype(np.float32)


_BORDERS = {"reflect": (cv2.BORDER_REFLECT_101, cv2.BORDER_REFLECT), "constant": (0, 0)}


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

    1. Affine: three control points around the centre (at +-``min(H, W)//3``
       from ``(H//2, W//2)``, in upstream's (row, col) order fed to OpenCV as
       (x, y), kept) each move by ``U(-affine_jitter, affine_jitter)`` px.
    2. Elastic: ``dx, dy = alpha * G_sigma * U(-1, 1)`` per pixel (Gaussian
       smoothing with ``truncate=3``, reflect padding) and bilinear resampling
       at ``(y + dy, x + dx)``.

    OpenCV does both resamplings (``warpAffine``/``remap``, 1/32-px coordinate
    steps) where upstream uses OpenCV then ``scipy.ndimage.map_coordinates``.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        alpha: Displacement gain, pixels per unit of smoothed noise (>= 0).
        sigma: Standard deviation of the smoothing Gaussian, pixels (>= 0).
        affine_jitter: Half-range of the control-point jitter, pixels (>= 0).
        border: ``"reflect"`` (ImageNet-C: ``BORDER_REFLECT_101`` for the affine,
            scipy ``reflect`` for the elastic step) or ``"constant"`` (MNIST-C: zeros;
            as with scipy's ``mode='constant'``, samples falling outside the image
            are 0, not blended with the edge).
        rng: Source of the jitter and the displacement noise.

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
    affine_border, remap_border = _BORDERS[border]
    x = _as_hwc(image).astype(np.float32)
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
        x = cv2.warpAffine(x, matrix, (w, h), borderMode=affine_border).reshape(h, w, c)
    if alpha > 0:
        dx = _smoothed_noise((h, w), sigma, rng) * np.float32(alpha)
        dy = _smoothed_noise((h, w), sigma, rng) * np.float32(alpha)
        grid_y, grid_x = np.indices((h, w), dtype=np.float32)
        map_x, map_y = grid_x + dx, grid_y + dy
        x = cv2.remap(x, map_x, map_y, cv2.INTER_LINEAR, borderMode=remap_border)
        x = x.reshape(h, w, c)
        if border == "constant":
            # scipy's mode='constant' does not interpolate beyond the edge: any sample
            # outside [0, n-1] is the fill value (OpenCV would blend it with the edge).
            outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
            x[outside] = 0.0
    return _like(x, image)


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


_ELASTIC_SCALE_NOTE = (
    "alpha, sigma and affine_jitter are multiples of the image size upstream and scale "
    "linearly with it here too (so the displacement in pixels, alpha/sigma, does not). "
)

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
                "incorrect', upstream comment). " + _ELASTIC_SCALE_NOTE
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
                "on its 299 px crops). " + _ELASTIC_SCALE_NOTE,
            ),
        },
        stochastic=True,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py elastic_transform",
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
