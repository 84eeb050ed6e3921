"""The ``audit`` stage: score every label of a clean config and flag likely errors.

Reads a clean config folder (``benchsmith pull`` output), obtains out-of-sample
predicted probabilities (:mod:`pipeline.audit.probs`), finds label issues,
near-duplicates and outliers (:mod:`pipeline.audit.issues`) and writes:

* ``<out>/<config>/``: shards ``{split}-00000-of-00001.parquet`` keyed by
  ``sample_id`` (given and suggested label, float32 quality score and
  probabilities, rank, issue flags) and ``manifest.json`` (``kind: audit``);
* ``<out>/metrics.json`` (for ``dvc metrics show``) and ``<out>/report.html``
  (the reviewers' evidence), paths overridable.

Rows are processed in ``sample_id`` order, so results do not depend on shard
layout, worker count or scheduler.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pipeline.audit.cnn import CNN_DEFAULTS
from pipeline.audit.config import AuditSpec, check_featurizer_params
from pipeline.audit.data import load_clean
from pipeline.errors import ManifestError, SourceError

__all__ = [
    "AUDIT_COLUMNS", "audit_features", "load_clean", "model_adequacy", "run_audit", "main",
]

AUDIT_COLUMNS = (
    "sample_id", "split", "label", "suggested_label", "quality", "rank", "label_issue",
    "review_candidate", "exact_duplicate", "near_duplicate", "duplicate_of", "outlier",
    "outlier_score", "pred_probs",
)


def audit_features(class_names: list[str]) -> datasets.Features:
    """Features of the audit table."""
    return datasets.Features({
        "sample_id": datasets.Value("string"),
        "split": datasets.Value("string"),
        "label": datasets.ClassLabel(names=class_names),
        "suggested_label": datasets.ClassLabel(names=class_names),
        "quality": datasets.Value("float32"),
        "rank": datasets.Value("int32"),
        "label_issue": datasets.Value("bool"),
        "review_candidate": datasets.Value("bool"),
        "exact_duplicate": datasets.Value("bool"),
        "near_duplicate": datasets.Value("bool"),
        "duplicate_of": datasets.Value("string"),
        "outlier": datasets.Value("bool"),
        "outlier_score": datasets.Value("float32"),
        "pred_probs": datasets.List(datasets.Value("float32")),
    })


#: The audit's counts are headlined only when the probabilities come from a model at least
#: this accurate on held-out rows and this well calibrated (15-bin ECE of the top label).
MIN_ACCURACY = 0.90
MAX_ECE = 0.05


def model_adequacy(probs: np.ndarray, labels: np.ndarray, *, n_bins: int = 15) -> dict[str, Any]:
    """Held-out accuracy, calibration and whether the issue counts can be trusted.

    Confident learning counts a label as wrong where the model is confidently sure of
    another class; with a weak model its errors dominate the count, and an under- or
    over-confident one shifts the per-class thresholds. The rule: counts are meaningful
    when held-out accuracy >= :data:`MIN_ACCURACY` and the expected calibration error
    (top-label confidence, ``n_bins`` equal-width bins, Guo et al. 2017) <= :data:`MAX_ECE`;
    otherwise only the ranking (the review queue) is to be used.

    Args:
        probs: (N, C) out-of-sample probabilities.
        labels: (N,) given labels.
        n_bins: ECE bins.

    Returns:
        ``heldout_accuracy``, ``mean_confidence``, ``ece``, ``model_adequate`` and
        ``adequacy_note`` (why not, or the rule that was met).

    Example:
        >>> p = np.array([[0.99, 0.01], [0.02, 0.98]])
        >>> model_adequacy(p, np.array([0, 1]))["model_adequate"]
        True
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    conf = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    gap = np.abs(np.bincount(bins, weights=correct, minlength=n_bins)
                 - np.bincount(bins, weights=conf, minlength=n_bins))
    ece = float(gap.sum() / max(1, len(y)))
    acc = float(correct.mean()) if len(y) else 0.0
    reasons = []
    if acc < MIN_ACCURACY:
        reasons.append(f"held-out accuracy {acc:.1%} < {MIN_ACCURACY:.0%}")
    if ece > MAX_ECE:
        reasons.append(f"ECE {ece:.3f} > {MAX_ECE}"
                       + (" (underconfident)" if conf.mean() < acc else " (overconfident)"))
    return {
        "heldout_accuracy": acc,
        "mean_confidence": float(conf.mean()) if len(y) else 0.0,
        "ece": ece,
        "model_adequate": not reasons,
        "adequacy_note": "; ".join(reasons) or (
            f"accuracy >= {MIN_ACCURACY:.0%} and ECE <= {MAX_ECE}"),
    }


def _stack(images: list[np.ndarray], where: str) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise SourceError(
            f"{where}: the built-in featurizers need images of one size, found "
            f"{sorted(shapes)[:4]}; "
            "use audit.probs.route: embeddings (or file) for mixed sizes"
        )
    return np.stack(images)


def run_audit(
    clean_dir: Path,
    out_dir: Path,
    spec: AuditSpec,
    *,
    seed: int,
    config_name: str = "audit",
    probs_path: str | None = None,
    metrics_path: Path | None = None,
    report_path: Path | None = None,
    scheduler: str = "threads",
    workers: int = 2,
    progress: bool = False,
) -> dict[str, Any]:
    """Audit one clean config; return the metrics written to ``metrics.json``.

    Args:
        clean_dir: The clean config folder (shards + manifest.json).
        out_dir: Stage output folder; the config goes to ``out_dir / config_name``.
        spec: The manifest's ``audit`` section.
        seed: Manifest seed (featurizer draws, fold assignment).
        config_name: Output config name.
        probs_path: Overrides ``spec.probs.path``.
        metrics_path: Defaults to ``out_dir / "metrics.json"``.
        report_path: Defaults to ``out_dir / "report.html"``.
        scheduler: dask scheduler for the folds.
        workers: Parallel folds.
        progress: Show progress bars.

    """
    from pipeline.audit.features import featurize
    from pipeline.audit.issues import (
        label_issues,
        nearest_per_class,
        neighbour_issues,
    )
    from pipeline.audit.probs import (
        check_pred_probs,
        cross_val_pred_probs,
        load_keyed_array,
        whiten,
    )
    from pipeline.audit.report import ReportRow, write_report
    from pipeline.shards import (
        atomic_write_json,
        read_config_manifest,
        shard_name,
        write_config_manifest,
        write_shard,
    )
    from pipeline.stage import contained, prepare_output, refuse_overlap
    from pipeline.version import code_version

    t0 = time.perf_counter()
    clean_dir, out_dir = Path(clean_dir), Path(out_dir)
    refuse_overlap(out_dir, [clean_dir], inputs_flag="--clean")
    check_featurizer_params(spec.probs)  # before the pixels are loaded
    clean_manifest = read_config_manifest(clean_dir)
    # Pixels only for the routes that learn from them, downsampled to bound memory.
    data = load_clean(clean_dir, max_side=spec.probs.max_side
                      if spec.probs.route in ("builtin", "cnn") else 0)
    ids, labels, names = data["sample_ids"], data["labels"], data["class_names"]
    n_classes = len(names)
    ps = spec.probs
    path = probs_path or ps.path
    timings: dict[str, float] = {"load_s": time.perf_counter() - t0}

    if ps.route in ("builtin", "cnn", "embeddings"):
        counts = np.bincount(labels, minlength=n_classes)
        present = counts[counts > 0]
        if len(present) < 2 or present.min() < ps.folds:
            raise ManifestError(
                f"{clean_dir}: the {ps.route} route's {ps.folds}-fold cross-validation needs at "
                f"least 2 classes with {ps.folds} rows each; this config has class counts "
                f"{counts.tolist()}: audit more rows (a larger `limit`), lower audit.probs.folds, "
                "give probabilities with route file, or drop the section (--set audit=null)")
    t = time.perf_counter()
    # The neighbour evidence uses the features that made the probabilities: the user's
    # embeddings, the built-in features, or (file route) the embeddings given beside the
    # probabilities; the file route never computes built-in features it does not need.
    raw: np.ndarray | None
    if ps.route == "embeddings":
        if path is None:
            raise ManifestError("audit.probs.route embeddings needs audit.probs.path or --probs")
        raw = load_keyed_array(path, ids, "embedding").astype(np.float32)
        feature_source = f"embeddings:{path}"
    elif ps.route == "cnn":
        raw = None  # the networks' own pooled features arrive with the probabilities
        feature_source = "cnn:pooled"
    elif ps.route == "file":
        raw = (load_keyed_array(ps.embeddings, ids, "embedding").astype(np.float32)
               if ps.embeddings else None)
        feature_source = f"embeddings:{ps.embeddings}" if ps.embeddings else "none"
    else:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA0D17, len(ps.featurizer)]))
        stacked = _stack(data.pop("images"), str(clean_dir))  # one copy of the pixels
        try:
            raw = featurize(ps.featurizer, stacked, rng=rng, **ps.featurizer_params)
        except ValueError as exc:  # a parameter out of range for these images (patch >= side)
            raise ManifestError(f"audit.probs.featurizer_params {ps.featurizer_params} for "
                                f"{ps.featurizer} on {clean_dir}: {exc}") from exc
        del stacked
        if ps.featurizer == "random_conv":
            np.sqrt(raw, out=raw)  # variance-stabilise the pooled activations (in place)
        feature_source = f"builtin:{ps.featurizer}"
    x = whiten(raw, ps.pca_dims) if raw is not None else None
    del raw  # (N, D) float32: 4 GB at 1M rows of random-conv features
    timings["features_s"] = time.perf_counter() - t

    t = time.perf_counter()
    if ps.route == "file":
        if path is None:
            raise ManifestError("audit.probs.route file needs audit.probs.path or --probs")
        probs = check_pred_probs(load_keyed_array(path, ids, "pred_probs"), n_classes,
                                 where=str(path))
    elif ps.route == "cnn":
        from pipeline.audit.cnn import cnn_pred_probs
        from pipeline.audit.probs import fold_ids

        fid = fold_ids(ids, labels, folds=ps.folds, seed=seed)
        probs, emb = cnn_pred_probs(_stack(data.pop("images"), str(clean_dir)), labels, fid,
                                    n_classes=n_classes, seed=seed, params=ps.cnn,
                                    scheduler=scheduler, workers=workers, progress=progress)
        x = whiten(emb, ps.pca_dims)
    else:
        assert x is not None  # the builtin and embeddings routes always have features
        probs = cross_val_pred_probs(x, labels, ids, n_classes=n_classes, folds=ps.folds, C=ps.C,
                                     seed=seed, scheduler=scheduler, workers=workers,
                                     progress=progress)
    timings["probs_s"] = time.perf_counter() - t

    t = time.perf_counter()
    li = label_issues(labels, probs, ids, filter_by=spec.filter_by, rank_by=spec.rank_by,
                      candidates=spec.candidates)
    nb = neighbour_issues(x, ids, data["hashes"], k=spec.outlier_k,
                          duplicate_threshold=spec.duplicate_threshold,
                          outlier_threshold=spec.outlier_threshold)
    timings["issues_s"] = time.perf_counter() - t

    # The audit table, one shard per split.
    t = time.perf_counter()
    features = audit_features(names)
    cfg_dir = contained(out_dir, config_name, key="audit config name")
    planned = [cfg_dir / "manifest.json"]  # ownership and stale removal: pipeline/stage.py
    planned += [cfg_dir / shard_name(s, 0, 1) for s in sorted(set(data["splits"]))]
    planned += [out_dir / n for n, given in (("report.html", report_path),
                                             ("metrics.json", metrics_path)) if not given]
    prepare_output(out_dir, planned, what="audit output folder")
    splits = np.asarray(data["splits"], dtype=object)
    records = []
    for split in sorted(set(data["splits"])):
        rows = np.flatnonzero(splits == split)
        cols = {
            "sample_id": [ids[i] for i in rows],
            "split": [split] * len(rows),
            "label": labels[rows].tolist(),
            "suggested_label": li["suggested_label"][rows].tolist(),
            "quality": li["quality"][rows],
            "rank": li["rank"][rows],
            "label_issue": li["label_issue"][rows],
            "review_candidate": li["review_candidate"][rows],
            "exact_duplicate": nb["exact_duplicate"][rows],
            "near_duplicate": nb["near_duplicate"][rows],
            "duplicate_of": [nb["duplicate_of"][i] for i in rows],
            "outlier": nb["outlier"][rows],
            "outlier_score": nb["outlier_score"][rows],
            "pred_probs": list(probs[rows]),
        }
        name = shard_name(split, 0, 1)
        sha = write_shard(cfg_dir / name, cols, features)
        records.append({"split": split, "file": name, "num_rows": len(rows), "sha256": sha,
                        "rejects": []})

    flagged = li["review_candidate"] | li["label_issue"]
    trust = model_adequacy(probs, labels)
    metrics = {
        "num_rows": len(ids),
        "num_classes": n_classes,
        "route": ps.route,
        **trust,
        "num_label_issues": int(li["label_issue"].sum()),
        "num_issues_estimated": li["num_issues_estimated"],
        # A weak model's issue rate is mostly its own error rate: not headlined (null).
        "issue_rate": float(li["label_issue"].mean()) if trust["model_adequate"] else None,
        "num_review_candidates": int(li["review_candidate"].sum()),
        "review_queue_k_method": li["k_method"],
        "num_exact_duplicates": int(nb["exact_duplicate"].sum()),
        "num_near_duplicates": int(nb["near_duplicate"].sum()),
        "num_outliers": int(nb["outlier"].sum()),
        "neighbour_features": feature_source,
    }
    method = spec.to_dict()
    if probs_path:
        method["probs"]["path"] = probs_path
    description = (
        f"Label audit of {clean_manifest.get('config', clean_dir.name)} "
        f"({len(ids)} rows): out-of-sample predicted probabilities ({ps.route} route"
        + (f", {ps.featurizer} features + {ps.folds}-fold logistic regression"
           if ps.route in ("builtin", "embeddings") else
           f", a small {ps.cnn.get('arch', CNN_DEFAULTS['arch'])}-style CNN, {ps.folds}-fold, "
           "temperature-scaled"
           if ps.route == "cnn" else "")
        + f"; held-out accuracy {trust['heldout_accuracy']:.1%}, ECE {trust['ece']:.3f}), "
        f"cleanlab find_label_issues(filter_by={spec.filter_by}) flags "
        f"{metrics['num_label_issues']} rows (cleanlab estimates {li['num_issues_estimated']}); "
        f"rows ranked by {spec.rank_by} (rank 1 = review first); the top {li['k']} "
        f"({li['k_method']}) are review candidates. Flags are machine suggestions, not verified "
        "errors."
        + ("" if trust["model_adequate"] else
           f" The model is too weak for the issue counts to mean much ({trust['adequacy_note']}): "
           "use the ranked review queue, not the issue rate.")
    )

    # Evidence report.
    shown = [int(i) for i in np.argsort(li["rank"]) if flagged[i] or nb["near_duplicate"][i]
             or nb["outlier"][i]][: spec.report_max_rows]
    near = (nearest_per_class(x, labels, shown, n_classes) if x is not None
            else np.full((len(shown), n_classes), -1, np.int64))
    data["pngs"].prefetch(shown + [int(j) for j in near.ravel() if j >= 0])
    report_rows = []
    for j, i in enumerate(shown):
        top = np.argsort(-probs[i], kind="stable")[:3]
        # Neighbours of the classes a reviewer weighs: given, suggested and the top 3.
        cls = sorted({int(labels[i]), int(li["suggested_label"][i]), *map(int, top)})
        flags = tuple(f for f, on in (
            ("label_issue", li["label_issue"][i]), ("review_candidate", li["review_candidate"][i]),
            ("exact_duplicate", nb["exact_duplicate"][i]),
            ("near_duplicate", nb["near_duplicate"][i]), ("outlier", nb["outlier"][i]),
        ) if on)
        if nb["duplicate_of"][i]:
            flags += (f"duplicate_of={nb['duplicate_of'][i]}",)
        report_rows.append(ReportRow(
            sample_id=ids[i], png=data["pngs"][i], given=names[labels[i]],
            suggested=names[li["suggested_label"][i]], quality=float(li["quality"][i]),
            rank=int(li["rank"][i]), flags=flags,
            top=tuple((names[int(c)], float(probs[i, c])) for c in top),
            neighbours=tuple((names[c], ids[near[j, c]], data["pngs"][near[j, c]])
                             for c in cls if near[j, c] >= 0),
        ))
    report_path = Path(report_path) if report_path else out_dir / "report.html"
    title = f"Label audit of {clean_manifest.get('config', clean_dir.name)}"
    if clean_manifest.get("benchmark"):
        title += f" ({clean_manifest['benchmark']})"
    write_report(report_path, report_rows, title=title,
                 summary={**metrics, "method": method, "rows shown": len(report_rows)})
    timings["write_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    metrics["seconds"] = {k: round(v, 3) for k, v in timings.items()}

    write_config_manifest(
        cfg_dir, config=config_name, features=features, shards=records,
        extra={
            "kind": "audit",
            "description": description,
            "input": {"config": clean_manifest.get("config", clean_dir.name),
                      "splits": clean_manifest.get("splits", {})},
            "method": method,
            "metrics": {k: v for k, v in metrics.items() if k != "seconds"},
            "duplicates": {"median_nn_distance": nb["median_nn_distance"], "metric": "cosine",
                           "features": feature_source},
            "outliers": {"cutoff": nb["outlier_cutoff"], "score": "mean cosine distance to k-NN"},
            "seed": seed,
            "code_version": code_version(),
        },
    )
    atomic_write_json(Path(metrics_path) if metrics_path else out_dir / "metrics.json", metrics)
    return metrics


def main(argv: list[str] | None = None) -> int:
    """``benchsmith audit``: find likely label errors, duplicates and outliers in a clean config."""
    from pipeline.manifest import load_manifest
    from pipeline.shards import atomic_write_bytes, atomic_write_json
    from pipeline.stage import add_common_args, skip_stage

    parser = argparse.ArgumentParser(prog="benchsmith audit", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--clean", required=True,
                        help="clean config folder, e.g. data/pulled/clean")
    parser.add_argument("--out", required=True, help="output folder, e.g. data/audit")
    parser.add_argument("--config-name", default="audit", help="output config name")
    parser.add_argument("--probs", default=None, help="predicted probabilities / embeddings file "
                        "(overrides audit.probs.path)")
    parser.add_argument("--metrics", default=None, help="metrics JSON (default <out>/metrics.json)")
    parser.add_argument("--report", default=None, help="HTML report (default <out>/report.html)")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    spec = manifest.sections.get("audit")
    out = Path(args.out)
    metrics_path = Path(args.metrics) if args.metrics else out / "metrics.json"
    report_path = Path(args.report) if args.report else out / "report.html"
    if spec is None and args.optional:
        # DVC needs every declared output: leave an empty metrics file and report as well.
        rc = skip_stage(out, "audit", manifest.path, also=[metrics_path, report_path])
        atomic_write_json(metrics_path, {"skipped": True})
        atomic_write_bytes(report_path, b"<!doctype html><title>audit skipped</title>"
                           b"<p>The manifest has no audit section.</p>\n")
        return rc
    if spec is None:
        raise ManifestError(
            f"{args.manifest}: no `audit:` section; add one (see pipeline.audit.config)"
        )
    metrics = run_audit(
        Path(args.clean), out, spec, seed=manifest.seed, config_name=args.config_name,
        probs_path=args.probs, metrics_path=metrics_path, report_path=report_path,
        scheduler=args.scheduler, workers=args.workers, progress=not args.no_progress,
    )
    atomic_write_json(out / "stage.json", {"stage": "audit", "configs": [args.config_name]})
    print(
        f"audited {metrics['num_rows']} rows: {metrics['num_label_issues']} label issues "
        f"(estimated {metrics['num_issues_estimated']}), {metrics['num_review_candidates']} review "
        f"candidates, {metrics['num_near_duplicates']} near-duplicates, {metrics['num_outliers']} "
        f"outliers; held-out accuracy {metrics['heldout_accuracy']:.4f}, ECE {metrics['ece']:.3f} "
        f"in {metrics['seconds']['total_s']:.1f} s"
    )
    if not metrics["model_adequate"]:
        print(f"audit: the model is too weak for the issue counts to mean much "
              f"({metrics['adequacy_note']}); review the ranked queue instead")
    return 0
