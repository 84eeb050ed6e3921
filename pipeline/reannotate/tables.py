"""Reading config folders and prediction files, shared by reannotate, slices, review and score.

A *build* is one or more folders holding config folders (each with shards and
``manifest.json``): a published benchmark folder, or the stage output folders
(``data/pulled``, ``data/reannotate``, ...). Configs are found by their
``manifest.json`` ``kind``; rows are joined on ``sample_id``.

Prediction files are Parquet with ``sample_id`` (string) and ``prediction`` (int)
and/or ``probs`` (list of float, one per class; ``prediction`` defaults to its argmax),
optionally ``model`` (string) and ``config`` (the config the image came from, e.g.
``fog_3``; default: the clean config).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.errors import BenchsmithError
from pipeline.shards import list_shards, read_config_manifest, read_shard

__all__ = ["find_configs", "read_config", "class_names", "read_predictions", "pick_config"]


def find_configs(roots: Sequence[str | Path]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Config name -> (folder, manifest) for every config folder under ``roots``.

    Raises:
        BenchsmithError: A root is missing, or two roots hold configs with the same name.

    """
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise BenchsmithError(f"{root} is not a folder; pass a build or stage output folder")
        cands = [root] if (root / "manifest.json").is_file() else sorted(
            p for p in root.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
        for d in cands:
            meta = read_config_manifest(d)
            name = str(meta.get("config", d.name))
            if name in out and out[name][0] != d:
                raise BenchsmithError(f"config {name!r} is in both {out[name][0]} and {d}")
            out[name] = (d, meta)
    return out


def pick_config(
    configs: dict[str, tuple[Path, dict[str, Any]]], kind: str, name: str | None = None
) -> tuple[str, Path, dict[str, Any]]:
    """Return the config of ``kind`` (named ``name``, or the only one of that kind).

    Raises:
        BenchsmithError: None or several match (the message lists them).

    """
    match = {n: v for n, v in configs.items() if v[1].get("kind") == kind}
    if name is not None:
        if name not in match:
            raise BenchsmithError(
                f"no {kind} config named {name!r}; {kind} configs: {sorted(match)}")
        return name, *match[name]
    if len(match) != 1:
        raise BenchsmithError(
            f"expected exactly one {kind!r} config, found {sorted(match)}; name the one to use"
        )
    n, (d, m) = next(iter(match.items()))
    return n, d, m


def read_config(config_dir: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """All shards of a config folder as one table (with a ``split`` column if it has none)."""
    tables = []
    for split, paths in sorted(list_shards(config_dir).items()):
        for p in paths:
            t, _ = read_shard(p, [c for c in columns if c != "split"] if columns else None)
            if "split" not in t.column_names:
                t = t.append_column("split", pa.array([split] * t.num_rows, pa.string()))
            tables.append(t.select(list(columns)) if columns else t)
    if not tables:
        raise BenchsmithError(f"{config_dir} holds no shards; rerun the stage that writes it")
    return pa.concat_tables(tables, promote_options="default")


def class_names(meta: dict[str, Any]) -> list[str]:
    """Return the class names of a config's ``label`` column."""
    feats = datasets.Features.from_dict(meta["features"])
    if "label" not in feats:
        raise BenchsmithError(f"config {meta.get('config')!r} has no label column")
    return list(feats["label"].names)


def read_predictions(path: str | Path, num_classes: int | None = None) -> pa.Table:
    """Read and validate a predictions file.

    Returns:
        Columns ``sample_id``, ``prediction`` (int64), ``model``, ``config`` (null = clean) and
        ``probs`` (list<float32>, null when absent).

    Raises:
        BenchsmithError: Missing file or column, bad class index, probabilities that do not
            sum to 1, duplicate (model, config, sample_id).

    """
    p = Path(path)
    if not p.is_file():
        raise BenchsmithError(f"predictions file {p} not found")
    t = pq.read_table(p)
    cols = set(t.column_names)
    if "sample_id" not in cols or not cols & {"prediction", "probs"}:
        raise BenchsmithError(
            f"{p}: needs columns sample_id and prediction and/or probs; has {sorted(cols)}")
    n = t.num_rows
    probs = None
    if "probs" in cols:
        probs = np.asarray(t["probs"].to_pylist(), dtype=np.float32)
        if probs.ndim != 2 or (num_classes is not None and probs.shape[1] != num_classes):
            raise BenchsmithError(f"{p}: probs must be (rows, {num_classes}); got {probs.shape}")
        sums = probs.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-3):
            i = int(np.argmax(np.abs(sums - 1)))
            raise BenchsmithError(
                f"{p}: probs of row {i} sum to {sums[i]:.4f}, not 1; pass softmax")
    if "prediction" in cols:
        pred = t["prediction"].to_numpy().astype(np.int64)
    else:
        pred = probs.argmax(axis=1)  # type: ignore[union-attr]
    if num_classes is not None and n and (pred.min() < 0 or pred.max() >= num_classes):
        raise BenchsmithError(f"{p}: predictions outside 0..{num_classes - 1}")

    def col(name: str) -> pa.Array:
        return t[name].cast(pa.string()) if name in cols else pa.nulls(n, pa.string())

    out = pa.table({
        "sample_id": t["sample_id"].cast(pa.string()),
        "prediction": pa.array(pred, pa.int64()),
        "model": pc.fill_null(col("model"), "model"),
        "config": col("config"),
        "probs": pa.array(list(probs), pa.list_(pa.float32())) if probs is not None
        else pa.nulls(n, pa.list_(pa.float32())),
    })
    keys = pc.binary_join_element_wise(out["model"], pc.fill_null(out["config"], ""),
                                       out["sample_id"], "\x00")
    if pc.count_distinct(keys).as_py() != n:
        raise BenchsmithError(f"{p}: duplicate (model, config, sample_id) rows")
    return out
