"""The one shard schema, built from :class:`datasets.Features`.

Every shard benchsmith writes carries these columns (in this order):

=============== =========================== ==============================================
column          feature                     meaning
=============== =========================== ==============================================
sample_id       Value("string")             ``<source>/<split>/<original key>``; stable, unique
image           Image()                     PNG bytes by default
label           ClassLabel(names)           the given (original) label
source          Value("string")             source registry key
split           Value("string")             source split
key             Value("string")             the original key inside the source
=============== =========================== ==============================================

Optional groups, switched on by arguments:

* ``corruption=True`` adds ``corruption`` (string), ``severity`` (int32),
  ``preset`` (string), ``params`` (JSON string of the physical parameters used),
  ``seed`` (int64) and ``code_version`` (string).
* ``multilabel=True`` adds ``labels``: ``List(ClassLabel(names))`` (ReaL-style
  set; empty = no valid label).
* ``depth=True`` adds ``depth``: ``Image()`` holding a 16-bit PNG of depth in
  millimetres, or for pseudo-depth the rank-normalised value times 65535.

The features are embedded in the Parquet schema metadata under the
``huggingface`` key, exactly as :mod:`datasets` writes them, so
``datasets.load_dataset("parquet", ...)`` restores ``Image`` and ``ClassLabel``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import datasets
import pyarrow as pa

__all__ = [
    "BASE_COLUMNS",
    "CORRUPTION_COLUMNS",
    "build_features",
    "arrow_schema",
    "features_from_arrow",
]

BASE_COLUMNS: tuple[str, ...] = ("sample_id", "image", "label", "source", "split", "key")
CORRUPTION_COLUMNS: tuple[str, ...] = (
    "corruption",
    "severity",
    "preset",
    "params",
    "seed",
    "code_version",
)


def build_features(
    class_names: Sequence[str],
    *,
    corruption: bool = False,
    multilabel: bool = False,
    depth: bool = False,
) -> datasets.Features:
    """Return the features of a benchsmith shard.

    Args:
        class_names: The dataset's class names, in label-index order.
        corruption: Add the corruption provenance columns.
        multilabel: Add the ``labels`` multi-label column.
        depth: Add the ``depth`` image column.

    Returns:
        A :class:`datasets.Features`.

    Raises:
        ValueError: If ``class_names`` is empty or has duplicates.

    Example:
        >>> list(build_features(["a", "b"]))
        ['sample_id', 'image', 'label', 'source', 'split', 'key']
    """
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError("class_names is empty; a classification dataset needs at least one class")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"class_names has duplicates: {dupes}")
    cols: dict[str, datasets.features.features.FeatureType] = {
        "sample_id": datasets.Value("string"),
        "image": datasets.Image(),
        "label": datasets.ClassLabel(names=names),
        "source": datasets.Value("string"),
        "split": datasets.Value("string"),
        "key": datasets.Value("string"),
    }
    if multilabel:
        cols["labels"] = datasets.List(datasets.ClassLabel(names=names))
    if depth:
        cols["depth"] = datasets.Image()
    if corruption:
        cols.update(
            {
                "corruption": datasets.Value("string"),
                "severity": datasets.Value("int32"),
                "preset": datasets.Value("string"),
                "params": datasets.Value("string"),
                "seed": datasets.Value("int64"),
                "code_version": datasets.Value("string"),
            }
        )
    return datasets.Features(cols)


def arrow_schema(features: datasets.Features) -> pa.Schema:
    """Arrow schema of ``features`` with the Hugging Face metadata embedded."""
    schema = features.arrow_schema
    meta = {b"huggingface": json.dumps({"info": {"features": features.to_dict()}}).encode()}
    return schema.with_metadata(meta)


def features_from_arrow(schema: pa.Schema) -> datasets.Features:
    """Recover the embedded :class:`datasets.Features` from a shard's Arrow schema.

    Raises:
        ValueError: If the schema carries no Hugging Face metadata.
    """
    meta = schema.metadata or {}
    raw = meta.get(b"huggingface")
    if raw is None:
        raise ValueError(
            "shard has no 'huggingface' schema metadata; it was not written by benchsmith "
            "(rewrite it with `benchsmith pull`)"
        )
    return datasets.Features.from_dict(json.loads(raw)["info"]["features"])
