"""The ``pull`` stage: read a manifest's sources into clean Parquet shards.

Output: ``<out>/<config>/{split}-{i:05d}-of-{n:05d}.parquet`` plus
``manifest.json`` per config (``clean``, or ``<source name>-clean`` when a
manifest has several sources). Rows keep source order; ``sample_id`` is
``<source name>/<split>/<original key>``. Unreadable rows are quarantined in
the manifest's ``rejects`` table with their reason and counted.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pipeline.manifest import Manifest, SourceSpec
from pipeline.parallel import run_tasks
from pipeline.preprocess import preprocess_image  # torchvision-era Resize/CenterCrop
from pipeline.schema import build_features
from pipeline.shards import (
    encode_png,
    fingerprint,
    record_shard,
    shard_done,
    shard_name,
    write_config_manifest,
    write_shard,
)
from pipeline.sources import Rejected, make_source
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
    done = shard_done(out.parent, out.name, task_fp)
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
    sha = write_shard(out, cols, datasets.Features.from_dict(features))
    record = {
        "split": split,
        "file": out.name,
        "num_rows": len(cols["sample_id"]),
        "sha256": sha,
        "rejects": rejects,
        "images": sorted(signatures),
        "fingerprint": task_fp,
    }
    record_shard(out.parent, out.name, record)
    return record


def _plan(
    spec: SourceSpec, manifest: Manifest, out: Path, shard_size: int
) -> tuple[list[tuple], Any]:
    src = make_source(spec.source, spec.options, where=f"{manifest.path}: source {spec.name}")
    names = src.class_names()
    features = build_features(names, depth=src.has_depth())
    config_dir = out / manifest.clean_config(spec)
    tasks = []
    for split in spec.splits:
        src.check_split(split)
        n = src.num_rows(split)
        if spec.limit is not None:
            n = min(n, spec.limit)
        count = max(1, math.ceil(n / shard_size))
        for i in range(count):
            start, stop = i * shard_size, min(n, (i + 1) * shard_size)
            path = config_dir / shard_name(split, i, count)
            task_fp = fingerprint(
                [spec.source, dict(spec.options), spec.name, split, start, stop, count,
                 dict(spec.preprocess), code_version()]
            )
            tasks.append(
                (spec.source, dict(spec.options), spec.name, split, start, stop, str(path),
                 features.to_dict(), task_fp, dict(spec.preprocess))
            )
    return tasks, (src, features, config_dir)


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
    results = {}
    for spec in manifest.sources:
        tasks, (src, features, config_dir) = _plan(spec, manifest, Path(out), shard_size)
        _remove_stale(config_dir, {Path(t[6]).name for t in tasks})
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
                "images": signatures,
                "seed": manifest.seed,
                "params": {"shard_size": shard_size},
                "code_version": code_version(),
                "manifest": manifest.raw,
            },
        )
    return results


def _remove_stale(config_dir: Path, keep: set[str]) -> None:
    """Delete shard files a previous run left that this plan no longer writes."""
    if config_dir.is_dir():
        for p in config_dir.glob("*.parquet"):
            if p.name not in keep:
                p.unlink()


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by the stage commands."""
    parser.add_argument("--manifest", required=True, help="benchmark manifest (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="override a manifest value (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="override the manifest seed")
    parser.add_argument("--scheduler", default="threads",
                        help="sync | threads | processes | local | tcp://host:port")
    parser.add_argument("--workers", type=int, default=2, help="workers for local schedulers")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--optional", action="store_true",
                        help="if the manifest lacks this stage's section, write an empty output "
                        "with a note and exit 0 (how dvc.yaml runs stages a manifest may not use)")


def skip_outputs(
    stage: str,
    manifest_path: str,
    *,
    json_paths: list[Path | None] = (),  # type: ignore[assignment]
    png_paths: list[Path | None] = (),  # type: ignore[assignment]
    html_paths: list[Path | None] = (),  # type: ignore[assignment]
) -> None:
    """Write the side outputs (metrics, plot, report) of a skipped ``--optional`` stage.

    Each says, in its own format, that the manifest has no section for the stage.
    """
    from PIL import Image, ImageDraw

    from pipeline.shards import atomic_write_bytes, atomic_write_json

    note = f"{manifest_path} has no `{stage}:` section; nothing to do"
    for p in json_paths:
        if p is not None:
            atomic_write_json(Path(p), {"stage": stage, "skipped": note})
    for p in html_paths:
        if p is not None:
            atomic_write_bytes(
                Path(p), f"<!doctype html><title>{stage}</title><p>{note}</p>\n".encode()
            )
    for p in png_paths:
        if p is not None:
            img = Image.new("RGB", (8 * len(note) + 16, 32), "white")
            ImageDraw.Draw(img).text((8, 10), note, fill="black")
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            img.save(p)


def skip_stage(out: Path, stage: str, manifest_path: str) -> int:
    """Write the marker of a stage the manifest does not use and return exit status 0.

    DVC needs every stage's outputs to exist, so ``--optional`` stages leave
    ``<out>/stage.json`` saying why they did nothing.
    """
    from pipeline.shards import atomic_write_json

    note = f"{manifest_path} has no `{stage}:` section; nothing to do"
    atomic_write_json(Path(out) / "stage.json", {"stage": stage, "skipped": note, "configs": []})
    print(f"{stage}: {note}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``benchsmith pull``: pull a manifest's sources into clean shards."""
    from pipeline.manifest import load_manifest

    parser = argparse.ArgumentParser(prog="benchsmith pull", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--out", required=True, help="output folder, e.g. data/pulled")
    parser.add_argument("--shard-size", type=int, default=2000, help="rows per shard")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    res = pull(manifest, Path(args.out), scheduler=args.scheduler, workers=args.workers,
               shard_size=args.shard_size, progress=not args.no_progress)
    for name, m in res.items():
        rows = {s: v["num_rows"] for s, v in m["splits"].items()}
        print(f"pulled {name}: {rows} rows, {m['rejects']['count']} rejected")
    return 0
