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
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pipeline.errors import ManifestError
from pipeline.manifest import NAME_RE, Manifest, check_keys
from pipeline.parallel import run_tasks
from pipeline.schema import build_features
from pipeline.shards import (
    atomic_write_bytes,
    atomic_write_json,
    encode_png,
    fingerprint,
    list_shards,
    read_config_manifest,
    read_shard,
    record_shard,
    shard_done,
    shard_name,
    write_config_manifest,
    write_shard,
)
from pipeline.shift_plot import draw_plot
from pipeline.stage import contained, prepare_output, task_files
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

SECTION_KEYS = {
    "input": "clean config folder under --in (default: the manifest's clean config)",
    "split": "split of the input config to shift (default test)",
    "reference_fraction": "share of rows on the reference/training side, in (0, 1) (default 0.5)",
    "size": "rows per shifted config (int >= 1, default 1000)",
    "train_size": "rows of each <name>_train config (int >= 1, default 1000)",
    "intensities": "list of knob values in [0, 1]",
    "measure": "feature/measure settings: "
    + ", ".join(
        ["dim", "label_weight", "neighbors", "quantile", "permutations", "folds", "max_rows"]
    ),
    "shifts": "list of {shift, name, params, intensities, size}",
}
ENTRY_KEYS = {
    "shift": "shift registry key",
    "name": "config prefix ([a-z0-9_-]; default: the shift key)",
    "params": "shift parameters (mapping; see the registry's param_doc)",
    "intensities": "knob values for this entry (overrides the section's)",
    "size": "rows per shifted config for this entry",
}
MEASURE_DEFAULTS: dict[str, Any] = {
    "dim": 32,
    "label_weight": 2.0,
    "neighbors": 10,
    "quantile": 0.95,
    "permutations": 200,
    "folds": 5,
    "max_rows": 1000,
}


@dataclass(frozen=True)
class ShiftEntry:
    """One shift of the section: a registry key, a config prefix, parameters, knobs, size."""

    shift: str
    name: str
    params: dict[str, Any]
    intensities: tuple[float, ...]
    size: int

    def config(self, knob: float) -> str:
        """Config name of one intensity: ``<name>_k<round(100 * knob):03d>``."""
        return f"{self.name}_k{round(100 * knob):03d}"

    @property
    def train_config(self) -> str:
        """Config name of the training distribution."""
        return f"{self.name}_train"


@dataclass(frozen=True)
class ShiftSection:
    """The validated ``shift:`` section."""

    entries: tuple[ShiftEntry, ...]
    input: str | None = None
    split: str = "test"
    reference_fraction: float = 0.5
    train_size: int = 1000
    measure: dict[str, Any] = field(default_factory=lambda: dict(MEASURE_DEFAULTS))


def _pos_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ManifestError(f"{where}: expected an integer >= 1, got {value!r}")
    return value


def _intensities(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ManifestError(
            f"{where}: expected a non-empty list of numbers in [0, 1], got {value!r}"
        )
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ManifestError(f"{where}: intensity {v!r} is not a number in [0, 1]")
        out.append(float(v))
    if len({round(100 * v) for v in out}) != len(out):
        raise ManifestError(f"{where}: intensities {out} collide at 0.01 resolution (config names)")
    return tuple(sorted(out))


def parse_section(data: Any, where: str) -> ShiftSection:
    """Validate the manifest's ``shift:`` section.

    Args:
        data: The parsed YAML value.
        where: Key path for messages.

    Returns:
        The :class:`ShiftSection`.

    Raises:
        ManifestError: Unknown key, unknown shift or parameter, or a bad value
            (the message names the key and the allowed values).

    Example:
        >>> s = parse_section({"intensities": [0, 1], "shifts": [{"shift": "label_shift"}]}, "m")
        >>> [s.entries[0].config(k) for k in s.entries[0].intensities]
        ['label_shift_k000', 'label_shift_k100']

    """
    from corruptions.shifts import get_shift_registry, resolve_shift_params

    d = check_keys(data, where, SECTION_KEYS, {"shifts", "intensities"})
    knobs = _intensities(d["intensities"], f"{where}.intensities")
    size = _pos_int(d.get("size", 1000), f"{where}.size")
    frac = d.get("reference_fraction", 0.5)
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
        raise ManifestError(
            f"{where}.reference_fraction: expected a number in (0, 1), got {frac!r}"
        )
    measure = dict(MEASURE_DEFAULTS)
    m = check_keys(
        d.get("measure", {}),
        f"{where}.measure",
        {k: f"default {v}" for k, v in MEASURE_DEFAULTS.items()},
    )
    for key, value in m.items():
        if key in ("label_weight", "quantile"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ManifestError(f"{where}.measure.{key}: expected a number >= 0, got {value!r}")
            if key == "quantile" and not 0 < value < 1:
                raise ManifestError(f"{where}.measure.quantile: expected (0, 1), got {value!r}")
            measure[key] = float(value)
        else:
            measure[key] = _pos_int(value, f"{where}.measure.{key}")
    if measure["folds"] < 2:
        raise ManifestError(f"{where}.measure.folds: need at least 2")
    registry = get_shift_registry()
    if not isinstance(d["shifts"], list) or not d["shifts"]:
        raise ManifestError(f"{where}.shifts: expected a non-empty list of {{shift, ...}}")
    entries = []
    for i, e in enumerate(d["shifts"]):
        w = f"{where}.shifts[{i}]"
        e = check_keys(e, w, ENTRY_KEYS, {"shift"})
        key = e["shift"]
        if key not in registry:
            raise ManifestError(
                f"{w}.shift: unknown shift {key!r}; valid: {', '.join(sorted(registry))}"
            )
        name = e.get("name", key)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ManifestError(f"{w}.name: {name!r} must match {NAME_RE.pattern}")
        try:
            params = resolve_shift_params(key, e.get("params") or {})
        except ValueError as exc:
            raise ManifestError(f"{w}.params: {exc}") from None
        entries.append(
            ShiftEntry(
                shift=key,
                name=name,
                params=params,
                intensities=_intensities(e["intensities"], f"{w}.intensities")
                if "intensities" in e
                else knobs,
                size=_pos_int(e.get("size", size), f"{w}.size"),
            )
        )
    if len({e.name for e in entries}) != len(entries):
        raise ManifestError(f"{where}.shifts: entries need distinct names; set `name:` on each")
    split = d.get("split", "test")
    if not isinstance(split, str):
        raise ManifestError(f"{where}.split: expected a split name, got {split!r}")
    inp = d.get("input")
    if inp is not None and not isinstance(inp, str):
        raise ManifestError(f"{where}.input: expected a config folder name, got {inp!r}")
    return ShiftSection(
        entries=tuple(entries),
        input=inp,
        split=split,
        reference_fraction=float(frac),
        train_size=_pos_int(d.get("train_size", 1000), f"{where}.train_size"),
        measure=measure,
    )


def load_clean(config_dir: Path, split: str) -> dict[str, Any]:
    """Decode one split of a clean config: images, labels, ids, source/split/key, class names."""
    from pipeline.sources.hf import decode_image

    shards = list_shards(config_dir).get(split)
    if not shards:
        raise ManifestError(
            f"{config_dir}: no shards of split {split!r} (have {sorted(list_shards(config_dir))}); "
            "run `benchsmith pull` first or set shift.split"
        )
    cols: dict[str, list[Any]] = {c: [] for c in ("sample_id", "label", "source", "split", "key")}
    images, names = [], None
    for path in shards:
        table, features = read_shard(
            path, ["sample_id", "image", "label", "source", "split", "key"]
        )
        names = features["label"].names
        for c in cols:
            cols[c].extend(table[c].to_pylist())
        images.extend(decode_image(d["bytes"], what=str(path)) for d in table["image"].to_pylist())
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ManifestError(
            f"{config_dir}: images of several shapes {sorted(shapes)}; the shift "
            "stage needs one image size (resize in the source first)"
        )
    return {
        "images": np.stack(images),
        "labels": np.asarray(cols["label"], dtype=np.int64),
        "names": list(names or []),
        **{c: cols[c] for c in ("sample_id", "source", "split", "key")},
    }


def split_rows(sample_ids: list[str], seed: int, fraction: float) -> np.ndarray:
    """Reference-side mask: ``sha256(f"{seed}/{sample_id}")`` (first 8 bytes) below ``fraction``.

    Order-independent and stable; SHA-256 rather than CRC-32 because CRC is
    linear, so its low bits follow the digits of sequential keys.

    Example:
        >>> split_rows(["a/test/0", "a/test/1", "a/test/2", "a/test/3"], 0, 0.5).tolist()
        [False, False, False, True]

    """
    cut = int(fraction * 2**64)
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}/{s}".encode()).digest()[:8], "big") < cut
            for s in sample_ids
        ],
        dtype=bool,
    )


def _features(names: list[str]) -> datasets.Features:
    feats = build_features(names)
    feats["shift"] = datasets.Value("string")
    feats["intensity"] = datasets.Value("float32")
    feats["origin"] = datasets.Value("string")
    feats["shift_info"] = datasets.Value("string")
    return feats


def _write(
    out_dir: Path,
    split: str,
    result: Any,
    entry: ShiftEntry,
    knob: float | None,
    meta: dict[str, dict[str, Any]],
    features: datasets.Features,
    task_fp: str,
) -> dict:
    name = shard_name(split, 0, 1)
    done = shard_done(out_dir, name, task_fp)
    if done is not None:
        return done
    config = out_dir.name
    cols: dict[str, list[Any]] = {c: [] for c in features}
    for i, (img, lab, org, info) in enumerate(
        zip(result.images, result.labels, result.origin, result.info, strict=True)
    ):
        row = meta.get(org)
        cols["sample_id"].append(org or f"{entry.shift}/{config}/{i:06d}")
        cols["image"].append({"bytes": encode_png(img), "path": None})
        cols["label"].append(int(lab))
        cols["source"].append(row["source"] if row else f"{entry.shift}-ppca")
        cols["split"].append(row["split"] if row else config)
        cols["key"].append(row["key"] if row else f"{i:06d}")
        cols["shift"].append(entry.shift)
        cols["intensity"].append(float(knob) if knob is not None else 0.0)
        cols["origin"].append(org)
        cols["shift_info"].append(json.dumps(info, sort_keys=True))
    if len(set(cols["sample_id"])) != len(cols["sample_id"]):
        raise RuntimeError(f"{config}: duplicate sample_id (a bug in shift {entry.shift!r})")
    sha = write_shard(out_dir / name, cols, features)
    record = {
        "split": split,
        "file": name,
        "num_rows": len(cols["sample_id"]),
        "sha256": sha,
        "rejects": [],
        "fingerprint": task_fp,
        "summary": result.summary,
    }
    record_shard(out_dir, name, record)
    return record


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
    features = _features(names)
    fp = fingerprint([base_fp, entry.shift, entry.params, train_size])
    train = training_set(
        entry.shift, reference, pool_data, size=train_size, seed=seed, params=entry.params
    )
    train_rec = _write(
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
        res = apply_shift(
            entry.shift,
            reference,
            pool_data,
            knob=knob,
            size=entry.size,
            seed=seed,
            params=entry.params,
        )
        rng = np.random.default_rng(
            np.random.SeedSequence(
                [seed, stable_u32(entry.shift), round(knob * 10_000), stable_u32("measure")]
            )
        )
        measured = measure_shift(
            train.images, train.labels, res.images, res.labels, num_classes=k, rng=rng, **measure
        )
        rec = _write(cdir, "test", res, entry, knob, meta, features, task_fp)
        rec = {**rec, "measured": measured}
        record_shard(cdir, rec["file"], rec)
        configs.append({"knob": knob, "config": cdir.name, "record": rec, "measured": measured})
    return {"train": train_rec, "configs": configs}


def _describe(spec: Any, entry: ShiftEntry, knob: float, m: dict[str, Any], base: str) -> str:
    return (
        f"{base} shifted by `{entry.shift}` at intensity {knob:.2f} ({spec.knob}). "
        f"{spec.description} Measured against the training distribution (config "
        f"`{entry.train_config}`) in a {m['settings']['feature']} space"
        f"{' joined with a one-hot label' if m['settings']['label_weight'] > 0 else ''}: "
        f"{100 * m['outside_support']:.1f}% of rows outside the training support "
        f"({100 * (1 - m['settings']['quantile']):.0f}% expected without shift), kernel MMD² "
        f"{m['mmd2']:.4f} (permutation p = {m['mmd_p_value']:.3f}), classifier two-sample AUC "
        f"{m['c2st_auc']:.3f}; a logistic-regression probe trained on the training set scores "
        f"{100 * m['probe_accuracy']:.1f}% here ({100 * m['probe_accuracy_train_cv']:.1f}% on "
        f"held-out training rows)."
    )


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
    from corruptions.shifts import get_shift_registry

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

    def side(m: np.ndarray) -> dict[str, Any]:
        idx = np.flatnonzero(m)
        return {
            "images": data["images"][idx],
            "labels": data["labels"][idx],
            "ids": [data["sample_id"][i] for i in idx],
        }

    ref, pool = side(mask), side(~mask)
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
    planned = [Path(out) / n for n, given in (("shift_metrics.json", metrics_path),
                                              ("shift_plot.png", plot_path)) if given is None]
    for e in section.entries:
        for cfg, sp in [(e.train_config, "train"), *((e.config(k), "test") for k in e.intensities)]:
            d = contained(Path(out), cfg, key=f"{manifest.path}: shift entry {e.name!r} name")
            planned += [d / "manifest.json", *task_files(d, shard_name(sp, 0, 1))]
    prepare_output(Path(out), planned, what="shift output folder")
    results = run_tasks(
        run_entry, tasks, scheduler=scheduler, workers=workers, desc="shift", progress=progress
    )
    registry = get_shift_registry()
    features = _features(data["names"])
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
        spec = registry[entry.shift]
        ident = {
            "shift": entry.shift,
            "name": entry.name,
            "params": entry.params,
            "knob_meaning": spec.knob,
            "shift_reference": spec.reference,
            "synthetic": spec.synthetic,
            "preserves_labels": spec.preserves_labels,
        }
        tdir = Path(out) / entry.train_config
        written[tdir.name] = write_config_manifest(
            tdir,
            config=tdir.name,
            features=features,
            shards=[res["train"]],
            extra={
                **common,
                **ident,
                "role": "train",
                "summary": res["train"].get("summary", {}),
                "description": (
                    f"Training distribution of `{entry.name}` "
                    f"({'synthetic' if spec.synthetic and spec.training else 'real'}"
                    f" rows, {res['train']['num_rows']}): the intensity-0 "
                    f"reference every `{entry.name}_k*` config is measured "
                    f"against. {spec.description}"
                ),
            },
        )
        metrics[entry.name] = []
        for c in res["configs"]:
            m = c["measured"]
            cdir = Path(out) / c["config"]
            written[c["config"]] = write_config_manifest(
                cdir,
                config=c["config"],
                features=features,
                shards=[c["record"]],
                extra={
                    **common,
                    **ident,
                    "role": "test",
                    "intensity": c["knob"],
                    "measured": m,
                    "summary": c["record"].get("summary", {}),
                    "description": _describe(spec, entry, c["knob"], m, base),
                },
            )
            metrics[entry.name].append(
                {
                    "intensity": c["knob"],
                    "config": c["config"],
                    **{
                        k: m[k]
                        for k in (
                            "outside_support",
                            "mmd2",
                            "mmd_p_value",
                            "c2st_auc",
                            "probe_accuracy",
                        )
                    },
                }
            )
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
