"""Bad inputs of reannotate, score, evaluate, difficulty, review, publish and push.

The sweep of ``benchmarks/results/bad_inputs_more.md``: every case feeds one malformed
file or argument to the real CLI entry point (:func:`pipeline.cli.main`, in-process) on
a small real build (the sklearn digits, pulled, corrupted, re-annotated with review
votes, sliced and published here) and asserts exit status 2 with a message that names
the file, record or key at fault (``match``), never a traceback and never a silent
success. Each case was a traceback or a silent coercion before its fix.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from bad_inputs import refused, run
from sweep_build import (
    KP,
    MP,
    ONE_HOT,
    ROWS,
    Build,
    J,
    P,
    _lines,
    _mistake,
    _mturk,
    _npy,
    _npz,
    _vote,
)

#: (id, importer, file bytes (None: a folder), options, regex the message must match)
REANNOTATE = [
    ("review-labels-float", "review", _lines(_vote(labels=[0.7])), {}, r"line 1 labels.*0\.7"),
    ("review-labels-string", "review", _lines(_vote(labels="abc")), {}, r"line 1 labels"),
    ("review-labels-int", "review", _lines(_vote(labels=3)), {}, r"line 1 labels"),
    ("review-labels-bool", "review", _lines(_vote(labels=[True])), {}, r"line 1 labels.*True"),
    ("review-labels-nan", "review", b'{"sample_id": "digits/train/0", "annotator": "a", '
     b'"labels": [NaN]}\n', {}, r"line 1 labels.*nan"),
    ("review-labels-huge", "review", _lines(_vote(labels=[2**40])), {}, r"out of range"),
    ("review-sample-id-int", "review", _lines(_vote(sample_id=5)), {}, r"line 1: sample_id"),
    ("review-annotator-int", "review", _lines(_vote(annotator=3)), {}, r"line 1: annotator"),
    ("review-verdict-unknown", "review", _lines(_vote(verdict="banana")), {},
     r"line 1: verdict 'banana' is not one of"),
    ("review-verdict-int", "review", _lines(_vote(verdict=3)), {}, r"line 1: verdict"),
    ("review-given-float", "review", _lines(_vote(given=0.5)), {}, r"line 1 given"),
    ("review-given-string", "review", _lines(_vote(given="0")), {}, r"line 1 given"),
    ("review-offered-string", "review", _lines(_vote(offered="x")), {}, r"line 1 offered"),
    ("review-severity-unknown", "review", _lines(_vote(severity="huge")), {},
     r"severity 'huge' is not one of"),
    ("review-category-unknown", "review", _lines(_vote(category="weird")), {},
     r"category 'weird' is not one of"),
    ("review-latin1", "review", b'{"sample_id": "digits/train/0", "annotator": "\xe9", '
     b'"labels": [0]}\n', {}, r"line 1 is not UTF-8"),
    ("review-every-line-torn", "review", b'{"sample_id\n{bad\n', {}, r"none of its 2 lines"),
    ("review-folder", "review", None, {}, r"not a regular file"),
    ("real-float", "real", J([[0.9]] * ROWS).encode(), P, r"entry 0: class index 0\.9"),
    ("real-string", "real", J([["x"]]).encode(), P, r"entry 0: class index 'x'"),
    ("real-nested", "real", J([[[0]]]).encode(), P, r"entry 0: class index \[0\]"),
    ("real-not-utf8", "real", b"\xff\xfe[[0]]", P, r"not UTF-8"),
    ("imagenetv2-float", "imagenetv2", J({"0.jpeg": [0.9]}).encode(), P, r"'0\.jpeg'.*0\.9"),
    ("imagenetv2-duplicate-stem", "imagenetv2", J({"0.jpeg": ["0"], "0.png": ["3"]}).encode(),
     P, r"two file names map to sample_id 'digits/train/0'"),
    ("mturk-float-id", "mturk", J([_mturk(id=0.7)]).encode(), MP, r"record 0: id 0\.7"),
    ("mturk-float-count", "mturk", J([_mturk(mturk={"given": 2.6})]).encode(), MP,
     r"record 0: mturk must map"),
    ("mturk-negative-count", "mturk", J([_mturk(mturk={"given": -3})]).encode(), MP,
     r"record 0: mturk must map"),
    ("mturk-counts-list", "mturk", J([_mturk(mturk=[1, 2])]).encode(), MP,
     r"record 0: mturk must map"),
    ("mturk-unknown-answer", "mturk", J([_mturk(mturk={"given": 3, "maybe": 9})]).encode(), MP,
     r"record 0: mturk must map"),
    ("mturk-float-given", "mturk", J([_mturk(given_original_label=0.2)]).encode(), MP,
     r"record 0 given_original_label"),
    ("mturk-duplicate-record", "mturk", J([_mturk(), _mturk()]).encode(), MP,
     r"two records have id 0"),
    ("mistakes-float-prediction", "mistakes", J({"0.jpg": _mistake(top_prediction=3.7)}).encode(),
     KP, r"record '0\.jpg' top_prediction"),
    ("mistakes-bool-prediction", "mistakes", J({"0.jpg": _mistake(top_prediction=True)}).encode(),
     KP, r"record '0\.jpg' top_prediction"),
    ("mistakes-duplicate-stem", "mistakes", J({"0.jpg": _mistake(), "0.png": _mistake()}).encode(),
     KP, r"two file names map"),
    ("counts-empty", "counts", _npy(np.zeros((0, 10), np.int64)), P, r"holds no votes"),
    ("counts-huge", "counts", _npy(np.full((ROWS, 10), 10**12, np.int64)), P,
     r"add up to 600000000000000 votes"),
    ("counts-complex", "counts", _npy(np.ones((ROWS, 10), complex)), P, r"count matrix"),
    ("counts-npz-duplicate-ids", "counts", _npz(counts=ONE_HOT[[0, 0]],
                                                sample_id=np.array(["digits/train/0"] * 2)),
     P, r"two rows map to sample_id 'digits/train/0'"),
    ("counts-npz-int-ids", "counts", _npz(counts=ONE_HOT[:1], sample_id=np.array([0])), P,
     r"'sample_id' must be a 1-D array of strings"),
    ("counts-key-format", "counts", _npy(ONE_HOT[:ROWS % 10 + 1]),
     {**P, "key_format": "{index:q}"}, r"key_format '\{index:q\}'"),
    ("raters-info-1d", "real_raters", _npz(tensor=np.zeros((1, 2, 3)), info=np.array(["a", "b"]),
                                           ids=np.array([1])), P, r"info \(questions, 2\)"),
    ("raters-ids-short", "real_raters", _npz(tensor=np.zeros((2, 1, 3)),
                                             info=np.array([["0.png", "0"]]), ids=np.array([1])),
     P, r"ids \(raters,\)"),
    ("raters-label-string", "real_raters", _npz(tensor=np.eye(3)[None, :1],
                                                info=np.array([["0.png", "x"]]),
                                                ids=np.array([1])), P, r"info\[0, 1\]"),
    ("raters-not-one-hot", "real_raters", _npz(tensor=np.ones((1, 1, 3)),
                                               info=np.array([["0.png", "0"]]),
                                               ids=np.array([1])), P, r"one-hot"),
    ("raters-not-npz", "real_raters", b"garbage", P, r"not a numpy \.npz"),
]


@pytest.mark.parametrize("case", REANNOTATE, ids=[c[0] for c in REANNOTATE])
def test_reannotate_refuses_bad_vote_files(case: tuple, build: Build, tmp_path: Path) -> None:
    name, importer, data, options, match = case
    f = tmp_path / f"votes-{name}"
    if data is None:
        f.mkdir()
    else:
        f.write_bytes(data)
    m = dict(build.manifest, reannotate={"sources": [
        {"importer": importer, "path": str(f), **({"options": options} if options else {})}]})
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(m))
    text = refused(["reannotate", "--manifest", tmp_path / "m.yaml", "--no-progress",
                    "--scheduler", "sync", "--clean", build.pulled, "--out", tmp_path / "out"],
                   match)
    assert str(f) in text, f"the message does not name the file {f}:\n{text}"
    assert not (tmp_path / "out" / "labels").exists()


def _reannotate(build: Build, tmp_path: Path, sources: list[dict]) -> tuple[int, str]:
    """Run ``reannotate`` of the build's clean config with these vote sources into tmp/out."""
    m = dict(build.manifest, reannotate={"sources": sources})
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(m))
    return run(["reannotate", "--manifest", tmp_path / "m.yaml", "--no-progress",
                "--scheduler", "sync", "--clean", build.pulled, "--out", tmp_path / "out"])


def test_reannotate_reports_dropped_votes_and_takes_count_defaults(build: Build,
                                                                    tmp_path: Path) -> None:
    """Votes for unknown sample_ids are dropped *and said*; counts needs only a prefix."""
    f = tmp_path / "v.jsonl"
    f.write_bytes(_lines(_vote(), _vote(sample_id="digits/train/99999")))
    c = tmp_path / "c.npy"
    np.save(c, ONE_HOT[np.array(build.given)])
    rc, text = _reannotate(build, tmp_path, [{"importer": "review", "path": str(f)},
                                             {"importer": "counts", "path": str(c), "options": P}])
    assert rc == 0, text
    assert re.search(r"1 of 2 votes name sample_ids not in the clean config.*99999", text), text
    meta = json.loads((tmp_path / "out/labels/manifest.json").read_text())
    assert [j["matched_votes"] for j in meta["joins"]] == [1, ROWS]
    assert meta["sources"][1]["options"] == {**P, "key_format": "{index}", "annotator": "crowd"}


# ---------------------------------------------------------------- score: predictions files


def _labels_copy(build: Build, tmp: Path, fn: Callable[[pa.Table], pa.Table] | None) -> Path:
    d = tmp / "re"
    shutil.copytree(build.root / "re", d)
    for p in (d / "labels").glob("*.parquet"):
        if fn is not None:
            pq.write_table(fn(pq.read_table(p)), p)
    return d


def _foreign(t: pa.Table) -> pa.Table:
    ids = [s.replace("digits/", "other/") for s in t["sample_id"].to_pylist()]
    return t.set_column(t.schema.get_field_index("sample_id"), "sample_id", pa.array(ids))


SLICES = [
    ("major-model-without-votes", [{"name": "major", "rule": "major", "models": ["vit3b"]}],
     True, None, r"slice major: models \['vit3b'\] have no votes in labels"),
    ("multi-label-without-labels", [{"name": "ml", "rule": "multi_label"}], False, None,
     r"slice ml: rule multi_label needs the labels config"),
    ("label-error-without-labels", [{"name": "le", "rule": "label_error"}], False, None,
     r"slice le: rule label_error needs the labels config"),
    ("audit-column-without-audit", [{"name": "le", "rule": "label_error", "audit_column": "x"}],
     True, None, r"audit_column 'x' needs the audit config"),
    ("labels-of-another-build", [{"name": "ml", "rule": "multi_label"}], True, _foreign,
     r"labels: \d+ sample_ids not in clean \(e\.g\. 'other/train/0'\)"),
    ("labels-duplicate-ids", [{"name": "ml", "rule": "multi_label"}], True,
     lambda t: pa.concat_tables([t, t.slice(0, 1)]), r"labels: 1 duplicate sample_ids"),
    ("labels-votes-column-dropped", [{"name": "ml", "rule": "multi_label"}], True,
     lambda t: t.drop(["votes"]), r"labels/train-00000-of-00001\.parquet: unreadable shard or "
     r"missing column"),
]


@pytest.mark.parametrize("case", SLICES, ids=[c[0] for c in SLICES])
def test_slices_refuse_rules_their_inputs_cannot_answer(case: tuple, build: Build,
                                                         tmp_path: Path) -> None:
    name, slices, with_labels, tamper, match = case
    m = dict(build.manifest, slices=slices)
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(m))
    inputs = [build.pulled] + ([_labels_copy(build, tmp_path, tamper)] if with_labels else [])
    refused(["slices", "--manifest", tmp_path / "m.yaml", "--no-progress", "--scheduler", "sync",
             *[a for i in inputs for a in ("--inputs", i)], "--out", tmp_path / "out"], match)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------- --set overrides


@pytest.mark.parametrize(("command", "sets", "match"), [
    ("reannotate", ["reannotate.sources.0.options=[1]"],
     r"reannotate\.sources\[0\]\.options: expected a mapping of importer options"),
    ("slices", ["slices.0.rule=major", "slices.0.models=[m,m]", "slices.0.min_models=2"],
     r"slices\[0\]\.models: \['m', 'm'\] names a model twice"),
])
def test_set_overrides_that_were_a_traceback_or_an_empty_slice(command: str, sets: list[str],
                                                                match: str, build: Build,
                                                                tmp_path: Path) -> None:
    io_args = (["--clean", build.pulled] if command == "reannotate" else
               ["--inputs", build.pulled, "--inputs", build.root / "re"])
    refused([command, "--manifest", build.root / "m.yaml", "--no-progress", "--scheduler", "sync",
             *[a for s in sets for a in ("--set", s)], *io_args, "--out", tmp_path / "out"],
            match)


# ---------------------------------------------------------------- validate: resealed labels/slices


def _resealed(build: Build, tmp: Path, fn: Callable[[Path], object]) -> Path:
    from tamper_helpers import reseal

    root = tmp / "bench"
    shutil.copytree(build.bench, root)
    fn(root)
    reseal(root)  # every sha256 matches the forged bytes, as a forger would leave it
    return root


def _cells(config: str, col: str, fn: Callable[[pa.Table], dict[int, object]]):
    from tamper_helpers import rewrite, set_cells

    def tamper(root: Path) -> None:
        shard = sorted((root / config).glob("*.parquet"))[0]
        rewrite(shard, lambda t: set_cells(t, col, fn(t)))
    return tamper


def _kind(config: str, kind: str):
    from tamper_helpers import edit_json

    return lambda root: edit_json(root / config / "manifest.json", lambda m: m.update(kind=kind))


TAMPERED = [
    ("votes-class-out-of-range", _cells("labels", "votes", lambda t: {
        0: [dict(t["votes"][0].as_py()[0], labels=[99])]}),
     r"\[label-range\] labels/train-00000-of-00001\.parquet row 0: votes: a vote by 'r1' names "
     r"class\(es\) \[99\]"),
    ("num-votes-negative", _cells("labels", "num_votes", lambda t: {0: -5}),
     r"\[label-range\] labels/.* row 0: num_votes=-5"),
    ("agreement-above-1", _cells("labels", "agreement", lambda t: {0: 2.0}),
     r"\[label-range\] labels/.* row 0: agreement=2\.0 outside \[0, 1\]"),
    ("labels-served-as-slice", _kind("labels", "slice"),
     r"\[schema\] labels/manifest\.json: a slice config needs columns \['reason'\]"),
    ("slice-served-as-labels", _kind("multi_label", "labels"),
     r"\[schema\] multi_label/manifest\.json: a labels config needs columns"),
]


@pytest.mark.parametrize("case", TAMPERED, ids=[c[0] for c in TAMPERED])
def test_validate_catches_resealed_labels_and_slice_tampering(case: tuple, build: Build,
                                                              tmp_path: Path) -> None:
    name, tamper, match = case
    root = _resealed(build, tmp_path, tamper)
    rc, text = run(["validate", root, "--no-progress"])
    assert rc == 1 and "Traceback" not in text, text
    assert re.search(match, text), f"{match!r} not in:\n{text}"


@pytest.mark.parametrize(("args", "match"), [
    (["--workers", "-3", "--scheduler", "processes"], r"--workers: expected an integer >= 1"),
    (["--workers", "0"], r"--workers: expected an integer >= 1"),
    (["--scheduler", "warp"], r"--scheduler: 'warp' is not a scheduler"),
])
def test_validate_checks_its_run_arguments(args: list[str], match: str, build: Build) -> None:
    refused(["validate", build.bench, "--no-progress", *args], match)


def test_a_utf8_bom_is_read_not_dropped(build: Build, tmp_path: Path) -> None:
    """A UTF-8 BOM (Windows editors): the review lines keep being read (json.loads of bytes
    did it, the strict UTF-8 decoding must too) and a JSON annotation file with one, an error
    before, is read."""
    f = tmp_path / "v.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + _lines(_vote(labels=[0, 6])))
    v2 = tmp_path / "v2.json"
    v2.write_bytes(b"\xef\xbb\xbf" + J({"0.jpeg": ["0", "6"]}).encode())
    rc, text = _reannotate(build, tmp_path, [
        {"importer": "review", "path": str(f)},
        {"importer": "imagenetv2", "path": str(v2), "options": P}])
    assert rc == 0, text
    counts = json.loads((tmp_path / "out/labels/manifest.json").read_text())["counts"]
    assert counts["votes"] == 2 and counts["review_lines_skipped"] == 0 and counts["multi_label"]


def test_stage_outputs_that_are_their_own_inputs_are_refused(build: Build,
                                                             tmp_path: Path) -> None:
    """--out == --clean made reannotate delete the clean config (its stale-output sweep), and
    slices --out == an --inputs folder deleted the labels config; a file as a parent of an
    output traced back."""
    pulled, re_ = tmp_path / "pulled", tmp_path / "re"
    shutil.copytree(build.pulled, pulled)
    shutil.copytree(build.root / "re", re_)
    args = ["--manifest", build.root / "m.yaml", "--no-progress", "--scheduler", "sync"]
    refused(["reannotate", *args, "--clean", pulled, "--out", pulled],
            r"--out .*pulled overlaps the --clean folder")
    refused(["slices", *args, "--inputs", pulled, "--inputs", re_, "--out", re_],
            r"--out .*re overlaps the --inputs folder")
    # corrupt used to delete the clean config, then crash; every stage takes the same check
    # (pipeline.stage.refuse_overlap), inside or around its input as well.
    refused(["corrupt", *args, "--clean", pulled, "--out", pulled],
            r"--out .*pulled overlaps the --clean folder")
    refused(["corrupt", *args, "--clean", pulled, "--out", pulled / "corrupted"],
            r"--out .*corrupted overlaps the --clean folder")
    m2 = tmp_path / "m2.yaml"
    m2.write_text(yaml.safe_dump({**yaml.safe_load((build.root / "m.yaml").read_text()),
                                  "audit": {"probs": {"route": "builtin"}}}))
    refused(["audit", "--manifest", m2, "--no-progress", "--scheduler", "sync",
             "--clean", pulled / "clean", "--out", pulled],
            r"--out .*pulled overlaps the --clean folder")
    assert (pulled / "clean/manifest.json").is_file() and (re_ / "labels/manifest.json").is_file()
    assert not (pulled / "corrupted").exists()
    f = tmp_path / "afile"
    f.write_text("x")
    p = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sample_id": build.ids, "prediction": build.given}), p)
    refused(["score", build.bench, "--predictions", p, "--quiet", "--out", f / "m.json"],
            r"cannot write .*afile/m\.json: .*a parent folder is a file")
