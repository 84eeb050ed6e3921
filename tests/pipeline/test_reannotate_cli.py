"""The stages from the command line on a real source: pull -> reannotate -> slices -> publish
-> validate -> score, with review votes as the annotation input."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from pipeline.cli import main as cli
from pipeline.manifest import load_manifest
from pipeline.reannotate.tables import read_config


def test_digits_reannotate_slices_publish_validate_score(tmp_path: Path, capsys) -> None:
    votes = tmp_path / "votes.jsonl"
    recs = [  # digits/train/0 is a 0, /1 a 1, /2 a 2 (sklearn order)
        {"sample_id": "digits/train/0", "annotator": "r1", "labels": [0, 6], "offered": None,
         "verdict": "valid", "given": 0},
        {"sample_id": "digits/train/0", "annotator": "r2", "labels": [0, 6], "offered": None,
         "verdict": "valid", "given": 0},
        {"sample_id": "digits/train/1", "annotator": "r1", "labels": [], "offered": None,
         "verdict": "valid", "given": 1},
        {"sample_id": "digits/train/2", "annotator": "r1", "labels": [], "offered": [7],
         "verdict": "mistake", "model": "m", "severity": "major", "category": "non_prototypical"},
    ]
    votes.write_text("".join(json.dumps(r) + "\n" for r in recs))
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "digits-relabel", "description": "digits with review votes", "seed": 0,
        "sources": [{"source": "digits", "splits": ["train"], "limit": 300}],
        "reannotate": {"sources": [{"importer": "review", "path": str(votes)}],
                       "aggregate": {"rule": "majority", "threshold": 0.5}},
        "slices": [{"name": "major", "rule": "major", "models": ["m"], "images": True},
                   {"name": "multi_label", "rule": "multi_label"},
                   {"name": "label_error", "rule": "label_error"},
                   {"name": "rest", "rule": "clean"}],
    }))
    m = load_manifest(manifest)
    assert m.sections["reannotate"].sources[0].importer == "review"
    assert [s.name for s in m.sections["slices"]] == ["major", "multi_label", "label_error", "rest"]
    d = tmp_path
    args = ["--manifest", str(manifest), "--no-progress", "--scheduler", "sync"]
    assert cli(["pull", *args, "--out", str(d / "pulled")]) == 0
    assert cli(["reannotate", *args, "--clean", str(d / "pulled"), "--out", str(d / "re")]) == 0
    assert cli(["slices", *args, "--inputs", str(d / "pulled"), "--inputs", str(d / "re"),
                "--out", str(d / "slices")]) == 0
    sizes = {n: read_config(d / "slices" / n, ["sample_id"]).num_rows
             for n in ("major", "multi_label", "label_error", "rest")}
    assert sizes == {"major": 1, "multi_label": 1, "label_error": 1, "rest": 297}
    assert cli(["publish", "--manifest", str(manifest), "--inputs", str(d / "pulled"),
                str(d / "re"), str(d / "slices"), "--out", str(d / "bench")]) == 0
    assert cli(["validate", str(d / "bench"), "--json", str(d / "v.json")]) == 0, \
        json.loads((d / "v.json").read_text())
    card = (d / "bench/README.md").read_text()
    assert "more than one valid label" in card and "major mistake" in card
    ds = datasets.load_dataset(str(d / "bench"), "labels", split="train")
    assert ds.features["labels"].feature.names[:3] == ["0", "1", "2"]
    row = {r["sample_id"]: r for r in ds}
    assert sorted(row["digits/train/0"]["labels"]) == [0, 6]
    assert row["digits/train/1"]["labels"] == []
    ids = [f"digits/train/{i}" for i in range(300)]
    given = read_config(d / "pulled/clean", ["sample_id", "label"])["label"].to_pylist()
    pred = list(given)
    pred[0], pred[2] = 6, 7  # 6 is valid for row 0 (multi-label), 7 is the major mistake
    pq.write_table(pa.table({"sample_id": ids, "prediction": pred, "model": ["m"] * 300}),
                   d / "p.parquet")
    capsys.readouterr()
    assert cli(["score", str(d / "bench"), "--predictions", str(d / "p.parquet")]) == 0
    res = json.loads(capsys.readouterr().out)["models"]["m"]
    assert res["top1"] == 298 / 300
    lab = res["labels"]["labels"]  # review votes, not ReaL: reported under the config's name
    assert lab["accuracy"] == 298 / 299 and lab["rows"] == 299  # row 1 has no valid label
    assert res["slices"]["major"]["top1"] == 0.0 and res["slices"]["rest"]["top1"] == 1.0
