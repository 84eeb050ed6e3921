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
from pipeline.sources.imagenet import IMAGENET_OPTIONS, ImageNetSource
from pipeline.sources.options import Opt, check_option, describe

__all__ = ["SOURCES", "SourceEntry", "make_source", "Example", "Rejected", "Source"]


@dataclass(frozen=True)
class SourceEntry:
    """How to build one kind of source.

    Attributes:
        factory: Called with the validated options as keywords.
        options: Accepted option names -> typed spec (:class:`Opt`; a plain string is an
            untyped one-line meaning, not checked).
        required: Options that must be given.
    """

    factory: Callable[..., Source]
    options: Mapping[str, Opt | str]
    required: frozenset[str] = frozenset()


_LOCAL = {
    "path": Opt("str", "directory with the official files (or the archive)", nullable=True),
    "download": Opt("bool", "fetch the official files if not local (true/false)"),
}
_MAX_PIXELS = Opt(
    "int", "refuse images declaring more pixels than this (default: pipeline.decode limit)",
    nullable=True, minimum=1,
)

SOURCES: Mapping[str, SourceEntry] = MappingProxyType(
    {
        "mnist5k": SourceEntry(bundled.Mnist5kSource, {}),
        "digits": SourceEntry(bundled.DigitsSource, {}),
        "mnist": SourceEntry(idx.mnist, _LOCAL),
        "fashion_mnist": SourceEntry(idx.fashion_mnist, _LOCAL),
        "cifar10": SourceEntry(cifar.cifar10, _LOCAL),
        "cifar100": SourceEntry(cifar.cifar100, _LOCAL),
        "imagenet": SourceEntry(ImageNetSource, IMAGENET_OPTIONS, frozenset({"path"})),
        "hf": SourceEntry(
            hf.HubSource,
            {
                "repo_id": Opt("str", "Hub dataset id, e.g. ILSVRC/imagenet-1k"),
                "revision": Opt("str", "git revision (pin it for reproducibility)", nullable=True),
                "config": Opt("str", "dataset config name", nullable=True),
                "image_column": Opt("str", "image column (default image)"),
                "label_column": Opt("str", "ClassLabel column (default label)"),
                "split_names": Opt("str_list", "the splits the dataset has"),
                "key_from": Opt(
                    "str", "sample key: index (row number) or path (image file stem, "
                    "e.g. ILSVRC2012_val_00000001)", choices=("index", "path"),
                ),
            },
            frozenset({"repo_id"}),
        ),
        "parquet": SourceEntry(
            files.ParquetSource,
            {
                "files": Opt("str_map", "mapping split -> glob of local Parquet files"),
                "image_column": Opt("str", "image column (default image)"),
                "label_column": Opt("str", "label column (default label)"),
                "names": Opt("str_list", "class names, if the files carry no ClassLabel metadata",
                             nullable=True),
                "depth_column": Opt(
                    "str", "column of single-channel PNG depth maps (for depth corruptions)",
                    nullable=True,
                ),
                "path_roots": Opt(
                    "str_list", "folders an image `path` (no bytes) may point into, besides the "
                    "folder of the Parquet file", nullable=True,
                ),
                "max_pixels": _MAX_PIXELS,
            },
            frozenset({"files"}),
        ),
        "imagefolder": SourceEntry(
            files.ImageFolderSource,
            {
                "root": Opt("str", "root/<class>/<file> or root/<split>/<class>/<file>"),
                "depth_root": Opt(
                    "str", "tree mirroring root with one single-channel PNG depth map per image",
                    nullable=True,
                ),
                "follow_symlinks_outside": Opt(
                    "bool", "read symlinks whose target is outside root (default false: "
                    "such files are quarantined)"
                ),
                "max_pixels": _MAX_PIXELS,
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
    if options is not None and not isinstance(options, Mapping):
        raise ManifestError(
            f"{where}.options: expected a mapping of option -> value, got "
            f"{type(options).__name__}; allowed options: {', '.join(sorted(entry.options))}"
        )
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(entry.options), key=str)
    if unknown:
        allowed = ", ".join(sorted(entry.options)) or "(none)"
        meaning = "; ".join(f"{k}: {describe(v)}" for k, v in sorted(entry.options.items()))
        raise ManifestError(
            f"{where}: source {name!r} has no option(s) {unknown}; allowed: {allowed}"
            + (f" -- {meaning}" if meaning else "")
        )
    missing = sorted(entry.required - set(opts))
    if missing:
        raise ManifestError(f"{where}: source {name!r} needs option(s) {missing}")
    for key, value in opts.items():
        check_option(key, value, entry.options[key], where)
    opts = {k: v for k, v in opts.items() if v is not None}  # null = the default
    src = entry.factory(**opts)
    if name in ("parquet", "imagefolder", "hf"):
        src.key = name
    return src
