"""Pillow's ``BOX`` resampling reproduced exactly in numpy (for ``pixelate``).

Pillow's 8-bit resize (src/libImaging/Resample.c) is separable: per axis it
computes box coefficients in float64, normalises them, converts them to fixed
point (22 bits) and rounds each pass to uint8. Mirroring that arithmetic gives
byte-identical results to ``PIL.Image.resize(..., BOX)`` about 4x faster for
the small images benchmarks use; :func:`_pixelate_plan` checks the pass order
against the installed Pillow and returns ``None`` (use PIL) when unsure.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

__all__ = ["_BoxPass", "_pil_box_pass", "_pil_box_pass_plan", "_pixelate_plan", "_pixelate_box"]

#: Fixed-point bits of Pillow's 8-bit resampling coefficients (Resample.c: 32 - 8 - 2).
_PIL_PRECISION_BITS = 22


class _BoxPass(NamedTuple):
    """One pass of PIL's ``BOX`` resize along axis 0, as gathers of source rows.

    Output ``i`` is ``(2**21 + k[i] * sum_j src[rows[j][i]]) >> 22``; ``rows`` are
    padded with the index of a zero row the caller appends. ``copy``: one tap
    of weight 1 per output, so the pass is the gather ``src[rows[0]]``.
    """

    rows: tuple[np.ndarray, ...]
    k: np.ndarray
    copy: bool


@lru_cache(maxsize=256)
def _pil_box_pass_plan(in_size: int, out_size: int) -> _BoxPass | None:
    """Plan one pass of PIL's ``BOX`` resize from ``in_size`` to ``out_size`` pixels.

    Mirrors Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc``
    (src/libImaging/Resample.c) in float64 with the same operation order:
    ``scale = in / out``, ``support = 0.5 * max(scale, 1)``,
    ``center = (xx + 0.5) * scale``, window
    ``[int(center - support + 0.5), int(center + support + 0.5))`` clipped to
    the input, box weights of ``(x - center + 0.5) / max(scale, 1)`` in
    (-0.5, 0.5], normalised to sum 1, then ``int(0.5 + w * 2**22)``. A box's
    nonzero weights are all equal, which makes each output one scaled sum.

    Returns:
        The plan, or ``None`` if some output's nonzero weights differ or PIL
        would clip (never seen for a box; the caller then resamples with PIL).
    """
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    ksize = 2 * int(np.ceil(support)) + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum((center + support + 0.5).astype(np.int64), in_size) - xmin
    if (xmax > ksize).any():
        return None
    taps = np.arange(ksize)
    source = taps[None, :] + xmin[:, None]
    arg = (source.astype(np.float64) - center[:, None] + 0.5) * (1.0 / filterscale)
    weights = ((arg > -0.5) & (arg <= 0.5) & (taps[None, :] < xmax[:, None])).astype(np.float64)
    total = weights.sum(axis=1, keepdims=True)  # sums of ones: exact in any order
    weights = np.divide(weights, total, out=weights.copy(), where=total != 0.0)
    one = 1 << _PIL_PRECISION_BITS
    fixed = (0.5 + weights * one).astype(np.int64)
    used = fixed != 0
    k = fixed.max(axis=1)
    counts = used.sum(axis=1)
    if (fixed != k[:, None])[used].any() or (k * 255 * counts + one // 2).max() >= 256 * one:
        return None
    index = np.full((out_size, max(1, int(counts.max()))), in_size, dtype=np.intp)
    for row, picked in enumerate(used):
        index[row, : counts[row]] = source[row, picked]
    return _BoxPass(
        rows=tuple(np.ascontiguousarray(col) for col in index.T),
        k=k.astype(np.int32)[:, None],
        copy=index.shape[1] == 1 and bool((k == one).all()),
    )


def _pil_box_pass(src: np.ndarray, plan: _BoxPass) -> np.ndarray:
    """Apply ``plan`` along axis 0 of ``src`` (in_size + 1, m), whose last row is zero."""
    if plan.copy:
        return src.take(plan.rows[0], axis=0)
    if len(plan.rows) == 1:
        acc = src.take(plan.rows[0], axis=0).astype(np.int32)
    else:
        acc = np.add(src.take(plan.rows[0], axis=0), src.take(plan.rows[1], axis=0),
                     dtype=np.int32)
        for rows in plan.rows[2:]:
            acc += src.take(rows, axis=0)
    acc *= plan.k
    acc += 1 << (_PIL_PRECISION_BITS - 1)
    acc >>= _PIL_PRECISION_BITS
    return acc.astype(np.uint8)


def _cv_transpose(a: np.ndarray) -> np.ndarray:
    """(n, m, c) -> contiguous (m, n, c) by OpenCV (numpy copies 3-byte pixels slowly)."""
    n, m, c = a.shape
    return cv2.transpose(a[..., 0] if c == 1 else a).reshape(m, n, c)


def _transposed_padded(a: np.ndarray) -> np.ndarray:
    """(n, m, c) -> (m + 1, n * c), transposed by OpenCV, the extra last row zero."""
    n, m, c = a.shape
    out = np.empty((m + 1, n * c), dtype=np.uint8)
    out[m] = 0
    cv2.transpose(a[..., 0] if c == 1 else a, dst=out[:m].reshape((m, n) if c == 1 else (m, n, c)))
    return out


def _box_down(x: np.ndarray, passes: tuple[_BoxPass, ...], vertical_first: bool) -> np.ndarray:
    """PIL ``BOX`` resize of (H, W, C) ``x`` by ``passes`` (along W, along H), in that order."""
    h, w, c = x.shape
    sw, sh = len(passes[0].rows[0]), len(passes[1].rows[0])
    if not vertical_first:
        across = _pil_box_pass(_transposed_padded(x), passes[0])  # (sw, h * c)
        small = _pil_box_pass(_transposed_padded(across.reshape(sw, h, c)), passes[1])
        return small.reshape(sh, sw, c)
    padded = np.empty((h + 1, w * c), dtype=np.uint8)
    padded[:h] = x.reshape(h, w * c)
    padded[h] = 0
    down = _pil_box_pass(padded, passes[1])  # (sh, w * c)
    small_t = _pil_box_pass(_transposed_padded(down.reshape(sh, w, c)), passes[0])
    return _cv_transpose(small_t.reshape(sw, sh, c))


#: Random probe images tried, at most, to tell Pillow's pass order.
_PROBES = 16


@lru_cache(maxsize=256)
def _pixelate_plan(
    h: int, w: int, c: int, sh: int, sw: int
) -> tuple[tuple[_BoxPass, ...], bool] | None:
    """Plan PIL ``BOX`` down to (sh, sw) then ``BOX`` up to (h, w): passes and pass order.

    The passes are (down W, down H, up W, up H); the way up is two gathers.
    Pillow resamples horizontally first, except that Pillow >= 13 starts with
    the vertical pass for some shapes (python-pillow/Pillow#9549). The order
    changes the intermediate rounding, so it is read off the installed Pillow:
    random (h, w, c) probes are resized by PIL and both ways until one order
    alone reproduces them. ``None`` (resample with PIL) if none or both do.
    """
    planned = [_pil_box_pass_plan(*sizes) for sizes in ((w, sw), (h, sh), (sw, w), (sh, h))]
    passes = tuple(p for p in planned if p is not None)
    if len(passes) < 4 or not (passes[2].copy and passes[3].copy):
        return None
    if passes[0].copy or passes[1].copy:
        return passes, False  # a pure gather commutes with the other pass
    rng = np.random.default_rng([h, w, c, sh, sw])
    orders = {False, True}
    for _ in range(_PROBES):
        probe = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        pil = Image.fromarray(probe[..., 0] if c == 1 else probe)
        expected = np.asarray(pil.resize((sw, sh), Image.Resampling.BOX)).reshape(sh, sw, c)
        orders = {v for v in orders if np.array_equal(_box_down(probe, passes, v), expected)}
        if len(orders) <= 1:
            break
    return (passes, orders.pop()) if len(orders) == 1 else None


#: Below this many values the way up gathers columns in place; above, OpenCV
#: transposes make both gathers row copies.
_SMALL = 64 * 64 * 3


def _pixelate_box(
    x: np.ndarray, passes: tuple[_BoxPass, ...], vertical_first: bool
) -> np.ndarray:
    """PIL ``BOX`` down then ``BOX`` up of (H, W, C) ``x``."""
    h, w, c = x.shape
    small = _box_down(x, passes, vertical_first)  # (sh, sw, c)
    sw = small.shape[1]
    if x.size <= _SMALL:
        return small.take(passes[2].rows[0], axis=1).take(passes[3].rows[0], axis=0)
    tall = small.take(passes[3].rows[0], axis=0)  # (h, sw, c)
    wide = _cv_transpose(tall).reshape(sw, h * c).take(passes[2].rows[0], axis=0)
    return _cv_transpose(wide.reshape(w, h, c))
