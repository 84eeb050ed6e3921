"""The source contract: what every dataset reader gives the ``pull`` stage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Example", "Rejected", "Source"]


@dataclass(frozen=True)
class Example:
    """One image read from a source.

    Attributes:
        key: The original key inside the source split (index or relative path).
        image: uint8 pixels, (H, W) grayscale or (H, W, 3) RGB.
        label: Class index into the source's ``class_names``.
        depth: Optional depth map (H, W) in the source's unit (uint16 or float,
            larger = farther, 0 = unknown), for the depth-aware corruptions.
    """

    key: str
    image: np.ndarray
    label: int
    depth: np.ndarray | None = None


@dataclass(frozen=True)
class Rejected:
    """A row a source could not read; it is quarantined with its reason, never dropped silently.

    Attributes:
        key: The original key (file path, row index).
        reason: What is wrong and how to fix it.
    """

    key: str
    reason: str


class Source(ABC):
    """A readable dataset: class names, splits, and random access by row range.

    Instances are picklable (they hold paths and options, not open files) so
    dask workers can read their own row ranges.
    """

    #: Registry key; the first part of every ``sample_id``.
    key: str

    @abstractmethod
    def class_names(self) -> list[str]:
        """Return the class names in label-index order."""

    @abstractmethod
    def splits(self) -> list[str]:
        """Return the names of the splits this source has."""

    @abstractmethod
    def num_rows(self, split: str) -> int:
        """Return the number of rows in ``split`` (before any rejection)."""

    @abstractmethod
    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """Yield rows ``start <= i < stop`` of ``split`` in source order."""

    def has_depth(self) -> bool:
        """Return whether the rows carry a depth map (then the shards get a ``depth`` column)."""
        return False

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """Return the local files reading ``splits`` depends on (hashed into the pull fingerprint).

        Sources bundled with the code or pinned by a revision return ``[]``.
        """
        return []

    def describe(self) -> dict[str, str]:
        """Return the description, license and citation for the dataset card."""
        return {"description": "", "license": "unknown", "citation": ""}

    def check_split(self, split: str) -> None:
        """Raise a clear error unless ``split`` exists."""
        from pipeline.errors import SourceError

        if split not in self.splits():
            raise SourceError(
                f"source {self.key!r} has no split {split!r}; valid splits: {self.splits()}"
            )
