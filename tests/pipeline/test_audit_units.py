"""Unit tests of the audit section, probability routes, folds, k-NN, duplicates and outliers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.audit.config import FILTER_BY, parse_section
from pipeline.audit.features import featurize
from pipeline.audit.issues import (
    knn,
    label_issues,
    nearest_per_class,
    neighbour_issues,
    pixel_hashes,
)
from pipeline.audit.probs import (
    check_pred_probs,
    cross_val_pred_probs,
    fold_ids,
    load_keyed_array,
    whiten,
)
from pipeline.errors import ManifestError, SourceError
from pipeline.manifest import parse_manifest
from pipeline.sources import make_source


@pytest.fixture(scope="module")
def mnist1500(shared_dir):
    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    ex = list(src.read("test", 0, 1500))
    return (np.stack([e.image for e in ex]), np.array([e.label for e in ex]),
            [f"mnist/test/{e.key}" for e in ex])


@pytest.fixture(scope="module")
def mnist_whitened(mnist1500):
    return whiten(featurize("hog", mnist1500[0], rng=np.random.default_rng(0), cell=4), 128)


# -- config ------------------------------------------------------------------------------------

def test_section_defaults_and_manifest_integration():
    m = parse_manifest({"name": "d", "sources": [{"source": "digits", "splits": ["train"]}],
                        "audit": {"probs": {"route": "builtin", "featurizer": "hog",
                                            "featurizer_params": {"cell": 4}},
                                  "rank_by": "self_confidence", "candidates": 7}})
    spec = m.sections["audit"]
    assert (spec.probs.featurizer, spec.rank_by, spec.candidates) == ("hog", "self_confidence", 7)
    assert spec.to_dict()["probs"]["featurizer_params"] == {"cell": 4}


@pytest.mark.parametrize("data, needle", [
    ({"probs": {"route": "builtin"}, "bogus": 1}, "allowed keys are"),
    ({"probs": {"route": "gpu"}}, "'gpu' is not one of ['builtin', 'cnn', 'file', 'embeddings']"),
    ({"probs": {"route": "file", "path": 3}}, "path: expected a string"),
    ({"probs": {"route": "builtin"}, "filter_by": "x"}, str(list(FILTER_BY))),
    ({"probs": {"route": "builtin", "featurizer": "hog", "featurizer_params": {"filters": 3}}},
     "allowed: ['cell', 'orientations']"),
    ({"probs": {"route": "builtin", "folds": 1}}, "folds: expected an integer >= 2"),
    ({"probs": {"route": "builtin"}, "candidates": 0}, "candidates: expected an integer >= 1"),
    ({"probs": {"route": "builtin"}, "outliers": {"threshold": 2}}, "in 0.0..1.0"),
    ({}, "missing required key(s) ['probs']"),
])
def test_section_errors_name_key_and_allowed_values(data, needle):
    with pytest.raises(ManifestError) as err:
        parse_section(data, "m.yaml: audit")
    assert needle in str(err.value) and "m.yaml: audit" in str(err.value)


# -- probability files ----------------------------------------------------------------------------

def test_keyed_files_join_on_sample_id(tmp_path):
    ids = [f"s/test/{i}" for i in range(6)]
    p = np.random.default_rng(0).dirichlet(np.ones(3), size=6).astype(np.float32)
    np.savez(tmp_path / "p.npz", sample_id=np.array(ids[::-1]), pred_probs=p[::-1])
    pq.write_table(pa.table({"sample_id": ids[::-1],
                             "pred_probs": pa.array(list(p[::-1]), pa.list_(pa.float32()))}),
                   tmp_path / "p.parquet")
    for name in ("p.npz", "p.parquet"):
        got = load_keyed_array(tmp_path / name, ids, "pred_probs")
        np.testing.assert_array_equal(got, p)
        assert check_pred_probs(got, 3).dtype == np.float32
    with pytest.raises(SourceError, match="1 audited sample_id"):
        load_keyed_array(tmp_path / "p.npz", [*ids, "s/test/99"], "pred_probs")
    np.savez(tmp_path / "dup.npz", sample_id=np.array(ids[:1] * 6), pred_probs=p)
    with pytest.raises(SourceError, match="duplicate"):
        load_keyed_array(tmp_path / "dup.npz", ids[:1], "pred_probs")


def test_check_pred_probs_refuses_bad_input():
    good = np.full((4, 2), 0.5, dtype=np.float32)
    with pytest.raises(SourceError, match=r"shape \(N, 3\)"):
        check_pred_probs(good, 3)
    with pytest.raises(SourceError, match="logits"):
        check_pred_probs(good * 3, 2)
    bad = good.copy()
    bad[0, 0] = np.nan
    with pytest.raises(SourceError, match="finite"):
        check_pred_probs(bad, 2)


# -- folds and cross-validation ------------------------------------------------------------------

def test_folds_are_stratified_and_order_independent():
    ids = [f"x/{i}" for i in range(1000)]
    labels = np.arange(1000) % 7
    f = fold_ids(ids, labels, folds=5, seed=3)
    perm = np.random.default_rng(0).permutation(1000)
    g = fold_ids([ids[i] for i in perm], labels[perm], folds=5, seed=3)
    np.testing.assert_array_equal(f[perm], g)
    for c in range(7):
        counts = np.bincount(f[labels == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert not np.array_equal(f, fold_ids(ids, labels, folds=5, seed=4))


def test_cross_val_accuracy_and_scheduler_independence(mnist1500, mnist_whitened):
    images, labels, ids = mnist1500
    x = mnist_whitened
    a = cross_val_pred_probs(x, labels, ids, n_classes=10, folds=3, C=0.05, seed=0,
                             scheduler="sync")
    b = cross_val_pred_probs(x, labels, ids, n_classes=10, folds=3, C=0.05, seed=0,
                             scheduler="threads", workers=2)
    assert a.dtype == np.float32 and a.shape == (1500, 10)
    np.testing.assert_allclose(a.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    assert (a.argmax(axis=1) == labels).mean() > 0.9  # held-out, 1,000 training rows per fold


def test_random_conv_features_are_seeded_and_pure(mnist1500):
    images = mnist1500[0][:64]
    before = images.copy()
    f1 = featurize("random_conv", images, rng=np.random.default_rng(5), filters=8, patch=5,
                   sample_patches=2000)
    f2 = featurize("random_conv", images, rng=np.random.default_rng(5), filters=8, patch=5,
                   sample_patches=2000)
    assert f1.dtype == np.float32 and f1.shape == (64, 64)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(images, before)
    with pytest.raises(KeyError, match="valid"):
        featurize("resnet", images, rng=np.random.default_rng(0))
    # Blocks and threads bound memory and use the cores; they never change the features.
    f3 = featurize("random_conv", images, rng=np.random.default_rng(5), filters=8, patch=5,
                   sample_patches=2000, batch=7, threads=2)
    np.testing.assert_array_equal(f1, f3)


def _pooled_reference(images: np.ndarray, proj: np.ndarray, bias: np.ndarray, alpha: float,
                      patch: int) -> np.ndarray:
    """The Coates et al. encoder written out pixel position by position (slow, obvious)."""
    x = images.astype(np.float32)[..., None] / 255
    n, h, w, c = x.shape
    oh, ow = h - patch + 1, w - patch + 1
    z = np.empty((n, oh, ow, proj.shape[1]), np.float64)
    for y in range(oh):
        for xx in range(ow):
            p = x[:, y:y + patch, xx:xx + patch, :].reshape(n, -1)
            p = p - p.mean(axis=1, keepdims=True)
            p = p / np.sqrt(p.var(axis=1, keepdims=True) + 0.01)
            z[:, y, xx] = p @ proj - bias
    pos, neg = np.maximum(z - alpha, 0), np.maximum(-z - alpha, 0)
    hy, hx = oh // 2, ow // 2
    quads = [(slice(0, hy), slice(0, hx)), (slice(0, hy), slice(hx, None)),
             (slice(hy, None), slice(0, hx)), (slice(hy, None), slice(hx, None))]
    return np.concatenate([a[:, qy, qx].sum(axis=(1, 2)) for a in (pos, neg)
                           for qy, qx in quads], axis=1)


def test_random_conv_encoder_equals_the_written_out_encoder(mnist1500):
    from pipeline.audit.features import _Encoder, to_float_nhwc

    images = mnist1500[0][:6]
    rng = np.random.default_rng(3)
    proj = rng.normal(size=(25, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    got = _Encoder(proj, bias, 0.25, 5, 24, 24)(to_float_nhwc(images))
    np.testing.assert_allclose(got, _pooled_reference(images, proj, bias, 0.25, 5),
                               rtol=1e-4, atol=1e-3)


def test_whiten_in_blocks_equals_the_one_shot_pca():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3000, 40)) @ rng.normal(size=(40, 40))).astype(np.float32) + 5
    got = whiten(x, 10, chunk=257)
    xc = (x - x.mean(axis=0)) / x.std(axis=0)
    evals, evecs = np.linalg.eigh(np.cov(xc.astype(np.float64), rowvar=False, bias=True))
    top = np.argsort(evals)[::-1][:10]
    want = xc @ evecs[:, top] / np.sqrt(evals[top])
    signs = np.sign((got * want).sum(axis=0))  # eigenvectors are defined up to sign
    np.testing.assert_allclose(got, want * signs, atol=2e-3)
    np.testing.assert_allclose(got.std(axis=0), 1, atol=1e-3)


# -- issues ------------------------------------------------------------------------------------

def test_knn_matches_brute_force():
    x = np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32)
    idx, dist = knn(x, 5, block=64)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = 1 - u @ u.T
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(idx, np.argsort(d, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(dist, np.sort(d, axis=1)[:, :5], atol=1e-5)


def test_duplicates_and_outliers_on_real_digits(mnist1500):
    images, labels, ids = mnist1500
    imgs = list(images[:400])
    imgs[10] = imgs[3].copy()  # exact duplicate
    imgs[20] = np.clip(imgs[5].astype(int) + 1, 0, 255).astype(np.uint8)  # near duplicate
    imgs[30] = np.random.default_rng(0).integers(0, 256, size=(28, 28), dtype=np.uint8)  # noise
    feats = whiten(featurize("hog", np.stack(imgs), rng=np.random.default_rng(0), cell=4), 64)
    res = neighbour_issues(feats, ids[:400], pixel_hashes(imgs), k=10, duplicate_threshold=0.13,
                           outlier_threshold=0.37037)
    assert set(np.flatnonzero(res["exact_duplicate"])) == {3, 10}
    assert res["duplicate_of"][10] == ids[3] and res["duplicate_of"][3] == ids[10]
    assert res["near_duplicate"][20] and res["duplicate_of"][20] == ids[5]
    assert res["outlier"][30]
    assert res["outlier_score"].dtype == np.float32
    near = nearest_per_class(feats, labels[:400], [10], 10)
    assert near[0, labels[3]] == 3


def test_label_issues_flip_is_found_and_rank_is_order_independent(mnist1500, mnist_whitened):
    images, labels, ids = mnist1500
    x = mnist_whitened
    noisy = labels.copy()
    flipped = np.arange(0, 1500, 100)
    noisy[flipped] = (noisy[flipped] + 1) % 10
    p = cross_val_pred_probs(x, noisy, ids, n_classes=10, folds=3, C=0.05, seed=0,
                             scheduler="sync")
    res = label_issues(noisy, p, ids, filter_by="both", rank_by="self_confidence", candidates=30)
    assert res["quality"].dtype == np.float32
    assert sorted(res["rank"]) == list(range(1, 1501))
    # 15 flipped labels among 1,500 (1 %); 3-fold CV leaves 1,000 training rows per fold.
    assert res["label_issue"][flipped].mean() >= 0.5
    assert res["review_candidate"][flipped].mean() >= 0.5
    assert res["label_issue"].sum() <= 60
    perm = np.random.default_rng(2).permutation(1500)
    res2 = label_issues(noisy[perm], p[perm], [ids[i] for i in perm], filter_by="both",
                        rank_by="self_confidence", candidates=30)
    np.testing.assert_array_equal(res["rank"][perm], res2["rank"])


def test_paper_queue_size_is_the_release_rule(shared_dir):
    from pipeline.audit.issues import label_issues, paper_queue_size

    rel = shared_dir / "reference/label-errors"
    for name, k_paper, k_cleanlab2 in (("cifar10", 275, 244), ("mnist", 15, 15)):
        probs = np.load(rel / f"{name}_test_set_pyx.npy")
        labels = np.load(rel / f"{name}_test_set_original_labels.npy")
        assert paper_queue_size(labels, probs) == k_paper
        ids = [f"{name}/test/{i}" for i in range(len(labels))]
        li = label_issues(labels, probs / probs.sum(1, keepdims=True), ids,
                          filter_by="prune_by_noise_rate", rank_by="normalized_margin",
                          candidates="paper")
        assert li["k"] == k_paper and int(li["review_candidate"].sum()) == k_paper
        assert li["num_issues_estimated"] == k_cleanlab2 and li["k_method"] == "paper"


def test_model_adequacy_flags_weak_and_miscalibrated_models():
    from pipeline.audit.stage import model_adequacy

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    good = np.full((2000, 10), 0.001)
    good[np.arange(2000), y] = 0.991
    assert model_adequacy(good, y)["model_adequate"]
    # Right 98% of the time but only ~60% confident: underconfident, counts not trusted.
    under = np.full((2000, 10), 0.4 / 9)
    under[np.arange(2000), y] = 0.6
    flip = rng.random(2000) < 0.02
    under[flip] = under[flip][:, ::-1]
    res = model_adequacy(under, y)
    assert not res["model_adequate"] and "underconfident" in res["adequacy_note"]
    assert res["heldout_accuracy"] > 0.9 and res["ece"] > 0.3
    weak = rng.dirichlet(np.ones(10), 2000)
    assert "accuracy" in model_adequacy(weak, y)["adequacy_note"]


def test_ivf_knn_recall_and_determinism(mnist_test_images):
    """The inverted-file search (used above EXACT_KNN_MAX rows) against the exact one."""
    x = mnist_test_images[:5000].reshape(5000, -1).astype(np.float32)
    f = x @ np.random.default_rng(0).standard_normal((784, 48)).astype(np.float32)
    f[4999] = f[17] * 1.0001  # a near duplicate the search must pair
    ie, de = knn(f, 10, method="exact")
    ia, da = knn(f, 10, method="ivf")
    ib, db = knn(f, 10, method="ivf")
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(da, db)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ie, ia, strict=True)])
    assert recall > 0.85 and np.mean(ie[:, 0] == ia[:, 0]) > 0.9
    assert ia[4999, 0] == 17 and ia[17, 0] == 4999
    assert np.all(np.diff(da, axis=1) >= 0) and np.all(da >= de[:, :1] - 1e-6)
