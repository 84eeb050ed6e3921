"""Shift registry: contract, determinism, label preservation and measured-shift monotonicity on
real MNIST / CIFAR-10 test images (subsampled to stay well under a minute)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from corruptions.shift_measures import measure_shift, mmd_test, outside_support
from corruptions.shifts import (
    ShiftData,
    apply_shift,
    check_knob,
    get_shift_registry,
    resolve_shift_params,
    training_set,
)
from corruptions.shifts.pixel import amplitude_mix
from pipeline.shift import split_rows
from pipeline.sources import make_source

#: Every registered shift with the parameters its tests use (completeness is checked).
CASES: dict[str, dict] = {
    "latent_overlap": {"mode": "extend", "components": 12},
    "latent_select": {"mode": "extend", "components": 12},
    "label_shift": {"mode": "one_class", "target_class": 3},
    "covariate_selection": {"score": "atypicality", "components": 24},
    "spurious_correlation": {"mode": "auto"},
    "fourier_amplitude": {"lambda_max": 1.0, "beta": 1.0},
    "truncation": {"components": 12},
    "extend": {"components": 12},
    "overlap": {"components": 12, "extent": 0.6},
}
#: Shifts that keep the real image a row came from (origin is a pool sample id).
REAL_ROWS = {"latent_select", "label_shift", "covariate_selection", "spurious_correlation",
             "fourier_amplitude"}
MEASURE = {"dim": 16, "label_weight": 2.0, "neighbors": 10, "quantile": 0.95,
           "permutations": 100, "folds": 4, "max_rows": 600}


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # multithreaded BLAS on a shared 2-core box is ~40x slower for these small eigh/gemm calls
    with threadpool_limits(1):
        yield


def _split(images, labels, prefix: str, n: int) -> tuple[ShiftData, ShiftData]:
    ids = [f"{prefix}/test/{i}" for i in range(n)]
    mask = split_rows(ids, 0, 0.5)
    def side(m):
        idx = np.flatnonzero(m)
        return ShiftData(images[idx], labels[idx].astype(np.int64), tuple(ids[i] for i in idx), 10)
    return side(mask), side(~mask)


@pytest.fixture(scope="module")
def mnist(shared_dir: Path) -> tuple[ShiftData, ShiftData]:
    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    images = np.stack([ex.image for ex in src.read("test", 0, 6000)])
    labels = np.array([ex.label for ex in src.read("test", 0, 6000)])
    return _split(images, labels, "mnist", 6000)


def test_registry_complete_and_documented():
    registry = get_shift_registry()
    assert set(registry) == set(CASES), "add every new shift to CASES (and its tests)"
    for spec in registry.values():
        assert spec.description and spec.knob and spec.reference
        assert set(spec.params) == set(spec.param_doc)


def test_lookup_errors_name_valid_keys():
    with pytest.raises(KeyError, match="valid keys: .*label_shift"):
        get_shift_registry()["nope"]
    with pytest.raises(ValueError, match="no parameter.*mode"):
        resolve_shift_params("label_shift", {"temperature": 1})
    for bad in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="intensity"):
            check_knob(bad)


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract(name, mnist):
    ref, pool = mnist
    before = (ref.images.copy(), pool.images.copy(), ref.labels.copy(), pool.labels.copy())
    out = apply_shift(name, ref, pool, knob=0.5, size=300, seed=0, params=CASES[name])
    again = apply_shift(name, ref, pool, knob=0.5, size=300, seed=0, params=CASES[name])
    other = apply_shift(name, ref, pool, knob=0.5, size=300, seed=1, params=CASES[name])
    for a, b in zip(before, (ref.images, pool.images, ref.labels, pool.labels), strict=True):
        np.testing.assert_array_equal(a, b)  # inputs never mutated
    assert out.images.dtype == np.uint8 and out.images.shape[1:3] == (28, 28)
    assert len(out.images) == 300 and out.labels.dtype == np.int64
    np.testing.assert_array_equal(out.images, again.images)  # same seed, same bytes
    assert out.origin == again.origin
    assert not np.array_equal(out.images, other.images) or out.origin != other.origin
    if name in REAL_ROWS:
        index = {sid: i for i, sid in enumerate(pool.ids)}
        rows = np.array([index[o] for o in out.origin])  # every row comes from the pool
        assert len(set(out.origin)) == len(out.origin)
        np.testing.assert_array_equal(out.labels, pool.labels[rows])  # labels preserved
    else:
        assert set(out.origin) == {""}


def test_knob_zero_selection_shifts_return_unedited_pixels(mnist):
    ref, pool = mnist
    index = {sid: i for i, sid in enumerate(pool.ids)}
    for name in ("fourier_amplitude", "covariate_selection", "label_shift", "latent_select"):
        out = apply_shift(name, ref, pool, knob=0.0, size=300, seed=0, params=CASES[name])
        rows = np.array([index[o] for o in out.origin])
        np.testing.assert_array_equal(out.images, pool.images[rows])


def test_latent_overlap_matches_the_analytic_intensity(mnist):
    ref, pool = mnist
    for mode in ("rotate", "extend"):
        for knob in (0.0, 0.25, 0.5, 0.75, 1.0):
            out = apply_shift("latent_overlap", ref, pool, knob=knob, size=1000, seed=0,
                              params={"mode": mode, "components": 12})
            assert out.summary["analytic_overlap"] == pytest.approx(1 - knob)
            assert out.summary["sampled_overlap"] == pytest.approx(1 - knob, abs=0.05)


def test_label_shift_counts_and_spurious_agreement_are_exact(mnist):
    ref, pool = mnist
    out = apply_shift("label_shift", ref, pool, knob=1.0, size=200, seed=0,
                      params={"mode": "one_class", "target_class": 3})
    assert set(out.labels.tolist()) == {3}
    half = apply_shift("label_shift", ref, pool, knob=0.5, size=200, seed=0,
                       params={"mode": "dirichlet", "alpha": 0.3})
    np.testing.assert_array_equal(np.bincount(half.labels, minlength=10), half.summary["counts"])
    prev = None
    for knob in (0.0, 0.5, 1.0):
        sp = apply_shift("spurious_correlation", ref, pool, knob=knob, size=500, seed=0, params={})
        agree = np.array([i["agrees"] for i in sp.info])
        assert sp.images.shape == (500, 28, 28, 3)
        assert agree.mean() == pytest.approx(0.9 * (1 - knob), abs=0.04)
        if prev is not None:  # monotone coupling: rows only switch from agreeing to not
            assert not np.any(agree & ~prev)
        prev = agree


def test_amplitude_mix_keeps_phase_and_identity():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    y = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_allclose(amplitude_mix(x, y, lam=0.0, beta=1.0), x, atol=1e-3)
    mixed = amplitude_mix(x, y, lam=1.0, beta=1.0)
    np.testing.assert_allclose(np.abs(np.fft.fft2(mixed, axes=(1, 2))),
                               np.abs(np.fft.fft2(y.astype(float), axes=(1, 2))), rtol=1e-3,
                               atol=1e-2)


def test_measures_on_gaussians():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 5)), rng.standard_normal((300, 5))
    assert mmd_test(a, b, permutations=200, rng=rng)["p_value"] > 0.05
    assert mmd_test(a, b + 0.5, permutations=200, rng=rng)["p_value"] <= 0.01
    assert outside_support(a, b, k=5, quantile=0.95) < 0.12
    assert outside_support(a, b + 3, k=5, quantile=0.95) > 0.9


def _curve(name, ref, pool, knobs, size, params, num_classes=10):
    train = training_set(name, ref, pool, size=1000, seed=0, params=params)
    rows = []
    for knob in knobs:
        out = apply_shift(name, ref, pool, knob=knob, size=size, seed=0, params=params)
        rng = np.random.default_rng([7, round(knob * 100)])
        rows.append(measure_shift(train.images, train.labels, out.images, out.labels,
                                  num_classes=num_classes, rng=rng, **MEASURE))
    return rows


#: measure -> (allowed dip between neighbouring knobs, minimum rise from knob 0 to knob 1)
TOLERANCE = {"mmd2": (2e-4, 5e-4), "c2st_auc": (0.02, 0.05), "outside_support": (0.01, 0.05)}
#: Measures that must grow with the knob; the PPCA-decoded latent shift is smooth in pixel space,
#: so its classifier two-sample AUC is weak and the support measure is the one that tracks it.
GROWING = {"latent_overlap": ("mmd2", "outside_support")}


def _check_monotone(name, rows, *, measures=("mmd2", "c2st_auc"), accuracy_falls=True):
    curve = {k: np.round([r[k] for r in rows], 4).tolist()
             for k in ("mmd2", "c2st_auc", "outside_support", "probe_accuracy", "mmd_p_value")}
    print(f"\n{name}: {curve}")
    assert rows[0]["mmd_p_value"] > 0.05, "intensity 0 must look like the training distribution"
    assert rows[-1]["mmd_p_value"] <= 0.05, "intensity 1 must be detected"
    for key in measures:
        dip, rise = TOLERANCE[key]
        vals = curve[key]
        assert all(b >= a - dip for a, b in zip(vals, vals[1:], strict=False)), (key, vals)
        assert vals[-1] >= vals[0] + rise, (key, vals)
    if accuracy_falls:
        acc = curve["probe_accuracy"]
        assert all(b <= a + 0.01 for a, b in zip(acc, acc[1:], strict=False)), acc
        assert acc[-1] < acc[0] - 0.03, acc


@pytest.mark.parametrize("name", sorted(CASES))
def test_measured_shift_grows_with_knob_on_mnist(name, mnist):
    ref, pool = mnist
    size = 250 if name == "label_shift" else 600
    rows = _curve(name, ref, pool, (0.0, 0.5, 1.0), size, CASES[name])
    # label shift changes p(y) only: a probe's accuracy then follows the target class's accuracy
    _check_monotone(name, rows, measures=GROWING.get(name, ("mmd2", "c2st_auc")),
                    accuracy_falls=name != "label_shift")


@pytest.fixture(scope="module")
def cifar(cifar10_test) -> tuple[ShiftData, ShiftData]:
    images, labels = cifar10_test
    return _split(images[:6000], labels[:6000], "cifar10", 6000)


@pytest.mark.parametrize("name", ["latent_select", "spurious_correlation", "fourier_amplitude"])
def test_measured_shift_grows_with_knob_on_cifar10(name, cifar):
    ref, pool = cifar
    params = {**CASES[name], **({"mode": "patch"} if name == "spurious_correlation" else {})}
    rows = _curve(name, ref, pool, (0.0, 0.5, 1.0), 600, params)
    _check_monotone(f"cifar10 {name}", rows)


def test_spurious_independent_endpoint_is_one_over_k(mnist):
    ref, pool = mnist
    out = apply_shift("spurious_correlation", ref, pool, knob=1.0, size=500, seed=0,
                      params={"end_rho": "independent"})
    assert out.summary["rho"] == pytest.approx(0.1)
    agree = np.mean([i["agrees"] for i in out.info])
    assert agree == pytest.approx(0.1, abs=0.04)
    anti = apply_shift("spurious_correlation", ref, pool, knob=1.0, size=500, seed=0, params={})
    assert anti.summary["rho"] == 0.0 and not any(i["agrees"] for i in anti.info)
    with pytest.raises(ValueError, match="'independent'"):
        apply_shift("spurious_correlation", ref, pool, knob=1.0, size=50, seed=0,
                    params={"end_rho": "indep"})


def test_latent_select_knob_zero_band_holds_half_the_pool(mnist):
    from corruptions.shifts import ShiftRandom
    from corruptions.shifts.latent import _calibration_split, _fit, _region_mask

    ref, pool = mnist
    rand = ShiftRandom(0, "latent_select", 0.0)
    fit_rows, calibration = _calibration_split(ref, rand)
    assert not set(fit_rows.ids) & set(calibration.ids)
    models = _fit(fit_rows, 4)
    share = _region_mask(models, calibration, pool, 0.0, "extend", rand).mean()
    biased = _region_mask(models, fit_rows, pool, 0.0, "extend", rand).mean()
    assert share == pytest.approx(0.5, abs=0.03)
    assert biased > 0.55  # quantiles from the rows the PPCA was fitted on (the old way)
    train = training_set("latent_select", ref, pool, size=2000, seed=0,
                         params={"mode": "extend", "components": 12})
    assert set(train.origin) <= set(calibration.ids)


def test_latent_ppca_fitted_once_across_knobs(mnist):
    from corruptions.shifts import latent

    ref, pool = mnist
    latent._PPCA_CACHE.clear()
    params = {"mode": "extend", "components": 12}
    first = apply_shift("latent_overlap", ref, pool, knob=0.0, size=100, seed=0, params=params)
    apply_shift("latent_overlap", ref, pool, knob=1.0, size=100, seed=0, params=params)
    training_set("latent_overlap", ref, pool, size=100, seed=0, params=params)
    assert len(latent._PPCA_CACHE) == 1
    latent._PPCA_CACHE.clear()  # a fresh fit gives the same bytes as the cached one
    again = apply_shift("latent_overlap", ref, pool, knob=0.0, size=100, seed=0, params=params)
    np.testing.assert_array_equal(first.images, again.images)
