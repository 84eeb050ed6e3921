"""Scoring: ReaL accuracy on the published files, per-slice accuracy, mCE, ECE, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main as cli
from pipeline.errors import BenchsmithError
from pipeline.reannotate.config import parse_section
from pipeline.reannotate.stage import reannotate
from pipeline.schema import build_features
from pipeline.score import (
    corruption_errors,
    expected_calibration_error,
    multilabel_accuracy,
    score,
)
from pipeline.shards import encode_png, shard_name, write_config_manifest, write_shard
from pipeline.slices import parse_section as parse_slices
from pipeline.slices import write_slices

PREFIX = "imagenet/validation"
# AlexNet's ImageNet-C errors averaged over severities (hendrycks/robustness), for the 15
# corruptions in benchmark order
ALEXNET = dict(zip(
    ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
     "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform",
     "pixelate", "jpeg_compression"],
    [0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360, 0.866816, 0.826572,
     0.819324, 0.564592, 0.853204, 0.646056, 0.717840, 0.606500], strict=True))


def write_config(d: Path, cols: dict, feats, kind: str, split: str, **extra) -> None:
    name = shard_name(split, 0, 1)
    sha = write_shard(d / name, cols, feats)
    write_config_manifest(d, config=d.name, features=feats, shards=[
        {"split": split, "file": name, "num_rows": len(cols["sample_id"]), "sha256": sha,
         "rejects": []}], extra={"kind": kind, **extra})


def clean_cols(given: dict[str, int]) -> dict:
    png = {"bytes": encode_png(np.zeros((1, 1, 3), np.uint8)), "path": None}
    ids = sorted(given)
    return {"sample_id": ids, "image": [png] * len(ids), "label": [given[s] for s in ids],
            "source": ["imagenet"] * len(ids), "split": ["validation"] * len(ids),
            "key": [s.rsplit("/", 1)[1] for s in ids]}


@pytest.fixture(scope="module")
def imagenet_build(shared_dir: Path, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """Clean ImageNet val (labels only) + ReaL labels config + slices; 50,000 rows."""
    ref = shared_dir / "reference"
    labels = np.load(ref / "label-errors/imagenet_val_set_original_labels.npy")
    paths = json.loads((ref / "label-errors/imagenet_val_set_index_to_filepath.json").read_text())
    given = {f"{PREFIX}/{Path(p).stem}": int(y) for p, y in zip(paths, labels, strict=True)}
    root = tmp_path_factory.mktemp("build")
    names = [f"c{i}" for i in range(1000)]
    write_config(root / "pulled/clean", clean_cols(given), build_features(names), "clean",
                 "validation", images=["RGB 1x1"])
    spec = parse_section({"sources": [
        {"importer": "real", "path": str(ref / "reassessed-imagenet/real.json")}]}, "m")
    reannotate(spec, [root / "pulled"], root / "labels")
    slices = parse_slices([{"name": "multi_label", "rule": "multi_label"},
                           {"name": "label_error", "rule": "label_error"},
                           {"name": "clean_rest", "rule": "clean"}], "m: slices")
    write_slices(slices, [root / "pulled", root / "labels"], root / "slices")
    return root, given


def predictions(path: Path, ids: list[str], pred: list[int], **cols) -> Path:
    pq.write_table(pa.table({"sample_id": ids, "prediction": pred, **cols}), path)
    return path


def test_original_labels_score_90_02_real(imagenet_build, tmp_path: Path) -> None:
    """Beyer et al. (2020) report 90.02% ReaL accuracy for the original labels; the files agree."""
    root, given = imagenet_build
    ids = sorted(given)
    p = predictions(tmp_path / "p.parquet", ids, [given[s] for s in ids])
    res = score([root / "pulled", root / "labels", root / "slices"], predictions=p, n_bins=15)
    m = res["models"]["model"]
    assert m["top1"] == 1.0
    assert m["real_rows"] == 50000 - 3163
    assert round(m["real"] * 100, 2) == 90.02
    sl = m["slices"]
    assert sl["label_error"]["real"] == 0.0  # the given label is never in those sets
    assert sl["clean_rest"]["real"] == 1.0
    assert sl["multi_label"]["rows"] == 7443
    n_err = sl["label_error"]["rows"]
    assert n_err == 3163 + round((50000 - 3163) * (1 - m["real"]))
    assert sl["multi_label"]["rows"] + n_err + sl["clean_rest"]["rows"] >= 50000


def test_cli_score_with_corruptions_and_baseline(imagenet_build, tmp_path: Path) -> None:
    root, given = imagenet_build
    ids = sorted(given)[:1000]
    names = [f"c{i}" for i in range(1000)]
    sub = {s: given[s] for s in ids}
    cdir = tmp_path / "c"
    write_config(cdir / "clean", clean_cols(sub), build_features(names), "clean", "validation")
    for sev in (1, 2):
        cols = {**clean_cols(sub), "corruption": ["fog"] * 1000, "severity": [sev] * 1000,
                "preset": ["imagenet224"] * 1000, "params": ["{}"] * 1000, "seed": [0] * 1000,
                "code_version": ["x"] * 1000}
        write_config(cdir / f"fog_{sev}", cols, build_features(names, corruption=True),
                     "corruption", "validation", corruption="fog", severity=sev)
    rng = np.random.default_rng(0)
    y = np.array([sub[s] for s in ids])
    wrong = (y + 1) % 1000

    def preds(err: float) -> np.ndarray:
        return np.where(rng.random(1000) < err, wrong, y)

    rows = {"sample_id": [], "prediction": [], "config": []}
    for cfg, err in ((None, 0.2), ("fog_1", 0.3), ("fog_2", 0.5)):
        p = preds(err)
        rows["sample_id"] += ids
        rows["prediction"] += p.tolist()
        rows["config"] += [cfg] * 1000
    p = predictions(tmp_path / "p.parquet", rows["sample_id"], rows["prediction"],
                    config=rows["config"])
    res = score([cdir], predictions=p, n_bins=15)
    errs = res["models"]["model"]["corruption"]["errors"]["fog"]
    top1 = res["models"]["model"]["top1"]
    base = {"clean": 0.4, "errors": {"fog": {"1": 0.6, "2": 1.0}}}
    (tmp_path / "base.json").write_text(json.dumps(base))
    out = tmp_path / "metrics.json"
    assert cli(["score", str(cdir), "--predictions", str(p), "--baseline",
                str(tmp_path / "base.json"), "--out", str(out)]) == 0
    m = json.loads(out.read_text())["models"]["model"]["corruption"]
    assert m["mCE"] == pytest.approx((errs[1] + errs[2]) / 1.6)
    assert m["relative_mCE"] == pytest.approx((errs[1] + errs[2] - 2 * (1 - top1)) / 0.8)
    # a model scored against itself has mCE = relative mCE = 100%
    assert cli(["score", str(cdir), "--predictions", str(p), "--baseline", str(p),
                "--out", str(out)]) == 0
    m = json.loads(out.read_text())["models"]["model"]["corruption"]
    assert m["mCE"] == pytest.approx(1.0) and m["relative_mCE"] == pytest.approx(1.0)


def test_mce_against_alexnet_published_errors() -> None:
    base = {c: {1: e} for c, e in ALEXNET.items()}  # severity-averaged: CE is unchanged
    same = corruption_errors(base, 0.4348, base, 0.4348)
    assert same["mCE"] == pytest.approx(1.0)
    half = corruption_errors({c: {1: e / 2} for c, e in ALEXNET.items()}, 0.2, base, 0.4348)
    assert half["mCE"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="baseline has no error"):
        corruption_errors({"fog": {3: 0.5}}, 0.2, base, 0.4)


def test_ece_and_multilabel_edge_cases() -> None:
    rng = np.random.default_rng(1)
    n = 20000
    conf = rng.uniform(0.5, 1.0, n)
    correct = rng.random(n) < conf  # calibrated by construction
    label = np.where(correct, 0, 1)
    probs = np.stack([conf, 1 - conf], axis=1).astype(np.float32)
    assert expected_calibration_error(probs, label, n_bins=15) < 0.02
    over = np.stack([np.full(n, 0.99), np.full(n, 0.01)], axis=1)
    lab = (rng.random(n) < 0.3).astype(int)  # 70% accurate at 99% confidence
    ece = expected_calibration_error(over, lab, n_bins=15)
    assert ece == pytest.approx(0.99 - np.mean(lab == 0))
    assert multilabel_accuracy([1], [[]])[1] == 0
    with pytest.raises(ValueError):
        expected_calibration_error(over, lab, n_bins=0)


def test_predictions_are_validated(imagenet_build, tmp_path: Path) -> None:
    root, given = imagenet_build
    ids = sorted(given)[:3]
    bad = predictions(tmp_path / "b.parquet", ids, [0, 1, 5000])
    assert cli(["score", str(root / "pulled"), "--predictions", str(bad)]) == 2
    dup = predictions(tmp_path / "d.parquet", ids[:1] * 2, [0, 0])
    assert cli(["score", str(root / "pulled"), "--predictions", str(dup)]) == 2
    probs = np.full((3, 1000), 1 / 1000, np.float32)
    probs[:, 0] += 0.5
    pq.write_table(pa.table({"sample_id": ids, "probs": list(probs)}), tmp_path / "q.parquet")
    assert cli(["score", str(root / "pulled"), "--predictions", str(tmp_path / "q.parquet")]) == 2


def test_real_only_from_real_votes_and_labels_config_named(imagenet_build, shared_dir: Path,
                                                           tmp_path: Path) -> None:
    """Merging the mistake files into the labels config must not move ReaL off 90.02%."""
    root, given = imagenet_build
    ref = shared_dir / "reference"
    spec = parse_section({"sources": [
        {"importer": "real", "path": str(ref / "reassessed-imagenet/real.json")},
        {"importer": "mistakes", "path": str(ref / "imagenet-mistakes/vit3b_mistakes.json"),
         "options": {"model": "vit3b"}},
        {"importer": "mistakes", "path": str(ref / "imagenet-mistakes/greedy_soups_mistakes.json"),
         "options": {"model": "greedy_soups"}}]}, "m")
    reannotate(spec, [root / "pulled"], tmp_path / "merged")
    ids = sorted(given)
    p = predictions(tmp_path / "p.parquet", ids, [given[s] for s in ids])
    res = score([root / "pulled", tmp_path / "merged"], predictions=p, n_bins=15)
    m = res["models"]["model"]
    assert round(m["real"] * 100, 2) == 90.02 and m["real_rows"] == 50000 - 3163
    assert res["real_labels"]["config"] == "labels"
    assert res["real_labels"]["file"].endswith("real.json")
    merged = m["labels"]["labels"]
    assert merged["sources"] == ["real", "mistakes", "mistakes"]
    assert merged["accuracy"] != m["real"]  # the aggregated sets are not the ReaL sets
    assert round(merged["accuracy"] * 100, 2) == 90.09  # the number issue 15 measured
    # a labels config without ReaL votes gives no `real` at all, only its named accuracy
    only = parse_section({"sources": [
        {"importer": "mistakes", "path": str(ref / "imagenet-mistakes/vit3b_mistakes.json"),
         "options": {"model": "vit3b"}}], "unvoted": "drop"}, "m")
    reannotate(only, [root / "pulled"], tmp_path / "mistakes")
    res = score([root / "pulled", tmp_path / "mistakes"], predictions=p, n_bins=15)
    assert "real" not in res["models"]["model"] and res["real_labels"] is None
    assert res["models"]["model"]["labels"]["labels"]["sources"] == ["mistakes"]
    # two configs that both hold ReaL votes (the fixture's ReaL-only one, renamed, and the
    # merged one) are refused
    shutil.copytree(root / "labels/labels", tmp_path / "copy/real_only")
    meta = json.loads((tmp_path / "copy/real_only/manifest.json").read_text())
    meta["config"] = "real_only"
    (tmp_path / "copy/real_only/manifest.json").write_text(json.dumps(meta))
    with pytest.raises(BenchsmithError, match=r"\['labels', 'real_only'\] all hold ReaL votes"):
        score([root / "pulled", tmp_path / "copy", tmp_path / "merged"], predictions=p, n_bins=15)


# hendrycks/robustness's severity-averaged AlexNet errors (ALEXNET above) are the CE
# denominators: CE_c = mean_s E_{s,c} / ALEXNET[c] because every severity is present.
def build_imagenet_c(tmp: Path, given: dict[str, int], errors: dict[str, list[int]],
                     preset: str = "imagenet224") -> tuple[Path, list[str]]:
    """Clean config + one config per (corruption, severity), 1000 classes, 100 rows each."""
    ids = sorted(given)[:100]
    sub = {s: given[s] for s in ids}
    names = [f"c{i}" for i in range(1000)]
    write_config(tmp / "clean", clean_cols(sub), build_features(names), "clean", "validation")
    for c in errors:
        for sev in range(1, 6):
            cols = {**clean_cols(sub), "corruption": [c] * 100, "severity": [sev] * 100,
                    "preset": [preset] * 100, "params": ["{}"] * 100, "seed": [0] * 100,
                    "code_version": ["x"] * 100}
            write_config(tmp / f"{c}_{sev}", cols, build_features(names, corruption=True),
                         "corruption", "validation", corruption=c, severity=sev, preset="auto")
    return tmp, ids


def test_mce_reproduces_hand_computation_with_alexnet(imagenet_build, tmp_path: Path,
                                                      capsys) -> None:
    _, given = imagenet_build
    # wrong predictions per (corruption, severity) out of 100; clean: 20 wrong
    wrong = {c: [(7 * i + 11 * s) % 60 + 25 for s in range(1, 6)] for i, c in enumerate(ALEXNET)}
    wrong["brightness"] = [10, 12, 14, 16, 18]  # below the clean error: relative CE < 0
    wrong["spatter"] = [30, 40, 50, 60, 70]  # an extra: its own group, no AlexNet errors
    root, ids = build_imagenet_c(tmp_path / "b", given, wrong)
    y = np.array([given[s] for s in ids])
    rows = {"sample_id": [], "prediction": [], "config": []}

    def add(cfg: str | None, k: int) -> None:
        pred = y.copy()
        pred[:k] = (pred[:k] + 1) % 1000
        rows["sample_id"].extend(ids)
        rows["prediction"].extend(pred.tolist())
        rows["config"].extend([cfg] * 100)

    add(None, 20)
    for c, ks in wrong.items():
        for sev, k in enumerate(ks, start=1):
            add(f"{c}_{sev}", k)
    p = predictions(tmp_path / "p.parquet", rows["sample_id"], rows["prediction"],
                    config=rows["config"])
    out = tmp_path / "m.json"
    assert cli(["score", str(root), "--predictions", str(p), "--out", str(out)]) == 0
    table = capsys.readouterr().err
    res = json.loads(out.read_text())
    g = res["models"]["model"]["corruption"]["groups"]
    ce = {c: np.mean(ks) / 100 / ALEXNET[c] for c, ks in wrong.items() if c in ALEXNET}
    assert g["benchmark"]["complete"] is True and len(g["benchmark"]["CE"]) == 15
    assert g["benchmark"]["mCE"] == pytest.approx(np.mean(list(ce.values())), abs=1e-12)
    rel = {c: (np.mean(ks) / 100 - 0.2) / (ALEXNET[c] - 0.43478) for c, ks in wrong.items()
           if c in ALEXNET}
    assert g["benchmark"]["relative_mCE"] == pytest.approx(np.mean(list(rel.values())))
    mean_err = np.mean([np.mean(ks) / 100 for c, ks in wrong.items() if c in ALEXNET])
    assert g["benchmark"]["mean_error"] == pytest.approx(mean_err)
    assert g["extra"]["corruptions"] == ["spatter"] and g["extra"]["mean_error"] == 0.5
    assert "CE" not in g["extra"] and g["extra"]["complete"] is False
    assert g["benchmark"]["CE"]["brightness"] < 0.3
    assert g["benchmark"]["relative_CE"]["brightness"] < 0
    assert any("brightness" in n and "below its clean error" in n for n in g["benchmark"]["notes"])
    assert res["baseline"]["name"].startswith("AlexNet")
    assert f"{100 * g['benchmark']['mCE']:.2f}" in table and "mCE (15 benchmark)" in table
    assert "extras (held out)" in table and "below its clean error" in table
    # a user baseline overrides AlexNet; a non-ImageNet-C build gets no built-in baseline
    base = {"name": "mine", "clean": 0.3, "errors": {c: {str(s): 0.6 for s in range(1, 6)}
                                                     for c in wrong}}
    (tmp_path / "base.json").write_text(json.dumps(base))
    assert cli(["score", str(root), "--predictions", str(p), "--baseline",
                str(tmp_path / "base.json"), "--out", str(out)]) == 0
    g2 = json.loads(out.read_text())["models"]["model"]["corruption"]["groups"]
    assert g2["benchmark"]["mCE"] == pytest.approx(mean_err / 0.6)
    assert g2["extra"]["CE"]["spatter"] == pytest.approx(0.5 / 0.6)
    root2, _ = build_imagenet_c(tmp_path / "c", given, {"fog": [30] * 5}, preset="cifar32")
    rows = {"sample_id": [], "prediction": [], "config": []}
    add(None, 20)
    for sev in range(1, 6):
        add(f"fog_{sev}", 30)
    p2 = predictions(tmp_path / "p2.parquet", rows["sample_id"], rows["prediction"],
                     config=rows["config"])
    res2 = score([root2], predictions=p2, n_bins=15)
    assert res2["baseline"]["name"] is None and "pass --baseline" in res2["baseline"]["why"]
    fog = res2["models"]["model"]["corruption"]["groups"]["benchmark"]
    assert fog["mean_error"] == pytest.approx(0.3) and "mCE" not in fog
