"""Fidelity of the blur family against the reference scripts and imagecorruptions 1.1.2.

* Same draws, same pixels: every blur at every preset (mnist28, cifar32, tiny64,
  imagenet224, imagenet299) and severity, fed the reference script's draws
  (:mod:`replay`), equals the script's output (:mod:`script_reference`, whose
  motion blur is the real ImageMagick through Wand, :mod:`magick_oracle`) to
  0 gray levels.
* Deterministic kernels (defocus, zoom, Gaussian) and glass blur at the same
  offsets equal imagecorruptions exactly at 224x224; motion blur at the same
  angle is within 1 level of imagecorruptions' numpy port (which truncates the
  float sum where ImageMagick rounds to 16 bits first).
* Glass blur's shuffle equals a literal sequential loop exactly (copy semantics
  on RGB arrays, swap semantics on 2-D arrays), including MNIST-C's coin flip.
* Stochastic kernels: per-severity statistics of ``output - input`` over the
  >= 100 crops of ``photo_crops224`` (pooled mean, std, fraction of changed
  values) within 5 % of the reference's; a mean near 0 (blurs) passes within
  0.5 gray levels or 3 standard errors, see :func:`assert_stats_close`.
  The glass-blur reference takes ~0.8 s per image in pure Python, so its
  statistics were computed once (``python3 tests/corruptions/test_blur.py``
  regenerates them) and are checked against a digest of the crops.
* The cifar32 / tiny64 / mnist28 tables equal the published numbers.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import magick_oracle
import numpy as np
import oracle
import pytest
from fidelity_stats import Stats, assert_stats_close, max_abs
from same_draws import SIDES, assert_same_draws, preset_images  # noqa: F401 (fixture)
from script_reference import clipped_zoom as script_clipped_zoom

from corruptions import _jit, apply, get_registry, resolve_params
from corruptions._filters import _zoom_sum, clipped_zoom, disk_kernel, zoom_sum
from corruptions._motion import magick_motion_blur
from corruptions.blur import glass_blur_from_draws, glass_shuffle_index, motion_blur_at
from corruptions.image import quantize
from corruptions.rng import derive_rng

SEVERITIES = (1, 2, 3, 4, 5)




def crops_digest(crops: list[np.ndarray]) -> str:
    return hashlib.sha256(b"".join(c.tobytes() for c in crops)).hexdigest()[:16]


# Reference statistics of imagecorruptions.glass_blur over photo_crops224, seed = crop
# index: severity -> (mean, std, changed fraction). Regenerate with
# ``python3 tests/corruptions/test_blur.py`` (about 10 CPU-minutes; imagecorruptions 1.1.2,
# numpy 2.4, scikit-image 0.26).
GLASS_REFERENCE = {
    "crops_sha256_16": "baae08a877b6e434",  # 135 crops
    1: (-0.9533, 13.2597, 0.85335),
    2: (-0.9662, 12.9678, 0.8564),
    3: (-0.9876, 19.8475, 0.88559),
    4: (-0.9666, 18.6675, 0.88638),
    5: (-1.0037, 20.083, 0.89837),
}


# --------------------------------------------------------------------------- deterministic


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", ["defocus_blur", "zoom_blur", "gaussian_blur"])
def test_deterministic_matches_reference(name, severity, photos224):
    worst = 0
    for img in photos224:
        ours = apply(name, img, severity=severity, preset="imagenet224", rng=None)
        worst = max(worst, max_abs(ours, oracle.reference(name, img, severity)))
    assert worst == 0, f"{name} s{severity}: max abs diff {worst}"


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_same_angle_matches_reference(severity, photos224):
    worst = 0
    for seed, img in enumerate(photos224):
        angle = np.random.RandomState(seed).uniform(-45, 45)  # the reference's only draw
        p = resolve_params("motion_blur", severity=severity, preset="imagenet224", shape=img.shape)
        ours = quantize(
            motion_blur_at(img, radius=p["radius"], sigma=p["sigma"], angle=angle), "truncate"
        )
        worst = max(worst, max_abs(ours, oracle.reference("motion_blur", img, severity, seed)))
    assert worst <= 1, f"motion_blur s{severity}: max abs diff {worst}"


@pytest.mark.parametrize("severity", SEVERITIES)
def test_glass_blur_same_draws_matches_reference(severity, photos224):
    worst = 0
    for seed, img in enumerate(photos224[:2]):  # the reference takes ~1 s per call
        p = resolve_params("glass_blur", severity=severity, preset="imagenet224", shape=img.shape)
        d, it = int(p["max_delta"]), int(p["iterations"])
        n = (img.shape[0] - 2 * d) * (img.shape[1] - 2 * d)
        # imagecorruptions draws randint(-d, d, size=2) per position: (dx, dy), in visit order.
        offsets = np.random.RandomState(seed).randint(-d, d, size=(it * n, 2)).reshape(it, n, 2)
        ours = quantize(
            glass_blur_from_draws(img, sigma_y=p["sigma_y"], sigma_x=p["sigma_x"], max_delta=d,
                                  offsets=offsets, active=None, shuffle=p["shuffle"]),
            "truncate",
        )
        worst = max(worst, max_abs(ours, oracle.reference("glass_blur", img, severity, seed)))
    assert worst == 0, f"glass_blur s{severity}: max abs diff {worst}"


def _literal_pass(x: np.ndarray, d: int, offsets: np.ndarray, active) -> np.ndarray:
    """The upstream statement, run literally on a copy (views on 3-D, scalars on 2-D)."""
    x = x.copy()
    h, w = x.shape[:2]
    k = 0
    for hh in range(h - d, d, -1):
        for ww in range(w - d, d, -1):
            if active is None or active[k]:
                dx, dy = offsets[k]
                hp, wp = hh + dy, ww + dx
                x[hh, ww], x[hp, wp] = x[hp, wp], x[hh, ww]
            k += 1
    return x


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy"])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
@pytest.mark.parametrize("two_d", [False, True])
@pytest.mark.parametrize("coin", [False, True])
def test_glass_shuffle_equals_sequential_loop(d, two_d, coin, compiled):
    rng = np.random.default_rng([d, two_d, coin])
    h, w = 29, 34
    x = rng.integers(0, 256, size=(h, w) if two_d else (h, w, 3), dtype=np.uint8)
    n = (h - 2 * d) * (w - 2 * d)
    expected, index = x, np.arange(h * w)
    for _ in range(3):
        offsets = rng.integers(-d, d, size=(n, 2))
        active = rng.random(n) < 0.5 if coin else None
        expected = _literal_pass(expected, d, offsets, active)
        index = index[glass_shuffle_index((h, w), d, offsets, active, "swap" if two_d else "copy",
                                          compiled=compiled)]
    ours = x.reshape(h * w, -1)[index].reshape(x.shape)
    np.testing.assert_array_equal(ours, expected)


# --------------------------------------------------------------------------- same draws

# glass_blur: at 224/299 the pure-Python reference loop takes seconds per pass (its offsets
# are replayed against imagecorruptions above); MNIST-C draws a coin per position
# interleaved with the offsets, which our vectorised draw does not replay (its shuffle
# semantics are checked against the literal loop below, its statistics in the fidelity table).
_SAME_DRAWS = [
    pytest.param(name, preset, marks=[pytest.mark.slow] if SIDES[preset] > 64 else [])
    for name in ("gaussian_blur", "defocus_blur", "motion_blur", "zoom_blur", "glass_blur")
    for preset in SIDES
    if not (name == "glass_blur" and preset in ("imagenet224", "imagenet299", "mnist28"))
]


@pytest.mark.parametrize(("name", "preset"), _SAME_DRAWS)
def test_same_draws_equal_reference_script(name, preset, preset_images):  # noqa: F811
    assert_same_draws(name, preset, preset_images[preset])


@pytest.mark.parametrize("shape", [(28, 28), (32, 32, 3), (61, 47, 3), (224, 224, 3)])
def test_motion_blur_equals_imagemagick(shape):
    """The Q16 rule (round to 16 bits, truncate to 8) against the real library."""
    rng = np.random.default_rng(sum(shape))
    img = rng.integers(0, 256, size=shape, dtype=np.uint8)
    img[: shape[0] // 3] = 200  # flat band: exact-integer sums
    for radius, sigma in ((6, 1), (10, 3), (15, 8), (22, 16)):
        angle = float(rng.uniform(-180, 180))
        ours_ = magick_motion_blur(img, radius, sigma, angle).astype(np.uint8)
        magick = magick_oracle.motion_blur(img, radius, sigma, angle)
        assert max_abs(ours_, magick) == 0, (shape, radius, sigma, angle)


def test_clipped_zoom_and_disk_are_the_scripts_bit_for_bit():
    rng = np.random.default_rng(7)
    for n in (28, 32, 64, 224, 299):
        x = (rng.integers(0, 256, (n, n, 3)) / 255.0).astype(np.float32)
        for z in (1.0, 1.01, 1.06, 1.17, 1.3, 2.25, 4.5):
            np.testing.assert_array_equal(clipped_zoom(x, z), script_clipped_zoom(x, z))
    # non-square images (not in the scripts) keep their shape, each axis zoomed by its size
    x = (rng.integers(0, 256, (61, 47, 3)) / 255.0).astype(np.float32)
    z = clipped_zoom(x, 1.2)
    assert z.shape == x.shape
    rows = np.repeat(x[:, :1], 47, axis=1)  # constant along each row: only the row zoom acts
    square = np.repeat(x[:, :1], 61, axis=1)
    np.testing.assert_allclose(
        clipped_zoom(rows, 1.2)[:, 7], script_clipped_zoom(square, 1.2)[:, 7], atol=1e-6
    )
    k = disk_kernel(3.0, 0.1)
    assert not k.flags.writeable and disk_kernel(3.0, 0.1) is k  # built once, shared


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy"])
@pytest.mark.parametrize("preset", ["cifar32", "tiny64", "imagenet224"])
def test_zoom_sum_is_the_scripts_loop_bit_for_bit(preset, compiled):
    """Both paths of the sum (numba's single pass; numpy's stacked neighbours up to 64 px,
    term by term above) are the scripts' ``out += clipped_zoom(x, z)`` loop over scipy's
    zoom, bit for bit. numba is a dependency, so the compiled path must be the one used."""
    assert _jit.AVAILABLE, "numba is a dependency of benchsmith; install it"
    n = {"cifar32": 32, "tiny64": 64, "imagenet224": 224}[preset]
    rng = np.random.default_rng(n)
    x = (rng.integers(0, 256, (n, n, 3)) / 255.0).astype(np.float32)
    gray = np.ascontiguousarray(x[..., 0], dtype=np.float64)
    for severity in (1, 5):
        zooms = resolve_params("zoom_blur", severity=severity, preset=preset,
                               shape=x.shape)["zooms"]
        for img in (x, gray):
            expected = np.zeros_like(img)
            for z in zooms:
                expected += script_clipped_zoom(img, z)
            got = _zoom_sum(img, tuple(zooms), compiled=compiled)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)
            if compiled:
                assert zoom_sum(img, tuple(zooms)).tobytes() == got.tobytes()


def test_zoom_sum_paths_agree_on_odd_shapes():
    """Non-square, odd-sized and single-channel images: the compiled pass equals numpy's
    byte for byte (scipy zooms each axis by its own size there)."""
    rng = np.random.default_rng(3)
    zooms = (1.0, 1.03, 1.17, 1.31)
    for shape in ((50, 70, 3), (33, 31), (7, 9, 3), (225, 224, 3)):
        for dtype in (np.float32, np.float64):
            x = rng.random(shape).astype(dtype)
            a = _zoom_sum(x, zooms, compiled=True)
            b = _zoom_sum(x, zooms, compiled=False)
            assert a.tobytes() == b.tobytes(), (shape, dtype)


def test_magick_quantum_division_is_floor_divide():
    """``floor(q / 257)`` (the motion blur's last step) equals ``q // 257`` on every quantum."""
    q = np.arange(65536, dtype=np.float64)
    np.testing.assert_array_equal(np.floor(q / 257.0), np.floor_divide(q, 257.0))


# --------------------------------------------------------------------------- stochastic


def _our_stats(name: str, crops, severity: int, **override) -> Stats:
    stats = Stats()
    spec = get_registry()[name]
    for i, img in enumerate(crops):
        rng = derive_rng(0, f"photo_crops224/{i}", name, severity)
        if override:
            p = resolve_params(name, severity=severity, preset="imagenet224", shape=img.shape)
            out = quantize(spec.kernel(img, rng=rng, **{**p, **override}), "truncate")
        else:
            out = apply(name, img, severity=severity, preset="imagenet224", rng=rng)
        stats.add(out, img)
    return stats


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_statistics(severity, photo_crops224):
    ref = Stats()
    for i, img in enumerate(photo_crops224):
        ref.add(oracle.reference("motion_blur", img, severity, seed=i), img)
    ours = _our_stats("motion_blur", photo_crops224, severity)
    assert_stats_close("motion_blur", severity, ours, ref)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_glass_blur_statistics(severity, photo_crops224):
    assert GLASS_REFERENCE["crops_sha256_16"] == crops_digest(photo_crops224), (
        "photo_crops224 changed; regenerate GLASS_REFERENCE: python3 tests/corruptions/test_blur.py"
    )
    ours = _our_stats("glass_blur", photo_crops224, severity)
    assert_stats_close("glass_blur", severity, ours, GLASS_REFERENCE[severity])


# --------------------------------------------------------------------------- tables


def _rows(name: str, preset: str) -> list[dict]:
    table = get_registry()[name].tables[preset]
    return [table.params(s) for s in SEVERITIES]


def test_small_preset_tables_equal_published_numbers():
    published = {
        ("gaussian_blur", "tiny64"): [.5, .75, 1, 1.25, 1.5],
        ("gaussian_blur", "cifar32"): [.4, .6, 0.7, .8, 1],
        ("glass_blur", "tiny64"): [(0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.9, 2, 2)],
        ("glass_blur", "cifar32"): [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2),
                                    (0.4, 1, 2)],
        ("defocus_blur", "tiny64"): [(0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)],
        ("defocus_blur", "cifar32"): [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
        ("motion_blur", "tiny64"): [(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)],
        ("motion_blur", "cifar32"): [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)],
        # make_imagenet_c_inception.py (299 px)
        ("gaussian_blur", "imagenet299"): [1.5, 2.5, 3.5, 4.5, 6.5],
        ("glass_blur", "imagenet299"): [(0.8, 1, 3), (1, 3, 1), (1.1, 2, 4), (1.2, 4, 2),
                                        (1.6, 5, 2)],
        ("defocus_blur", "imagenet299"): [(4, 0.1), (5, 0.5), (7, 0.5), (10, 0.5), (12, 0.5)],
        ("motion_blur", "imagenet299"): [(12, 4), (17, 6), (17, 9), (17, 13), (22, 16)],
    }
    for (name, preset), rows in published.items():
        for got, want in zip(_rows(name, preset), rows, strict=True):
            if name == "gaussian_blur":
                assert (got["sigma_y"], got["sigma_x"]) == (want, want)
            elif name == "glass_blur":
                assert (got["sigma_y"], got["max_delta"], got["iterations"]) == want
                assert got["sigma_x"] == got["sigma_y"] and got["shuffle"] == "copy"
                assert got["swap_prob"] == 1
            elif name == "defocus_blur":
                assert (got["radius"], got["alias_blur"]) == want
            else:
                assert (got["radius"], got["sigma"]) == want
                assert got["angle_range"] == (-45.0, 45.0)
    imagenet_zooms = [(1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)]
    assert [r["zooms"] for r in _rows("zoom_blur", "imagenet299")] == [
        tuple(np.arange(1, stop, step).tolist()) for stop, step in imagenet_zooms
    ]
    for preset in ("tiny64", "cifar32"):
        zooms = [r["zooms"] for r in _rows("zoom_blur", preset)]
        stops = (1.06, 1.11, 1.16, 1.21, 1.26)
        assert zooms == [tuple(np.arange(1, stop, 0.01).tolist()) for stop in stops]


def test_imagenet_and_mnist_tables():
    imagenet = {
        "gaussian_blur": [1, 2, 3, 4, 6],
        "glass_blur": [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)],
        "defocus_blur": [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)],
        "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],
    }
    for preset in ("imagenet224", "mnist28"):
        g = _rows("gaussian_blur", preset)
        assert [r["sigma_y"] for r in g] == imagenet["gaussian_blur"]
        gl = _rows("glass_blur", preset)
        got = [(r["sigma_y"], r["max_delta"], r["iterations"]) for r in gl]
        assert got == imagenet["glass_blur"]
        d = _rows("defocus_blur", preset)
        assert [(r["radius"], r["alias_blur"]) for r in d] == imagenet["defocus_blur"]
        m = _rows("motion_blur", preset)
        assert [(r["radius"], r["sigma"]) for r in m] == imagenet["motion_blur"]
        z = [r["zooms"] for r in _rows("zoom_blur", preset)]
        ranges = [(1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)]
        assert z == [tuple(np.arange(1, stop, step).tolist()) for stop, step in ranges]
    # MNIST-C quirks: 2-D multichannel gaussian blurs rows only; coin-flip true swaps.
    assert all(r["sigma_x"] == 0 for r in _rows("gaussian_blur", "mnist28"))
    assert all(r["sigma_x"] == 0 and r["swap_prob"] == 0.5 and r["shuffle"] == "swap"
               for r in _rows("glass_blur", "mnist28"))


def test_mnist_glass_blur_on_gray_digits():
    img = np.zeros((28, 28), dtype=np.uint8)
    img[6:22, 12:16] = 255
    out = apply("glass_blur", img, severity=1, preset="mnist28", rng=derive_rng(0, "d", "g", 1))
    assert out.shape == img.shape and out.dtype == np.uint8
    # rows-only blur: the blank columns far from the stroke stay blank
    assert out[:, :8].max() == 0 and out[:, 20:].max() == 0
    assert out[6:22, 12:16].mean() < 255  # the stroke was blurred/shuffled


# --------------------------------------------------------------------------- regeneration


def _regenerate_glass_reference() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import conftest

    crops = []
    for name in conftest.PHOTO_NAMES:
        photo = conftest._load_photo(name)
        for short in (256, 320, 400):
            img = conftest._resize_short(photo, short)
            h, w = img.shape[:2]
            for fy, fx in ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.5)):
                top, left = int((h - 224) * fy), int((w - 224) * fx)
                crops.append(np.ascontiguousarray(img[top : top + 224, left : left + 224]))
    out: dict = {"crops_sha256_16": crops_digest(crops)}
    for sev in SEVERITIES:
        stats = Stats()
        for i, img in enumerate(crops):
            stats.add(oracle.reference("glass_blur", img, sev, seed=i), img)
        mean, std, changed = stats.result()
        out[sev] = (round(mean, 4), round(std, 4), round(changed, 5))
    return out


if __name__ == "__main__":
    print(_regenerate_glass_reference())
