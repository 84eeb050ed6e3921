"""MNIST-C drawings and filters against goldens written from the published recipes.

The goldens are written out again here, independently of the kernels:

* the line drawings follow google-research/mnist-c ``line_from_points`` pixel
  by pixel (a plain double loop) and its ``line`` / ``dotted_line`` /
  ``zigzag`` bodies, fed the same random draws as the kernel;
* ``canny_edges`` follows the scikit-image 0.14-0.17 Canny that MNIST-C was
  generated with (mask-normalised Gaussian, Sobel, interpolated non-maximum
  suppression in four sectors, 8-connected hysteresis), written with
  scipy.ndimage; the kernel calls today's ``skimage.feature.canny``;
* stripe, inverse, quantize and identity are one-line formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from corruptions import apply, get_registry, resolve_params
from corruptions import strokes as st
from corruptions.rng import derive_rng

N_DIGITS = 60


@pytest.fixture(scope="module")
def digits(mnist_test_images: np.ndarray) -> np.ndarray:
    return mnist_test_images[:N_DIGITS].copy()


def to_u8(x01: np.ndarray) -> np.ndarray:
    return (np.clip(x01, 0, 1) * 255).astype(np.float32).astype(np.uint8)


# ----------------------------------------------------------------- line goldens
def ref_line_from_points(c0, r0, c1, r1, h=28, w=28):
    out = np.zeros((h, w))
    if c1 == c0:
        return out
    m = (r1 - r0) / (c1 - c0)
    left, right = math.floor(c0), math.ceil(c1)
    for r in range(h):
        for c in range(w):
            if c < left or c >= right:
                continue
            d = min(abs(r - (m * (c - c0) + r0)), 2.3 - 1e-10)
            out[r, c] = min(max(math.log(1 - d / 2.3) + 1, 0.0), 1.0)
    return out


def ref_line(img, c0, r0, c1, r1):
    return to_u8(img / 255.0 + ref_line_from_points(c0, r0, c1, r1))


def ref_dotted_line(img, r0, r1):
    corruption = ref_line_from_points(0, r0, 27, r1)
    idx = list(range(0, 30, 2))
    off = True
    for i in range(1, len(idx)):
        if off:
            corruption[:, idx[i - 1] : idx[i]] = 0
        off = not off
    return to_u8(img / 255.0 + corruption)


def ref_zigzag(img, r0, r1):
    a = b = 2.0
    c0, c1 = 2, 25
    theta = math.atan((r1 - r0) / (c1 - c0))
    d = (c1 - c0) / math.cos(theta)
    pts = [(0.0, 0.0)]
    r_i = None
    for i in range(int((d - a) // (2 * a)) + 1):
        r_i = (-1) ** i * b
        pts.append(((2 * i + 1) * a, r_i))
    max_c = (2 * a) * (d // (2 * a))
    if d != max_c:
        pts.append((d, r_i / (2 * (d - max_c))))
    cs = [c * math.cos(theta) - r * math.sin(theta) + c0 for c, r in pts]
    rs = [c * math.sin(theta) + r * math.cos(theta) + r0 for c, r in pts]
    x = img / 255.0
    for i in range(1, len(pts)):
        x = np.clip(x + ref_line_from_points(cs[i - 1], rs[i - 1], cs[i], rs[i]), 0, 1)
    return to_u8(x)


# ---------------------------------------------------------------- canny golden
def ref_canny_2019(image01, sigma=1.0, low=0.1, high=0.2):
    mask = np.ones(image01.shape, bool)

    def fsmooth(x):
        return ndi.gaussian_filter(x, sigma, mode="constant")

    bleed_over = fsmooth(mask.astype(float))
    smoothed = fsmooth(image01) / (bleed_over + np.finfo(float).eps)
    jsobel = ndi.sobel(smoothed, axis=1)
    isobel = ndi.sobel(smoothed, axis=0)
    ai, aj = np.abs(isobel), np.abs(jsobel)
    mag = np.hypot(isobel, jsobel)
    eroded = ndi.binary_erosion(mask, ndi.generate_binary_structure(2, 2), border_value=0)
    eroded &= mag > 0
    local = np.zeros(image01.shape, bool)

    def sector(pts, w, p1, p2, m1, m2):
        # p1/p2, m1/m2: neighbour offsets (dr, dc) on the + and - side.
        rr, cc = np.nonzero(pts)
        m = mag[rr, cc]

        def at(off):
            return mag[rr + off[0], cc + off[1]]

        plus = at(p2) * w + at(p1) * (1 - w) <= m
        minus = at(m2) * w + at(m1) * (1 - w) <= m
        local[rr, cc] = plus & minus

    both_pos = (isobel >= 0) & (jsobel >= 0)
    both_neg = (isobel <= 0) & (jsobel <= 0)
    mixed_a = (isobel <= 0) & (jsobel >= 0)
    mixed_b = (isobel >= 0) & (jsobel <= 0)
    pts = eroded & (both_pos | both_neg) & (ai >= aj)
    sector(pts, aj[pts] / ai[pts], (1, 0), (1, 1), (-1, 0), (-1, -1))
    pts = eroded & (both_pos | both_neg) & (ai <= aj)
    sector(pts, ai[pts] / aj[pts], (0, 1), (1, 1), (0, -1), (-1, -1))
    pts = eroded & (mixed_a | mixed_b) & (ai <= aj)
    sector(pts, ai[pts] / aj[pts], (0, 1), (-1, 1), (0, -1), (1, -1))
    pts = eroded & (mixed_a | mixed_b) & (ai >= aj)
    sector(pts, aj[pts] / ai[pts], (-1, 0), (-1, 1), (1, 0), (1, -1))
    high_mask = local & (mag >= high)
    low_mask = local & (mag >= low)
    labels, count = ndi.label(low_mask, np.ones((3, 3), bool))
    if count == 0:
        return low_mask
    sums = np.atleast_1d(ndi.sum(high_mask, labels, np.arange(count) + 1))
    good = np.zeros(count + 1, bool)
    good[1:] = sums > 0
    return good[labels]


# ------------------------------------------------------------------- the tests
def _maxdiff(a, b):
    return int(np.abs(a.astype(int) - b.astype(int)).max())


def _draws(name, i, sampler):
    return sampler(derive_rng(0, f"mnist/test/{i}", name, 1), (28, 28))


GOLDEN = {
    "identity": lambda img, i: img.copy(),
    "inverse": lambda img, i: 255 - img,
    "stripe": lambda img, i: np.concatenate([255 - img[:, :7], img[:, 7:21], 255 - img[:, 21:]], 1),
    "canny_edges": lambda img, i: ref_canny_2019(img / 255.0).astype(np.uint8) * 255,
    "line": lambda img, i: ref_line(img, **_draws("line", i, st.sample_line)),
    "dotted_line": lambda img, i: ref_dotted_line(
        img, **_draws("dotted_line", i, st.sample_dotted_line)
    ),
    "zigzag": lambda img, i: ref_zigzag(img, **_draws("zigzag", i, st.sample_zigzag)),
    "quantize": None,  # per severity, below
}


def test_every_strokes_spec_has_a_golden():
    assert {s.name for s in st.SPECS} == set(GOLDEN)


@pytest.mark.parametrize("name", sorted(n for n in GOLDEN if n != "quantize"))
def test_registry_output_equals_published_recipe(digits, name):
    worst = 0
    for i, img in enumerate(digits):
        out = apply(
            name, img, severity=1, preset="mnist28", rng=derive_rng(0, f"mnist/test/{i}", name, 1)
        )
        worst = max(worst, _maxdiff(out, GOLDEN[name](img, i)))
    assert worst <= 1, f"{name}: max-abs diff {worst} gray levels"


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_quantize_matches_formula(digits, severity):
    bits = [5, 4, 3, 2, 1][severity - 1]
    levels = 2**bits - 1
    for img in digits[:10]:
        gold = (np.round(img.astype(float) * levels / 255) * 255 / levels).astype(np.uint8)
        out = apply("quantize", img, severity=severity, preset="mnist28", rng=None)
        assert _maxdiff(out, gold) <= 1
        assert len(np.unique(out)) <= levels + 1


def test_drawings_only_add_light(digits):
    for name in ("line", "dotted_line", "zigzag"):
        for i, img in enumerate(digits[:10]):
            out = apply(name, img, severity=1, preset="mnist28", rng=derive_rng(0, str(i), name, 1))
            assert (out >= img).all()
            assert (out.astype(int) - img).sum() > 255 * 5  # something visible was drawn


def test_dotted_line_draws_only_odd_dash_columns(digits):
    img = np.zeros((28, 28), np.uint8)
    out = st.draw_dotted_line(img, r0=5, r1=20, falloff=2.3, dash=2)
    lit = np.nonzero(out.max(axis=0))[0]
    assert set(lit) <= {c for c in range(28) if (c // 2) % 2 == 1}
    assert 27 not in lit  # upstream clears from ceil(c1) = 27 on


def test_vertical_segment_draws_nothing():
    assert not st.line_intensity((28, 28), 5, 0, 5, 20, falloff=2.3).any()


def test_end_point_distributions():
    rng = np.random.default_rng(1234)
    n = 5400
    lines = [st.sample_line(rng, (28, 28)) for _ in range(n)]
    dots = [st.sample_dotted_line(rng, (28, 28)) for _ in range(n)]
    zigs = [st.sample_zigzag(rng, (28, 28)) for _ in range(n)]
    assert {d["c0"] for d in lines} == set(range(0, 5))
    assert {d["c1"] for d in lines} == set(range(22, 27))
    rows = np.array([d["r0"] for d in dots] + [d["r1"] for d in dots])
    counts = np.bincount(rows.astype(int), minlength=27)
    assert counts.size == 27  # upstream randint(0, 27): 0..26
    # Uniform over 27 values: expected 400 each, sd ~19.6; chi-square with 26 dof < 60.
    chi2 = ((counts - counts.mean()) ** 2 / counts.mean()).sum()
    assert chi2 < 60, chi2
    steps = np.array([d["r1"] - d["r0"] for d in zigs]).astype(int)
    assert set(steps) == set(range(-5, 5))  # upstream randint(-5, 5)
    assert abs(steps.mean() - (-0.5)) < 0.15


def test_canny_is_binary_and_near_strokes(digits):
    for img in digits[:10]:
        out = apply("canny_edges", img, severity=1, preset="mnist28", rng=None)
        assert set(np.unique(out)) <= {0, 255}
        near = ndi.binary_dilation(img > 0, iterations=2)
        assert (out[~near] == 0).all()


ALL = sorted(s.name for s in st.SPECS)


@pytest.mark.parametrize("name", ALL)
def test_tables_have_five_rows_and_refuse_bad_severity(digits, name):
    table = get_registry()[name].tables["mnist28"]
    assert len(table.rows) == 5 and table.source
    if name != "quantize":
        assert len(set(table.rows)) == 1 and table.notes  # parameter-free: one row, five times
    with pytest.raises(ValueError):
        apply(name, digits[0], severity=0, preset="mnist28", rng=derive_rng(0, "x", name, 1))


def test_pixel_fields_scale_on_larger_images(digits):
    big = np.kron(digits[0], np.ones((2, 2), np.uint8))
    assert resolve_params("stripe", severity=1, preset="mnist28", shape=big.shape) == {
        "left_width": 14.0,
        "right_width": 14.0,
    }
    out = apply("stripe", big, severity=1, preset="mnist28", rng=None)
    assert np.array_equal(out, np.kron(GOLDEN["stripe"](digits[0], 0), np.ones((2, 2), np.uint8)))
    for name in ("zigzag", "dotted_line", "line", "canny_edges"):
        o = apply(name, big, severity=1, preset="mnist28", rng=derive_rng(0, "big", name, 1))
        assert o.shape == big.shape and o.max() == 255


def test_suites():
    reg = get_registry()
    mine = {"identity", "stripe", "dotted_line", "zigzag", "canny_edges"}
    assert mine <= set(reg.in_suite("mnist_c"))
    assert {"line", "inverse", "quantize"} <= set(reg.in_suite("mnist_c_extra"))
