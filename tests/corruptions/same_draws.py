"""Run one of our kernels and the reference script on the same draws (test-only helper).

:func:`ours` calls the registry kernel with the reference's draws (see
:mod:`replay`); :func:`reference` maps the same severity-table row back to the
script's tuple ``c`` and runs :mod:`script_reference`. Both return uint8.
"""

from __future__ import annotations

import numpy as np
import pytest
import script_reference as sr
from fidelity_stats import max_abs
from replay import ScriptDraws

from corruptions import frost_texture, get_registry, resolve_params
from corruptions.image import quantize, to_layout

SIDES = {"mnist28": 28, "cifar32": 32, "tiny64": 64, "imagenet224": 224, "imagenet299": 299}
NAMES = ("gaussian_blur", "glass_blur", "defocus_blur", "motion_blur", "zoom_blur",
         "fog", "frost", "snow", "spatter")


def params(name: str, preset: str, severity: int, shape) -> dict:
    return resolve_params(name, severity=severity, preset=preset, shape=shape)


def ours(name: str, preset: str, image: np.ndarray, severity: int, seed: int) -> np.ndarray:
    """Our kernel at the table's parameters, fed the script's draws for ``seed``."""
    spec = get_registry()[name]
    p = params(name, preset, severity, image.shape)
    work, _ = to_layout(image, spec.layout)
    kwargs = {**p, "rng": ScriptDraws(seed)} if spec.stochastic else p
    out = quantize(np.asarray(spec.kernel(work, **kwargs)), "truncate")
    return out.reshape(image.shape)


def reference(name: str, preset: str, image: np.ndarray, severity: int, seed: int) -> np.ndarray:
    """The reference script's corruption of ``image`` with ``RandomState(seed)``."""
    p = params(name, preset, severity, image.shape)
    rs = np.random.RandomState(seed)
    if name == "gaussian_blur":
        return sr.gaussian_blur(image, p["sigma_y"])
    if name == "glass_blur":
        c = (p["sigma_y"], int(p["max_delta"]), int(p["iterations"]))
        return sr.glass_blur(image, c, rs, coin=p["swap_prob"] < 1)
    if name == "defocus_blur":
        return sr.defocus_blur(image, (p["radius"], p["alias_blur"]))
    if name == "motion_blur":
        return sr.motion_blur(image, (p["radius"], p["sigma"]), rs)
    if name == "zoom_blur":
        return sr.zoom_blur(image, p["zooms"])
    if name == "fog":
        return sr.fog(image, (p["strength"], p["decay"]), int(p["map_size"]), rs)
    if name == "frost":
        files = [frost_texture.cache_dir() / f for f in frost_texture.PINNED_SHA256]
        return sr.frost(image, (p["image_weight"], p["frost_weight"]), p["texture_scale"],
                        files, rs)
    if name == "snow":
        c = tuple(p[k] for k in ("loc", "scale", "zoom", "threshold", "blur_radius",
                                 "blur_sigma", "blend"))
        return sr.snow(image, c, rs)
    if name == "spatter":
        mud = p["mode"] == "mud"
        c = (p["loc"], p["scale"], p["sigma"], p["threshold"],
             p["mud_sigma"] if mud else p["water_gain"], int(mud))
        return sr.spatter(image, c, rs, mud_gray=preset == "mnist28")
    raise KeyError(name)


def assert_same_draws(name: str, preset: str, images: list[np.ndarray]) -> None:
    """Assert ours equals the reference script, pixel for pixel, at every severity and seed."""
    for severity in (1, 2, 3, 4, 5):
        for seed, img in enumerate(images):
            a = ours(name, preset, img, severity, seed)
            b = reference(name, preset, img, severity, seed)
            assert a.shape == b.shape
            worst = max_abs(a, b)
            assert worst == 0, f"{name}/{preset} s{severity} seed {seed}: max |diff| {worst}"


@pytest.fixture(scope="session")
def preset_images(photos224) -> dict[str, list[np.ndarray]]:
    """Two images per preset: a real photograph and a synthetic one with flat areas.

    The flat areas (0, 255 and a mid gray) are where float rounding decides the
    truncated level, so they catch arithmetic that is only approximately the reference's.
    MNIST-C works on 2-D gray arrays, so mnist28 images are 2-D.
    """
    from PIL import Image

    photo = Image.fromarray(photos224[1])  # chelsea
    out = {}
    for preset, n in SIDES.items():
        real = np.asarray(photo.resize((n, n), Image.BILINEAR))
        synth = np.zeros((n, n, 3), dtype=np.uint8)
        synth[:, n // 2 :] = 128
        synth[n // 4 : 3 * n // 4, n // 3 : n // 3 + max(2, n // 8)] = 255
        if preset == "mnist28":
            real = np.asarray(Image.fromarray(real).convert("L"))
            synth = synth[..., 0].copy()
        out[preset] = [real, synth]
    return out
