"""Local files: Parquet in the Hugging Face layout and ``imagefolder`` trees.

* ``parquet``: local Parquet files in the Hugging Face layout (an ``Image``
  struct column and a ``ClassLabel`` column, features in the schema metadata).
* ``imagefolder``: ``root/<class name>/<file>`` trees; class names are the
  sorted folder names. A file that does not decode is quarantined with its
  path and the decoder's message, never dropped silently.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.decode import decode_image, read_depth_png
from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["ParquetSource", "ImageFolderSource", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


@dataclass(eq=False)
class ParquetSource(Source):
    """Local Parquet in the Hugging Face layout; ``files`` maps split -> glob pattern."""

    files: dict[str, str]
    image_column: str = "image"
    label_column: str = "label"
    key: str = "parquet"
    names: list[str] | None = None
    depth_column: str | None = None

    def has_depth(self) -> bool:
        """See :meth:`Source.has_depth` (true when ``depth_column`` is given)."""
        return self.depth_column is not None

    def _paths(self, split: str) -> list[str]:
        self.check_split(split)
        paths = sorted(glob.glob(self.files[split]))
        if not paths:
            raise SourceError(f"split {split!r}: no file matches {self.files[split]!r}")
        return paths

    @lru_cache(maxsize=4)  # noqa: B019 - sources live for one stage run
    def _table(self, split: str) -> pa.Table:
        tables = [pq.read_table(p) for p in self._paths(split)]
        for p, t in zip(self._paths(split), tables, strict=True):
            for col in (self.image_column, self.label_column, self.depth_column):
                if col is not None and col not in t.column_names:
                    raise SourceError(
                        f"{p}: no column {col!r} (columns: {t.column_names}); set "
                        f"`image_column`/`label_column` in the source options"
                    )
        return pa.concat_tables(tables)

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        if self.names:
            return list(self.names)
        first = self._paths(self.splits()[0])[0]
        meta = pq.read_schema(first).metadata or {}
        try:
            feats = json.loads(meta[b"huggingface"])["info"]["features"]
            return list(feats[self.label_column]["names"])
        except (KeyError, TypeError) as exc:
            raise SourceError(
                f"{first}: no ClassLabel names for column {self.label_column!r} in the Hugging "
                "Face metadata; give them with `class_names:` in the source options"
            ) from exc

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self.files)

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        return self._table(split).num_rows

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        table = self._table(split).slice(start, max(0, stop - start))
        n_classes = len(self.class_names())
        images = table[self.image_column].to_pylist()
        labels = table[self.label_column].to_pylist()
        depths = (
            table[self.depth_column].to_pylist() if self.depth_column else [None] * len(labels)
        )
        for j, (img, lab) in enumerate(zip(images, labels, strict=True)):
            i = start + j
            if lab is None or not 0 <= int(lab) < n_classes:
                yield Rejected(str(i), f"row {i}: label {lab!r} outside 0..{n_classes - 1}")
                continue
            data = img.get("bytes") if isinstance(img, dict) else img
            try:
                pixels = decode_image(data, path=img.get("path") if isinstance(img, dict) else None,
                                      what=f"{self.files[split]} row {i}")
            except SourceError as exc:
                yield Rejected(str(i), str(exc))
                continue
            depth = None
            if self.depth_column:
                d = depths[j]
                try:
                    depth = read_depth_png(None, d.get("bytes") if isinstance(d, dict) else d)
                except (SourceError, AttributeError, TypeError) as exc:
                    yield Rejected(str(i), f"row {i}: depth column {self.depth_column!r}: {exc}")
                    continue
            yield Example(str(i), pixels, int(lab), depth)


@dataclass(eq=False)
class ImageFolderSource(Source):
    """``root/<split>/<class>/<file>`` (or ``root/<class>/<file>`` as split ``train``)."""

    root: str
    depth_root: str | None = None
    key: str = "imagefolder"

    def has_depth(self) -> bool:
        """See :meth:`Source.has_depth` (true when ``depth_root`` is given)."""
        return self.depth_root is not None

    def _depth(self, split_dir: Path, rel: str) -> np.ndarray:
        sub = split_dir.relative_to(Path(self.root))  # "." or the split folder
        return read_depth_png(Path(self.depth_root or "") / sub / Path(rel).with_suffix(".png"))

    @lru_cache(maxsize=1)  # noqa: B019
    def _layout(self) -> dict[str, tuple[Path, list[tuple[str, str]]]]:
        root = Path(self.root)
        if not root.is_dir():
            raise SourceError(f"imagefolder root {root} is not a directory")
        subdirs = sorted(p for p in root.iterdir() if p.is_dir())
        split_names = {"train", "test", "validation", "val"}
        if subdirs and all(p.name in split_names for p in subdirs):
            split_dirs = {p.name: p for p in subdirs}
        else:
            split_dirs = {"train": root}
        out: dict[str, tuple[Path, list[tuple[str, str]]]] = {}
        for split, sdir in split_dirs.items():
            rows = []
            for cdir in sorted(p for p in sdir.iterdir() if p.is_dir()):
                for f in sorted(cdir.rglob("*")):
                    if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                        rows.append((str(f.relative_to(sdir)), cdir.name))
            if not rows:
                raise SourceError(f"{sdir}: no images in <class>/<file> sub-folders")
            out[split] = (sdir, rows)
        return out

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        return sorted({c for _, rows in self._layout().values() for _, c in rows})

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self._layout())

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        self.check_split(split)
        return len(self._layout()[split][1])

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        self.check_split(split)
        base, rows = self._layout()[split]
        index = {c: i for i, c in enumerate(self.class_names())}
        for rel, cls in rows[start:stop]:
            path = base / rel
            try:
                pixels = decode_image(None, path=str(path), what=str(path))
                depth = self._depth(base, rel) if self.depth_root else None
            except SourceError as exc:
                yield Rejected(rel, f"{exc}; fix or remove the file")
                continue
            if depth is not None and depth.shape != pixels.shape[:2]:
                reason = f"depth map {depth.shape} does not match image {pixels.shape[:2]}"
                yield Rejected(rel, reason)
                continue
            yield Example(rel, pixels, index[cls], depth)
