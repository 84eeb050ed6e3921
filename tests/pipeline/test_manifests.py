"""The shipped manifests validate, and the benchmark ones build on the real shared data."""

from __future__ import annotations

import json
import re
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


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_strict_yaml_reads_shipped_manifests_like_safe_load(path: Path) -> None:
    import yaml

    from pipeline.strict_yaml import parse_yaml

    assert parse_yaml(path.read_text(), where=str(path)) == yaml.safe_load(path.read_text())


def test_config_name_templates(tmp_path: Path) -> None:
    from pipeline.manifest import check_config_template

    for good in ("{corruption}", "{corruption}_{severity}", "{corruption}-s{severity}",
                 "c10-{corruption}{severity}"):
        assert check_config_template(good, "k") == good
    for bad, why in [("../../escaped_{corruption}", "one folder name"),
                     ("/dir/{corruption}/..", "one folder name"),
                     ("{corruption}.{severity}", "one folder name"),
                     ("{corruption} {severity}", "one folder name"),
                     ("{corruption}_{sevrity}", "only {corruption} and {severity}"),
                     ("{corruption:>10}", "no format specs"),
                     ("{severity}", "must contain {corruption}"),
                     ("{corruption", "not a valid template"),
                     (5, "expected a string")]:
        with pytest.raises(ManifestError, match=r"suites\[0\]\.config_name: .*" + re.escape(why)):
            check_config_template(bad, "m.yaml: corrupt.suites[0].config_name")


def test_overrides_and_seed_range(tmp_path: Path) -> None:
    from pipeline.manifest import MAX_SEED, apply_overrides

    m = tmp_path / "m.yaml"
    m.write_text("name: x\nseed: 3\nsources: [{source: digits, splits: [train], limit: 5}]\n")
    got = load_manifest(m, ["sources.0.limit=2", "seed=7", "description=two words"])
    assert (got.sources[0].limit, got.seed, got.description) == (2, 7, "two words")
    assert load_manifest(m, [f"seed={MAX_SEED}"]).seed == MAX_SEED
    with pytest.raises(ManifestError, match=r"seed: expected an integer >= 0 and <= 4294967295"):
        load_manifest(m, [f"seed={MAX_SEED + 1}"])
    with pytest.raises(ManifestError, match=r"'sources.3'.*index must be 0..0"):
        load_manifest(m, ["sources.3.limit=2"])
    with pytest.raises(ManifestError, match=r"'seed' is 3, not a mapping or list"):
        load_manifest(m, ["seed.x=1"])
    assert apply_overrides({"a": {"b": 1}}, ["a.c=[1, 2]"]) == {"a": {"b": 1, "c": [1, 2]}}


def test_manifest_text_encoding_and_aliases(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_bytes(b"\xef\xbb\xbfname: x\nsources: [{source: digits, splits: [train]}]\n")
    assert load_manifest(m).name == "x"  # a UTF-8 BOM is fine
    m.write_bytes(b"name: x\ndescription: \xe9t\xe9\nsources: [{source: digits, splits: [x]}]\n")
    with pytest.raises(ManifestError, match=r"not UTF-8 text \(line 2, byte 21"):
        load_manifest(m)
    m.write_text("name: x\nsources:\n  - &s {source: digits, splits: [train]}\n  - *s\n")
    with pytest.raises(ManifestError, match=r"line 3: YAML anchor &s is not allowed"):
        load_manifest(m)
