"""Import of the "Pervasive Label Errors in Test Sets" release files (cleanlab/label-errors).

The release is positional: ``<dataset>_test_set_pyx.npy`` (cross-validated
predicted probabilities, float64, official test order), ``*_original_labels.npy``
and ``<dataset>_mturk.json`` (the candidates sent to Mechanical Turk, ``id`` =
official test index, 5 votes each). This module converts them to ``sample_id``
keys once, here, and reproduces the paper's candidate selection: rank every row
by cleanlab's normalized margin of the given label (lowest first) and take the
top K (K = 100 for MNIST).

Reference:
    C. G. Northcutt, A. Athalye, J. Mueller. Pervasive Label Errors in Test Sets
    Destabilize Machine Learning Benchmarks. NeurIPS Datasets and Benchmarks, 2021.
    Files: https://github.com/cleanlab/label-errors (Apache-2.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import SourceError
from pipeline.label_rules import is_validated_error

__all__ = [
    "PaperRelease",
    "load_release",
    "paper_candidates",
    "mturk_records",
    "export_pred_probs",
    "VALIDATED_MAX_GIVEN_VOTES",
]

#: A candidate is a validated error when fewer than 3 of 5 workers chose the given label
#: (:func:`pipeline.label_rules.is_validated_error`, the one rule benchsmith uses).
VALIDATED_MAX_GIVEN_VOTES = 2


@dataclass(frozen=True)
class PaperRelease:
    """One dataset's release files, keyed by sample_id.

    Attributes:
        sample_ids: ``<prefix>/test/<official index>`` per row.
        labels: int64 given labels.
        pred_probs: float64 (N, C) cross-validated probabilities, as published (full precision).

    """

    sample_ids: list[str]
    labels: np.ndarray
    pred_probs: np.ndarray


def load_release(
    folder: str | Path, dataset: str, *, prefix: str, split: str = "test"
) -> PaperRelease:
    """Read ``<dataset>_test_set_pyx.npy`` and ``<dataset>_test_set_original_labels.npy``.

    Args:
        folder: The release folder (``label-errors``).
        dataset: ``mnist`` or ``cifar10`` (any name with both files).
        prefix: The sample_id prefix of the matching clean config (the source name).
        split: The split name in the sample ids.

    Raises:
        SourceError: Missing files or mismatched shapes.

    """
    base = Path(folder)
    pyx_path = base / f"{dataset}_test_set_pyx.npy"
    lab_path = base / f"{dataset}_test_set_original_labels.npy"
    for p in (pyx_path, lab_path):
        if not p.is_file():
            raise SourceError(f"{p}: not found; point at the cleanlab/label-errors release folder")
    pyx = np.load(pyx_path, allow_pickle=False).astype(np.float64)
    labels = np.load(lab_path, allow_pickle=False).astype(np.int64)
    if pyx.ndim != 2 or len(pyx) != len(labels):
        raise SourceError(f"{pyx_path}: shape {pyx.shape} does not pair with {labels.shape} labels")
    return PaperRelease([f"{prefix}/{split}/{i}" for i in range(len(labels))], labels, pyx)


def paper_candidates(labels: np.ndarray, pred_probs: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the paper's review candidates: the K lowest normalized margins.

    Args:
        labels: int (N,) given labels.
        pred_probs: (N, C) predicted probabilities (float64 as published, or float32).
        k: Number of candidates (>= 1).

    Returns:
        int64 (k,) indices, lowest margin first (stable order for ties).

    """
    from cleanlab.rank import get_normalized_margin_for_each_label

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    margin = get_normalized_margin_for_each_label(np.asarray(labels), np.asarray(pred_probs))
    return np.argsort(margin, kind="stable")[:k].astype(np.int64)


def mturk_records(folder: str | Path, dataset: str, *, prefix: str,
                  split: str = "test") -> list[dict[str, Any]]:
    """Read the Mechanical Turk results of ``<dataset>_mturk.json``, keyed by sample_id.

    Returns:
        One dict per reviewed candidate: ``sample_id``, ``index``, ``given_label``,
        ``guessed_label``, ``votes`` ({given, guessed, neither[, both]}) and
        ``validated_error`` (fewer than 3 of 5 votes for the given label).

    Raises:
        SourceError: Missing file or a record without ``id``/``mturk``.

    """
    path = Path(folder) / f"{dataset}_mturk.json"
    if not path.is_file():
        raise SourceError(f"{path}: not found (the paper released MTurk files per dataset)")
    out = []
    for i, rec in enumerate(json.loads(path.read_text())):
        if "id" not in rec or "mturk" not in rec:
            raise SourceError(f"{path}: record {i} lacks 'id' or 'mturk'")
        votes = {k: int(v) for k, v in rec["mturk"].items()}
        given, guessed = int(rec["given_original_label"]), int(rec["our_guessed_label"])
        # Where the guess equals the given label the file counts each such answer under
        # both "given" and "guessed" (e.g. 4 + 4 + 1 neither = 5 workers): count it once.
        workers = sum(v for k, v in votes.items() if not (k == "guessed" and guessed == given))
        out.append({
            "sample_id": f"{prefix}/{split}/{int(rec['id'])}",
            "index": int(rec["id"]),
            "given_label": given,
            "guessed_label": guessed,
            "votes": votes,
            "validated_error": is_validated_error(votes.get("given", 0), workers),
        })
    return out


def export_pred_probs(release: PaperRelease, path: str | Path) -> Path:
    """Write a release's probabilities as an audit ``file``-route input (``.npz``, float32).

    Rows are renormalised to sum to 1 in float64 before the cast (the published
    rows sum to 1 within 2e-6).
    """
    p = release.pred_probs / release.pred_probs.sum(axis=1, keepdims=True)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, sample_id=np.asarray(release.sample_ids), pred_probs=p.astype(np.float32))
    return out
