"""Label issues, quality scores, near-duplicates and outliers of an audited split.

* :func:`label_issues` — cleanlab's :func:`~cleanlab.filter.find_label_issues`
  mask (method ``filter_by``), a label-quality score per row (method ``rank_by``),
  the review rank (lowest score first, ties broken by ``sample_id``), the
  suggested label (argmax of the predicted probabilities, the paper's "guessed"
  label) and cleanlab's estimated number of issues.
* :func:`neighbour_issues` — exact k-nearest neighbours (cosine distance) on
  feature vectors: near-duplicates with cleanlab Datalab's rule (nearest-neighbour
  distance below ``threshold`` x the median one), outliers with Datalab's rule
  (mean k-NN distance above ``Q3 + (1/threshold - 1) IQR``), plus exact pixel
  duplicates by content hash.
* :func:`nearest_per_class` — for evidence, each row's nearest example of every class.

Reference:
    C. G. Northcutt, A. Athalye, J. Mueller. Pervasive Label Errors in Test Sets
    Destabilize Machine Learning Benchmarks. NeurIPS Datasets and Benchmarks, 2021.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "label_issues",
    "paper_queue_size",
    "review_order",
    "pixel_hashes",
    "knn",
    "neighbour_issues",
    "nearest_per_class",
]


def review_order(scores: np.ndarray, sample_ids: Sequence[str]) -> np.ndarray:
    """Row indices by ascending score, ties broken by ``sample_id`` (order-independent)."""
    ids = np.asarray(sample_ids, dtype=object)
    return np.lexsort((ids, np.asarray(scores, dtype=np.float64)))


def paper_queue_size(labels: np.ndarray, pred_probs: np.ndarray) -> int:
    """Review-queue size K as the label-errors release chose it.

    ``K = floor(N * (1 - trace(C) / sum(C)))`` with ``C`` cleanlab 1.0's *uncalibrated*
    confident joint (:func:`cleanlab.count.compute_confident_joint` with ``calibrate=False``):
    the share of confidently counted rows off the diagonal, scaled to the dataset size.
    On the release's CIFAR-10 probabilities this gives 275 (cleanlab 2.x's calibrated
    :func:`~cleanlab.count.num_label_issues` gives 244); on MNIST it gives 15, while the
    paper sent a fixed 100 MNIST candidates to review.

    Args:
        labels: int (N,) given labels.
        pred_probs: (N, C) out-of-sample predicted probabilities.

    Returns:
        K (>= 0).

    Reference:
        Northcutt, Athalye & Mueller, "Pervasive Label Errors in Test Sets", NeurIPS 2021
        (cleanlab/label-errors, candidates from cleanlab 1.0's confident joint).

    Example:
        >>> y = np.array([0, 0, 0, 1, 1, 1])
        >>> p = np.array([[.9, .1], [.9, .1], [.05, .95], [.1, .9], [.1, .9], [.1, .9]])
        >>> paper_queue_size(y, p)
        1
    """
    from cleanlab.count import compute_confident_joint

    cj = compute_confident_joint(np.asarray(labels, dtype=np.int64), np.asarray(pred_probs),
                                 calibrate=False)
    total, trace = int(cj.sum()), int(np.trace(cj))
    if total <= 0:
        return 0
    return len(labels) * (total - trace) // total  # exact integers (6 * (1 - 5/6) < 1 in floats)


def label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    sample_ids: Sequence[str],
    *,
    filter_by: str,
    rank_by: str,
    candidates: int | str | None,
) -> dict[str, Any]:
    """Score every row and flag label issues.

    Args:
        labels: int (N,) given labels.
        pred_probs: float32 (N, C) out-of-sample predicted probabilities.
        sample_ids: Row ids (tie-breaking of the rank).
        filter_by: ``cleanlab.filter.find_label_issues`` method.
        rank_by: ``cleanlab.rank.get_label_quality_scores`` method.
        candidates: Review-queue size K; ``None`` for cleanlab's estimated issue count
            (:func:`cleanlab.count.num_label_issues`); ``"paper"`` for the label-errors
            release's K (:func:`paper_queue_size`).

    Returns:
        Dict with ``quality`` (float32, lower = more likely wrong), ``rank`` (int32, 1 = first
        to review), ``label_issue`` (bool, cleanlab mask), ``review_candidate`` (bool, rank <= K),
        ``suggested_label`` (int64), ``num_issues_estimated`` (int), ``k`` (int) and
        ``k_method`` (how K was chosen, for the metrics).

    """
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(pred_probs, dtype=np.float32)
    quality = get_label_quality_scores(labels, probs, method=rank_by).astype(np.float32)
    order = review_order(quality, sample_ids)
    rank = np.empty(len(labels), dtype=np.int32)
    rank[order] = np.arange(1, len(labels) + 1, dtype=np.int32)
    mask = np.asarray(find_label_issues(labels, probs, filter_by=filter_by, n_jobs=1), dtype=bool)
    estimated = int(num_label_issues(labels, probs))
    if candidates == "paper":
        k, k_method = paper_queue_size(labels, probs), "paper"
    elif candidates is None:
        k, k_method = estimated, "cleanlab_num_label_issues"
    else:
        k, k_method = int(candidates), "fixed"
    return {
        "quality": quality,
        "rank": rank,
        "label_issue": mask,
        "review_candidate": rank <= k,
        "suggested_label": probs.argmax(axis=1).astype(np.int64),
        "num_issues_estimated": estimated,
        "k": k,
        "k_method": k_method,
    }


def pixel_hashes(images: Sequence[np.ndarray]) -> list[str]:
    """sha1 of each image's shape and pixel bytes (exact-duplicate key)."""
    return [
        hashlib.sha1(str(np.shape(im)).encode() + np.ascontiguousarray(im).tobytes()).hexdigest()
        for im in images
    ]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + np.float32(1e-12))


#: Above this many rows :func:`knn` searches an inverted file instead of every row.
EXACT_KNN_MAX = 50_000


def _topk(d: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of distances ``d`` (rows x candidates ``cand``), the k nearest (index, distance)."""
    kk = min(k, d.shape[1])
    part = (np.argpartition(d, kk - 1, axis=1)[:, :kk] if kk < d.shape[1]
            else np.argsort(d, axis=1)[:, :kk])
    pd = np.take_along_axis(d, part, axis=1)
    pi = cand[part]
    o = np.lexsort((pi, pd), axis=1)
    return np.take_along_axis(pi, o, axis=1), np.take_along_axis(pd, o, axis=1)


def _exact(u: np.ndarray, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(u)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    cand = np.arange(n)
    for s in range(0, n, block):
        d = np.float32(1.0) - u[s : s + block] @ u.T
        np.maximum(d, 0, out=d)
        rows = np.arange(s, min(n, s + block))
        d[rows - s, rows] = np.inf
        idx[s : s + block], dist[s : s + block] = _topk(d, cand, k)
    return idx, dist


def _ivf(u: np.ndarray, k: int, block: int, seed: int,
         nprobe: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k-NN over an inverted file of spherical k-means cells (deterministic)."""
    from pipeline.audit.features import _spherical_kmeans

    n = len(u)
    nlist = int(np.clip(round(4 * np.sqrt(n)), 16, 4096))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1F, n]))
    train = u[np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))]
    cents = _spherical_kmeans(train, nlist, 8, rng)
    cell = np.empty(n, dtype=np.int64)
    for s in range(0, n, 65536):
        cell[s : s + 65536] = (u[s : s + 65536] @ cents.T).argmax(axis=1)
    members = [np.flatnonzero(cell == c) for c in range(nlist)]
    probe = np.argsort(-(cents @ cents.T), axis=1, kind="stable")[:, :nprobe]
    idx = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.inf, dtype=np.float32)
    for c in range(nlist):
        q = members[c]
        if not len(q):
            continue
        cand = np.concatenate([members[p] for p in probe[c]])
        cu = u[cand]
        for s in range(0, len(q), block):
            rows = q[s : s + block]
            d = np.float32(1.0) - u[rows] @ cu.T
            np.maximum(d, 0, out=d)
            d[rows[:, None] == cand[None, :]] = np.inf
            ii, dd = _topk(d, cand, k)
            idx[rows, : ii.shape[1]], dist[rows, : dd.shape[1]] = ii, dd
    np.minimum(dist, np.float32(2.0), out=dist)  # too few candidates: the largest cosine distance
    return idx, dist


def knn(features: np.ndarray, k: int, *, block: int = 1024, method: str = "auto",
        seed: int = 0, nprobe: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """K nearest neighbours by cosine distance, excluding the row itself.

    Exact (blocked, memory-bounded) up to :data:`EXACT_KNN_MAX` rows; above, an inverted
    file: rows are assigned to ``~4 sqrt(N)`` spherical k-means cells and each cell's rows are
    compared with the rows of the ``nprobe`` cells nearest to its centroid, so time grows
    ~N^1.5 instead of N^2 and memory stays ~``block`` x candidates. Recall against the
    exact search is measured in ``benchmarks/bench_audit_scale.py``.

    Args:
        features: float (N, D).
        k: Neighbours per row (clipped to N - 1).
        block: Rows per distance block (bounds memory, not results).
        method: ``exact``, ``ivf`` or ``auto``.
        seed: Seed of the cell k-means (ivf).
        nprobe: Cells searched per cell (ivf).

    Returns:
        ``(index, distance)``: int64 and float32 (N, k), nearest first; ties by lower index
        (ivf: ``-1`` / 2.0 where a row found fewer than k candidates).
    """
    u = _unit(features)
    n = len(u)
    k = max(0, min(k, n - 1))
    if k == 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    if method == "exact" or (method == "auto" and n <= EXACT_KNN_MAX):
        return _exact(u, k, block)
    if method not in ("ivf", "auto"):
        raise ValueError(f"knn method {method!r} unknown; choose exact, ivf or auto")
    return _ivf(u, k, block, seed, nprobe)


def neighbour_issues(
    features: np.ndarray | None,
    sample_ids: Sequence[str],
    hashes: Sequence[str],
    *,
    k: int,
    duplicate_threshold: float,
    outlier_threshold: float,
) -> dict[str, Any]:
    """Near/exact duplicates and outliers from exact k-NN.

    With ``features=None`` (no feature space to measure distances in: the ``file`` route
    without embeddings) only exact duplicates are found; near duplicates are then the
    exact ones and no row is scored as an outlier (``outlier_score`` NaN).

    Args:
        features: float (N, D) feature vectors, or ``None``.
        sample_ids: Row ids.
        hashes: :func:`pixel_hashes` of the rows.
        k: Neighbours for the outlier score.
        duplicate_threshold: Near duplicate when NN distance < threshold x median NN distance.
        outlier_threshold: In 0..1; outlier when mean k-NN distance > Q3 + (1/t - 1) IQR.

    Returns:
        Dict with ``exact_duplicate``, ``near_duplicate``, ``outlier`` (bool), ``duplicate_of``
        (str, the partner's sample_id or ""), ``outlier_score`` (float32 mean k-NN distance),
        ``nn_index`` (int64 (N, k)), ``median_nn_distance`` and ``outlier_cutoff`` (float).

    """
    n = len(sample_ids)
    if features is None:
        return _exact_only(sample_ids, hashes)
    idx, dist = knn(features, k)
    nn = dist[:, 0] if k else np.zeros(n, dtype=np.float32)
    median = max(float(np.median(nn)), 1e-12)
    near = nn < duplicate_threshold * median
    partner = ["" for _ in range(n)]
    for i in np.flatnonzero(near):
        partner[i] = sample_ids[int(idx[i, 0])]
    exact, exact_partner = _exact_groups(sample_ids, hashes)
    for r in np.flatnonzero(exact):
        partner[r] = exact_partner[r]
    avg = dist.mean(axis=1).astype(np.float32) if k else np.zeros(n, dtype=np.float32)
    q1, q3 = np.percentile(avg, [25, 75])
    scale = 1.0 / outlier_threshold - 1.0 if outlier_threshold > 0 else np.inf
    cutoff = float(q3 + scale * (q3 - q1))
    return {
        "exact_duplicate": exact,
        "near_duplicate": near | exact,
        "outlier": avg > cutoff,
        "duplicate_of": partner,
        "outlier_score": avg,
        "nn_index": idx,
        "median_nn_distance": median,
        "outlier_cutoff": cutoff,
    }


def _exact_groups(sample_ids: Sequence[str], hashes: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    groups: dict[str, list[int]] = {}
    for i, h in enumerate(hashes):
        groups.setdefault(h, []).append(i)
    exact = np.zeros(len(sample_ids), dtype=bool)
    partner = ["" for _ in sample_ids]
    for rows in groups.values():
        if len(rows) > 1:
            for r in rows:
                exact[r] = True
                partner[r] = min(sample_ids[x] for x in rows if x != r)
    return exact, partner


def _exact_only(sample_ids: Sequence[str], hashes: Sequence[str]) -> dict[str, Any]:
    exact, partner = _exact_groups(sample_ids, hashes)
    n = len(sample_ids)
    return {
        "exact_duplicate": exact,
        "near_duplicate": exact.copy(),
        "outlier": np.zeros(n, dtype=bool),
        "duplicate_of": partner,
        "outlier_score": np.full(n, np.nan, dtype=np.float32),
        "nn_index": np.zeros((n, 0), dtype=np.int64),
        "median_nn_distance": None,
        "outlier_cutoff": None,
    }


def nearest_per_class(features: np.ndarray, labels: np.ndarray, rows: Sequence[int],
                      n_classes: int) -> np.ndarray:
    """For each of ``rows``, the nearest other row (cosine) of every given class.

    Returns:
        int64 (len(rows), n_classes); -1 where a class has no other row.

    """
    u = _unit(features)
    labels = np.asarray(labels)
    rows = np.asarray(rows, dtype=np.int64)
    out = np.full((len(rows), n_classes), -1, dtype=np.int64)
    if not len(rows):
        return out
    d = np.float32(1.0) - u[rows] @ u.T
    d[np.arange(len(rows)), rows] = np.inf
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if members.size:
            sub = d[:, members]
            best = sub.argmin(axis=1)
            ok = np.isfinite(sub[np.arange(len(rows)), best])
            out[ok, c] = members[best[ok]]
    return out
