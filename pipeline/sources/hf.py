"""Hugging Face Hub datasets.

* ``hf``: any Hub dataset by ``repo_id``/``revision``/``config``; the image and
  label columns are named in the options. ``trust_remote_code`` is never
  enabled: datasets that need a loading script are refused by ``datasets``.

Local Parquet files and ``imagefolder`` trees live in :mod:`pipeline.sources.files`;
``decode_image``/``read_depth_png`` live in :mod:`pipeline.decode` and are
re-exported here for existing imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.decode import decode_image, read_depth_png
from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["decode_image", "read_depth_png", "HubSource"]


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
        """See :meth:`Source.input_files`.

        A local dataset folder: the requested splits' data files and the card (never another
        split's files). A Hub id pins none: its ``revision`` is in the options.
        """
        root = Path(self.repo_id)
        if not root.is_dir():
            return []
        out = {Path(f) for split in splits for f in self._split_files(split)}
        card = root / "README.md"
        return sorted(out | ({card} if card.is_file() else set()))

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
