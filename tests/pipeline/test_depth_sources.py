"""Depth reaches the 3DCC kernels from the dataset, from a user model, or from pseudo-depth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from corruptions import apply
from pipeline.corrupt import corrupt
from pipeline.errors import BenchsmithError
from pipeline.manifest import parse_manifest
from pipeline.pull import pull
from pipeline.sources.hf import decode_image, read_depth_png
from pipeline.validate import validate


@pytest.fixture(scope="module")
def rgbd_folder(tmp_path_factory) -> Path:
    """Middlebury motorcycle (scikit-image) crops with ground-truth depth as 16-bit PNGs."""
    import skimage.data

    left, _, disp = skimage.data.stereo_motorcycle()
    root = tmp_path_factory.mktemp("rgbd")
    depth = np.where(disp > 0, 100_000.0 / np.maximum(disp, 1e-3), 0.0)  # depth ∝ 1/disparity
    for i, (y, x) in enumerate([(0, 0), (100, 200), (200, 400), (250, 100)]):
        (root / "images" / "scene").mkdir(parents=True, exist_ok=True)
        (root / "depth" / "scene").mkdir(parents=True, exist_ok=True)
        crop = left[y : y + 96, x : x + 96]
        Image.fromarray(crop).save(root / "images" / "scene" / f"{i}.jpg", quality=95)
        d = np.clip(np.rint(depth[y : y + 96, x : x + 96]), 0, 65535).astype(np.uint16)
        cv2.imwrite(str(root / "depth" / "scene" / f"{i}.png"), d)
    return root


def _manifest(root: Path, depth: str, **corrupt_extra) -> dict:
    return {
        "name": "rgbd",
        "seed": 1,
        "sources": [
            {
                "source": "imagefolder",
                "splits": ["train"],
                "options": {"root": str(root / "images"), "depth_root": str(root / "depth")},
            }
        ],
        "corrupt": {
            "preset": "cifar32",
            "depth": depth,
            **corrupt_extra,
            "suites": [{"corruptions": {"near_focus": [3], "fog_3d": [4]}}],
        },
    }


def test_dataset_depth_column_is_pulled_and_used(rgbd_folder: Path, tmp_path: Path) -> None:
    m = parse_manifest(_manifest(rgbd_folder, "column"), path="t.yaml")
    pull(m, tmp_path / "pulled", scheduler="sync", progress=False)
    table = pq.read_table(next((tmp_path / "pulled/clean").glob("*.parquet")))
    assert "depth" in table.column_names and table.num_rows == 4
    stored = read_depth_png(None, table["depth"][1].as_py()["bytes"])
    want = cv2.imread(str(rgbd_folder / "depth/scene/1.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(stored, want.astype(np.float32))  # 16-bit kept exactly

    corrupt(m, tmp_path / "pulled", tmp_path / "corrupted", scheduler="sync", progress=False)
    out = pq.read_table(next((tmp_path / "corrupted/fog_3d_4").glob("*.parquet")))
    assert json.loads(out["params"][1].as_py())["_depth_source"] == "column"
    image = decode_image(table["image"][1].as_py()["bytes"])
    depth = stored.copy()
    depth[depth <= 0] = np.nan
    want_img = apply("fog_3d", image, severity=4, preset="cifar32", rng=None, depth=depth)
    np.testing.assert_array_equal(decode_image(out["image"][1].as_py()["bytes"]), want_img)
    from pipeline.publish import publish

    publish(m, [tmp_path / "pulled", tmp_path / "corrupted"], tmp_path / "out")
    report = validate(tmp_path / "out")
    assert report.ok, report.text()


def test_missing_depth_column_is_a_clear_error(tmp_path: Path) -> None:
    data = {
        "name": "d",
        "sources": [{"source": "digits", "splits": ["train"], "limit": 5}],
        "corrupt": {"depth": "column", "suites": [{"corruptions": {"fog_3d": [1]}}]},
    }
    m = parse_manifest(data, path="t.yaml")
    pull(m, tmp_path / "pulled", scheduler="sync", progress=False)
    with pytest.raises(BenchsmithError, match="no depth column.*depth_root.*pseudo"):
        corrupt(m, tmp_path / "pulled", tmp_path / "c", scheduler="sync", progress=False)


def test_user_onnx_depth_model(rgbd_folder: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)],
        "mean_depth",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 32, 32])],
        initializer=[helper.make_tensor("axes", TensorProto.INT64, [1], [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "mean_depth.onnx"
    onnx.save(model, str(path))
    spec = {
        "path": str(path),
        "output": "depth",
        "input_size": [32, 32],
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
    }
    m = parse_manifest(_manifest(rgbd_folder, "model", depth_model=spec), path="t.yaml")
    pull(m, tmp_path / "pulled", scheduler="sync", progress=False)
    corrupt(m, tmp_path / "pulled", tmp_path / "corrupted", scheduler="sync", progress=False)
    out = pq.read_table(next((tmp_path / "corrupted/near_focus_3").glob("*.parquet")))
    assert json.loads(out["params"][0].as_py())["_depth_source"].startswith(
        "model:onnx:mean_depth.onnx"
    )


def test_depth_model_manifest_errors() -> None:
    from pipeline.errors import ManifestError

    data = {
        "name": "d",
        "sources": [{"source": "digits", "splits": ["train"]}],
        "corrupt": {"depth": "model", "suites": [{"corruptions": {"fog_3d": [1]}}]},
    }
    with pytest.raises(ManifestError, match="'model' needs corrupt.depth_model"):
        parse_manifest(data, path="t.yaml")
    data["corrupt"]["depth_model"] = {"path": "x.onnx", "output": "disparity"}
    with pytest.raises(ManifestError, match="is not one of \\['depth', 'inverse_depth'\\]"):
        parse_manifest(data, path="t.yaml")
