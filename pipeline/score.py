"""The ``score`` stage: score a model's predictions on a built benchmark.

``benchsmith score <build dir> --predictions preds.parquet [--baseline base.json|.parquet]``
reports, per model in the predictions file:

* ``top1``: accuracy against the given (original) labels of the clean config;
* ``real``: multi-label accuracy against the ``labels`` sets (ReaL protocol: a
  prediction is correct when it is in the set; rows with empty sets are excluded);
* ``slices``: top-1 and multi-label accuracy per ``slice`` config;
* ``corruption``: error per corruption and severity, corruption error CE, mCE and
  relative mCE normalised by a baseline model's errors (ImageNet-C);
* ``ece``: expected calibration error on the clean config when probabilities are given.

Prediction files are described in :mod:`pipeline.reannotate.tables`.

References:
    Beyer et al., "Are we done with ImageNet?", 2020 (ReaL accuracy).
    Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions
    and Perturbations", ICLR 2019, Sec. 4 (CE, mCE, relative mCE).
    Guo et al., "On Calibration of Modern Neural Networks", ICML 2017 (ECE).

"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import BenchsmithError
from pipeline.reannotate.tables import (
    class_names,
    find_configs,
    pick_config,
    read_config,
    read_predictions,
)
from pipeline.shards import atomic_write_json

__all__ = [
    "top1_accuracy",
    "multilabel_accuracy",
    "expected_calibration_error",
    "corruption_errors",
    "score",
    "main",
]


def top1_accuracy(pred: np.ndarray, label: np.ndarray) -> float:
    """Share of ``pred == label`` (nan when empty).

    Example:
        >>> top1_accuracy(np.array([1, 2, 3]), np.array([1, 2, 0]))
        0.6666666666666666

    """
    pred, label = np.asarray(pred), np.asarray(label)
    if pred.shape != label.shape:
        raise ValueError(f"pred {pred.shape} and label {label.shape} differ")
    return float(np.mean(pred == label)) if pred.size else float("nan")


def multilabel_accuracy(
    pred: Sequence[int], label_sets: Sequence[Sequence[int]]
) -> tuple[float, int]:
    """ReaL accuracy: a prediction is correct when it is in the row's set; empty sets are skipped.

    Returns:
        ``(accuracy, rows used)``.

    Example:
        >>> multilabel_accuracy([1, 2, 3], [[1, 5], [], [4]])
        (0.5, 2)

    """
    if len(pred) != len(label_sets):
        raise ValueError(f"{len(pred)} predictions for {len(label_sets)} label sets")
    hits = [int(p) in s for p, s in zip(pred, label_sets, strict=True) if len(s)]
    return (float(np.mean(hits)) if hits else float("nan")), len(hits)


def expected_calibration_error(probs: np.ndarray, label: np.ndarray, *, n_bins: int) -> float:
    """Compute the expected calibration error with ``n_bins`` equal-width confidence bins.

    ``ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)|`` over bins ``(k/n_bins, (k+1)/n_bins]``
    of the top-class confidence (Guo et al., 2017, Eq. 3).

    Args:
        probs: (n, classes) probabilities, float32.
        label: (n,) true labels.
        n_bins: Number of bins (>= 1; 15 in Guo et al.).

    Example:
        >>> p = np.array([[0.9, 0.1], [0.6, 0.4]], np.float32)
        >>> round(expected_calibration_error(p, np.array([0, 1]), n_bins=10), 4)
        0.35

    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    probs = np.asarray(probs, np.float64)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(label)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.sum() / len(conf) * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def corruption_errors(
    errors: Mapping[str, Mapping[int, float]],
    clean_error: float,
    baseline: Mapping[str, Mapping[int, float]],
    baseline_clean_error: float,
) -> dict[str, Any]:
    """ImageNet-C corruption error, mCE and relative mCE.

    ``CE_c = sum_s E_{s,c} / sum_s E^base_{s,c}`` and
    ``relCE_c = sum_s (E_{s,c} - E_clean) / sum_s (E^base_{s,c} - E^base_clean)``;
    mCE and relative mCE are their means over corruptions (Hendrycks & Dietterich, 2019,
    Sec. 4, with AlexNet as the baseline there). Values are fractions (1.0 = 100%).

    Args:
        errors: corruption -> severity -> top-1 error of the model, in [0, 1].
        clean_error: The model's clean top-1 error.
        baseline: The baseline's errors; must cover the same (corruption, severity) pairs.
        baseline_clean_error: The baseline's clean error.

    Raises:
        ValueError: The baseline lacks a (corruption, severity) the model has.

    Example:
        >>> r = corruption_errors({"fog": {1: 0.3, 2: 0.5}}, 0.2, {"fog": {1: 0.6, 2: 1.0}}, 0.4)
        >>> r["mCE"], r["relative_mCE"]
        (0.5, 0.5)

    """
    ce, rel = {}, {}
    for c, by_sev in sorted(errors.items()):
        base = baseline.get(c, {})
        missing = sorted(set(by_sev) - set(base))
        if missing:
            raise ValueError(f"baseline has no error for {c} at severities {missing}")
        sev = sorted(by_sev)
        ce[c] = sum(by_sev[s] for s in sev) / sum(base[s] for s in sev)
        denom = sum(base[s] - baseline_clean_error for s in sev)
        rel[c] = sum(by_sev[s] - clean_error for s in sev) / denom if denom else float("nan")
    return {
        "CE": ce,
        "relative_CE": rel,
        "mCE": float(np.mean(list(ce.values()))) if ce else float("nan"),
        "relative_mCE": float(np.mean(list(rel.values()))) if rel else float("nan"),
    }


def _nan_none(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_none(v) for v in obj]
    return obj


def _errors_by_corruption(
    preds: pa.Table, configs: dict[str, tuple[Path, dict[str, Any]]], given: Mapping[str, int]
) -> dict[str, dict[int, float]]:
    errs: dict[str, dict[int, float]] = {}
    cfg = preds["config"].to_pylist()
    sids = preds["sample_id"].to_pylist()
    pred = preds["prediction"].to_numpy()
    by_cfg: dict[str, list[int]] = {}
    for i, c in enumerate(cfg):
        if c is not None:
            by_cfg.setdefault(c, []).append(i)
    for c, idx in sorted(by_cfg.items()):
        if c not in configs:
            raise BenchsmithError(
                f"predictions name config {c!r}, not in the build: {sorted(configs)}")
        meta = configs[c][1]
        if meta.get("kind") != "corruption":
            continue
        missing = [sids[i] for i in idx if sids[i] not in given]
        if missing:
            raise BenchsmithError(
                f"config {c}: {len(missing)} predicted sample_ids not in the build")
        acc = top1_accuracy(pred[idx], np.array([given[sids[i]] for i in idx]))
        errs.setdefault(str(meta["corruption"]), {})[int(meta["severity"])] = 1.0 - acc
    return errs


def load_baseline(path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Load a baseline's errors for mCE.

    Args:
        path: JSON ``{"clean": e, "errors": {corruption: {severity: e}}}`` (errors in [0, 1]),
            or a predictions Parquet of the baseline model scored on the same build.
        **kwargs: :func:`score`'s keyword arguments (build roots, bins) for the Parquet case.

    Returns:
        ``{"clean_error": float, "errors": {corruption: {severity: float}}}``.

    """
    p = Path(path)
    if p.suffix == ".json":
        data = json.loads(p.read_text())
        if "clean" not in data or "errors" not in data:
            raise BenchsmithError(f"{p}: baseline JSON needs 'clean' and 'errors' keys")
        errs = {c: {int(s): float(e) for s, e in v.items()} for c, v in data["errors"].items()}
        return {"clean_error": float(data["clean"]), "errors": errs}
    res = score(predictions=p, **kwargs)
    if len(res["models"]) != 1:
        raise BenchsmithError(f"{p}: a baseline predictions file must hold one model")
    m = next(iter(res["models"].values()))
    return {"clean_error": 1.0 - m["top1"], "errors": m.get("corruption", {}).get("errors", {})}


def score(
    roots: Sequence[str | Path],
    *,
    predictions: str | Path,
    baseline: Mapping[str, Any] | None = None,
    n_bins: int,
    clean_config: str | None = None,
) -> dict[str, Any]:
    """Score every model in ``predictions`` on the build under ``roots``.

    Args:
        roots: Build folder(s) holding the configs.
        predictions: Predictions Parquet.
        baseline: ``{"clean_error", "errors"}`` of the mCE baseline (see :func:`load_baseline`).
        n_bins: ECE bins.
        clean_config: Name of the clean config when the build has several.

    Returns:
        ``{"models": {model: metrics}}``.

    """
    configs = find_configs(roots)
    cname, cdir, cmeta = pick_config(configs, "clean", clean_config)
    clean = read_config(cdir, ["sample_id", "label"])
    given = dict(zip(clean["sample_id"].to_pylist(), clean["label"].to_pylist(), strict=True))
    names = class_names(cmeta)
    sets: dict[str, list[int]] = {}
    label_cfgs = [n for n, (_, m) in configs.items() if m.get("kind") == "labels"]
    if len(label_cfgs) > 1:
        raise BenchsmithError(f"several labels configs {label_cfgs}; keep one in the build")
    if label_cfgs:
        t = read_config(configs[label_cfgs[0]][0], ["sample_id", "labels"])
        sets = dict(zip(t["sample_id"].to_pylist(), t["labels"].to_pylist(), strict=True))
    slices = {n: set(read_config(d, ["sample_id"])["sample_id"].to_pylist())
              for n, (d, m) in sorted(configs.items()) if m.get("kind") == "slice"}
    preds = read_predictions(predictions, len(names))
    out: dict[str, Any] = {"clean_config": cname, "models": {}}
    for model in sorted(set(preds["model"].to_pylist())):
        mp = preds.filter(pc.equal(preds["model"], model))
        cfg = mp["config"].to_pylist()
        on_clean = np.array([c is None or c == cname for c in cfg])
        cp = mp.filter(pa.array(on_clean))
        sids = cp["sample_id"].to_pylist()
        unknown = [s for s in sids if s not in given]
        if unknown:
            raise BenchsmithError(f"model {model}: {len(unknown)} sample_ids not in {cname}, "
                                  f"e.g. {unknown[0]!r}")
        pred = cp["prediction"].to_numpy()
        lab = np.array([given[s] for s in sids], np.int64)
        res: dict[str, Any] = {"rows": len(sids), "coverage": len(set(sids)) / max(1, len(given)),
                               "top1": top1_accuracy(pred, lab)}
        if sets:
            have = [i for i, s in enumerate(sids) if s in sets]
            acc, used = multilabel_accuracy([pred[i] for i in have], [sets[sids[i]] for i in have])
            res["real"] = acc
            res["real_rows"] = used
        sl = {}
        for n, members in slices.items():
            idx = [i for i, s in enumerate(sids) if s in members]
            entry: dict[str, Any] = {"rows": len(idx), "top1": top1_accuracy(pred[idx], lab[idx])}
            if sets:
                acc, used = multilabel_accuracy([pred[i] for i in idx if sids[i] in sets],
                                                [sets[sids[i]] for i in idx if sids[i] in sets])
                entry.update(real=acc, real_rows=used)
            sl[n] = entry
        if sl:
            res["slices"] = sl
        if cp["probs"].null_count == 0 and len(sids):
            probs = np.asarray(cp["probs"].to_pylist(), np.float32)
            res["ece"] = expected_calibration_error(probs, lab, n_bins=n_bins)
            res["ece_bins"] = n_bins
        errs = _errors_by_corruption(mp, configs, given)
        if errs:
            corr: dict[str, Any] = {"errors": errs}
            if baseline is not None:
                corr.update(corruption_errors(errs, 1.0 - res["top1"], baseline["errors"],
                                              baseline["clean_error"]))
            res["corruption"] = corr
        out["models"][model] = res
    return out


def main(argv: list[str] | None = None) -> int:
    """``benchsmith score``: top-1, ReaL, per-slice accuracy, mCE and ECE of predictions."""
    parser = argparse.ArgumentParser(prog="benchsmith score", description=main.__doc__)
    parser.add_argument("build", nargs="+", type=Path, help="build folder(s) holding the configs")
    parser.add_argument("--predictions", required=True, type=Path, help="predictions Parquet")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="mCE baseline: errors JSON or predictions Parquet (e.g. AlexNet)")
    parser.add_argument("--clean-config", default=None, help="clean config name if several")
    parser.add_argument("--ece-bins", type=int, default=15, help="ECE bins (Guo et al.: 15)")
    parser.add_argument("--out", type=Path, default=None, help="write the metrics JSON here")
    args = parser.parse_args(argv)
    kw = {"roots": args.build, "n_bins": args.ece_bins, "clean_config": args.clean_config}
    base = load_baseline(args.baseline, **kw) if args.baseline else None
    res = _nan_none(score(predictions=args.predictions, baseline=base, **kw))
    if args.out:
        atomic_write_json(args.out, res)
    print(json.dumps(res, indent=2, sort_keys=True))
    return 0
