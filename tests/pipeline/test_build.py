"""End to end: pull -> corrupt -> publish -> validate, determinism, resume, tampering, loading."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
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


def _tampered(built: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "t"
    shutil.copytree(built, dst)
    return dst


def _rewrite(shard: Path, fn) -> None:
    pf = pq.ParquetFile(shard)
    table = fn(pf.read())
    pq.write_table(table.replace_schema_metadata(pf.schema_arrow.metadata), shard)


def _refresh_sha(config_dir: Path) -> None:
    from pipeline.download import file_digest

    path = config_dir / "manifest.json"
    meta = json.loads(path.read_text())
    for split in meta["splits"].values():
        for s in split["shards"]:
            s["sha256"] = file_digest(config_dir / s["file"], "sha256")
    path.write_text(json.dumps(meta))


def _problems(root: Path) -> list[str]:
    report = validate(root)
    assert not report.ok
    return [str(p) for p in report.problems]


def test_validate_catches_truncated_shard(built: Path, tmp_path: Path) -> None:
    root = _tampered(built, tmp_path)
    shard = next((root / "clean").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-200])
    probs = _problems(root)
    assert any("[checksum] clean/" + shard.name in p for p in probs)
    assert any("[readable]" in p for p in probs)


def test_validate_catches_flipped_byte(built: Path, tmp_path: Path) -> None:
    root = _tampered(built, tmp_path)
    shard = next((root / "rotate_2").glob("*.parquet"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    assert any(p.startswith("[checksum] rotate_2/" + shard.name) for p in _problems(root))


def test_validate_catches_out_of_range_label(built: Path, tmp_path: Path) -> None:
    root = _tampered(built, tmp_path)
    shard = sorted((root / "contrast_3").glob("*.parquet"))[0]

    def bad_label(t: pa.Table) -> pa.Table:
        labels = t["label"].to_numpy().copy()
        labels[5] = 42
        return t.set_column(t.column_names.index("label"), "label", pa.array(labels, pa.int64()))

    _rewrite(shard, bad_label)
    _refresh_sha(root / "contrast_3")
    probs = _problems(root)
    assert probs == [f"[label-range] contrast_3/{shard.name} row 5: label=42 outside 0..9"]


def test_validate_catches_duplicate_id(built: Path, tmp_path: Path) -> None:
    root = _tampered(built, tmp_path)
    shard = sorted((root / "clean").glob("*.parquet"))[1]

    def dup(t: pa.Table) -> pa.Table:
        ids = t["sample_id"].to_pylist()
        ids[3] = ids[2]
        return t.set_column(0, "sample_id", pa.array(ids, pa.string()))

    _rewrite(shard, dup)
    _refresh_sha(root / "clean")
    probs = _problems(root)
    assert any(p.startswith(f"[unique-id] clean/{shard.name} row 3") for p in probs)
    assert any(p.startswith("[ids] ") for p in probs)  # derived configs no longer match clean


def test_validate_cli_writes_json_and_junit(built: Path, tmp_path: Path) -> None:
    from pipeline.cli import main

    assert main(["validate", str(built), "--json", str(tmp_path / "v.json"),
                 "--junit", str(tmp_path / "v.xml")]) == 0
    assert json.loads((tmp_path / "v.json").read_text())["ok"] is True
    assert 'failures="0"' in (tmp_path / "v.xml").read_text()


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
