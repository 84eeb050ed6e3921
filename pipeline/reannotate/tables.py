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
            try:
                t, _ = read_shard(p, [c for c in columns if c != "split"] if columns else None)
                if "split" not in t.column_names:
                    t = t.append_column("split", pa.array([split] * t.num_rows, pa.string()))
                tables.append(t.select(list(columns)) if columns else t)
            except (pa.ArrowException, OSError, KeyError) as exc:  # KeyError: a missing column
                raise BenchsmithError(f"{p}: unreadable shard or missing column ({exc}); rerun "
                                      "the stage that writes it, or `benchsmith validate` the "
                                      "build") from exc
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
        BenchsmithError: Missing or non-Parquet file, missing column, a column of the wrong
            type or with nulls (no float or string prediction is rounded or parsed), no rows,
            bad class index, probabilities outside [0, 1], ragged or not summing to 1, a
            prediction that is not the argmax of its probs, duplicate (model, config,
            sample_id).

    """
    p = Path(path)
    if not p.is_file():
        raise BenchsmithError(f"predictions file {p} not found")
    try:
        t = pq.read_table(p)
    except (pa.ArrowException, OSError) as exc:
        raise BenchsmithError(f"{p}: not a Parquet predictions file ({exc}); write it with "
                              "`benchsmith evaluate` or pyarrow") from exc
    cols = set(t.column_names)
    if "sample_id" not in cols or not cols & {"prediction", "probs"}:
        raise BenchsmithError(
            f"{p}: needs columns sample_id and prediction and/or probs; has {sorted(cols)}")
    n = t.num_rows
    if not n:
        raise BenchsmithError(f"{p}: holds no predictions (0 rows)")
    _check_column_types(p, t)
    probs = None
    if "probs" in cols:
        probs = _probs_matrix(p, t["probs"], num_classes)
    if "prediction" in cols:
        pred = t["prediction"].to_numpy().astype(np.int64)
        if probs is not None:
            wrong = np.flatnonzero(probs[np.arange(n), np.clip(pred, 0, probs.shape[1] - 1)]
                                   < probs.max(axis=1))
            if wrong.size:
                i = int(wrong[0])
                raise BenchsmithError(
                    f"{p}: prediction is not the argmax of probs on {wrong.size} rows (e.g. row "
                    f"{i}: prediction {pred[i]}, argmax {int(probs[i].argmax())}); write both "
                    "from the same model output")
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


def _check_column_types(p: Path, t: pa.Table) -> None:
    """Refuse column types that would be coerced (float or string predictions, int ids, nulls)."""
    want = {"sample_id": pa.types.is_string, "prediction": pa.types.is_integer,
            "model": pa.types.is_string, "config": pa.types.is_string}
    for name, ok in want.items():
        if name not in t.column_names:
            continue
        typ = t.schema.field(name).type
        if not (ok(typ) or pa.types.is_large_string(typ) and ok is pa.types.is_string):
            kind = "an integer" if name == "prediction" else "a string"
            raise BenchsmithError(f"{p}: column {name} is {typ}, not {kind} column; write "
                                  f"{name} as {kind} (no rounding or casting is done here)")
        if name != "config" and t[name].null_count:
            raise BenchsmithError(f"{p}: column {name} has {t[name].null_count} null rows")


def _probs_matrix(p: Path, col: pa.ChunkedArray, num_classes: int | None) -> np.ndarray:
    """Return ``probs`` as a (rows, classes) float32 matrix; every row must be a distribution."""
    typ = col.type
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)) or not pa.types.is_floating(
            typ.value_type):
        raise BenchsmithError(f"{p}: probs is {typ}; expected a list of floats per row")
    if col.null_count:
        raise BenchsmithError(f"{p}: probs is null on {col.null_count} rows")
    lengths = set(pc.unique(pc.list_value_length(col)).to_pylist())
    if len(lengths) != 1 or (num_classes is not None and lengths != {num_classes}):
        raise BenchsmithError(f"{p}: probs must be (rows, {num_classes}); rows have lengths "
                              f"{sorted(lengths)}")
    flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
    probs = np.asarray(flat, np.float32).reshape(len(col), lengths.pop())
    bad = ~np.isfinite(probs) | (probs < 0) | (probs > 1 + 1e-6)
    if bad.any():
        i, j = (int(v[0]) for v in np.nonzero(bad))
        raise BenchsmithError(f"{p}: probs of row {i} hold {probs[i, j]} at class {j}, outside "
                              "[0, 1]; pass softmax probabilities")
    sums = probs.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        i = int(np.argmax(np.abs(sums - 1)))
        raise BenchsmithError(f"{p}: probs of row {i} sum to {sums[i]:.4f}, not 1; pass softmax")
    return probs
