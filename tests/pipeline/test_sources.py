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


def _folder(root: Path) -> None:
    for cls, value in (("cat", 10), ("dog", 200)):
        (root / cls).mkdir(parents=True)
        Image.fromarray(np.full((4, 5, 3), value, np.uint8)).save(root / cls / "a.png")


def test_imagefolder_counts_every_skipped_file_with_its_reason(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _folder(root)
    (root / "cat" / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (root / "dog" / "LICENSE").write_text("cc-by")
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(root / "stray.png")
    (tmp_path / "outside.png").write_bytes((root / "cat" / "a.png").read_bytes())
    (root / "dog" / "link.png").symlink_to(tmp_path / "outside.png")
    (root / "dog" / "inside.png").symlink_to(root / "cat" / "a.png")  # stays in the root: fine
    src = make_source("imagefolder", {"root": str(root)})
    rows = list(src.read("train", 0, src.num_rows("train")))
    reasons = {r.key: r.reason for r in rows if isinstance(r, Rejected)}
    kept = [r.key for r in rows if isinstance(r, Example)]
    assert src.num_rows("train") == 7 and src.class_names() == ["cat", "dog"]
    assert kept == ["cat/a.png", "dog/a.png", "dog/inside.png"]
    assert set(reasons) == {"stray.png", "cat/photo.heic", "dog/LICENSE", "dog/link.png"}
    assert "unsupported type '.heic'" in reasons["cat/photo.heic"]
    assert "no file extension" in reasons["dog/LICENSE"]
    assert "not in a <class>/ folder" in reasons["stray.png"]
    assert "outside the root" in reasons["dog/link.png"] and "follow_symlinks_outside" in reasons[
        "dog/link.png"]
    allowed = make_source("imagefolder", {"root": str(root), "follow_symlinks_outside": True})
    keys = [r.key for r in allowed.read("train", 0, 7) if isinstance(r, Example)]
    assert "dog/link.png" in keys


def test_parquet_path_cells_stay_inside_allowed_roots(tmp_path: Path, shared_dir: Path) -> None:
    import pyarrow as pa

    from pipeline.sources.files import ParquetSource  # noqa: F401 - the class under test

    data_dir, other = tmp_path / "data", tmp_path / "other"
    data_dir.mkdir()
    other.mkdir()
    img = np.full((3, 3, 3), 77, np.uint8)
    Image.fromarray(img).save(data_dir / "in.png")
    Image.fromarray(img).save(other / "out.png")
    cells = [{"bytes": None, "path": "in.png"}, {"bytes": None, "path": str(other / "out.png")}]
    table = pa.table({"image": pa.array(cells, pa.struct([("bytes", pa.binary()),
                                                          ("path", pa.string())])),
                      "label": pa.array([0, 1], pa.int64())})
    pq.write_table(table, data_dir / "t.parquet")
    opts = {"files": {"test": str(data_dir / "t.parquet")}, "names": ["a", "b"]}
    rows = list(make_source("parquet", opts).read("test", 0, 2))
    assert isinstance(rows[0], Example) and np.array_equal(rows[0].image, img)
    assert isinstance(rows[1], Rejected) and "outside the allowed folders" in rows[1].reason
    rows = list(make_source("parquet", {**opts, "path_roots": [str(other)]}).read("test", 0, 2))
    assert all(isinstance(r, Example) for r in rows)


@pytest.mark.parametrize(
    ("source", "options", "message"),
    [
        ("cifar10", {"download": "no"},
         r"options\.download: 'no' \(str\) is not allowed; expected true or false.*: false"),
        ("mnist", {"path": 123}, r"options\.path: 123 \(int\) is not allowed; expected a non-"),
        ("parquet", {"files": {"test": "x"}, "names": "abcdefghij"},
         r"options\.names: 'abcdefghij' \(str\).*a single string is not a list"),
        ("parquet", {"files": {"test": "x"}, "names": ["a", True]},
         r"options\.names\[1\]: True \(bool\)"),
        ("imagefolder", {"root": "x", "max_pixels": 2.5}, r"options\.max_pixels: 2\.5 \(float\)"),
        ("imagefolder", {"root": "x", "max_pixels": True}, r"options\.max_pixels: True \(bool\)"),
        ("hf", {"repo_id": "a/b", "key_from": "stem"}, r"expected one of \['index', 'path'\]"),
        ("mnist", [1], r"options: expected a mapping of option -> value, got list"),
    ],
)
def test_options_are_typed_and_errors_name_key_value_and_fix(source, options, message) -> None:
    with pytest.raises(ManifestError, match=message):
        make_source(source, options, where="m.yaml: sources[0]")


def test_parquet_without_names_hints_the_real_option(tmp_path: Path, shared_dir: Path) -> None:
    import pyarrow as pa

    table = pq.read_table(shared_dir / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    pq.write_table(table.slice(0, 3).replace_schema_metadata({}), tmp_path / "t.parquet")
    src = make_source("parquet", {"files": {"test": str(tmp_path / "t.parquet")}})
    with pytest.raises(SourceError, match=r"give them with `names: \[\.\.\.\]`"):
        src.class_names()
    floats = table.slice(0, 3).set_column(2, "label", pa.array([3.7, 1.0, 2.0]))
    pq.write_table(floats, tmp_path / "f.parquet")
    src = make_source("parquet", {"files": {"test": str(tmp_path / "f.parquet")}})
    with pytest.raises(SourceError, match=r"label column 'label' has type double"):
        src.num_rows("test")


def test_cifar_meta_and_labels_are_checked(tmp_path: Path, shared_dir: Path) -> None:
    from pipeline.sources.cifar import CIFAR10, _class_names, _labels

    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a", b"b", b"a"]}))
    with pytest.raises(SourceError, match=r"class names repeat \['a'\]"):
        _class_names(str(tmp_path), CIFAR10)
    with pytest.raises(SourceError, match=r"label 3\.7 \(float\) is not an integer"):
        _labels([1, 3.7], "test_batch")
    with pytest.raises(SourceError, match=r"float64 are not integer class indices"):
        _labels(np.array([1.0, 2.0]), "test_batch")
    assert _labels(np.array([1, 2], np.uint8), "b").dtype == np.int64


def test_imagefolder_row_order_is_path_order(tmp_path: Path) -> None:
    rels = ["cat/b.png", "cat/a/x.png", "cat/a-b/y.png", "cat/a/z/w.png", "dog/10.png", "dog/2.png"]
    for rel in rels:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / rel)
    src = make_source("imagefolder", {"root": str(tmp_path)})
    got = [r.key for r in src.read("train", 0, src.num_rows("train"))]
    # sorted by path components ("cat/a/..." before "cat/a-b/..."), so sample ids keep their rows
    assert got == ["cat/a/x.png", "cat/a/z/w.png", "cat/a-b/y.png", "cat/b.png", "dog/10.png",
                   "dog/2.png"]
