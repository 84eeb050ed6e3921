"""3DCC camera corruptions (low light, ISO noise, colour quantization) against their formulas.

Golden values are computed here from the formulas of the paper's script
(create_non3d.py), written independently of the kernels, with the same random
draws (a twin generator drawing Poisson first, then Gaussian, as the script does).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from corruptions import apply, resolve_params
from corruptions.camera import color_quantization, iso_noise, low_light
from corruptions.rng import derive_rng

SEVERITIES = (1, 2, 3, 4, 5)


def _golden_low_light(img: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    # imadjust(x, min, max, 0, c, gamma=2) * 255 then poisson_gaussian_noise(severity=3)
    x = np.array(img) / 255.0
    x_scaled = (((x - x.min()) / (x.max() - x.min())) ** 2.0) * (c - 0) + 0
    x_scaled = x_scaled * 255
    c_poisson = 10 * 12
    x = np.array(x_scaled) / 255.0
    x = np.clip(rng.poisson(x * c_poisson) / c_poisson, 0, 1) * 255
    c_gauss = 0.1 * 0.18
    x = np.array(x) / 255.0
    x = np.clip(x + rng.normal(size=x.shape, scale=c_gauss), 0, 1) * 255
    return np.uint8(x)


def _golden_iso(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    x = np.array(img) / 255.0
    x = np.clip(rng.poisson(x * 25) / 25, 0, 1) * 255
    c_gauss = 0.7 * [0.08, 0.12, 0.18, 0.26, 0.38][severity - 1]
    x = np.array(x) / 255.0
    x = np.clip(x + rng.normal(size=x.shape, scale=c_gauss), 0, 1) * 255
    return np.uint8(x)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_low_light_matches_formula_exactly(photos224, severity):
    c = [0.60, 0.50, 0.40, 0.30, 0.20][severity - 1]
    for i, img in enumerate(photos224[:4]):
        out = apply("low_light", img, severity=severity, preset="imagenet224",
                    rng=derive_rng(0, f"p{i}", "low_light", severity))
        gold = _golden_low_light(img, c, derive_rng(0, f"p{i}", "low_light", severity))
        np.testing.assert_array_equal(out, gold)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_iso_noise_matches_formula_exactly(photos224, severity):
    for i, img in enumerate(photos224[:4]):
        out = apply("iso_noise", img, severity=severity, preset="imagenet224",
                    rng=derive_rng(0, f"p{i}", "iso_noise", severity))
        gold = _golden_iso(img, severity, derive_rng(0, f"p{i}", "iso_noise", severity))
        np.testing.assert_array_equal(out, gold)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_color_quantization_equals_pil_posterize(photos224, severity):
    for img in photos224:
        out = apply("color_quantization", img, severity=severity, preset="imagenet224", rng=None)
        gold = np.asarray(ImageOps.posterize(Image.fromarray(img), 6 - severity))
        np.testing.assert_array_equal(out, gold)


def test_color_quantization_every_level():
    levels = np.arange(256, dtype=np.uint8)[None, :]
    for bits in range(1, 9):
        out = color_quantization(levels, bits=bits)
        assert len(np.unique(out)) == 2**bits
        assert np.all(out <= levels)


def test_tables_are_the_paper_values_on_every_preset():
    for preset in ("imagenet224", "tiny64", "cifar32", "mnist28"):
        shape = {"imagenet224": (224, 224, 3), "tiny64": (64, 64, 3),
                 "cifar32": (32, 32, 3), "mnist28": (28, 28)}[preset]
        gains = [resolve_params("low_light", severity=s, preset=preset, shape=shape)["gain"]
                 for s in SEVERITIES]
        sigmas = [resolve_params("iso_noise", severity=s, preset=preset, shape=shape)["sigma"]
                  for s in SEVERITIES]
        bits = [resolve_params("color_quantization", severity=s, preset=preset, shape=shape)["bits"]
                for s in SEVERITIES]
        assert gains == [0.60, 0.50, 0.40, 0.30, 0.20]
        assert sigmas == [0.056, 0.084, 0.126, 0.182, 0.266]
        assert bits == [5, 4, 3, 2, 1]


def test_severity_monotonic_on_real_crops(photo_crops224):
    imgs = photo_crops224[::6]
    for name in ("low_light", "iso_noise", "color_quantization"):
        errs = []
        for s in SEVERITIES:
            e = 0.0
            for i, img in enumerate(imgs):
                rng = derive_rng(1, f"c{i}", name, s)
                out = apply(name, img, severity=s, preset="imagenet224", rng=rng)
                e += float(np.abs(out.astype(np.float64) - img).mean())
            errs.append(e / len(imgs))
        assert all(a < b for a, b in zip(errs, errs[1:], strict=False)), (name, errs)


def test_low_light_darkens_and_constant_image_is_defined():
    rng = np.random.default_rng(0)
    img = np.full((8, 8, 3), 77, np.uint8)
    out = low_light(img, gain=0.6, gamma=2.0, photons=120.0, read_noise=0.018, rng=rng)
    assert np.isfinite(out).all() and out.mean() < 10
    with pytest.raises(ValueError, match="photons"):
        iso_noise(img, photons=0, sigma=0.1, rng=rng)
