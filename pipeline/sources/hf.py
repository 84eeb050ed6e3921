"""Hugging Face Hub datasets, local Parquet files and local ``imagefolder`` trees.

* ``hf``: any Hub dataset by ``repo_id``/``revision``/``config``; the image and
  label columns are named in the options. ``trust_remote_code`` is never
  enabled: datasets that need a loading script are refused by ``datasets``.
* ``parquet``: local Parquet files in the Hugging Face layout (an ``Image``
  struct column and a ``ClassLabel`` column, features in the schema metadata).
* ``imagefolder``: ``root/<class name>/<file>`` trees; class names are the
  sorted folder names. A file that does not decode is quarantined with its
  path and the decoder's message, never dropped silently.
"""

from __future__ import annotations

import glob
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["decode_image", "HubSource", "ParquetSource", "ImageFolderSource"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def decode_image(data: bytes | None, *, path: str | None = None, what: str = "image") -> np.ndarray:
    """Decode encoded image bytes (or a file) to uint8 gray (H, W) or RGB (H, W, 3).

    Palette, 16-bit and alpha modes are converted: ``L``/``1``/``I;16`` stay
    single-channel (8-bit), everything else becomes ``RGB``.

    PNG bytes take an OpenCV fast path (gray, RGB and 16-bit gray); every other
    format goes through Pillow, so JPEG pixels are exactly what ``datasets`` users get.

    Raises:
        SourceError: The bytes do not decode; the message names ``what``.
    """
    if data is not None and data[:8] == PNG_SIGNATURE:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is not None and arr.ndim == 2 and arr.dtype == np.uint8:
            return arr
        if arr is not None and arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8:
            return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    if data is None and path is None:
        raise SourceError(f"{what}: no image bytes and no path")
    source: io.BytesIO | str = io.BytesIO(data) if data is not None else str(path)
    try:
        with Image.open(source) as img:
            img.load()
            if img.mode in ("L", "1"):
                return np.asarray(img.convert("L"))
            if img.mode.startswith("I"):
                arr = np.asarray(img, dtype=np.float64)
                scale = 255.0 / 65535.0 if arr.max() > 255 else 1.0
                return np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise SourceError(f"{what}: cannot decode image ({exc})") from exc


def read_depth_png(path: Path | None, data: bytes | None = None) -> np.ndarray:
    """Read a depth map stored as a (16-bit or 8-bit) single-channel PNG, unscaled.

    Args:
        path: The PNG file (or ``None`` when ``data`` is given).
        data: The PNG bytes.

    Returns:
        float32 (H, W) with the stored values (0 = unknown depth).

    Raises:
        SourceError: Missing, undecodable or multi-channel file.
    """
    what = str(path) if path is not None else "depth bytes"
    if data is None:
        if path is None or not Path(path).is_file():
            raise SourceError(f"{what}: depth file missing (depth maps must mirror the image tree)")
        data = Path(path).read_bytes()
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 2:
        raise SourceError(f"{what}: not a single-channel PNG depth map")
    return arr.astype(np.float32)


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

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (the split files; the first split's for class names)."""
        first = self.splits()[:1]
        return sorted({Path(p) for s in [*first, *splits] for p in self._paths(s)})

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

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (every image of the splits and its depth map)."""
        out = []
        for split in splits:
            self.check_split(split)
            base, rows = self._layout()[split]
            for rel, _ in rows:
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


@dataclass(eq=False)
class HubSource(Source):
    """A Hugging Face Hub dataset (``trust_remote_code`` never on), read one split at a time.

    Only the requested split's data files are downloaded and opened: the split's files are
    resolved from the repository's config (``load_dataset_builder``, which reads the dataset
    card and the file listing, not the data) and passed as ``data_files``, so a validation
    build never fetches the training set. Class names come from the dataset's features
    (the card's ``dataset_info``), not from loading a split.
    """

    repo_id: str
    revision: str | None = None
    config: str | None = None
    image_column: str = "image"
    label_column: str = "label"
    split_names: list[str] = field(default_factory=lambda: ["train", "validation", "test"])
    key_from: str = "index"
    key: str = "hf"

    def _fail(self, exc: Exception, what: str) -> SourceError:
        text = str(exc)
        gated = type(exc).__name__ == "GatedRepoError" or "gated" in text.lower()
        if gated:
            return SourceError(
                f"hub dataset {self.repo_id!r} is gated: accept its terms on "
                f"https://huggingface.co/datasets/{self.repo_id} with your account, then log in "
                f"(`huggingface-cli login`, or set HF_TOKEN) and rerun ({what})")
        return SourceError(
            f"hub dataset {self.repo_id!r} (revision {self.revision}, {what}) could not be "
            f"loaded: {text}. Check the id, the revision, your access and the network (or "
            "HF_DATASETS_OFFLINE=1 with a filled cache)")

    @lru_cache(maxsize=1)  # noqa: B019 - sources live for one stage run
    def _builder(self):  # type: ignore[no-untyped-def]
        import datasets

        try:
            return datasets.load_dataset_builder(self.repo_id, self.config,
                                                 revision=self.revision)
        except Exception as exc:  # noqa: BLE001 - re-raised with the fix named
            raise self._fail(exc, "reading the dataset card") from exc

    def _split_files(self, split: str) -> list[str]:
        self.check_split(split)
        files = getattr(self._builder().config, "data_files", None) or {}
        if split not in files:
            raise SourceError(
                f"hub dataset {self.repo_id!r} has no data files for split {split!r}; its "
                f"splits: {sorted(files)} (set `split_names` and the manifest's `splits`)")
        return [str(f) for f in files[split]]

    @lru_cache(maxsize=4)  # noqa: B019
    def _dataset(self, split: str):  # type: ignore[no-untyped-def]
        import datasets

        files = self._split_files(split)
        try:
            ds = datasets.load_dataset(self.repo_id, self.config, revision=self.revision,
                                       data_files={split: files}, split=split)
        except Exception as exc:  # noqa: BLE001 - re-raised with the fix named
            raise self._fail(exc, f"split {split!r}") from exc
        for col in (self.image_column, self.label_column):
            if col not in ds.column_names:
                raise SourceError(
                    f"hub dataset {self.repo_id!r} has no column {col!r} (columns: "
                    f"{ds.column_names}); set `image_column`/`label_column`"
                )
        return ds.cast_column(self.image_column, datasets.Image(decode=False))

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (a local dataset folder's files; a Hub id pins none)."""
        root = Path(self.repo_id)
        if not root.is_dir():
            return []
        return sorted(p for p in root.rglob("*") if p.is_file()
                      and not any(q.startswith(".") for q in p.relative_to(root).parts))

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names` (from the dataset's features, no split loaded)."""
        feats = self._builder().info.features
        if feats is None:
            raise SourceError(
                f"hub dataset {self.repo_id!r} declares no features in its card; its label "
                f"column {self.label_column!r} needs ClassLabel names (use the `parquet` source "
                "with `names:` instead)")
        if self.label_column not in feats:
            raise SourceError(f"hub dataset {self.repo_id!r} has no column {self.label_column!r} "
                              f"(columns: {list(feats)}); set `label_column`")
        feat = feats[self.label_column]
        if not hasattr(feat, "names"):
            raise SourceError(f"column {self.label_column!r} of {self.repo_id} is not a ClassLabel")
        return list(feat.names)

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self.split_names)

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        return self._dataset(split).num_rows

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        ds = self._dataset(split)
        stop = min(stop, ds.num_rows)
        batch = ds.select(range(start, stop))
        for j, row in enumerate(batch):
            i = start + j
            img = row[self.image_column]
            key = str(i)
            if self.key_from == "path":
                if not img.get("path"):
                    raise SourceError(
                        f"{self.repo_id} {split} row {i}: key_from is 'path' but the image has no "
                        "file name; use key_from: index"
                    )
                key = Path(img["path"]).stem
            elif self.key_from != "index":
                raise SourceError(f"key_from must be 'index' or 'path', got {self.key_from!r}")
            try:
                pixels = decode_image(
                    img.get("bytes"), path=img.get("path"), what=f"{self.repo_id} {split} row {i}"
                )
            except SourceError as exc:
                yield Rejected(key, str(exc))
                continue
            yield Example(key, pixels, int(row[self.label_column]))

    def describe(self) -> dict[str, str]:
        """See :meth:`Source.describe`."""
        return {
            "description": f"Hugging Face Hub dataset {self.repo_id} "
            f"(revision {self.revision or 'main'}).",
            "license": "see the source dataset card",
            "citation": f"See https://huggingface.co/datasets/{self.repo_id}",
        }
