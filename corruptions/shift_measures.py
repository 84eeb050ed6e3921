"""Measured distribution shift between a training set and a shifted set, in a feature space.

The feature space is the posterior-mean latent of a probabilistic PCA fitted on
the training images (pixels on the 0..1 scale), optionally joined with a scaled
one-hot label so that shifts of ``p(y)`` or of the pairing of ``x`` and ``y``
(spurious cues) register. Three measures, each computed on the same features:

* **fraction outside the training support**: share of shifted points whose
  distance to their ``k``-th nearest training point exceeds the ``quantile`` of
  the training points' own (leave-one-out) ``k``-NN distances; about
  ``1 - quantile`` when there is no shift (Tax & Duin's k-NN data description).
* **kernel MMD**: unbiased MMD² with a Gaussian kernel (median-heuristic
  bandwidth) and a permutation test p-value (Gretton et al., JMLR 13, 2012).
* **classifier two-sample AUC**: out-of-fold ROC AUC of a k-NN classifier told
  to separate the two sets; 0.5 when they are indistinguishable (Lopez-Paz &
  Oquab, Revisiting Classifier Two-Sample Tests, ICLR 2017).

:func:`probe_accuracy` also reports the accuracy of a logistic-regression probe
trained on the training set (a "simple classifier") on the shifted set.

**Which measure tracks degradation.** The fraction outside the k-NN support is
*not* the intensity analogue of Control+Shift and is not monotone in the knob:
measured on the MNIST shift benchmark it stays flat for ``latent_select_rotate``
(.064 -> .066), is bumpy for ``label_shift`` and ``colored_mnist`` and *falls*
for ``fourier_amplitude`` (.049 -> .004) while the probe loses 17 points, because
a shift can move mass *into* dense regions of a 32-dim PPCA space (amplitude
mixing smooths images towards the mean). It is kept as a descriptive statistic.
MMD² and the two-sample AUC rise with the knob for every family but measure
distinguishability, which need not cost accuracy (a label-preserving shift can be
easy to detect and harmless). Control+Shift's own measure, the mass of the test
latent law outside the training latent support, is only defined where the data
were generated from known latent laws: :func:`corruptions.shifts.control_shift.
latent_non_overlap`, recorded by the ``truncation`` / ``extend`` / ``overlap``
families as ``latent_non_overlap``; ``benchmarks/bench_shift_families.py``
reports its rank correlation with accuracy beside MMD²'s and the AUC's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from corruptions.shifts.common import as_vectors
from corruptions.shifts.ppca import PPCA, fit_ppca

__all__ = [
    "FeatureSpace",
    "fit_feature_space",
    "outside_support",
    "mmd_test",
    "c2st_auc",
    "probe_accuracy",
    "measure_shift",
]


@dataclass(frozen=True)
class FeatureSpace:
    """Images -> features: PPCA posterior-mean latents (+ optional scaled one-hot label).

    Attributes:
        model: PPCA fitted on the training images.
        image_shape: Shape of one image the space accepts.
        num_classes: Number of classes (one-hot width).
        label_weight: Scale of the one-hot label block; 0 leaves labels out.

    """

    model: PPCA
    image_shape: tuple[int, ...]
    num_classes: int
    label_weight: float

    def transform(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Features of ``images`` (and ``labels`` when ``label_weight > 0``)."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images of shape {images.shape[1:]} do not match the feature space's "
                f"{self.image_shape}; measure sets with the same image shape"
            )
        z = self.model.encode(as_vectors(images))
        if self.label_weight <= 0:
            return z
        if labels is None:
            raise ValueError("this feature space joins labels (label_weight > 0): pass labels")
        onehot = np.eye(self.num_classes)[np.asarray(labels, dtype=np.int64)]
        return np.hstack([z, self.label_weight * onehot])


def fit_feature_space(
    images: np.ndarray, *, dim: int, num_classes: int, label_weight: float
) -> FeatureSpace:
    """Fit the feature space on training images.

    Args:
        images: uint8 training images ``(N, ...)``.
        dim: PPCA latent dimension (``1 <= dim < min(N, pixels)``).
        num_classes: Number of classes.
        label_weight: One-hot label scale (0: image features only).

    """
    return FeatureSpace(
        fit_ppca(as_vectors(images), dim), tuple(images.shape[1:]), num_classes, float(label_weight)
    )


def outside_support(reference: np.ndarray, test: np.ndarray, *, k: int, quantile: float) -> float:
    """Fraction of ``test`` points outside the ``k``-NN support of ``reference``.

    Args:
        reference: ``(N, d)`` training features (N > k).
        test: ``(M, d)`` shifted features.
        k: Neighbour rank (>= 1).
        quantile: Training-radius quantile that bounds the support, in (0, 1).

    Returns:
        A fraction in [0, 1] (about ``1 - quantile`` without shift).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.standard_normal((400, 2)), rng.standard_normal((400, 2)) + 10
        >>> outside_support(a, b, k=5, quantile=0.95)
        1.0

    """
    from sklearn.neighbors import NearestNeighbors

    if not 0 < quantile < 1 or k < 1 or len(reference) <= k:
        raise ValueError(
            f"need 0 < quantile < 1, k >= 1 and more than k reference rows; got "
            f"quantile={quantile}, k={k}, {len(reference)} rows"
        )
    nn = NearestNeighbors(n_neighbors=k + 1).fit(reference)
    ref_d = nn.kneighbors(reference, n_neighbors=k + 1)[0][:, k]  # column 0 is the point itself
    radius = float(np.quantile(ref_d, quantile))
    test_d = nn.kneighbors(test, n_neighbors=k)[0][:, k - 1]
    return float(np.mean(test_d > radius))


def mmd_test(
    x: np.ndarray, y: np.ndarray, *, permutations: int, rng: np.random.Generator
) -> dict[str, float]:
    """Unbiased Gaussian-kernel MMD² with a permutation-test p-value.

    Args:
        x: ``(m, d)`` sample one (m >= 2).
        y: ``(n, d)`` sample two (n >= 2).
        permutations: Number of label permutations (>= 1).
        rng: Generator for the permutations.

    Returns:
        ``{"mmd2": ..., "p_value": ..., "bandwidth": ...}``; the bandwidth is the
        median pairwise distance of the pooled sample.

    """
    m, n = len(x), len(y)
    if m < 2 or n < 2 or permutations < 1:
        raise ValueError("mmd_test needs >= 2 rows per sample and >= 1 permutation")
    z = np.vstack([x, y])
    sq = (z * z).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)
    off = d2[np.triu_indices(len(z), 1)]
    bandwidth = float(np.sqrt(np.median(off))) or 1.0
    kern = np.exp(-d2 / (2.0 * bandwidth**2))
    rowsum = kern.sum(axis=1)
    total = rowsum.sum()

    def stat(a: np.ndarray) -> np.ndarray:
        ka = kern @ a
        aka = (a * ka).sum(axis=0)
        one_ka = rowsum @ a
        bkb = total - 2.0 * one_ka + aka
        akb = one_ka - aka
        return (aka - m) / (m * (m - 1)) + (bkb - n) / (n * (n - 1)) - 2.0 * akb / (m * n)

    observed = float(stat(np.r_[np.ones(m), np.zeros(n)][:, None])[0])
    assign = np.zeros((m + n, permutations))
    for j in range(permutations):
        assign[rng.permutation(m + n)[:m], j] = 1.0
    null = stat(assign)
    p_value = (1.0 + float(np.sum(null >= observed))) / (1.0 + permutations)
    return {"mmd2": observed, "p_value": p_value, "bandwidth": bandwidth}


def c2st_auc(
    x: np.ndarray, y: np.ndarray, *, folds: int, neighbors: int, rng: np.random.Generator
) -> float:
    """Out-of-fold ROC AUC of a k-NN classifier separating ``x`` from ``y``.

    Both samples are cut to the smaller size (a random subset) so 0.5 means
    indistinguishable.

    Args:
        x: ``(m, d)`` sample one.
        y: ``(n, d)`` sample two.
        folds: Cross-validation folds (>= 2).
        neighbors: k of the k-NN classifier (>= 1).
        rng: Generator for the subsets and the fold split.

    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    size = min(len(x), len(y))
    if size < folds or folds < 2:
        raise ValueError(f"c2st needs folds >= 2 and at least `folds` rows per sample ({size})")
    xs = x[rng.permutation(len(x))[:size]]
    ys = y[rng.permutation(len(y))[:size]]
    feats = np.vstack([xs, ys])
    target = np.r_[np.zeros(size), np.ones(size)]
    scores = np.zeros(len(target))
    split = StratifiedKFold(folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    for train, test in split.split(feats, target):
        clf = KNeighborsClassifier(n_neighbors=neighbors).fit(feats[train], target[train])
        scores[test] = clf.predict_proba(feats[test])[:, 1]
    return float(roc_auc_score(target, scores))


def probe_accuracy(
    space: FeatureSpace,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
) -> float:
    """Accuracy on the test set of a logistic-regression probe trained on the training set.

    The probe sees the image features of ``space`` only (never the label block).
    """
    from sklearn.linear_model import LogisticRegression

    image_only = FeatureSpace(space.model, space.image_shape, space.num_classes, 0.0)
    clf = LogisticRegression(max_iter=2000)
    clf.fit(image_only.transform(train_images), train_labels)
    return float(np.mean(clf.predict(image_only.transform(test_images)) == test_labels))


def measure_shift(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    num_classes: int,
    rng: np.random.Generator,
    dim: int,
    label_weight: float,
    neighbors: int,
    quantile: float,
    permutations: int,
    folds: int,
    max_rows: int,
) -> dict[str, Any]:
    """Every measure of the shift from a training set to a shifted set.

    Args:
        train_images: uint8 training images (the knob-0 distribution).
        train_labels: Their labels.
        test_images: uint8 shifted images (same image shape).
        test_labels: Their labels.
        num_classes: Number of classes.
        rng: Generator for subsets, permutations and folds.
        dim: Feature (PPCA latent) dimension.
        label_weight: One-hot label scale in the joint feature space (0: images only).
        neighbors: k for the support radius and the k-NN two-sample classifier.
        quantile: Training-radius quantile bounding the support, in (0, 1).
        permutations: MMD permutations.
        folds: C2ST folds.
        max_rows: Rows per side used by the two-sample measures (random subset).

    Returns:
        ``outside_support``, ``mmd2``, ``mmd_p_value``, ``mmd_bandwidth``,
        ``c2st_auc``, ``probe_accuracy``, ``probe_accuracy_train_cv`` (the probe's
        accuracy on the held-out training half, the no-shift baseline), row counts
        and the settings. The feature space and the probe are fitted on a random
        half of the training rows; every comparison uses the other half.

    """
    n_tr, n_te = len(train_images), len(test_images)
    if n_tr < 4:
        raise ValueError(f"measure_shift needs at least 4 training rows, got {n_tr}")
    # Sample splitting: the feature space and the probe are fitted on one half of the training
    # set, the two-sample measures compare the *other* half with the shifted set. Fitting PCA on
    # the very rows a test then compares makes them non-exchangeable with fresh rows (their
    # projected variance is inflated) and the permutation test rejects at intensity 0.
    order = rng.permutation(n_tr)
    fit_rows, held_rows = np.sort(order[: n_tr // 2]), np.sort(order[n_tr // 2 :])
    space = fit_feature_space(
        train_images[fit_rows], dim=dim, num_classes=num_classes, label_weight=label_weight
    )
    held = space.transform(train_images[held_rows], train_labels[held_rows])
    te = space.transform(test_images, test_labels)
    held_s = held[rng.permutation(len(held))[:max_rows]]
    te_s = te[rng.permutation(n_te)[:max_rows]]
    mmd = mmd_test(held_s, te_s, permutations=permutations, rng=rng)
    fit_x, fit_y = train_images[fit_rows], train_labels[fit_rows]
    return {
        "outside_support": outside_support(held, te, k=neighbors, quantile=quantile),
        "mmd2": mmd["mmd2"],
        "mmd_p_value": mmd["p_value"],
        "mmd_bandwidth": mmd["bandwidth"],
        "c2st_auc": c2st_auc(held_s, te_s, folds=folds, neighbors=neighbors, rng=rng),
        "probe_accuracy": probe_accuracy(space, fit_x, fit_y, test_images, test_labels),
        "probe_accuracy_train_cv": probe_accuracy(
            space, fit_x, fit_y, train_images[held_rows], train_labels[held_rows]
        ),
        "rows": {
            "train_fit": len(fit_rows),
            "train_held_out": len(held_rows),
            "shifted": int(n_te),
            "two_sample": int(min(max_rows, n_te, len(held_rows))),
        },
        "settings": {
            "feature": f"PPCA posterior mean, {dim} dims, fitted on half the training set",
            "label_weight": label_weight,
            "neighbors": neighbors,
            "quantile": quantile,
            "permutations": permutations,
            "folds": folds,
        },
    }
