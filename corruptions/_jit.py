"""Compiled kernels with scipy's own arithmetic, value by value (private; numba).

Two loops that numpy can only express as many whole-array passes, compiled into one:

* :func:`accumulate_zoom`, ``zoom_blur``'s ``out += clipped_zoom(x, z)``: for each
  kept output value ``t = (v00 * wy0) * wx0``, then ``t += (v01 * wy0) * wx1``,
  ``t += (v10 * wy1) * wx0``, ``t += (v11 * wy1) * wx1``, then ``out += dtype(t)``
  (rounded to the accumulator's dtype first), where numpy needs about sixteen passes
  (``corruptions._filters._zoom_terms``);
* :func:`map_coordinates_reflect`, ``scipy.ndimage.map_coordinates(order=1,
  mode='reflect')`` of a 2-D float32 plane at float64 coordinates, as
  ``NI_GeometricTransform`` computes it: each coordinate mapped by its ``reflect``
  rule (half-sample symmetric, period 2 n), ``start = floor(cc)``, neighbours past
  an edge mapped by the same rule, weights
  ``w0 = 1 - (cc - floor(cc))``, ``w1 = 1 - w0``, and
  ``t = 0.0 + (v00 * wy0) * wx0 + (v01 * wy0) * wx1 + (v10 * wy1) * wx0 + (v11 * wy1) * wx1``
  in that order, stored as float32;
* :func:`glass_shuffle`, one pass of ``glass_blur``'s pixel shuffle as the scripts run
  it, visit by visit: ``index[p] = index[s]`` (the RGB scripts' view assignment, a
  copy) or a true swap (MNIST-C's 2-D array). Integer moves, exact by construction.

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

__all__ = ["AVAILABLE", "accumulate_zoom", "glass_shuffle", "map_coordinates_reflect"]


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
            if y0 < 0 or y1 >= n:  # neighbours past an edge: the same reflect rule
                y0 = np.intp(_reflect(np.float64(y0), n))
                y1 = np.intp(_reflect(np.float64(y1), n))
            if x0 < 0 or x1 >= m:
                x0 = np.intp(_reflect(np.float64(x0), m))
                x1 = np.intp(_reflect(np.float64(x1), m))
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


@cache
def _compiled(name: str) -> Any:
    """Return the numba-compiled kernel ``name`` (loaded or compiled once per process)."""
    import numba

    jit = numba.njit(cache=True, nogil=True)
    # The kernels call the helpers by their global names, which must be compiled too:
    # swap in their dispatchers (same results; still callable from Python).
    for helper in ("_reflect",):
        if not hasattr(globals()[helper], "py_func"):
            globals()[helper] = jit(globals()[helper])
    return jit({"zoom": _accumulate, "map_reflect": _map_reflect, "shuffle": _shuffle}[name])


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
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; use the numpy path")
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
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; use scipy.ndimage.map_coordinates")
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
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; use the numpy path")
    index = np.arange(n_pix, dtype=np.intp)
    _compiled("shuffle")(index, np.ascontiguousarray(pos, np.intp),
                         np.ascontiguousarray(src, np.intp), swap)
    return index
