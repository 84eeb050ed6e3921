"""The ``corrupt`` stage: map the manifest's corruption suites over the clean shards.

Every (corruption, severity) of the manifest's ``corrupt`` section becomes its
own config folder ``<out>/<config>`` (config name from the suite's template,
default ``<corruption>_<severity>``; prefixed ``<source name>-`` when a manifest
has several sources). Each clean shard maps to the corrupted shard of the same
name, in a dask task. Per image, the generator is
``derive_rng(seed, sample_id, corruption, severity)``, so the bytes do not
depend on the scheduler, the worker count or the order of work.

Provenance: the rows carry ``corruption``, ``severity``, ``preset``, ``params``
(JSON of the physical parameters actually used, including where depth came
from), ``seed`` and ``code_version``.

``--family`` restricts the stage to one registry family, so DVC can cache each
family on its own and editing one kernel module reruns only its family.
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from corruptions.registry import get_registry, resolve_params, resolve_preset
from corruptions.rng import derive_rng
from pipeline.download import file_digest
from pipeline.errors import BenchsmithError
from pipeline.manifest import Manifest
from pipeline.parallel import run_tasks
from pipeline.schema import build_features
from pipeline.shards import (
    atomic_write_json,
    encode_png,
    fingerprint,
    list_shards,
    read_config_manifest,
    read_shard,
    record_shard,
    shard_done,
    write_config_manifest,
    write_shard,
)
from pipeline.sources.hf import decode_image, read_depth_png
from pipeline.stage import contained, prepare_output, task_files
from pipeline.version import code_version

__all__ = ["plan_configs", "corrupt_shard", "corrupt", "main"]


def _depth_for(
    image: np.ndarray, row: dict[str, Any], mode: str, model: dict[str, Any] | None
) -> tuple[np.ndarray, str]:
    """Depth map for one image and where it came from (recorded in the row's params).

    ``mode`` is the manifest's ``corrupt.depth``: ``column`` (the dataset's depth
    maps, 0 = unknown), ``model`` (the user's ONNX/TorchScript network named by
    ``corrupt.depth_model``), ``pseudo`` (the built-in classical pseudo-depth) or
    ``auto`` (column if the dataset has one, else the model if given, else pseudo).
    """
    depth = row.get("depth")
    if depth is not None and mode in ("auto", "column"):
        arr = read_depth_png(None, depth["bytes"])
        arr[arr <= 0] = np.nan  # 0 = unknown; the kernels fill it with the farthest depth
        return arr, "column"
    if mode == "column":
        raise BenchsmithError(
            f"{row['sample_id']}: corrupt.depth is 'column' but the dataset has no depth column; "
            "give the source depth maps (imagefolder depth_root, parquet depth_column), set "
            "corrupt.depth: model with corrupt.depth_model, or corrupt.depth: pseudo"
        )
    if model is not None and mode in ("auto", "model"):
        net = _load_model(json.dumps(model, sort_keys=True))
        return net(image), f"model:{net.method}"
    if mode == "model":
        raise BenchsmithError("corrupt.depth is 'model' but corrupt.depth_model is not set")
    from corruptions import pseudo_depth

    return pseudo_depth.pseudo_depth(image), f"pseudo:v{pseudo_depth.PSEUDO_DEPTH_VERSION}"


@lru_cache(maxsize=2)
def _load_model(spec_json: str) -> Any:
    """Load (once per worker process) the depth network described by the manifest."""
    from corruptions.depth_model import load_depth_model

    spec = json.loads(spec_json)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k != "path"}
    return load_depth_model(spec["path"], **kwargs)


def corrupt_shard(
    clean_path: str,
    out_path: str,
    corruption: str,
    severity: int,
    preset: str,
    rounding: str,
    depth_mode: str,
    seed: int,
    task_fp: str,
    depth_model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Corrupt every image of one clean shard into one output shard (a dask task)."""
    from corruptions.registry import apply

    out = Path(out_path)
    done = shard_done(out.parent, out.name, task_fp)
    if done is not None:
        return done
    table, features = read_shard(Path(clean_path))
    spec = get_registry()[corruption]
    names = features["label"].names
    rows = table.to_pylist()
    new_features = build_features(names, corruption=True, depth="depth" in features)
    cols: dict[str, list[Any]] = {c: [] for c in new_features}
    version = code_version()
    params_json_cache: dict[tuple, str] = {}
    for row in rows:
        image = decode_image(row["image"]["bytes"], what=f"{clean_path} {row['sample_id']}")
        aux: dict[str, Any] = {}
        depth_source = None
        if "depth" in spec.needs:
            aux["depth"], depth_source = _depth_for(image, row, depth_mode, depth_model)
        rng = derive_rng(seed, row["sample_id"], corruption, severity) if spec.stochastic else None
        result = apply(corruption, image, severity=severity, preset=preset, rng=rng,
                       rounding=rounding, **aux)  # type: ignore[arg-type]
        key = (image.shape, depth_source)
        if key not in params_json_cache:
            used = resolve_params(corruption, severity=severity, preset=preset, shape=image.shape)
            used_preset, scale = resolve_preset(spec, preset, image.shape)
            used = {**used, "_preset": used_preset, "_pixel_scale": scale}
            if depth_source:
                used["_depth_source"] = depth_source
            params_json_cache[key] = json.dumps(used, sort_keys=True, default=_jsonable)
        for c in ("sample_id", "label", "source", "split", "key"):
            cols[c].append(row[c])
        if "depth" in cols:
            cols["depth"].append(row.get("depth"))
        cols["image"].append({"bytes": encode_png(result), "path": None})
        cols["corruption"].append(corruption)
        cols["severity"].append(severity)
        cols["preset"].append(json.loads(params_json_cache[key])["_preset"])
        cols["params"].append(params_json_cache[key])
        cols["seed"].append(seed)
        cols["code_version"].append(version)
    sha = write_shard(out, cols, new_features)
    record = {
        "split": rows[0]["split"] if rows else _split_of(out.name),
        "file": out.name,
        "num_rows": len(rows),
        "sha256": sha,
        "rejects": [],
        "fingerprint": task_fp,
    }
    record_shard(out.parent, out.name, record)
    return record


def _split_of(name: str) -> str:
    return name.split("-")[0]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def plan_configs(manifest: Manifest, family: str | None) -> list[tuple[str, str, int]]:
    """``(config, corruption, severity)`` the stage writes, filtered to ``family``."""
    if manifest.corrupt is None:
        return []
    registry = get_registry()
    families = sorted({s.family for s in registry.values()})
    if family is not None and family not in families:
        raise BenchsmithError(f"unknown corruption family {family!r}; valid: {families}")
    return [
        (cfg, name, sev)
        for cfg, name, sev in manifest.corrupt.configs()
        if family is None or registry[name].family == family
    ]


def corrupt(
    manifest: Manifest,
    clean_root: Path,
    out: Path,
    *,
    family: str | None = None,
    scheduler: str = "threads",
    workers: int = 2,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run the corruption suites of ``manifest`` over the clean configs in ``clean_root``.

    Returns:
        Config name -> written ``manifest.json`` content.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    configs = plan_configs(manifest, family)
    registry = get_registry()
    if manifest.corrupt is None or not configs:
        prepare_output(out, [out / "stage.json"], what="corrupt output folder")
        atomic_write_json(out / "stage.json", {"family": family, "configs": []})
        return {}
    depth_model = dict(manifest.corrupt.depth_model) if manifest.corrupt.depth_model else None
    model_id = None
    if depth_model is not None and any("depth" in registry[c[1]].needs for c in configs):
        model_path = Path(depth_model["path"])
        if not model_path.is_file():
            raise BenchsmithError(
                f"corrupt.depth_model.path {model_path} not found (benchsmith never downloads "
                "models); fix the path or use corrupt.depth: pseudo"
            )
        model_id = [depth_model, file_digest(model_path, "sha256")]
    tasks: list[tuple[Any, ...]] = []
    meta: dict[str, dict[str, Any]] = {}
    for spec_src in manifest.sources:
        clean_dir = Path(clean_root) / manifest.clean_config(spec_src)
        clean_meta = read_config_manifest(clean_dir)
        names = datasets.Features.from_dict(clean_meta["features"])["label"].names
        has_depth = "depth" in clean_meta["features"]
        shards = list_shards(clean_dir)
        for cfg, name, sev in configs:
            spec = registry[name]
            config = cfg if len(manifest.sources) == 1 else f"{spec_src.name}-{cfg}"
            cdir = contained(out, config, key=f"{manifest.path}: corrupt config_name")
            keep = set()
            for split_shards in shards.values():
                for shard in split_shards:
                    clean_sha = _sha_of(clean_meta, shard.name)
                    task_fp = fingerprint([clean_sha, name, sev, manifest.corrupt.preset,
                                           manifest.corrupt.rounding, manifest.corrupt.depth,
                                           model_id, manifest.seed, code_version()])
                    keep.add(shard.name)
                    tasks.append((str(shard), str(cdir / shard.name), name, sev,
                                  manifest.corrupt.preset, manifest.corrupt.rounding,
                                  manifest.corrupt.depth, manifest.seed, task_fp, depth_model))
            table = next(iter(spec.tables.values()))
            meta[config] = {
                "dir": cdir,
                "features": build_features(names, corruption=True, depth=has_depth),
                "extra": {
                    "kind": "corruption",
                    "benchmark": manifest.name,
                    "corruption": name,
                    "family": spec.family,
                    "severity": sev,
                    "preset": manifest.corrupt.preset,
                    "rounding": manifest.corrupt.rounding,
                    "stochastic": spec.stochastic,
                    "suites": sorted(spec.suites),
                    "reference": spec.reference,
                    "clean_config": clean_dir.name,
                    "seed": manifest.seed,
                    "code_version": code_version(),
                    "description": (
                        f"`{name}` at severity {sev} applied to `{clean_dir.name}` "
                        f"(preset {manifest.corrupt.preset}; parameters from {table.source}; "
                        f"reproduces {spec.reference or 'benchsmith original'})."
                    ),
                },
            }
    planned = [out / "stage.json", *(m["dir"] / "manifest.json" for m in meta.values())]
    planned += [f for t in tasks for f in task_files(Path(t[1]).parent, Path(t[1]).name)]
    prepare_output(out, planned, what="corrupt output folder")
    atomic_write_json(out / "stage.json", {"family": family, "configs": sorted(meta)})
    records = run_tasks(corrupt_shard, tasks, scheduler=scheduler, workers=workers,
                        desc=f"corrupt {family or 'all'}", progress=progress)
    by_config: dict[str, list[dict[str, Any]]] = {}
    for task, rec in zip(tasks, records, strict=True):
        by_config.setdefault(Path(task[1]).parent.name, []).append(rec)
    results = {}
    for config, info in meta.items():
        results[config] = write_config_manifest(
            info["dir"], config=config, features=info["features"],
            shards=by_config.get(config, []), extra=info["extra"],
        )
    return results


def _sha_of(clean_meta: dict[str, Any], shard: str) -> str:
    for split in clean_meta["splits"].values():
        for s in split["shards"]:
            if s["file"] == shard:
                return str(s["sha256"])
    raise BenchsmithError(f"clean manifest does not list shard {shard}; rerun `benchsmith pull`")


def main(argv: list[str] | None = None) -> int:
    """``benchsmith corrupt``: apply the manifest's corruption suites to the clean shards."""
    from pipeline.manifest import load_manifest
    from pipeline.stage import add_common_args

    parser = argparse.ArgumentParser(prog="benchsmith corrupt", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--clean", required=True, help="folder written by `benchsmith pull`")
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per config)")
    parser.add_argument("--family", default=None, help="only this registry family")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    res = corrupt(manifest, Path(args.clean), Path(args.out), family=args.family,
                  scheduler=args.scheduler, workers=args.workers, progress=not args.no_progress)
    print(f"corrupt {args.family or 'all'}: wrote {len(res)} configs to {args.out}")
    return 0
