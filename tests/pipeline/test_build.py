"""End to end: pull -> corrupt -> publish -> validate, determinism, resume, loading.

Tampering is tests/pipeline/test_tamper.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.corrupt import corrupt
from pipeline.manifest import parse_manifest
from pipeline.publish import publish
from pipeline.pull import pull
from pipeline.validate import validate

SMALL = {
    "name": "digits-small",
    "description": "test build",
    "seed": 7,
    "sources": [{"source": "digits", "splits": ["train"], "limit": 300}],
    "corrupt": {
        "preset": "auto",
        "suites": [{"corruptions": {"gaussian_noise": [2], "contrast": [3], "rotate": [2]}}],
    },
}


def _build(root: Path, scheduler: str, manifest_data=SMALL, shard_size: int = 100) -> Path:
    m = parse_manifest(manifest_data, path="test.yaml")
    pull(m, root / "pulled", scheduler=scheduler, shard_size=shard_size, progress=False)
    corrupt(m, root / "pulled", root / "corrupted", scheduler=scheduler, progress=False)
    publish(m, [root / "pulled", root / "corrupted"], root / "out")
    return root / "out"


def _shard_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("b"), "sync")


def test_clean_build_validates(built: Path) -> None:
    report = validate(built)
    assert report.ok, report.text()
    assert set(report.configs) == {"clean", "gaussian_noise_2", "contrast_3", "rotate_2"}
    assert all(c["rows"] == {"train": 300} for c in report.configs.values())


def test_load_dataset_offline(built: Path) -> None:
    code = (
        "import datasets, json, sys\n"
        f"ds = datasets.load_dataset({str(built)!r}, 'gaussian_noise_2', split='train')\n"
        "img = ds[0]['image']\n"
        "print(json.dumps({'n': ds.num_rows, 'names': ds.features['label'].names, "
        "'mode': img.mode, 'size': img.size, 'sev': ds[0]['severity'], "
        "'params': json.loads(ds[0]['params'])}))\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(built.parent / "hfcache")}
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["n"] == 300 and info["names"] == [str(i) for i in range(10)]
    assert info["mode"] == "L" and info["size"] == [8, 8] and info["sev"] == 2
    assert "_preset" in info["params"]


def test_byte_identical_across_schedulers(tmp_path: Path, built: Path) -> None:
    """The same manifest on dask's threads and on a 2-worker LocalCluster gives the same bytes."""
    threads = _build(tmp_path / "threads", "threads", shard_size=100)
    local = _build(tmp_path / "local", "local", shard_size=100)
    ref = _shard_bytes(built)
    assert _shard_bytes(threads) == ref
    assert _shard_bytes(local) == ref


def test_different_seed_changes_stochastic_only(tmp_path: Path, built: Path) -> None:
    other = _build(tmp_path, "sync", {**SMALL, "seed": 8})
    a, b = _shard_bytes(built), _shard_bytes(other)
    noise = [k for k in a if k.startswith("gaussian_noise")]
    assert all(a[k] != b[k] for k in noise)
    clean = [k for k in a if k.startswith("clean")]
    assert all(a[k] == b[k] for k in clean)


def test_rerun_resumes_only_missing_shards(tmp_path: Path) -> None:
    root = tmp_path / "r"
    out = _build(root, "sync")
    victim = next((root / "corrupted" / "contrast_3").glob("train-00001-*.parquet"))
    keep = next((root / "corrupted" / "contrast_3").glob("train-00000-*.parquet"))
    before = keep.stat().st_mtime_ns
    victim.unlink()  # as if the stage crashed before writing it
    m = parse_manifest(SMALL, path="test.yaml")
    corrupt(m, root / "pulled", root / "corrupted", scheduler="sync", progress=False)
    assert victim.is_file() and keep.stat().st_mtime_ns == before
    publish(m, [root / "pulled", root / "corrupted"], out)
    assert validate(out).ok
    assert not list(root.rglob("*.tmp"))  # no temporary files left behind


def test_publish_card_lists_configs_and_contact_sheet(built: Path) -> None:
    card = (built / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in header["configs"]][0] == "clean"
    assert header["license"] == "cc-by-4.0"
    assert "contact_sheet.png" in card and (built / "contact_sheet.png").is_file()
    from PIL import Image

    sheet = np.asarray(Image.open(built / "contact_sheet.png").convert("L"))
    assert sheet.std() > 10  # not blank


def test_cli_errors_are_clear(tmp_path: Path, capsys) -> None:
    from pipeline.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({**SMALL, "sources": [{"source": "digits", "splits": ["train"], "limt": 3}]})
    )
    assert main(["pull", "--manifest", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) ['limt']" in err and "limit:" in err
    assert main(["frobnicate"]) == 2


def test_hub_source_reads_a_dataset_repo_offline(built: Path, monkeypatch) -> None:
    """The `hf` source goes through datasets.load_dataset.

    A local dataset repo stands in for the Hub.
    """
    from pipeline.sources import Example, make_source

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = make_source("hf", {"repo_id": str(built), "config": "rotate_2", "split_names": ["train"]})
    assert src.num_rows("train") == 300 and src.class_names()[3] == "3"
    rows = [r for r in src.read("train", 10, 13) if isinstance(r, Example)]
    assert [r.key for r in rows] == ["10", "11", "12"] and rows[0].image.shape == (8, 8)
    bad = make_source("hf", {"repo_id": str(built), "config": "rotate_2", "split_names": ["train"],
                             "label_column": "fine_label"})
    with pytest.raises(Exception, match="no column 'fine_label'"):
        bad.num_rows("train")
