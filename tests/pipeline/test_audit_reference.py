"""Reproduce the label-errors paper's MNIST candidate set from its own probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.audit.issues import label_issues
from pipeline.audit.probs import check_pred_probs, load_keyed_array
from pipeline.audit.reference import (
    export_pred_probs,
    load_release,
    mturk_records,
    paper_candidates,
)
from pipeline.sources import make_source


@pytest.fixture(scope="module")
def release_dir(shared_dir):
    return shared_dir / "reference" / "label-errors"


@pytest.fixture(scope="module")
def mnist_release(release_dir):
    return load_release(release_dir, "mnist", prefix="mnist")


@pytest.fixture(scope="module")
def mnist_mturk(release_dir):
    return mturk_records(release_dir, "mnist", prefix="mnist")


def test_mnist_candidates_reproduced_exactly(mnist_release, mnist_mturk):
    assert len(mnist_mturk) == 100
    cand = paper_candidates(mnist_release.labels, mnist_release.pred_probs, 100)
    got = {mnist_release.sample_ids[i] for i in cand}
    assert got == {r["sample_id"] for r in mnist_mturk}


def test_validated_mnist_errors_are_candidates(mnist_release, mnist_mturk):
    validated = {r["sample_id"] for r in mnist_mturk if r["validated_error"]}
    assert len(validated) == 15
    cand = paper_candidates(mnist_release.labels, mnist_release.pred_probs, 100)
    assert validated <= {mnist_release.sample_ids[i] for i in cand}


def test_stage_path_float32_reproduces_candidates_and_guesses(tmp_path, mnist_release, mnist_mturk):
    # The stage's route: float32 file keyed by sample_id -> label_issues(normalized_margin, K=100).
    path = export_pred_probs(mnist_release, tmp_path / "mnist_pyx.npz")
    shuffled = list(np.random.default_rng(1).permutation(mnist_release.sample_ids))
    probs = check_pred_probs(load_keyed_array(path, shuffled, "pred_probs"), 10)
    assert probs.dtype == np.float32
    index = {s: i for i, s in enumerate(mnist_release.sample_ids)}
    labels = mnist_release.labels[[index[s] for s in shuffled]]
    res = label_issues(labels, probs, shuffled, filter_by="prune_by_noise_rate",
                       rank_by="normalized_margin", candidates=100)
    got = {shuffled[i] for i in np.flatnonzero(res["review_candidate"])}
    assert got == {r["sample_id"] for r in mnist_mturk}
    pos = {s: i for i, s in enumerate(shuffled)}
    for r in mnist_mturk:  # the paper's "guessed" label is the argmax
        assert res["suggested_label"][pos[r["sample_id"]]] == r["guessed_label"]
        assert labels[pos[r["sample_id"]]] == r["given_label"]
    # cleanlab's default find_label_issues is NOT the published set (README of the release).
    assert res["label_issue"].sum() == 15


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_release_joins_shared_test_sets(shared_dir, release_dir, dataset):
    if dataset == "mnist":
        src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    else:
        src = make_source("parquet", {"files": {"test": str(
            shared_dir / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")}})
    labels = {}
    table = getattr(src, "_table", None)
    if table is not None:
        labels = dict(enumerate(table("test")["label"].to_pylist()))
    else:
        labels = {int(e.key): e.label for e in src.read("test", 0, 10000)}
    rel = load_release(release_dir, dataset, prefix=dataset)
    assert len(rel.sample_ids) == 10000 == len(labels)
    assert all(labels[int(s.rsplit("/", 1)[1])] == lab
               for s, lab in zip(rel.sample_ids, rel.labels, strict=True))
