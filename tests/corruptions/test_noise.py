"""Fidelity of the noise family against imagecorruptions 1.1.2 and the published tables.

The noises are random, so outputs cannot be compared pixel by pixel: per
severity, the statistics of ``output - input`` over the >= 100 real crops of
``photo_crops224`` (mean, standard deviation, fraction of changed values) must be
within 5 % of the reference's, with absolute floors for values near zero.
Given the same draws (the kernel's, recorded and replayed into the scripts' bodies,
``replay.same_draws``), the outputs equal upstream's byte for byte at every preset.
"""

from __future__ import annotations

import numpy as np
import oracle
import pytest
import replay
from PIL import Image

from corruptions import apply, derive_rng, get_registry
from corruptions.noise import gaussian_noise

NOISES = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")
SEVERITIES = (1, 2, 3, 4, 5)
REL_TOL = 0.05
#: Absolute floors (gray levels, gray levels, fraction) below which 5 % is noise.
FLOORS = (0.25, 0.25, 0.002)

#: corruption-params.md, one tuple per preset: imagenet224, tiny64, cifar32, mnist28; imagenet299
#: from hendrycks/robustness ImageNet-C/create_c/make_imagenet_c_inception.py.
PUBLISHED = {
    "gaussian_noise": {
        "imagenet224": (0.08, 0.12, 0.18, 0.26, 0.38),
        "tiny64": (0.04, 0.08, 0.12, 0.15, 0.18),
        "cifar32": (0.04, 0.06, 0.08, 0.09, 0.10),
        "mnist28": (0.08, 0.12, 0.18, 0.26, 0.38),
        "imagenet299": (0.09, 0.13, 0.19, 0.27, 0.40),
    },
    "shot_noise": {
        "imagenet224": (60, 25, 12, 5, 3),
        "tiny64": (250, 100, 50, 30, 15),
        "cifar32": (500, 250, 100, 75, 50),
        "mnist28": (60, 25, 12, 5, 3),
        "imagenet299": (50, 20, 10, 5, 3),
    },
    "impulse_noise": {
        "imagenet224": (0.03, 0.06, 0.09, 0.17, 0.27),
        "tiny64": (0.01, 0.02, 0.05, 0.08, 0.14),
        "cifar32": (0.01, 0.02, 0.03, 0.05, 0.07),
        "mnist28": (0.03, 0.06, 0.09, 0.17, 0.27),
        "imagenet299": (0.04, 0.07, 0.10, 0.18, 0.28),
    },
    "speckle_noise": {
        "imagenet224": (0.15, 0.2, 0.35, 0.45, 0.6),
        "tiny64": (0.15, 0.2, 0.25, 0.3, 0.35),
        "cifar32": (0.06, 0.1, 0.12, 0.16, 0.2),
        "mnist28": (0.15, 0.2, 0.35, 0.45, 0.6),
        "imagenet299": (0.16, 0.21, 0.36, 0.46, 0.61),
    },
}




def diff_stats(pairs) -> tuple[float, float, float]:
    """Mean, std and fraction of non-zero values of ``out - inp`` over all pairs."""
    n, total, squares, changed = 0, 0.0, 0.0, 0
    for out, inp in pairs:
        d = out.astype(np.float64) - inp
        n += d.size
        total += d.sum()
        squares += np.square(d).sum()
        changed += np.count_nonzero(d)
    mean = total / n
    return mean, float(np.sqrt(squares / n - mean * mean)), changed / n


def assert_stats_close(ours, ref, label: str) -> None:
    for what, a, b, floor in zip(("mean", "std", "changed"), ours, ref, FLOORS, strict=True):
        assert abs(a - b) <= max(REL_TOL * abs(b), floor), (
            f"{label}: {what} benchsmith {a:.4f} vs imagecorruptions {b:.4f}"
        )


@pytest.fixture(scope="module")
def reference_stats(photo_crops224):
    """Lazily computed imagecorruptions statistics per (name, severity), once per module."""
    cache: dict[tuple[str, int], tuple[float, float, float]] = {}

    def get(name: str, severity: int) -> tuple[float, float, float]:
        if (name, severity) not in cache:
            pairs = (
                (oracle.reference(name, crop, severity, seed=i), crop)
                for i, crop in enumerate(photo_crops224)
            )
            cache[name, severity] = diff_stats(pairs)
        return cache[name, severity]

    return get


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", NOISES)
def test_statistics_match_imagecorruptions(name, severity, photo_crops224, reference_stats):
    assert len(photo_crops224) >= 100
    pairs = (
        (
            apply(
                name,
                crop,
                severity=severity,
                preset="imagenet224",
                rng=derive_rng(0, f"photo_crops224/{i}", name, severity),
                rounding="truncate",
            ),
            crop,
        )
        for i, crop in enumerate(photo_crops224)
    )
    assert_stats_close(diff_stats(pairs), reference_stats(name, severity), f"{name} s{severity}")


@pytest.mark.parametrize("name", NOISES)
def test_gray_input_gets_one_draw_per_pixel_like_mnist_c(name, photos224):
    """MNIST-C corrupts the (28, 28) digit itself: compare with the upstream function on 'L'."""
    icc = oracle.reference_module()
    severity = 3
    grays = [np.asarray(Image.fromarray(p).convert("L")) for p in photos224]
    ours = [
        (
            apply(name, g, severity=severity, preset="mnist28",
                  rng=derive_rng(1, f"gray/{i}", name, severity)),
            g,
        )
        for i, g in enumerate(grays)
    ]
    np.random.seed(7)  # noqa: NPY002 - the upstream function only knows the global RNG
    ref = [
        (np.uint8(getattr(icc, name)(Image.fromarray(g), severity)), g) for g in grays
    ]
    assert all(out.shape == g.shape for out, g in ours)
    assert_stats_close(diff_stats(ours), diff_stats(ref), f"gray {name}")


def test_gaussian_noise_std_in_gray_levels():
    """sigma is a fraction of full scale: sigma=0.1 -> 25.5 levels on a mid-gray field."""
    img = np.full((256, 256, 3), 128, np.uint8)
    out = gaussian_noise(img, sigma=0.1, rng=np.random.default_rng(3))
    assert out.dtype == np.float64  # upstream's arithmetic, see test_same_draws_same_pixels
    assert abs(float((out - 128).std()) - 25.5) < 0.2


@pytest.mark.parametrize("preset", ("imagenet224", "tiny64", "cifar32", "mnist28", "imagenet299"))
def test_tables_equal_published_numbers(preset):
    registry = get_registry()
    for name, published in PUBLISHED.items():
        table = registry[name].tables[preset]
        assert tuple(row[0] for row in table.rows) == published[preset], (name, preset)
        assert table.pixel_fields == frozenset()
    impulse = registry["impulse_noise"].tables[preset]
    assert impulse.fields == ("amount", "salt_vs_pepper")
    assert {row[1] for row in impulse.rows} == {0.5}


def test_suites():
    registry = get_registry()
    assert {"gaussian_noise", "shot_noise", "impulse_noise"} <= set(registry.in_suite("imagenet_c"))
    assert "speckle_noise" in registry.in_suite("imagenet_c_extra")
    assert "speckle_noise" not in registry.in_suite("imagenet_c")


@pytest.mark.parametrize("preset", sorted(PUBLISHED["gaussian_noise"]))
@pytest.mark.parametrize("name", NOISES)
def test_same_draws_same_pixels(name, preset, photos224, mnist_test_images):
    """Given the kernel's draws, the upstream script's function gives the same bytes
    (every severity; the upstream constant is the preset's published row)."""
    images = replay.preset_images(photos224, mnist_test_images, preset, n=3)
    for severity in SEVERITIES:
        for i, image in enumerate(images):
            ours, ref = replay.same_draws(name, image, severity=severity, preset=preset, seed=i)
            assert ours.shape == ref.shape == image.shape
            diff = np.abs(ours.astype(np.int16) - ref)
            assert diff.max() == 0, f"{name} {preset} s{severity}: {np.count_nonzero(diff)} off"


@pytest.mark.parametrize("name", ("gaussian_noise", "shot_noise", "speckle_noise"))
def test_upstream_restatements_equal_imagecorruptions(name, photos224):
    """tests/corruptions/upstream.py's bodies are the port's, draw for draw: both run on
    NumPy's global RNG from the same seed (ImageNet constants)."""
    import upstream

    icc = oracle.reference_module()
    table = get_registry()[name].tables["imagenet224"]
    for severity in SEVERITIES:
        (c,) = table.rows[severity - 1][:1]
        np.random.seed(severity)  # noqa: NPY002 - the port only knows the global RNG
        ref = np.uint8(getattr(icc, name)(photos224[0], severity))
        np.random.seed(severity)  # noqa: NPY002
        ours = getattr(upstream, name)(photos224[0], c, np.random)
        np.testing.assert_array_equal(ours, ref)


def test_impulse_restatement_equals_imagecorruptions_given_the_masks(photos224):
    """The port calls skimage's random_noise with a fresh generator; fed the same masks
    through ``rng``, the restatement and the port's skimage call agree."""
    import upstream
    from skimage.util import random_noise

    image = photos224[1]
    for severity, amount in enumerate((0.03, 0.06, 0.09, 0.17, 0.27), start=1):
        u = np.random.default_rng(severity).random(image.shape, dtype=np.float32)
        ours = upstream.impulse_noise(image, amount, replay.MaskReplay(u, amount, 0.5))
        port = random_noise(image / 255.0, mode="s&p", amount=amount,
                            rng=replay.MaskReplay(u, amount, 0.5))
        np.testing.assert_array_equal(ours, np.uint8(np.clip(port, 0, 1) * 255))


def test_replay_refuses_draws_the_reference_does_not_make():
    """The replay fails loudly when the reference draws another kind, shape or count."""
    rng = replay.RecordingGenerator(0)
    gaussian_noise(np.zeros((4, 4), np.uint8), sigma=0.1, rng=rng)
    with pytest.raises(AssertionError, match="kernel drew standard_normal"):
        replay.LegacyReplay(rng.draws).uniform(-1, 1, size=(4, 4))
    with pytest.raises(AssertionError, match="standard_normal"):
        replay.LegacyReplay(rng.draws).normal(size=(5, 4))
    unused = replay.LegacyReplay(rng.draws)
    with pytest.raises(AssertionError, match="used 0 of 1"):
        unused.done()
    used = replay.LegacyReplay(rng.draws)
    z = rng.draws[0][2].astype(np.float64)
    np.testing.assert_array_equal(used.normal(size=(4, 4), scale=0.1), 0.1 * z)
    used.done()
