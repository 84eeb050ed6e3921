"""Filters of the blur and weather families, with the references' own arithmetic (private).

The ImageNet-C scripts compute on the ``x / 255`` scale in float64 and truncate
``* 255`` to uint8; a value one ulp below an integer becomes the level below.
Flat regions sit exactly on such values, so matching the references to the gray
level needs their arithmetic to the bit, not merely to float32 accuracy:

* :func:`gaussian_filter` is ``scipy.ndimage.gaussian_filter`` (what
  ``skimage.filters.gaussian`` calls), in the caller's float dtype;
* :func:`clipped_zoom` reproduces ``scipy.ndimage.zoom(order=1)`` on the
  scripts' central crop term by term: per output pixel
  ``t = sum(((v * wy) * wx))`` over the four neighbours in scipy's order, the
  weights ``w0 = 1 - frac``, ``w1 = 1 - w0`` of its order-1 spline, in float64,
  cast to the input's dtype; index tables are cached per (size, zoom), and
  :func:`zoom_sum` (``zoom_blur``'s loop) reuses one set of work buffers for all zooms;
* :func:`disk_kernel` is the scripts' anti-aliased disk, built once per
  (radius, alias_blur) and shared read-only;
* :func:`reflect_gaussian` is ``elastic_transform``'s displacement smoothing
  (scipy ``mode='reflect'``; an FFT above a 64 px radius).

Reference:
    hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py`` (``disk``,
    ``clipped_zoom``); scipy ``ndimage/src/ni_interpolation.c`` (``NI_ZoomShift``,
    ``get_spline_interpolation_weights``); scikit-image ``filters.gaussian``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from scipy import ndimage

from corruptions import _jit

__all__ = [
    "gaussian_filter", "clipped_zoom", "zoom_sum", "zoom_plan", "disk_kernel", "reflect_gaussian",
]


def gaussian_filter(image: np.ndarray, sigma_y: float, sigma_x: float) -> np.ndarray:
    """Gaussian blur as ``skimage.filters.gaussian`` computes it (mode ``nearest``, truncate 4).

    Args:
        image: float32 or float64 array (H, W) or (H, W, C); channels are not mixed.
        sigma_y: Standard deviation along rows, pixels (>= 0; 0 = none).
        sigma_x: Standard deviation along columns, pixels (>= 0; 0 = none,
            MNIST-C's ``multichannel=True`` on a 2-D image).

    Returns:
        A new array of the input's shape and float dtype.

    Example:
        >>> out = gaussian_filter(np.full((5, 5), 7.0), 1.0, 1.0)
        >>> bool(np.allclose(out, 7.0))
        True

    """
    if sigma_y < 0 or sigma_x < 0:
        raise ValueError(f"sigmas must be >= 0, got {sigma_y}, {sigma_x}")
    src = np.asarray(image)
    if src.dtype not in (np.float32, np.float64):
        src = src.astype(np.float64)
    sigma = (float(sigma_y), float(sigma_x)) + (0.0,) * (src.ndim - 2)
    out = _gaussian_compiled(src, sigma, reflect=False, truncate=4.0)
    if out is not None:
        return out
    return ndimage.gaussian_filter(src, sigma, mode="nearest", truncate=4.0, output=src.dtype)


def _gaussian_compiled(
    src: np.ndarray, sigma: tuple[float, ...], *, reflect: bool, truncate: float
) -> np.ndarray | None:
    """``ndimage.gaussian_filter(src, sigma, mode, truncate=truncate, output=src.dtype)``.

    Compiled (:func:`corruptions._jit.gaussian_rows` / ``gaussian_columns``) on scipy's
    plan: the axes whose sigma exceeds 1e-15, in order, each pass stored in the output
    dtype before the next. Returns None (the caller runs scipy) without numba, for a
    sigma on a third axis, or in ``reflect`` mode when a radius reaches the line length.
    """
    if not _jit.AVAILABLE or src.ndim not in (2, 3) or src.dtype not in (np.float32, np.float64):
        return None
    axes = [(axis, s) for axis, s in enumerate(sigma) if s > 1e-15]
    if any(axis > 1 for axis, _ in axes):
        return None
    if reflect and any(len(_gaussian_taps(s, truncate)) // 2 >= src.shape[axis]
                       for axis, s in axes):
        return None
    if not axes:
        return np.array(src, copy=True)
    h, w = src.shape[:2]
    c = src.shape[2] if src.ndim == 3 else 1
    cur = np.ascontiguousarray(src).reshape(h, w * c)
    for axis, s in axes:
        nxt = np.empty_like(cur)
        taps = _gaussian_taps(s, truncate)
        if axis == 0:
            _jit.gaussian_rows(cur, nxt, taps, reflect=reflect)
        else:
            _jit.gaussian_columns(cur, nxt, taps, c, reflect=reflect)
        cur = nxt
    return cur.reshape(src.shape)


@lru_cache(maxsize=256)
def zoom_plan(n: int, zoom: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index and weight tables of one axis of :func:`clipped_zoom` (cached, read-only).

    Args:
        n: Image side in pixels (the scripts' zoom is square: rows and columns alike).
        zoom: Magnification (>= 1).

    Returns:
        ``(i0, i1, w0, w1)``: for each of the ``n`` kept output positions, the two
        source indices in the uncropped image and their float64 weights.

    """
    crop = int(math.ceil(n / zoom))
    top = (n - crop) // 2
    size = int(round(crop * zoom))  # scipy.ndimage.zoom's output length
    trim = (size - n) // 2
    ratio = (crop - 1) / (size - 1) if size > 1 else 1.0
    cc = np.arange(size, dtype=np.float64)[trim : trim + n] * ratio
    start = np.floor(cc)
    frac = cc - start
    w0 = 1.0 - frac
    w1 = 1.0 - w0
    i0 = start.astype(np.intp)
    # scipy mirrors an out-of-range neighbour; its weight is 0 there, any valid index will do
    i1 = np.where(i0 + 1 < crop, i0 + 1, np.maximum(i0 - 1, 0))
    out = (i0 + top, i1 + top, w0, w1)
    for a in out:
        a.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _flat_columns(n: int, zoom: float, channels: int, which: int) -> np.ndarray:
    """Flat (column, channel) indices of neighbour ``which`` (0 or 1) on a (rows, n * C) view."""
    cols = zoom_plan(n, zoom)[which]
    out = (cols[:, None] * channels + np.arange(channels)).ravel()
    out.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _flat_weights(n: int, zoom: float, channels: int, which: int) -> np.ndarray:
    """Column weights of neighbour ``which`` repeated per channel, for a (rows, n * C) view."""
    out = np.repeat(zoom_plan(n, zoom)[2 + which], channels)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _stacked_plan(n: int, m: int, zoom: float, channels: int) -> tuple[np.ndarray, ...]:
    """Both neighbours of :func:`clipped_zoom` side by side, for one gather per axis.

    Returns ``(lo, hi, cols, rows, wy, wx)``: the source rows ``lo:hi`` used, the flat
    (column, channel) indices of the x0 then x1 neighbours on a (rows, m * C) view
    (2 m C,), the row indices of the y0 then y1 neighbours relative to ``lo`` (2 n,),
    and the matching float64 weights, (2 n, 1) and (2 m C,). Cached, read-only.
    """
    y0, y1, wy0, wy1 = zoom_plan(n, zoom)
    x0, x1, wx0, wx1 = zoom_plan(m, zoom)
    lo, hi = int(min(y0[0], y1[0])), int(max(y0[-1], y1[-1])) + 1
    lanes = np.arange(channels)
    cols = np.concatenate([(x[:, None] * channels + lanes).ravel() for x in (x0, x1)])
    rows = np.concatenate([y0 - lo, y1 - lo])
    wy = np.concatenate([wy0, wy1])[:, None]
    wx = np.concatenate([np.repeat(wx0, channels), np.repeat(wx1, channels)])
    out = (lo, hi, cols, rows, wy, wx)
    for a in out[2:]:
        a.setflags(write=False)
    return out


#: Images of at most this many values zoom with both neighbours stacked (fewer numpy
#: calls); larger ones one term at a time (buffers that stay in cache).
_STACK_MAX = 64 * 64 * 3


class _ZoomScratch:
    """Work buffers of :func:`_zoom_terms`, allocated once per kernel call and reused.

    Fresh megabyte-sized temporaries on every zoom cost page faults and allocator time;
    reusing them across the zooms of one call does not.
    """

    def __init__(self, rows: int, width: int, dtype: np.dtype) -> None:
        self.stacked = rows * width <= _STACK_MAX
        self.cast = np.empty((rows, width), dtype)
        if self.stacked:
            self.cols = np.empty((rows, 2 * width), dtype)
            self.gathered = np.empty((2 * rows, 2 * width), dtype)
            self.terms = np.empty((2 * rows, 2 * width), np.float64)
        else:
            self.pair = (np.empty((rows, width), dtype), np.empty((rows, width), dtype))
            self.total = np.empty((rows, width), np.float64)
            self.term = np.empty((rows, width), np.float64)


def _zoom_terms(flat: np.ndarray, m: int, c: int, zoom: float, scratch: _ZoomScratch) -> np.ndarray:
    """Scipy's order-1 zoom of the (n, m * c) view ``flat``, in float64 (a view of scratch).

    Gathers are exact, so columns are picked first (one flat take for both neighbours),
    then rows (one take for both); the products keep scipy's order, ``(v * wy) * wx``,
    and the four terms are summed in its order, ``((t00 + t01) + t10) + t11``, each
    step one IEEE float64 operation per value.
    """
    if not scratch.stacked:
        return _zoom_terms_large(flat, m, c, zoom, scratch)
    n, width = flat.shape
    lo, hi, cols, rows, wy, wx = _stacked_plan(n, m, zoom, c)
    picked = scratch.cols[: hi - lo]
    # every index is in range by construction; mode='clip' only skips numpy's buffered check
    np.take(flat[lo:hi], cols, axis=1, out=picked, mode="clip")
    np.take(picked, rows, axis=0, out=scratch.gathered, mode="clip")
    terms = scratch.terms
    np.multiply(scratch.gathered, wy, out=terms)
    terms *= wx
    total = terms[:n, :width]
    total += terms[:n, width:]
    total += terms[n:, :width]
    total += terms[n:, width:]
    return total


def _zoom_terms_large(
    flat: np.ndarray, m: int, c: int, zoom: float, scratch: _ZoomScratch
) -> np.ndarray:
    """:func:`_zoom_terms` one term at a time (smaller buffers that stay in cache)."""
    n = flat.shape[0]
    y0, y1, wy0, wy1 = zoom_plan(n, zoom)
    lo, hi = int(min(y0[0], y1[0])), int(max(y0[-1], y1[-1])) + 1
    cols = []
    for k, buf in enumerate(scratch.pair):
        picked = buf[: hi - lo]
        np.take(flat[lo:hi], _flat_columns(m, zoom, c, k), axis=1, out=picked, mode="clip")
        cols.append((picked, _flat_weights(m, zoom, c, k)))
    total, term, gathered = scratch.total, scratch.term, scratch.cast
    first = True
    for rows, wy in ((y0 - lo, wy0), (y1 - lo, wy1)):
        wy = wy[:, None]
        for picked, wx in cols:
            np.take(picked, rows, axis=0, out=gathered, mode="clip")  # indices in range
            dst = total if first else term
            np.multiply(gathered, wy, out=dst)
            dst *= wx
            if not first:
                total += term
            first = False
    return total


def clipped_zoom(image: np.ndarray, zoom: float, *, out_dtype: type | None = None) -> np.ndarray:
    """Magnify the centre by ``zoom`` and keep the central n x n (the scripts' ``clipped_zoom``).

    Args:
        image: Array (H, W) or (H, W, C), float32 or float64; the scripts' images are
            square (their crop uses H for both axes), other shapes zoom each axis by its size.
        zoom: Magnification (>= 1).
        out_dtype: Result dtype (default: the input's, as scipy's output).

    Returns:
        Array of the input's shape.

    """
    if zoom < 1:
        raise ValueError(f"zoom must be >= 1, got {zoom}")
    if float(zoom) == 1.0:
        return np.array(image, dtype=out_dtype or image.dtype)
    src = np.ascontiguousarray(image)
    n, m = src.shape[:2]
    c = src.shape[2] if src.ndim == 3 else 1
    total = _zoom_terms(src.reshape(n, m * c), m, c, float(zoom),
                        _ZoomScratch(n, m * c, src.dtype))
    return total.astype(out_dtype or image.dtype).reshape(src.shape)


def zoom_sum(image: np.ndarray, zooms: tuple[float, ...]) -> np.ndarray:
    """``sum(clipped_zoom(image, z) for z in zooms)`` accumulated in the image's dtype.

    The scripts' ``out += clipped_zoom(x, z)`` loop of ``zoom_blur`` (each zoom cast to
    the image's dtype, then added in order, starting from zeros). With numba installed
    each zoom is one compiled pass (:mod:`corruptions._jit`), otherwise numpy with
    one set of work buffers for all zooms; both give the same bytes.

    Args:
        image: float32 or float64 array (H, W) or (H, W, C).
        zooms: Magnifications (each >= 1), summed in this order.

    Returns:
        Array of the input's shape and dtype.

    """
    return _zoom_sum(image, zooms, compiled=_jit.AVAILABLE)


def _zoom_sum(image: np.ndarray, zooms: tuple[float, ...], *, compiled: bool) -> np.ndarray:
    """:func:`zoom_sum` on the compiled or the numpy path (the tests compare both)."""
    src = np.ascontiguousarray(image)
    n, m = src.shape[:2]
    c = src.shape[2] if src.ndim == 3 else 1
    flat = src.reshape(n, m * c)
    out = np.zeros_like(flat)
    scratch = None
    cast = np.empty(m * c, src.dtype) if compiled else None
    for z in zooms:
        if z < 1:
            raise ValueError(f"zoom must be >= 1, got {z}")
        if float(z) == 1.0:
            out += flat
            continue
        z = float(z)
        if compiled:
            cols = (_flat_columns(m, z, c, 0), _flat_columns(m, z, c, 1),
                    _flat_weights(m, z, c, 0), _flat_weights(m, z, c, 1))
            _jit.accumulate_zoom(flat, out, cast, zoom_plan(n, z), cols)
            continue
        scratch = scratch or _ZoomScratch(n, m * c, src.dtype)
        total = _zoom_terms(flat, m, c, z, scratch)
        np.copyto(scratch.cast, total, casting="same_kind")  # cast like scipy's output
        out += scratch.cast
    return out.reshape(src.shape)


@lru_cache(maxsize=64)
def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """Build the anti-aliased disk of ImageNet-C's ``defocus_blur`` (float32, read-only, cached).

    A binary disk on the ``[-8, 8]^2`` grid (``np.arange(-radius, radius + 1)``
    when radius > 8), normalised, then ``cv2.GaussianBlur`` with a 3x3 (5x5 when
    radius > 8) window and ``sigmaX = alias_blur``, exactly as the scripts build
    it: the full grid is kept (cropping it would change OpenCV's DFT size and the
    last bits of the result). Its float32 taps as small as 1e-45 become ordinary
    float64 numbers in the float64 filtering, so no denormal slow path is hit.

    Args:
        radius: Disk radius in pixels (> 0).
        alias_blur: Anti-aliasing Gaussian sigma in pixels (> 0).

    Returns:
        Square float32 kernel with odd side.

    Example:
        >>> k = disk_kernel(3, 0.1)
        >>> k.shape, round(float(k.sum()), 5)
        ((17, 17), 1.0)

    """
    if radius <= 0 or alias_blur <= 0:
        raise ValueError(f"defocus needs radius > 0 and alias_blur > 0, got {radius}, {alias_blur}")
    if radius <= 8:
        grid = np.arange(-8, 8 + 1)
        ksize = (3, 3)
    else:
        grid = np.arange(-radius, radius + 1)
        ksize = (5, 5)
    gx, gy = np.meshgrid(grid, grid)
    disk = np.array((gx**2 + gy**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    kernel = cv2.GaussianBlur(disk, ksize=ksize, sigmaX=float(alias_blur))
    kernel.setflags(write=False)
    return kernel


def filter2d_per_channel(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.filter2D(x[..., c], -1, kernel)`` for every channel (border reflect-101)."""
    if x.ndim == 2:
        return cv2.filter2D(x, -1, kernel)
    out = np.empty_like(x)
    for c in range(x.shape[2]):
        out[..., c] = cv2.filter2D(np.ascontiguousarray(x[..., c]), -1, kernel)
    return out


@lru_cache(maxsize=64)
def _gaussian_taps(sigma: float, truncate: float) -> np.ndarray:
    """Return scipy's ``gaussian_filter1d`` weights: radius ``int(truncate * sigma + 0.5)``."""
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * taps**2)
    return weights / weights.sum()


@lru_cache(maxsize=64)
def _folded_gaussian_spectrum(n: int, sigma: float, truncate: float) -> np.ndarray:
    """Spectrum of the Gaussian taps wrapped modulo 2n (see :func:`reflect_gaussian`)."""
    weights = _gaussian_taps(sigma, truncate)
    radius = len(weights) // 2
    folded = np.zeros(2 * n)
    np.add.at(folded, np.arange(-radius, radius + 1) % (2 * n), weights)
    return np.fft.rfft(folded)


#: Above this radius (pixels) the FFT route is faster than scipy's direct filter.
_DIRECT_MAX_RADIUS = 64


def reflect_gaussian(field: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(field, sigma, mode='reflect', truncate=truncate)``.

    For ``elastic_transform``'s displacement fields (2-D float64). Upstream:
    ``skimage.filters.gaussian`` (scipy), sigmas up to 252 px. Radii up to
    64 px: scipy itself (bit-exact). Larger: the half-sample symmetric extension of a
    line of n is 2n-periodic, so one small FFT per axis of ``[x, x[::-1]]`` with the
    taps wrapped modulo 2n (within ~1e-15 of scipy, ~30x faster at sigma = 171 px).
    """
    weights = _gaussian_taps(sigma, truncate)
    radius = len(weights) // 2
    if radius <= _DIRECT_MAX_RADIUS:
        out = _gaussian_compiled(np.asarray(field), (sigma,) * np.ndim(field), reflect=True,
                                 truncate=truncate)
        if out is not None:
            return out
        return ndimage.gaussian_filter(field, sigma, mode="reflect", truncate=truncate)
    out = field
    for _ in range(2):  # rows, then (after the transpose) columns
        n = out.shape[1]
        mirrored = np.concatenate([out, out[:, ::-1]], axis=1)
        spectrum = _folded_gaussian_spectrum(n, float(sigma), float(truncate))
        smoothed = np.fft.irfft(np.fft.rfft(mirrored, axis=1) * spectrum, n=2 * n, axis=1)
        out = np.ascontiguousarray(smoothed[:, :n].T)
    return out
