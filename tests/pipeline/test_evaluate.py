"""``benchsmith evaluate``: a tiny ONNX classifier built here, run over a real (small) build."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnx
import pyarrow.parquet as pq
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from pipeline.cli import main as cli
from pipeline.reannotate.tables import find_configs, read_config

MANIFEST = """\
name: mini
seed: 0
sources:
  - source: mnist5k
    splits: [train]
    limit: 40
corrupt:
  preset: mnist28
  rounding: truncate
  suites:
    - corruptions: {gaussian_noise: [1, 5], contrast: [3]}
"""


def tiny_model(path: Path, weights: np.ndarray, bias: np.ndarray, *, hw: tuple | None) -> Path:
    """Global average pool -> linear: (N, C, H, W) float32 -> (N, classes) scores."""
    c = weights.shape[0]
    shape = ["N", c, *(hw if hw else ("H", "W"))]
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("MatMul", ["f", "w"], ["m"]),
         helper.make_node("Add", ["m", "b"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", weights.shape[1]])],
        [numpy_helper.from_array(weights.astype(np.float32), "w"),
         numpy_helper.from_array(bias.astype(np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    (root / "m.yaml").write_text(MANIFEST)
    assert cli(["build", "--manifest", str(root / "m.yaml"), "--out", str(root / "bench"),
                "--work", str(root / "work"), "--no-progress", "--scheduler", "sync"]) == 0
    return root / "bench"


def reference_predictions(bench: Path, w: np.ndarray, b: np.ndarray, mean: float,
                          std: float) -> dict[tuple[str, str], int]:
    out = {}
    for name, (d, meta) in find_configs([bench]).items():
        if meta.get("kind") not in ("clean", "corruption"):
            continue
        t = read_config(d, ["sample_id", "image"])
        for s, img in zip(t["sample_id"].to_pylist(), t["image"].to_pylist(), strict=True):
            x = np.asarray(Image.open(io.BytesIO(img["bytes"])).convert("RGB"), np.float64)
            feat = ((x / 255 - mean) / std).mean(axis=(0, 1))
            out[(name, s)] = int(np.argmax(feat @ w + b))
    return out


def test_evaluate_runs_an_onnx_model_over_every_config(build: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(3, 10)), rng.normal(size=10) * 0.1
    model = tiny_model(tmp_path / "tiny.onnx", w, b, hw=None)
    preds = tmp_path / "preds.parquet"
    assert cli(["evaluate", str(build), "--model", str(model), "--out", str(preds),
                "--batch-size", "7", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
                "--probs", "--no-progress"]) == 0
    t = pq.read_table(preds).to_pydict()
    got = {(c, s): p for c, s, p in zip(t["config"], t["sample_id"], t["prediction"],
                                         strict=True)}
    want = reference_predictions(build, w, b, 0.5, 0.25)
    assert len(got) == len(t["sample_id"]) == 4 * 40
    assert got == want
    assert set(t["config"]) == {"clean", "gaussian_noise_1", "gaussian_noise_5", "contrast_3"}
    assert set(t["model"]) == {"tiny"}
    probs = np.asarray(t["probs"], np.float32)
    assert probs.shape == (160, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(probs.argmax(axis=1), t["prediction"])
    out = tmp_path / "metrics.json"
    assert cli(["score", str(build), "--predictions", str(preds), "--out", str(out)]) == 0
    m = json.loads(out.read_text())["models"]["tiny"]
    clean = read_config(find_configs([build])["clean"][0], ["sample_id", "label"]).to_pydict()
    acc = np.mean([want[("clean", s)] == y for s, y in zip(clean["sample_id"], clean["label"],
                                                          strict=True)])
    assert m["top1"] == pytest.approx(acc)
    noise = m["corruption"]["errors"]["gaussian_noise"]
    assert set(noise) == {"1", "5"}
    assert json.loads(out.read_text())["baseline"]["name"] is None  # not ImageNet-C: no AlexNet


def test_evaluate_explains_a_shape_mismatch(build: Path, tmp_path: Path, capsys) -> None:
    model = tiny_model(tmp_path / "fixed.onnx", np.ones((3, 10)), np.zeros(10), hw=(28, 28))
    assert cli(["evaluate", str(build), "--model", str(model), "--out", str(tmp_path / "p"),
                "--crop", "24", "--no-progress"]) == 2
    assert "--resize/--crop" in capsys.readouterr().err
    wrong = tiny_model(tmp_path / "seven.onnx", np.ones((3, 7)), np.zeros(7), hw=None)
    assert cli(["evaluate", str(build), "--model", str(wrong), "--out", str(tmp_path / "p"),
                "--no-progress"]) == 2
    assert "expected (" in capsys.readouterr().err
    assert cli(["evaluate", str(build), "--model", str(tmp_path / "none.onnx"),
                "--no-progress"]) == 2


def test_resize_and_crop_follow_torchvision_arithmetic() -> None:
    from pipeline.evaluate import Preprocess, _decode

    buf = io.BytesIO()
    Image.fromarray(np.arange(333 * 500 * 3, dtype=np.uint32).reshape(333, 500, 3)
                    .astype(np.uint8)).save(buf, format="PNG")
    img = _decode(buf.getvalue(), Preprocess(resize=256), "x")
    assert img.shape == (256, 384, 3)  # int(256 * 500 / 333)
    img = _decode(buf.getvalue(), Preprocess(resize=255, crop=224), "x")
    assert img.shape == (224, 224, 3)
    buf = io.BytesIO()
    Image.new("RGB", (7, 11)).save(buf, format="PNG")
    assert _decode(buf.getvalue(), Preprocess(resize=3), "x").shape == (4, 3, 3)  # int(4.71)
