"""Tamper suite: every way a published benchmark can be broken or forged is caught by validate.

One real build (the shipped ``manifests/digits.yaml``, 200 rows in shards of 100, with
``fog_2``, ``snow_3`` and ``gaussian_noise_2``) is made once through the real CLI, then
copied per case. Each case edits the copy the way a crash, a careless hand or an
adversary would, often *resealing* it afterwards (sha256 in ``manifest.json`` and the
``benchmark.json`` files map updated to the forged bytes), and names the finding it
must produce: check, config, file and, for row-level tampering, the row. A case passes
only when validate fails *and* reports that exact location.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tamper_cases import CASES, S0, S1, t_card_fog_points_at_snow, t_label_derived
from tamper_helpers import Want, caught, complete, edit_card, reseal, rewrite, set_cells

from pipeline.cli import main as cli
from pipeline.shards import encode_png
from pipeline.validate import validate

REPO = Path(__file__).resolve().parents[2]
CORRUPT = "{preset: auto, suites: [{corruptions: {fog: [2], snow: [3], gaussian_noise: [2]}}]}"


# --- the build -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    """The digits build through `benchsmith build`, completion record added per the contract."""
    d = tmp_path_factory.mktemp("tamper")
    rc = cli(["build", "--manifest", str(REPO / "manifests/digits.yaml"),
              "--set", "sources.0.limit=200", "--set", f"corrupt={CORRUPT}",
              "--out", str(d / "out"), "--work", str(d / "work"), "--shard-size", "100",
              "--scheduler", "sync", "--no-progress"])
    assert rc in (0, 1)  # 1 until publish writes the completion record itself
    complete(d / "out")
    report = validate(d / "out", recompute=1.0, scheduler="sync")
    assert report.ok, report.text()
    assert report.recompute["rows"] == 600
    return d / "out"



@pytest.mark.parametrize(("tamper", "wanted", "fraction"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_tampering_is_caught_where_it_happened(pristine: Path, tmp_path: Path, tamper,
                                               wanted: list[Want], fraction: float) -> None:
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    tamper(root)
    caught(validate(root, scheduler="sync", recompute=fraction), wanted)


def test_suite_is_big_and_covers_every_check() -> None:
    from pipeline.validate_report import CHECKS

    assert len(CASES) >= 50
    assert len({c[0] for c in CASES}) == len(CASES)
    assert {w.check for c in CASES for w in c[2]} == set(CHECKS) - {"image-size"}


def test_fog_rows_served_as_snow_cannot_pass(pristine: Path, tmp_path: Path) -> None:
    """The reproduction: the card points fog_2 at snow_3, load_dataset obeys, validate fails."""
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    t_card_fog_points_at_snow(root)
    code = (
        "import datasets, sys\n"
        f"ds = datasets.load_dataset({str(root)!r}, 'fog_2', split='train')\n"
        "print(sorted(set(ds['corruption'])))\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf")}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip().splitlines()[-1] == "['snow']"  # the forgery works on loading...
    report = validate(root, scheduler="sync")
    assert [str(p) for p in report.problems if p.config == "fog_2"] and not report.ok  # ...not here


def test_cli_exit_codes_and_outputs(pristine: Path, tmp_path: Path, capsys) -> None:
    assert cli(["validate", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli(["validate", str(pristine), "--recompute", "1.5"])
    assert exc.value.code == 2
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    t_label_derived(root)
    files = [tmp_path / n for n in ("m.json", "r.json", "j.xml")]
    assert cli(["validate", str(root), "--no-progress", "--json", str(files[0]),
                "--report", str(files[1]), "--junit", str(files[2])]) == 1
    metrics = json.loads(files[0].read_text())
    configs = json.loads((pristine / "benchmark.json").read_text())["configs"]
    assert len(configs) == 5 and "audit" in configs  # clean, 3 corruptions, the digits audit
    assert metrics["passed"] is False and metrics["configs"] == 5 and metrics["rows"] == 1000
    assert metrics["by_check"]["labels"] == metrics["problems"] == 1

    def strings(x: object) -> list[str]:
        if isinstance(x, dict):
            return [s for v in x.values() for s in strings(v)]
        return [x] if isinstance(x, str) else []

    assert strings(metrics) == []  # counts only
    findings = json.loads(files[1].read_text())
    assert findings == [{"check": "labels", "config": "fog_2", "shard": S1, "row": 3,
                         "message": findings[0]["message"]}]
    assert 'failures="1"' in files[2].read_text() and "fog_2" in files[2].read_text()
    assert cli(["validate", str(pristine), "--no-progress", "--json", str(files[0])]) == 0
    assert json.loads(files[0].read_text())["passed"] is True


def test_image_size_is_checked(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    big = np.zeros((9, 8), np.uint8)
    rewrite(root / "clean" / S0, lambda t: set_cells(t, "image", {1: {"bytes": encode_png(big),
                                                                       "path": None}}))
    reseal(root)
    probs = [str(p) for p in validate(root, scheduler="sync").problems]
    assert f"[image-size] clean/{S0} row 1: image is L 8x9, declared ['L 8x8']" in probs



# --- malformed values anywhere: a finding, never a traceback --------------------------------


def _paths(obj: object, depth: int) -> list[tuple]:
    """Key paths into ``obj`` (dict keys, first list item) up to ``depth`` levels."""
    out: list[tuple] = []
    if depth == 0:
        return out
    items = obj.items() if isinstance(obj, dict) else [(0, obj[0])] if isinstance(
        obj, list) and obj else []
    for k, v in items:
        out.append((k,))
        out += [(k, *rest) for rest in _paths(v, depth - 1)]
    return out


def _put(obj: dict, path: tuple, value: object) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def test_malformed_values_are_findings_never_tracebacks(pristine: Path, tmp_path: Path) -> None:
    """Every key of fog_2's manifest.json (down to shard records), benchmark.json and the card
    header, replaced by null / a string / a list / a mapping: validate reports, never raises."""
    targets = {
        "fog_2/manifest.json": (json.loads, json.dumps, 1),
        "benchmark.json": (json.loads, json.dumps, 1),
    }
    root = tmp_path / "b"
    cases = 0
    for rel, (load, dump, depth) in targets.items():
        base = load((pristine / rel).read_text())
        paths = _paths(base, depth)
        if rel.endswith("manifest.json"):
            paths += [("splits", "train", k) for k in ("num_rows", "shards")]
            paths += [("splits", "train", "shards", 0, k) for k in ("file", "num_rows", "sha256")]
            paths += [("features", "label", "names"), ("features", "image")]
        for path in paths:
            for value in (None, "x", [], {}):
                shutil.rmtree(root, ignore_errors=True)
                shutil.copytree(pristine, root)
                obj = load((pristine / rel).read_text())
                _put(obj, path, value)
                (root / rel).write_text(dump(obj))
                report = validate(root, scheduler="sync", recompute=0.05)
                harmless = (rel, path, value) == ("benchmark.json", ("code_version",), "x")
                assert report.ok is harmless, (rel, path, value, report.text())
                cases += 1
    header_keys = ["configs", "dataset_info", "license", "pretty_name"]
    for key in header_keys:
        for value in (None, "x", [], {}, [None], [{"config_name": 1}],
                      [{"config_name": "fog_2", "data_files": [{"split": "train", "path": ""}],
                        "features": "x", "splits": "y"}]):
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(pristine, root)
            edit_card(root, lambda h, k=key, v=value: h.__setitem__(k, v))
            report = validate(root, scheduler="sync")
            assert not report.ok, (key, value)
            cases += 1
    assert cases > 150

