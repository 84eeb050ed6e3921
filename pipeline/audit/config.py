"""The manifest's ``audit`` section: how predicted probabilities are obtained and issues found.

Example::

    audit:
      probs:
        route: builtin              # builtin | file | embeddings
        featurizer: random_conv     # random_conv | hog | pca_pixels (builtin route)
        featurizer_params: {filters: 128, patch: 5}
        pca_dims: 256               # PCA-whitened dims fed to the classifier
        folds: 5                    # K of the K-fold cross-validation
        C: 0.01                     # inverse L2 strength of the logistic regression
      filter_by: prune_by_noise_rate  # cleanlab.filter.find_label_issues method
      rank_by: normalized_margin      # label-quality score that orders the review queue
      candidates: 100                 # top-K rows sent to review; null = cleanlab's estimate;
                                      # paper = K of the label-errors release (see issues.py)
      duplicates: {threshold: 0.13}   # near duplicate: NN distance < threshold x median NN distance
      outliers: {k: 10, threshold: 0.37037}
      report: {max_rows: 300}

``route: file`` reads ``path`` (``.npz`` with ``sample_id`` + ``pred_probs``, or
Parquet with ``sample_id`` + ``pred_probs`` list column); ``route: embeddings``
reads ``path`` (``.npz`` with ``sample_id`` + ``embeddings``, or Parquet with
``sample_id`` + ``embedding``) and cross-validates the classifier on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ManifestError
from pipeline.manifest import check_keys

__all__ = ["AuditSpec", "ProbsSpec", "check_featurizer_params", "parse_section", "FILTER_BY",
           "RANK_BY", "ROUTES"]

ROUTES = ("builtin", "cnn", "file", "embeddings")
FILTER_BY = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
RANK_BY = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
#: featurizer -> parameter -> (integer?, lowest value); the first one or two are required
#: (see pipeline/audit/features.py for what each means).
FEATURIZER_PARAMS: dict[str, dict[str, tuple[bool, float]]] = {
    "random_conv": {"filters": (True, 1), "patch": (True, 1), "alpha": (False, 0.0),
                    "sample_patches": (True, 1), "kmeans_iters": (True, 1)},
    "hog": {"cell": (True, 2), "orientations": (True, 1)},
    "pca_pixels": {"components": (True, 1)},
}
FEATURIZER_REQUIRED = {"random_conv": ("filters", "patch"), "hog": ("cell",),
                       "pca_pixels": ("components",)}

AUDIT_KEYS = {
    "probs": "where predicted probabilities come from (route, path, featurizer, folds, ...)",
    "filter_by": f"cleanlab find_label_issues method: {', '.join(FILTER_BY)}",
    "rank_by": f"label quality score: {', '.join(RANK_BY)}",
    "candidates": "review queue size K: an int >= 1, null for cleanlab's estimated issue count, "
    "or paper for the label-errors release's rule (off-diagonal share of cleanlab 1.0's "
    "uncalibrated confident joint)",
    "duplicates": "{threshold}: near duplicate when NN distance < threshold x median NN distance",
    "outliers": "{k, threshold}: outlier when mean k-NN distance > Q3 + (1/threshold - 1) IQR",
    "report": "{max_rows}: rows shown in report.html",
}
PROBS_KEYS = {
    "route": f"one of {', '.join(ROUTES)}",
    "path": "npz/Parquet keyed by sample_id (file/embeddings routes; or `audit --probs`)",
    "embeddings": "file route only: npz/Parquet of embeddings keyed by sample_id for the "
    "near-duplicate/outlier/neighbour evidence (without it only exact duplicates are found)",
    "featurizer": f"builtin featurizer: {', '.join(FEATURIZER_PARAMS)}",
    "featurizer_params": "mapping of featurizer parameters",
    "pca_dims": "PCA-whitened dimensions fed to the classifier (int >= 1)",
    "folds": "K of K-fold cross-validation (int >= 2)",
    "C": "inverse L2 regularisation of the logistic regression (> 0)",
    "max_side": "builtin/cnn routes: images are area-downsampled to at most this many pixels "
    "a side before features are computed (int >= 8, default 64; bounds memory on large images)",
    "cnn": "cnn route: overrides of pipeline.audit.cnn.CNN_DEFAULTS (arch: airbench or lenet, "
    "epochs, width, batch_size, lr, weight_decay, label_smoothing, flip, pad, tta)",
}


@dataclass(frozen=True)
class ProbsSpec:
    """How out-of-sample predicted probabilities are obtained."""

    route: str
    path: str | None = None
    embeddings: str | None = None
    featurizer: str = "random_conv"
    featurizer_params: dict[str, Any] = field(default_factory=dict)
    pca_dims: int = 256
    folds: int = 5
    C: float = 0.01
    cnn: dict[str, Any] = field(default_factory=dict)
    max_side: int = 64


@dataclass(frozen=True)
class AuditSpec:
    """The validated ``audit`` section."""

    probs: ProbsSpec
    filter_by: str = "prune_by_noise_rate"
    rank_by: str = "normalized_margin"
    candidates: int | str | None = None
    duplicate_threshold: float = 0.13
    outlier_k: int = 10
    outlier_threshold: float = 0.37037
    report_max_rows: int = 300

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (recorded in the audit manifest)."""
        return {
            "probs": dict(vars(self.probs)),
            "filter_by": self.filter_by,
            "rank_by": self.rank_by,
            "candidates": self.candidates,
            "duplicates": {"threshold": self.duplicate_threshold},
            "outliers": {"k": self.outlier_k, "threshold": self.outlier_threshold},
            "report": {"max_rows": self.report_max_rows},
        }


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ManifestError(f"{where}: {value!r} is not one of {list(choices)}")
    return value


def _num(value: Any, where: str, *, integer: bool, low: float, high: float | None = None) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value < low or (high is not None and value > high):
        kind = "an integer" if integer else "a number"
        rng = f">= {low}" if high is None else f"in {low}..{high}"
        raise ManifestError(f"{where}: expected {kind} {rng}, got {value!r}")
    return value


def _parse_probs(data: Any, where: str) -> ProbsSpec:
    d = check_keys(data, where, PROBS_KEYS, {"route"})
    route = _choice(d["route"], f"{where}.route", ROUTES)
    path = d.get("path")
    if path is not None and not isinstance(path, str):
        raise ManifestError(f"{where}.path: expected a string, got {path!r}")
    embeddings = d.get("embeddings")
    if embeddings is not None and (not isinstance(embeddings, str) or route != "file"):
        raise ManifestError(f"{where}.embeddings: a path string, with route file only "
                            f"(got {embeddings!r} with route {route})")
    featurizer = _choice(d.get("featurizer", "random_conv"), f"{where}.featurizer",
                         tuple(FEATURIZER_PARAMS))
    fparams = d.get("featurizer_params") or {}
    if not isinstance(fparams, dict):
        raise ManifestError(f"{where}.featurizer_params: expected a mapping")
    unknown = sorted(set(fparams) - set(FEATURIZER_PARAMS[featurizer]))
    if unknown:
        raise ManifestError(
            f"{where}.featurizer_params: unknown key(s) {unknown} for {featurizer!r}; "
            f"allowed: {sorted(FEATURIZER_PARAMS[featurizer])}"
        )
    for k, (integer, low) in FEATURIZER_PARAMS[featurizer].items():  # else a TypeError or
        if k in fparams:  # ValueError traceback in the featurizer (or -1 used silently)
            _num(fparams[k], f"{where}.featurizer_params.{k}", integer=integer, low=low)
    return ProbsSpec(
        route=route,
        path=path,
        embeddings=embeddings,
        featurizer=featurizer,
        featurizer_params=dict(fparams),
        pca_dims=_num(d.get("pca_dims", 256), f"{where}.pca_dims", integer=True, low=1),
        folds=_num(d.get("folds", 5), f"{where}.folds", integer=True, low=2),
        C=float(_num(d.get("C", 0.01), f"{where}.C", integer=False, low=1e-12)),
        cnn=_parse_cnn(d.get("cnn"), f"{where}.cnn", route),
        max_side=_num(d.get("max_side", 64), f"{where}.max_side", integer=True, low=8),
    )


def check_featurizer_params(probs: ProbsSpec, where: str = "audit.probs") -> None:
    """Refuse a builtin route whose featurizer lacks a required parameter.

    Checked by the audit stage, not the parser: other stages parse the whole manifest and
    need no featurizer.

    Raises:
        ManifestError: A required ``featurizer_params`` key is missing (names it).
    """
    missing = [k for k in FEATURIZER_REQUIRED[probs.featurizer] if k not in
               probs.featurizer_params]
    if probs.route == "builtin" and missing:
        raise ManifestError(
            f"{where}.featurizer_params: featurizer {probs.featurizer!r} needs {missing}, e.g. "
            f"featurizer_params: {{{', '.join(f'{k}: ...' for k in missing)}}}")


def _parse_cnn(data: Any, where: str, route: str) -> dict[str, Any]:
    from pipeline.audit.cnn import ARCHS, CNN_DEFAULTS

    if data is None:
        return {}
    if route != "cnn":
        raise ManifestError(f"{where}: goes with route cnn only (route is {route})")
    d = check_keys(data, where, {k: f"default {v!r}" for k, v in CNN_DEFAULTS.items()})
    out: dict[str, Any] = {}
    for k, v in d.items():
        default = CNN_DEFAULTS[k]
        if k == "arch":
            if v not in ARCHS:
                raise ManifestError(f"{where}.arch: {v!r} is not one of {list(ARCHS)}")
            out[k] = v
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise ManifestError(f"{where}.{k}: expected true or false, got {v!r}")
            out[k] = v
        elif isinstance(default, int):
            out[k] = _num(v, f"{where}.{k}", integer=True, low=0 if k == "pad" else 1)
        else:
            out[k] = float(_num(v, f"{where}.{k}", integer=False, low=0.0,
                                high=1.0 if k == "label_smoothing" else None))
    return out


def parse_section(data: Any, where: str) -> AuditSpec:
    """Validate the ``audit`` section of a manifest.

    Args:
        data: The parsed YAML value of ``audit``.
        where: Key path for messages (``<file>: audit``).

    Returns:
        An :class:`AuditSpec`.

    Raises:
        ManifestError: Unknown key or bad value; the message names the key and the allowed values.

    Example:
        >>> parse_section({"probs": {"route": "builtin"}, "candidates": 100}, "m: audit").candidates
        100

    """
    d = check_keys(data, where, AUDIT_KEYS, {"probs"})
    candidates = d.get("candidates")
    if candidates is not None and candidates != "paper":
        if isinstance(candidates, str):
            raise ManifestError(
                f"{where}.candidates: {candidates!r} is not allowed; give an int >= 1, null "
                "(cleanlab's estimate) or paper (the label-errors release's rule)")
        candidates = _num(candidates, f"{where}.candidates", integer=True, low=1)
    dup = check_keys(d.get("duplicates") or {}, f"{where}.duplicates",
                     {"threshold": "fraction of the median NN distance (>= 0)"})
    out = check_keys(d.get("outliers") or {}, f"{where}.outliers",
                     {"k": "neighbours (int >= 1)", "threshold": "in 0..1 (cleanlab's rule)"})
    rep = check_keys(d.get("report") or {}, f"{where}.report",
                     {"max_rows": "rows shown in report.html (int >= 1)"})
    return AuditSpec(
        probs=_parse_probs(d["probs"], f"{where}.probs"),
        filter_by=_choice(d.get("filter_by", "prune_by_noise_rate"), f"{where}.filter_by",
                          FILTER_BY),
        rank_by=_choice(d.get("rank_by", "normalized_margin"), f"{where}.rank_by", RANK_BY),
        candidates=candidates,
        duplicate_threshold=float(_num(dup.get("threshold", 0.13), f"{where}.duplicates.threshold",
                                       integer=False, low=0.0)),
        outlier_k=_num(out.get("k", 10), f"{where}.outliers.k", integer=True, low=1),
        outlier_threshold=float(_num(out.get("threshold", 0.37037), f"{where}.outliers.threshold",
                                     integer=False, low=0.0, high=1.0)),
        report_max_rows=_num(rep.get("max_rows", 300), f"{where}.report.max_rows", integer=True,
                             low=1),
    )
