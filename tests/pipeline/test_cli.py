"""The command line explains itself: --version, `list`, the manifest reference, build's summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from corruptions import PRESETS, get_registry
from pipeline import __version__
from pipeline.build import quarantined_rows
from pipeline.cli import main
from pipeline.listing import WHAT, manifest_reference
from pipeline.manifest import CORRUPT_KEYS, SOURCE_KEYS, TOP_KEYS
from pipeline.sources import SOURCES
from pipeline.version import code_version

REPO = Path(__file__).resolve().parents[2]


def _out(capsys, argv: list[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().out


def test_version(capsys) -> None:
    status, out = _out(capsys, ["--version"])
    assert status == 0
    assert out.strip() == f"benchsmith {__version__} (code {code_version()})"


def test_usage_lists_every_command(capsys) -> None:
    status, out = _out(capsys, ["--help"])
    assert status == 0 and "list" in out and "--version" in out


def _first_column(out: str) -> list[str]:
    return [line.split("|")[1].strip() for line in out.splitlines()[2:] if line.startswith("|")]


def test_list_corruptions_is_the_registry(capsys) -> None:
    status, out = _out(capsys, ["list", "corruptions"])
    assert status == 0
    assert _first_column(out) == list(get_registry())


def test_list_suites_presets_sources(capsys) -> None:
    assert _first_column(_out(capsys, ["list", "suites"])[1]) == get_registry().suites()
    presets = _out(capsys, ["list", "presets"])[1]
    assert _first_column(presets) == list(PRESETS)
    assert f"| imagenet224 | {PRESETS['imagenet224']} |" in presets
    assert _first_column(_out(capsys, ["list", "sources"])[1]) == list(SOURCES)


def test_list_manifests_names_every_shipped_manifest(capsys) -> None:
    rows = _first_column(_out(capsys, ["list", "manifests"])[1])
    assert rows == [f"manifests/{p.name}" for p in sorted((REPO / "manifests").glob("*.yaml"))]


def test_list_unknown_is_an_argparse_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["list", "everything"])
    assert exc.value.code == 2
    assert "manifest-keys" in capsys.readouterr().err


def test_manifest_reference_doc_is_generated_from_the_schema() -> None:
    text = manifest_reference()
    for table in (TOP_KEYS, SOURCE_KEYS, CORRUPT_KEYS):
        for key in table:
            assert f"| `{key}` |" in text, key
    for source in SOURCES:
        assert f"**`{source}`**" in text
    doc = REPO / "docs" / "manifest.md"
    assert doc.read_text() == text, (
        "docs/manifest.md is out of date with the manifest key tables; regenerate it with "
        "`benchsmith list manifest-keys > docs/manifest.md`"
    )
    assert set(WHAT) >= {"corruptions", "suites", "presets", "sources", "manifests"}


def test_build_says_which_stages_it_skipped_and_why(tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "cli-small", "description": "build summary test", "seed": 1,
        "sources": [{"source": "digits", "splits": ["train"], "limit": 40}],
        "corrupt": {"preset": "auto", "suites": [{"corruptions": {"contrast": [1]}}]},
    }))
    status, out = _out(capsys, [
        "build", "--manifest", str(manifest), "--out", str(tmp_path / "out"),
        "--work", str(tmp_path / "work"), "--scheduler", "sync", "--no-progress",
    ])
    assert status == 0, out
    for stage in ("audit", "shift", "reannotate", "slices"):
        assert f"SKIPPED {stage}: the manifest has no `{stage}:` section" in out
    assert "summary: ran 4 stages (pull, corrupt, publish, validate); skipped 4" in out
    assert "quarantined 0 rows" in out
    assert "benchsmith build: [1/8] pull" in out and "benchsmith build: [8/8] validate" in out
    assert out.rstrip().endswith(f"build PASSED: {tmp_path / 'out'}")


def test_quarantined_rows_counts_config_manifests(tmp_path: Path) -> None:
    for config, count in (("clean", 3), ("fog_1", 0), ("snow_2", 2)):
        (tmp_path / config).mkdir()
        (tmp_path / config / "manifest.json").write_text(json.dumps(
            {"rejects": {"count": count, "reasons": {"undecodable image": count}}}
        ))
    assert quarantined_rows(tmp_path) == {"clean": 3, "snow_2": 2}


def test_push_dry_run_lists_exactly_the_benchmark_files(tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "push-small", "description": "push test", "seed": 2,
        "sources": [{"source": "digits", "splits": ["train"], "limit": 30}],
        "corrupt": {"preset": "auto", "suites": [{"corruptions": {"contrast": [1]}}]},
    }))
    out = tmp_path / "out"
    assert main(["build", "--manifest", str(manifest), "--out", str(out), "--work",
                 str(tmp_path / "work"), "--scheduler", "sync", "--no-progress"]) == 0
    capsys.readouterr()
    status, text = _out(capsys, ["push", str(out), "--repo-id", "someone/push-small",
                                 "--dry-run"])
    assert status == 0
    listed = text.splitlines()[:-1]
    expected = sorted(
        ["README.md", "benchmark.json", "contact_sheet.png"]
        + [p.relative_to(out).as_posix() for p in out.glob("*/*")
           if p.suffix in (".parquet", ".json")]
    )
    assert listed == expected
    assert text.splitlines()[-1].startswith(f"dry run: would commit {len(expected)} files")

    # A file of the user's own in the folder is never uploaded: either validate refuses the
    # folder (it is not what publish wrote) or push leaves the file out.
    (out / "notes.txt").write_text("mine, not the benchmark's")
    status = main(["push", str(out), "--repo-id", "someone/push-small", "--dry-run"])
    captured = capsys.readouterr()
    if status == 0:
        assert "notes.txt" not in captured.out
    else:
        assert status == 2 and "notes.txt" in captured.err


def test_push_refuses_what_is_not_a_benchmark(tmp_path: Path, capsys) -> None:
    assert main(["push", str(tmp_path), "--repo-id", "someone/x", "--dry-run"]) == 2
    assert "no benchmark.json" in capsys.readouterr().err
    assert main(["push", str(tmp_path), "--repo-id", "not-a-repo-id", "--dry-run"]) == 2
