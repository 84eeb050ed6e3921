"""Compiled accumulation of scipy's order-1 zoom, for ``zoom_blur``'s loop (private).

:func:`accumulate_zoom` does in one pass over the output what
``corruptions._filters._zoom_terms`` does with numpy in about sixteen (two gathers per
axis, four products per term, three sums): for each kept output value

``t = (v00 * wy0) * wx0``, then ``t += (v01 * wy0) * wx1``, ``t += (v10 * wy1) * wx0``,
``t += (v11 * wy1) * wx1``, every step one IEEE float64 operation in scipy's order, then
``out += dtype(t)`` (the value rounded to the accumulator's dtype first, as the
scripts' ``out += clipped_zoom(x, z)``).

The arithmetic is the numpy path's to the bit: numba compiles without ``fastmath``, so
LLVM neither reassociates the sums nor fuses a product into its sum (no ``contract``
flag on the operations), and SIMD width does not change element-wise results. The
tests compare both paths byte for byte on float32 and float64 images of several shapes
and zooms. Without numba (an optional speed-up, not needed for any result)
:data:`AVAILABLE` is False and callers keep the numpy path.

Reference:
    scipy ``ndimage/src/ni_interpolation.c`` (``NI_ZoomShift``), the order of the
    products and sums of the order-1 spline.
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

__all__ = ["AVAILABLE", "accumulate_zoom"]


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


@cache
def _compiled() -> Any:
    """Return the numba-compiled :func:`_accumulate` (loaded or compiled once per process)."""
    import numba

    return numba.njit(cache=True, nogil=True)(_accumulate)


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
    _compiled()(src, out, cast, *rows, *cols)
