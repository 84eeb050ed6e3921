"""latent_overlap through the small class-conditional conv VAE (``decoder="vae"``, torch extra):
reconstruction quality, measured-shift monotonicity, label preservation and determinism on a
real MNIST subset (2,000 test rows), plus a 32x32 RGB smoke test on CIFAR-10."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

torch = pytest.importorskip("torch")

from corruptions.shift_measures import measure_shift  # noqa: E402
from corruptions.shifts import ShiftData, ShiftRandom, apply_shift, training_set  # noqa: E402
from corruptions.shifts import vae as vae_module  # noqa: E402
from corruptions.shifts.common import as_vectors, class_shares, largest_remainder  # noqa: E402
from corruptions.shifts.vae import VAERecipe, fit_vae  # noqa: E402
from pipeline.shift import split_rows  # noqa: E402
from pipeline.sources import make_source  # noqa: E402

ROWS = 2000
#: 1,000 reference rows x 20 epochs = 320 Adam steps, ~10 s on one busy core.
PARAMS = {"decoder": "vae", "components": 16, "vae_epochs": 20}
MEASURE = {"dim": 16, "label_weight": 2.0, "neighbors": 10, "quantile": 0.95,
           "permutations": 100, "folds": 4, "max_rows": 600}
#: mode -> measures that must grow with the knob (as in test_shifts: the radius band moves the
#: support outward; the rotated half-space moves mass sideways, which the two-sample AUC sees)
GROWING = {"extend": ("mmd2", "outside_support"), "rotate": ("mmd2", "c2st_auc")}
TOLERANCE = {"mmd2": (2e-4, 5e-4), "c2st_auc": (0.02, 0.05), "outside_support": (0.01, 0.05)}


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _side(images, labels, ids, mask) -> ShiftData:
    idx = np.flatnonzero(mask)
    return ShiftData(images[idx], labels[idx].astype(np.int64), tuple(ids[i] for i in idx), 10)


@pytest.fixture(scope="module")
def mnist(shared_dir: Path) -> tuple[ShiftData, ShiftData]:
    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    rows = list(src.read("test", 0, ROWS))
    images = np.stack([ex.image for ex in rows])
    labels = np.array([ex.label for ex in rows])
    ids = [f"mnist/test/{i}" for i in range(ROWS)]
    mask = split_rows(ids, 0, 0.5)
    return _side(images, labels, ids, mask), _side(images, labels, ids, ~mask)


@pytest.fixture(scope="module")
def fitted(mnist):
    """The network the kernel fits (same data, recipe and seed -> the per-process cache)."""
    ref, _ = mnist
    seed = int(ShiftRandom(0, "latent_overlap", 0.0).fixed("vae").integers(2**31 - 1))
    recipe = VAERecipe(dim=PARAMS["components"], epochs=PARAMS["vae_epochs"])
    return fit_vae(ref.images, ref.labels, 10, recipe=recipe, seed=seed)


@pytest.fixture(scope="module")
def probe(mnist):
    """Logistic regression on real reference pixels: the label check for decoded images."""
    from sklearn.linear_model import LogisticRegression

    ref, _ = mnist
    return LogisticRegression(max_iter=300).fit(as_vectors(ref.images), ref.labels)


def test_reconstructions_beat_mean_images(mnist, fitted):
    ref, pool = mnist
    x = as_vectors(pool.images)  # held out: the VAE never saw these rows
    mse = float(np.mean((fitted.reconstruct(pool.images, pool.labels) - x) ** 2))
    mean_mse = float(np.mean((x - as_vectors(ref.images).mean(axis=0)) ** 2))
    class_means = np.stack([as_vectors(ref.images[ref.labels == c]).mean(axis=0)
                            for c in range(10)])
    class_mse = float(np.mean((x - class_means[pool.labels]) ** 2))
    print(f"\nVAE: trained {fitted.train_seconds:.1f} s, train MSE {fitted.train_mse:.4f}, "
          f"held-out MSE {mse:.4f}; mean image {mean_mse:.4f}, class-mean image {class_mse:.4f}")
    assert mse < 0.5 * mean_mse and mse < 0.6 * class_mse


@pytest.mark.parametrize("mode", sorted(GROWING))
def test_measured_shift_grows_and_labels_are_kept(mode, mnist, fitted, probe):
    ref, pool = mnist
    params = {**PARAMS, "mode": mode}
    train = training_set("latent_overlap", ref, pool, size=1000, seed=0, params=params)
    rows, agree = [], []
    for knob in (0.0, 0.5, 1.0):
        out = apply_shift("latent_overlap", ref, pool, knob=knob, size=600, seed=0,
                          params=params)
        assert out.images.shape == (600, 28, 28) and out.images.dtype == np.uint8
        assert set(out.origin) == {""} and "conv VAE" in out.summary["decoder"]
        np.testing.assert_array_equal(  # class-conditional: each class decodes its share
            np.bincount(out.labels, minlength=10),
            largest_remainder(class_shares(ref.labels, 10), 600))
        assert out.summary["sampled_overlap"] == pytest.approx(1 - knob, abs=0.08)
        agree.append(float(np.mean(probe.predict(as_vectors(out.images)) == out.labels)))
        rng = np.random.default_rng([7, round(knob * 100)])
        rows.append(measure_shift(train.images, train.labels, out.images, out.labels,
                                  num_classes=10, rng=rng, **MEASURE))
    curve = {k: np.round([r[k] for r in rows], 4).tolist()
             for k in ("mmd2", "mmd_p_value", "c2st_auc", "outside_support", "probe_accuracy")}
    print(f"\nvae {mode}: {curve}, real-data probe agreement {np.round(agree, 3).tolist()}")
    assert rows[0]["mmd_p_value"] > 0.05, "intensity 0 must look like the training distribution"
    assert rows[-1]["mmd_p_value"] <= 0.05, "intensity 1 must be detected"
    for key in GROWING[mode]:
        dip, rise = TOLERANCE[key]
        vals = curve[key]
        assert all(b >= a - dip for a, b in zip(vals, vals[1:], strict=False)), (key, vals)
        assert vals[-1] >= vals[0] + rise, (key, vals)
    acc = curve["probe_accuracy"]
    assert all(b <= a + 0.01 for a, b in zip(acc, acc[1:], strict=False)), acc
    # labels kept: a classifier trained on real images agrees far above chance (0.1)
    assert agree[0] >= 0.9 and min(agree) >= 0.8, agree


def test_same_seed_same_bytes(mnist):
    ref, pool = mnist
    a = apply_shift("latent_overlap", ref, pool, knob=0.5, size=300, seed=0, params=PARAMS)
    b = apply_shift("latent_overlap", ref, pool, knob=0.5, size=300, seed=0, params=PARAMS)
    np.testing.assert_array_equal(a.images, b.images)
    # training itself is deterministic (fresh fits, no cache) and restores torch's settings
    small, labels = ref.images[:400], ref.labels[:400]
    recipe = VAERecipe(dim=8, epochs=2)
    threads, flag = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    fits = [fit_vae(small, labels, 10, recipe=recipe, seed=s, cache=False) for s in (3, 3, 4)]
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == flag
    assert torch.equal(torch.random.get_rng_state(), state)
    z = np.random.default_rng(0).standard_normal((50, 8))
    decoded = [f.decode(z, np.arange(50) % 10) for f in fits]
    assert decoded[0].tobytes() == decoded[1].tobytes()
    assert not np.array_equal(decoded[0], decoded[2])


def test_rgb_32x32(cifar10_test):
    images, labels = cifar10_test
    ids = [f"cifar10/test/{i}" for i in range(1200)]
    mask = split_rows(ids, 0, 0.5)
    ref, pool = _side(images[:1200], labels[:1200], ids, mask), _side(images[:1200],
                                                                      labels[:1200], ids, ~mask)
    params = {"decoder": "vae", "components": 8, "vae_epochs": 2, "mode": "rotate"}
    out = apply_shift("latent_overlap", ref, pool, knob=1.0, size=100, seed=0, params=params)
    assert out.images.shape == (100, 32, 32, 3) and out.images.dtype == np.uint8
    seed = int(ShiftRandom(0, "latent_overlap", 0.0).fixed("vae").integers(2**31 - 1))
    vae = fit_vae(ref.images, ref.labels, 10, recipe=VAERecipe(dim=8, epochs=2), seed=seed)
    x = as_vectors(pool.images)
    mse = float(np.mean((vae.reconstruct(pool.images, pool.labels) - x) ** 2))
    assert mse < float(np.mean((x - as_vectors(ref.images).mean(axis=0)) ** 2))


def test_errors_name_the_fix(mnist, monkeypatch):
    ref, pool = mnist
    with pytest.raises(ValueError, match=r"decoder 'gan' unknown; valid: \['ppca', 'vae'\]"):
        apply_shift("latent_overlap", ref, pool, knob=0.0, size=10, seed=0,
                    params={**PARAMS, "decoder": "gan"})
    odd = ShiftData(np.zeros((40, 30, 30), np.uint8), np.arange(40) % 10,
                    tuple(str(i) for i in range(40)), 10)
    with pytest.raises(ValueError, match="divisible by 4.*decoder='ppca'"):
        apply_shift("latent_overlap", odd, odd, knob=0.0, size=10, seed=0, params=PARAMS)
    with pytest.raises(ValueError, match="vae_epochs"):
        apply_shift("latent_overlap", ref, pool, knob=0.0, size=10, seed=0,
                    params={**PARAMS, "vae_epochs": 0})
    monkeypatch.setitem(sys.modules, "torch", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"benchsmith\[shift-vae\]"):
        vae_module.fit_vae(ref.images[:50], ref.labels[:50], 10,
                           recipe=VAERecipe(dim=4, epochs=1), seed=0, cache=False)
