"""The source registry: one entry per way of getting a dataset into shards.

Each entry names its factory and the options it accepts; an unknown source or
option is refused with the valid ones listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pipeline.errors import ManifestError
from pipeline.sources import bundled, cifar, files, hf, idx
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["SOURCES", "SourceEntry", "make_source", "Example", "Rejected", "Source"]


@dataclass(frozen=True)
class SourceEntry:
    """How to build one kind of source.

    Attributes:
        factory: Called with the validated options as keywords.
        options: Accepted option names -> one-line meaning.
        required: Options that must be given.
    """

    factory: Callable[..., Source]
    options: Mapping[str, str]
    required: frozenset[str] = frozenset()


_LOCAL = {
    "path": "directory with the official files (or the archive)",
    "download": "fetch the official files if not local (bool)",
}

SOURCES: Mapping[str, SourceEntry] = MappingProxyType(
    {
        "mnist5k": SourceEntry(bundled.Mnist5kSource, {}),
        "digits": SourceEntry(bundled.DigitsSource, {}),
        "mnist": SourceEntry(idx.mnist, _LOCAL),
        "fashion_mnist": SourceEntry(idx.fashion_mnist, _LOCAL),
        "cifar10": SourceEntry(cifar.cifar10, _LOCAL),
        "cifar100": SourceEntry(cifar.cifar100, _LOCAL),
        "hf": SourceEntry(
            hf.HubSource,
            {
                "repo_id": "Hub dataset id, e.g. ILSVRC/imagenet-1k",
                "revision": "git revision (pin it for reproducibility)",
                "config": "dataset config name",
                "image_column": "image column (default image)",
                "label_column": "ClassLabel column (default label)",
                "split_names": "the splits the dataset has",
                "key_from": "sample key: index (row number) or path (image file stem, "
                "e.g. ILSVRC2012_val_00000001)",
            },
            frozenset({"repo_id"}),
        ),
        "parquet": SourceEntry(
            files.ParquetSource,
            {
                "files": "mapping split -> glob of local Parquet files",
                "image_column": "image column (default image)",
                "label_column": "label column (default label)",
                "names": "class names, if the files carry no ClassLabel metadata",
                "depth_column": "column of single-channel PNG depth maps (for depth corruptions)",
            },
            frozenset({"files"}),
        ),
        "imagefolder": SourceEntry(
            files.ImageFolderSource,
            {
                "root": "root/<class>/<file> or root/<split>/<class>/<file>",
                "depth_root": "tree mirroring root with one single-channel PNG depth map per image",
            },
            frozenset({"root"}),
        ),
    }
)


def make_source(
    name: str, options: Mapping[str, Any] | None = None, *, where: str = "source"
) -> Source:
    """Build a source from its registry key and options.

    Args:
        name: Registry key (see :data:`SOURCES`).
        options: Source options from the manifest.
        where: Where the options come from, for messages (e.g. ``manifests/x.yaml: sources[0]``).

    Raises:
        ManifestError: Unknown source, unknown option or missing required option.
    """
    if name not in SOURCES:
        raise ManifestError(
            f"{where}: unknown source {name!r}; valid: {', '.join(sorted(SOURCES))}"
        )
    entry = SOURCES[name]
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(entry.options))
    if unknown:
        allowed = ", ".join(sorted(entry.options)) or "(none)"
        raise ManifestError(
            f"{where}: source {name!r} has no option(s) {unknown}; allowed: {allowed}"
        )
    missing = sorted(entry.required - set(opts))
    if missing:
        raise ManifestError(f"{where}: source {name!r} needs option(s) {missing}")
    src = entry.factory(**opts)
    if name in ("parquet", "imagefolder", "hf"):
        src.key = name if name != "hf" else "hf"
    return src
