"""Blur corruptions: defocus, glass, motion, zoom (ImageNet-C) and Gaussian (extra).

Kernels are pure functions of a uint8 image (H, W, C), C in {1, 3}, and
physical parameters; they return float32 on the 0..255 scale (the registry
boundary clips and truncates like upstream ``np.uint8``). Severity tables name
every position of the upstream tuples, per preset, with the script they come
from; upstream quirks are kept and listed in each table's ``notes``.

Reference:
    Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common
    Corruptions and Perturbations", ICLR 2019 (hendrycks/robustness
    ``ImageNet-C/create_c/make_{imagenet,tinyimagenet,cifar}_c.py``);
    Mu & Gilmer, "MNIST-C", 2019 (google-research/mnist-c ``corruptions.py``);
    bethgelab/imagecorruptions 1.1.2 ``corruptions.py``.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from corruptions import _jit
from corruptions._filters import clipped_zoom, disk_kernel, gaussian_filter, zoom_sum
from corruptions._motion import magick_motion_blur
from corruptions.registry import CorruptionSpec, SeverityTable

__all__ = [
    "SPECS",
    "gaussian_filter",
    "clipped_zoom",
    "disk_kernel",
    "glass_shuffle_index",
    "glass_blur_from_draws",
    "motion_blur_at",
    "gaussian_blur",
    "glass_blur",
    "defocus_blur",
    "motion_blur",
    "zoom_blur",
]

_HC = "hendrycks/robustness ImageNet-C/create_c/"
_INC = _HC + "make_imagenet_c_inception.py "
_MC = "google-research/mnist-c corruptions.py"


# --------------------------------------------------------------------------- helpers


def glass_shuffle_index(
    shape: tuple[int, int],
    max_delta: int,
    offsets: np.ndarray,
    active: np.ndarray | None,
    shuffle: str,
    *,
    compiled: bool | None = None,
) -> np.ndarray:
    """Flat source index of every pixel after one pass of glass-blur shuffling.

    The upstream pass visits ``h = H - d, ..., d + 1`` (outer) and
    ``w = W - d, ..., d + 1`` (inner), draws ``(dx, dy)`` in ``[-d, d)`` and runs
    ``x[h, w], x[h + dy, w + dx] = x[h + dy, w + dx], x[h, w]``. On an RGB array
    both sides are views, so the statement only *copies* ``x[h + dy, w + dx]``
    into ``x[h, w]`` (``shuffle="copy"``: ImageNet-C, Tiny, CIFAR-10-C); on a 2-D
    array it is a true swap (``shuffle="swap"``: MNIST-C). Both are
    order-dependent. Copy passes are solved exactly without a pixel loop: every
    position is written once, so it receives either the original value of its
    source (source not yet written) or the final value of its source (written
    earlier); pointer jumping resolves these chains in O(log n) vectorised
    steps. Swap passes run a tight loop over the precomputed draws on a Python
    list of indices.

    Args:
        shape: ``(H, W)``.
        max_delta: ``d``, the largest displacement in pixels (>= 1).
        offsets: int array (n, 2) of ``(dx, dy)`` per visited position, in visit order,
            ``n = (H - 2d) * (W - 2d)``.
        active: bool array (n,) marking the positions that act (MNIST-C skips each
            with probability 1/2), or ``None`` for all.
        shuffle: ``"copy"`` or ``"swap"``.
        compiled: Run the visits one by one, compiled (:mod:`corruptions._jit`); default:
            when numba is installed. Both paths give the same index.

    Returns:
        int array (H * W,): ``out.flat[i] = x.flat[index[i]]``.

    """
    h, w = shape
    d = int(max_delta)
    pos, order, visit = _glass_visits(h, w, d)
    if len(offsets) != len(pos):
        raise ValueError(f"need {len(pos)} offsets for shape {shape} and d={d}, got {len(offsets)}")
    src = offsets[:, 1] * w
    src += offsets[:, 0]
    src += pos
    if active is not None:
        pos, src = pos[active], src[active]
    n_pix = h * w
    if shuffle not in ("copy", "swap"):
        raise ValueError(f"shuffle must be 'copy' or 'swap', got {shuffle!r}")
    if compiled is None:
        compiled = _jit.AVAILABLE
    if compiled:
        return _jit.glass_shuffle(n_pix, pos, src, swap=shuffle == "swap")
    if shuffle == "swap":
        perm = list(range(n_pix))
        for p, s in zip(pos.tolist(), src.tolist(), strict=True):
            perm[p], perm[s] = perm[s], perm[p]
        return np.asarray(perm, dtype=np.intp)
    if active is not None:  # visit order among the acting positions only
        n = len(pos)
        order = np.arange(n)
        visit = np.full(n_pix, n, dtype=np.intp)
        visit[pos] = order
    linked = visit[src] < order  # the source was already overwritten
    base = np.arange(n_pix)
    if not linked.any():  # e.g. d = 1: every source is read before it is written
        base[pos] = src
        return base
    link = base.copy()
    link[pos] = np.where(linked, src, pos)
    base[pos] = np.where(linked, pos, src)
    while True:
        jumped = link[link]
        if np.array_equal(jumped, link):
            break
        link = jumped
    return base[link]


@lru_cache(maxsize=64)
def _glass_visits(h: int, w: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visited flat positions in visit order, ``arange(n)``, and each pixel's visit rank.

    Unvisited pixels rank ``n`` (after every visit). Cached per shape, read-only.
    """
    hs = np.arange(h - d, d, -1)
    ws = np.arange(w - d, d, -1)
    pos = (hs[:, None] * w + ws[None, :]).ravel()
    order = np.arange(len(pos))
    visit = np.full(h * w, len(pos), dtype=np.intp)
    visit[pos] = order
    for a in (pos, order, visit):
        a.setflags(write=False)
    return pos, order, visit


# --------------------------------------------------------------------------- kernels


def _unit64(image: np.ndarray) -> np.ndarray:
    """``np.array(x) / 255.`` as (H, W, C) float64, the scripts' working scale."""
    x = np.asarray(image) / 255.0
    return x[..., None] if x.ndim == 2 else x


def gaussian_blur(image: np.ndarray, *, sigma_y: float, sigma_x: float) -> np.ndarray:
    """Gaussian blur.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        sigma_y: Row-direction standard deviation in pixels (>= 0).
        sigma_x: Column-direction standard deviation in pixels (>= 0; MNIST-C's
            ``multichannel=True`` on 2-D images makes it 0).

    Returns:
        float64 (H, W, C) on the 0..255 scale, ``clip(gaussian(x / 255), 0, 1) * 255``.

    Reference:
        ImageNet-C ``gaussian_blur`` (skimage ``gaussian``, mode ``nearest``, truncate 4).

    """
    out = gaussian_filter(_unit64(image), sigma_y, sigma_x)
    np.clip(out, 0, 1, out=out)
    out *= 255
    return out


def _glass_draws(
    rng: np.random.Generator, n: int, max_delta: int, iterations: int, swap_prob: float
) -> tuple[np.ndarray, np.ndarray | None]:
    offsets = rng.integers(-max_delta, max_delta, size=(iterations, n, 2))
    active = None if swap_prob >= 1.0 else rng.random((iterations, n)) < swap_prob
    return offsets, active


def glass_blur_from_draws(
    image: np.ndarray,
    *,
    sigma_y: float,
    sigma_x: float,
    max_delta: int,
    offsets: np.ndarray,
    active: np.ndarray | None,
    shuffle: str,
) -> np.ndarray:
    """Glass blur given the random draws (see :func:`glass_blur`).

    Args:
        image: uint8 (H, W, C).
        sigma_y: Row sigma of both Gaussian blurs, pixels.
        sigma_x: Column sigma, pixels.
        max_delta: Largest displacement, pixels (>= 1).
        offsets: int (iterations, n, 2) ``(dx, dy)`` draws in visit order.
        active: bool (iterations, n) or ``None``.
        shuffle: ``"copy"`` or ``"swap"``.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    """
    x = _unit64(image)
    h, w, c = x.shape
    # upstream: np.uint8(gaussian(x / 255.) * 255), truncation
    blurred = gaussian_filter(x, sigma_y, sigma_x)
    blurred *= 255
    u8 = blurred.astype(np.uint8).reshape(h * w, c)
    index = None
    for i in range(offsets.shape[0]):
        step = glass_shuffle_index(
            (h, w), max_delta, offsets[i], None if active is None else active[i], shuffle
        )
        index = step if index is None else index[step]
    # whole pixels (exact); the indices are in range, mode='clip' skips numpy's buffered check
    shuffled = u8 if index is None else np.take(u8, index, axis=0, mode="clip")
    out = gaussian_filter(shuffled.reshape(h, w, c) / 255.0, sigma_y, sigma_x)
    np.clip(out, 0, 1, out=out)
    out *= 255
    return out


def glass_blur(
    image: np.ndarray,
    *,
    sigma_y: float,
    sigma_x: float,
    max_delta: float,
    iterations: int,
    swap_prob: float,
    shuffle: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Glass blur: Gaussian blur, local pixel shuffling, Gaussian blur again.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        sigma_y: Row sigma of both blurs, pixels (>= 0).
        sigma_x: Column sigma, pixels (>= 0; 0 reproduces MNIST-C's 2-D quirk).
        max_delta: Largest displacement ``d`` in pixels; rounded, at least 1.
            Offsets are drawn in ``[-d, d)`` (numpy ``randint`` excludes ``d``).
        iterations: Number of shuffling passes (>= 1).
        swap_prob: Probability that a visited position acts (1 for ImageNet-C,
            0.5 for MNIST-C's coin flip).
        shuffle: ``"copy"`` (RGB upstream) or ``"swap"`` (MNIST-C 2-D upstream);
            see :func:`glass_shuffle_index`.
        rng: Random generator.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``glass_blur``; MNIST-C ``glass_blur``.

    """
    d = max(1, int(round(float(max_delta))))
    h, w = image.shape[:2]
    n = max(h - 2 * d, 0) * max(w - 2 * d, 0)
    offsets, active = _glass_draws(rng, n, d, int(iterations), float(swap_prob))
    return glass_blur_from_draws(
        image, sigma_y=sigma_y, sigma_x=sigma_x, max_delta=d, offsets=offsets,
        active=active, shuffle=shuffle,
    )


def defocus_blur(image: np.ndarray, *, radius: float, alias_blur: float) -> np.ndarray:
    """Defocus blur: correlation with an anti-aliased disk (border reflect-101).

    Computed as the scripts do: ``cv2.filter2D`` of ``x / 255`` in float64 with
    the float32 disk (one call for all channels gives the per-channel calls'
    bits), ``clip(., 0, 1) * 255``.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        radius: Disk radius in pixels (> 0).
        alias_blur: Anti-aliasing sigma in pixels (> 0).

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``defocus_blur`` (``disk`` + ``cv2.filter2D``).

    """
    x = _unit64(image)
    out = cv2.filter2D(x, -1, disk_kernel(float(radius), float(alias_blur))).reshape(x.shape)
    np.clip(out, 0, 1, out=out)
    out *= 255
    return out


def motion_blur_at(image: np.ndarray, *, radius: float, sigma: float, angle: float) -> np.ndarray:
    """Motion blur in a given direction (the deterministic part of :func:`motion_blur`).

    Returns ImageMagick's 8-bit result as float64 levels (see
    :func:`corruptions._motion.magick_motion_blur`).
    """
    return magick_motion_blur(np.asarray(image), radius, sigma, angle)


def motion_blur(
    image: np.ndarray,
    *,
    radius: float,
    sigma: float,
    angle_range: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Linear motion blur in a random direction (ImageMagick ``-motion-blur``).

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        radius: Blur radius in pixels (> 0); ``2 * ceil(radius) + 1`` taps.
        sigma: Tap-weight sigma, in taps (> 0).
        angle_range: ``(low, high)`` degrees of the uniform angle draw.
        rng: Random generator (one ``uniform`` draw).

    Returns:
        float64 (H, W, C): ImageMagick Q16's 8-bit levels (exact integers).

    Reference:
        ImageNet-C ``motion_blur`` (Wand ``MagickMotionBlurImage``, ImageMagick
        6.9.11 Q16 checked with the real library in the tests).

    """
    angle = float(rng.uniform(angle_range[0], angle_range[1]))
    return motion_blur_at(image, radius=radius, sigma=sigma, angle=angle)


def zoom_blur(image: np.ndarray, *, zooms: tuple[float, ...]) -> np.ndarray:
    """Zoom blur: mean of the image and its central magnifications.

    The scripts' float32 arithmetic: ``x = float32(x / 255)``, ``out`` the float32
    sum of :func:`clipped_zoom` over ``zooms`` (1.0 included), then
    ``clip((x + out) / (len + 1), 0, 1) * 255``.

    Args:
        image: uint8 (H, W, C), C in {1, 3}, square (as the scripts' crop).
        zooms: Magnifications (each >= 1), e.g. ``np.arange(1, 1.11, 0.01)``.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``zoom_blur`` (``clipped_zoom`` with ``scipy.ndimage.zoom(order=1)``).

    """
    x = _unit64(image).astype(np.float32)
    out = zoom_sum(x, tuple(float(z) for z in zooms))
    out += x  # x + out: float32 addition commutes exactly
    out /= np.float32(len(zooms) + 1)
    np.clip(out, 0, 1, out=out)
    out *= np.float32(255)
    return out


# --------------------------------------------------------------------------- tables


def _arange(start: float, stop: float, step: float) -> tuple[float, ...]:
    """``np.arange`` as exact Python floats (crop sizes depend on the last bits)."""
    return tuple(float(v) for v in np.arange(start, stop, step))


def _iso(values: tuple[float, ...]) -> tuple[tuple[float, float], ...]:
    return tuple((v, v) for v in values)


_GAUSS_SIGMA_NOTE = (
    "upstream has one 'sigma' position; it is split into sigma_y and sigma_x so "
    "MNIST-C's quirk is expressible."
)
_GAUSSIAN_TABLES = {
    "imagenet224": SeverityTable(
        ("sigma_y", "sigma_x"), _iso((1, 2, 3, 4, 6)),
        _HC + "make_imagenet_c.py gaussian_blur c", frozenset({"sigma_y", "sigma_x"}),
        _GAUSS_SIGMA_NOTE,
    ),
    "imagenet299": SeverityTable(
        ("sigma_y", "sigma_x"), _iso((1.5, 2.5, 3.5, 4.5, 6.5)),
        _INC + "gaussian_blur c", frozenset({"sigma_y", "sigma_x"}), _GAUSS_SIGMA_NOTE,
    ),
    "tiny64": SeverityTable(
        ("sigma_y", "sigma_x"), _iso((0.5, 0.75, 1, 1.25, 1.5)),
        _HC + "make_tinyimagenet_c.py gaussian_blur c", frozenset({"sigma_y", "sigma_x"}),
        _GAUSS_SIGMA_NOTE,
    ),
    "cifar32": SeverityTable(
        ("sigma_y", "sigma_x"), _iso((0.4, 0.6, 0.7, 0.8, 1)),
        _HC + "make_cifar_c.py gaussian_blur c", frozenset({"sigma_y", "sigma_x"}),
        _GAUSS_SIGMA_NOTE,
    ),
    "mnist28": SeverityTable(
        ("sigma_y", "sigma_x"), tuple((v, 0.0) for v in (1, 2, 3, 4, 6)),
        _MC + " gaussian_blur c (benchmark severity 2, optional corruption)",
        frozenset({"sigma_y", "sigma_x"}),
        "quirk kept: skimage gaussian(multichannel=True) on a 2-D 28x28 image treats the "
        "columns as channels, so MNIST-C blurs along rows only (sigma_x = 0).",
    ),
}

_GLASS_FIELDS = ("sigma_y", "sigma_x", "max_delta", "iterations", "swap_prob", "shuffle")
_GLASS_PX = frozenset({"sigma_y", "sigma_x", "max_delta"})
_GLASS_NOTE = (
    "tuple = (sigma, max_delta, iterations); offsets drawn in [-d, d) (randint quirk); "
    "on RGB arrays the upstream tuple swap is a copy (numpy views), kept as shuffle='copy'."
)


def _glass(rows: tuple[tuple[float, int, int], ...], swap_prob: float, shuffle: str, mnist: bool):
    return tuple(
        (s, 0.0 if mnist else s, d, it, swap_prob, shuffle) for s, d, it in rows
    )


_GLASS_IMAGENET = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
_GLASS_TABLES = {
    "imagenet224": SeverityTable(
        _GLASS_FIELDS, _glass(_GLASS_IMAGENET, 1.0, "copy", False),
        _HC + "make_imagenet_c.py glass_blur c", _GLASS_PX, _GLASS_NOTE,
    ),
    "imagenet299": SeverityTable(
        _GLASS_FIELDS,
        _glass(((0.8, 1, 3), (1, 3, 1), (1.1, 2, 4), (1.2, 4, 2), (1.6, 5, 2)), 1, "copy", False),
        _INC + "glass_blur c", _GLASS_PX, _GLASS_NOTE,
    ),
    "tiny64": SeverityTable(
        _GLASS_FIELDS,
        _glass(((0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.9, 2, 2)), 1, "copy", False),
        _HC + "make_tinyimagenet_c.py glass_blur c", _GLASS_PX, _GLASS_NOTE,
    ),
    "cifar32": SeverityTable(
        _GLASS_FIELDS,
        _glass(
            ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)), 1, "copy", False
        ),
        _HC + "make_cifar_c.py glass_blur c", _GLASS_PX, _GLASS_NOTE,
    ),
    "mnist28": SeverityTable(
        _GLASS_FIELDS, _glass(_GLASS_IMAGENET, 0.5, "swap", True),
        _MC + " glass_blur c (benchmark severity 1)", _GLASS_PX,
        "MNIST-C: each visited position acts with probability 1/2 (np.random.choice), the "
        "2-D array makes the tuple statement a true swap, and gaussian(multichannel=True) "
        "on 2-D blurs rows only (sigma_x = 0).",
    ),
}

_DEFOCUS_FIELDS = ("radius", "alias_blur")
_DEFOCUS_PX = frozenset(_DEFOCUS_FIELDS)
_DEFOCUS_IMAGENET = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
_DEFOCUS_TABLES = {
    "imagenet224": SeverityTable(
        _DEFOCUS_FIELDS, _DEFOCUS_IMAGENET, _HC + "make_imagenet_c.py defocus_blur c", _DEFOCUS_PX,
        "the disk lives on a fixed [-8, 8] grid with a 3x3 anti-alias window up to radius 8.",
    ),
    "imagenet299": SeverityTable(
        _DEFOCUS_FIELDS, ((4, 0.1), (5, 0.5), (7, 0.5), (10, 0.5), (12, 0.5)),
        _INC + "defocus_blur c", _DEFOCUS_PX,
        "radius > 8 (severities 4, 5) switches to a [-radius, radius] grid and a 5x5 window.",
    ),
    "tiny64": SeverityTable(
        _DEFOCUS_FIELDS, ((0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)),
        _HC + "make_tinyimagenet_c.py defocus_blur c", _DEFOCUS_PX,
    ),
    "cifar32": SeverityTable(
        _DEFOCUS_FIELDS, ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
        _HC + "make_cifar_c.py defocus_blur c", _DEFOCUS_PX,
        "radius < 1 keeps only the centre pixel: severities 1-3 blur through alias_blur alone.",
    ),
    "mnist28": SeverityTable(
        _DEFOCUS_FIELDS, _DEFOCUS_IMAGENET, _MC + " defocus_blur c (optional corruption)",
        _DEFOCUS_PX,
    ),
}

_MOTION_FIELDS = ("radius", "sigma", "angle_range")
_MOTION_PX = frozenset({"radius", "sigma"})
_MOTION_NOTE = (
    "tuple = (radius, sigma) of ImageMagick MotionBlurImage; angle ~ U(-45, 45) degrees; "
    "the result is ImageMagick Q16's: the weighted sum rounded to 16 bits, then the 8-bit "
    "PNG it writes truncates (q // 257); imagecorruptions' numpy port truncates the float."
)


def _motion(rows: tuple[tuple[float, float], ...]) -> tuple[tuple[object, ...], ...]:
    return tuple((r, s, (-45.0, 45.0)) for r, s in rows)


_MOTION_IMAGENET = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
_MOTION_TABLES = {
    "imagenet224": SeverityTable(
        _MOTION_FIELDS, _motion(_MOTION_IMAGENET), _HC + "make_imagenet_c.py motion_blur c",
        _MOTION_PX, _MOTION_NOTE,
    ),
    "imagenet299": SeverityTable(
        _MOTION_FIELDS, _motion(((12, 4), (17, 6), (17, 9), (17, 13), (22, 16))),
        _INC + "motion_blur c", _MOTION_PX, _MOTION_NOTE,
    ),
    "tiny64": SeverityTable(
        _MOTION_FIELDS, _motion(((10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3))),
        _HC + "make_tinyimagenet_c.py motion_blur c", _MOTION_PX, _MOTION_NOTE,
    ),
    "cifar32": SeverityTable(
        _MOTION_FIELDS, _motion(((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))),
        _HC + "make_cifar_c.py motion_blur c", _MOTION_PX, _MOTION_NOTE,
    ),
    "mnist28": SeverityTable(
        _MOTION_FIELDS, _motion(_MOTION_IMAGENET), _MC + " motion_blur c (benchmark severity 1)",
        _MOTION_PX, _MOTION_NOTE,
    ),
}

_ZOOM_IMAGENET = (
    (_arange(1, 1.11, 0.01),), (_arange(1, 1.16, 0.01),), (_arange(1, 1.21, 0.02),),
    (_arange(1, 1.26, 0.02),), (_arange(1, 1.31, 0.03),),
)
_ZOOM_SMALL = tuple((_arange(1, stop, 0.01),) for stop in (1.06, 1.11, 1.16, 1.21, 1.26))
_ZOOM_NOTE = "zooms are the exact np.arange values (crop sizes ceil(n / z) depend on them)."
_ZOOM_TABLES = {
    "imagenet224": SeverityTable(
        ("zooms",), _ZOOM_IMAGENET, _HC + "make_imagenet_c.py zoom_blur c", notes=_ZOOM_NOTE
    ),
    "imagenet299": SeverityTable(
        ("zooms",), _ZOOM_IMAGENET, _INC + "zoom_blur c", notes=_ZOOM_NOTE
    ),
    "tiny64": SeverityTable(
        ("zooms",), _ZOOM_SMALL, _HC + "make_tinyimagenet_c.py zoom_blur c", notes=_ZOOM_NOTE
    ),
    "cifar32": SeverityTable(
        ("zooms",), _ZOOM_SMALL, _HC + "make_cifar_c.py zoom_blur c", notes=_ZOOM_NOTE
    ),
    "mnist28": SeverityTable(
        ("zooms",), _ZOOM_IMAGENET, _MC + " zoom_blur c (optional corruption)", notes=_ZOOM_NOTE
    ),
}

_PAPER = "Hendrycks & Dietterich, ICLR 2019; "
SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        "defocus_blur", "blur", defocus_blur, _DEFOCUS_TABLES, stochastic=False, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py defocus_blur",
    ),
    CorruptionSpec(
        "glass_blur", "blur", glass_blur, _GLASS_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference=_PAPER + _HC + "make_imagenet_c.py glass_blur", cost=3,
    ),
    CorruptionSpec(
        "motion_blur", "blur", motion_blur, _MOTION_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference=_PAPER + _HC + "make_imagenet_c.py motion_blur",
    ),
    CorruptionSpec(
        "zoom_blur", "blur", zoom_blur, _ZOOM_TABLES, stochastic=False, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py zoom_blur", cost=4,
    ),
    CorruptionSpec(
        "gaussian_blur", "blur", gaussian_blur, _GAUSSIAN_TABLES, stochastic=False, layout="any",
        suites=frozenset({"imagenet_c_extra", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py gaussian_blur",
    ),
)
