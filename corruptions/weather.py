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

import cv2
import numpy as np

from corruptions import frost_texture
from corruptions._filters import clipped_zoom, gaussian_filter
from corruptions._fractal import next_power_of_2, plasma_fractal
from corruptions._motion import magick_motion_blur, motion_filter
from corruptions._weather_tables import (
    FOG_TABLES,
    FROST_PROCEDURAL_TABLES,
    FROST_TABLES,
    SNOW_TABLES,
    SPATTER_TABLES,
)
from corruptions.registry import CorruptionSpec

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
_WATER_RGB = (175, 238, 238)  # pale turquoise


def _unit32(image: np.ndarray) -> np.ndarray:
    """``np.array(x, dtype=np.float32) / 255.`` as (H, W, C), the scripts' snow/spatter scale."""
    x = np.asarray(image, dtype=np.float32) / 255.0
    return x[..., None] if x.ndim == 2 else x


# --------------------------------------------------------------------------- fog


def fog_from_fractal(image: np.ndarray, fractal: np.ndarray, *, strength: float) -> np.ndarray:
    """Blend a [0, 1] height map into an image as fog (deterministic part of :func:`fog`).

    ``out = clip((x + strength * F) * max(x) / (max(x) + strength), 0, 1) * 255`` with
    ``x = image / 255`` in float64, in the scripts' order of operations.

    Args:
        image: uint8 (H, W, C).
        fractal: float map of at least (H, W); its top-left (H, W) corner is used.
        strength: Fog density (>= 0), upstream ``c[0]``.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    """
    x = np.asarray(image) / 255.0
    x = x[..., None] if x.ndim == 2 else x
    h, w = x.shape[:2]
    top = np.asarray(image).max() / 255.0  # = max(x): division by 255 is monotone
    x += strength * np.asarray(fractal, dtype=np.float64)[:h, :w][..., None]
    if top + strength <= 0:
        return np.zeros_like(x)
    x *= top  # the scripts' x * top / (top + strength), left to right, in place
    x /= top + strength
    np.clip(x, 0, 1, out=x)
    x *= 255
    return x


def fog(
    image: np.ndarray, *, strength: float, decay: float, map_size: float, rng: np.random.Generator
) -> np.ndarray:
    """Fog: add a plasma fractal and rescale.

    Args:
        image: uint8 (H, W, C), C in {1, 3}.
        strength: Fog density (>= 0), upstream ``c[0]``.
        decay: Fractal ``wibbledecay`` (> 0; larger = smoother), upstream ``c[1]``.
        map_size: Fractal side in pixels; rounded up to a power of two that
            covers the image (256 at 224 px, 512 at 299 px, 32 for CIFAR-10-C, 64 for Tiny).
        rng: Random generator.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``fog`` / ``plasma_fractal``.

    """
    h, w = image.shape[:2]
    size = next_power_of_2(max(math.ceil(float(map_size)), h, w, 2))
    return fog_from_fractal(image, plasma_fractal(size, decay, rng), strength=strength)


# --------------------------------------------------------------------------- frost


def frost_crop(
    shape: tuple[int, int], *, gray: bool, texture_scale: float, texture_set: str,
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
    tex = frost_texture.texture(texture_set, index, gray, float(texture_scale))
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
    """Blend image and frost: ``clip(image_weight * x + frost_weight * crop, 0, 255)`` (float64).

    Args:
        image: uint8 (H, W, C).
        crop: uint8 (H, W) or (H, W, 3) frost texture window.
        image_weight: Weight of the image, upstream ``c[0]``.
        frost_weight: Weight of the texture, upstream ``c[1]``.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    """
    x = np.asarray(image)
    x = x[..., None] if x.ndim == 2 else x
    f = np.asarray(crop)
    f = f[..., None] if f.ndim == 2 else f
    if x.shape[2] == 1 and f.shape[2] == 3:
        f = (f.astype(np.float32) @ _LUMA)[..., None]
    return np.clip(image_weight * x + frost_weight * f, 0, 255)


def frost(
    image: np.ndarray,
    *,
    image_weight: float,
    frost_weight: float,
    texture_scale: float,
    texture_set: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frost: overlay a random window of a frost photograph.

    Args:
        image: uint8 (H, W, C), C in {1, 3} (gray images get the gray texture, as MNIST-C).
        image_weight: Weight of the image, upstream ``c[0]``.
        frost_weight: Weight of the texture, upstream ``c[1]``.
        texture_scale: Resize factor of the texture photographs (1 = as
            shipped; CIFAR-10-C 0.2, Tiny 0.3).
        texture_set: ``frost_texture.TEXTURE_SET`` (the pinned published photographs)
            or ``frost_texture.PROCEDURAL_SET``.
        rng: Random generator.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``frost``.

    """
    h, w = image.shape[:2]
    gray = image.ndim == 2 or image.shape[2] == 1
    crop = frost_crop(
        (h, w), gray=gray, texture_scale=texture_scale, texture_set=texture_set, rng=rng
    )
    return frost_from_crop(image, crop, image_weight=image_weight, frost_weight=frost_weight)


# --------------------------------------------------------------------------- snow


def snow_from_layer(
    image: np.ndarray, layer: np.ndarray, *, blur_radius: float, blur_sigma: float,
    angle: float, blend: float, prequantize: bool,
) -> np.ndarray:
    """Motion-blur a thresholded snow layer and composite it (deterministic part of :func:`snow`).

    With ``prequantize`` (the scripts) the layer is truncated to an 8-bit image
    and blurred exactly as ImageMagick Q16 does it
    (:func:`corruptions._motion.magick_motion_blur`); otherwise the float layer
    is blurred and rounded to 8 bits (imagecorruptions). The composite is the
    scripts': float32 ``blend * x + (1 - blend) * max(x, 1.5 gray + 0.5)``
    (``gray`` by ``cv2.cvtColor``), plus the layer and its 180-degree rotation in
    float64.

    Args:
        image: uint8 (H, W, C).
        layer: float (H, W) in [0, 1], after zoom, threshold and clipping.
        blur_radius: Motion-blur radius in pixels.
        blur_sigma: Motion-blur tap sigma.
        angle: Motion direction in degrees.
        blend: Weight of the original image against its brightened version, upstream ``c[6]``.
        prequantize: 8-bit layer through ImageMagick (the scripts) or float layer.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    """
    x = _unit32(image)
    if prequantize:
        lay8 = (np.asarray(layer) * 255).astype(np.uint8)
        lay = magick_motion_blur(lay8, blur_radius, blur_sigma, angle) / 255.0
    else:
        lay = motion_filter(np.asarray(layer, dtype=np.float32), blur_radius, blur_sigma, angle)
        lay = np.round(lay * np.float32(255)) / np.float32(255)
    if x.shape[2] == 1:
        gray = x
    else:
        gray = cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY)[..., None]
    # blend * x + (1 - blend) * max(x, 1.5 gray + 0.5) in float32, then + lay + rot180(lay)
    # in float64, left to right: the scripts' operations, in place
    brighter = np.maximum(x, gray * 1.5 + 0.5)
    brighter *= 1 - blend
    x *= blend
    x += brighter
    lay = lay[..., None]
    out = np.add(x, lay)
    out += lay[::-1, ::-1]
    np.clip(out, 0, 1, out=out)
    out *= 255
    return out


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
        image: uint8 (H, W, C), C in {1, 3}, square (the scripts' zoom is square).
        loc: Mean of the flake noise, upstream ``c[0]``.
        scale: Standard deviation of the flake noise, ``c[1]``.
        zoom: Flake magnification (>= 1 after scaling), ``c[2]``.
        threshold: Noise below it becomes 0, ``c[3]``.
        blur_radius: Motion-blur radius in pixels, ``c[4]``.
        blur_sigma: Motion-blur tap sigma, ``c[5]``.
        blend: Weight of the image against ``max(x, 1.5 gray + 0.5)``, ``c[6]``.
        angle_range: Degrees of the uniform fall direction (upstream (-135, -45)).
        prequantize: See :func:`snow_from_layer`.
        rng: Random generator: ``normal(loc, scale, (H, W))`` (float64), then the angle.

    Returns:
        float64 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``snow`` (Wand motion blur); imagecorruptions ``snow``.

    """
    h, w = image.shape[:2]
    noise = rng.normal(loc, scale, (h, w))
    layer = clipped_zoom(noise, max(float(zoom), 1.0))
    layer[layer < threshold] = 0
    layer = np.clip(layer, 0, 1)
    angle = float(rng.uniform(angle_range[0], angle_range[1]))
    return snow_from_layer(
        image, layer, blur_radius=blur_radius, blur_sigma=blur_sigma, angle=angle,
        blend=blend, prequantize=prequantize,
    )


# --------------------------------------------------------------------------- spatter


def _colour(rgb: tuple[float, float, float], channels: int) -> np.ndarray:
    """Return ``rgb / 255.`` as float32 per channel.

    One channel gets the gray level itself when the three are equal (MNIST-C's
    mud 63), else the rgb2gray luma.
    """
    if channels == 3:
        return np.array([v / 255.0 for v in rgb], dtype=np.float32)
    if len(set(rgb)) == 1:
        return np.array([rgb[0] / 255.0], dtype=np.float32)
    return np.array([float(np.dot(rgb, _LUMA_IC)) / 255.0], dtype=np.float32)


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

    The scripts' float32 arithmetic on ``x = float32(image) / 255``.

    Args:
        image: uint8 (H, W, C).
        liquid: float (H, W), the Gaussian-smoothed noise (float64 in the scripts).
        threshold: Liquid below it is dry, upstream ``c[3]``.
        water_gain: Water: peak opacity of the pale-turquoise (175, 238, 238) layer.
        mud_sigma: Mud: sigma (pixels) softening the mud mask, whose values < 0.8 are dropped.
        mode: ``"water"`` (upstream ``c[5] == 0``) or ``"mud"``.
        mud_rgb: Mud colour (63, 42, 20); MNIST-C uses gray 63.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    """
    x = _unit32(image)
    liquid = np.array(liquid)
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
        m = layer * dist
        peak = m.max()
        if peak > 0:  # upstream divides by 0 (NaN, then uint8 0) when nothing is wet
            m /= peak
        m *= water_gain
        add = m[..., None] * _colour(_WATER_RGB, 3)
        if x.shape[2] == 1:
            add = (add @ _LUMA_IC)[..., None]
        return np.clip(x + add, 0, 1) * 255
    if mode != "mud":
        raise ValueError(f"spatter mode must be 'water' or 'mud', got {mode!r}")
    m = gaussian_filter((liquid > threshold).astype(np.float32), mud_sigma, mud_sigma)
    m[m < 0.8] = 0
    color = _colour(mud_rgb, x.shape[2]) * m[..., None]
    x *= 1 - m[..., None]
    return np.clip(x + color, 0, 1) * 255


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
        rng: Random generator: ``normal(loc, scale, (H, W))`` in float64, as upstream.

    Returns:
        float32 (H, W, C) on the 0..255 scale.

    Reference:
        ImageNet-C ``spatter``; MNIST-C ``spatter`` (mud only, gray 63).

    """
    h, w = image.shape[:2]
    liquid = gaussian_filter(rng.normal(loc, scale, (h, w)), sigma, sigma)
    return spatter_from_liquid(
        image, liquid, threshold=threshold, water_gain=water_gain, mud_sigma=mud_sigma,
        mode=mode, mud_rgb=mud_rgb,
    )


_PAPER = "Hendrycks & Dietterich, ICLR 2019; "
SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        "snow", "weather", snow, SNOW_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py snow", cost=3,
    ),
    CorruptionSpec(
        "frost", "weather", frost, FROST_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference=_PAPER + _HC + "make_imagenet_c.py frost",
    ),
    CorruptionSpec(
        "frost_procedural", "weather", frost, FROST_PROCEDURAL_TABLES,
        stochastic=True, layout="any", suites=frozenset(),
        reference="benchsmith stand-in for ImageNet-C frost (only when a manifest names it): "
        "corruptions.frost_texture.procedural_texture",
    ),
    CorruptionSpec(
        "fog", "weather", fog, FOG_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference=_PAPER + _HC + "make_imagenet_c.py fog",
    ),
    CorruptionSpec(
        "spatter", "weather", spatter, SPATTER_TABLES, stochastic=True, layout="any",
        suites=frozenset({"imagenet_c_extra", "mnist_c"}),
        reference=_PAPER + _HC + "make_imagenet_c.py spatter",
    ),
)
