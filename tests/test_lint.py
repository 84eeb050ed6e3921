"""Cheap static checks wired into the test suite: ruff everywhere, mypy on the public API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_ruff_clean() -> None:
    res = subprocess.run(["ruff", "check", "--output-format", "concise", "."], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


PUBLIC_API = [
    "corruptions/__init__.py",
    "corruptions/registry.py",
    "corruptions/image.py",
    "corruptions/rng.py",
    "pipeline/schema.py",
    "pipeline/shards.py",
    "pipeline/manifest.py",
]


@pytest.mark.skipif(shutil.which("mypy") is None, reason="mypy comes with the test extra")
def test_mypy_clean_public_api() -> None:
    res = subprocess.run(["mypy", "--ignore-missing-imports", *PUBLIC_API], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
