"""Control+Shift families: latent geometry (fast, no data), the copula decoder on real MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from corruptions.shifts import ShiftData, ShiftRandom, apply_shift, resolve_shift_params
from corruptions.shifts import copula as copula_module
from corruptions.shifts.control_shift import (
    FAMILIES,
    extend_latents,
    family_latents,
    latent_non_overlap,
    overlap_latents,
    slerp_directions,
    targets,
    truncation_latents,
)
from corruptions.shifts.copula import fit_copula_ppca, rank_match
from pipeline.sources import make_source

Q = 16
KNOBS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _angle(w: np.ndarray, t: np.ndarray) -> np.ndarray:
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    return np.arccos(np.clip(u @ t, -1, 1))


@pytest.fixture(scope="module")
def rand() -> ShiftRandom:
    return ShiftRandom(0, "extend", 0.0)


@pytest.fixture(scope="module")
def g() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((4000, Q))


def test_targets_are_orthonormal_and_knob_independent(rand):
    t1, t2 = targets(rand, Q)
    assert np.linalg.norm(t1) == pytest.approx(1) and np.linalg.norm(t2) == pytest.approx(1)
    assert abs(t1 @ t2) < 1e-12
    np.testing.assert_array_equal(t1, targets(ShiftRandom(0, "extend", 0.7), Q)[0])
    assert not np.allclose(t1, targets(ShiftRandom(1, "extend", 0.0), Q)[0])


def test_slerp_angle_is_t_times_the_angle_and_keeps_unit_norm(rand, g):
    t1, _ = targets(rand, Q)
    omega = _angle(g, t1)
    for t in (0.0, 0.3, 0.5, 1.0):
        d = slerp_directions(t1, g, t)
        np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(_angle(d, t1), t * omega, atol=1e-6)
    np.testing.assert_allclose(slerp_directions(t1, g, 1.0), g / np.linalg.norm(g, axis=1)[:, None],
                               atol=1e-12)


def test_truncation_scales_the_gaussian(g):
    np.testing.assert_allclose(truncation_latents(g, 0.9), 0.9 * g)
    with pytest.raises(ValueError, match="scale R must be > 0"):
        truncation_latents(g, 0.0)


def test_extend_caps_grow_and_contain_the_training_cap(rand, g):
    t1, _ = targets(rand, Q)
    norms = np.linalg.norm(g, axis=1)
    caps = []
    for t in (0.5, 0.625, 0.75, 0.875, 1.0):
        w = extend_latents(g, t1, t)
        np.testing.assert_allclose(np.linalg.norm(w, axis=1), norms)  # radial law of N(0, I)
        caps.append(_angle(w, t1).max())
        assert caps[-1] <= t * np.pi + 1e-9  # the support cap has angular radius t * pi
    assert all(b > a for a, b in zip(caps, caps[1:], strict=False))
    # same draw: each row's angle only grows, so the training cap lies inside every test cap
    a_train, a_test = _angle(extend_latents(g, t1, 0.5), t1), _angle(extend_latents(g, t1, 0.8), t1)
    assert np.all(a_test >= a_train - 1e-12)
    np.testing.assert_allclose(extend_latents(g, t1, 1.0), g, atol=1e-9)


def test_overlap_cap_keeps_its_shape_and_moves_its_centre(rand, g):
    t1, t2 = targets(rand, Q)
    for s in (0.0, 0.25, 0.5, 1.0, 2.0):
        ang = s * np.pi / 2
        centre = np.cos(ang) * t1 + np.sin(ang) * t2
        w = overlap_latents(g, t1, t2, s, 0.5)
        # the same cap (half of each draw's angle) around a centre s * 90 degrees from target1
        np.testing.assert_allclose(_angle(w, centre), 0.5 * _angle(g, centre), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(w, axis=1), np.linalg.norm(g, axis=1))
    mean_angle = [_angle(overlap_latents(g, t1, t2, s, 0.5), t1).mean() for s in (0, .5, 1, 1.5)]
    assert all(b > a for a, b in zip(mean_angle, mean_angle[1:], strict=False))


@pytest.mark.parametrize("family", FAMILIES)
def test_non_overlap_starts_at_the_support_tail_and_strictly_grows(family):
    rand = ShiftRandom(0, family, 0.0)
    params = resolve_shift_params(family)
    values = [latent_non_overlap(family, k, dim=Q, rand=rand, params=params) for k in KNOBS]
    assert values[0] == pytest.approx(1 - params["support_mass"], abs=0.002)
    assert all(b > a for a, b in zip(values, values[1:], strict=False)), values
    assert values[-1] > 0.5
    assert values == [latent_non_overlap(family, k, dim=Q, rand=rand, params=params)
                      for k in KNOBS]  # fixed stream: exactly reproducible


def test_knob_zero_latents_follow_the_training_law(g):
    for family in FAMILIES:
        rand = ShiftRandom(0, family, 0.0)
        params = resolve_shift_params(family)
        w0 = family_latents(family, g, 0.0, rand, params)
        if family == "truncation":
            np.testing.assert_allclose(w0, 0.9 * g)
        else:
            t1, _ = targets(rand, Q)
            np.testing.assert_allclose(_angle(w0, t1), 0.5 * _angle(g, t1), atol=1e-6)


def test_rank_match_keeps_donor_values_and_model_order():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((50, 3))
    donor = np.sort(rng.random((50, 3)), axis=0)
    out = rank_match(v, donor)
    np.testing.assert_array_equal(np.sort(out, axis=0), donor)
    for j in range(3):
        np.testing.assert_array_equal(np.argsort(out[:, j], kind="stable"),
                                      np.argsort(v[:, j], kind="stable"))


@pytest.fixture(scope="module")
def mnist(shared_dir: Path) -> ShiftData:
    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    items = list(src.read("test", 0, 3000))
    return ShiftData(np.stack([it.image for it in items]),
                     np.array([it.label for it in items], dtype=np.int64),
                     tuple(f"mnist/test/{i}" for i in range(3000)), 10)


def test_decoder_fitted_once_and_samples_carry_real_intensity_histograms(mnist):
    with threadpool_limits(1):
        copula_module._CACHE.clear()
        model = fit_copula_ppca(mnist.images, mnist.labels, 10, 12)
        assert fit_copula_ppca(mnist.images, mnist.labels, 10, 12) is model  # cached by content
        outs = {k: apply_shift("extend", mnist, mnist, knob=k, size=400, seed=0,
                               params={"components": 12}) for k in (0.0, 1.0)}
        assert len(copula_module._CACHE) == 1  # every knob decoded through the one fit
    out = outs[0.0]
    assert out.images.shape == (400, 28, 28) and out.images.dtype == np.uint8
    assert out.summary["latent_non_overlap"] < outs[1.0].summary["latent_non_overlap"]
    real_zero = (mnist.images == 0).mean(axis=(1, 2))
    gen_zero = (out.images == 0).mean(axis=(1, 2))
    # the decoded mean has almost no zero pixels; the copula sample has the real fraction
    assert abs(gen_zero.mean() - real_zero.mean()) < 0.01
    for c in range(10):
        assert np.mean(out.labels == c) == pytest.approx(np.mean(mnist.labels == c), abs=0.01)
    again = apply_shift("extend", mnist, mnist, knob=0.0, size=400, seed=0,
                        params={"components": 12})
    np.testing.assert_array_equal(again.images, out.images)
