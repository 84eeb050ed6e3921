"""Bad values inside manifest sections, ``--set`` overrides, env vars and local sources.

The second sweep of ``benchmarks/results/bad_inputs_more.md``: every case runs the real
CLI entry point (:func:`pipeline.cli.main`, in-process) of the stage that reads the input
on a tiny real build (40 sklearn digits, pulled once here) and asserts exit status 2 with
a message that names the key or file at fault (``match``), never a traceback and never a
silent success. Each case was a traceback or a silent coercion before its fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from bad_inputs import refused, run

from pipeline.cli import main as cli

ROWS = 40
BASE = {"name": "sections", "description": "digits", "seed": 0,
        "sources": [{"source": "digits", "splits": ["train"], "limit": ROWS}]}
SYNC = ["--no-progress", "--scheduler", "sync"]


def write_manifest(path: Path, **sections: object) -> Path:
    """Write the base manifest plus ``sections`` to ``path``; return it."""
    path.write_text(yaml.safe_dump({**BASE, **sections}))
    return path


@pytest.fixture(scope="module")
def pulled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sections")
    m = write_manifest(root / "m.yaml")
    assert cli(["pull", "--manifest", str(m), *SYNC, "--out", str(root / "pulled")]) == 0
    return root / "pulled"


# ---------------------------------------------------------------- corrupt section


def _gn(**kw: object) -> dict:
    return {"preset": "mnist28", "suites": [{"corruptions": {"gaussian_noise": [1]}}], **kw}


@pytest.mark.parametrize("section, match", [
    # [1, 1] was silently collapsed into one config
    ({"preset": "mnist28", "suites": [{"corruptions": {"gaussian_noise": [1, 1]}}]},
     r"corrupt\.suites\[0\]\.corruptions\.gaussian_noise: severities \[1, 1\] repeat"),
    ({"preset": "mnist28", "suites": [{"suite": "mnist_c", "severities": [2, 2]}]},
     r"corrupt\.suites\[0\]\.severities: severities \[2, 2\] repeat"),
    # a preset the corruption has no table for: a bare ValueError traceback mid-run
    ({"preset": "mnist28", "suites": [{"corruptions": {"near_focus": [1]}}], "depth": "pseudo"},
     r"corrupt\.suites\[0\]: corruption 'near_focus' has no table for preset 'mnist28'.*auto"),
], ids=["dup-severity", "dup-suite-severity", "preset-without-table"])
def test_corrupt_section(pulled: Path, tmp_path: Path, section: dict, match: str) -> None:
    m = write_manifest(tmp_path / "m.yaml", corrupt=section)
    refused(["corrupt", "--manifest", m, *SYNC, "--clean", pulled, "--out", tmp_path / "out"],
            match)


# ---------------------------------------------------------------- audit section and files


def _pca(**probs: object) -> dict:
    return {"probs": {"route": "builtin", "featurizer": "pca_pixels", "folds": 2,
                      "featurizer_params": {"components": 8}, **probs}, "candidates": 5}


@pytest.mark.parametrize("section, match", [
    # featurizer_params were passed to the featurizer unchecked: -1 ran silently, "x" and
    # 0 were TypeError/ValueError tracebacks, a missing required one a TypeError
    (_pca(featurizer_params={"components": -1}),
     r"audit\.probs\.featurizer_params\.components: expected an integer >= 1, got -1"),
    (_pca(featurizer_params={"components": "x"}),
     r"audit\.probs\.featurizer_params\.components: .* got 'x'"),
    (_pca(featurizer_params={}),
     r"audit\.probs\.featurizer_params: featurizer 'pca_pixels' needs \['components'\]"),
    (_pca(featurizer="hog", featurizer_params={"cell": 0}),
     r"audit\.probs\.featurizer_params\.cell: expected an integer >= 2"),
    (_pca(featurizer="random_conv", featurizer_params={"filters": 4, "patch": 3, "alpha": "x"}),
     r"audit\.probs\.featurizer_params\.alpha"),
    # valid type, out of range for these 8x8 images: a ValueError traceback from the kernel
    (_pca(featurizer="random_conv", featurizer_params={"filters": 4, "patch": 100}),
     r"audit\.probs\.featurizer_params .*patch must be in 1\.\.7 for 8x8"),
    # torch's RuntimeError mid-training
    ({"probs": {"route": "cnn", "folds": 2, "cnn": {"label_smoothing": 2}}},
     r"audit\.probs\.cnn\.label_smoothing: expected a number in 0\.0\.\.1\.0, got 2"),
], ids=["components-neg", "components-str", "components-missing", "hog-cell-0", "alpha-str",
        "patch-too-big", "cnn-label-smoothing"])
def test_audit_section(pulled: Path, tmp_path: Path, section: dict, match: str) -> None:
    m = write_manifest(tmp_path / "m.yaml", audit=section)
    refused(["audit", "--manifest", m, *SYNC, "--clean", pulled / "clean",
             "--out", tmp_path / "out"], match)


def _ids(pulled: Path) -> list[str]:
    from pipeline.reannotate.tables import read_config

    return read_config(pulled / "clean", ["sample_id"])["sample_id"].to_pylist()


def _bad_files(tmp: Path, ids: list[str]) -> dict[str, tuple[Path, str]]:
    """name -> (file, route) of malformed probability/embedding files."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(ids), 8))
    nan = emb.copy()
    nan[1, 1] = np.nan
    (tmp / "garbage.npz").write_bytes(b"garbage")
    (tmp / "garbage.parquet").write_bytes(b"PAR1garbage")
    np.savez(tmp / "object.npz", sample_id=np.array(ids, dtype=object),
             pred_probs=np.full((len(ids), 10), 0.1))
    np.savez(tmp / "nan.npz", sample_id=np.array(ids), embedding=nan)
    np.savez(tmp / "text.npz", sample_id=np.array(ids), embedding=np.full((len(ids), 2), "a"))
    return {"garbage-npz": (tmp / "garbage.npz", "file"),
            "garbage-parquet": (tmp / "garbage.parquet", "file"),
            "object-ids": (tmp / "object.npz", "file"),
            "nan-embedding": (tmp / "nan.npz", "embeddings"),
            "text-embedding": (tmp / "text.npz", "embeddings")}


@pytest.mark.parametrize("case, match", [
    # np.load's ValueError (pickled/object data, not a zip) and pyarrow's ArrowInvalid
    ("garbage-npz", r"garbage\.npz: not a readable \.npz"),
    ("garbage-parquet", r"garbage\.parquet: not a readable Parquet file"),
    ("object-ids", r"object\.npz: not a readable \.npz"),
    # NaN embeddings reached sklearn (ValueError traceback); strings a float cast traceback
    ("nan-embedding", r"nan\.npz: 'embedding' has 1 NaN or infinite"),
    ("text-embedding", r"text\.npz: 'embedding' must hold numbers"),
])
def test_audit_files(pulled: Path, tmp_path: Path, case: str, match: str) -> None:
    path, route = _bad_files(tmp_path, _ids(pulled))[case]
    m = write_manifest(tmp_path / "m.yaml", audit={
        "probs": {"route": route, "path": str(path), "folds": 2}, "candidates": 5})
    refused(["audit", "--manifest", m, *SYNC, "--clean", pulled / "clean",
             "--out", tmp_path / "out"], match)


# ---------------------------------------------------------------- --set overrides and YAML 1.1


@pytest.mark.parametrize("override, match", [
    # YAML 1.1 numbers: 010 was read as 8 (octal), 0x10 as 16, 1_000 as 1000, 1:30 as 90
    ("sources.0.limit=010", r"sources\[0\]\.limit: expected an integer >= 1, got '010'"),
    ("seed=0x10", r"seed: expected an integer .* got '0x10'"),
    ("sources.0.limit=1_000", r"sources\[0\]\.limit: .* got '1_000'"),
    ("sources.0.limit=1:30", r"sources\[0\]\.limit: .* got '1:30'"),
    # list indices: '²' was a ValueError traceback, '00' and '٠' silently read as 0
    ("sources.².limit=3", r"--set 'sources\.²\.limit=3': 'sources\.²': .*index must be 0\.\.0"),
    ("sources.00.limit=3", r"--set 'sources\.00\.limit=3': 'sources\.00'"),
    ("sources.٠.limit=3", r"--set 'sources\.٠\.limit=3'"),
], ids=["octal", "hex", "underscore", "base60", "superscript-index", "zero-padded-index",
        "arabic-digit-index"])
def test_set_overrides(tmp_path: Path, override: str, match: str) -> None:
    m = write_manifest(tmp_path / "m.yaml")
    refused(["pull", "--manifest", m, *SYNC, "--out", tmp_path / "out", "--set", override], match)


def test_manifest_file_octal_limit(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump(BASE).replace(f"limit: {ROWS}", "limit: 0100"))
    refused(["pull", "--manifest", m, *SYNC, "--out", tmp_path / "out"],
            r"m\.yaml: sources\[0\]\.limit: .* got '0100'")


# ---------------------------------------------------------------- environment


@pytest.mark.parametrize("under", ["", "sub"], ids=["cache-is-a-file", "cache-under-a-file"])
def test_cache_not_a_directory(tmp_path: Path, monkeypatch, under: str) -> None:
    """A download into a $BENCHSMITH_CACHE that cannot be a folder: NotADirectoryError before.

    The folder is created before any connection, so this never touches the network.
    """
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    monkeypatch.setenv("BENCHSMITH_CACHE", str(blocker / under if under else blocker))
    m = write_manifest(tmp_path / "m.yaml", sources=[{
        "source": "mnist", "splits": ["test"], "limit": 5,
        "options": {"download": True, "path": str(tmp_path / "empty")}}])
    refused(["pull", "--manifest", m, *SYNC, "--out", tmp_path / "out"],
            r"cannot create the download folder .*afile.*\$BENCHSMITH_CACHE")


def test_empty_cache_variable_is_unset(monkeypatch) -> None:
    """``BENCHSMITH_CACHE=`` meant the working folder (``Path("")``); now the default."""
    from pipeline.download import cache_dir

    monkeypatch.setenv("BENCHSMITH_CACHE", "")
    assert cache_dir() == Path.home() / ".cache" / "benchsmith"


# ---------------------------------------------------------------- ImageNet local folders

TINY_ANN = "val_0.JPEG\tn01443537\t0\t0\t8\t8\nval_1.JPEG\tn01629819\t0\t0\t8\t8\n"
KAGGLE = ("ImageId,PredictionString\nILSVRC2012_val_00000001,n01440764 1 2 3 4\n"
          "ILSVRC2012_val_00000002,n01443537 1 2 3 4\n")


def _jpeg(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path, "JPEG")


def _tiny(root: Path, *, ann: bytes = TINY_ANN.encode(),
          wnids: bytes = b"n01443537\nn01629819\n",
          words: bytes = b"n01443537\tgoldfish\nn01629819\tsalamander\n") -> Path:
    """A two-image Tiny-ImageNet validation folder; return its ``val`` folder."""
    for f in ("val_0.JPEG", "val_1.JPEG"):
        _jpeg(root / "val/images" / f)
    (root / "wnids.txt").write_bytes(wnids)
    (root / "words.txt").write_bytes(words)
    (root / "val/val_annotations.txt").write_bytes(ann)
    return root / "val"


def _kaggle(root: Path, csv_text: bytes = KAGGLE.encode()) -> Path:
    """Two flat ILSVRC2012_val_* images with Kaggle's solution csv; return the folder."""
    for i in (1, 2):
        _jpeg(root / f"val/ILSVRC2012_val_{i:08d}.JPEG")
    (root / "LOC_val_solution.csv").write_bytes(csv_text)
    return root


def _pull_imagenet(tmp: Path, **options: object) -> list[object]:
    m = write_manifest(tmp / "m.yaml", sources=[
        {"source": "imagenet", "splits": ["validation"], "options": options}])
    return ["pull", "--manifest", m, *SYNC, "--out", tmp / "out"]


LATIN1 = "é".encode("latin-1")


@pytest.mark.parametrize("case, match", [
    # UnicodeDecodeError tracebacks
    ("ann-latin1", r"val_annotations\.txt: not UTF-8 text"),
    ("words-latin1", r"words\.txt: not UTF-8 text"),
    ("wnids-latin1", r"wnids\.txt: not UTF-8 text"),
    ("kaggle-latin1", r"LOC_val_solution\.csv: not UTF-8 text"),
    # '../../wnids.txt' was read from outside val/images (and quarantined as an image)
    ("ann-traversal", r"val_annotations\.txt: line 1 names '\.\./\.\./wnids\.txt'"),
    # FileNotFoundError / IsADirectoryError tracebacks
    ("labels-missing", r"imagenet: cannot read .*nope\.txt"),
    ("labels-folder", r"imagenet: cannot read .*Is a directory"),
    # the second row of an image silently replaced the first
    ("kaggle-duplicate", r"LOC_val_solution\.csv: line 3: image ILSVRC2012_val_00000001 already"),
    ("kaggle-boxes", r"LOC_val_solution\.csv: line 2 .*'n01440764 a b c d' must be"),
    # scipy's MatReadError traceback
    ("meta-garbage", r"meta\.mat: not a devkit meta\.mat"),
    # TypeError traceback; `split: 3` gave "has no split 'validation'; valid splits: [3]"
    ("path-int", r"imagenet: option 'path' must be a string"),
    ("split-int", r"imagenet: option 'split' must be a string"),
])
def test_imagenet_folder(tmp_path: Path, case: str, match: str) -> None:
    src = tmp_path / "src"
    opts: dict[str, object]
    if case.startswith("kaggle-"):
        text = {"kaggle-latin1": KAGGLE.encode() + b"ILSVRC2012_val_00000003,n01440764 1 2 3 4"
                + LATIN1 + b"\n",
                "kaggle-duplicate": KAGGLE.replace("00000002,n01443537", "00000001,n01443537",
                                                   1).encode()
                + b"ILSVRC2012_val_00000002,n01443537 1 2 3 4\n",
                "kaggle-boxes": KAGGLE.replace("n01440764 1 2 3 4", "n01440764 a b c d").encode(),
                }[case]
        opts = {"path": str(_kaggle(src, text))}
    elif case == "meta-garbage":
        root = _kaggle(src)
        (root / "LOC_val_solution.csv").unlink()
        (root / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n2\n")
        (root / "meta.mat").write_bytes(b"garbage")
        opts = {"path": str(root)}
    else:
        kw = {"ann-latin1": {"ann": TINY_ANN.encode() + b"val_1.JPEG\tn01629819\t" + LATIN1},
              "words-latin1": {"words": b"n01443537\tgoldfish" + LATIN1 + b"\n"},
              "wnids-latin1": {"wnids": b"n01443537\n" + LATIN1 + b"\n"},
              "ann-traversal": {"ann": b"../../wnids.txt\tn01443537\n"}}.get(case, {})
        opts = {"path": str(_tiny(src, **kw))}
        if case == "labels-missing":
            opts["labels"] = str(tmp_path / "nope.txt")
        elif case == "labels-folder":
            opts["labels"] = str(tmp_path)
        elif case == "path-int":
            opts["path"] = 3
        elif case == "split-int":
            opts["split"] = 3
    refused(_pull_imagenet(tmp_path, **opts), match)


def test_imagenet_good_folders_still_pull(tmp_path: Path) -> None:
    """The two fixtures above, unbroken, pull every image (so the refusals are the edits)."""
    for name, path in (("tiny", _tiny(tmp_path / "t")), ("kaggle", _kaggle(tmp_path / "k"))):
        (tmp_path / name).mkdir()
        rc, text = run(_pull_imagenet(tmp_path / name, path=str(path)))
        assert rc == 0 and "{'validation': 2} rows, 0 rejected" in text, text


# ---------------------------------------------------------------- shift section


def test_shift_size_larger_than_the_data(pulled: Path, tmp_path: Path) -> None:
    """``size`` the 40 rows cannot fill: the shift's ValueError was a traceback."""
    m = write_manifest(tmp_path / "m.yaml", shift={
        "split": "train", "intensities": [0, 1], "size": 1_000_000,
        "shifts": [{"shift": "label_shift"}]})
    refused(["shift", "--manifest", m, *SYNC, "--in", pulled, "--out", tmp_path / "out"],
            r"shift entry 'label_shift', (training set|intensity 0\.0): .*lower `size`")


# ---------------------------------------------------------------- reannotate.aggregate


@pytest.mark.parametrize("aggregate, match", [
    # both were ignored without a word (the run used plurality / majority votes)
    ({"rule": "plurality", "threshold": 0.7},
     r"reannotate\.aggregate\.threshold: only rule majority uses it \(rule is plurality\)"),
    ({"rule": "majority", "pred_probs": "p.parquet"},
     r"reannotate\.aggregate\.pred_probs: only rule cleanlab uses it"),
], ids=["threshold-with-plurality", "pred-probs-with-majority"])
def test_reannotate_aggregate(pulled: Path, tmp_path: Path, aggregate: dict, match: str) -> None:
    votes = tmp_path / "votes.jsonl"
    votes.write_text('{"sample_id": "digits/train/0", "annotator": "r1", "labels": [0, 6], '
                     '"verdict": "valid", "given": 0}\n')
    m = write_manifest(tmp_path / "m.yaml", reannotate={
        "sources": [{"importer": "review", "path": str(votes)}], "aggregate": aggregate})
    refused(["reannotate", "--manifest", m, *SYNC, "--clean", pulled, "--out", tmp_path / "out"],
            match)
