"""CIFAR-10 and CIFAR-100 from the official "python version" archives, parsed safely.

The official batches are Python pickles. Unpickling runs arbitrary code, so
benchsmith never calls :func:`pickle.load` on them: :class:`SafeUnpickler`
admits only the globals these files contain (NumPy's array reconstruction,
``numpy.ndarray``, ``numpy.dtype`` and ``_codecs.encode`` for Python 3 written
bytes) and refuses everything else, naming the file and the global.

Reference: Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.download import fetch, verify
from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source

__all__ = ["SafeUnpickler", "safe_load", "CifarSource", "cifar10", "cifar100"]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """An unpickler that resolves only the globals a CIFAR batch contains.

    It builds on the pure-Python unpickler, which reads a declared length from the
    in-memory bytes (getting at most what is there) instead of allocating it first,
    so a header declaring a huge byte string cannot exhaust memory.
    """

    def __init__(self, fh: io.BufferedIOBase, *, name: str) -> None:
        super().__init__(fh, encoding="bytes")
        self._name = name

    def find_class(self, module: str, name: str) -> Any:
        """Resolve an allowed global; refuse anything else."""
        if (module, name) not in _ALLOWED:
            raise SourceError(
                f"{self._name}: refusing to unpickle global {module}.{name}; a CIFAR batch only "
                "holds numpy arrays, lists and bytes, so this file is not an official batch"
            )
        if module.startswith("numpy") and name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
            return _reconstruct
        return super().find_class(module, name)


def safe_load(data: bytes, *, name: str) -> dict:
    """Unpickle one CIFAR batch with :class:`SafeUnpickler`.

    Raises:
        SourceError: Truncated data, a disallowed global, or not a dict.
    """
    try:
        obj = SafeUnpickler(io.BytesIO(data), name=name).load()
    except SourceError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, OverflowError, MemoryError, RecursionError, UnicodeError,
            struct.error) as exc:
        raise SourceError(
            f"{name}: not a complete CIFAR batch ({type(exc).__name__}: {exc}); re-download it"
        ) from exc
    if not isinstance(obj, dict):
        raise SourceError(f"{name}: expected a dict batch, got {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


@dataclass(frozen=True, eq=False)
class _Layout:
    archive: str
    md5: str
    folder: str
    splits: dict[str, tuple[str, ...]]
    label_key: str
    meta_file: str
    names_key: str


CIFAR10 = _Layout(
    archive="cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    folder="cifar-10-batches-py",
    splits={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    label_key="labels",
    meta_file="batches.meta",
    names_key="label_names",
)
CIFAR100 = _Layout(
    archive="cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    folder="cifar-100-python",
    splits={"train": ("train",), "test": ("test",)},
    label_key="fine_labels",
    meta_file="meta",
    names_key="fine_label_names",
)
URL = "https://www.cs.toronto.edu/~kriz/"


@lru_cache(maxsize=8)
def _read_member(root: str, layout: _Layout, member: str) -> bytes:
    base = Path(root)
    for candidate in (base / layout.folder / member, base / member):
        if candidate.is_file():
            return candidate.read_bytes()
    archive = base / layout.archive if base.is_dir() else base
    if archive.is_file() and archive.name.endswith(".tar.gz"):
        with tarfile.open(archive, "r:gz") as tar:
            try:
                fh = tar.extractfile(f"{layout.folder}/{member}")
            except KeyError:
                fh = None
            if fh is None:
                raise SourceError(f"{archive}: no member {layout.folder}/{member}")
            return fh.read()
    raise SourceError(
        f"{member} not found under {base} (looked for {layout.folder}/{member}, {member} and "
        f"{layout.archive}); point `path:` at the extracted folder or the archive, or set "
        "`download: true`"
    )


@dataclass
class CifarSource(Source):
    """CIFAR-10/100 from a local folder/archive (``path``) or the official download."""

    key: str
    layout: _Layout
    path: str | None = None
    download: bool = False

    def _root(self) -> str:
        if self.path:
            p = Path(self.path)
            if p.is_file():
                verify(p, self.layout.md5)
            return str(p)
        archive = fetch(
            self.layout.archive,
            md5=self.layout.md5,
            urls=(URL,),
            local_dir=None,
            download=self.download,
            subdir=self.key,
        )
        return str(archive)

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        return _class_names(self._root(), self.layout)

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return list(self.layout.splits)

    def input_files(self, splits: Sequence[str]) -> list[Path]:
        """See :meth:`Source.input_files` (the archive, or the extracted batch files read)."""
        root = Path(self._root())
        if root.is_file():
            return [root]
        members = [self.layout.meta_file] + [m for s in splits for m in self.layout.splits[s]]
        out = set()
        for member in members:
            found = [c for c in (root / self.layout.folder / member, root / member) if c.is_file()]
            out.add(found[0] if found else root / self.layout.archive)
        return sorted(p for p in out if p.is_file())

    def _batches(self, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
        self.check_split(split)
        return [_parse_batch(self._root(), self.layout, m) for m in self.layout.splits[split]]

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        return sum(len(lab) for _, lab in self._batches(split))

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        n_classes = len(self.class_names())
        offset = 0
        for data, labels in self._batches(split):
            n = len(labels)
            lo, hi = max(start - offset, 0), min(stop - offset, n)
            for j in range(lo, hi):
                i = offset + j
                lab = int(labels[j])
                if not 0 <= lab < n_classes:
                    yield Rejected(str(i), f"row {i}: label {lab} outside 0..{n_classes - 1}")
                    continue
                yield Example(str(i), data[j], lab)
            offset += n

    def describe(self) -> dict[str, str]:
        """See :meth:`Source.describe`."""
        n = "10" if self.layout is CIFAR10 else "100"
        return {
            "description": f"CIFAR-{n}, official python-version batches "
            "(parsed without unpickling code).",
            "license": "unknown",
            "citation": "Krizhevsky. Learning Multiple Layers of Features from Tiny Images. "
            "Technical report, University of Toronto, 2009.",
        }


@lru_cache(maxsize=8)
def _class_names(root: str, layout: _Layout) -> list[str]:
    """Return the class names from the meta file: distinct, non-empty UTF-8 strings."""
    name = layout.meta_file
    meta = safe_load(_read_member(root, layout, name), name=name)
    if layout.names_key not in meta:
        raise SourceError(
            f"{name}: no {layout.names_key!r} entry (keys: {sorted(map(str, meta))}); this is not "
            "the official meta file: re-download the archive"
        )
    raw = meta[layout.names_key]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise SourceError(
            f"{name}: {layout.names_key!r} is {type(raw).__name__} {raw!r:.40}, not a list of "
            "class names: re-download the meta file"
        )
    names = []
    for i, n in enumerate(raw):
        try:
            text = n.decode("utf-8") if isinstance(n, bytes) else n
        except UnicodeDecodeError as exc:
            raise SourceError(f"{name}: class name {i} is not UTF-8 ({exc})") from exc
        if not isinstance(text, str) or not text:
            raise SourceError(f"{name}: class name {i} is {n!r:.40}, not a non-empty string")
        names.append(text)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{name}: class names repeat {dupes}; re-download the meta file")
    return names


def _labels(raw: Any, member: str) -> np.ndarray:
    """Return labels as int64, refusing floats and bools instead of truncating them."""
    if isinstance(raw, (list, tuple)):
        bad = next((x for x in raw if type(x) is not int), None)
        if bad is not None:
            raise SourceError(
                f"{member}: label {bad!r} ({type(bad).__name__}) is not an integer class index"
            )
        return np.asarray(raw, dtype=np.int64)
    arr = np.asarray(raw)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise SourceError(f"{member}: labels {arr.shape} {arr.dtype} are not integer class indices")
    return arr.astype(np.int64)


@lru_cache(maxsize=8)
def _parse_batch(root: str, layout: _Layout, member: str) -> tuple[np.ndarray, np.ndarray]:
    batch = safe_load(_read_member(root, layout, member), name=member)
    for k in ("data", layout.label_key):
        if k not in batch:
            raise SourceError(f"{member}: batch has no {k!r} entry (keys: {sorted(batch)})")
    data = batch["data"]
    if not isinstance(data, np.ndarray):
        raise SourceError(f"{member}: data is {type(data).__name__}, not an N x 3072 uint8 array")
    labels = _labels(batch[layout.label_key], member)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise SourceError(f"{member}: data {data.shape} {data.dtype} is not N x 3072 uint8")
    if len(data) != len(labels):
        raise SourceError(f"{member}: {len(data)} images but {len(labels)} labels; re-download it")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-planar -> HWC
    return np.ascontiguousarray(images), labels


def cifar10(*, path: str | None = None, download: bool = False) -> CifarSource:
    """CIFAR-10 (50,000 train / 10,000 test, 32x32 RGB, 10 classes)."""
    return CifarSource(key="cifar10", layout=CIFAR10, path=path, download=download)


def cifar100(*, path: str | None = None, download: bool = False) -> CifarSource:
    """CIFAR-100 (50,000 train / 10,000 test, 32x32 RGB, 100 fine classes)."""
    return CifarSource(key="cifar100", layout=CIFAR100, path=path, download=download)
