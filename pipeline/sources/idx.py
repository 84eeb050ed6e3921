"""MNIST and Fashion-MNIST from the official IDX ``.gz`` files.

Reference: LeCun et al., "Gradient-based learning applied to document
recognition" (1998); Xiao et al., "Fashion-MNIST" (2017), arXiv:1708.07747.
The IDX format: big-endian magic (0x0803 images / 0x0801 labels), dimension
sizes, then uint8 payload.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.download import fetch
from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["IdxSource", "read_idx", "MNIST_FILES", "FASHION_FILES"]

#: split -> ((images file, md5), (labels file, md5)), published checksums.
MNIST_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
}
FASHION_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
}
MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: Largest decompressed IDX file read, 256 MiB (the MNIST train images are 47 MB).
_MAX_IDX_BYTES = 1 << 28
FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@lru_cache(maxsize=4)
def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (gzip-compressed or not) into a uint8 array.

    Args:
        path: The ``*-idx?-ubyte[.gz]`` file.

    Returns:
        Array of shape given by the header (N,) labels or (N, H, W) images.

    Raises:
        SourceError: Bad magic, unsupported dtype, or truncated payload.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read(_MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{path}: cannot read ({exc}); re-download the file") from exc
    if len(raw) < 4 or raw[0:2] != b"\x00\x00":
        raise SourceError(
            f"{path}: not an IDX file (bad magic); expected the official MNIST format"
        )
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise SourceError(f"{path}: IDX dtype 0x{dtype_code:02x} unsupported (only uint8, 0x08)")
    if len(raw) > _MAX_IDX_BYTES:
        raise SourceError(f"{path}: over {_MAX_IDX_BYTES:,} bytes; not an MNIST-sized IDX file")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise SourceError(
            f"{path}: IDX header declares {ndim} dimensions but the file has only {len(raw)} "
            "bytes; the file is truncated: re-download it"
        )
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    payload = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    expected = math.prod(dims)
    if payload.size != expected:
        raise SourceError(
            f"{path}: header says {dims} ({expected} bytes) but payload has {payload.size}; "
            "the file is truncated: re-download it"
        )
    return payload.reshape(dims)


@dataclass
class IdxSource(Source):
    """MNIST-format dataset read from IDX files (local ``path`` or official download)."""

    key: str
    files: dict = field(repr=False)
    urls: tuple[str, ...]
    names: list[str]
    path: str | None = None
    download: bool = False
    meta: dict = field(default_factory=dict, repr=False)

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        return list(self.names)

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self.files)

    def _arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        self.check_split(split)
        (img_name, img_md5), (lab_name, lab_md5) = self.files[split]
        local = Path(self.path) if self.path else None
        images, labels = (
            read_idx(
                fetch(name, md5=md5, urls=self.urls, local_dir=local, download=self.download,
                      subdir=self.key)
            )
            for name, md5 in ((img_name, img_md5), (lab_name, lab_md5))
        )
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise SourceError(
                f"{self.key}/{split}: images {images.shape} and labels {labels.shape} "
                "do not pair up"
            )
        return images, labels

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (the IDX image and label files of the splits)."""
        local = Path(self.path) if self.path else None
        return [
            fetch(name, md5=md5, urls=self.urls, local_dir=local, download=self.download,
                  subdir=self.key)
            for split in splits
            for name, md5 in self.files[split]
        ]

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        return len(self._arrays(split)[1])

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        images, labels = self._arrays(split)
        for i in range(start, min(stop, len(labels))):
            label = int(labels[i])
            if label >= len(self.names):
                yield Rejected(str(i), f"label {label} out of range 0..{len(self.names) - 1}")
                continue
            yield Example(str(i), np.array(images[i]), label)

    def describe(self) -> dict[str, str]:
        """See :meth:`Source.describe`."""
        return dict(self.meta)


def mnist(*, path: str | None = None, download: bool = False) -> IdxSource:
    """Return the MNIST digits source (60,000 train / 10,000 test, 28x28 grayscale)."""
    return IdxSource(
        key="mnist",
        files=MNIST_FILES,
        urls=MNIST_URLS,
        names=[str(i) for i in range(10)],
        path=path,
        download=download,
        meta={
            "description": "MNIST handwritten digits, official IDX files (md5-verified).",
            "license": "cc-by-sa-3.0",
            "citation": "LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to "
            "document recognition. Proc. IEEE 86(11), 1998.",
        },
    )


def fashion_mnist(*, path: str | None = None, download: bool = False) -> IdxSource:
    """Fashion-MNIST (60,000 train / 10,000 test, 28x28 grayscale, 10 clothing classes)."""
    return IdxSource(
        key="fashion_mnist",
        files=FASHION_FILES,
        urls=FASHION_URLS,
        names=FASHION_NAMES,
        path=path,
        download=download,
        meta={
            "description": "Fashion-MNIST (Zalando), official IDX files (md5-verified).",
            "license": "mit",
            "citation": "Xiao, Rasul, Vollgraf. Fashion-MNIST: a Novel Image Dataset for "
            "Benchmarking Machine Learning Algorithms. arXiv:1708.07747, 2017.",
        },
    )
