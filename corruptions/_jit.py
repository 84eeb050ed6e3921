"""Compiled kernels with scipy's own arithmetic, value by value (private; numba).

Loops that numpy can only express as many whole-array passes, each compiled into one:

* :func:`accumulate_zoom`, ``zoom_blur``'s ``out += clipped_zoom(x, z)``: for each
  kept output value ``t = (v00 * wy0) * wx0``, then ``t += (v01 * wy0) * wx1``,
  ``t += (v10 * wy1) * wx0``, ``t += (v11 * wy1) * wx1``, then ``out += dtype(t)``
  (rounded to the accumulator's dtype first), where numpy needs about sixteen passes
  (``corruptions._filters._zoom_terms``);
* :func:`map_coordinates_reflect`, ``scipy.ndimage.map_coordinates(order=1,
  mode='reflect')`` of a 2-D float32 plane at float64 coordinates, as
  ``NI_GeometricTransform`` computes it: each coordinate mapped by its ``reflect``
  rule (half-sample symmetric, period 2 n, with scipy's guard that keeps a mapped
  coordinate off -1 exactly), ``start = floor(cc)``, neighbours past
  an edge mapped by the same rule, weights
  ``w0 = 1 - (cc - floor(cc))``, ``w1 = 1 - w0``, and
  ``t = 0.0 + (v00 * wy0) * wx0 + (v01 * wy0) * wx1 + (v10 * wy1) * wx0 + (v11 * wy1) * wx1``
  in that order, stored as float32;
* :func:`glass_shuffle`, one pass of ``glass_blur``'s pixel shuffle as the scripts run
  it, visit by visit: ``index[p] = index[s]`` (the RGB scripts' view assignment, a
  copy) or a true swap (MNIST-C's 2-D array). Integer moves, exact by construction;
* :func:`gaussian_rows` / :func:`gaussian_columns`, ``scipy.ndimage.correlate1d`` with
  a symmetric kernel (what ``gaussian_filter`` runs per axis) in modes ``nearest`` and
  ``reflect``, as ``NI_Correlate1D``'s symmetric branch computes each value:
  ``acc = x[l] * w[r]``, then for ``k = r, ..., 1``
  ``acc += (x[l - k] + x[l + k]) * w[r - k]`` in float64, stored in the output dtype.
  Whole lines accumulate at once, one tap after the other (the same operations per
  value), so every tap is one contiguous, vectorisable pass.

Every step is one IEEE float64 operation in the reference's order: numba compiles
without ``fastmath``, so LLVM neither reassociates the sums nor fuses a product into
its sum (no ``contract`` flag on the operations), and SIMD width does not change
element-wise results. The tests compare each kernel with the numpy or scipy call
byte for byte, at the presets' sizes and on odd shapes, coordinates past every edge
included. numba is imported, and each kernel loaded from numba's on-disk cache or
compiled, on its first call only; without numba :data:`AVAILABLE` is False and the
callers keep their numpy/scipy paths (same bytes, slower).

Reference:
    scipy ``ndimage/src/ni_interpolation.c`` (``map_coordinate``,
    ``NI_GeometricTransform``, ``NI_ZoomShift``) and ``ni_splines.c``
    (``get_spline_interpolation_weights``).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

import numpy as np

#: Whether the compiled kernel can be used (numba installed). numba itself is imported,
#: and the kernel loaded from its on-disk cache or compiled, on the first call only, so
#: importing the corruptions costs nothing extra.
AVAILABLE = importlib.util.find_spec("numba") is not None

__all__ = [
    "AVAILABLE", "accumulate_zoom", "gaussian_columns", "gaussian_rows", "glass_shuffle",
    "map_coordinates_reflect",
]


def _accumulate(src, out, cast, y0, y1, wy0, wy1, c0, c1, wx0, wx1):  # noqa: ANN001
    """Add one zoom of ``src`` (rows, width) to ``out``, value by value (see module doc)."""
    n, width = out.shape
    for i in range(n):
        r0 = y0[i]
        r1 = y1[i]
        a = wy0[i]
        b = wy1[i]
        for k in range(width):
            j0 = c0[k]
            j1 = c1[k]
            p = wx0[k]
            q = wx1[k]
            t = (np.float64(src[r0, j0]) * a) * p
            t += (np.float64(src[r0, j1]) * a) * q
            t += (np.float64(src[r1, j0]) * b) * p
            t += (np.float64(src[r1, j1]) * b) * q
            cast[k] = t  # rounded to the accumulator's dtype, like numpy's cast
        for k in range(width):
            out[i, k] += cast[k]


def _map_reflect(plane, rows, cols, out):  # noqa: ANN001
    """``map_coordinates(plane, (rows, cols), order=1, mode='reflect')`` into ``out``."""
    n, m = plane.shape
    h, w = out.shape
    for i in range(h):
        for j in range(w):
            cy = _reflect(rows[i, j], n)
            cx = _reflect(cols[i, j], m)
            if not (cy > -1.0 and cx > -1.0):  # NaN: scipy's constant fallback, cval 0
                out[i, j] = 0.0
                continue
            fy = np.floor(cy)
            fx = np.floor(cx)
            y0 = np.intp(fy)
            x0 = np.intp(fx)
            a0 = 1.0 - (cy - fy)
            a1 = 1.0 - a0
            b0 = 1.0 - (cx - fx)
            b1 = 1.0 - b0
            y1 = y0 + 1
            x1 = x0 + 1
            # the mapped coordinate lies in (-1, size - 1], so a neighbour is at most one
            # past an edge: the reflect rule on an integer is the single reflection
            y0 = _extend(y0, n, True)
            y1 = _extend(y1, n, True)
            x0 = _extend(x0, m, True)
            x1 = _extend(x1, m, True)
            t = 0.0
            t += (np.float64(plane[y0, x0]) * a0) * b0
            t += (np.float64(plane[y0, x1]) * a0) * b1
            t += (np.float64(plane[y1, x0]) * a1) * b0
            t += (np.float64(plane[y1, x1]) * a1) * b1
            out[i, j] = t


def _reflect(x, size):  # noqa: ANN001
    """Map a coordinate past an edge as scipy's ``map_coordinate`` (``NI_EXTEND_REFLECT``)."""
    if x < 0:
        if size <= 1:
            return 0.0
        sz2 = 2 * size
        if x < -sz2:
            x = sz2 * np.float64(np.intp(-x / sz2)) + x
        if x < -size:
            return x + sz2
        return (1e-15 if x > -1e-15 else -x) - 1  # scipy's guard: never exactly -1
    if x > size - 1:
        if size <= 1:
            return 0.0
        sz2 = 2 * size
        x -= sz2 * np.float64(np.intp(x / sz2))
        if x >= size:
            x = sz2 - x - 1
    return x


def _shuffle(index, pos, src, swap):  # noqa: ANN001
    """Apply the visits ``(pos[i], src[i])`` in order to the flat source ``index``."""
    for i in range(pos.shape[0]):
        p = pos[i]
        s = src[i]
        if swap:
            index[p], index[s] = index[s], index[p]
        else:
            index[p] = index[s]


def _extend(idx, size, reflect):  # noqa: ANN001
    """Index of a line position past an edge: scipy's ``nearest`` or ``reflect`` extension."""
    if idx < 0:
        return -idx - 1 if reflect else 0
    if idx >= size:
        return 2 * size - 1 - idx if reflect else size - 1
    return idx


def _gauss_rows(src, out, w, reflect, acc):  # noqa: ANN001
    """Correlate the 2-D ``src`` along axis 0 with the symmetric taps ``w`` into ``out``."""
    length = src.shape[0]
    r = w.shape[0] // 2
    for ll in range(length):
        c0 = w[r]
        row = src[ll]
        for i in range(acc.shape[0]):
            acc[i] = np.float64(row[i]) * c0
        for k in range(r, 0, -1):
            a = src[_extend(ll - k, length, reflect)]
            b = src[_extend(ll + k, length, reflect)]
            wk = w[r - k]
            for i in range(acc.shape[0]):
                acc[i] += (np.float64(a[i]) + np.float64(b[i])) * wk
        dst = out[ll]
        for i in range(acc.shape[0]):
            dst[i] = acc[i]


def _gauss_columns(src, out, w, channels, reflect, acc, buf):  # noqa: ANN001
    """Correlate each (W * C) line of the 2-D ``src`` along W (stride C) into ``out``.

    Each line is first copied to a float64 buffer extended by ``r`` columns on both
    sides, as scipy's line buffer.
    """
    rows, wc = src.shape
    width = wc // channels
    r = w.shape[0] // 2
    pad = r * channels
    for h in range(rows):
        row = src[h]
        for j in range(wc):
            buf[pad + j] = row[j]
        for q in range(1, r + 1):
            left = _extend(-q, width, reflect) * channels + pad
            right = _extend(width - 1 + q, width, reflect) * channels + pad
            for c in range(channels):
                buf[pad - q * channels + c] = buf[left + c]
                buf[pad + wc + (q - 1) * channels + c] = buf[right + c]
        c0 = w[r]
        for j in range(wc):
            acc[j] = buf[pad + j] * c0
        for k in range(r, 0, -1):
            wk = w[r - k]
            a = buf[pad - k * channels : pad - k * channels + wc]
            b = buf[pad + k * channels : pad + k * channels + wc]
            for j in range(wc):
                acc[j] += (a[j] + b[j]) * wk
        dst = out[h]
        for j in range(wc):
            dst[j] = acc[j]


@cache
def _compiled(name: str) -> Any:
    """Return the numba-compiled kernel ``name`` (loaded or compiled once per process).

    Raises:
        RuntimeError: numba is not installed (callers check :data:`AVAILABLE` first).
    """
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; use the numpy/scipy path")
    import numba

    jit = numba.njit(cache=True, nogil=True)
    # The kernels call the helpers by their global names, which must be compiled too:
    # swap in their dispatchers (same results; still callable from Python).
    for helper in ("_reflect", "_extend"):
        if not hasattr(globals()[helper], "py_func"):
            globals()[helper] = jit(globals()[helper])
    kernels = {"zoom": _accumulate, "map_reflect": _map_reflect, "shuffle": _shuffle,
               "gauss_rows": _gauss_rows, "gauss_columns": _gauss_columns}
    return jit(kernels[name])


def accumulate_zoom(
    src: np.ndarray,
    out: np.ndarray,
    cast: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """``out += cast_to(out.dtype, zoom_terms(src))`` in place, compiled.

    Args:
        src: C-contiguous float32 or float64 (rows, m * C) view of the image.
        out: C-contiguous accumulator of ``src``'s dtype and shape.
        cast: 1-D work buffer of ``out``'s dtype, at least ``out.shape[1]`` long.
        rows: ``(y0, y1, wy0, wy1)`` of :func:`corruptions._filters.zoom_plan`
            (source rows, float64 weights) for the ``rows`` output rows.
        cols: ``(x0, x1, wx0, wx1)``: the flat (column, channel) source indices of both
            neighbours and their per-channel float64 weights, each ``m * C`` long.

    Raises:
        RuntimeError: numba is not installed (check :data:`AVAILABLE` first).

    """
    _compiled("zoom")(src, out, cast, *rows, *cols)


def map_coordinates_reflect(plane: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.map_coordinates(plane, coords, output=float32, order=1, mode='reflect')``.

    Args:
        plane: C-contiguous float32 (H, W) image.
        coords: float64 (2, H', W') sample positions, rows then columns, in pixels.

    Returns:
        float32 (H', W'), the same bytes as scipy's call.

    Raises:
        RuntimeError: numba is not installed (check :data:`AVAILABLE` first).

    """
    out = np.empty(coords.shape[1:], np.float32)
    _compiled("map_reflect")(plane, coords[0], coords[1], out)
    return out


def glass_shuffle(n_pix: int, pos: np.ndarray, src: np.ndarray, *, swap: bool) -> np.ndarray:
    """Flat source index of every pixel after one shuffle pass, visit by visit.

    Args:
        n_pix: H * W.
        pos: int (n,) flat positions visited, in visit order.
        src: int (n,) flat position each visit reads (``pos + dy * W + dx``), in range.
        swap: True for MNIST-C's swap, False for the RGB scripts' copy.

    Returns:
        intp (n_pix,): ``out.flat[i] = x.flat[index[i]]``.

    Raises:
        RuntimeError: numba is not installed.

    """
    index = np.arange(n_pix, dtype=np.intp)
    _compiled("shuffle")(index, np.ascontiguousarray(pos, np.intp),
                         np.ascontiguousarray(src, np.intp), swap)
    return index


def _check_taps(weights: np.ndarray, length: int, reflect: bool) -> int:
    r = weights.shape[0] // 2
    if weights.shape[0] % 2 == 0 or not np.array_equal(weights, weights[::-1]):
        raise ValueError("the compiled correlation needs odd, exactly symmetric taps")
    if reflect and r >= length:
        raise ValueError(f"reflect needs a radius ({r}) below the line length ({length})")
    return r


def gaussian_rows(src: np.ndarray, out: np.ndarray, weights: np.ndarray, *,
                  reflect: bool) -> None:
    """``correlate1d(src, weights, axis=0, output=out, mode=...)`` on an (H, W * C) image.

    Args:
        src: C-contiguous float32 or float64 (H, W * C) array.
        out: C-contiguous array of ``src``'s shape (values rounded to its dtype).
        weights: float64 taps, odd length ``2 r + 1``, exactly symmetric.
        reflect: ``reflect`` mode (half-sample symmetric) if True, else ``nearest``;
            with ``reflect`` the radius must be below H (one reflection).

    Raises:
        RuntimeError: numba is not installed (check :data:`AVAILABLE` first).
        ValueError: the taps are not odd and symmetric, or ``reflect`` with r >= H.

    """
    _check_taps(weights, src.shape[0], reflect)
    _compiled("gauss_rows")(src, out, weights, reflect, np.empty(src.shape[1], np.float64))


def gaussian_columns(src: np.ndarray, out: np.ndarray, weights: np.ndarray, channels: int, *,
                     reflect: bool) -> None:
    """``correlate1d`` along axis 1 of an (H, W, C) image, given as its (H, W * C) view.

    Args:
        src: C-contiguous float32 or float64 (H, W * C) array.
        out: C-contiguous array of ``src``'s shape (values rounded to its dtype).
        weights: float64 taps, odd and exactly symmetric.
        channels: C, the interleaved channels (each filtered on its own).
        reflect: ``reflect`` mode if True, else ``nearest``; with ``reflect`` the radius
            must be below W.

    Raises:
        RuntimeError: numba is not installed.
        ValueError: the taps are not odd and symmetric, or ``reflect`` with r >= W.

    """
    r = _check_taps(weights, src.shape[1] // channels, reflect)
    acc = np.empty(src.shape[1], np.float64)
    buf = np.empty(src.shape[1] + 2 * r * channels, np.float64)
    _compiled("gauss_columns")(src, out, weights, channels, reflect, acc, buf)
