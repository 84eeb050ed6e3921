"""Data in and out of the ``shift`` stage: clean rows, the reference/pool split, shard writing.

:func:`load_clean` decodes one split of a ``benchsmith pull`` config,
:func:`split_rows` assigns rows to the reference (training) side by a seed-keyed
hash of ``sample_id``, and :func:`write_result` writes one shifted (or training)
set as a single-shard split through the shard helpers (resumable by fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pipeline.errors import ManifestError
from pipeline.schema import build_features
from pipeline.shards import (
    encode_png,
    list_shards,
    read_shard,
    record_shard,
    shard_done,
    shard_name,
    write_shard,
)
from pipeline.shift_section import ShiftEntry

__all__ = ["load_clean", "split_rows", "shift_features", "write_result"]


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
    images: list[np.ndarray] = []
    names = None
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


def shift_features(names: list[str]) -> datasets.Features:
    """Return the shift configs' features: the clean schema plus shift, intensity, origin, info."""
    feats = build_features(names)
    feats["shift"] = datasets.Value("string")
    feats["intensity"] = datasets.Value("float32")
    feats["origin"] = datasets.Value("string")
    feats["shift_info"] = datasets.Value("string")
    return feats


def write_result(
    out_dir: Path,
    split: str,
    result: Any,
    entry: ShiftEntry,
    knob: float | None,
    meta: dict[str, dict[str, Any]],
    features: datasets.Features,
    task_fp: str,
) -> dict:
    """Write ``result`` as the one shard of ``split`` in ``out_dir`` (or return the done record).

    Real rows keep the source/split/key of the clean row they came from (``meta``);
    synthetic rows get ``<shift>/<config>/<i>`` ids and ``<shift>-<decoder>`` as source.
    """
    name = shard_name(split, 0, 1)
    done = shard_done(out_dir, name, task_fp)
    if done is not None:
        return done
    config = out_dir.name
    # synthetic rows name the decoder that made them (the default is PPCA)
    decoder = entry.params.get("decoder", "ppca")
    if isinstance(decoder, dict):  # a user's diffusion denoiser: {model: path, ...}
        decoder = "diffusion"
    cols: dict[str, list[Any]] = {c: [] for c in features}
    for i, (img, lab, org, info) in enumerate(
        zip(result.images, result.labels, result.origin, result.info, strict=True)
    ):
        row = meta.get(org)
        cols["sample_id"].append(org or f"{entry.shift}/{config}/{i:06d}")
        cols["image"].append({"bytes": encode_png(img), "path": None})
        cols["label"].append(int(lab))
        cols["source"].append(row["source"] if row else f"{entry.shift}-{decoder}")
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
