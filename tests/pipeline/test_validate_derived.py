"""Tampering with derived configs that are subsets of the clean rows: shift, audit, labels, slices.

Each fixture builds through the real CLI and must validate clean first (no false positives);
each case edits a copy (resealed: sha256s updated) and names the finding it must produce.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tamper_helpers import (
    Want,
    card_entry,
    caught,
    complete,
    edit_card,
    edit_json,
    reseal,
    rewrite,
    seal,
    set_cells,
)

from pipeline.cli import main as cli
from pipeline.validate import validate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def derived(shared_dir: Path, tmp_path_factory) -> Path:
    """MNIST test rows -> clean, two shifts (label shift, Colored MNIST) and an audit, published.

    Validates with no finding (shift rows are clean rows with their labels; the audit
    covers every clean row with its given label).
    """
    from threadpoolctl import threadpool_limits

    d = tmp_path_factory.mktemp("derived")
    man = ["--manifest", str(REPO / "manifests/mnist_shift.yaml")]
    for s in [
        f"sources.0.options={{path: {shared_dir / 'datasets/mnist'}}}", "sources.0.limit=600",
        "shift.size=120", "shift.train_size=200", "shift.intensities=[0, 1]",
        "shift.measure={dim: 8, permutations: 20, folds: 3, max_rows: 120}",
        "shift.shifts=[{shift: label_shift, name: ls, size: 20, params: {mode: one_class, "
        "target_class: 3}}, {shift: spurious_correlation, name: colored}]",
        "audit={probs: {route: builtin, featurizer: random_conv, "
        "featurizer_params: {filters: 16, patch: 5}}, candidates: 10}",
    ]:
        man += ["--set", s]
    common = [*man, "--no-progress", "--scheduler", "sync"]
    with threadpool_limits(1):
        assert cli(["pull", *common, "--out", str(d / "pulled")]) == 0
        assert cli(["shift", *common, "--in", str(d / "pulled"), "--out", str(d / "shift"),
                    "--metrics", str(d / "m.json"), "--plot", str(d / "p.png")]) == 0
        assert cli(["audit", *common, "--clean", str(d / "pulled/clean"),
                    "--out", str(d / "audit")]) == 0
    assert cli(["publish", *man, "--inputs", str(d / "pulled"), str(d / "shift"),
                str(d / "audit"), "--out", str(d / "b")]) == 0
    complete(d / "b")
    report = validate(d / "b", scheduler="sync")
    assert report.ok, report.text()
    assert {c["kind"] for c in report.configs.values()} == {"clean", "shift", "audit"}
    return d / "b"


T0 = "test-00000-of-00001.parquet"


def t_shift_label(root: Path) -> None:
    rewrite(root / "colored_k100" / T0, lambda t: set_cells(t, "label", {4: (t["label"][4].as_py()
                                                                          + 1) % 10}))
    reseal(root)


def t_shift_foreign_row(root: Path) -> None:
    rewrite(root / "ls_k100" / T0, lambda t: set_cells(
        set_cells(t, "sample_id", {2: "mnist/test/99999"}), "origin", {2: "mnist/test/99999"}))
    reseal(root)


def t_shift_origin(root: Path) -> None:
    rewrite(root / "ls_k000" / T0, lambda t: set_cells(t, "origin", {1: t["origin"][0].as_py()}))
    reseal(root)


def t_audit_label(root: Path) -> None:
    rewrite(root / "audit" / T0, lambda t: set_cells(t, "label", {7: (t["label"][7].as_py()
                                                                   + 1) % 10}))
    reseal(root)


def t_audit_rows_dropped(root: Path) -> None:
    rewrite(root / "audit" / T0, lambda t: t.slice(0, 500))

    def fix(m: dict) -> None:
        m["splits"]["test"]["shards"][0]["num_rows"] = m["splits"]["test"]["num_rows"] = 500
    edit_json(root / "audit/manifest.json", fix)
    edit_card(root, lambda h: card_entry(h, "dataset_info", "audit")["splits"][0].__setitem__(
        "num_examples", 500))
    reseal(root)


def t_shift_class_renamed(root: Path) -> None:
    edit_json(root / "ls_k100/manifest.json",
              lambda m: m["features"]["label"]["names"].__setitem__(0, "zero"))
    seal(root)


DERIVED_CASES: list[tuple[str, Callable[[Path], None], list[Want]]] = [
    ("shift-label", t_shift_label, [Want("labels", "colored_k100", T0, 4)]),
    ("shift-foreign-row", t_shift_foreign_row, [Want("ids", "ls_k100", T0, 2)]),
    ("shift-origin", t_shift_origin, [Want("ids", "ls_k000", T0, 1)]),
    ("shift-class-renamed", t_shift_class_renamed, [Want("labels", "ls_k100", "manifest.json"),
                                                    Want("card", "ls_k100", "README.md")]),
    ("audit-label", t_audit_label, [Want("labels", "audit", T0, 7)]),
    ("audit-rows-dropped", t_audit_rows_dropped, [Want("ids", "audit")]),
]


@pytest.mark.parametrize(("tamper", "wanted"), [c[1:] for c in DERIVED_CASES],
                         ids=[c[0] for c in DERIVED_CASES])
def test_derived_subset_tampering_is_caught(derived: Path, tmp_path: Path, tamper,
                                            wanted: list[Want]) -> None:
    root = tmp_path / "b"
    shutil.copytree(derived, root)
    tamper(root)
    caught(validate(root, scheduler="sync"), wanted)


# --- re-annotation labels and slices (subsets of the clean rows) -----------------------------


@pytest.fixture(scope="session")
def relabelled(tmp_path_factory) -> Path:
    """Digits -> review votes -> labels config -> slices (one with images), published."""
    d = tmp_path_factory.mktemp("relabelled")
    votes = d / "votes.jsonl"
    recs = [
        {"sample_id": "digits/train/0", "annotator": "r1", "labels": [0, 6], "offered": None,
         "verdict": "valid", "given": 0},
        {"sample_id": "digits/train/2", "annotator": "r1", "labels": [], "offered": [7],
         "verdict": "mistake", "model": "m", "severity": "major", "category": "non_prototypical"},
    ]
    votes.write_text("".join(json.dumps(r) + "\n" for r in recs))
    manifest = d / "m.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "digits-relabel", "description": "digits with review votes", "seed": 0,
        "sources": [{"source": "digits", "splits": ["train"], "limit": 120}],
        "reannotate": {"sources": [{"importer": "review", "path": str(votes)}],
                       "aggregate": {"rule": "majority", "threshold": 0.5}},
        "slices": [{"name": "major", "rule": "major", "models": ["m"], "images": True},
                   {"name": "rest", "rule": "clean"}],
    }))
    args = ["--manifest", str(manifest), "--no-progress", "--scheduler", "sync"]
    assert cli(["pull", *args, "--out", str(d / "pulled")]) == 0
    assert cli(["reannotate", *args, "--clean", str(d / "pulled"), "--out", str(d / "re")]) == 0
    assert cli(["slices", *args, "--inputs", str(d / "pulled"), "--inputs", str(d / "re"),
                "--out", str(d / "slices")]) == 0
    assert cli(["publish", "--manifest", str(manifest), "--inputs", str(d / "pulled"),
                str(d / "re"), str(d / "slices"), "--out", str(d / "b")]) == 0
    complete(d / "b")
    report = validate(d / "b", scheduler="sync")
    assert report.ok, report.text()
    assert {c["kind"] for c in report.configs.values()} >= {"clean", "labels", "slice"}
    return d / "b"


def _shard(root: Path, config: str) -> Path:
    return sorted((root / config).glob("*.parquet"))[0]


def t_slice_label(root: Path) -> None:
    rewrite(_shard(root, "rest"), lambda t: set_cells(t, "label", {5: (t["label"][5].as_py()
                                                                    + 1) % 10}))
    reseal(root)


def t_slice_foreign_id(root: Path) -> None:
    rewrite(_shard(root, "rest"), lambda t: set_cells(t, "sample_id", {9: "digits/train/5000"}))
    reseal(root)


def t_labels_given_label(root: Path) -> None:
    rewrite(_shard(root, "labels"), lambda t: set_cells(t, "label", {1: (t["label"][1].as_py()
                                                                      + 3) % 10}))
    reseal(root)


RELABEL_CASES: list[tuple[str, Callable[[Path], None], list[Want]]] = [
    ("slice-label", t_slice_label, [Want("labels", "rest", None, 5)]),
    ("slice-foreign-id", t_slice_foreign_id, [Want("ids", "rest", None, 9)]),
    ("labels-given-label", t_labels_given_label, [Want("labels", "labels", None, 1)]),
]


@pytest.mark.parametrize(("tamper", "wanted"), [c[1:] for c in RELABEL_CASES],
                         ids=[c[0] for c in RELABEL_CASES])
def test_relabel_and_slice_tampering_is_caught(relabelled: Path, tmp_path: Path, tamper,
                                               wanted: list[Want]) -> None:
    root = tmp_path / "b"
    shutil.copytree(relabelled, root)
    tamper(root)
    caught(validate(root, scheduler="sync"), wanted)

