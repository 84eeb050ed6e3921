"""The cnn probability route: deterministic K-fold CNN probabilities on real digits."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.audit.config import parse_section
from pipeline.errors import ManifestError

torch = pytest.importorskip("torch", reason="the cnn route needs torch (extra audit-cnn)")


def test_cnn_route_is_deterministic_and_learns(mnist_test_images, shared_dir) -> None:
    from pipeline.audit.cnn import cnn_pred_probs
    from pipeline.audit.probs import fold_ids
    from pipeline.audit.stage import model_adequacy
    from pipeline.sources.idx import read_idx

    labels = read_idx(shared_dir / "datasets/mnist/t10k-labels-idx1-ubyte.gz")[:1200]
    images = mnist_test_images[:1200]
    ids = [f"mnist/test/{i}" for i in range(1200)]
    fid = fold_ids(ids, labels, folds=2, seed=0)
    params = {"epochs": 8, "width": 8, "batch_size": 32, "flip": False, "pad": 2}
    p1, f1 = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0, params=params,
                            scheduler="sync")
    p2, f2 = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0, params=params,
                            scheduler="processes", workers=2)
    assert p1.dtype == np.float32 and p1.shape == (1200, 10) and f1.shape == (1200, 32)
    np.testing.assert_array_equal(p1, p2)  # same bytes whatever the scheduler
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_allclose(p1.sum(1), 1, atol=1e-5)
    trust = model_adequacy(p1, labels)
    assert trust["heldout_accuracy"] > 0.85  # 540 training digits, 8 epochs
    p3, _ = cnn_pred_probs(images, labels, fid, n_classes=10, seed=1, params=params,
                           scheduler="sync")
    assert not np.array_equal(p1, p3)


def test_cnn_section_is_validated() -> None:
    spec = parse_section({"probs": {"route": "cnn", "cnn": {"epochs": 2, "flip": False}}}, "m")
    assert spec.probs.cnn == {"epochs": 2, "flip": False}
    for bad, msg in (({"route": "builtin", "cnn": {}}, "route cnn only"),
                     ({"route": "cnn", "cnn": {"epoch": 2}}, "unknown key"),
                     ({"route": "cnn", "cnn": {"flip": "yes"}}, "true or false"),
                     ({"route": "cnn", "cnn": {"arch": "resnet"}},
                      r"'resnet' is not one of \['airbench', 'lenet'\]")):
        with pytest.raises(ManifestError, match=msg):
            parse_section({"probs": bad}, "m: audit")


def test_lenet_arch_is_deterministic_and_learns(mnist_test_images, shared_dir) -> None:
    from pipeline.audit.cnn import cnn_pred_probs
    from pipeline.audit.probs import fold_ids
    from pipeline.audit.stage import model_adequacy
    from pipeline.sources.idx import read_idx

    labels = read_idx(shared_dir / "datasets/mnist/t10k-labels-idx1-ubyte.gz")[:1200]
    images = mnist_test_images[:1200]
    fid = fold_ids([f"mnist/test/{i}" for i in range(1200)], labels, folds=2, seed=0)
    params = {"arch": "lenet", "epochs": 8, "width": 8, "batch_size": 32, "flip": False,
              "pad": 2, "label_smoothing": 0.0}
    p1, f1 = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0, params=params,
                            scheduler="sync")
    p2, f2 = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0, params=params,
                            scheduler="processes", workers=2)
    assert p1.shape == (1200, 10) and f1.shape == (1200, 32)  # 4 * width dense features
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(f1, f2)
    assert model_adequacy(p1, labels)["heldout_accuracy"] > 0.85
    p3, _ = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0,
                           params={**params, "arch": "airbench"}, scheduler="sync")
    assert not np.array_equal(p1, p3)  # the key reaches the network


def test_cnn_arch_is_checked_at_the_library_boundary(mnist_test_images) -> None:
    from pipeline.audit.cnn import cnn_pred_probs

    labels = np.zeros(4, dtype=np.int64)
    with pytest.raises(ManifestError, match="arch: 'vgg' is not one of"):
        cnn_pred_probs(mnist_test_images[:4], labels, np.array([0, 1, 0, 1]), n_classes=10,
                       seed=0, params={"arch": "vgg"}, scheduler="sync")
