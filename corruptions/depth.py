"""Depth family of the 3D Common Corruptions: focus, 3-D fog, flash, 3-D motion blur.

Each kernel takes the RGB image and a depth map (``depth``: float array (H, W),
larger = farther, any positive scale; non-finite entries are invalid and are
set to the largest valid depth, as the 3DCC loader does for Taskonomy). The
algorithms follow the paper and its generation scripts
(EPFL-VILAB/3DCommonCorruptions ``create_3dcc/create_{dof,fog,flash}.py`` and
``motion_video/create_motion.py``), re-implemented on the CPU with OpenCV; the
parameters are the "3D Common Corruptions" table of
``shared/reference/corruption-params.md``.

**Depth normalisation.** Kernels first map depth to the paper's range with
:func:`normalise_depth`: ``d = 0.5 * depth / max(depth)``, floored at ``1/128``.
0.5 is the 3DCC ImageNet recipe's clamp (MiDaS ``x`` -> ``min(0.5, 512 / x)``),
1/128 its smallest value (65535 / 512). Focus and motion blur use only depth
ratios; fog uses ``d`` (or metric depth, :func:`metric_fog_depth`) in ``exp(-beta d)``.

**Layered blur.** Focus and motion blur cut depth at ``n + 1`` quantiles
``q_0 < ... < q_n`` (``q_0 - 1e-4`` and ``q_n + 1e-4`` at the ends, as
``compute_quantiles`` does), render the whole image once per level with that
level's blur, and give each pixel of depth ``z`` in ``[q_k, q_k+1)`` the blend
``w_k ∝ 1 - ((z - q_k) / (q_k+1 - q_k))**2`` and ``w_k+1 ∝ 1 - ((q_k+1 - z) / ...)**2``
(``composite_blur_stack``). The motion blurs render each frame of the camera
path from rigid depth layers composited far to near (near layers occlude far
ones, uncovered background filled by Telea inpainting: :mod:`corruptions.motion3d`)
in place of the paper's point cloud and network inpainter. Kernels return
float32 on the 0..255 scale; ``apply`` clips and truncates, as the scripts do.

Reference:
    O. F. Kar, T. Yeo, A. Atanov, A. Zamir, "3D Common Corruptions and Data
    Augmentation", CVPR 2022.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from corruptions import motion3d
from corruptions.image import FloatImage, U8Image
from corruptions.registry import PRESETS, CorruptionSpec, SeverityTable

__all__ = [
    "normalise_depth",
    "near_focus",
    "far_focus",
    "fog_3d",
    "metric_fog_depth",
    "flash",
    "xy_motion_blur",
    "z_motion_blur",
    "SPECS",
]

F32 = NDArray[np.float32]
_D_FAR = 0.5
_D_FLOOR = 1.0 / 128.0
_Q_EPS = 1e-4
_SRC = "Kar et al. CVPR 2022, EPFL-VILAB/3DCommonCorruptions create_3dcc/"


def normalise_depth(depth: np.ndarray, shape: tuple[int, ...]) -> F32:
    """Validate a depth map and scale it to the paper's range [1/128, 0.5].

    Args:
        depth: Depth (H, W), larger = farther, any positive scale (metres,
            millimetres, 1/disparity, a rank map in [0, 1]...). NaN/inf mark
            invalid pixels; they get the largest valid depth.
        shape: The image shape; depth must match its height and width.

    Returns:
        float32 (H, W): ``clip(0.5 * depth / max(depth), 1/128, 0.5)``.

    Raises:
        ValueError: Wrong shape, negative values, or no positive finite value.

    Example:
        >>> normalise_depth(np.array([[0.0, 2.0], [4.0, np.inf]]), (2, 2)).tolist()
        [[0.0078125, 0.25], [0.5, 0.5]]

    """
    d = np.asarray(depth, dtype=np.float64)
    if d.shape != tuple(shape[:2]):
        raise ValueError(
            f"depth must have the image's (H, W) = {tuple(shape[:2])}, got {d.shape}; "
            "resize it with the image (nearest-neighbour) before calling"
        )
    finite = np.isfinite(d)
    if not finite.any() or (d[finite] < 0).any() or d[finite].max() <= 0:
        raise ValueError(
            "depth must be >= 0 with at least one positive finite value (larger = farther); "
            "if you have disparity or inverse depth, pass 1 / disparity"
        )
    dmax = float(d[finite].max())
    d = np.where(finite, d, dmax)
    return np.clip(d * (_D_FAR / dmax), _D_FLOOR, _D_FAR).astype(np.float32)


def _levels(d: F32, n: int) -> NDArray[np.float64]:
    q = np.quantile(d.astype(np.float64), np.linspace(0.0, 1.0, n + 1))
    q[0] -= _Q_EPS
    q[-1] += _Q_EPS
    for k in range(1, n + 1):  # ties (flat depth) would divide by zero below
        q[k] = max(q[k], q[k - 1] + 1e-9)
    return q


def _composite(d: F32, q: NDArray[np.float64], render: Callable[[int], F32]) -> F32:
    """Blend per-level renderings by each pixel's position between its two levels."""
    right = np.clip(np.searchsorted(q, d, side="left"), 1, len(q) - 1)
    left = right - 1
    ql, qr = q[left], q[right]
    dl = (d - ql) / (qr - ql)
    wl, wr = 1.0 - dl**2, 1.0 - (1.0 - dl) ** 2
    total = wl + wr
    wl, wr = (wl / total).astype(np.float32), (wr / total).astype(np.float32)
    out: F32 | None = None
    for k in range(len(q)):
        weight = np.where(left == k, wl, 0.0) + np.where(right == k, wr, 0.0)
        if not weight.any():
            continue
        term = render(k) * weight[..., None].astype(np.float32)
        out = term if out is None else out + term
    if out is None:  # unreachable: every pixel has two levels
        raise RuntimeError("depth compositing produced no level (a bug)")
    return out


def _gaussian(img: F32, sigma: float) -> F32:
    """Separable Gaussian with 3DCC's truncation: odd(int(3 sigma)) taps, replicated border."""
    if sigma < 0.1:
        return img
    taps = int(sigma * 3)
    taps += taps % 2 == 0
    if sigma <= 16:
        return cv2.GaussianBlur(img, (taps, taps), sigma, sigma, borderType=cv2.BORDER_REPLICATE)
    # Wide blurs: same kernel on a downsampled copy (a 16-px sigma there), then upsample.
    h, w = img.shape[:2]
    f = sigma / 16.0
    sw, sh = max(1, round(w / f)), max(1, round(h / f))
    s_sigma = sigma * sw / w
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    taps = int(s_sigma * 3)
    taps += taps % 2 == 0
    small = cv2.GaussianBlur(small, (taps, taps), s_sigma, s_sigma, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _focus(image: U8Image, depth: np.ndarray, aperture: float, focus_level: int) -> FloatImage:
    img = image.astype(np.float32)
    d = normalise_depth(depth, image.shape)
    q = _levels(d, 8)
    f = q[focus_level]
    sigmas = aperture * np.abs(q - f) / q  # thin-lens circle of confusion, no magnification
    return _composite(d, q, lambda k: _gaussian(img, float(sigmas[k])))


def near_focus(image: U8Image, *, aperture: float, depth: np.ndarray) -> FloatImage:
    """Refocus on the nearest depth: farther content is blurred more.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        aperture: Aperture ``A`` in pixels: level ``k`` is blurred with a
            Gaussian of sigma ``A * |q_k - q_0| / q_k`` px over 8 depth quantiles.
        depth: (H, W), larger = farther, any positive scale.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``defocus_blur_3D`` in create_dof.py (``aperture = severity + 2``, focus
        index 0, ``refocus_image``).

    """
    return _focus(image, depth, aperture, 0)


def far_focus(image: U8Image, *, aperture: float, depth: np.ndarray) -> FloatImage:
    """Refocus on the 7/8 depth quantile: nearer content is blurred more.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        aperture: Aperture ``A`` in pixels (sigma ``A * |q_k - q_7| / q_k``).
        depth: (H, W), larger = farther, any positive scale.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``defocus_blur_3D`` in create_dof.py (far copy: ``aperture - 1.5``, focus index 7).

    """
    return _focus(image, depth, aperture, 7)


_TASKONOMY_UNITS_PER_M = 512.0  # Taskonomy 16-bit depth: 1 unit = 1/512 m
_TASKONOMY_DIVISOR = 8000.0  # RGBAndDepthDataset: depth / 8000


def metric_fog_depth(depth: np.ndarray, shape: tuple[int, ...]) -> F32:
    """Convert metric depth (metres) to the 3DCC loader's fog depth unit.

    The 3DCC Taskonomy loader divides 16-bit depth (1/512 m units) by 8000:
    ``d = metres * 512 / 8000``; values >= 1 (15.6 m; here also NaN/inf) get the
    largest value below 1, as the loader does.

    Args:
        depth: (H, W) metric depth in metres, >= 0; NaN/inf mark invalid pixels.
        shape: The image shape; depth must match its height and width.

    Returns:
        float32 (H, W) in the loader's unit.

    Raises:
        ValueError: Wrong shape, negative values, or no finite value below 15.6 m.

    Example:
        >>> d = metric_fog_depth(np.array([[1.0, 7.8125], [20.0, np.nan]]), (2, 2))
        >>> d.astype(float).round(4).tolist()
        [[0.064, 0.5], [0.5, 0.5]]

    """
    d = np.asarray(depth, dtype=np.float64)
    if d.shape != tuple(shape[:2]):
        raise ValueError(f"depth must have the image's (H, W) = {tuple(shape[:2])}, got {d.shape}")
    d = d * (_TASKONOMY_UNITS_PER_M / _TASKONOMY_DIVISOR)
    ok = np.isfinite(d) & (d < 1.0)
    if not ok.any() or (d[np.isfinite(d)] < 0).any():
        raise ValueError(
            "metric depth must be >= 0 metres with some pixel nearer than 15.6 m; "
            "for relative or unknown scales use depth_unit='relative'"
        )
    return np.where(ok, d, d[ok].max()).astype(np.float32)


def fog_3d(image: U8Image, *, beta: float, depth_unit: str, depth: np.ndarray) -> FloatImage:
    """Blend towards the mean colour with transmission ``exp(-beta * d)``.

    ``I' = t I + (1 - t) A``, ``t = exp(-beta d)``, with the atmospheric light
    ``A = mean(I)`` of *this* image: the script's ``rgb.mean()`` is over its batch
    (50 in command.txt), which would tie a sample to its batch mates and break
    per-sample determinism; equal to the script at batch size 1.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        beta: Attenuation coefficient per unit of ``d``, >= 0.
        depth_unit: ``"relative"``: any positive scale, normalised per image by
            :func:`normalise_depth` (farthest point at d = 0.5); ``"metric"``:
            metres, converted as the script's Taskonomy loader does
            (:func:`metric_fog_depth`, d = 1 at 15.6 m).
        depth: (H, W), larger = farther.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``fog_3d`` in create_fog.py, depth from ``RGBAndDepthDataset``.

    Example:
        >>> img = np.array([[[0, 0, 0], [200, 200, 200]]], np.uint8)
        >>> fog_3d(img, beta=0.0, depth_unit="relative", depth=np.ones((1, 2))).tolist()
        [[[0.0, 0.0, 0.0], [200.0, 200.0, 200.0]]]

    """
    if depth_unit == "relative":
        d = normalise_depth(depth, image.shape)
    elif depth_unit == "metric":
        d = metric_fog_depth(depth, image.shape)
    else:
        raise ValueError(f"depth_unit must be 'relative' or 'metric', got {depth_unit!r}")
    img = image.astype(np.float32)
    t = np.exp(-np.float32(beta) * d)[..., None]
    return t * img + (1.0 - t) * np.float32(img.mean())


def flash_shading(
    depth: np.ndarray, shape: tuple[int, ...], *, fov_deg: float, ref_quantile: float
) -> F32:
    """Shading of a point light at the camera, from depth (the 3DCC "reshading" proxy).

    Pixels are back-projected with a pinhole of horizontal field of view
    ``fov_deg`` (depth read as z-depth; normals are scale-free, so any depth
    scale works). Shading is Lambertian ``cos(theta)`` between the surface
    normal (from the cross product of the point cloud's image gradients) and
    the direction to the camera, times the inverse-square falloff
    ``(r_ref / r)**2`` with ``r_ref`` the ``ref_quantile`` quantile of distance;
    clipped to [0, 1].

    Args:
        depth: (H, W), larger = farther, any positive scale.
        shape: Image shape.
        fov_deg: Horizontal field of view, degrees, in (0, 180).
        ref_quantile: Distance quantile lit at full strength, in [0, 1].

    Returns:
        float32 (H, W) in [0, 1].

    """
    d = normalise_depth(depth, shape)
    h, w = d.shape
    d = cv2.GaussianBlur(d, (0, 0), max(0.5, min(h, w) / 224))
    focal = (w / 2.0) / np.tan(np.radians(fov_deg) / 2.0)
    x = (np.arange(w, dtype=np.float32)[None, :] - (w - 1) / 2.0) / focal
    y = (np.arange(h, dtype=np.float32)[:, None] - (h - 1) / 2.0) / focal
    pts = np.stack([d * x, d * y, d], axis=-1)
    du = np.gradient(pts, axis=1) if w > 1 else np.zeros_like(pts) + [1, 0, 0]
    dv = np.gradient(pts, axis=0) if h > 1 else np.zeros_like(pts) + [0, 1, 0]
    normal = np.cross(du, dv)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True) + 1e-12
    dist = np.linalg.norm(pts, axis=-1)
    cos = np.abs(np.sum(normal * pts, axis=-1)) / dist
    r_ref = float(np.quantile(dist, ref_quantile))
    return np.clip(cos * (r_ref / dist) ** 2, 0.0, 1.0).astype(np.float32)


def flash(
    image: U8Image, *, strength_c: float, fov_deg: float, ref_quantile: float, depth: np.ndarray
) -> FloatImage:
    """Brighten by a camera-mounted flash: ``I' = min(1, I (1 + R / c))``.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        strength_c: ``c``; smaller is a stronger flash, > 0.
        fov_deg: Horizontal field of view assumed for the shading, degrees.
        ref_quantile: Distance quantile lit at full strength (see :func:`flash_shading`).
        depth: (H, W), larger = farther, any positive scale.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``flash`` in create_flash.py, with the Taskonomy reshading ``R``
        replaced by :func:`flash_shading` of the depth.

    """
    if strength_c <= 0:
        raise ValueError(f"strength_c must be > 0, got {strength_c}")
    shading = flash_shading(depth, image.shape, fov_deg=fov_deg, ref_quantile=ref_quantile)
    img = image.astype(np.float32)
    return np.minimum(255.0, img * (1.0 + shading[..., None] / np.float32(strength_c)))


def xy_motion_blur(
    image: U8Image,
    *,
    n_frames: int,
    path_frames: int,
    u_min: float,
    u_max: float,
    v_max: float,
    n_layers: int,
    depth: np.ndarray,
    rng: np.random.Generator,
) -> FloatImage:
    """Average the first frames of a sideways camera move, with occlusion and parallax.

    The closest depth of the central crop moves ``(u, v)`` px over
    ``path_frames`` frames, with ``|u| ~ U[u_min, u_max)`` (random sign) and
    ``v ~ U[-v_max, v_max)``; a layer at depth ``z`` moves ``(u, v) near / z``.
    Frames are composited from depth layers far to near, so near layers occlude
    far ones and the background they uncover is inpainted
    (:mod:`corruptions.motion3d`); the output is the mean of the first
    ``n_frames`` frames.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        n_frames: Frames averaged (severity), 1..path_frames.
        path_frames: Frames of the whole path (60).
        u_min: Smallest horizontal travel of the closest point, px.
        u_max: Largest horizontal travel, px.
        v_max: Largest vertical travel magnitude, px.
        n_layers: Depth-quantile layers.
        depth: (H, W), larger = farther, any positive scale.
        rng: Draws sign of u, then |u|, then v.

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``create_motion.py`` (3D Ken Burns, ``random_u``/``random_v``, mean of
        the first N of 60 frames), approximated by occlusion-aware layers.

    """
    sign = -1.0 if rng.integers(2) else 1.0
    u = sign * rng.uniform(u_min, u_max)
    v = rng.uniform(-v_max, v_max)
    d = normalise_depth(depth, image.shape)
    return motion3d.xy_motion(image, d, u=u, v=v, n_frames=int(n_frames),
                              path_frames=int(path_frames), n_layers=int(n_layers))


def z_motion_blur(
    image: U8Image,
    *,
    n_frames: int,
    path_frames: int,
    zoom_min: float,
    zoom_max: float,
    jitter: float,
    n_layers: int,
    depth: np.ndarray,
    rng: np.random.Generator,
) -> FloatImage:
    """Average the first frames of a forward camera dolly, with occlusion and parallax.

    Over ``path_frames`` frames the camera moves forward until the closest
    depth of the central crop is magnified ``1/s`` (``s ~ U[zoom_min,
    zoom_max)``) about the image centre, its centre shifted ``(du, dv) ~
    U[-jitter, jitter)`` px; farther layers are magnified and shifted less
    (:func:`corruptions.motion3d.z_warp`). Layers are composited far to near
    with the uncovered background inpainted; the output is the mean of the
    first ``n_frames`` frames.

    Args:
        image: uint8 RGB (H, W, 3); not modified.
        n_frames: Frames averaged (severity), 1..path_frames.
        path_frames: Frames of the whole path (60).
        zoom_min: Smallest crop scale ``s`` at the path's end (closest plane).
        zoom_max: Largest crop scale.
        jitter: Largest centre shift of the closest plane, px.
        n_layers: Depth-quantile layers.
        depth: (H, W), larger = farther, any positive scale.
        rng: Draws du, dv, then s_u, s_v (the script's s_v only sets a crop
            height it never uses, so only s_u acts).

    Returns:
        float32 (H, W, 3) on the 0..255 scale.

    Reference:
        ``create_motion.py`` zoom blur (``random_scale_u/v = U[0.5, 0.6)``,
        ``random_u/v = randint(-30, 30)``, mean of the first N of 60 frames).

    """
    du, dv = rng.uniform(-jitter, jitter, size=2)
    su, _sv = rng.uniform(zoom_min, zoom_max, size=2)
    d = normalise_depth(depth, image.shape)
    return motion3d.z_motion(image, d, scale=float(su), du=float(du), dv=float(dv),
                             n_frames=int(n_frames), path_frames=int(path_frames),
                             n_layers=int(n_layers))


_DEPTH_PRESETS = ("imagenet224", "tiny64", "cifar32")


def _tables(
    fields: tuple[str, ...],
    rows: tuple[tuple[Any, ...], ...],
    source: str,
    notes: str,
    pixel_fields: frozenset[str] = frozenset(),
    render_side: int = 512,
) -> dict[str, SeverityTable]:
    """One table per preset; pixel field ``v`` (px of a ``render_side`` render) scaled.

    Preset value ``v * side / render_side``; the registry rescales by ``min(H, W) /
    side`` for other sizes, so the effective value is ``v * min(H, W) / render_side``.
    """
    tables = {}
    for preset in _DEPTH_PRESETS:
        f = PRESETS[preset] / render_side
        scaled = tuple(tuple(round(v * f, 4) if k in pixel_fields else v
                             for k, v in zip(fields, row, strict=True)) for row in rows)
        extra = (f" Scaling rule: {', '.join(sorted(pixel_fields))} in px of the script's "
                 f"{render_side} px render, used as value x min(H, W) / {render_side}."
                 if pixel_fields else " Scaling rule: no pixel field; same values at every size.")
        tables[preset] = SeverityTable(
            fields=fields, rows=scaled, source=_SRC + source, pixel_fields=pixel_fields,
            notes=notes + extra,
        )
    return tables


_DEPTH = frozenset({"depth"})
_SUITE = frozenset({"3dcc"})
_MOTION_NOTE = (
    "Travel is px of the script's min(1024 * aspect, 512) = 512 px render ('the imagenet "
    "one'), of the closest depth inside the central crop (the script's [128:-128] of 512 px). "
    "Upstream draws integers (randint); continuous here so scaled presets keep the "
    "distribution. Frames rendered from n_layers rigid depth-quantile layers composited far "
    "to near (occlusion), the background uncovered behind nearer layers filled by Telea "
    "inpainting, in place of the point cloud and its network inpainter; frames sampled every "
    "<= 0.5 px of motion over the averaged part of the path."
)

SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="near_focus", family="depth", kernel=near_focus,
        tables=_tables(
            ("aperture",), ((3.0,), (4.0,), (5.0,), (6.0,), (7.0,)), "create_dof.py",
            "aperture = severity + 2, a blur sigma in px (defocus_blur_3D), Gaussian truncated at "
            "odd(int(3 sigma)) taps; not scaled: the script uses it on 512 px Taskonomy and 224 "
            "px ImageNet alike (side/224 scaling made severities 1-2 no-ops at 32 px).",
        ),
        stochastic=False, needs=_DEPTH, suites=_SUITE,
        reference="Kar et al. 2022, create_dof.py defocus_blur_3D (near copy)",
    ),
    CorruptionSpec(
        name="far_focus", family="depth", kernel=far_focus,
        tables=_tables(
            ("aperture",), ((1.5,), (2.5,), (3.5,), (4.5,), (5.5,)), "create_dof.py",
            "aperture = (severity + 2) - 1.5 ('reduce aperture for far focus'), px, unscaled.",
        ),
        stochastic=False, needs=_DEPTH, suites=_SUITE,
        reference="Kar et al. 2022, create_dof.py defocus_blur_3D (far copy)",
    ),
    CorruptionSpec(
        name="fog_3d", family="depth", kernel=fog_3d,
        tables=_tables(
            ("beta", "depth_unit"),
            tuple((b, "relative") for b in (4.0, 8.0, 12.0, 16.0, 20.0)), "create_fog.py",
            "beta = alpha of fog_3d. depth_unit 'relative': normalised per image (farthest at "
            "0.5), as pseudo-depth/MiDaS have no metric scale; 'metric' (metres) is the Taskonomy "
            "loader's depth * 512 / 8000. Atmospheric light = per-image mean (the script's "
            "batch mean would couple samples; equal at batch size 1).",
        ),
        stochastic=False, needs=_DEPTH, suites=_SUITE,
        reference="Kar et al. 2022, create_fog.py fog_3d",
    ),
    CorruptionSpec(
        name="flash", family="depth", kernel=flash,
        tables=_tables(
            ("strength_c", "fov_deg", "ref_quantile"),
            tuple((c, 60.0, 0.1) for c in (2.4, 1.4, 0.9, 0.6, 0.4)), "create_flash.py",
            "strength_c = corr_scaler. Reshading R replaced by a depth proxy: Lambertian x "
            "inverse-square point light at the camera, 60 deg horizontal FOV assumed, the "
            "10th-percentile distance lit at full strength (benchsmith choices).",
        ),
        stochastic=False, needs=_DEPTH, suites=_SUITE,
        reference="Kar et al. 2022, create_flash.py flash",
    ),
    CorruptionSpec(
        name="xy_motion_blur", family="depth", kernel=xy_motion_blur,
        tables=_tables(
            ("n_frames", "path_frames", "u_min", "u_max", "v_max", "n_layers"),
            tuple((n, 60, 50.0, 75.0, 75.0, 6) for n in (20, 30, 40, 50, 60)),
            "motion_video/create_motion.py", _MOTION_NOTE,
            frozenset({"u_min", "u_max", "v_max"}),
        ),
        stochastic=True, needs=_DEPTH, suites=_SUITE,
        reference="Kar et al. 2022, create_motion.py motion blur (3D Ken Burns)", cost=150,
    ),
    CorruptionSpec(
        name="z_motion_blur", family="depth", kernel=z_motion_blur,
        tables=_tables(
            ("n_frames", "path_frames", "zoom_min", "zoom_max", "jitter", "n_layers"),
            tuple((n, 60, 0.5, 0.6, 30.0, 6) for n in (20, 25, 30, 35, 38)),
            "motion_video/create_motion.py", _MOTION_NOTE,
            frozenset({"jitter"}),
        ),
        stochastic=True, needs=_DEPTH, suites=_SUITE,
        reference="Kar et al. 2022, create_motion.py zoom blur (3D Ken Burns)", cost=150,
    ),
)
