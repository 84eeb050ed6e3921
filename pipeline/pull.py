"""The ``pull`` stage: read a manifest's sources into clean Parquet shards.

Output: ``<out>/<config>/{split}-{i:05d}-of-{n:05d}.parquet`` plus
``manifest.json`` per config (``clean``, or ``<source name>-clean`` when a
manifest has several sources). Rows keep source order; ``sample_id`` is
``<source name>/<split>/<original key>``. Unreadable rows are quarantined in
the manifest's ``rejects`` table with their reason and counted.

The local files a source reads are hashed (sha256, cached by size and mtime) into
every shard task's fingerprint, so editing a source file in place reruns its
shards; they are listed with their hashes in ``<out>/inputs.json`` and in each
clean config's ``manifest.json`` ``inputs``. Planning, resume and ownership of
``<out>`` come from :mod:`pipeline.stage`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pipeline.manifest import Manifest, SourceSpec
from pipeline.parallel import run_tasks
from pipeline.preprocess import preprocess_image  # torchvision-era Resize/CenterCrop
from pipeline.schema import build_features
from pipeline.shards import MANIFEST, atomic_write_json, encode_png, write_config_manifest
from pipeline.sources import Rejected, make_source
from pipeline.stage import (  # the CLI helpers stay importable here for unmoved callers
    add_common_args,
    contained,
    fingerprint,
    finish_shard,
    input_hashes,
    plan_shards,
    prepare_output,
    resume,
    skip_outputs,
    skip_stage,
    task_files,
)
from pipeline.version import code_version

__all__ = [
    "pull",
    "pull_shard",
    "image_signature",
    "add_common_args",
    "skip_stage",
    "skip_outputs",
    "main",
]


def image_signature(image: Any) -> str:
    """``"<mode> <width>x<height>"`` of a uint8 array as PNG will store it (``L`` or ``RGB``)."""
    mode = (
        "L"
        if image.ndim == 2 or image.shape[2] == 1
        else ("RGBA" if image.shape[2] == 4 else "RGB")
    )
    return f"{mode} {image.shape[1]}x{image.shape[0]}"


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Depth values as uint16 (rounded, clipped to 0..65535) for a 16-bit PNG column.

    The unit is the source's (e.g. millimetres); 0 means unknown depth.
    """
    return np.clip(np.rint(np.nan_to_num(depth, nan=0.0)), 0, 65535).astype(np.uint16)


def pull_shard(
    source: str,
    options: dict[str, Any],
    prefix: str,
    split: str,
    start: int,
    stop: int,
    path: str,
    features: dict[str, Any],
    task_fp: str,
    preprocess: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Read rows ``[start, stop)`` of one split and write them as one shard (a dask task).

    Returns:
        The shard record: split, file, num_rows, sha256, rejects, image signatures.
    """
    out = Path(path)
    done = resume(out, task_fp)
    if done is not None:
        return done
    src = make_source(source, options)
    cols: dict[str, list[Any]] = {c: [] for c in datasets.Features.from_dict(features)}

    rejects: list[dict[str, str]] = []
    signatures: set[str] = set()
    for item in src.read(split, start, stop):
        sid = f"{prefix}/{split}/{item.key}"
        if isinstance(item, Rejected):
            rejects.append({"sample_id": sid, "key": item.key, "reason": item.reason})
            continue
        image = preprocess_image(item.image, preprocess or {})
        if "depth" in cols:
            if item.depth is None:
                rejects.append({"sample_id": sid, "key": item.key, "reason": "no depth map"})
                continue
            depth = preprocess_image(encode_depth(item.depth), preprocess or {})
            cols["depth"].append({"bytes": encode_png(depth), "path": None})
        signatures.add(image_signature(image))
        cols["sample_id"].append(sid)
        cols["image"].append({"bytes": encode_png(image), "path": None})
        cols["label"].append(item.label)
        cols["source"].append(prefix)
        cols["split"].append(split)
        cols["key"].append(item.key)
    return finish_shard(out, cols, datasets.Features.from_dict(features), split=split,
                        task_fp=task_fp, rejects=rejects, images=sorted(signatures))


def _plan(
    spec: SourceSpec, index: int, manifest: Manifest, out: Path, shard_size: int
) -> tuple[list[tuple], Any, datasets.Features, Path, list[dict[str, Any]]]:
    """Shard tasks of one source; the fingerprint covers options, rows, code and input bytes."""
    where = f"{manifest.path}: sources[{index}]"
    src = make_source(spec.source, spec.options, where=f"{manifest.path}: source {spec.name}")
    features = build_features(src.class_names(), depth=src.has_depth())
    config_dir = contained(out, manifest.clean_config(spec), key=f"{where} clean config name")
    inputs = input_hashes(src.input_files(spec.splits))
    tasks = []
    for split in spec.splits:
        src.check_split(split)
        n = src.num_rows(split)
        if spec.limit is not None:
            n = min(n, spec.limit)
        for shard in plan_shards(split, n, shard_size):
            task_fp = fingerprint(
                [spec.source, dict(spec.options), spec.name, split, shard.start, shard.stop,
                 shard.count, dict(spec.preprocess), code_version(), inputs]
            )
            tasks.append(
                (spec.source, dict(spec.options), spec.name, split, shard.start, shard.stop,
                 str(config_dir / shard.name), features.to_dict(), task_fp,
                 dict(spec.preprocess))
            )
    return tasks, src, features, config_dir, inputs


def pull(
    manifest: Manifest,
    out: Path,
    *,
    scheduler: str = "threads",
    workers: int = 2,
    shard_size: int = 2000,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Pull every source of ``manifest`` into ``out``; return the config manifests.

    ``out`` must be new, empty or written by benchsmith (its ``.benchsmith`` marker);
    files of an earlier run that this plan no longer writes are removed, anything
    else in it is left alone. ``out/inputs.json`` (and each config's
    ``manifest.json`` ``inputs``) names the local files read with their sha256.

    Args:
        manifest: A validated manifest.
        out: Output folder (one sub-folder per clean config).
        scheduler: dask scheduler (see :mod:`pipeline.parallel`).
        workers: Worker count for local schedulers.
        shard_size: Rows per shard (>= 1).
        progress: Show progress bars.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out)
    plans = [_plan(spec, i, manifest, out, shard_size) for i, spec in enumerate(manifest.sources)]
    planned = [out / "inputs.json"]
    for tasks, _, _, config_dir, _ in plans:
        planned.append(config_dir / MANIFEST)
        planned += [f for t in tasks for f in task_files(config_dir, Path(t[6]).name)]
    prepare_output(out, planned, what="pull output folder")
    results = {}
    for spec, (tasks, src, features, config_dir, inputs) in zip(manifest.sources, plans,
                                                                strict=True):
        records = run_tasks(
            pull_shard, tasks, scheduler=scheduler, workers=workers,
            desc=f"pull {spec.name}", progress=progress,
        )
        signatures = sorted({s for r in records for s in r["images"]})
        results[config_dir.name] = write_config_manifest(
            config_dir,
            config=config_dir.name,
            features=features,
            shards=records,
            extra={
                "kind": "clean",
                "benchmark": manifest.name,
                "source": {"name": spec.name, "source": spec.source, "options": dict(spec.options),
                           "splits": list(spec.splits), "limit": spec.limit,
                           "preprocess": dict(spec.preprocess), **src.describe()},
                "inputs": inputs,
                "images": signatures,
                "seed": manifest.seed,
                "params": {"shard_size": shard_size},
                "code_version": code_version(),
                "manifest": manifest.raw,
            },
        )
    atomic_write_json(out / "inputs.json", {p[3].name: p[4] for p in plans})
    return results


def main(argv: list[str] | None = None) -> int:
    """``benchsmith pull``: pull a manifest's sources into clean shards."""
    from pipeline.manifest import load_manifest

    parser = argparse.ArgumentParser(prog="benchsmith pull", description=main.__doc__)
    add_common_args(parser, shard_size=2000)
    parser.add_argument("--out", required=True, help="output folder, e.g. data/pulled")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    res = pull(manifest, Path(args.out), scheduler=args.scheduler, workers=args.workers,
               shard_size=args.shard_size, progress=not args.no_progress)
    for name, m in res.items():
        rows = {s: v["num_rows"] for s, v in m["splits"].items()}
        print(f"pulled {name}: {rows} rows, {m['rejects']['count']} rejected")
    return 0
