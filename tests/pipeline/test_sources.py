"""Sources read real files through the parsers users hit; bad input gets a clear error."""

from __future__ import annotations

import gzip
import io
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipeline.errors import ChecksumError, ManifestError, SourceError
from pipeline.sources import Example, Rejected, make_source
from pipeline.sources.cifar import safe_load

MNIST_TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # official


def _labels(src, split):
    return np.array(
        [e.label for e in src.read(split, 0, src.num_rows(split)) if isinstance(e, Example)]
    )


def test_mnist_test_from_shared_matches_official_histogram(shared_dir: Path) -> None:
    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    assert src.num_rows("test") == 10_000
    labels = _labels(src, "test")
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_HISTOGRAM
    first = next(iter(src.read("test", 0, 1)))
    assert first.image.shape == (28, 28) and first.image.dtype == np.uint8 and first.label == 7


def test_mnist_missing_train_images_names_file_and_fix(shared_dir: Path) -> None:
    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    with pytest.raises(SourceError, match=r"train-images-idx3-ubyte\.gz not found.*download: true"):
        src.num_rows("train")


def test_fashion_mnist_train_and_test(shared_dir: Path) -> None:
    src = make_source("fashion_mnist", {"path": str(shared_dir / "datasets/fashion-mnist")})
    assert src.num_rows("train") == 60_000 and src.num_rows("test") == 10_000
    assert np.bincount(_labels(src, "test"), minlength=10).tolist() == [1000] * 10
    assert src.class_names()[9] == "Ankle boot"


def test_checksum_mismatch_names_file(tmp_path: Path, shared_dir: Path) -> None:
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(shared_dir / "datasets/mnist" / name, tmp_path / name)
    data = bytearray((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(bytes(data))
    src = make_source("mnist", {"path": str(tmp_path)})
    with pytest.raises(
        ChecksumError, match=r"t10k-labels-idx1-ubyte\.gz: md5 .* published ec29112d"
    ):
        src.num_rows("test")


def test_mnist5k_bundled_default() -> None:
    src = make_source("mnist5k")
    assert src.num_rows("train") == 5000
    assert np.bincount(_labels(src, "train"), minlength=10).tolist() == [500] * 10


def test_digits_bundled() -> None:
    src = make_source("digits")
    ex = next(iter(src.read("train", 0, 1)))
    images = np.stack([e.image for e in src.read("train", 0, 1797)])
    assert src.num_rows("train") == 1797 and ex.image.shape == (8, 8)
    assert images.max() == 255 and images.min() == 0  # 0..16 rescaled to 0..255


def _official_batch(images: np.ndarray, labels: np.ndarray) -> bytes:
    """A batch laid out like the official python-version file (dict, channel-planar uint8)."""
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(x) for x in labels],
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    return pickle.dumps(batch, protocol=2)


@pytest.fixture(scope="module")
def cifar_archive(tmp_path_factory, cifar10_test, shared_dir: Path) -> Path:
    images, labels = cifar10_test
    root = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    root.mkdir()
    (root / "test_batch").write_bytes(_official_batch(images, labels))
    shutil.copy(shared_dir / "datasets/cifar10/batches.meta", root / "batches.meta")
    return root.parent


def test_cifar10_python_version_parsed_safely(cifar_archive: Path, cifar10_test) -> None:
    images, labels = cifar10_test
    src = make_source("cifar10", {"path": str(cifar_archive)})
    assert src.num_rows("test") == 10_000
    assert src.class_names() == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                 "horse", "ship", "truck"]
    got = list(src.read("test", 9990, 10_000))
    assert [e.label for e in got] == labels[9990:].tolist()
    np.testing.assert_array_equal(got[3].image, images[9993])


def test_cifar10_from_tar_gz(tmp_path: Path, cifar10_test, shared_dir: Path) -> None:
    images, labels = cifar10_test
    tar_path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tar_path, "w:gz", compresslevel=1) as tar:
        for name, data in (
            ("test_batch", _official_batch(images[:500], labels[:500])),
            ("batches.meta", (shared_dir / "datasets/cifar10/batches.meta").read_bytes()),
        ):
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    src = make_source("cifar10", {"path": str(tmp_path)})
    assert src.num_rows("test") == 500
    assert [e.label for e in src.read("test", 0, 500)] == labels[:500].tolist()


def test_crafted_pickle_is_refused() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(
        SourceError, match=r"refusing to unpickle global (__builtin__|builtins)\.print"
    ):
        safe_load(pickle.dumps({b"data": Evil()}, protocol=2), name="test_batch")


def test_truncated_official_batch_is_refused(shared_dir: Path) -> None:
    data = (shared_dir / "datasets/cifar10/test_batch.prefix-3MiB").read_bytes()
    with pytest.raises(SourceError, match="not a complete CIFAR batch"):
        safe_load(data, name="test_batch")


def test_parquet_source_reads_hf_layout(shared_dir: Path) -> None:
    src = make_source(
        "parquet", {"files": {"test": str(shared_dir / "datasets/cifar10/*.parquet")}}
    )
    assert src.num_rows("test") == 10_000 and len(src.class_names()) == 10


def test_parquet_missing_label_column(shared_dir: Path) -> None:
    src = make_source("parquet", {"files": {"test": str(shared_dir / "datasets/cifar10/*.parquet")},
                                  "label_column": "fine_label"})
    with pytest.raises(SourceError, match=r"no column 'fine_label'.*label_column"):
        src.num_rows("test")


def test_imagefolder_quarantines_corrupt_file(tmp_path: Path) -> None:
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(np.full((5, 7, 3), i * 50, np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    src = make_source("imagefolder", {"root": str(tmp_path)})
    rows = list(src.read("train", 0, src.num_rows("train")))
    rejected = [r for r in rows if isinstance(r, Rejected)]
    assert src.class_names() == ["cat", "dog"] and len(rows) == 5
    assert len(rejected) == 1 and rejected[0].key == "dog/broken.jpg"
    assert "broken.jpg" in rejected[0].reason and "cannot decode" in rejected[0].reason


def test_unknown_source_and_option_list_valid_ones() -> None:
    with pytest.raises(ManifestError, match=r"unknown source 'mnsit'; valid: .*mnist5k"):
        make_source("mnsit")
    with pytest.raises(ManifestError, match=r"no option\(s\) \['pth'\]; allowed: download, path"):
        make_source("mnist", {"pth": "x"})


def test_idx_parser_refuses_truncated_file(tmp_path: Path, shared_dir: Path) -> None:
    from pipeline.sources.idx import read_idx

    raw = gzip.decompress((shared_dir / "datasets/mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "short-idx1-ubyte"
    path.write_bytes(raw[:-10])
    with pytest.raises(SourceError, match="truncated"):
        read_idx(path)


def test_shared_parquet_is_hf_layout(shared_dir: Path) -> None:
    schema = pq.read_schema(
        shared_dir / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    )
    assert b"huggingface" in (schema.metadata or {})
