"""The ``shift`` stage: controllable distribution shifts with the shift measured.

Reads one clean config (``benchsmith pull`` output), splits its rows by a
seed-keyed SHA-256 of ``sample_id`` into a *reference* side (the training
distribution; models and feature spaces are fitted on it) and a disjoint *pool*
side (the shifted sets are built from it), then for every entry of the
manifest's ``shift:`` section and every intensity writes one config
``<name>_k<100 * intensity:03d>`` (split ``test``), plus ``<name>_train`` (split
``train``) holding the training distribution the intensity is measured from.
Each config's ``manifest.json`` ``extra`` records ``kind: shift``, the knob and
its meaning, the parameters, the measured shift (fraction outside the training
support, kernel MMD² with permutation p-value, classifier two-sample AUC, and a
logistic-regression probe's accuracy) and a one-paragraph description. The
stage also writes ``shift_metrics.json`` and ``shift_plot.png`` (measured
shift vs knob, drawn with Pillow) in the output folder.

Manifest section (all keys but ``shifts`` and ``intensities`` optional)::

    shift:
      input: clean              # clean config folder name under --in
      split: test               # split of that config to shift
      reference_fraction: 0.5   # share of rows on the reference (training) side
      size: 1000                # rows per shifted config
      train_size: 1000          # rows of the training config
      intensities: [0, 0.25, 0.5, 0.75, 1]
      measure: {dim: 32, label_weight: 2.0, neighbors: 10, quantile: 0.95,
                permutations: 200, folds: 5, max_rows: 1000}
      shifts:
        - shift: latent_select  # key of corruptions.shifts.get_shift_registry()
          name: latent_extend   # config prefix (default: the shift key)
          params: {mode: extend}
          intensities: [0, 0.5, 1]   # per-entry override
          size: 500                  # per-entry override
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ManifestError
from pipeline.manifest import Manifest
from pipeline.parallel import run_tasks
from pipeline.shards import (
    atomic_write_bytes,
    atomic_write_json,
    fingerprint,
    read_config_manifest,
    record_shard,
    shard_done,
    shard_name,
)
from pipeline.shift_io import load_clean, shift_features, split_rows, write_result
from pipeline.shift_plot import draw_plot
from pipeline.shift_report import write_entry_manifests
from pipeline.shift_section import ShiftEntry, ShiftSection, parse_section
from pipeline.stage import contained, prepare_output, refuse_overlap, task_files
from pipeline.version import code_version

__all__ = [
    "ShiftEntry",
    "ShiftSection",
    "parse_section",
    "load_clean",
    "split_rows",
    "run_entry",
    "shift",
    "draw_plot",
    "main",
]


def run_entry(
    entry: ShiftEntry,
    ref: dict[str, Any],
    pool: dict[str, Any],
    names: list[str],
    meta: dict[str, dict[str, Any]],
    out: str,
    seed: int,
    train_size: int,
    measure: dict[str, Any],
    base_fp: str,
) -> dict[str, Any]:
    """Build, write and measure every config of one entry (a dask task).

    Returns:
        ``{"train": record, "configs": [{"knob", "config", "record", "measured"}, ...]}``.

    """
    from corruptions.rng import stable_u32
    from corruptions.shift_measures import measure_shift
    from corruptions.shifts import ShiftData, apply_shift, training_set

    k = len(names)
    reference = ShiftData(ref["images"], ref["labels"], tuple(ref["ids"]), k)
    pool_data = ShiftData(pool["images"], pool["labels"], tuple(pool["ids"]), k)
    features = shift_features(names)
    fp = fingerprint([base_fp, entry.shift, entry.params, train_size, *_model_digest(entry)])
    try:  # the shifts raise ValueError when the data cannot satisfy the manifest's numbers
        train = training_set(
            entry.shift, reference, pool_data, size=train_size, seed=seed, params=entry.params
        )
    except ValueError as exc:
        raise ManifestError(f"shift entry {entry.name!r}, training set: {exc}") from exc
    train_rec = write_result(
        Path(out) / entry.train_config, "train", train, entry, None, meta, features, fp
    )
    configs = []
    for knob in entry.intensities:
        cdir = Path(out) / entry.config(knob)
        task_fp = fingerprint([fp, knob, entry.size, measure])
        cached = shard_done(cdir, shard_name("test", 0, 1), task_fp)
        if cached is not None and "measured" in cached:
            configs.append(
                {
                    "knob": knob,
                    "config": cdir.name,
                    "record": cached,
                    "measured": cached["measured"],
                }
            )
            continue
        try:
            res = apply_shift(entry.shift, reference, pool_data, knob=knob, size=entry.size,
                              seed=seed, params=entry.params)
        except ValueError as exc:
            raise ManifestError(f"shift entry {entry.name!r}, intensity {knob}: {exc}") from exc
        rng = np.random.default_rng(
            np.random.SeedSequence(
                [seed, stable_u32(entry.shift), round(knob * 10_000), stable_u32("measure")]
            )
        )
        measured = measure_shift(
            train.images, train.labels, res.images, res.labels, num_classes=k, rng=rng, **measure
        )
        if "latent_non_overlap" in res.summary:  # known latent laws (Control+Shift families)
            measured = {**measured, "latent_non_overlap": res.summary["latent_non_overlap"]}
        rec = write_result(cdir, "test", res, entry, knob, meta, features, task_fp)
        rec = {**rec, "measured": measured}
        record_shard(cdir, rec["file"], rec)
        configs.append({"knob": knob, "config": cdir.name, "record": rec, "measured": measured})
    return {"train": train_rec, "configs": configs}


def _model_digest(entry: ShiftEntry) -> list[str]:
    """SHA-256 of a user model file the entry decodes through (its bytes change the output)."""
    decoder = entry.params.get("decoder")
    if isinstance(decoder, dict) and "model" in decoder:
        from corruptions.shifts.diffusion import file_sha256

        return [file_sha256(decoder["model"])]
    return []


def _side(data: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    """Images, labels and ids of the rows where ``mask`` is true."""
    idx = np.flatnonzero(mask)
    return {
        "images": data["images"][idx],
        "labels": data["labels"][idx],
        "ids": [data["sample_id"][i] for i in idx],
    }


def _planned(
    out: Path,
    section: ShiftSection,
    manifest: Manifest,
    metrics_path: Path | None,
    plot_path: Path | None,
) -> list[Path]:
    """Every file the stage writes under ``out`` (the runner removes the rest it owns)."""
    planned = [out / n for n, given in (("shift_metrics.json", metrics_path),
                                        ("shift_plot.png", plot_path)) if given is None]
    for e in section.entries:
        for cfg, sp in [(e.train_config, "train"), *((e.config(k), "test") for k in e.intensities)]:
            d = contained(out, cfg, key=f"{manifest.path}: shift entry {e.name!r} name")
            planned += [d / "manifest.json", *task_files(d, shard_name(sp, 0, 1))]
    return planned


def shift(
    manifest: Manifest,
    inp: Path,
    out: Path,
    *,
    scheduler: str = "threads",
    workers: int = 2,
    progress: bool = True,
    metrics_path: Path | None = None,
    plot_path: Path | None = None,
) -> dict[str, Any]:
    """Run the ``shift`` section of ``manifest`` on the clean data under ``inp``.

    ``metrics_path`` / ``plot_path`` default to ``out/shift_metrics.json`` and
    ``out/shift_plot.png`` (give paths outside ``out`` when DVC tracks ``out``).

    Returns:
        ``{"configs": {config name: manifest dict}, "metrics": {entry name: [...]}}``.

    """
    refuse_overlap(out, [inp], inputs_flag="--in")
    section: ShiftSection | None = manifest.sections.get("shift")
    if section is None:
        raise ManifestError(
            f"{manifest.path}: no `shift:` section; add one (see pipeline/shift.py)"
        )
    config = section.input or manifest.clean_config(manifest.sources[0])
    clean_dir = Path(inp) / config
    clean_manifest = read_config_manifest(clean_dir)
    data = load_clean(clean_dir, section.split)
    mask = split_rows(data["sample_id"], manifest.seed, section.reference_fraction)

    ref, pool = _side(data, mask), _side(data, ~mask)
    meta = {
        s: {"source": data["source"][i], "split": data["split"][i], "key": data["key"][i]}
        for i, s in enumerate(data["sample_id"])
    }
    shard_shas = [s["sha256"] for sp in clean_manifest["splits"].values() for s in sp["shards"]]
    base_fp = fingerprint(
        [shard_shas, section.split, section.reference_fraction, manifest.seed, code_version()]
    )
    tasks = [
        (
            e,
            ref,
            pool,
            data["names"],
            meta,
            str(out),
            manifest.seed,
            section.train_size,
            section.measure,
            base_fp,
        )
        for e in section.entries
    ]
    prepare_output(
        Path(out),
        _planned(Path(out), section, manifest, metrics_path, plot_path),
        what="shift output folder",
    )
    results = run_tasks(
        run_entry, tasks, scheduler=scheduler, workers=workers, desc="shift", progress=progress
    )
    features = shift_features(data["names"])
    base = f"{len(pool['ids'])} pool rows of `{config}`/{section.split} ({manifest.name})"
    common = {
        "kind": "shift",
        "benchmark": manifest.name,
        "input": config,
        "input_split": section.split,
        "seed": manifest.seed,
        "code_version": code_version(),
        "reference_fraction": section.reference_fraction,
        "reference_rows": len(ref["ids"]),
        "pool_rows": len(pool["ids"]),
        "manifest": manifest.raw,
    }
    written: dict[str, Any] = {}
    metrics: dict[str, list[dict[str, Any]]] = {}
    for entry, res in zip(section.entries, results, strict=True):
        configs, metrics[entry.name] = write_entry_manifests(
            entry, res, Path(out), features=features, common=common, base=base
        )
        written.update(configs)
    atomic_write_json(Path(metrics_path or Path(out) / "shift_metrics.json"), metrics)
    atomic_write_bytes(Path(plot_path or Path(out) / "shift_plot.png"), draw_plot(metrics))
    return {"configs": written, "metrics": metrics}


def main(argv: list[str] | None = None) -> int:
    """``benchsmith shift``: build the manifest's controllable shifts from clean shards."""
    from pipeline.manifest import load_manifest
    from pipeline.stage import add_common_args

    parser = argparse.ArgumentParser(prog="benchsmith shift", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--in", dest="inp", required=True, help="pull output, e.g. data/pulled")
    parser.add_argument("--out", required=True, help="output folder, e.g. data/shift")
    parser.add_argument(
        "--metrics",
        type=Path,
        default=None,
        help="measured-shift JSON (default <out>/shift_metrics.json)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="measured shift vs knob PNG (default <out>/shift_plot.png)",
    )
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    if manifest.sections.get("shift") is None and args.optional:
        from pipeline.stage import skip_outputs, skip_stage

        skip_outputs("shift", manifest.path, json_paths=[args.metrics], png_paths=[args.plot])
        return skip_stage(Path(args.out), "shift", manifest.path)
    res = shift(
        manifest,
        Path(args.inp),
        Path(args.out),
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        metrics_path=args.metrics,
        plot_path=args.plot,
    )
    for name, points in res["metrics"].items():
        curve = ", ".join(
            f"{p['intensity']:.2f}: AUC {p['c2st_auc']:.3f} acc {p['probe_accuracy']:.3f}"
            for p in points
        )
        print(f"shift {name}: {curve}")
    print(f"wrote {len(res['configs'])} configs, {args.plot or Path(args.out) / 'shift_plot.png'}")
    return 0
