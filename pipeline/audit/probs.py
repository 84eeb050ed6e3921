"""Out-of-sample predicted probabilities: from a user file, or K-fold cross-validation.

Three routes (``audit.probs.route`` in the manifest):

* ``file`` — :func:`load_keyed_array` reads the user's probabilities keyed by
  ``sample_id`` and :func:`check_pred_probs` validates them (shape, finite,
  non-negative, rows sum to 1, every id present once);
* ``embeddings`` — the user's embeddings, keyed the same way, go through
  :func:`cross_val_pred_probs`;
* ``builtin`` — :mod:`pipeline.audit.features` features go through
  :func:`cross_val_pred_probs`.

Cross-validation uses stratified folds derived from the sample ids
(:func:`fold_ids`), so the probabilities do not depend on row order, worker
count or scheduler. Each fold is one task on :func:`pipeline.parallel.run_tasks`.
Probabilities are float32 from end to end.

Reference:
    C. G. Northcutt, L. Jiang, I. L. Chuang. Confident Learning: Estimating
    Uncertainty in Dataset Labels. JAIR 70, 2021 (out-of-sample probabilities, sec. 2).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from pipeline.errors import SourceError
from pipeline.parallel import run_tasks

__all__ = [
    "fold_ids",
    "whiten",
    "fit_predict_fold",
    "cross_val_pred_probs",
    "load_keyed_array",
    "check_pred_probs",
]

SUM_TOLERANCE = 1e-3


def fold_ids(sample_ids: Sequence[str], labels: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """Stratified fold of every row, derived from ``(seed, sample_id)`` only.

    Within each class, rows are ordered by CRC-32 of ``"<seed>:<sample_id>"`` and
    dealt to folds round-robin, so each fold holds ~1/K of every class and a
    row's fold never depends on its position.

    Args:
        sample_ids: One unique id per row.
        labels: int labels (N,).
        folds: K >= 2.
        seed: Manifest seed (>= 0).

    Returns:
        int32 (N,) fold index in 0..K-1.

    Example:
        >>> fold_ids(["a", "b", "c", "d"], np.array([0, 0, 1, 1]), folds=2, seed=0).tolist()
        [1, 0, 0, 1]

    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    labels = np.asarray(labels)
    keys = np.array([zlib.crc32(f"{seed}:{s}".encode()) for s in sample_ids], dtype=np.int64)
    out = np.empty(len(labels), dtype=np.int32)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        order = sorted(rows.tolist(), key=lambda r: (keys[r], sample_ids[r]))
        out[order] = np.arange(len(order)) % folds
    return out


def whiten(features: np.ndarray, dims: int, *, standardize: bool = True,
           chunk: int = 65536) -> np.ndarray:
    """Standardise columns, then project on the top ``dims`` principal axes, whitened.

    Label-free (it may see every row without leaking labels into the folds). With more
    rows than columns the column moments and the covariance are accumulated in float64
    over blocks of ``chunk`` rows and the projection is written block by block, so the
    extra memory is one block plus the (N, dims) output, never a centred copy of the
    input (1M x 1024 float32 features: 4 GB each).

    Args:
        features: float (N, D).
        dims: Output dimensions (clipped to min(N, D)).
        standardize: Scale every column to unit variance before the PCA.
        chunk: Rows per block (bounds memory, not results).

    Returns:
        float32 (N, min(dims, N, D)) with unit variance per column.

    """
    x = np.asarray(features)
    n, d = x.shape
    k = min(dims, n, d)
    if d > n:  # few rows: eigenvectors of the N x N Gram matrix
        xc = x.astype(np.float32) - x.astype(np.float32).mean(axis=0)
        if standardize:
            xc /= xc.std(axis=0) + np.float32(1e-6)
        gram = (xc @ xc.T).astype(np.float64) / max(n, 1)
        with threadpool_limits(1, user_api="blas"):  # threaded eigh is far slower on busy CPUs
            evals, evecs = np.linalg.eigh(gram)
        top = np.argsort(evals)[::-1][:k]
        proj = (evecs[:, top] * np.sqrt(np.maximum(evals[top], 0) * max(n, 1))).astype(np.float32)
        scale = np.sqrt(np.maximum(evals[top], 0)).astype(np.float32)
        return (proj / (scale + np.float32(1e-6))).astype(np.float32)
    blocks = range(0, n, chunk)
    total = np.zeros(d)
    for s in blocks:
        total += x[s : s + chunk].sum(axis=0, dtype=np.float64)
    mean = (total / max(n, 1)).astype(np.float32)
    inv = np.ones(d, np.float32)
    if standardize:
        sq = np.zeros(d)
        for s in blocks:
            c = x[s : s + chunk].astype(np.float32) - mean
            sq += np.einsum("ij,ij->j", c, c, dtype=np.float64)
        inv = (np.float32(1.0) / (np.sqrt(sq / max(n, 1)).astype(np.float32)
                                  + np.float32(1e-6))).astype(np.float32)

    def block(s: int) -> np.ndarray:
        c = x[s : s + chunk].astype(np.float32) - mean
        c *= inv
        return c

    gram = np.zeros((d, d))
    for s in blocks:
        c = block(s)
        gram += (c.T @ c).astype(np.float64)
    gram /= max(n, 1)
    with threadpool_limits(1, user_api="blas"):  # threaded eigh is far slower on busy CPUs
        evals, evecs = np.linalg.eigh(gram)
    top = np.argsort(evals)[::-1][:k]
    scale = np.sqrt(np.maximum(evals[top], 0)).astype(np.float32)
    basis = (evecs[:, top].astype(np.float32) / (scale + np.float32(1e-6))).astype(np.float32)
    out = np.empty((n, k), dtype=np.float32)
    for s in blocks:
        out[s : s + chunk] = block(s) @ basis
    return out


def fit_predict_fold(
    features: np.ndarray, labels: np.ndarray, folds: np.ndarray, k: int, n_classes: int, C: float
) -> np.ndarray:
    """Fit a multinomial logistic regression on folds != k and predict fold k (a dask task).

    Args:
        features: float32 (N, D) (already whitened).
        labels: int (N,).
        folds: Fold index per row (:func:`fold_ids`).
        k: The held-out fold.
        n_classes: Number of classes (columns of the output).
        C: Inverse L2 regularisation strength.

    Returns:
        float32 (rows of fold k, n_classes), rows summing to 1. A class absent
        from the training folds gets probability 0.

    """
    from sklearn.linear_model import LogisticRegression

    train, test = folds != k, folds == k
    clf = LogisticRegression(C=C, max_iter=500, tol=1e-4)
    with threadpool_limits(1, user_api="blas"):  # folds are the parallelism
        clf.fit(features[train], labels[train])
        proba = clf.predict_proba(features[test])
    out = np.zeros((int(test.sum()), n_classes), dtype=np.float32)
    out[:, clf.classes_] = proba.astype(np.float32)
    return out / out.sum(axis=1, keepdims=True)


def cross_val_pred_probs(
    features: np.ndarray,
    labels: np.ndarray,
    sample_ids: Sequence[str],
    *,
    n_classes: int,
    folds: int,
    C: float,
    seed: int,
    scheduler: str = "threads",
    workers: int = 2,
    progress: bool = False,
) -> np.ndarray:
    """K-fold out-of-sample predicted probabilities, one dask task per fold.

    Args:
        features: float32 (N, D) classifier inputs (see :func:`whiten`).
        labels: int (N,) given labels in 0..n_classes-1.
        sample_ids: Row ids (fold assignment).
        n_classes: Number of classes.
        folds: K >= 2.
        C: Inverse L2 strength (> 0).
        seed: Manifest seed.
        scheduler: :func:`pipeline.parallel.run_tasks` scheduler.
        workers: Parallel folds.
        progress: Show a progress bar.

    Returns:
        float32 (N, n_classes) rows summing to 1, each predicted by a model that never saw it.

    """
    labels = np.asarray(labels, dtype=np.int64)
    fid = fold_ids(sample_ids, labels, folds=folds, seed=seed)
    tasks = [(features, labels, fid, k, n_classes, C) for k in range(folds)]
    with threadpool_limits(1, user_api="blas"):
        parts = run_tasks(fit_predict_fold, tasks, scheduler=scheduler, workers=workers,
                          desc="audit folds", progress=progress)
    out = np.empty((len(labels), n_classes), dtype=np.float32)
    for k, part in enumerate(parts):
        out[fid == k] = part
    return out


def load_keyed_array(path: str | Path, sample_ids: Sequence[str], column: str) -> np.ndarray:
    """Read a 2-D array keyed by ``sample_id`` and return it in ``sample_ids`` order.

    Formats: ``.npz`` with arrays ``sample_id`` (N,) and ``column`` (N, D), or Parquet
    with a string column ``sample_id`` and a list column ``column``.

    Args:
        path: The file.
        sample_ids: The audited rows' ids (the order of the result).
        column: ``pred_probs`` or ``embedding(s)``.

    Returns:
        (len(sample_ids), D) array in the file's dtype.

    Raises:
        SourceError: Missing file/column, duplicate ids, ids missing from the file.

    """
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"{p}: file not found (audit.probs.path)")
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                if "sample_id" not in z or column not in z:
                    raise SourceError(
                        f"{p}: needs arrays 'sample_id' and {column!r}; has {list(z)}")
                ids, values = [str(s) for s in z["sample_id"]], np.asarray(z[column])
        except (OSError, ValueError, zipfile.BadZipFile) as exc:  # not an npz, pickled arrays
            raise SourceError(f"{p}: not a readable .npz of plain arrays ({exc}); write it "
                              "with numpy.savez") from exc
    elif p.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(p)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            raise SourceError(f"{p}: not a readable Parquet file ({exc})") from exc
        if "sample_id" not in table.column_names or column not in table.column_names:
            raise SourceError(
                f"{p}: needs columns 'sample_id' and {column!r}; has {table.column_names}"
            )
        ids = [str(s) for s in table["sample_id"].to_pylist()]
        col = table[column].combine_chunks()
        values = np.asarray(col.flatten().to_numpy(zero_copy_only=False)).reshape(len(ids), -1)
    else:
        raise SourceError(f"{p}: unsupported format {p.suffix!r}; use .npz or .parquet")
    if values.ndim != 2 or len(values) != len(ids):
        raise SourceError(
            f"{p}: {column!r} must be 2-D with one row per sample_id, got {values.shape}"
        )
    if values.dtype.kind not in "iuf":
        raise SourceError(f"{p}: {column!r} must hold numbers, got dtype {values.dtype}")
    if column != "pred_probs" and not np.isfinite(values).all():  # probs: check_pred_probs
        raise SourceError(f"{p}: {column!r} has {int((~np.isfinite(values)).sum())} NaN or "
                          "infinite value(s); every row needs finite numbers")
    index = {s: i for i, s in enumerate(ids)}
    if len(index) != len(ids):
        raise SourceError(f"{p}: sample_id has {len(ids) - len(index)} duplicate(s)")
    missing = [s for s in sample_ids if s not in index]
    if missing:
        raise SourceError(
            f"{p}: {len(missing)} audited sample_id(s) missing, e.g. {missing[:3]}; the file must "
            "cover every row of the clean config"
        )
    return values[[index[s] for s in sample_ids]]


def check_pred_probs(
    pred_probs: np.ndarray, n_classes: int, *, where: str = "pred_probs"
) -> np.ndarray:
    """Validate predicted probabilities and return them as float32.

    Raises:
        SourceError: Wrong shape, non-finite or negative values, or rows not summing to 1
            (within 1e-3).

    """
    p = np.asarray(pred_probs)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise SourceError(f"{where}: expected shape (N, {n_classes}), got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise SourceError(f"{where}: probabilities must be finite and >= 0")
    sums = p.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
    if bad.size:
        raise SourceError(
            f"{where}: {bad.size} row(s) do not sum to 1 (e.g. row {bad[0]} sums to "
            f"{sums[bad[0]]:.6f}); pass softmax outputs, not logits"
        )
    return p.astype(np.float32)
