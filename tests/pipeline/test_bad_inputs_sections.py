"""Bad values inside manifest sections, ``--set`` overrides, env vars and local sources.

The second sweep of ``benchmarks/results/bad_inputs_more.md``: every case runs the real
CLI entry point (:func:`pipeline.cli.main`, in-process) of the stage that reads the input
on a tiny real build (40 sklearn digits, pulled once here) and asserts exit status 2 with
a message that names the key or file at fault (``match``), never a traceback and never a
silent success. Each case was a traceback or a silent coercion before its fix.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main as cli

ROWS = 40
BASE = {"name": "sections", "description": "digits", "seed": 0,
        "sources": [{"source": "digits", "splits": ["train"], "limit": ROWS}]}
SYNC = ["--no-progress", "--scheduler", "sync"]


def run(argv: list[object]) -> tuple[int, str]:
    """Run the CLI in-process; return (exit status, stderr + stdout)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            rc = exc.code
    return int(rc or 0), err.getvalue() + out.getvalue()


def refused(argv: list[object], match: str) -> str:
    """Assert the command exits 2 with a message matching ``match``; return the message."""
    rc, text = run(argv)
    assert rc == 2, f"exit {rc}, expected 2:\n{text[-2000:]}"
    assert "Traceback" not in text, text
    assert re.search(match, text), f"{match!r} not in:\n{text[-2000:]}"
    return text


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
