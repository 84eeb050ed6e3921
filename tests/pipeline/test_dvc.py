"""DVC as DVC's docs use it, checked with the real ``dvc`` in a temporary git repository.

* ``dvc.yaml`` code deps cover each stage's real import closure (no DVC run needed).
* ``dvc repro`` builds; a second run reruns only the always-changed ``pull`` and nothing
  downstream; touching one family's module makes only that family's stage out of date.
  (A rerun then rebuilds everything today: ``code_version`` hashes the whole source tree
  into pull's task records, so every output really does change with any code edit.)
* ``dvc metrics diff`` against HEAD, ``dvc plots show`` (HTML written), ``dvc exp run -S``,
  ``dvc params diff``.
* ``.ci/repro-check``: rebuilding deleted outputs without a cache reproduces every output hash
  of the committed lock, and a differing hash fails naming the stage and path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.depgraph import import_closure, stage_entry_files, sync_dvc_yaml

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

needs_dvc = pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is a core dependency")


def _env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(cwd), "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t"}


def _run(cmd: list[str], cwd: Path, *, ok: bool = True) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=_env(cwd), capture_output=True, text=True)
    if (res.returncode == 0) != ok:
        raise AssertionError(
            f"{' '.join(cmd)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
        )
    return res.stdout + res.stderr


# --------------------------------------------------------------------------- deps vs imports
def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _entry_files(cmd: str) -> list[str]:
    return stage_entry_files(REPO, cmd)


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_deps_cover_the_stage_import_closure(stage: str) -> None:
    spec = _stages()[stage]
    closure = import_closure(REPO, _entry_files(spec["cmd"]))
    missing = sorted(f for f in closure if not _covered(f, spec.get("deps", [])))
    assert not missing, (
        f"dvc.yaml stage {stage!r} runs code it does not list as deps, so editing it would "
        f"leave stale outputs that `dvc repro` calls up to date; add to its deps: {missing} "
        "(`python -m pipeline.depgraph --write` rewrites every stage's code deps)"
    )


def test_dvc_yaml_code_deps_are_exactly_the_generated_ones() -> None:
    text = (REPO / "dvc.yaml").read_text()
    assert sync_dvc_yaml(REPO, text) == text, (
        "dvc.yaml code deps differ from the import closures (a module was added, removed or "
        "no longer imported); run `python -m pipeline.depgraph --write` and commit dvc.yaml"
    )


def test_sync_rewrites_a_missing_dep_and_keeps_the_rest(tmp_path: Path) -> None:
    text = (REPO / "dvc.yaml").read_text()
    broken = text.replace("      - corruptions/_fractal.py\n", "", 1)
    assert broken != text
    assert sync_dvc_yaml(REPO, broken) == text


def test_family_stages_do_not_depend_on_other_families() -> None:
    families = {s["cmd"].split("--family")[1].split()[0]: s for s in _stages().values()
                if "--family" in s["cmd"]}
    assert set(families) == {
        "noise", "blur", "weather", "digital", "geometric", "strokes", "depth", "camera", "video"
    }
    for family, spec in families.items():
        closure = import_closure(REPO, _entry_files(spec["cmd"]))
        extra = [d for d in spec["deps"] if d.startswith("corruptions/") and d.endswith(".py")
                 and d not in closure]
        assert not extra, f"corrupt-{family} lists modules it never imports: {extra}"


def test_closure_follows_function_level_and_by_name_imports() -> None:
    weather = import_closure(REPO, ["corruptions/weather.py"])
    # The example: fog's fractal helper, motion blur, frost texture.
    assert {"corruptions/_fractal.py", "corruptions/_motion.py",
            "corruptions/frost_texture.py"} <= weather
    # The manifest loader imports section validators by name ("pipeline.shift:parse_section").
    assert "pipeline/shift.py" in import_closure(REPO, ["pipeline/manifest.py"])
    # ...but the registry's family table is a dispatch point, not an import.
    assert "corruptions/video.py" not in import_closure(REPO, ["corruptions/registry.py"])


# --------------------------------------------------------------------------- a real DVC repo
@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("dvcproj")
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file() and not rel.startswith(("tests/", "benchmarks/")) and rel != "dvc.lock":
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    (dst / "manifests" / "ci_small.yaml").write_text(yaml.safe_dump(SMALL))
    params = yaml.safe_load((dst / "params.yaml").read_text())
    params.update({"manifest": "manifests/ci_small.yaml", "out": "build/ci-small", "seed": 3})
    params["pull"]["shard_size"] = 50
    params["dask"] = {"scheduler": "sync", "workers": 1}  # no process pools: fast and the same
    (dst / "params.yaml").write_text(yaml.safe_dump(params))
    _run(["git", "init", "-q"], dst)
    _run(["git", "add", "-A"], dst)
    _run(["git", "commit", "-qm", "copy"], dst)
    return dst


def _ran(log: str) -> set[str]:
    return {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")}


def _commit(project: Path, message: str) -> None:
    _run(["git", "add", "-A"], project)
    _run(["git", "commit", "-qm", message], project)


@needs_dvc
@pytest.mark.slow
def test_repro_then_noop_then_one_family(project: Path) -> None:
    first = _run(["dvc", "repro"], project)
    assert {"pull", "corrupt-noise", "corrupt-digital", "corrupt-geometric", "publish",
            "validate"} <= _ran(first)
    metrics = json.loads((project / "metrics/validate.json").read_text())
    assert metrics.get("passed", metrics.get("ok")) is True
    assert (project / "build/ci-small/README.md").is_file()
    # metrics/ and plots/ are not gitignored: they are committed beside dvc.lock.
    status = _run(["git", "status", "--porcelain", "--untracked-files=all"], project)
    assert "metrics/validate.json" in status and "dvc.lock" in status, status
    _commit(project, "build")

    second = _run(["dvc", "repro"], project)
    # pull always reruns (it may read local files DVC cannot list); same output, so nothing
    # downstream reruns and the lock does not change.
    assert _ran(second) == {"pull"}, second
    assert _run(["git", "status", "--porcelain"], project) == ""

    # Editing one family's module makes exactly that family's stage (and the always-changed
    # pull) out of date in DVC's eyes: the deps fan out per family.
    noise = project / "corruptions" / "noise.py"
    original = noise.read_text()
    noise.write_text(original + "\n# touched by the DVC test\n")
    status = json.loads(_run(["dvc", "status", "--json"], project))
    assert set(status) == {"pull", "corrupt-noise"}, status
    noise.write_text(original)
    assert set(json.loads(_run(["dvc", "status", "--json"], project))) == {"pull"}


@needs_dvc
@pytest.mark.slow
def test_metrics_plots_experiments_params(project: Path) -> None:
    if not (project / "dvc.lock").is_file():
        _run(["dvc", "repro"], project)
        _commit(project, "build")
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], project))
    validate_metrics = next(iter(shown.values()))["data"]["metrics/validate.json"]["data"]
    assert len(json.dumps(validate_metrics)) < 4000  # a metric, not a findings dump

    difficulty = json.loads((project / "plots/difficulty.json").read_text())
    assert {r["config"] for r in difficulty} == {"gaussian_noise_1", "contrast_2", "rotate_2"}
    assert all(r["rows"] == 120 and 0 < r["mean_abs_diff"] <= 255 for r in difficulty)
    html = project / "plots_html"
    _run(["dvc", "plots", "show", "-o", str(html)], project)
    page = (html / "index.html").read_text()
    # One vega-lite spec embedding the difficulty records, one image for the shift curves.
    assert 'id = "plots_difficulty_json"' in page and '"config": "gaussian_noise_1"' in page
    assert '<img src="static/workspace_plots_shift.png">' in page
    assert (html / "static/workspace_plots_shift.png").stat().st_size > 0

    _run(["dvc", "exp", "run", "-S", "seed=1",
          "-S", "manifest_overrides.set=['sources.0.limit=60']"], project)
    params = json.loads(_run(["dvc", "params", "diff", "--json"], project))
    changed = params["params.yaml"]
    assert (changed["seed"]["old"], changed["seed"]["new"]) == (3, 1)
    assert "sources.0.limit=60" in str(changed["manifest_overrides.set"]["new"])
    written = yaml.safe_load((project / "params.yaml").read_text())
    assert written["manifest_overrides"]["set"] == ["sources.0.limit=60"]
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert "--set sources.0.limit=60 --seed 1" in lock["stages"]["pull"]["cmd"]
    diff = json.loads(_run(["dvc", "metrics", "diff", "--json"], project))
    rows = {k: v for k, v in diff["metrics/validate.json"].items() if "rows" in k}
    # Half the rows everywhere (120 -> 60 per config, whatever totals the metric also keeps).
    assert rows and all(v["old"] == 2 * v["new"] for v in rows.values()), diff
    exps = _run(["dvc", "exp", "show", "--json"], project)
    assert '"seed": 1' in exps.replace("\n", " ") or "seed" in exps
    _run(["git", "checkout", "--", "."], project)
    _run(["dvc", "checkout", "--force"], project)


@needs_dvc
@pytest.mark.slow
def test_repro_check_rebuilds_from_scratch_and_names_a_differing_output(project: Path) -> None:
    if not (project / "dvc.lock").is_file():
        _run(["dvc", "repro"], project)
        _commit(project, "build")
    # A fresh clone has no cache and no outputs; rebuilding every stage is what CI's
    # .ci/run does on the default pipeline. Here: one family, the benchmark, every metric.
    for rel in ("data/corrupted/noise", "build", "metrics", "plots", "reports", ".dvc/cache"):
        shutil.rmtree(project / rel, ignore_errors=True)
    ok = _run([str(project / ".ci/repro-check")], project)
    assert re.search(r"repro-check: OK: \d+ outputs byte-identical", ok), ok

    lock = yaml.safe_load((project / "dvc.lock").read_text())
    noise_out = lock["stages"]["corrupt-noise"]["outs"][0]
    noise_out["md5"] = "0" * 32 + ".dir"
    (project / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    _commit(project, "a lock from a machine that built different noise bytes")
    bad = _run([str(project / ".ci/repro-check")], project, ok=False)
    assert "corrupt-noise: data/corrupted/noise: committed 000" in bad, bad
    assert "1 of " in bad, bad
