"""The shipped manifests validate, and the benchmark ones build on the real shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.corrupt import corrupt
from pipeline.errors import ManifestError
from pipeline.manifest import load_manifest
from pipeline.publish import publish
from pipeline.pull import pull
from pipeline.sources.hf import decode_image
from pipeline.validate import validate

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO / "manifests").glob("*.yaml"))
MNIST_C = [
    "identity",
    "shot_noise",
    "impulse_noise",
    "glass_blur",
    "motion_blur",
    "shear",
    "scale",
    "rotate",
    "brightness",
    "translate",
    "stripe",
    "fog",
    "spatter",
    "dotted_line",
    "zigzag",
    "canny_edges",
]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_shipped_manifest_is_valid(path: Path) -> None:
    m = load_manifest(path)
    assert m.name == path.stem and m.sources


def test_manifest_errors_name_key_and_allowed_values(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nsources: [{source: digits, splits: [train]}]\n"
        "corrupt: {preset: cifar33, suites: [{suite: imagenet_c}]}\n"
    )
    with pytest.raises(ManifestError, match=r"corrupt.preset: 'cifar33' is not one of .*cifar32"):
        load_manifest(bad)
    bad.write_text(
        "name: x\nsources: [{source: digits, splits: [train]}]\n"
        "corrupt: {suites: [{corruptions: {fgo: [1]}}]}\n"
    )
    with pytest.raises(ManifestError, match=r"unknown corruption 'fgo'; valid: .*fog"):
        load_manifest(bad)
    bad.write_text(
        "name: x\nsources: [{source: digits, splits: [train]}]\n"
        "corrupt: {suites: [{corruptions: {fog: [0]}}]}\n"
    )
    with pytest.raises(ManifestError, match=r"severity 0 is not an integer in 1..5"):
        load_manifest(bad)


def _build(manifest, root: Path) -> Path:
    pull(manifest, root / "pulled", scheduler="sync", shard_size=500, progress=False)
    corrupt(manifest, root / "pulled", root / "corrupted", scheduler="threads", progress=False)
    publish(manifest, [root / "pulled", root / "corrupted"], root / "out")
    return root / "out"


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist_c", "mnist"), ("fashion_mnist_c", "fashion-mnist")]
)
def test_mnist_c_manifest_builds_16_configs_from_shared(
    name, folder, shared_dir: Path, tmp_path: Path
) -> None:
    m = load_manifest(
        REPO / f"manifests/{name}.yaml",
        [
            f"sources.0.options.path={shared_dir / 'datasets' / folder}",
            "sources.0.options.download=false",
            "sources.0.limit=60",
        ],
    )
    out = _build(m, tmp_path)
    report = validate(out)
    assert report.ok, report.text()
    assert set(report.configs) == {"clean", *MNIST_C}
    clean = pq.read_table(next((out / "clean").glob("*.parquet")))
    ident = pq.read_table(next((out / "identity").glob("*.parquet")))
    assert ident["sample_id"].to_pylist() == clean["sample_id"].to_pylist()
    for a, b in zip(clean["image"].to_pylist(), ident["image"].to_pylist(), strict=True):
        np.testing.assert_array_equal(decode_image(a["bytes"]), decode_image(b["bytes"]))
    fog = pq.read_table(next((out / "fog").glob("*.parquet")))
    assert set(fog["severity"].to_pylist()) == {5} and set(fog["preset"].to_pylist()) == {"mnist28"}


def test_cifar10_3dcc_manifest_records_pseudo_depth(shared_dir: Path, tmp_path: Path) -> None:
    files = shared_dir / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    m = load_manifest(
        REPO / "manifests/cifar10_3dcc.yaml",
        [
            "sources.0.source=parquet",
            f"sources.0.options={{files: {{test: '{files}'}}}}",
            "sources.0.limit=12",
        ],
    )
    out = _build(m, tmp_path)
    assert validate(out).ok
    fog = pq.read_table(next((out / "fog_3d_5").glob("*.parquet")))
    params = json.loads(fog["params"][0].as_py())
    assert params["_depth_source"].startswith("pseudo:") and params["_preset"] == "cifar32"
    low = pq.read_table(next((out / "low_light_3").glob("*.parquet")))
    assert "_depth_source" not in json.loads(low["params"][0].as_py())
