"""Local files: Parquet in the Hugging Face layout and ``imagefolder`` trees.

* ``parquet``: local Parquet files in the Hugging Face layout (an ``Image``
  struct column and a ``ClassLabel`` column, features in the schema metadata).
  Labels must be an integer column (a float or bool column is refused, never
  truncated); a row whose label is null or out of range is quarantined. An image
  given by ``path`` instead of bytes is read only from inside the folder of its
  Parquet file (or the ``path_roots`` option), never from anywhere on disk.
* ``imagefolder``: ``root/<class name>/<file>`` trees; class names are the
  sorted folder names. Every file under the root is a row: one that does not
  decode, has an unsupported type (``.heic``, ``.svg``, no extension), sits at
  the root instead of in a class folder, has a name that is not UTF-8, or is a
  symlink leading outside the root (unless ``follow_symlinks_outside: true``)
  is quarantined with its reason, never dropped silently.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.decode import decode_image, read_depth_png
from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["ParquetSource", "ImageFolderSource", "IMAGE_SUFFIXES", "class_names_from_metadata"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_SPLIT_NAMES = {"train", "test", "validation", "val"}


def class_names_from_metadata(path: str, label_column: str) -> list[str]:
    """Read the ``ClassLabel`` names of ``label_column`` from a Parquet file's HF metadata.

    Raises:
        SourceError: Unreadable file, no or malformed metadata, or names that are not
            distinct strings; the message names the file and the ``names`` option.
    """
    fix = "give them with `names: [...]` in the source options"
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from exc
    if b"huggingface" not in meta:
        raise SourceError(f"{path}: no Hugging Face metadata with ClassLabel names; {fix}")
    try:
        feats = json.loads(meta[b"huggingface"].decode("utf-8"))["info"]["features"]
        if label_column not in feats:
            raise SourceError(
                f"{path}: no column {label_column!r} in the Hugging Face features (features: "
                f"{sorted(feats)}); set `label_column` in the source options"
            )
        names = feats[label_column]["names"]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"{path}: no ClassLabel names for column {label_column!r} in the Hugging Face "
            f"metadata ({type(exc).__name__}: {exc}); {fix}"
        ) from exc
    if not isinstance(names, list) or not names or not all(
        isinstance(n, str) and n for n in names
    ):
        raise SourceError(f"{path}: ClassLabel names {names!r:.80} are not a list of strings; "
                          f"{fix}")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise SourceError(f"{path}: ClassLabel names repeat {dupes}; {fix}")
    return list(names)


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


@dataclass(eq=False)
class ParquetSource(Source):
    """Local Parquet in the Hugging Face layout; ``files`` maps split -> glob pattern."""

    files: dict[str, str]
    image_column: str = "image"
    label_column: str = "label"
    key: str = "parquet"
    names: list[str] | None = None
    depth_column: str | None = None
    path_roots: list[str] | None = None
    max_pixels: int | None = None

    def has_depth(self) -> bool:
        """See :meth:`Source.has_depth` (true when ``depth_column`` is given)."""
        return self.depth_column is not None

    def _paths(self, split: str) -> list[str]:
        self.check_split(split)
        paths = sorted(glob.glob(self.files[split]))
        if not paths:
            raise SourceError(f"split {split!r}: no file matches {self.files[split]!r}")
        return paths

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (the split files; the first split's for class names)."""
        first = self.splits()[:1]
        return sorted({Path(p) for s in [*first, *splits] for p in self._paths(s)})

    def _read_one(self, path: str) -> pa.Table:
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(
                f"{path}: not a readable Parquet file ({exc}); it is empty, truncated or another "
                "format: re-export it with pyarrow or `datasets`"
            ) from exc
        for col in (self.image_column, self.label_column, self.depth_column):
            if col is not None and col not in table.column_names:
                raise SourceError(
                    f"{path}: no column {col!r} (columns: {table.column_names}); set "
                    "`image_column`/`label_column`/`depth_column` in the source options"
                )
        label_type = table.schema.field(self.label_column).type
        if not pa.types.is_integer(label_type):
            raise SourceError(
                f"{path}: label column {self.label_column!r} has type {label_type}; labels must "
                "be integers (a ClassLabel or int column), never floats, bools or strings: "
                "convert the column to class indices"
            )
        for col in (self.image_column, self.depth_column):
            if col is None:
                continue
            typ = table.schema.field(col).type
            ok = pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or (
                pa.types.is_struct(typ) and typ.get_field_index("bytes") >= 0
            )
            if not ok:
                raise SourceError(
                    f"{path}: column {col!r} has type {typ}; expected encoded image bytes (an "
                    "Image struct {bytes, path} or a binary column): set `image_column` to the "
                    "image column"
                )
        return table

    @lru_cache(maxsize=4)  # noqa: B019 - sources live for one stage run
    def _table(self, split: str) -> pa.Table:
        paths = self._paths(split)
        tables = [self._read_one(p) for p in paths]
        try:
            return pa.concat_tables(tables)
        except pa.ArrowException as exc:
            raise SourceError(
                f"split {split!r}: the files {paths} have different schemas ({exc}); give each "
                "layout its own source"
            ) from exc

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        if self.names:
            return list(self.names)
        return class_names_from_metadata(self._paths(self.splits()[0])[0], self.label_column)

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self.files)

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        return self._table(split).num_rows

    @lru_cache(maxsize=8)  # noqa: B019
    def _roots(self, split: str) -> list[Path]:
        roots = {Path(p).resolve().parent for p in self._paths(split)}
        roots |= {Path(r).resolve() for r in self.path_roots or []}
        return sorted(roots)

    def _image_bytes(self, value: Any, split: str, i: int) -> bytes:
        """Return one image cell's bytes; a ``path`` is read only inside the allowed roots."""
        if not isinstance(value, dict):
            return value
        if value.get("bytes") is not None:
            return value["bytes"]
        ref = value.get("path")
        what = f"{self.files[split]} row {i}"
        if not isinstance(ref, str) or not ref:
            raise SourceError(f"{what}: image has neither bytes nor a path")
        roots = self._roots(split)
        target = Path(ref) if Path(ref).is_absolute() else roots[0] / ref
        target = target.resolve()
        if not _inside(target, roots):
            raise SourceError(
                f"{what}: image path {ref!r} is outside the allowed folders "
                f"{[str(r) for r in roots]}; embed the bytes, or list the folder in `path_roots`"
            )
        try:
            return target.read_bytes()
        except OSError as exc:
            raise SourceError(f"{what}: image path {ref!r} cannot be read ({exc})") from exc

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
            what = f"{self.files[split]} row {i}"
            if lab is None or not 0 <= lab < n_classes:
                yield Rejected(str(i), f"row {i}: label {lab!r} outside 0..{n_classes - 1}")
                continue
            try:
                if img is None:
                    raise SourceError(f"{what}: image is null")
                data = self._image_bytes(img, split, i)
                pixels = decode_image(data, what=what, max_pixels=self.max_pixels)
            except SourceError as exc:
                yield Rejected(str(i), str(exc))
                continue
            depth = None
            if self.depth_column:
                d = depths[j]
                try:
                    raw = d.get("bytes") if isinstance(d, dict) else d
                    depth = read_depth_png(None, raw, max_pixels=self.max_pixels)
                except SourceError as exc:
                    yield Rejected(str(i), f"row {i}: depth column {self.depth_column!r}: {exc}")
                    continue
            yield Example(str(i), pixels, int(lab), depth)


def _display(path: Path | str) -> str:
    r"""Return a path as UTF-8 text (undecodable bytes shown as ``\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(eq=False)
class ImageFolderSource(Source):
    """``root/<split>/<class>/<file>`` (or ``root/<class>/<file>`` as split ``train``)."""

    root: str
    depth_root: str | None = None
    key: str = "imagefolder"
    follow_symlinks_outside: bool = False
    max_pixels: int | None = None

    def has_depth(self) -> bool:
        """See :meth:`Source.has_depth` (true when ``depth_root`` is given)."""
        return self.depth_root is not None

    def _depth(self, split_dir: Path, rel: str) -> np.ndarray:
        sub = split_dir.relative_to(Path(self.root))  # "." or the split folder
        return read_depth_png(
            Path(self.depth_root or "") / sub / Path(rel).with_suffix(".png"),
            max_pixels=self.max_pixels,
        )

    def _why_not(self, f: Path, real_root: Path) -> str | None:
        """Why file ``f`` cannot be a row (``None`` if it can)."""
        if not _is_utf8(str(f)):
            return "file or folder name is not valid UTF-8; rename it"
        if f.is_symlink():
            target = f.resolve()
            if not target.exists():
                return "broken symlink; remove it"
            if not self.follow_symlinks_outside and not _inside(target, [real_root]):
                return (f"symlink leads outside the root (to {_display(target)}); copy the file "
                        "in, or set `follow_symlinks_outside: true`")
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            kind = f"type {f.suffix!r}" if f.suffix else "no file extension"
            return f"unsupported {kind}; supported: {', '.join(sorted(IMAGE_SUFFIXES))}"
        return None

    def _walk(self, sdir: Path, real_root: Path) -> list[tuple[str, str, str | None]]:
        """Every file below ``sdir`` as ``(relative path, class or "", reject reason)``."""
        rows: list[tuple[str, str, str | None]] = []
        for entry in sorted(sdir.iterdir()):
            rel = _display(entry.relative_to(sdir))
            if entry.is_dir() and not entry.is_symlink():
                cls = entry.name
                if not _is_utf8(cls):
                    raise SourceError(
                        f"{_display(entry)}: class folder name is not valid UTF-8; rename it "
                        "(class names are stored as UTF-8 text)"
                    )
                found: list[tuple[Path, str | None]] = []
                for dirpath, dirnames, filenames in os.walk(entry):
                    for name in filenames + [
                        d for d in dirnames if (Path(dirpath) / d).is_symlink()
                    ]:
                        f = Path(dirpath) / name
                        reason = (
                            "symlinked folder not followed; copy or link its files instead"
                            if f.is_dir() else self._why_not(f, real_root)
                        )
                        found.append((f.relative_to(sdir), reason))
                # Path order (by components), as the tree was always read.
                rows += [(_display(rel), cls, reason) for rel, reason in sorted(found)]
            elif entry.is_dir():
                rows.append((rel, "", "symlinked class folder not followed; copy it in"))
            else:
                rows.append((rel, "", "file at the top of the tree, not in a <class>/ folder; "
                             "move it into its class folder"))
        return rows

    @lru_cache(maxsize=1)  # noqa: B019
    def _layout(self) -> dict[str, tuple[Path, list[tuple[str, str, str | None]]]]:
        root = Path(self.root)
        if not root.is_dir():
            raise SourceError(f"imagefolder root {root} is not a directory")
        real_root = root.resolve()
        entries = sorted(root.iterdir())
        subdirs = [p for p in entries if p.is_dir()]
        if subdirs and all(p.name in _SPLIT_NAMES for p in subdirs):
            split_dirs = {p.name: p for p in subdirs}
            stray = [(_display(p.name), "", "not in a split folder (train/, test/, ...); move it "
                      "into one") for p in entries if not p.is_dir()]
        else:
            split_dirs, stray = {"train": root}, []
        out: dict[str, tuple[Path, list[tuple[str, str, str | None]]]] = {}
        for n, (split, sdir) in enumerate(split_dirs.items()):
            rows = self._walk(sdir, real_root)
            if not any(reason is None for _, _, reason in rows):
                raise SourceError(
                    f"{_display(sdir)}: no readable images in <class>/<file> sub-folders "
                    f"({len(rows)} other files); expected root/<class>/<image>"
                )
            if n == 0 and stray:
                rows = [(f"../{rel}", c, r) for rel, c, r in stray] + rows
            out[split] = (sdir, rows)
        return out

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        return sorted({c for _, rows in self._layout().values() for _, c, r in rows if r is None})

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self._layout())

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows` (every file, the quarantined ones included)."""
        self.check_split(split)
        return len(self._layout()[split][1])

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (every readable image of the splits, its depth map)."""
        out = []
        for split in splits:
            self.check_split(split)
            base, rows = self._layout()[split]
            for rel, _, reason in rows:
                if reason is not None:
                    continue
                out.append(base / rel)
                if self.depth_root:
                    sub = base.relative_to(Path(self.root))
                    depth = Path(self.depth_root) / sub / Path(rel).with_suffix(".png")
                    if depth.is_file():
                        out.append(depth)
        return out

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        self.check_split(split)
        base, rows = self._layout()[split]
        index = {c: i for i, c in enumerate(self.class_names())}
        for rel, cls, reason in rows[start:stop]:
            if reason is not None:
                yield Rejected(rel, reason)
                continue
            path = base / rel
            try:
                pixels = decode_image(None, path=path, what=str(path), max_pixels=self.max_pixels)
                depth = self._depth(base, rel) if self.depth_root else None
            except SourceError as exc:
                yield Rejected(rel, str(exc))
                continue
            if depth is not None and depth.shape != pixels.shape[:2]:
                reason = f"depth map {depth.shape} does not match image {pixels.shape[:2]}"
                yield Rejected(rel, reason)
                continue
            yield Example(rel, pixels, index[cls], depth)
