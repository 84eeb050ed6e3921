"""The ``shift`` stage end to end on real MNIST test images (subsampled); manifest validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from threadpoolctl import threadpool_limits

from pipeline.cli import COMMANDS
from pipeline.errors import ManifestError
from pipeline.manifest import load_manifest
from pipeline.pull import pull
from pipeline.shards import list_shards, read_config_manifest, read_shard
from pipeline.shift import main, parse_section, split_rows

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "sources.0.limit=3000",
    "shift.size=300",
    "shift.train_size=800",
    "shift.intensities=[0, 1]",
    "shift.measure={dim: 16, permutations: 50, folds: 3, max_rows: 300}",
    "shift.shifts=[{shift: latent_select, name: lat, params: {mode: extend, components: 8}},"
    " {shift: spurious_correlation, name: colored}]",
]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _opts(shared: Path) -> str:
    return f"sources.0.options={{path: {shared / 'datasets/mnist'}}}"


@pytest.fixture(scope="module")
def pulled(shared_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pulled")
    manifest = load_manifest(REPO / "manifests/mnist_shift.yaml", [_opts(shared_dir), *SMALL])
    pull(manifest, out, scheduler="sync", progress=False)
    return out


def _run(shared: Path, pulled: Path, out: Path, *extra: str) -> int:
    args = ["--manifest", str(REPO / "manifests/mnist_shift.yaml"), "--in", str(pulled),
            "--out", str(out), "--scheduler", "sync", "--no-progress", *extra]
    for item in [_opts(shared), *SMALL]:
        args += ["--set", item]
    return main(args)


def test_stage_writes_measured_configs_and_plot(shared_dir, pulled, tmp_path):
    with threadpool_limits(1):
        assert _run(shared_dir, pulled, tmp_path / "a") == 0
    out = tmp_path / "a"
    expected = {"lat_train", "lat_k000", "lat_k100",
                "colored_train", "colored_k000", "colored_k100"}
    assert {p.name for p in out.iterdir() if p.is_dir()} == expected
    clean_label = {}
    for path in list_shards(pulled / "clean")["test"]:
        clean, _ = read_shard(path, ["sample_id", "label"])
        clean_label.update(zip(clean["sample_id"].to_pylist(), clean["label"].to_pylist(),
                               strict=True))
    for name in sorted(expected):
        m = read_config_manifest(out / name)
        assert m["kind"] == "shift" and m["description"] and m["shift"] in ("latent_select",
                                                                           "spurious_correlation")
        split = "train" if name.endswith("_train") else "test"
        table, features = read_shard(list_shards(out / name)[split][0])
        ids = table["sample_id"].to_pylist()
        assert len(ids) == len(set(ids)) == m["splits"][split]["num_rows"]
        # labels preserved: join on sample_id with the clean config
        assert table["label"].to_pylist() == [clean_label[s] for s in ids]
        assert set(features) >= {"sample_id", "image", "label", "shift", "intensity", "origin"}
        if split == "test":
            measured = m["measured"]
            assert {"outside_support", "mmd2", "mmd_p_value", "c2st_auc",
                    "probe_accuracy"} <= set(measured)
            assert f"{measured['c2st_auc']:.3f}" in m["description"]
    for entry in ("lat", "colored"):
        k0 = read_config_manifest(out / f"{entry}_k000")["measured"]
        k1 = read_config_manifest(out / f"{entry}_k100")["measured"]
        assert k0["mmd_p_value"] > 0.05 and k1["mmd2"] > k0["mmd2"]
        assert k1["c2st_auc"] > k0["c2st_auc"]
    metrics = json.loads((out / "shift_metrics.json").read_text())
    assert [p["intensity"] for p in metrics["lat"]] == [0.0, 1.0]
    with Image.open(out / "shift_plot.png") as plot:
        assert plot.format == "PNG" and plot.size[0] >= 800
        assert len(np.unique(np.asarray(plot.convert("RGB")).reshape(-1, 3), axis=0)) > 4
    # a second run in a fresh folder writes byte-identical shards (no order/scheduler effects)
    with threadpool_limits(1):
        assert _run(shared_dir, pulled, tmp_path / "b", "--metrics", str(tmp_path / "m.json"),
                    "--plot", str(tmp_path / "p.png")) == 0
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    assert (tmp_path / "p.png").read_bytes() == (out / "shift_plot.png").read_bytes()
    for name in expected:
        a = read_config_manifest(out / name)["splits"]
        b = read_config_manifest(tmp_path / "b" / name)["splits"]
        assert a == b


def test_section_errors_name_key_and_allowed_values():
    base = {"intensities": [0, 1], "shifts": [{"shift": "label_shift"}]}
    with pytest.raises(ManifestError, match="unknown key.*bogus.*allowed keys"):
        parse_section({**base, "bogus": 1}, "m: shift")
    with pytest.raises(ManifestError, match=r"unknown shift 'nope'; valid: .*label_shift"):
        parse_section({**base, "shifts": [{"shift": "nope"}]}, "m: shift")
    with pytest.raises(ManifestError, match=r"shifts\[0\]\.params: .*no parameter.*valid"):
        parse_section({**base, "shifts": [{"shift": "label_shift", "params": {"rho": 1}}]}, "m")
    with pytest.raises(ManifestError, match=r"intensity 1.5 is not a number in \[0, 1\]"):
        parse_section({**base, "intensities": [0, 1.5]}, "m: shift")
    with pytest.raises(ManifestError, match="distinct names"):
        parse_section({**base, "shifts": [{"shift": "label_shift"}, {"shift": "label_shift"}]}, "m")
    with pytest.raises(ManifestError, match="missing required key"):
        parse_section({"shifts": [{"shift": "label_shift"}]}, "m: shift")


def test_shipped_manifests_validate_and_cli_lists_shift():
    assert COMMANDS["shift"][0] == "pipeline.shift"
    for name in ("mnist_shift", "cifar10_shift"):
        m = load_manifest(REPO / f"manifests/{name}.yaml")
        section = m.sections["shift"]
        assert m.sources[0].options.get("download") is True
        assert section.entries
        assert all(e.intensities == (0, 0.25, 0.5, 0.75, 1) for e in section.entries)


def test_split_is_order_independent_and_near_fraction():
    ids = [f"mnist/test/{i}" for i in range(4000)]
    mask = split_rows(ids, 0, 0.5)
    assert abs(mask.mean() - 0.5) < 0.03
    rev = split_rows(ids[::-1], 0, 0.5)
    np.testing.assert_array_equal(mask, rev[::-1])
    assert not np.array_equal(mask, split_rows(ids, 1, 0.5))


#: Row-content digests (sha256 over every column, images decoded to pixels; first 16 hex digits)
#: of configs written by the stage *before* it was split into shift_section / shift_io (commit
#: e772a96), for families whose kernels did not change. Integer/selection/FFT families only:
#: their pixels do not depend on BLAS rounding, so the digests hold on any machine.
BEFORE_SPLIT = {
    "colored_k000": "918a07b9b291914c", "colored_k100": "5c339d66dc14da17",
    "colored_train": "eb16a58f5dab02c5",
    "fourier_amplitude_k000": "06cb8234b37da344", "fourier_amplitude_k100": "9d71aa0ec5339627",
    "fourier_amplitude_train": "20267b79090b4564",
    "label_shift_k000": "488ec1505cdca305", "label_shift_k100": "1e4420b64a7d5d53",
    "label_shift_train": "a0125ce91d17b43a",
}


def _row_digest(config_dir: Path) -> str:
    import hashlib

    from pipeline.sources.hf import decode_image

    h = hashlib.sha256()
    for _, paths in sorted(list_shards(config_dir).items()):
        for path in paths:
            table, _ = read_shard(path)
            for col in sorted(table.column_names):
                if col == "image":
                    for d in table[col].to_pylist():
                        h.update(np.ascontiguousarray(decode_image(d["bytes"], what=str(path)))
                                 .tobytes())
                else:
                    h.update(json.dumps(table[col].to_pylist()).encode())
    return h.hexdigest()[:16]


def test_split_stage_writes_the_rows_the_unsplit_stage_wrote(shared_dir, pulled, tmp_path):
    shifts = ("shift.shifts=[{shift: label_shift, params: {mode: one_class, target_class: 3},"
              " size: 120}, {shift: spurious_correlation, name: colored},"
              " {shift: fourier_amplitude}]")
    args = ["--manifest", str(REPO / "manifests/mnist_shift.yaml"), "--in", str(pulled),
            "--out", str(tmp_path / "s"), "--scheduler", "sync", "--no-progress"]
    for item in [_opts(shared_dir), *SMALL[:-1], shifts]:
        args += ["--set", item]
    with threadpool_limits(1):
        assert main(args) == 0
    assert {name: _row_digest(tmp_path / "s" / name) for name in BEFORE_SPLIT} == BEFORE_SPLIT


def test_control_shift_family_records_latent_non_overlap_and_its_decoder(shared_dir, pulled,
                                                                         tmp_path):
    args = ["--manifest", str(REPO / "manifests/mnist_shift.yaml"), "--in", str(pulled),
            "--out", str(tmp_path / "s"), "--scheduler", "sync", "--no-progress"]
    items = [_opts(shared_dir), *SMALL[:-1],
             "shift.shifts=[{shift: truncation, params: {components: 8}}]"]
    for item in items:
        args += ["--set", item]
    with threadpool_limits(1):
        assert main(args) == 0
    out = tmp_path / "s"
    k0, k1 = (read_config_manifest(out / f"truncation_k{k}") for k in ("000", "100"))
    assert k0["measured"]["latent_non_overlap"] < 0.02 < 0.5 < k1["measured"]["latent_non_overlap"]
    assert "outside the training latent support" in k1["description"]
    assert k0["summary"]["paper_value"] == 0.9 and k1["summary"]["paper_value"] == 2.0
    metrics = json.loads((out / "shift_metrics.json").read_text())
    assert [p["latent_non_overlap"] for p in metrics["truncation"]] == [
        k0["measured"]["latent_non_overlap"], k1["measured"]["latent_non_overlap"]]
    for name, split in (("truncation_train", "train"), ("truncation_k100", "test")):
        table, _ = read_shard(list_shards(out / name)[split][0], ["source", "origin"])
        assert set(table["source"].to_pylist()) == {"truncation-ppca_copula"}
        assert set(table["origin"].to_pylist()) == {""}
