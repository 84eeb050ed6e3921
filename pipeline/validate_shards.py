"""The per-shard half of ``benchsmith validate`` (one dask task per shard).

For one shard: sha256 and row count against ``manifest.json``, features embedded
in the Parquet metadata against the manifest, labels in range, and every image
decoding in the declared encoding (``manifest.json`` ``encoding.format``, PNG when
absent: magic bytes, then a full decode) at the size the clean config declared.

A derived config is checked against its clean config (``parent``):

* ``same-rows`` (corruption configs): the clean shard of the same name has the
  same ``sample_id`` s and labels, row for row, and the provenance columns
  (``corruption``, ``severity``, ``seed``, ``code_version``) equal the manifest;
* ``subset`` (slice, labels and audit configs): every ``sample_id`` is a clean
  row and keeps its clean label;
* ``shift``: rows with an ``origin`` are clean rows (``sample_id == origin``)
  and, for shifts that preserve labels, keep the clean label.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq

from pipeline.download import file_digest
from pipeline.errors import SourceError
from pipeline.schema import features_from_arrow
from pipeline.sources.hf import decode_image
from pipeline.validate_report import Problem

__all__ = ["MAGIC", "image_format", "Findings", "check_shard"]

#: Leading bytes of each encoding ``manifest.json`` may declare.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
}
MAX_PER_SHARD = 20  # findings of one check listed per shard (the rest are counted)


def image_format(data: bytes) -> str:
    r"""Name the encoding of image bytes from their magic bytes (``"unknown"`` if none).

    Example:
        >>> image_format(b"\x89PNG\r\n\x1a\n....")
        'png'
    """
    for fmt, magics in MAGIC.items():
        if data.startswith(magics):
            return fmt
    return "unknown"


def _stamp(path: str) -> tuple[str, int, int]:
    """Cache key of a file: path, size and modification time (a rewritten file misses)."""
    st = Path(path).stat()
    return path, st.st_size, st.st_mtime_ns


def _parent_shard(path: str) -> tuple[list[Any], list[Any]]:
    return _read_ids(_stamp(path))


@lru_cache(maxsize=16)
def _read_ids(stamp: tuple[str, int, int]) -> tuple[list[Any], list[Any]]:
    table = pq.read_table(stamp[0], columns=["sample_id", "label"])
    labels = table["label"].to_pylist() if "label" in table.column_names else []
    return table["sample_id"].to_pylist(), labels


def _parent_map(paths: list[str]) -> dict[Any, Any]:
    return _read_map(tuple(_stamp(p) for p in paths))


@lru_cache(maxsize=4)
def _read_map(stamps: tuple[tuple[str, int, int], ...]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for stamp in stamps:
        ids, labels = _read_ids(stamp)
        out.update(zip(ids, labels, strict=True))
    return out


class Findings:
    """Collects one shard's findings, listing at most ``MAX_PER_SHARD`` per check."""

    def __init__(self, config: str, shard: str) -> None:
        self.config, self.shard = config, shard
        self.problems: list[Problem] = []
        self.counts: dict[str, int] = {}

    def add(self, check: str, message: str, row: int | None = None) -> None:
        """Record a finding about this shard (``row``: 0-based row)."""
        n = self.counts[check] = self.counts.get(check, 0) + 1
        if n <= MAX_PER_SHARD:
            self.problems.append(Problem(check, self.config, message, self.shard, row))

    def close(self) -> list[Problem]:
        """Return the findings, with one count line per check that hit the cap."""
        for check, n in self.counts.items():
            if n > MAX_PER_SHARD:
                self.problems.append(Problem(check, self.config, f"{n - MAX_PER_SHARD} more "
                                             f"{check} findings in this shard", self.shard))
        return self.problems


def check_shard(config: str, path: str, expected_sha: str, expected_rows: int,
                meta: dict[str, Any], images: list[str],
                parent: dict[str, Any] | None) -> dict[str, Any]:
    """Check one shard file (a dask task).

    Args:
        config: Config name (for messages).
        path: The shard file.
        expected_sha: sha256 from ``manifest.json``.
        expected_rows: Row count from ``manifest.json``.
        meta: The config's ``manifest.json`` (``features``, ``kind``, ``encoding``...).
        images: Allowed ``"<mode> <W>x<H>"`` image signatures (empty: any).
        parent: How rows relate to the clean config, see the module docstring.

    Returns:
        ``{"problems", "ids" (unless same-rows), "sha", "checks"}``.
    """
    sink = Findings(config, Path(path).name)
    out: dict[str, Any] = {"ids": [], "sha": "", "checks": 1}
    try:
        _check(sink, out, path, expected_sha, expected_rows, meta, images, parent)
    except Exception as exc:  # noqa: BLE001 - a malformed shard is a finding, never a traceback
        sink.add("readable", f"cannot check the shard: {type(exc).__name__}: {exc}"[:300])
    out["problems"] = sink.close()
    return out


def _check(sink: Findings, out: dict[str, Any], path: str, expected_sha: str, expected_rows: int,
           meta: dict[str, Any], images: list[str], parent: dict[str, Any] | None) -> None:
    sha = out["sha"] = file_digest(Path(path), "sha256")
    if sha != expected_sha:
        sink.add("checksum", f"sha256 {sha[:16]}... != manifest {str(expected_sha)[:16]}...")
    try:
        pf = pq.ParquetFile(path)
        table = pf.read()
        shard_features = features_from_arrow(pf.schema_arrow)
    except Exception as exc:  # noqa: BLE001 - any read failure is a reported problem
        sink.add("readable", f"cannot read Parquet: {exc}"[:300])
        return
    declared = datasets.Features.from_dict(meta["features"])
    out["checks"] += 2
    if shard_features != declared:
        sink.add("schema", "embedded features differ from manifest.json")
    if table.num_rows != expected_rows:
        sink.add("count", f"{table.num_rows} rows, manifest says {expected_rows}")
    cols = set(table.column_names)
    ids = table["sample_id"].to_pylist() if "sample_id" in cols else []
    labels = table["label"].to_pylist() if "label" in cols else None
    if "sample_id" not in cols:
        sink.add("schema", "no sample_id column")
    for col, feat in declared.items():
        if col not in cols:
            continue
        if isinstance(feat, datasets.ClassLabel):
            out["checks"] += 1
            for i, v in enumerate(table[col].to_pylist()):
                if v is None or not 0 <= v < feat.num_classes:
                    sink.add("label-range", f"{col}={v!r} outside 0..{feat.num_classes - 1}", i)
        elif isinstance(feat, datasets.List) and isinstance(feat.feature, datasets.ClassLabel):
            out["checks"] += 1
            n = feat.feature.num_classes
            for i, vs in enumerate(table[col].to_pylist()):
                if vs is None or any(v is None or not 0 <= v < n for v in vs):
                    sink.add("label-range", f"{col}={vs!r} outside 0..{n - 1}", i)
        elif isinstance(feat, datasets.Image) and col == "image":
            out["checks"] += 2
            _check_images(sink, table[col].to_pylist(), meta, images)
    if meta.get("kind") == "labels" and isinstance(declared.get("label"), datasets.ClassLabel):
        out["checks"] += 1
        _check_votes(sink, table, declared["label"].num_classes)
    if parent is not None:
        out["checks"] += 1
        _check_parent(sink, ids, labels, table, meta, parent)
    if parent is None or parent["relation"] != "same-rows":
        out["ids"] = ids


def _check_votes(sink: Findings, table: Any, n: int) -> None:
    """Check a labels config's raw votes name classes in range, counts and agreement sane.

    ``score`` reads the ReaL sets from the raw votes, so a vote for class 99 would be
    scored; ``num_votes`` is a count (>= 0) and ``agreement`` a share in [0, 1] (NaN for
    rows without votes).
    """
    cols = set(table.column_names)
    if "votes" in cols:
        for i, vs in enumerate(table["votes"].to_pylist()):
            for v in vs or []:
                bad = [y for k in ("labels", "offered") for y in (v.get(k) or [])
                       if y is None or not 0 <= y < n]
                if bad or (v.get("given") is not None and not 0 <= v["given"] < n):
                    sink.add("label-range", f"votes: a vote by {v.get('annotator')!r} names "
                             f"class(es) {bad or [v.get('given')]} outside 0..{n - 1}", i)
                    break
    if "num_votes" in cols:
        for i, k in enumerate(table["num_votes"].to_pylist()):
            if k is None or k < 0:
                sink.add("label-range", f"num_votes={k!r}: a vote count must be >= 0", i)
    if "agreement" in cols:
        for i, a in enumerate(table["agreement"].to_pylist()):
            if a is not None and not (a != a or 0.0 <= a <= 1.0):  # NaN: no votes
                sink.add("label-range", f"agreement={a!r} outside [0, 1]", i)


def _check_images(sink: Findings, values: list[Any], meta: dict[str, Any],
                  images: list[str]) -> None:
    encoding = meta.get("encoding") or {}
    fmt = str(encoding.get("format", "png")).lower() if isinstance(encoding, dict) else "?"
    allowed = set(images)
    for i, d in enumerate(values):
        data = d.get("bytes") if isinstance(d, dict) else None
        if not data:
            sink.add("decode", "no image bytes", i)
            continue
        got = image_format(data)
        if got != fmt:
            sink.add("encoding", f"image bytes are {got}, manifest.json declares {fmt}", i)
        try:
            arr = decode_image(data, what=f"row {i}")
        except SourceError as exc:
            sink.add("decode", str(exc)[:300], i)
            continue
        mode = "L" if arr.ndim == 2 else "RGB"
        sig = f"{mode} {arr.shape[1]}x{arr.shape[0]}"
        if allowed and sig not in allowed:
            sink.add("image-size", f"image is {sig}, declared {sorted(allowed)}", i)


def _check_parent(sink: Findings, ids: list[Any], labels: list[Any] | None, table: Any,
                  meta: dict[str, Any], parent: dict[str, Any]) -> None:
    name = parent["config"]
    try:
        if parent["relation"] == "same-rows":
            pids, plabels = _parent_shard(parent["shard"])
        else:
            mapping = _parent_map(parent["shards"])
    except Exception as exc:  # noqa: BLE001 - an unreadable clean shard is reported there too
        sink.add("ids", f"cannot read clean config {name!r} to compare: {exc}"[:300])
        return
    if parent["relation"] == "same-rows":
        if len(pids) != len(ids):
            sink.add("ids", f"{len(ids)} rows, the clean shard of {name} has {len(pids)}")
        for i, (a, b) in enumerate(zip(ids, pids, strict=False)):
            if a != b:
                sink.add("ids", f"sample_id {a!r}, the clean row is {b!r} ({name})", i)
        if labels is not None:
            for i, (a, b, sid) in enumerate(zip(labels, plabels, ids, strict=False)):
                if a != b:
                    sink.add("labels", f"label {a!r} of {sid!r}, {name} has {b!r}", i)
        for col in ("corruption", "severity", "seed", "code_version"):
            if col in table.column_names and col in meta:
                for i, v in enumerate(table[col].to_pylist()):
                    if v != meta[col]:
                        sink.add("ids", f"{col}={v!r}, manifest.json says {meta[col]!r}", i)
        return
    origins = table["origin"].to_pylist() if "origin" in table.column_names else None
    for i, sid in enumerate(ids):
        key = sid
        if parent["relation"] == "shift":
            key = origins[i] if origins is not None else None
            if key is None:
                continue
            if key != sid:
                sink.add("ids", f"sample_id {sid!r} but origin {key!r}", i)
        if key not in mapping:
            sink.add("ids", f"sample_id {key!r} is not a row of {name}", i)
        elif labels is not None and parent.get("labels", True) and labels[i] != mapping[key]:
            sink.add("labels", f"label {labels[i]!r} of {key!r}, {name} has {mapping[key]!r}", i)
