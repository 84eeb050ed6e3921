"""Shared fixture of the bad-input sweep files: one small real build and record helpers.

The sklearn digits, pulled, corrupted, re-annotated with review votes, sliced and published
once per test session; ``test_bad_inputs_more.py`` (votes, labels, slices, validate) and
``test_bad_inputs_outputs.py`` (score, publish, difficulty, evaluate, push, review) feed
malformed inputs to the CLI on top of it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.cli import main as cli

ROWS = 60


@dataclass(frozen=True)
class Build:
    """The fixture build: stage folders, the published benchmark, ids and given labels."""

    root: Path
    manifest: dict
    ids: list[str]
    given: list[int]

    @property
    def pulled(self) -> Path:
        return self.root / "pulled"

    @property
    def bench(self) -> Path:
        return self.root / "bench"


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    from pipeline.reannotate.tables import read_config

    root = tmp_path_factory.mktemp("more")
    votes = root / "votes.jsonl"
    votes.write_text(json.dumps({"sample_id": "digits/train/0", "annotator": "r1",
                                 "labels": [0, 6], "verdict": "valid", "given": 0}) + "\n")
    m = {"name": "digits-more", "description": "digits", "seed": 0,
         "sources": [{"source": "digits", "splits": ["train"], "limit": ROWS}],
         "corrupt": {"preset": "mnist28", "suites": [{"corruptions": {"gaussian_noise": [1]}}]},
         "reannotate": {"sources": [{"importer": "review", "path": str(votes)}]},
         "slices": [{"name": "multi_label", "rule": "multi_label"}]}
    (root / "m.yaml").write_text(yaml.safe_dump(m))
    args = ["--manifest", str(root / "m.yaml"), "--no-progress", "--scheduler", "sync"]
    assert cli(["pull", *args, "--out", str(root / "pulled")]) == 0
    assert cli(["corrupt", *args, "--clean", str(root / "pulled"),
                "--out", str(root / "corrupted")]) == 0
    assert cli(["reannotate", *args, "--clean", str(root / "pulled"),
                "--out", str(root / "re")]) == 0
    assert cli(["slices", *args, "--inputs", str(root / "pulled"), "--inputs", str(root / "re"),
                "--out", str(root / "slices")]) == 0
    assert cli(["publish", "--manifest", str(root / "m.yaml"), "--inputs",
                *(str(root / d) for d in ("pulled", "corrupted", "re", "slices")),
                "--out", str(root / "bench")]) == 0
    t = read_config(root / "pulled" / "clean", ["sample_id", "label"])
    return Build(root, m, t["sample_id"].to_pylist(), t["label"].to_pylist())


# ---------------------------------------------------------------- reannotate: vote files

J = json.dumps


def _vote(**kw: object) -> dict:
    return {"sample_id": "digits/train/0", "annotator": "a", "labels": [0], "verdict": "valid",
            **kw}


def _lines(*recs: object) -> bytes:
    return "".join(J(r) + "\n" for r in recs).encode()


def _mturk(**kw: object) -> dict:
    return {"id": 0, "given_original_label": 0, "our_guessed_label": 6,
            "mturk": {"given": 3, "guessed": 2, "both": 0, "neither": 0}, **kw}


def _mistake(**kw: object) -> dict:
    return {"top_prediction": 3, "failure category": "non-prototypical",
            "failure severity": "major", **kw}


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


P = {"prefix": "digits/train"}
MP = {"prefix": "digits/train", "key_format": "{id}"}
KP = {"prefix": "digits/train", "model": "m"}
ONE_HOT = np.eye(10, dtype=np.int64)
