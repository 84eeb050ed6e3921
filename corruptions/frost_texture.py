"""Frost textures for the ``frost`` corruption.

ImageNet-C's frost overlays a random crop of one of six photographs of frost on
a window (``frost1.png`` ... ``frost6.jpg``; the scripts draw ``randint(5)``, so
only the first five are ever used). Those photographs are not ours to copy into
this repository. At run time they are read from the installed PyPI package
``imagecorruptions`` (located with :func:`importlib.util.find_spec`, which does
not import it); when it is not installed, :func:`procedural_texture` draws a
documented stand-in. Which source was used is recorded in the provenance as
``texture_source`` (see ``corruptions.weather``).

This is the only module of the family that reads files; results are cached
per process and returned read-only.

Reference:
    Hendrycks & Dietterich (2019); bethgelab/imagecorruptions ``frost/``.
"""

from __future__ import annotations

import importlib.util
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np

from corruptions._fractal import plasma_fractal
from corruptions._motion import motion_filter

__all__ = [
    "TEXTURE_SOURCES",
    "N_TEXTURES",
    "available_source",
    "texture",
    "procedural_texture",
]

TEXTURE_SOURCES: tuple[str, ...] = ("imagecorruptions", "procedural")
#: How many textures the frost kernel chooses from (upstream ``randint(5)``).
N_TEXTURES = 5
_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")
#: Size (H, W) of the procedural textures, like the smaller upstream photographs.
_PROCEDURAL_SHAPE = (480, 720)
_PROCEDURAL_SEED = 20190328  # fixed: the stand-in textures are data, not per-sample noise


@cache
def _package_dir() -> Path | None:
    spec = importlib.util.find_spec("imagecorruptions")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "frost"
    if all((folder / name).is_file() for name in _FILES[:N_TEXTURES]):
        return folder
    return None


def available_source() -> str:
    """Name the texture source: ``"imagecorruptions"`` if installed, else ``"procedural"``."""
    return "imagecorruptions" if _package_dir() is not None else "procedural"


def procedural_texture(index: int) -> np.ndarray:
    """Draw the stand-in frost texture number ``index`` (deterministic).

    The texture is a sum of (a) a smooth plasma-fractal haze and (b) ice
    needles: sparse bright seeds smeared by motion blur along a few random
    directions, combined by maximum, tinted blue-white. It is calibrated to the
    mean (about 165) and standard deviation (about 30) of the upstream
    photographs, so per-severity statistics are close, but it is not the
    ImageNet-C texture and results made with it are not comparable pixel-wise.

    Args:
        index: Texture number in ``0..N_TEXTURES-1``.

    Returns:
        A read-only uint8 RGB array of shape (480, 720, 3).

    """
    return _procedural(int(index))


@cache
def _procedural(index: int) -> np.ndarray:
    if not 0 <= index < N_TEXTURES:
        raise ValueError(f"texture index must be in 0..{N_TEXTURES - 1}, got {index}")
    rng = np.random.default_rng(np.random.SeedSequence([_PROCEDURAL_SEED, index]))
    h, w = _PROCEDURAL_SHAPE
    haze = plasma_fractal(1024, 1.8, rng)[:h, :w]
    needles = np.zeros((h, w), dtype=np.float32)
    for angle in rng.uniform(0.0, 180.0, size=4):
        seeds = (rng.random((h, w), dtype=np.float32) > 0.985).astype(np.float32)
        streak = motion_filter(seeds, float(rng.uniform(6, 14)), 6.0, float(angle))
        needles = np.maximum(needles, streak)
    needles = cv2.GaussianBlur(needles, (3, 3), 0.7)
    needles /= max(float(needles.max()), 1e-6)
    value = 70.0 + 120.0 * haze + 150.0 * np.sqrt(needles)
    tint = np.array([0.93, 0.97, 1.0], dtype=np.float32)  # R, G, B: cold blue-white
    out = np.clip(value[..., None] * tint, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


@cache
def _photo(index: int, gray: bool) -> np.ndarray:
    folder = _package_dir()
    if folder is None:
        raise RuntimeError(
            "frost texture_source='imagecorruptions' but the package is not installed; "
            "pip install --no-deps imagecorruptions==1.1.2, or use texture_source='procedural'"
        )
    path = str(folder / _FILES[index])
    if gray:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    else:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        img = None if img is None else np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB
    if img is None:
        raise RuntimeError(f"could not read frost texture {path}")
    img.setflags(write=False)
    return img


@lru_cache(maxsize=64)
def texture(source: str, index: int, gray: bool, scale: float) -> np.ndarray:
    """Return frost texture ``index`` from ``source``, resized by ``scale``.

    Args:
        source: ``"imagecorruptions"`` (the upstream photographs) or ``"procedural"``.
        index: Texture number in ``0..N_TEXTURES-1``.
        gray: Return a single-channel (H, W) texture (MNIST-C reads it with
            ``cv2.IMREAD_GRAYSCALE``) instead of RGB (H, W, 3).
        scale: Resize factor (> 0); 1 keeps the photograph's pixels. Other values
            use ``cv2.resize(fx=fy=scale)`` with bilinear interpolation, as the
            CIFAR-10-C (0.2) and Tiny-ImageNet-C (0.3) scripts do.

    Returns:
        A read-only uint8 array.

    """
    if source not in TEXTURE_SOURCES:
        raise ValueError(f"texture_source must be one of {TEXTURE_SOURCES}, got {source!r}")
    if not 0 <= index < N_TEXTURES:
        raise ValueError(f"texture index must be in 0..{N_TEXTURES - 1}, got {index}")
    if scale <= 0:
        raise ValueError(f"texture_scale must be > 0, got {scale}")
    if source == "imagecorruptions":
        img = _photo(index, gray)
    else:
        img = _procedural(index)
        if gray:
            img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        img = cv2.resize(img, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    img = np.ascontiguousarray(img)
    img.setflags(write=False)
    return img
