"""Read a clean config for the audit with bounded memory.

Every image is decoded once, while its shard is read: its pixel hash (exact-duplicate key)
is taken at full resolution, and only a copy downsampled to at most ``max_side`` pixels
(area interpolation) is kept for the built-in featurizers and the CNN route, or none at all
for the routes that never look at pixels. The PNG bytes the evidence report needs are not
held: :class:`PngStore` reads the few rows the report shows, one pass per shard.

A 50,000-image ImageNet validation set at 224 px thus costs ~600 MB of 64 px copies instead
of ~7.5 GB of decoded images plus ~5 GB of PNG bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import SourceError

__all__ = ["PngStore", "load_clean", "downsample"]


def downsample(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink ``image`` (area interpolation) so its longer side is at most ``max_side``.

    Example:
        >>> downsample(np.zeros((224, 200, 3), np.uint8), 64).shape
        (64, 57, 3)
    """
    import cv2

    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    s = max_side / max(h, w)
    out = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA)
    return out.reshape(out.shape[:2] + image.shape[2:])


class PngStore:
    """The encoded image of each (sorted) row, read from its shard when asked for."""

    def __init__(self, shards: list[Path], refs: list[tuple[int, int]]) -> None:
        self.shards = shards
        self.refs = refs  # per sorted row: (shard index, row in shard)
        self._cache: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self.refs)

    def prefetch(self, rows: Iterable[int]) -> None:
        """Read the images of ``rows`` (one read of the image column per shard touched)."""
        from pipeline.shards import read_shard

        want: dict[int, list[tuple[int, int]]] = {}
        for i in set(rows) - set(self._cache):
            s, r = self.refs[i]
            want.setdefault(s, []).append((i, r))
        for s, pairs in sorted(want.items()):
            table, _ = read_shard(self.shards[s], ["image"])
            col = table["image"]
            for i, r in pairs:
                self._cache[i] = col[r].as_py()["bytes"]

    def __getitem__(self, i: int) -> bytes:
        if i not in self._cache:
            self.prefetch([i])
        return self._cache[i]


def load_clean(config_dir: Path, *, max_side: int | None = None) -> dict[str, Any]:
    """Read a clean config sorted by ``sample_id``.

    Args:
        config_dir: The clean config folder.
        max_side: Keep images downsampled to at most this many pixels a side; ``None``
            keeps them as they are, ``0`` keeps none (``images`` is then empty).

    Returns:
        ``sample_ids``, ``splits``, ``labels`` (int64), ``class_names``, ``images`` (uint8
        arrays), ``hashes`` (sha1 of each full-resolution image's shape and pixels) and
        ``pngs`` (a :class:`PngStore`).

    Raises:
        SourceError: No shards, or duplicate sample ids.
    """
    from pipeline.shards import list_shards, read_shard
    from pipeline.sources.hf import decode_image

    shards = [p for paths in list_shards(config_dir).values() for p in paths]
    if not shards:
        raise SourceError(f"{config_dir}: no shards; run `benchsmith pull` first")
    ids: list[str] = []
    splits: list[str] = []
    labels: list[int] = []
    refs: list[tuple[int, int]] = []
    images: list[np.ndarray] = []
    hashes: list[str] = []
    names: list[str] = []
    for s, path in enumerate(shards):
        table, feats = read_shard(path, ["sample_id", "split", "label", "image"])
        names = list(feats["label"].names)
        ids += table["sample_id"].to_pylist()
        splits += table["split"].to_pylist()
        labels += table["label"].to_pylist()
        col = table["image"]
        for r in range(table.num_rows):
            refs.append((s, r))
            im = decode_image(col[r].as_py()["bytes"], what=f"{path} row {r}")
            hashes.append(hashlib.sha1(str(np.shape(im)).encode()
                                       + np.ascontiguousarray(im).tobytes()).hexdigest())
            if max_side is None:
                images.append(im)
            elif max_side > 0:
                images.append(downsample(im, max_side))
        del table, col
    if len(set(ids)) != len(ids):
        raise SourceError(f"{config_dir}: sample_id is not unique; re-pull the config")
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return {
        "sample_ids": [ids[i] for i in order],
        "splits": [splits[i] for i in order],
        "labels": np.asarray([labels[i] for i in order], dtype=np.int64),
        "class_names": names,
        "images": [images[i] for i in order] if images else [],
        "hashes": [hashes[i] for i in order],
        "pngs": PngStore(shards, [refs[i] for i in order]),
    }
