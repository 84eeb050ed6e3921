"""Parquet shards: names, atomic writes, reads, and the per-config ``manifest.json``.

Shard files are named ``{split}-{i:05d}-of-{n:05d}.parquet`` (the Hugging Face
convention) and carry the :mod:`datasets` features in their schema metadata.
Every file is written to a temporary name in the same folder and renamed into
place, so a crash never leaves a partial file under a final name. A finished
shard's task fingerprint is recorded in ``.tasks/<shard>.json``; a rerun skips
shards whose fingerprint and checksum still match (a crashed stage resumes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.download import file_digest
from pipeline.errors import BenchsmithError, SourceError
from pipeline.schema import arrow_schema, features_from_arrow

__all__ = [
    "SHARD_RE",
    "shard_name",
    "encode_png",
    "atomic_write_bytes",
    "atomic_write_json",
    "fingerprint",
    "write_shard",
    "read_shard",
    "shard_done",
    "row_group_rows",
    "write_config_manifest",
    "read_config_manifest",
    "list_shards",
]

SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_.]+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")
ROW_GROUP_BYTES = 32 << 20  # aim for ~32 MiB row groups
MANIFEST = "manifest.json"


def shard_name(split: str, index: int, count: int) -> str:
    """Return ``{split}-{index:05d}-of-{count:05d}.parquet``.

    Example:
        >>> shard_name("test", 0, 3)
        'test-00000-of-00003.parquet'
    """
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside 0..{count - 1}")
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def encode_png(image: np.ndarray) -> bytes:
    """Encode uint8 gray (H, W)/(H, W, 1), RGB or RGBA pixels (or uint16 gray) as PNG bytes.

    The lossless default of :mod:`pipeline.encoding` (OpenCV, zlib RLE strategy);
    the bytes depend only on the pixels and the OpenCV build.

    Args:
        image: uint8 (or uint16 gray) array.

    Returns:
        PNG file bytes.
    """
    from pipeline.encoding import PNG_FAST, encode_image

    return encode_image(image, PNG_FAST)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and :func:`os.replace`.

    Raises:
        BenchsmithError: ``path`` is a folder (an ``--out``/``--json`` that names a folder).
    """
    path = Path(path)
    if path.is_dir():
        raise BenchsmithError(f"{path} is a folder; give a file path to write")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (FileExistsError, NotADirectoryError) as exc:  # a parent of path is a file
        raise BenchsmithError(f"cannot write {path}: {exc}; a parent folder is a file") from exc


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (insertion order kept: feature order matters), atomically."""
    atomic_write_bytes(Path(path), (json.dumps(obj, indent=2) + "\n").encode())


def fingerprint(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (the identity of a shard task)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def row_group_rows(columns: Mapping[str, Any]) -> int:
    """Rows per row group so that a group holds about 32 MiB of image bytes (>= 100 rows)."""
    images = columns.get("image", [])
    n = len(images)
    if n == 0:  # no image column (labels, votes, slices): one group of all rows
        return max(1, max((len(v) for v in columns.values()), default=1))
    if isinstance(images, pa.StructArray | pa.ChunkedArray):
        lengths = pc.binary_length(pc.struct_field(images, "bytes"))
        total = int(pc.sum(lengths).as_py() or 0)
    else:
        total = sum(len(x["bytes"]) if isinstance(x, dict) else 0 for x in images)
    per_row = max(1, total // n)
    return max(100, min(n, ROW_GROUP_BYTES // per_row))


class _HashingFile:
    """A binary file wrapper that feeds every written byte to sha256 (hash while writing)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._pos = 0
        self.sha = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self._fh.write(view)
        self._pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        self._fh.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def write_shard(
    path: Path, columns: Mapping[str, Any], features: datasets.Features
) -> str:
    """Write one shard atomically and return its sha256, hashed while writing.

    Args:
        path: Final shard path.
        columns: Column name -> values (Python lists or Arrow arrays), in
            ``features`` order; ``image`` values are ``{"bytes": png, "path": None}``
            dicts (or an Arrow struct array of that type).
        features: The shard's features (embedded in the schema metadata).

    Returns:
        The sha256 hex digest of the written file (computed from the bytes as
        they were written, no re-read).
    """
    schema = arrow_schema(features)
    missing = [c for c in schema.names if c not in columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing for features {list(features)}")
    table = pa.Table.from_pydict({c: columns[c] for c in schema.names}, schema=schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        sink = _HashingFile(fh)
        pq.write_table(
            table,
            sink,
            row_group_size=row_group_rows(columns),
            compression="zstd",
            write_statistics=["sample_id", "label"],
        )
    os.replace(tmp, path)
    return sink.sha.hexdigest()


def read_shard(
    path: Path, columns: Sequence[str] | None = None
) -> tuple[pa.Table, datasets.Features]:
    """Read a shard (optionally some columns) and its embedded features."""
    pf = pq.ParquetFile(path)
    features = features_from_arrow(pf.schema_arrow)
    return pf.read(columns=list(columns) if columns else None), features


def _task_record(out_dir: Path, name: str) -> Path:
    return out_dir / ".tasks" / f"{name}.json"


def shard_done(out_dir: Path, name: str, task_fp: str) -> dict[str, Any] | None:
    """Return the record of a finished shard if it can be reused, else ``None``.

    A shard is reused when its task record has the same fingerprint and the file
    on disk still has the recorded sha256.
    """
    rec_path = _task_record(out_dir, name)
    shard = out_dir / name
    if not (rec_path.is_file() and shard.is_file()):
        return None
    try:
        rec = json.loads(rec_path.read_text())
    except json.JSONDecodeError:
        return None
    if rec.get("fingerprint") != task_fp:
        return None
    if file_digest(shard, "sha256") != rec.get("sha256"):
        return None
    return rec


def record_shard(out_dir: Path, name: str, record: Mapping[str, Any]) -> None:
    """Record a finished shard task (fingerprint, sha256, rows, rejects)."""
    atomic_write_json(_task_record(out_dir, name), dict(record))


def list_shards(config_dir: Path) -> dict[str, list[Path]]:
    """Shard files of a config folder grouped by split, sorted by index."""
    out: dict[str, list[Path]] = {}
    for p in sorted(Path(config_dir).glob("*.parquet")):
        m = SHARD_RE.match(p.name)
        if m:
            out.setdefault(m.group("split"), []).append(p)
    return out


def write_config_manifest(
    config_dir: Path,
    *,
    config: str,
    features: datasets.Features,
    shards: Iterable[Mapping[str, Any]],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Write ``manifest.json`` for one config folder.

    Args:
        config_dir: The folder holding the config's shards.
        config: Config name.
        features: The config's features.
        shards: Records with ``split``, ``file``, ``num_rows``, ``sha256`` and ``rejects``.
        extra: Anything else to record (benchmark manifest, params, code version, provenance).

    Returns:
        The manifest dict that was written.
    """
    splits: dict[str, dict[str, Any]] = {}
    rejects: list[dict[str, Any]] = []
    for rec in sorted(shards, key=lambda r: (r["split"], r["file"])):
        s = splits.setdefault(rec["split"], {"num_rows": 0, "shards": []})
        s["num_rows"] += rec["num_rows"]
        s["shards"].append({k: rec[k] for k in ("file", "num_rows", "sha256")})
        rejects.extend(rec.get("rejects", []))
    manifest = {
        "config": config,
        "features": features.to_dict(),
        "splits": splits,
        "rejects": {"count": len(rejects), "rows": rejects},
        **dict(extra),
    }
    atomic_write_json(Path(config_dir) / MANIFEST, manifest)
    return manifest


def read_config_manifest(config_dir: Path) -> dict[str, Any]:
    """Read a config folder's ``manifest.json`` (clear error when missing)."""
    path = Path(config_dir) / MANIFEST
    if not path.is_file():
        raise SourceError(f"{path} is missing; the stage that writes it did not finish: rerun it")
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{path}: not JSON ({exc}); rerun the stage that writes it") from exc
    if not isinstance(meta, dict):
        raise SourceError(f"{path}: expected a JSON object, got {type(meta).__name__}; rerun the "
                          "stage that writes it")
    return meta
