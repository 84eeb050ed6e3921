"""Occlusion-aware layered rendering of a camera move, for the 3DCC motion blurs.

The 3D Common Corruptions script renders each frame of a camera path from a
3D Ken Burns point cloud (z-buffered splats, a network inpainter for the
disoccluded background) and averages the first N frames. This module is a
classical, CPU-only stand-in built from depth layers:

1. **Layers.** Depth is cut at ``n_layers + 1`` quantiles into layers
   ``L_0`` (nearest) .. ``L_n-1`` (farthest); empty layers (ties in depth) are
   dropped. Each layer moves rigidly with the parallax of its mean *disparity*
   (``z_k = 1 / mean(1 / d)``), so its average pixel moves as the point cloud's does.
2. **Background behind each layer.** Layer ``k`` covers its own pixels *and*
   every nearer pixel: its colour there is the image with the nearer pixels
   filled by OpenCV's Telea inpainting (:func:`cv2.inpaint`, radius 3 px) from
   layer ``k`` and farther pixels, once per layer, not per frame. When a nearer
   layer moves away, the pixels it uncovers show this fill (the disocclusion).
   The farthest layer is opaque everywhere, so no frame has a hole. Given the
   camera path, only the part of the fill the path can reveal is computed
   (the frames are bit-identical to the full fill's).
3. **Alpha.** ``clip(2 * G_sigma * mask, 0, 1)`` with a ``sigma = 0.5`` px
   Gaussian: 1 on every pixel of the layer (a near object keeps its own colour),
   feathered half a pixel to a pixel outward so layer edges are antialiased.
4. **Frames.** For each sampled time ``t`` every layer is warped by its affine
   camera motion (``cv2.warpAffine``, bilinear, reflected border; colour and
   alpha) and composited far to near (``over``); the output
   is the mean of the frames. Frames are sampled at most every 0.5 px of the
   fastest layer's motion over the averaged part of the path (equally spaced, so
   the mean displacement equals the full frame set's).

The camera paths (:func:`xy_warp`, :func:`z_warp`) are the script's, with
its "closest depth" (:func:`principal_depth`, the minimum of the central crop)
moving the nominal travel. Pure and deterministic: no randomness here (the kernels in
:mod:`corruptions.depth` draw the camera path from the registry's ``rng``).

Reference:
    O. F. Kar, T. Yeo, A. Atanov, A. Zamir, "3D Common Corruptions and Data
    Augmentation", CVPR 2022 (``create_3dcc/motion_video``); S. Niklaus, L. Mai,
    J. Yang, F. Liu, "3D Ken Burns Effect from a Single Image", SIGGRAPH Asia 2019;
    A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method",
    J. Graphics Tools 9(1), 2004.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from corruptions.image import U8Image

__all__ = [
    "Layer",
    "split_layers",
    "render_path",
    "frame_times",
    "xy_warp",
    "z_warp",
    "xy_motion",
    "z_motion",
    "principal_depth",
]

F32 = NDArray[np.float32]
#: Warp of a layer at representative depth ``z`` and path time ``t``: a 2x3
#: matrix mapping output pixel (x, y, 1) to the source pixel it samples.
Warp = Callable[[float, float], NDArray[np.float64]]

_FEATHER_SIGMA = 0.5  # px, alpha antialiasing
_INPAINT_RADIUS = 3.0  # px, Telea neighbourhood
_FRAME_STEP = 0.5  # px of the fastest layer's motion between sampled frames
_NEAR_BORDER = 128.0 / 512.0  # the script takes the nearest depth inside [128:-128] of 512 px
_MIN_AHEAD = 0.1  # z_warp: a layer stays >= 0.1 of its depth ahead of the camera (m <= 10)
_BLEND_SCALE = np.float32(1024.0)  # blendLinear weight scale (see render_path)


@dataclass(frozen=True)
class Layer:
    """One depth layer, ready to warp.

    Attributes:
        depth: Representative depth ``1 / mean(1 / d)`` of the layer's own pixels.
        colour: float32 (H, W, 3) on the 0..255 scale, defined everywhere (the
            image, with nearer pixels inpainted).
        alpha: float32 (H, W) in [0, 1], or ``None`` for the farthest layer
            (opaque everywhere).
        pixels: Number of pixels the layer owns.
    """

    depth: float
    colour: F32
    alpha: F32 | None
    pixels: int


def split_layers(
    image: U8Image, d: F32, n_layers: int, *, warp: Warp | None = None, t_end: float = 1.0
) -> list[Layer]:
    """Cut an image into occlusion-ready depth layers, far to near.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        d: Depth (H, W), positive, larger = farther (already normalised).
        n_layers: Number of depth-quantile layers, >= 1.
        warp: The camera path the layers will be rendered along, or ``None``.
            Given, each layer is inpainted only where it can ever be seen: within
            ``2 R + 12`` px of its own and farther pixels, ``R`` the largest
            displacement of the next nearer layer relative to it over
            ``[0, t_end]`` (twice, so that Telea's march from the untouched
            interior never reaches a visible pixel; the rendered frames are the
            same as with the full fill, ``test_band_fill_renders_like_full_fill``).
        t_end: Last path time rendered, in [0, 1].

    Returns:
        The non-empty layers ordered far to near (composite in this order).

    Raises:
        ValueError: ``n_layers < 1`` or a depth that is not positive and finite.

    Example:
        >>> img = np.zeros((4, 4, 3), np.uint8)
        >>> d = np.ones((4, 4), np.float32); d[:, 2:] = 4.0
        >>> [(lay.depth, lay.pixels, lay.alpha is None) for lay in split_layers(img, d, 6)]
        [(4.0, 8, True), (1.0, 8, False)]

    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    d64 = np.asarray(d, dtype=np.float64)
    if not np.all(np.isfinite(d64)) or d64.min() <= 0:
        raise ValueError("depth must be positive and finite (normalise it first)")
    q = np.quantile(d64, np.linspace(0.0, 1.0, n_layers + 1))
    label = np.clip(np.searchsorted(q, d64, side="right") - 1, 0, n_layers - 1)
    present = [k for k in range(n_layers) if np.any(label == k)]
    depths = {k: float(1.0 / np.mean(1.0 / d64[label == k])) for k in present}
    src = np.ascontiguousarray(image)
    layers = []
    for i, k in enumerate(reversed(present)):  # far to near
        nearer = (label < k).astype(np.uint8)
        colour = src
        if nearer.any():
            if warp is not None:
                nxt = present[len(present) - 2 - i]  # the next nearer layer
                reach = _relative_reach(warp, depths[k], depths[nxt], t_end, d.shape)
                inside = cv2.distanceTransform(nearer, cv2.DIST_L2, 5)
                nearer = (nearer & (inside <= 2.0 * reach + 12.0)).astype(np.uint8)
            colour = cv2.inpaint(src, nearer, _INPAINT_RADIUS, cv2.INPAINT_TELEA)
        alpha = None
        if k != present[-1]:  # the farthest layer stays opaque everywhere
            cover = (label <= k).astype(np.float32)
            blur = cv2.GaussianBlur(cover, (0, 0), _FEATHER_SIGMA,
                                    borderType=cv2.BORDER_REFLECT_101)
            alpha = np.minimum(2.0 * blur, 1.0)
            alpha[cover > 0] = 1.0
        layers.append(Layer(depth=depths[k], colour=colour.astype(np.float32), alpha=alpha,
                            pixels=int((label == k).sum())))
    return layers


def _relative_reach(warp: Warp, z_far: float, z_near: float, t_end: float,
                    shape: tuple[int, ...]) -> float:
    """Largest displacement (px) of layer ``z_near`` relative to ``z_far`` up to ``t_end``."""
    h, w = shape[:2]
    corners = np.array([[0.0, 0.0, 1.0], [w - 1.0, 0.0, 1.0], [0.0, h - 1.0, 1.0],
                        [w - 1.0, h - 1.0, 1.0]]).T
    reach = 0.0
    for t in np.linspace(0.0, t_end, 9):
        delta = (warp(z_near, float(t)) - warp(z_far, float(t))) @ corners
        reach = max(reach, float(np.hypot(*delta).max()))
    return reach


def render_path(layers: list[Layer], warp: Warp, times: NDArray[np.float64]) -> F32:
    """Mean over ``times`` of the far-to-near composite of the warped layers.

    Args:
        layers: From :func:`split_layers` (far to near).
        warp: ``warp(z, t)`` -> 2x3 output-to-source matrix of a layer at depth
            ``z`` at path time ``t``.
        times: Path times to render (their frames are averaged equally).

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    """
    h, w = layers[0].colour.shape[:2]
    acc = np.zeros((h, w, 3), np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    border = cv2.BORDER_REFLECT_101
    for t in times:
        frame: F32 | None = None
        for lay in layers:
            m = warp(lay.depth, float(t))
            moved = cv2.warpAffine(lay.colour, m, (w, h), flags=flags, borderMode=border)
            if frame is None or lay.alpha is None:
                frame = moved
                continue
            a = cv2.warpAffine(lay.alpha, m, (w, h), flags=flags, borderMode=border)
            # "over": (w1 far + w2 near) / (w1 + w2 + 1e-5); weights x 1024 make OpenCV's
            # 1e-5 vanish in float32 (1024 + 1e-5 == 1024), so alpha 1 keeps the near colour.
            a *= _BLEND_SCALE
            frame = cv2.blendLinear(frame, moved, _BLEND_SCALE - a, a)
        acc += frame
    return (acc / len(times)).astype(np.float32)


def frame_times(n_frames: int, path_frames: int, travel_px: float) -> NDArray[np.float64]:
    """Equally spaced times over the averaged part ``[0, (n - 1) / (path - 1)]`` of the path.

    The script averages frames ``j / (path_frames - 1)``, ``j < n_frames``; as
    many are kept as needed for at most :data:`_FRAME_STEP` px of motion between
    neighbours (never more than ``n_frames``), so the mean motion is unchanged.

    Args:
        n_frames: Frames the script averages, 1..path_frames.
        path_frames: Frames of the whole path (>= 1).
        travel_px: Largest displacement of any pixel over the averaged part, px.

    Returns:
        float64 times in [0, 1].

    Example:
        >>> frame_times(30, 60, 2.0).round(4).tolist()
        [0.0, 0.1229, 0.2458, 0.3686, 0.4915]

    """
    if not 1 <= n_frames <= max(path_frames, 1):
        raise ValueError(f"n_frames must be in 1..path_frames={path_frames}, got {n_frames}")
    t_end = (n_frames - 1) / max(path_frames - 1, 1)
    n = int(min(n_frames, max(1, math.ceil(travel_px / _FRAME_STEP) + 1)))
    return np.linspace(0.0, t_end, n)


def xy_warp(u: float, v: float, near: float) -> Warp:
    """Sideways camera move: a point at depth ``z`` moves ``t (u, v) near / z`` px.

    Args:
        u: Horizontal travel of a point at depth ``near`` over the whole path, px.
        v: Vertical travel, px.
        near: Depth that moves exactly ``(u, v)``.

    Returns:
        The warp ``(z, t) -> 2x3`` output-to-source matrix.

    """

    def warp(z: float, t: float) -> NDArray[np.float64]:
        s = t * near / z
        return np.array([[1.0, 0.0, -u * s], [0.0, 1.0, -v * s]])

    return warp


def z_warp(scale: float, du: float, dv: float, near: float, centre: tuple[float, float]) -> Warp:
    """Forward dolly: the plane at ``near`` ends magnified ``1 / scale`` about the centre.

    As the script's 3D Ken Burns path (``process_kenburns``/``process_shift``):
    at time ``t`` the camera moves forward by ``t near (1 - scale)``, so a point
    at depth ``z`` is magnified ``m = z / (z - t near (1 - scale))`` about the
    principal point and shifted ``t (du, dv) near (1 - t (1 - scale)) / (z - t
    near (1 - scale))`` px (the crop centre moves ``t (du, dv)`` px at the
    nearest depth). The script's vertical crop scale changes only its crop
    height, never the depth, so the magnification is isotropic. Depth
    nearer than the closest central depth can lie in the camera's path
    (``z <= t near (1 - scale)``, points the script's renderer loses behind the
    camera); a rigid layer cannot leave the view in part, so its magnification
    is capped at 10.

    Args:
        scale: Crop scale ``s`` of the nearest plane at the path's end, in (0, 1].
        du: Horizontal centre shift of the nearest plane at the path's end, px.
        dv: Vertical centre shift, px.
        near: Depth of the nearest plane.
        centre: Principal point ``(cx, cy)``, px.

    Returns:
        The warp ``(z, t) -> 2x3`` output-to-source matrix.

    """
    cx, cy = centre

    def warp(z: float, t: float) -> NDArray[np.float64]:
        fwd = t * near * (1.0 - scale)
        ahead = max(z - fwd, _MIN_AHEAD * z)  # a layer the camera would reach: capped at 10x
        m = z / ahead
        k = near * (1.0 - t * (1.0 - scale)) * t / ahead
        sx, sy = du * k, dv * k
        # out(x') = src(c + (x' - c - s) / m)
        return np.array([[1.0 / m, 0.0, cx - (cx + sx) / m], [0.0, 1.0 / m, cy - (cy + sy) / m]])

    return warp


def principal_depth(d: F32) -> float:
    """Return the script's "closest depth": the minimum inside the central crop.

    ``process_load`` takes ``minMaxLoc`` of depth ``[128:-128, 128:-128]`` of its
    512 px render; here the border is ``128 / 512`` of each side (at least one
    pixel kept).

    Args:
        d: Depth (H, W).

    Returns:
        The smallest depth inside the central crop.

    """
    h, w = d.shape
    bh, bw = int(h * _NEAR_BORDER), int(w * _NEAR_BORDER)
    inner = d[bh : max(h - bh, bh + 1), bw : max(w - bw, bw + 1)]
    return float(inner.min())


def xy_motion(
    image: U8Image, d: F32, *, u: float, v: float, n_frames: int, path_frames: int, n_layers: int
) -> F32:
    """Mean of the first ``n_frames`` of a sideways move, rendered with occlusion.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        d: Positive depth (H, W), larger = farther.
        u: Horizontal travel of the closest (central) depth over the whole path, px.
        v: Vertical travel, px.
        n_frames: Frames averaged, 1..path_frames.
        path_frames: Frames of the whole path.
        n_layers: Depth-quantile layers.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    """
    warp = xy_warp(u, v, principal_depth(d))
    t_end = (n_frames - 1) / max(path_frames - 1, 1)
    layers = split_layers(image, d, n_layers, warp=warp, t_end=t_end)
    times = frame_times(n_frames, path_frames, _travel(layers, warp, t_end, d.shape))
    return render_path(layers, warp, times)


def z_motion(
    image: U8Image, d: F32, *, scale: float, du: float, dv: float, n_frames: int,
    path_frames: int, n_layers: int,
) -> F32:
    """Mean of the first ``n_frames`` of a forward dolly, rendered with occlusion.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        d: Positive depth (H, W), larger = farther.
        scale: Crop scale of the closest (central) depth at the path's end, in (0, 1].
        du: Horizontal centre shift at the path's end, px.
        dv: Vertical centre shift, px.
        n_frames: Frames averaged, 1..path_frames.
        path_frames: Frames of the whole path.
        n_layers: Depth-quantile layers.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    """
    h, w = image.shape[:2]
    warp = z_warp(scale, du, dv, principal_depth(d), ((w - 1) / 2.0, (h - 1) / 2.0))
    t_end = (n_frames - 1) / max(path_frames - 1, 1)
    layers = split_layers(image, d, n_layers, warp=warp, t_end=t_end)
    times = frame_times(n_frames, path_frames, _travel(layers, warp, t_end, (h, w)))
    return render_path(layers, warp, times)


def _travel(layers: list[Layer], warp: Warp, t: float, shape: tuple[int, int]) -> float:
    """Largest displacement (px) of an image corner of any layer at time ``t``."""
    h, w = shape
    corners = np.array([[0.0, 0.0, 1.0], [w - 1.0, 0.0, 1.0], [0.0, h - 1.0, 1.0],
                        [w - 1.0, h - 1.0, 1.0]]).T
    return max(float(np.hypot(*(warp(lay.depth, t) @ corners - corners[:2])).max())
               for lay in layers)
