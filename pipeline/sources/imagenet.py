"""ImageNet validation sets where users keep them: the layouts of the real archives, offline.

One ``imagenet`` source reads, auto-detected (``layout: auto``) or named:

* ``imagefolder``: ``val/<wnid>/ILSVRC2012_val_000NNNNN.JPEG``, the 1000 WordNet-id folders
  of the torchvision ``ImageFolder`` layout;
* ``devkit``: the flat ``ILSVRC2012_img_val/`` folder (or ``ILSVRC2012_img_val.tar``) with
  ``ILSVRC2012_validation_ground_truth.txt`` (line N = the devkit's ILSVRC2012_ID of image N),
  mapped to the standard class index through the devkit's own ``data/meta.mat``;
* ``kaggle``: the same flat folder (Kaggle's ``ILSVRC/Data/CLS-LOC/val``) with
  ``LOC_val_solution.csv`` (``ImageId,PredictionString``; the first WordNet id of each row);
* ``imagenetv2``: ImageNetV2's ``<class index>/<hash>.jpeg`` folders;
* ``tiny``: Tiny-ImageNet's ``val/images/val_N.JPEG`` with ``val_annotations.txt``, the 200
  classes of ``wnids.txt`` and their names from ``words.txt``.

The class index is the standard one: sorted WordNet ids (ILSVRC-2012: the 1000 ids and their
words ship as package data, ``pipeline/data/imagenet_classes.tsv``, with their provenance; no
network and no training split are needed). The row key is the file stem, so ``sample_id`` is
``imagenet/validation/ILSVRC2012_val_000NNNNN`` whatever the layout and ReaL, the MTurk lists
and the mistake files join by name. Rows are in file-name order (image number order for the
ILSVRC names), never in folder-listing order. Greyscale and CMYK JPEGs become RGB, as the
reference loaders (``PIL.Image.convert("RGB")``) did.

References:
    Russakovsky et al., "ImageNet Large Scale Visual Recognition Challenge", IJCV 2015.
    Recht et al., "Do ImageNet Classifiers Generalize to ImageNet?", ICML 2019 (ImageNetV2).
    Le & Yang, "Tiny ImageNet Visual Recognition Challenge", CS231N 2015.
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from pipeline.errors import SourceError
from pipeline.sources.base import Example, Rejected, Source
from pipeline.sources.hf import decode_image

__all__ = ["ImageNetSource", "IMAGENET_OPTIONS", "LAYOUTS", "imagenet_classes", "unique_names"]

LAYOUTS = ("auto", "imagefolder", "devkit", "kaggle", "imagenetv2", "tiny")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
WNID_RE = re.compile(r"^n\d{8}$")
VAL_RE = re.compile(r"^ILSVRC2012_val_(\d{8})$")
#: Options of the ``imagenet`` source registry entry (name -> one-line meaning).
IMAGENET_OPTIONS = {
    "path": "validation folder, its parent, or ILSVRC2012_img_val.tar",
    "layout": f"one of {list(LAYOUTS)} (default auto: detected from the files)",
    "labels": "ground truth: ILSVRC2012_validation_ground_truth.txt, LOC_val_solution.csv or "
    "val_annotations.txt (default: searched beside the images)",
    "meta": "devkit data/meta.mat mapping ILSVRC2012_ID -> wnid (default: beside the labels)",
    "split": "split name of the rows (default validation)",
}
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
KAGGLE_CSV = "LOC_val_solution.csv"


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the 1000 ILSVRC-2012 ``(wnids, words)`` in standard (sorted wnid) order.

    Read from the package data file ``pipeline/data/imagenet_classes.tsv`` (provenance in its
    header).

    Example:
        >>> wnids, words = imagenet_classes()
        >>> len(wnids), wnids[0], words[0]
        (1000, 'n01440764', 'tench, Tinca tinca')

    """
    text = resources.files("pipeline.data").joinpath("imagenet_classes.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    wnids = tuple(r[1] for r in rows)
    if len(wnids) != 1000 or list(wnids) != sorted(set(wnids)):
        raise SourceError("pipeline/data/imagenet_classes.tsv is damaged: reinstall benchsmith")
    return wnids, tuple(r[2] for r in rows)


def unique_names(
    wnids: list[str] | tuple[str, ...], words: list[str] | tuple[str, ...]
) -> list[str]:
    """Class names from the synset words, with the wnid appended where words repeat.

    Example:
        >>> unique_names(["n1", "n2", "n3"], ["crane", "dog", "crane"])
        ['crane (n1)', 'dog', 'crane (n3)']

    """
    seen: dict[str, int] = {}
    for w in words:
        seen[w] = seen.get(w, 0) + 1
    return [f"{w} ({n})" if seen[w] > 1 else w for n, w in zip(wnids, words, strict=True)]


def _stem(name: str) -> str:
    return Path(name).name.rsplit(".", 1)[0]


def _image_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def _val_number(stem: str) -> int | None:
    m = VAL_RE.match(stem)
    return int(m.group(1)) if m else None


def _natural(stem: str) -> tuple[int, str]:
    digits = re.findall(r"\d+", stem)
    return (int(digits[-1]) if digits else -1, stem)


def _read_text(path: Path) -> str:
    """UTF-8 text of a labels/wnids/words file (SourceError naming it when unreadable)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as exc:  # missing, a folder, unreadable
        raise SourceError(f"imagenet: cannot read {path} ({exc}); fix `labels:`/the file") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc}); the released files are ASCII, "
                          "re-extract it from the archive") from exc


def _find_up(start: Path, names: tuple[str, ...], depth: int = 5) -> Path | None:
    """First file named one of ``names`` in ``start`` or its parents (and their devkit folders)."""
    folder = start if start.is_dir() else start.parent
    for _ in range(depth):
        for sub in ("", "ILSVRC2012_devkit_t12/data", "data"):
            for n in names:
                cand = folder / sub / n if sub else folder / n
                if cand.is_file():
                    return cand
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def read_devkit_meta(path: Path) -> dict[int, str]:
    """ILSVRC2012_ID -> wnid of the 1000 leaf synsets in the devkit's ``data/meta.mat``.

    Raises:
        SourceError: The file does not load or does not list the 1000 ILSVRC-2012 classes.

    """
    from scipy.io import loadmat

    try:
        syn = loadmat(str(path), squeeze_me=True)["synsets"]
        ids = [int(x) for x in syn["ILSVRC2012_ID"]]
        wnids = [str(x) for x in syn["WNID"]]
        children = [int(x) for x in syn["num_children"]]
    except Exception as exc:  # noqa: BLE001 - scipy's MatReadError derives from Exception only
        raise SourceError(f"{path}: not a devkit meta.mat with a synsets table ({exc})") from exc
    out = {i: w for i, w, c in zip(ids, wnids, children, strict=True) if c == 0 and 1 <= i <= 1000}
    if sorted(out) != list(range(1, 1001)) or set(out.values()) != set(imagenet_classes()[0]):
        raise SourceError(
            f"{path}: expected the 1000 ILSVRC-2012 leaf synsets (ILSVRC2012_ID 1..1000), found "
            f"{len(out)}; pass the meta.mat of ILSVRC2012_devkit_t12 with `meta:`"
        )
    return out


def read_ground_truth(path: Path, meta: dict[int, str], index: dict[str, int]) -> list[int]:
    """Class index per image number (list position N-1) from the devkit ground truth.

    Raises:
        SourceError: A line that is not an ILSVRC2012_ID in 1..1000 (names file and line).

    """
    out = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        tok = line.strip()
        if not re.fullmatch(r"[0-9]+", tok) or int(tok) not in meta:  # ASCII digits only
            raise SourceError(
                f"{path}: line {n} is {line!r}, not an ILSVRC2012_ID in 1..1000; the file must "
                "hold one devkit class id per line, line N for ILSVRC2012_val_N"
            )
        out.append(index[meta[int(tok)]])
    return out


def read_kaggle_solution(path: Path, index: dict[str, int]) -> dict[str, int]:
    """Image stem -> class index from Kaggle's ``LOC_val_solution.csv``.

    Raises:
        SourceError: Missing columns, an unknown WordNet id or boxes of different classes
            on one row (names file and line).

    """
    out: dict[str, int] = {}
    with io.StringIO(_read_text(path), newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
            raise SourceError(f"{path}: line 1 must be the header ImageId,PredictionString")
        for n, row in enumerate(reader, start=2):
            if len(row) < 2 or not row[0].strip():
                raise SourceError(f"{path}: line {n} has no ImageId,PredictionString pair")
            toks = row[1].split()
            labels = set(toks[0::5])
            coords = [t for i, t in enumerate(toks) if i % 5]
            if (not toks or len(toks) % 5 or len(labels) != 1 or not labels <= set(index)
                    or not all(re.fullmatch(r"-?[0-9]+(\.[0-9]*)?", t) for t in coords)):
                raise SourceError(
                    f"{path}: line {n} ({row[0]}): PredictionString {row[1][:60]!r} must be "
                    "'<wnid> x0 y0 x1 y1' boxes of one ILSVRC-2012 WordNet id"
                )
            stem = row[0].strip()
            if stem in out:  # the later row silently won
                raise SourceError(f"{path}: line {n}: image {stem} already has a row; keep one")
            out[stem] = index[toks[0]]
    return out


@dataclass(eq=False)
class ImageNetSource(Source):
    """An ImageNet-style validation set in a local folder or tar (see the module docstring).

    Attributes:
        path: The image folder, its parent, or ``ILSVRC2012_img_val.tar``.
        layout: One of :data:`LAYOUTS`; ``auto`` detects it from the files.
        labels: Ground-truth file (devkit txt, Kaggle csv, Tiny ``val_annotations.txt``);
            default: searched beside the images and up to three folders up.
        meta: Devkit ``meta.mat`` (ILSVRC2012_ID -> wnid); default: beside ``labels``.
        split: The split name the rows get (``sample_id`` = ``<name>/<split>/<file stem>``).
    """

    path: str
    layout: str = "auto"
    labels: str | None = None
    meta: str | None = None
    split: str = "validation"
    key: str = "imagenet"

    def __post_init__(self) -> None:
        for opt in ("path", "layout", "labels", "meta", "split"):
            value = getattr(self, opt)
            if not isinstance(value, str) and (value is not None or opt in ("path", "split")):
                raise SourceError(f"imagenet: option {opt!r} must be a string (quote it), got "
                                  f"{value!r}")
        if self.layout not in LAYOUTS:
            raise SourceError(f"imagenet: layout {self.layout!r} is not one of {list(LAYOUTS)}")

    # -- layout detection -------------------------------------------------------------------
    def _root(self) -> Path:
        p = Path(self.path).expanduser()
        if not p.exists():
            raise SourceError(f"imagenet: {p} does not exist; point `path` at the validation "
                              "folder (or ILSVRC2012_img_val.tar)")
        if p.is_dir() and (p / "val").is_dir() and not (p / "val_annotations.txt").is_file():
            return p / "val"
        return p

    @lru_cache(maxsize=1)  # noqa: B019 - sources live for one stage run
    def _detect(self) -> tuple[str, Path]:
        root = self._root()
        if self.layout != "auto":
            return self.layout, root
        if root.is_file():
            return "devkit" if self._find_labels(root, (GROUND_TRUTH,)) else "kaggle", root
        if (root / "val_annotations.txt").is_file():
            return "tiny", root
        subdirs = [p.name for p in root.iterdir() if p.is_dir()]
        if subdirs and all(WNID_RE.match(s) for s in subdirs):
            return "imagefolder", root
        if subdirs and all(s.isdigit() for s in subdirs):
            return "imagenetv2", root
        if any(_val_number(_stem(p.name)) is not None for p in _image_files(root)):
            if self._find_labels(root, (GROUND_TRUTH,)):
                return "devkit", root
            if self._find_labels(root, (KAGGLE_CSV,)):
                return "kaggle", root
            raise SourceError(
                f"imagenet: {root} holds flat ILSVRC2012_val_* images but no labels: put "
                f"{GROUND_TRUTH} (with the devkit's data/meta.mat) or {KAGGLE_CSV} beside it, or "
                "set `labels:`"
            )
        raise SourceError(
            f"imagenet: cannot tell the layout of {root}: expected <wnid>/ folders, <class index>/ "
            "folders (ImageNetV2), flat ILSVRC2012_val_*.JPEG files with labels, or "
            f"Tiny-ImageNet's val_annotations.txt; set `layout:` to one of {list(LAYOUTS[1:])}"
        )

    def _find_labels(self, root: Path, names: tuple[str, ...]) -> Path | None:
        """Return the ``labels`` option if its suffix fits ``names``, else search for ``names``."""
        if self.labels:
            p = Path(self.labels).expanduser()
            if not p.is_file():
                raise SourceError(f"imagenet: labels file {p} not found")
            return p if p.suffix == Path(names[0]).suffix else None
        return _find_up(root, names)

    # -- the rows ---------------------------------------------------------------------------
    @lru_cache(maxsize=1)  # noqa: B019
    def _rows(self) -> tuple[list[str], list[tuple[str, str]], list[int]]:
        """``(class names, [(file key, member path)], labels)`` in file-name order."""
        layout, root = self._detect()
        if layout == "tiny":
            return self._tiny_rows(root)
        wnids, words = imagenet_classes()
        names = unique_names(wnids, words)
        index = {w: i for i, w in enumerate(wnids)}
        files: list[tuple[str, str]] = []  # (stem, path or tar member)
        labels: list[int] = []
        if layout in ("imagefolder", "imagenetv2"):
            for d in sorted(p for p in root.iterdir() if p.is_dir()):
                if layout == "imagefolder":
                    if d.name not in index:
                        raise SourceError(f"imagenet: folder {d} is not an ILSVRC-2012 WordNet id")
                    y = index[d.name]
                else:
                    if not d.name.isdigit() or not 0 <= int(d.name) < 1000:
                        raise SourceError(f"imagenet: folder {d} is not a class index 0..999")
                    y = int(d.name)
                for f in _image_files(d):
                    files.append((_stem(f.name), str(f)))
                    labels.append(y)
        else:
            members = sorted(self._members(root), key=lambda m: _natural(m[0]))
            if layout == "devkit":
                gt = self._find_labels(root, (GROUND_TRUTH,))
                if gt is None:
                    raise SourceError(
                        f"imagenet: no {GROUND_TRUTH} found for {root}; set `labels:`")
                meta_path = (Path(self.meta).expanduser() if self.meta
                             else _find_up(gt, ("meta.mat",), 2))
                if meta_path is None or not meta_path.is_file():
                    raise SourceError(
                        f"imagenet: {gt} holds devkit class ids; their wnids are in the devkit's "
                        "data/meta.mat, not found beside it; set `meta:`")
                per_image = read_ground_truth(gt, read_devkit_meta(meta_path), index)
                for stem, member in members:
                    n = _val_number(stem)
                    if n is None or n > len(per_image):
                        raise SourceError(
                            f"imagenet: {gt} has no line {n} for image {stem} (the file has "
                            f"{len(per_image)} lines); use the ground truth of the same release")
                    files.append((stem, member))
                    labels.append(per_image[n - 1])
            else:
                csv_path = self._find_labels(root, (KAGGLE_CSV,))
                if csv_path is None:
                    raise SourceError(f"imagenet: no {KAGGLE_CSV} found for {root}; set `labels:`")
                by_stem = read_kaggle_solution(csv_path, index)
                for stem, member in members:
                    if stem not in by_stem:
                        raise SourceError(f"imagenet: {csv_path} has no row for image {stem}")
                    files.append((stem, member))
                    labels.append(by_stem[stem])
        return names, *self._ordered(files, labels, root)

    def _members(self, root: Path) -> list[tuple[str, str]]:
        if root.is_file():
            try:
                with tarfile.open(root, "r:") as tar:  # uncompressed, as released
                    # member "path" = "<data offset>:<size>": read() seeks, no second scan
                    return [(_stem(m.name), f"{m.offset_data}:{m.size}") for m in tar.getmembers()
                            if m.isfile() and Path(m.name).suffix.lower() in IMAGE_SUFFIXES]
            except (tarfile.TarError, OSError) as exc:
                raise SourceError(f"imagenet: {root} is not a readable uncompressed tar ({exc}); "
                                  "unpack it or give the plain ILSVRC2012_img_val.tar") from exc
        return [(_stem(p.name), str(p)) for p in _image_files(root)]

    def _tiny_rows(self, root: Path) -> tuple[list[str], list[tuple[str, str]], list[int]]:
        ann = Path(self.labels) if self.labels else root / "val_annotations.txt"
        wnid_file = _find_up(root, ("wnids.txt",), 2)
        if wnid_file is None:
            raise SourceError(f"imagenet: Tiny-ImageNet's wnids.txt not found above {root}")
        wnids = sorted({w.strip() for w in _read_text(wnid_file).split() if w.strip()})
        index = {w: i for i, w in enumerate(wnids)}
        words_file = _find_up(root, ("words.txt",), 2)
        words = dict.fromkeys(wnids, "")
        if words_file is not None:
            for line in _read_text(words_file).splitlines():
                wn, _, text = line.partition("\t")
                if wn in words:
                    words[wn] = text.strip()
        names = unique_names(wnids, [words[w] or w for w in wnids])
        images = root / "images"
        files, labels = [], []
        for n, line in enumerate(_read_text(ann).splitlines(), start=1):
            parts = line.split("\t")
            if parts and Path(parts[0]).name != parts[0]:  # '../x' read outside images/
                raise SourceError(f"{ann}: line {n} names {parts[0]!r}; expected a file name "
                                  "inside val/images/ (no folders)")
            if len(parts) < 2 or parts[1] not in index:
                raise SourceError(
                    f"{ann}: line {n} is {line[:60]!r}; expected '<file>\\t<wnid>\\t<box>' with a "
                    f"wnid of {wnid_file}")
            f = images / parts[0]
            if not f.is_file():
                raise SourceError(f"{ann}: line {n} names {parts[0]}, not in {images}")
            files.append((_stem(parts[0]), str(f)))
            labels.append(index[parts[1]])
        return names, *self._ordered(files, labels, root)

    @staticmethod
    def _ordered(files: list[tuple[str, str]], labels: list[int],
                 root: Path) -> tuple[list[tuple[str, str]], list[int]]:
        if not files:
            raise SourceError(f"imagenet: no images found in {root}")
        order = sorted(range(len(files)), key=lambda i: _natural(files[i][0]))
        stems = [files[i][0] for i in order]
        dup = next((a for a, b in zip(stems, stems[1:], strict=False) if a == b), None)
        if dup is not None:
            raise SourceError(f"imagenet: image {dup} appears twice under {root}")
        return [files[i] for i in order], [labels[i] for i in order]

    # -- the Source contract ----------------------------------------------------------------
    def layout_name(self) -> str:
        """Return the layout in use (detected when ``layout`` is ``auto``)."""
        return self._detect()[0]

    def class_names(self) -> list[str]:
        """See :meth:`Source.class_names`."""
        if self.layout_name() == "tiny":
            return list(self._rows()[0])
        wnids, words = imagenet_classes()
        return unique_names(wnids, words)

    def wnids(self) -> list[str]:
        """Return the WordNet ids in class-index order."""
        if self.layout_name() != "tiny":
            return list(imagenet_classes()[0])
        wnid_file = _find_up(self._detect()[1], ("wnids.txt",), 2)
        return sorted({w for w in (_read_text(wnid_file).split() if wnid_file else [])})

    def splits(self) -> list[str]:
        """See :meth:`Source.splits`."""
        return [self.split]

    def num_rows(self, split: str) -> int:
        """See :meth:`Source.num_rows`."""
        self.check_split(split)
        return len(self._rows()[1])

    def read(self, split: str, start: int, stop: int) -> Iterator[Example | Rejected]:
        """See :meth:`Source.read`."""
        self.check_split(split)
        _, files, labels = self._rows()
        _, root = self._detect()
        tar = open(root, "rb") if root.is_file() else None  # closed in the finally below
        try:
            for (stem, member), y in zip(files[start:stop], labels[start:stop], strict=True):
                try:
                    if tar is not None:
                        offset, size = (int(v) for v in member.split(":"))
                        tar.seek(offset)
                        data = tar.read(size)
                        pixels = decode_image(data, what=f"{root}:{stem}")
                    else:
                        pixels = decode_image(None, path=member, what=member)
                except (SourceError, OSError) as exc:
                    yield Rejected(stem, f"{exc}; fix or remove the file")
                    continue
                if pixels.ndim == 2:  # greyscale JPEG -> RGB, as PIL convert("RGB") does
                    pixels = np.repeat(pixels[:, :, None], 3, axis=2)
                yield Example(stem, pixels, y)
        finally:
            if tar is not None:
                tar.close()

    def describe(self) -> dict[str, str]:
        """See :meth:`Source.describe`."""
        if self.layout_name() == "tiny":
            return {"description": "Tiny-ImageNet validation set (200 classes, 64x64) read from a "
                    "local copy.", "license": "ImageNet terms of access (non-commercial research)",
                    "citation": "Le & Yang, Tiny ImageNet Visual Recognition Challenge, 2015."}
        return {
            "description": "ILSVRC-2012 (ImageNet-1k) validation images read from a local copy; "
            "classes in the standard sorted-WordNet-id order.",
            "license": "ImageNet terms of access (non-commercial research and education)",
            "citation": "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, "
            "IJCV 2015.",
        }
