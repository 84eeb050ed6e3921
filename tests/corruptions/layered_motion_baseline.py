"""The previous xy/z motion blur: layered parallax blur, no occlusion, no hole filling.

benchsmith's own kernels as they were before ``corruptions.motion3d`` (main at
b1b3d31, ``corruptions/depth.py``), kept verbatim as the baseline that the
occlusion test and ``benchmarks/bench_3dcc_motion.py`` compare against: every
depth level blurs the *whole* image along its parallax (a line kernel for xy,
averaged warps for z) and pixels blend the two levels around their depth, so
far texture and near objects mix at every depth edge. (Its z warp was also a
zoom *out*: the matrix meant as output-to-source went to ``cv2.warpAffine``
without ``WARP_INVERSE_MAP``.) Test and benchmark only.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from corruptions.depth import _composite, _levels, normalise_depth

F32 = NDArray[np.float32]

def _line_kernel(step: tuple[float, float], n: int) -> tuple[F32, tuple[int, int]]:
    """Correlation kernel averaging ``I(x - i*step)``, i < n, with bilinear taps."""
    offs = -np.arange(n, dtype=np.float64)[:, None] * np.asarray(step)[None, :]  # (n, [dx, dy])
    r = int(np.ceil(np.abs(offs).max())) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float64)
    for ox, oy in offs:
        x0, y0 = int(np.floor(ox)), int(np.floor(oy))
        fx, fy = ox - x0, oy - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                k[r + y0 + dy, r + x0 + dx] += wx * wy / n
    return k.astype(np.float32), (r, r)


def xy_motion_blur(
    image: np.ndarray,
    *,
    n_frames: int,
    path_frames: int,
    u_min: float,
    u_max: float,
    v_max: float,
    n_layers: int,
    depth: np.ndarray,
    rng: np.random.Generator,
) -> F32:
    """Average the first frames of a sideways camera move, with depth parallax.

    The nearest point moves ``(u, v)`` px over ``path_frames`` frames, with
    ``|u| ~ U[u_min, u_max)`` (random sign) and ``v ~ U[-v_max, v_max)``; a
    point at depth ``z`` moves ``(u, v) * q_0 / z``. The output is the mean of
    the first ``n_frames`` frames, rendered per depth level as a line kernel.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        n_frames: Frames averaged (severity), 1..path_frames.
        path_frames: Frames of the whole path (60).
        u_min: Smallest horizontal travel of the nearest point, px.
        u_max: Largest horizontal travel, px.
        v_max: Largest vertical travel magnitude, px.
        n_layers: Depth-quantile layers (levels = n_layers + 1).
        depth: (H, W), larger = farther, any positive scale.
        rng: Draws sign of u, then |u|, then v.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``create_motion.py`` (3D Ken Burns, ``random_u``/``random_v``, mean of
        the first N of 60 frames), approximated by layered parallax blur.

    """
    sign = -1.0 if rng.integers(2) else 1.0
    u = sign * rng.uniform(u_min, u_max)
    v = rng.uniform(-v_max, v_max)
    img = image.astype(np.float32)
    d = normalise_depth(depth, image.shape)
    q = _levels(d, n_layers)
    near = float(d.min())
    per_frame = np.array([u, v]) / max(path_frames - 1, 1)

    def render(k: int) -> F32:
        step = per_frame * near / max(q[k], near)
        kernel, anchor = _line_kernel((float(step[0]), float(step[1])), int(n_frames))
        return cv2.filter2D(img, -1, kernel, anchor=anchor, borderType=cv2.BORDER_REFLECT_101)

    return _composite(d, q, render)


def z_motion_blur(
    image: np.ndarray,
    *,
    n_frames: int,
    path_frames: int,
    zoom_min: float,
    zoom_max: float,
    jitter: float,
    n_layers: int,
    depth: np.ndarray,
    rng: np.random.Generator,
) -> F32:
    """Average the first frames of a forward camera dolly, with depth parallax.

    Over ``path_frames`` frames the camera moves forward until the nearest
    plane is magnified ``1/s`` (``s ~ U[zoom_min, zoom_max)`` drawn per axis)
    and shifted by ``(du, dv) ~ U[-jitter, jitter)`` px. At path fraction ``t``
    a point at depth ``z`` is magnified ``z / (z - t q_0 (1 - s))`` about the
    image centre and shifted ``t (du, dv) q_0 / z`` times that magnification.
    Each depth level averages its first ``n_frames`` frames (sampled at most
    every 0.75 px of motion); levels are blended by depth.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        n_frames: Frames averaged (severity), 1..path_frames.
        path_frames: Frames of the whole path (60).
        zoom_min: Smallest crop scale ``s`` at the path's end (nearest plane).
        zoom_max: Largest crop scale.
        jitter: Largest centre shift of the nearest plane, px.
        n_layers: Depth-quantile layers (levels = n_layers + 1).
        depth: (H, W), larger = farther, any positive scale.
        rng: Draws du, dv, then s_u, s_v.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``create_motion.py`` zoom blur (``random_scale_u/v = U[0.5, 0.6)``,
        ``random_u/v = randint(-30, 30)``, mean of the first N of 60 frames).

    """
    du, dv = rng.uniform(-jitter, jitter, size=2)
    su, sv = rng.uniform(zoom_min, zoom_max, size=2)
    img = image.astype(np.float32)
    h, w = img.shape[:2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    d = normalise_depth(depth, image.shape)
    q = _levels(d, n_layers)
    near = float(d.min())
    t_end = (int(n_frames) - 1) / max(path_frames - 1, 1)
    half_diag = float(np.hypot(w, h)) / 2.0

    def warp_params(z: float, t: float) -> tuple[float, float, float, float]:
        mx = z / (z - t * near * (1.0 - su))
        my = z / (z - t * near * (1.0 - sv))
        return mx, my, t * du * near / z * mx, t * dv * near / z * my

    def render(k: int) -> F32:
        z = max(float(q[k]), near)
        mx, my, sx, sy = warp_params(z, t_end)
        travel = max(abs(mx - 1.0), abs(my - 1.0)) * half_diag + float(np.hypot(sx, sy))
        n = int(min(n_frames, max(1, np.ceil(travel / 0.75) + 1)))
        acc = np.zeros_like(img)
        for t in np.linspace(0.0, t_end, n):
            mx, my, sx, sy = warp_params(z, float(t))
            # frame(x') = I(x), x' = c + m (x - c) + s  ->  x = c + (x' - c - s) / m
            mat = np.array(
                [[1 / mx, 0, cx - (cx + sx) / mx], [0, 1 / my, cy - (cy + sy) / my]], np.float64
            )
            acc += cv2.warpAffine(
                img, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
            )
        return acc / np.float32(n)

    return _composite(d, q, render)

