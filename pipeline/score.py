"""The ``score`` stage: score a model's predictions on a built benchmark.

``benchsmith score <build dir> --predictions preds.parquet [--baseline base.json|.parquet]``
prints the metrics JSON on stdout (also written to ``--out``) and a summary table on stderr,
per model in the file:

* ``top1`` / ``clean_error``: accuracy against the given (original) labels of the clean config;
* ``real``: ReaL accuracy (a prediction is correct when it is in the image's ReaL set; empty
  sets are skipped), computed **only** from the ReaL sets themselves: the raw votes of the
  ``real`` importer inside a labels config, never from sets that other sources (e.g. the
  mistake files) were aggregated into; ``real_labels`` names the config and file used;
* ``labels``: per labels config, multi-label accuracy against its aggregated sets, with the
  importers that made them (so a merged config is never reported as ReaL);
* ``slices``: top-1 and ReaL accuracy per ``slice`` config;
* ``corruption``: error per corruption and severity, then per group (the 15 benchmark
  corruptions, the 4 extras, any others): the unnormalised mean corruption error always, and
  CE / mCE / relative mCE against a baseline: built-in AlexNet errors for ImageNet-C builds
  (1000 classes, imagenet224), or ``--baseline`` (see :mod:`pipeline.corruption_error`);
* ``ece``: expected calibration error on the clean config when probabilities are given.

Prediction files are described in :mod:`pipeline.reannotate.tables` and the README.

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
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.corruption_error import ALEXNET, corruption_errors, grouped_errors
from pipeline.errors import BenchsmithError
from pipeline.reannotate.tables import (
    class_names,
    find_configs,
    pick_config,
    read_config,
    read_predictions,
)
from pipeline.shards import atomic_write_json

#: Config kinds whose rows are images a model can be scored on.
IMAGE_KINDS = ("clean", "corruption", "shift")

__all__ = [
    "top1_accuracy",
    "multilabel_accuracy",
    "expected_calibration_error",
    "corruption_errors",
    "load_baseline",
    "join_report",
    "summary_table",
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
        if meta.get("kind") not in IMAGE_KINDS:
            raise BenchsmithError(
                f"predictions name config {c!r}, a {meta.get('kind')} config without images; "
                f"predict on the image configs: "
                f"{sorted(n for n, (_, m) in configs.items() if m.get('kind') in IMAGE_KINDS)}")
        if meta.get("kind") != "corruption":
            continue
        missing = [sids[i] for i in idx if sids[i] not in given]
        if missing:
            raise BenchsmithError(
                f"config {c}: {len(missing)} predicted sample_ids not in the build")
        acc = top1_accuracy(pred[idx], np.array([given[sids[i]] for i in idx]))
        errs.setdefault(str(meta["corruption"]), {})[int(meta["severity"])] = 1.0 - acc
    return errs


def _error_rate(value: Any, where: str) -> float:
    """Return a baseline error as the JSON states it: a number in [0, 1] (1.0 = 100%)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise BenchsmithError(f"{where}: expected an error rate in [0, 1] (1.0 = 100%), got "
                              f"{value!r}")
    return float(value)


def load_baseline(path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Load a baseline's errors for CE.

    Args:
        path: JSON ``{"clean": e, "errors": {corruption: {severity: e}}}`` (errors in [0, 1],
            optional ``"name"``), or a predictions Parquet of the baseline model scored on the
            same build.
        **kwargs: :func:`score`'s keyword arguments (build roots, bins) for the Parquet case.

    Returns:
        ``{"name": str, "clean_error": float, "errors": {corruption: {severity: float}}}``.

    """
    p = Path(path)
    if p.suffix == ".json":
        if not p.is_file():
            raise BenchsmithError(f"baseline file {p} not found")
        try:
            data = json.loads(p.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BenchsmithError(f"{p}: baseline is not UTF-8 JSON ({exc})") from exc
        if not isinstance(data, dict) or "clean" not in data or "errors" not in data:
            raise BenchsmithError(f"{p}: baseline JSON needs 'clean' and 'errors' keys")
        try:
            errs = {c: {int(s): _error_rate(e, f"{p}: errors.{c}.{s}") for s, e in v.items()}
                    for c, v in data["errors"].items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise BenchsmithError(
                f"{p}: 'errors' must map corruption -> severity -> error") from exc
        return {"name": str(data.get("name", p.name)),
                "clean_error": _error_rate(data["clean"], f"{p}: clean"), "errors": errs}
    res = score(predictions=p, **kwargs)
    if len(res["models"]) != 1:
        raise BenchsmithError(f"{p}: a baseline predictions file must hold one model")
    model, m = next(iter(res["models"].items()))
    return {"name": f"{model} ({p.name})", "clean_error": 1.0 - m["top1"],
            "errors": m.get("corruption", {}).get("errors", {})}


REAL_IMPORTER = "real"


def _labels_configs(
    configs: dict[str, tuple[Path, dict[str, Any]]],
) -> tuple[dict[str, dict[str, Any]], tuple[str, dict[str, list[int]], str] | None]:
    """Read every labels config; find the ReaL sets.

    Returns:
        ``(labels config -> {"sets", "sources", "rule"}, (config, ReaL sets, file) or None)``.
        ReaL sets come from the raw votes of the ``real`` importer (``source == "real"``), so
        they are the published sets even when the config also aggregates other sources.

    Raises:
        BenchsmithError: Several labels configs hold ReaL votes.

    """
    out: dict[str, dict[str, Any]] = {}
    real: list[tuple[str, dict[str, list[int]], str]] = []
    for name, (d, meta) in sorted(configs.items()):
        if meta.get("kind") != "labels":
            continue
        t = read_config(d, ["sample_id", "labels", "votes"])
        sids = t["sample_id"].to_pylist()
        importers = [str(x.get("importer")) for x in meta.get("sources", [])]
        out[name] = {"sets": dict(zip(sids, t["labels"].to_pylist(), strict=True)),
                     "sources": importers, "rule": meta.get("rule"),
                     "joins": list(meta.get("joins", []))}
        if REAL_IMPORTER in importers:
            sets = {s: list(v["labels"]) for s, vs in zip(sids, t["votes"].to_pylist(),
                                                          strict=True)
                    for v in vs if v.get("source") == REAL_IMPORTER}
            path = next(str(x.get("path")) for x in meta["sources"]
                        if x.get("importer") == REAL_IMPORTER)
            real.append((name, sets, path))
    if len(real) > 1:
        raise BenchsmithError(f"labels configs {[r[0] for r in real]} all hold ReaL votes; keep "
                              "ReaL in one")
    return out, (real[0] if real else None)


def join_report(labels_cfgs: Mapping[str, Mapping[str, Any]], images: int) -> list[dict]:
    """How many of the clean config's images each reference file matched (by ``sample_id``).

    Built from the join reports ``reannotate`` records (it refuses joins that match nothing or
    look positional, see :func:`pipeline.reannotate.importers.check_join`).

    Returns:
        One entry per (labels config, source): ``file``, ``entries`` (samples in the file),
        ``matched`` (of them, images of the clean config), ``images`` (clean rows),
        ``coverage`` (matched / images) and the join ``checks``.

    """
    out = []
    for lname, info in labels_cfgs.items():
        for j in info.get("joins", []):
            matched = int(j.get("matched_samples", 0))
            out.append({"labels_config": lname, "file": str(j.get("source")),
                        "entries": int(j.get("samples", 0)), "matched": matched,
                        "images": images, "coverage": matched / images if images else 0.0,
                        "checks": dict(j.get("checks", {}))})
    return out


def _default_baseline(configs: dict[str, tuple[Path, dict[str, Any]]],
                      num_classes: int) -> tuple[dict[str, Any] | None, str]:
    """AlexNet's published errors for an ImageNet-C build (1000 classes, 224 px), else none."""
    corr = [(d, m) for d, m in configs.values() if m.get("kind") == "corruption"]
    if not corr:
        return None, "no corruption configs"
    d, meta = corr[0]
    preset = meta.get("preset")
    if preset == "auto":
        presets = set(read_config(d, ["preset"])["preset"].to_pylist())
        preset = presets.pop() if len(presets) == 1 else None
    if num_classes == 1000 and preset == "imagenet224":
        return dict(ALEXNET), "built-in: ImageNet-C build (1000 classes, preset imagenet224)"
    return None, (f"no built-in baseline for this build ({num_classes} classes, preset {preset}):"
                  " AlexNet errors are published for ImageNet-C at 224 px only; pass --baseline "
                  "for CE / mCE")


def score(
    roots: Sequence[str | Path],
    *,
    predictions: str | Path,
    baseline: Mapping[str, Any] | None = None,
    n_bins: int,
    clean_config: str | None = None,
    default_baseline: bool = True,
) -> dict[str, Any]:
    """Score every model in ``predictions`` on the build under ``roots``.

    Args:
        roots: Build folder(s) holding the configs.
        predictions: Predictions Parquet.
        baseline: ``{"name", "clean_error", "errors"}`` of the CE baseline (see
            :func:`load_baseline`); ``None`` uses AlexNet on ImageNet-C builds.
        n_bins: ECE bins.
        clean_config: Name of the clean config when the build has several.
        default_baseline: Use the built-in AlexNet errors when ``baseline`` is ``None``.

    Returns:
        ``{"clean_config", "joins", "baseline", "real_labels", "models": {model: metrics}}``.

    """
    configs = find_configs(roots)
    cname, cdir, cmeta = pick_config(configs, "clean", clean_config)
    clean = read_config(cdir, ["sample_id", "label"])
    given = dict(zip(clean["sample_id"].to_pylist(), clean["label"].to_pylist(), strict=True))
    names = class_names(cmeta)
    labels_cfgs, real = _labels_configs(configs)
    real_sets = real[1] if real else {}
    slices = {n: set(read_config(d, ["sample_id"])["sample_id"].to_pylist())
              for n, (d, m) in sorted(configs.items()) if m.get("kind") == "slice"}
    base_note = f"given: {baseline.get('name', 'user baseline')}" if baseline else ""
    if baseline is None and default_baseline:
        baseline, base_note = _default_baseline(configs, len(names))
    preds = read_predictions(predictions, len(names))
    out: dict[str, Any] = {
        "clean_config": cname,
        "joins": join_report(labels_cfgs, len(given)),
        "baseline": {"name": baseline.get("name") if baseline else None, "why": base_note},
        "real_labels": ({"config": real[0], "importer": REAL_IMPORTER, "file": real[2],
                         "rule": "raw ReaL sets (not re-aggregated)"} if real else None),
        "models": {},
    }
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
        res["clean_error"] = 1.0 - res["top1"]
        if real_sets:
            have = [i for i, s in enumerate(sids) if s in real_sets]
            acc, used = multilabel_accuracy([pred[i] for i in have],
                                            [real_sets[sids[i]] for i in have])
            res["real"], res["real_rows"] = acc, used
        if labels_cfgs:
            res["labels"] = {}
            for lname, info in labels_cfgs.items():
                have = [i for i, s in enumerate(sids) if s in info["sets"]]
                acc, used = multilabel_accuracy([pred[i] for i in have],
                                                [info["sets"][sids[i]] for i in have])
                res["labels"][lname] = {"accuracy": acc, "rows": used,
                                        "sources": info["sources"], "rule": info["rule"]}
        sl = {}
        for n, members in slices.items():
            idx = [i for i, s in enumerate(sids) if s in members]
            entry: dict[str, Any] = {"rows": len(idx), "top1": top1_accuracy(pred[idx], lab[idx])}
            if real_sets:
                acc, used = multilabel_accuracy(
                    [pred[i] for i in idx if sids[i] in real_sets],
                    [real_sets[sids[i]] for i in idx if sids[i] in real_sets])
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
            corr: dict[str, Any] = {"errors": errs,
                                    "groups": grouped_errors(errs, res["clean_error"], baseline)}
            if baseline is not None and all(set(v) <= set(baseline["errors"].get(c, {}))
                                            for c, v in errs.items()):
                corr.update(corruption_errors(errs, res["clean_error"], baseline["errors"],
                                              baseline["clean_error"]))
                corr["all_corruptions_note"] = (
                    "CE/mCE at this level average every corruption in the build; the published "
                    "mCE is groups.benchmark.mCE (the 15 benchmark corruptions)")
            res["corruption"] = corr
        out["models"][model] = res
    return out


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:6.2f}"


def summary_table(res: Mapping[str, Any]) -> str:
    """Return the human-readable summary printed beside the JSON (values in %).

    Example:
        >>> r = {"clean_config": "clean", "baseline": {"name": None, "why": "none"},
        ...      "real_labels": None, "models": {"m": {"rows": 2, "top1": 0.5,
        ...      "clean_error": 0.5}}}
        >>> print(summary_table(r).splitlines()[0])
        model m: 2 rows of clean

    """
    lines = []
    base = res.get("baseline") or {}
    for j in res.get("joins", []):
        checks = ", ".join(f"{k} {100 * v:.1f}%" for k, v in j["checks"].items())
        lines.append(f"join {j['file']}: {j['matched']} of {j['images']} images matched "
                     f"({j['entries']} entries in the file{'; ' + checks if checks else ''})")
    for model, m in res["models"].items():
        lines.append(f"model {model}: {m['rows']} rows of {res['clean_config']}")
        lines.append(f"  clean error            {_pct(m['clean_error'])}")
        if "real" in m:
            rl = res["real_labels"]
            lines.append(f"  ReaL accuracy          {_pct(m['real'])}   ({m['real_rows']} rows; "
                         f"labels config {rl['config']!r}, importer real, {rl['file']})")
        if "ece" in m:
            lines.append(f"  ECE                    {_pct(m['ece'])}   ({m['ece_bins']} bins)")
        for lname, info in m.get("labels", {}).items():
            lines.append(f"  labels {lname!r:<15} {_pct(info['accuracy'])}   (multi-label accuracy "
                         f"on sets aggregated from {'+'.join(info['sources'])})")
        for sname, e in m.get("slices", {}).items():
            extra = f", ReaL {_pct(e['real']).strip()}" if "real" in e else ""
            lines.append(f"  slice {sname!r:<16} top-1 {_pct(e['top1']).strip()}{extra}   "
                         f"({e['rows']} rows)")
        corr = m.get("corruption")
        if corr:
            lines.append(f"  baseline: {base.get('name') or 'none'} ({base.get('why', '')})")
            lines.append(f"  {'corruption':<20} {'error':>7} {'CE':>7} {'rel.CE':>7}  (%)")
            for gname, g in corr["groups"].items():
                for c in g["corruptions"]:
                    e = float(np.mean(list(corr["errors"][c].values())))
                    lines.append(f"  {c:<20} {_pct(e)} {_pct(g.get('CE', {}).get(c))} "
                                 f"{_pct(g.get('relative_CE', {}).get(c))}")
                label = {"benchmark": "mCE (15 benchmark)", "extra": "extras (held out)"}.get(
                    gname, f"{gname} corruptions")
                flag = "" if g.get("complete", True) else "  [incomplete: not the published mCE]"
                lines.append(f"  {label:<20} mean error {_pct(g['mean_error']).strip()}, "
                             f"mCE {_pct(g.get('mCE')).strip()}, relative mCE "
                             f"{_pct(g.get('relative_mCE')).strip()}{flag}")
                for note in g.get("notes", []):
                    lines.append(f"    note: {note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``benchsmith score``: top-1, ReaL, per-slice accuracy, mCE and ECE of predictions."""
    parser = argparse.ArgumentParser(prog="benchsmith score", description=main.__doc__)
    parser.add_argument("build", nargs="+", type=Path, help="build folder(s) holding the configs")
    parser.add_argument("--predictions", required=True, type=Path, help="predictions Parquet")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="CE baseline: errors JSON or predictions Parquet (default: the "
                        "published AlexNet errors on ImageNet-C builds)")
    parser.add_argument("--no-default-baseline", action="store_true",
                        help="do not normalise by AlexNet when no --baseline is given")
    parser.add_argument("--clean-config", default=None, help="clean config name if several")
    parser.add_argument("--ece-bins", type=int, default=15, help="ECE bins (Guo et al.: 15)")
    parser.add_argument("--out", type=Path, default=None, help="write the metrics JSON here")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the JSON (stdout), not the summary table (stderr)")
    args = parser.parse_args(argv)
    if args.ece_bins < 1:
        raise BenchsmithError(f"--ece-bins {args.ece_bins}: expected >= 1 (Guo et al.: 15)")
    kw = {"roots": args.build, "n_bins": args.ece_bins, "clean_config": args.clean_config}
    base = load_baseline(args.baseline, default_baseline=False, **kw) if args.baseline else None
    res = score(predictions=args.predictions, baseline=base,
                default_baseline=not args.no_default_baseline, **kw)
    clean = _nan_none(res)
    if args.out:
        atomic_write_json(args.out, clean)
    print(json.dumps(clean, indent=2, sort_keys=True))
    if not args.quiet:
        print(summary_table(res), file=sys.stderr)
    return 0
