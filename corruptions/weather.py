"""Weather corruptions: snow, frost, fog (ImageNet-C) and spatter (extra).

Kernels are pure functions of a uint8 image (H, W, C), C in {1, 3}, physical
parameters and a generator; they return float32 on the 0..255 scale. Each
splits into a random draw and a deterministic ``*_from_*`` blend so the blend
can be checked against the reference with identical draws. ``frost`` reads the
upstream texture photographs (see :mod:`corruptions.frost_texture`); nothing
else does I/O.

Reference:
    Hendrycks & Dietterich, ICLR 2019 (hendrycks/robustness
    ``ImageNet-C/create_c/make_{imagenet,tinyimagenet,cifar}_c.py``);
    Mu & Gilmer 2019 (google-research/mnist-c ``corruptions.py``);
    bethgelab/imagecorruptions 1.1.2 ``corruptions.py``.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from corruptions import frost_texture
from corruptions._fractal import next_power_of_2, plasma_fractal
from corruptions._motion import motion_filter
from corruptions.blur import gaussian_filter, zoom_center
from corruptions.registry import CorruptionSpec, SeverityTable

__all__ = [
    "SPECS",
    "fog",
    "fog_from_fractal",
    "frost",
    "frost_from_crop",
    "frost_crop",
    "snow",
    "snow_from_layer",
    "spatter",
    "spatter_from_liquid",
]

_HC = "hendrycks/robustness ImageNet-C/create_c/"
_MC = "google-research/mnist-c corruptions.py"
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # cv2 RGB2GRAY
_LUMA_IC = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)  # upstream rgb2gray
_WATER_RGB = np.array([175, 238, 238], dtype=np.float32) / np.float32(255)  # pale turquoise


def _unit(image: np.ndarray) -> np.ndarray:
    x = np.asarray(image, dtype=np.float32) / np.float32(255)
    return x[..., None] if x.ndim == 2 else x


# --------------------------------------------------------------------------- fog


def fog_from_fractal(image: np.ndarray, fractal: np.ndarray, *, strength: float) -> np.ndarray:
    """Blend a [0, 1] height map into an image as fog (deterministic part of :func:`fog`).

    ``out = (x + strength * F) * max(x) / (max(x) + strength)`` with ``x`` in [0, 1].

    Args:
        image: uint8 (H, W, C).
        fractal: float map of at least (H, W); its top-left (H, W) corner is used.
        strength: Fog density (>= 0), upstream ``c[0]``.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    """
    x = _unit(image)
    h, w = x.shape[:2]
    top = float(x.max())
    x = x + np.float32(strength) * np.asarray(fractal[:h, :w], dtype=np.float32)[..., None]
    x *= np.float32(top / (top + strength)) if top + strength > 0 else np.float32(0)
    return np.clip(x, 0, 1) * np.float32(255)


def fog(
    image: np.ndarray, *, strength: float, decay: float, map_size: float, rng: np.random.Generator
) -> np.ndarray:
    """Fog: add a plasma fractal and rescale.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        strength: Fog density (>= 0), upstream ``c[0]``.
        decay: Fractal ``wibbledecay`` (> 0; larger = smoother), upstream ``c[1]``.
        map_size: Fractal side in pixels; rounded up to a power of two that
            covers the image (256 at 224 px, 32 for CIFAR-10-C, 64 for Tiny).
        rng: Random generator.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``fog`` / ``plasma_fractal``.

    """
    h, w = image.shape[:2]
    size = next_power_of_2(max(math.ceil(float(map_size)), h, w, 2))
    return fog_from_fractal(image, plasma_fractal(size, decay, rng), strength=strength)


# --------------------------------------------------------------------------- frost


def frost_crop(
    shape: tuple[int, int], *, gray: bool, texture_scale: float, texture_source: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw the frost crop: texture ``randint(5)``, then a random (H, W) window.

    The texture is resized by ``texture_scale``; if it is still smaller than
    the image it is enlarged (bicubic, 10 % margin, imagecorruptions' rule).
    The window's top-left corner is drawn with numpy's exclusive upper bound,
    like upstream (the last row/column offset is never drawn).

    Returns:
        uint8 (H, W) if ``gray`` else (H, W, 3), RGB.

    """
    h, w = shape
    index = int(rng.integers(frost_texture.N_TEXTURES))
    tex = frost_texture.texture(texture_source, index, gray, float(texture_scale))
    th, tw = tex.shape[:2]
    if th < h or tw < w:
        factor = max(h / th, w / tw) * 1.1
        size = (math.ceil(tw * factor), math.ceil(th * factor))
        tex = cv2.resize(np.ascontiguousarray(tex), size, interpolation=cv2.INTER_CUBIC)
        th, tw = tex.shape[:2]
    y0 = int(rng.integers(0, max(th - h, 1)))
    x0 = int(rng.integers(0, max(tw - w, 1)))
    return tex[y0 : y0 + h, x0 : x0 + w]


def frost_from_crop(
    image: np.ndarray, crop: np.ndarray, *, image_weight: float, frost_weight: float
) -> np.ndarray:
    """Blend image and frost: ``clip(image_weight * x + frost_weight * crop, 0, 255)``.

    Args:
        image: uint8 (H, W, C).
        crop: uint8 (H, W) or (H, W, 3) frost texture window.
        image_weight: Weight of the image, upstream ``c[0]``.
        frost_weight: Weight of the texture, upstream ``c[1]``.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    """
    x = np.asarray(image, dtype=np.float32)
    x = x[..., None] if x.ndim == 2 else x
    f = np.asarray(crop, dtype=np.float32)
    f = f[..., None] if f.ndim == 2 else f
    if x.shape[2] == 1 and f.shape[2] == 3:
        f = (f @ _LUMA)[..., None]
    out = np.float32(image_weight) * x + np.float32(frost_weight) * f
    return np.clip(out, 0, 255)


def frost(
    image: np.ndarray,
    *,
    image_weight: float,
    frost_weight: float,
    texture_scale: float,
    texture_source: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frost: overlay a random window of a frost photograph.

    Args:
        image: uint8 (H, W, C), C in {1, 3} (gray images get the gray texture, as MNIST-C).
        image_weight: Weight of the image, upstream ``c[0]``.
        frost_weight: Weight of the texture, upstream ``c[1]``.
        texture_scale: Resize factor of the texture photographs (1 = as
            shipped; CIFAR-10-C 0.2, Tiny 0.3).
        texture_source: ``"imagecorruptions"`` (upstream photographs) or ``"procedural"``.
        rng: Random generator.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``frost``.

    """
    h, w = image.shape[:2]
    gray = image.ndim == 2 or image.shape[2] == 1
    crop = frost_crop(
        (h, w), gray=gray, texture_scale=texture_scale, texture_source=texture_source, rng=rng
    )
    return frost_from_crop(image, crop, image_weight=image_weight, frost_weight=frost_weight)


def _frost_hook(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out.setdefault("texture_source", frost_texture.available_source())
    return out


# --------------------------------------------------------------------------- snow


def snow_from_layer(
    image: np.ndarray, layer: np.ndarray, *, blur_radius: float, blur_sigma: float,
    angle: float, blend: float, prequantize: bool,
) -> np.ndarray:
    """Motion-blur a thresholded snow layer and composite it (deterministic part of :func:`snow`).

    Args:
        image: uint8 (H, W, C).
        layer: float (H, W) in [0, 1], after zoom, threshold and clipping.
        blur_radius: Motion-blur radius in pixels.
        blur_sigma: Motion-blur tap sigma.
        angle: Motion direction in degrees.
        blend: Weight of the original image against its brightened version, upstream ``c[6]``.
        prequantize: Truncate the layer to 8 bits before blurring (the
            ImageMagick path writes it as a PNG); imagecorruptions does not.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    """
    x = _unit(image)
    lay = np.asarray(layer, dtype=np.float32)
    if prequantize:
        lay = (lay * np.float32(255)).astype(np.uint8).astype(np.float32) / np.float32(255)
    lay = motion_filter(lay, blur_radius, blur_sigma, angle)
    lay = np.round(lay * np.float32(255)) / np.float32(255)
    gray = x if x.shape[2] == 1 else (x @ _LUMA)[..., None]
    x = np.float32(blend) * x + np.float32(1 - blend) * np.maximum(x, gray * 1.5 + 0.5)
    x += (lay + lay[::-1, ::-1])[..., None]
    return np.clip(x, 0, 1) * np.float32(255)


def snow(
    image: np.ndarray,
    *,
    loc: float,
    scale: float,
    zoom: float,
    threshold: float,
    blur_radius: float,
    blur_sigma: float,
    blend: float,
    angle_range: tuple[float, float],
    prequantize: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Snow: zoomed Gaussian noise, thresholded, motion-blurred, added twice.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        loc: Mean of the flake noise, upstream ``c[0]``.
        scale: Standard deviation of the flake noise, ``c[1]``.
        zoom: Flake magnification (>= 1 after scaling), ``c[2]``.
        threshold: Noise below it becomes 0, ``c[3]``.
        blur_radius: Motion-blur radius in pixels, ``c[4]``.
        blur_sigma: Motion-blur tap sigma, ``c[5]``.
        blend: Weight of the image against ``max(x, 1.5 gray + 0.5)``, ``c[6]``.
        angle_range: Degrees of the uniform fall direction (upstream (-135, -45)).
        prequantize: See :func:`snow_from_layer`.
        rng: Random generator (noise first, then the angle).

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``snow`` (Wand motion blur); imagecorruptions ``snow``.

    """
    h, w = image.shape[:2]
    noise = rng.standard_normal((h, w), dtype=np.float32) * np.float32(scale) + np.float32(loc)
    layer = zoom_center(noise, max(float(zoom), 1.0))
    layer[layer < threshold] = 0
    layer = np.clip(layer, 0, 1)
    angle = float(rng.uniform(angle_range[0], angle_range[1]))
    return snow_from_layer(
        image, layer, blur_radius=blur_radius, blur_sigma=blur_sigma, angle=angle,
        blend=blend, prequantize=prequantize,
    )


# --------------------------------------------------------------------------- spatter


def spatter_from_liquid(
    image: np.ndarray,
    liquid: np.ndarray,
    *,
    threshold: float,
    water_gain: float,
    mud_sigma: float,
    mode: str,
    mud_rgb: tuple[int, int, int],
) -> np.ndarray:
    """Turn a smoothed liquid field into water or mud splashes (the blend of :func:`spatter`).

    Args:
        image: uint8 (H, W, C).
        liquid: float (H, W), the Gaussian-smoothed noise.
        threshold: Liquid below it is dry, upstream ``c[3]``.
        water_gain: Water: peak opacity of the pale-turquoise (175, 238, 238) layer.
        mud_sigma: Mud: sigma (pixels) softening the mud mask, whose values < 0.8 are dropped.
        mode: ``"water"`` (upstream ``c[5] == 0``) or ``"mud"``.
        mud_rgb: Mud colour (63, 42, 20); MNIST-C uses gray 63.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    """
    x = _unit(image)
    liquid = np.array(liquid, dtype=np.float32)
    liquid[liquid < threshold] = 0
    if mode == "water":
        layer = (liquid * 255).astype(np.uint8)  # upstream cast (values stay < 1 in practice)
        dist = 255 - cv2.Canny(layer, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float32)
        dist = cv2.filter2D(dist, cv2.CV_8U, ker)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = layer.astype(np.float32) * dist
        peak = float(m.max())
        m = m * np.float32(water_gain / peak) if peak > 0 else np.zeros_like(m)  # upstream: NaN
        add = np.clip(m[..., None] * _WATER_RGB, 0, 1)
        if x.shape[2] == 1:
            add = (add @ _LUMA_IC)[..., None]
        return np.clip(x + add, 0, 1) * np.float32(255)
    if mode != "mud":
        raise ValueError(f"spatter mode must be 'water' or 'mud', got {mode!r}")
    m = gaussian_filter((liquid > threshold).astype(np.float32), mud_sigma, mud_sigma)
    m[m < 0.8] = 0
    color = np.asarray(mud_rgb, dtype=np.float32) / np.float32(255)
    if x.shape[2] == 1:
        color = (color @ _LUMA_IC).reshape(1)
    out = x * (1 - m)[..., None] + m[..., None] * color
    return np.clip(out, 0, 1) * np.float32(255)


def spatter(
    image: np.ndarray,
    *,
    loc: float,
    scale: float,
    sigma: float,
    threshold: float,
    water_gain: float,
    mud_sigma: float,
    mode: str,
    mud_rgb: tuple[int, int, int],
    rng: np.random.Generator,
) -> np.ndarray:
    """Spatter: water drops or mud splashes from smoothed Gaussian noise.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        loc: Mean of the liquid noise, upstream ``c[0]``.
        scale: Its standard deviation, ``c[1]``.
        sigma: Smoothing sigma in pixels, ``c[2]``.
        threshold: Dry below this, ``c[3]``.
        water_gain: ``c[4]`` when ``mode == "water"``.
        mud_sigma: ``c[4]`` when ``mode == "mud"`` (pixels).
        mode: ``"water"`` or ``"mud"`` (upstream ``c[5]`` 0 or 1).
        mud_rgb: Mud colour.
        rng: Random generator.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``spatter``; MNIST-C ``spatter`` (mud only, gray 63).

    """
    h, w = image.shape[:2]
    noise = rng.standard_normal((h, w), dtype=np.float32) * np.float32(scale) + np.float32(loc)
    liquid = gaussian_filter(noise, sigma, sigma)
    return spatter_from_liquid(
        image, liquid, threshold=threshold, water_gain=water_gain, mud_sigma=mud_sigma,
        mode=mode, mud_rgb=mud_rgb,
    )


# --------------------------------------------------------------------------- tables

_FOG_FIELDS = ("strength", "decay", "map_size")
_FOG_PX = frozenset({"map_size"})
_FOG_NOTE = (
    "tuple = (strength, wibbledecay); map_size is the plasma_fractal mapsize of the script "
    "(rounded up to a power of two covering the image)."
)


def _fog(rows: tuple[tuple[float, float], ...], map_size: int) -> tuple[tuple[float, ...], ...]:
    return tuple((s, d, map_size) for s, d in rows)


_FOG_IMAGENET = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
_FOG_TABLES = {
    "imagenet224": SeverityTable(
        _FOG_FIELDS, _fog(_FOG_IMAGENET, 256), _HC + "make_imagenet_c.py fog c", _FOG_PX, _FOG_NOTE
    ),
    "tiny64": SeverityTable(
        _FOG_FIELDS, _fog(((0.4, 3), (0.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)), 64),
        _HC + "make_tinyimagenet_c.py fog c", _FOG_PX, _FOG_NOTE + " mapsize=64.",
    ),
    "cifar32": SeverityTable(
        _FOG_FIELDS, _fog(((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)), 32),
        _HC + "make_cifar_c.py fog c", _FOG_PX, _FOG_NOTE + " mapsize=32.",
    ),
    "mnist28": SeverityTable(
        _FOG_FIELDS, _fog(_FOG_IMAGENET, 256), _MC + " fog c (benchmark severity 5)", _FOG_PX,
        _FOG_NOTE + " quirk kept: MNIST-C uses the default mapsize=256 and crops [:28, :28], "
        "so 28 px images see a tiny corner of a large fractal (smoother fog).",
    ),
}

_FROST_FIELDS = ("image_weight", "frost_weight", "texture_scale")
_FROST_PX = frozenset({"texture_scale"})
_FROST_NOTE = (
    "tuple = (image weight, frost weight); texture index ~ randint(5), so frost6 is never "
    "used (quirk kept); texture_source (added at resolve time) says whether the upstream "
    "photographs or the procedural stand-in were used."
)


def _frost(rows: tuple[tuple[float, float], ...], scale: float) -> tuple[tuple[float, ...], ...]:
    return tuple((a, b, scale) for a, b in rows)


_FROST_IMAGENET = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))
_FROST_TABLES = {
    "imagenet224": SeverityTable(
        _FROST_FIELDS, _frost(_FROST_IMAGENET, 1.0), _HC + "make_imagenet_c.py frost c",
        _FROST_PX,
        _FROST_NOTE + " The textures are cropped unscaled as in make_imagenet_c.py; "
        "imagecorruptions first enlarges them by 1.1 (bicubic).",
    ),
    "tiny64": SeverityTable(
        _FROST_FIELDS, _frost(((1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)), 0.3),
        _HC + "make_tinyimagenet_c.py frost c", _FROST_PX,
        _FROST_NOTE + " textures resized by fx=fy=0.3 (cv2 bilinear).",
    ),
    "cifar32": SeverityTable(
        _FROST_FIELDS, _frost(((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)), 0.2),
        _HC + "make_cifar_c.py frost c", _FROST_PX,
        _FROST_NOTE + " textures resized by fx=fy=0.2 (cv2 bilinear).",
    ),
    "mnist28": SeverityTable(
        _FROST_FIELDS, _frost(_FROST_IMAGENET, 1.0), _MC + " frost c (optional corruption)",
        _FROST_PX, _FROST_NOTE + " MNIST-C reads the texture as grayscale (cv2.imread(f, 0)).",
    ),
}

_SNOW_FIELDS = (
    "loc", "scale", "zoom", "threshold", "blur_radius", "blur_sigma", "blend",
    "angle_range", "prequantize",
)
_SNOW_PX = frozenset({"zoom", "blur_radius", "blur_sigma"})
_SNOW_NOTE = (
    "tuple = (noise mean, noise std, zoom, threshold, motion radius, motion sigma, blend); "
    "angle ~ U(-135, -45); the scripts blur the layer with ImageMagick after writing it as "
    "an 8-bit PNG (prequantize=True, truncating); imagecorruptions blurs the float layer."
)


def _snow(rows: tuple[tuple[float, ...], ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple((*r, (-135.0, -45.0), True) for r in rows)


_SNOW_IMAGENET = (
    (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
    (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
    (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
)
_SNOW_SMALL = (
    (0.1, 0.2, 1, 0.6, 8, 3),
    (0.1, 0.2, 1, 0.5, 10, 4),
    (0.15, 0.3, 1.75, 0.55, 10, 4),
    (0.25, 0.3, 2.25, 0.6, 12, 6),
    (0.3, 0.3, 1.25, 0.65, 14, 12),
)
_SNOW_TABLES = {
    "imagenet224": SeverityTable(
        _SNOW_FIELDS, _snow(_SNOW_IMAGENET), _HC + "make_imagenet_c.py snow c", _SNOW_PX,
        _SNOW_NOTE,
    ),
    "tiny64": SeverityTable(
        _SNOW_FIELDS,
        _snow(tuple((*r, b) for r, b in zip(_SNOW_SMALL, (0.8, 0.8, 0.7, 0.65, 0.6), strict=True))),
        _HC + "make_tinyimagenet_c.py snow c", _SNOW_PX, _SNOW_NOTE,
    ),
    "cifar32": SeverityTable(
        _SNOW_FIELDS,
        _snow(
            tuple((*r, b) for r, b in zip(_SNOW_SMALL, (0.95, 0.9, 0.9, 0.85, 0.8), strict=True))
        ),
        _HC + "make_cifar_c.py snow c", _SNOW_PX, _SNOW_NOTE,
    ),
    "mnist28": SeverityTable(
        _SNOW_FIELDS, _snow(_SNOW_IMAGENET), _MC + " snow c (optional corruption)", _SNOW_PX,
        _SNOW_NOTE + " MNIST-C brightens with max(x, 1.5 x + 0.5) (gray = x).",
    ),
}

_SPATTER_FIELDS = (
    "loc", "scale", "sigma", "threshold", "water_gain", "mud_sigma", "mode", "mud_rgb",
)
_SPATTER_PX = frozenset({"sigma", "mud_sigma"})
_SPATTER_NOTE = (
    "tuple = (noise mean, noise std, smoothing sigma, threshold, c4, c5): c5 = 0 selects "
    "water with c4 = water_gain, c5 = 1 selects mud with c4 = mud_sigma (the unused one is 0)."
)
_MUD = (63, 42, 20)


def _spatter(
    rows: tuple[tuple[float, ...], ...], mud_rgb: tuple[int, int, int], force_mud: bool = False
) -> tuple[tuple[Any, ...], ...]:
    out = []
    for loc, scale, sigma, thr, c4, c5 in rows:
        mud = force_mud or c5 == 1
        out.append((loc, scale, sigma, thr, 0.0 if mud else c4, c4 if mud else 0.0,
                    "mud" if mud else "water", mud_rgb))
    return tuple(out)


_SPATTER_IMAGENET = (
    (0.65, 0.3, 4, 0.69, 0.6, 0),
    (0.65, 0.3, 3, 0.68, 0.6, 0),
    (0.65, 0.3, 2, 0.68, 0.5, 0),
    (0.65, 0.3, 1, 0.65, 1.5, 1),
    (0.67, 0.4, 1, 0.65, 1.5, 1),
)
_SPATTER_TABLES = {
    "imagenet224": SeverityTable(
        _SPATTER_FIELDS, _spatter(_SPATTER_IMAGENET, _MUD), _HC + "make_imagenet_c.py spatter c",
        _SPATTER_PX, _SPATTER_NOTE,
    ),
    "tiny64": SeverityTable(
        _SPATTER_FIELDS,
        _spatter(
            ((0.62, 0.1, 0.7, 0.7, 0.6, 0), (0.65, 0.1, 0.8, 0.7, 0.6, 0),
             (0.65, 0.3, 1, 0.69, 0.6, 0), (0.65, 0.1, 0.7, 0.68, 0.6, 1),
             (0.65, 0.1, 0.5, 0.67, 0.6, 1)),
            _MUD,
        ),
        _HC + "make_tinyimagenet_c.py spatter c", _SPATTER_PX, _SPATTER_NOTE,
    ),
    "cifar32": SeverityTable(
        _SPATTER_FIELDS,
        _spatter(
            ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
             (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
             (0.65, 0.1, 0.5, 0.68, 0.6, 1)),
            _MUD,
        ),
        _HC + "make_cifar_c.py spatter c", _SPATTER_PX, _SPATTER_NOTE,
    ),
    "mnist28": SeverityTable(
        _SPATTER_FIELDS, _spatter(_SPATTER_IMAGENET, (63, 63, 63), force_mud=True),
        _MC + " spatter c (benchmark severity 4)", _SPATTER_PX,
        _SPATTER_NOTE + " MNIST-C has no water branch: every severity is mud (gray 63) "
        "with c4 as the mask sigma, and c5 is ignored.",
    ),
}

_PAPER = "Hendrycks & Dietterich, ICLR 2019; "
SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        "snow", "weather", snow, _SNOW_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py snow",
    ),
    CorruptionSpec(
        "frost", "weather", frost, _FROST_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py frost",
        param_hook=_frost_hook,
    ),
    CorruptionSpec(
        "fog", "weather", fog, _FOG_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference=_PAPER + _HC + "make_imagenet_c.py fog",
    ),
    CorruptionSpec(
        "spatter", "weather", spatter, _SPATTER_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c_extra", "mnist_c"}),
        reference=_PAPER + _HC + "make_imagenet_c.py spatter",
    ),
)
