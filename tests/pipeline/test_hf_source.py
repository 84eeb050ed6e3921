"""The ``hf`` source reads only the requested split of a (local, multi-split) dataset repository.

The repository is laid out as on the Hub (``README.md`` with ``configs``/``dataset_info``, one
Parquet file per split under ``data/``) and loaded by the real ``datasets.load_dataset``,
offline. Which files are opened is recorded with a Python audit hook (every ``open`` of a
Parquet file, from any thread), so "reads only the validation split" is measured, not assumed.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from pipeline.errors import SourceError
from pipeline.manifest import parse_manifest
from pipeline.pull import pull
from pipeline.reannotate.tables import find_configs, read_config
from pipeline.sources import make_source

OPENED: list[str] = []
_RECORDING = [False]


def _hook(event: str, args: tuple) -> None:
    if _RECORDING[0] and event == "open" and isinstance(args[0], str | Path):
        if str(args[0]).endswith(".parquet"):
            OPENED.append(str(args[0]))


sys.addaudithook(_hook)  # audit hooks cannot be removed: it records only while _RECORDING

CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: validation
    path: data/validation-*
  - split: test
    path: data/test-*
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
          '0': tench
          '1': goldfish
          '2': great white shark
---
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub") / "toy-imagenet"
    (root / "data").mkdir(parents=True)
    feats = datasets.Features({"image": datasets.Image(),
                               "label": datasets.ClassLabel(names=["a", "b", "c"])})
    for split, n, shards in (("train", 30, 2), ("validation", 7, 1), ("test", 5, 1)):
        for k in range(shards):
            imgs = []
            for i in range(n):
                buf = io.BytesIO()
                pixels = np.full((6, 8, 3), (7 * i + k) % 256, np.uint8)
                Image.fromarray(pixels).save(buf, format="JPEG")
                imgs.append({"bytes": buf.getvalue(),
                             "path": f"ILSVRC2012_val_{i + 1:08d}.JPEG" if split == "validation"
                             else f"{split}_{i}.JPEG"})
            ds = datasets.Dataset.from_dict({"image": imgs, "label": [i % 3 for i in range(n)]},
                                            features=feats)
            ds.to_parquet(str(root / f"data/{split}-{k:05d}-of-{shards:05d}.parquet"))
    (root / "README.md").write_text(CARD)
    return root


@pytest.fixture()
def recording(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    OPENED.clear()
    _RECORDING[0] = True
    yield OPENED
    _RECORDING[0] = False


def repo_files(opened: list[str], repo: Path) -> set[str]:
    """Names of the repository's Parquet files that were opened (not the build's own shards)."""
    return {Path(p).name for p in opened if Path(p).resolve().is_relative_to(repo.resolve())}


def test_only_the_requested_split_is_opened(repo: Path, recording: list[str]) -> None:
    src = make_source("hf", {"repo_id": str(repo), "key_from": "path"})
    # class names from the card's features (not the Parquet metadata), no split loaded
    assert src.class_names() == ["tench", "goldfish", "great white shark"]
    assert recording == []
    assert src.num_rows("validation") == 7
    rows = list(src.read("validation", 2, 6))
    assert [r.key for r in rows] == [f"ILSVRC2012_val_{i:08d}" for i in range(3, 7)]
    assert [r.label for r in rows] == [2, 0, 1, 2]
    assert rows[0].image.shape == (6, 8, 3)
    assert repo_files(recording, repo) == {"validation-00000-of-00001.parquet"}
    assert src.num_rows("train") == 60  # the hook does see a split that is asked for
    assert repo_files(recording, repo) == {"validation-00000-of-00001.parquet",
                                           "train-00000-of-00002.parquet",
                                           "train-00001-of-00002.parquet"}


def test_pull_of_validation_never_touches_train(repo: Path, recording: list[str],
                                                tmp_path: Path) -> None:
    m = parse_manifest({"name": "toy", "sources": [{
        "source": "hf", "name": "imagenet", "splits": ["validation"],
        "options": {"repo_id": str(repo), "key_from": "path"}}]}, path="toy.yaml")
    pull(m, tmp_path / "pulled", scheduler="sync", workers=1, shard_size=4, progress=False)
    assert repo_files(recording, repo) == {"validation-00000-of-00001.parquet"}
    t = read_config(find_configs([tmp_path / "pulled"])["clean"][0], ["sample_id", "label"])
    assert t["sample_id"].to_pylist()[0] == "imagenet/validation/ILSVRC2012_val_00000001"
    assert t.num_rows == 7


def test_unknown_split_and_gated_repo_are_explained(repo: Path, recording, monkeypatch) -> None:
    src = make_source("hf", {"repo_id": str(repo), "split_names": ["validation", "val2"]})
    with pytest.raises(SourceError, match=r"no data files for split 'val2'; its splits: \['test', "
                                          r"'train', 'validation'\]"):
        src.num_rows("val2")
    assert recording == []

    def gated(*_a, **_k):  # the exception datasets raises for a gated repo without login (401)
        raise datasets.exceptions.DatasetNotFoundError(
            "Dataset 'ILSVRC/imagenet-1k' is a gated dataset on the Hub. You must be "
            "authenticated to access it.")

    monkeypatch.setattr(datasets, "load_dataset_builder", gated)
    src = make_source("hf", {"repo_id": "ILSVRC/imagenet-1k"})
    with pytest.raises(SourceError, match=r"is gated: accept its terms on https://huggingface.co/"
                                          r"datasets/ILSVRC/imagenet-1k .*huggingface-cli login"):
        src.class_names()
