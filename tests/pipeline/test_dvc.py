"""A real ``dvc repro`` in a temporary git repository holding a copy of this project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SMALL = {
    "name": "ci-small",
    "description": "A small build for the DVC test.",
    "seed": 3,
    "sources": [{"source": "digits", "splits": ["train"], "limit": 120}],
    "corrupt": {
        "preset": "auto",
        "suites": [{"corruptions": {"gaussian_noise": [1], "contrast": [2], "rotate": [2]}}],
    },
}

pytestmark = pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is a core dependency")


def _run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(cwd), "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        )
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("dvcproj")
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file() and not rel.startswith(("tests/", "benchmarks/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    (dst / "manifests" / "ci_small.yaml").write_text(yaml.safe_dump(SMALL))
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params.update({"manifest": "manifests/ci_small.yaml", "out": "build/ci-small", "seed": 3})
    params["pull"]["shard_size"] = 50
    (dst / "params.yaml").write_text(yaml.safe_dump(params))
    _run(["git", "init", "-q"], dst)
    _run(["git", "add", "-A"], dst)
    _run(["git", "commit", "-qm", "copy"], dst)
    return dst


def _ran(log: str) -> set[str]:
    return {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")}


def test_repro_builds_then_is_a_noop_then_reruns_one_family(project: Path) -> None:
    first = _run(["dvc", "repro"], project)
    assert {
        "pull",
        "corrupt@noise",
        "corrupt@digital",
        "corrupt@geometric",
        "publish",
        "validate",
    } <= _ran(first)
    metrics = json.loads((project / "reports/validate.json").read_text())
    assert metrics["passed"] and metrics["configs"] == 4  # clean + 3 corruptions (counts only)
    assert (project / "build/ci-small/README.md").is_file()

    second = _run(["dvc", "repro"], project)
    assert _ran(second) == set(), second

    noise = project / "corruptions" / "noise.py"
    noise.write_text(noise.read_text() + "\n# touched by the DVC test\n")
    third = _run(["dvc", "repro"], project)
    assert _ran(third) == {"corrupt@noise", "publish", "validate"}, third
