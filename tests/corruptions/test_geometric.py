"""MNIST-C affine corruptions against goldens built from the published formulas.

The goldens do not call the kernels: each builds the inverse affine matrix by
hand from the MNIST-C code's recipe (scikit-image 2019 ``AffineTransform``
parameterisation, translation chosen so the centre (13.5, 13.5) is fixed),
warps ``x / 255`` with ``skimage.transform.warp`` (bilinear, zeros outside),
clips, multiplies by 255 and truncates like ``np.uint8``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import transform

from corruptions import apply, resolve_params
from corruptions import geometric as geo
from corruptions.rng import derive_rng

N_DIGITS = 40


@pytest.fixture(scope="module")
def digits(mnist_test_images: np.ndarray) -> np.ndarray:
    return mnist_test_images[:N_DIGITS].copy()


def _fix_centre(a: np.ndarray, centre: float = 13.5) -> np.ndarray:
    """Solve A @ (c, c) + t = (c, c) for t."""
    m = np.eye(3)
    m[:2, :2] = a
    m[:2, 2] = centre - a @ np.array([centre, centre])
    return m


def golden_warp(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    x = transform.warp(image / 255.0, inverse_map=transform.AffineTransform(matrix=m), order=1)
    return (np.clip(x, 0, 1) * 255.0).astype(np.float32).astype(np.uint8)


def golden_rotate(image: np.ndarray, theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return golden_warp(image, _fix_centre(np.array([[c, -s], [s, c]])))


def golden_shear(image: np.ndarray, angle: float) -> np.ndarray:
    # scikit-image 0.14/0.15 AffineTransform(shear=a): [[1, -sin a], [0, cos a]].
    return golden_warp(
        image, _fix_centre(np.array([[1.0, -math.sin(angle)], [0.0, math.cos(angle)]]))
    )


def golden_scale(image: np.ndarray, factor: float) -> np.ndarray:
    return golden_warp(image, _fix_centre(np.diag([1 / factor, 1 / factor])))


def golden_translate(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return golden_warp(image, np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]]))


# Published MNIST-C per-severity magnitudes, written out again here on purpose.
PUBLISHED = {
    "shear": [0.2, 0.4, 0.6, 0.8, 1.0],
    "rotate": [0.2, 0.4, 0.6, 0.8, 1.0],
    "scale": [0.9, 0.8, 0.7, 0.6, 0.5],  # the table stores 1 / these
    "translate": [1, 2, 3, 4, 5],
}


def candidates(name: str, image: np.ndarray, severity: int) -> dict[tuple, np.ndarray]:
    """Every output the published recipe allows at this severity, by random choice."""
    c = PUBLISHED[name][severity - 1]
    if name == "shear":
        return {(b,): golden_shear(image, b * c) for b in (-1, 1)}
    if name == "rotate":
        return {(b,): golden_rotate(image, b * c) for b in (-1, 1)}
    if name == "scale":
        return {(): golden_scale(image, c)}
    return {(bx, by): golden_translate(image, bx * c, by * c) for bx in (-1, 1) for by in (-1, 1)}


def _maxdiff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


def match(out: np.ndarray, cands: dict[tuple, np.ndarray]) -> tuple[tuple, int]:
    """The random choice whose golden is nearest to ``out``, and its max-abs diff."""
    key = min(cands, key=lambda k: _maxdiff(out, cands[k]))
    return key, _maxdiff(out, cands[key])


def test_every_geometric_spec_has_a_golden():
    assert {s.name for s in geo.SPECS} == set(PUBLISHED)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_registry_output_equals_published_recipe(digits, name, severity):
    worst = 0
    for i, img in enumerate(digits):
        rng = derive_rng(0, f"mnist/test/{i}", name, severity)
        out = apply(name, img, severity=severity, preset="mnist28", rng=rng)
        _, diff = match(out, candidates(name, img, severity))
        worst = max(worst, diff)
    assert worst <= 1, f"{name} s{severity}: max-abs diff {worst} gray levels"


@pytest.mark.parametrize("sign", [-1, 1])
def test_deterministic_warps_exact(digits, sign):
    for img in digits[:10]:
        assert (
            _maxdiff(
                geo.rotate_image(img, angle=sign * 0.4).astype(np.uint8),
                golden_rotate(img, sign * 0.4),
            )
            == 0
        )
        assert (
            _maxdiff(
                geo.shear_image(img, shear_angle=sign * 0.6).astype(np.uint8),
                golden_shear(img, sign * 0.6),
            )
            == 0
        )
        assert (
            _maxdiff(
                geo.translate_image(img, dx=sign * 3.0, dy=-sign * 2.0).astype(np.uint8),
                golden_translate(img, sign * 3.0, -sign * 2.0),
            )
            == 0
        )


def test_shear_is_the_2019_angle_not_todays_tangent(digits):
    """Today's AffineTransform(shear=a) is [[1, -tan a], [0, 1]]; MNIST-C used sin/cos."""
    img = digits[0]
    ours = geo.shear_image(img, shear_angle=0.4).astype(np.uint8)
    modern = transform.AffineTransform(shear=0.4).params.copy()
    modern = _fix_centre(modern[:2, :2])
    assert _maxdiff(ours, golden_shear(img, 0.4)) == 0
    assert _maxdiff(ours, golden_warp(img, modern)) > 10


def test_rotate_digit_keeps_centre_of_mass_and_mass(digits):
    img = digits[1]
    out = geo.rotate_image(img, angle=0.4)
    yy, xx = np.mgrid[0:28, 0:28]

    def com(a):
        a = a.astype(float)
        return np.array([(a * yy).sum(), (a * xx).sum()]) / a.sum()

    assert np.linalg.norm(com(out) - com(img) - 0) < 3.0
    assert abs(out.sum() / img.sum() - 1) < 0.1


@pytest.mark.parametrize("name", ["shear", "rotate"])
def test_sign_is_fifty_fifty(digits, name):
    img = digits[0]
    cands = candidates(name, img, 2)
    assert _maxdiff(cands[(1,)], cands[(-1,)]) > 50  # the two choices are distinguishable
    n, plus = 400, 0
    for i in range(n):
        out = apply(name, img, severity=2, preset="mnist28", rng=derive_rng(7, f"s/{i}", name, 2))
        key, diff = match(out, cands)
        assert diff <= 1
        plus += key == (1,)
    # Binomial(400, 0.5): sd 10; allow 4 sd.
    assert abs(plus - n / 2) <= 40, plus


def test_translate_signs_are_independent_and_uniform(digits):
    img = digits[2]
    cands = candidates("translate", img, 3)
    counts = dict.fromkeys(cands, 0)
    n = 400
    for i in range(n):
        out = apply(
            "translate",
            img,
            severity=3,
            preset="mnist28",
            rng=derive_rng(3, f"t/{i}", "translate", 3),
        )
        key, diff = match(out, cands)
        assert diff <= 1
        counts[key] += 1
    # Each quadrant ~ Binomial(400, 1/4): mean 100, sd 8.7; allow ~4.5 sd.
    assert all(60 <= c <= 140 for c in counts.values()), counts


def test_scale_shrinks_digit_about_centre(digits):
    img = digits[3]
    out = apply("scale", img, severity=5, preset="mnist28", rng=None)
    rows = np.nonzero(out.max(axis=1))[0]
    rows_in = np.nonzero(img.max(axis=1))[0]
    height_ratio = (rows[-1] - rows[0] + 1) / (rows_in[-1] - rows_in[0] + 1)
    assert 0.4 <= height_ratio <= 0.65


def test_translate_offset_scales_with_image_size(digits):
    big = np.kron(digits[5], np.ones((2, 2), np.uint8))  # 56x56
    assert resolve_params("translate", severity=3, preset="mnist28", shape=big.shape) == {
        "offset": 6.0
    }
    out = apply(
        "translate", big, severity=3, preset="mnist28", rng=derive_rng(0, "big", "translate", 3)
    )
    cands = {
        (bx, by): golden_translate(big, 6.0 * bx, 6.0 * by) for bx in (-1, 1) for by in (-1, 1)
    }
    assert match(out, cands)[1] <= 1


def test_rotation_about_centre_on_non_mnist_size():
    img = np.zeros((40, 60), np.uint8)
    img[18:22, 10:50] = 255  # horizontal bar through the centre (29.5, 19.5)
    out = geo.rotate_image(img, angle=math.pi / 2).astype(np.uint8)
    # A quarter turn of a centred horizontal bar is a centred vertical bar.
    cols = np.nonzero(out.max(axis=0) > 128)[0]
    assert 27 <= cols[0] and cols[-1] <= 32
