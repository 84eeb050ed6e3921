"""Diamond-square plasma fractal for ``fog`` (private).

The algorithm and its constants are those of the ImageNet-C scripts
(``plasma_fractal``, a modification of FLHerne/mapgen ``diamondsquare.py``):
the map starts at 0, every level fills square centres then diamond centres with
the mean of their four neighbours (wrapping around) divided as upstream plus a
uniform perturbation ``wibble * U(-wibble, wibble)``; ``wibble`` starts at 100
and is divided by ``decay`` after every level; the result is rescaled to
[0, 1]. Levels are vectorised exactly like upstream, in float64 with upstream's
order of operations, and the perturbations are ``rng.uniform(-wibble, wibble,
shape)`` (the same formula as numpy's legacy ``uniform``), so given the same
uniforms the map equals upstream's bit for bit.

Reference:
    Hendrycks & Dietterich (2019), hendrycks/robustness
    ``ImageNet-C/create_c/make_imagenet_c.py`` ``plasma_fractal``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["next_power_of_2", "plasma_fractal"]


def next_power_of_2(n: int) -> int:
    """Smallest power of two >= ``n`` (1 for ``n <= 1``).

    Example:
        >>> next_power_of_2(224), next_power_of_2(256), next_power_of_2(28)
        (256, 256, 32)

    """
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def _roll(a: np.ndarray, shift: int, axis: int) -> np.ndarray:
    """``np.roll(a, shift, axis)`` for ``shift`` in {-1, 1} on a 2-D array, without its overhead."""
    if a.shape[axis] == 1:
        return a.copy()
    if axis == 0:
        return np.concatenate((a[-1:], a[:-1]) if shift == 1 else (a[1:], a[:1]), axis=0)
    return np.concatenate((a[:, -1:], a[:, :-1]) if shift == 1 else (a[:, 1:], a[:, :1]), axis=1)


def plasma_fractal(map_size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """Generate a square plasma-fractal height map in [0, 1].

    Args:
        map_size: Side in pixels; a power of two >= 2.
        decay: ``wibbledecay``, the factor dividing the perturbation amplitude at
            every finer level (> 0; larger means smoother).
        rng: Source of the uniform perturbations (``rng.uniform(low, high, shape)``).

    Returns:
        A float64 array (map_size, map_size) with minimum 0 and maximum 1.

    Example:
        >>> m = plasma_fractal(32, 2.0, np.random.default_rng(0))
        >>> m.shape, float(m.min()), float(m.max())
        ((32, 32), 0.0, 1.0)

    """
    size = int(map_size)
    if size < 2 or size & (size - 1):
        raise ValueError(f"map_size must be a power of two >= 2, got {map_size}")
    if decay <= 0:
        raise ValueError(f"decay must be > 0, got {decay}")
    grid = np.zeros((size, size), dtype=np.float64)
    step = size
    wibble = 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        # Squares: centre = mean of the four corners + perturbation.
        corners = grid[0:size:step, 0:size:step]
        acc = corners + _roll(corners, -1, axis=0)
        acc += _roll(acc, -1, axis=1)
        grid[half:size:step, half:size:step] = wibbled_mean(acc)
        # Diamonds: edge midpoints from two corners and two square centres.
        centres = grid[half:size:step, half:size:step]
        corners = grid[0:size:step, 0:size:step]
        lt = (centres + _roll(centres, 1, axis=0)) + (corners + _roll(corners, -1, axis=1))
        grid[0:size:step, half:size:step] = wibbled_mean(lt)
        tt = (centres + _roll(centres, 1, axis=1)) + (corners + _roll(corners, -1, axis=0))
        grid[half:size:step, 0:size:step] = wibbled_mean(tt)
        step = half
        wibble /= decay
    grid -= grid.min()
    return grid / grid.max()
