"""Trust in a build (issue #11): ownership, containment, atomic publish, content fingerprints,
and what a killed run leaves behind. Each reproduction of the issue is a test here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.corrupt import corrupt
from pipeline.download import file_digest
from pipeline.errors import BenchsmithError
from pipeline.manifest import parse_manifest
from pipeline.publish import publish
from pipeline.pull import pull
from pipeline.stage import MARKER, read_marker

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "name": "tiny",
    "description": "integrity test build",
    "seed": 3,
    "sources": [{"source": "digits", "splits": ["train"], "limit": 90}],
    "corrupt": {"preset": "auto", "suites": [{"corruptions": {"contrast": [1], "rotate": [2]}}]},
}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHSMITH_CACHE", str(tmp_path / "cache"))


def _stages(root: Path, data: dict = TINY, *, shard_size: int = 30) -> None:
    m = parse_manifest(data, path="tiny.yaml")
    pull(m, root / "pulled", scheduler="sync", shard_size=shard_size, progress=False)
    if m.corrupt is not None:
        corrupt(m, root / "pulled", root / "corrupted", scheduler="sync", progress=False)


def _publish(root: Path, out: Path, data: dict = TINY, **kw) -> dict:
    m = parse_manifest(data, path="tiny.yaml")
    inputs = [p for p in (root / "pulled", root / "corrupted") if p.is_dir()]
    return publish(m, inputs, out, **kw)


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("work")
    old = os.environ.get("BENCHSMITH_CACHE")
    os.environ["BENCHSMITH_CACHE"] = str(root / "cache")
    try:
        _stages(root)
    finally:
        if old is None:
            os.environ.pop("BENCHSMITH_CACHE")
        else:
            os.environ["BENCHSMITH_CACHE"] = old
    return root


# --------------------------------------------------------------------------- ownership


def test_build_refuses_a_folder_it_does_not_own(tmp_path: Path, capsys) -> None:
    """#11 repro 1: `mkdir -p X/.git X/thesis; benchsmith build --out X` used to delete both."""
    from pipeline.cli import main

    out = tmp_path / "X"
    (out / ".git").mkdir(parents=True)
    (out / "thesis").mkdir()
    (out / "thesis" / "chapter1.tex").write_text("my thesis")
    code = main(["build", "--manifest", str(REPO / "manifests/digits.yaml"), "--out", str(out),
                 "--work", str(tmp_path / "work"), "--scheduler", "sync", "--no-progress",
                 "--set", "sources.0.limit=40"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(out) in err and "new or empty folder" in err
    assert (out / ".git").is_dir() and (out / "thesis" / "chapter1.tex").read_text() == "my thesis"
    assert not (tmp_path / "work").exists()  # refused before any work


def test_publish_force_replaces_only_benchsmith_files(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    _publish(work, out)
    (out / "NOTES.md").write_text("mine")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "clean" / "extra.txt").write_text("mine too")
    with pytest.raises(BenchsmithError, match=r"benchsmith did not write.*--force"):
        _publish(work, out)
    less = {**TINY, "corrupt": {"preset": "auto", "suites": [{"corruptions": {"contrast": [1]}}]}}
    root2 = tmp_path / "w2"
    _stages(root2, less)
    info = _publish(root2, out, less, force=True)
    assert info["configs"] == ["clean", "contrast_1"]
    assert not (out / "rotate_2").exists()  # benchsmith's stale config went
    assert (out / "NOTES.md").read_text() == "mine"
    assert (out / ".git" / "HEAD").is_file() and (out / "clean" / "extra.txt").is_file()
    meta = json.loads((out / "benchmark.json").read_text())
    assert meta["complete"] is True
    assert set(meta["files"]) == _files(out) - {"benchmark.json", MARKER, "NOTES.md",
                                                ".git/HEAD", "clean/extra.txt"}


def test_publish_over_unmarked_benchmark_needs_force(work: Path, tmp_path: Path) -> None:
    """A folder an older benchsmith published (no marker): only --force, and only its files."""
    out = tmp_path / "legacy"
    _publish(work, out)
    (out / MARKER).unlink()
    (out / "paper.pdf").write_bytes(b"%PDF")
    with pytest.raises(BenchsmithError, match=f"{out}.*no {MARKER} marker"):
        _publish(work, out)
    _publish(work, out, force=True)
    assert (out / "paper.pdf").read_bytes() == b"%PDF"
    assert read_marker(out) is not None and "paper.pdf" not in read_marker(out)


def test_stage_folders_keep_foreign_files_and_drop_stale_owned(tmp_path: Path) -> None:
    root = tmp_path / "w"
    _stages(root)
    corrupted = root / "corrupted"
    (corrupted / "my_config").mkdir()
    (corrupted / "my_config" / "manifest.json").write_text("{}")  # looks like a config
    (corrupted / "rotate_2" / "notes.txt").write_text("keep me")
    less = {**TINY, "corrupt": {"preset": "auto", "suites": [{"corruptions": {"contrast": [1]}}]}}
    _stages(root, less)
    assert (corrupted / "my_config" / "manifest.json").is_file()
    assert (corrupted / "rotate_2" / "notes.txt").read_text() == "keep me"
    assert not list((corrupted / "rotate_2").glob("*.parquet"))
    assert not (corrupted / "rotate_2" / "manifest.json").exists()
    listed = read_marker(corrupted)
    assert listed is not None and not any(f.startswith(("rotate_2/", "my_config/")) for f in listed)
    info = _publish(root, tmp_path / "bench", less)  # the foreign config-shaped folder is skipped
    assert info["configs"] == ["clean", "contrast_1"]
    foreign = tmp_path / "foreign"
    (foreign / "data.csv").parent.mkdir()
    (foreign / "data.csv").write_text("a,b\n")
    with pytest.raises(BenchsmithError, match=f"{foreign} is not empty"):
        pull(parse_manifest(TINY, path="tiny.yaml"), foreign, scheduler="sync", progress=False)
    assert _files(foreign) == {"data.csv"}


@pytest.mark.parametrize("template", ["{parent}/{{corruption}}/..", "../../escaped_{{corruption}}"])
def test_config_name_cannot_escape_the_output(work: Path, tmp_path: Path, template: str) -> None:
    """#11 repro 1: such templates deleted `*.parquet` in another folder or wrote outside."""
    victim = tmp_path / "victim"
    (victim / "contrast").mkdir(parents=True)
    (victim / "precious.parquet").write_bytes(b"not yours")
    data = {**TINY, "corrupt": {"preset": "auto", "suites": [
        {"corruptions": {"contrast": [1]}, "config_name": template.format(parent=victim)}]}}
    out = tmp_path / "a" / "b" / "corrupted"
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(BenchsmithError, match="config_name"):
        m = parse_manifest(data, path="tiny.yaml")  # a manifest check may refuse it first
        corrupt(m, work / "pulled", out, scheduler="sync", progress=False)
    assert (victim / "precious.parquet").read_bytes() == b"not yours"
    new = {p for p in tmp_path.rglob("*")} - before
    assert all(out in p.parents or p == out or p in out.parents for p in new), new


# ------------------------------------------------------------------------------ publish


def test_publish_layout_completion_record_and_links(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    info = _publish(work, out)
    assert info["complete"] is True
    meta = json.loads((out / "benchmark.json").read_text())
    expected = _files(out) - {"benchmark.json", MARKER}
    assert set(meta["files"]) == expected and list(meta["files"]) == sorted(expected)
    assert all(file_digest(out / f, "sha256") == h for f, h in meta["files"].items())
    assert read_marker(out) == expected | {"benchmark.json"}
    shard = next((out / "clean").glob("*.parquet"))
    assert shard.stat().st_ino == (work / "pulled" / "clean" / shard.name).stat().st_ino
    assert not list(tmp_path.glob(".bench.benchsmith-*"))
    ino = (out / "benchmark.json").stat().st_ino
    _publish(work, out)  # a republish swaps a new folder in
    assert (out / "benchmark.json").stat().st_ino != ino
    assert not list(tmp_path.glob(".bench.benchsmith-*"))


def _run_until_blocked(argv: list[str], block: str, tmp_path: Path) -> subprocess.Popen:
    """Start a real ``benchsmith`` subprocess whose rename onto a path containing ``block``
    hangs (leaving its temporary file), wait until it is there, then kill -9 it."""
    flag = tmp_path / "blocked.flag"
    code = (
        "import os, sys, time\n"
        "real = os.replace\n"
        "def replace(a, b, *args, **kw):\n"
        f"    if {block!r} in str(b):\n"
        f"        open({str(flag)!r}, 'w').close()\n"
        "        time.sleep(600)\n"
        "    return real(a, b, *args, **kw)\n"
        "os.replace = replace\n"
        "from pipeline.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not flag.exists():
        if proc.poll() is not None:
            raise AssertionError(f"stage exited early: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("stage never reached the blocked write")
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no cleanup handlers run
    proc.wait()
    return proc


@pytest.mark.slow
def test_killed_pull_leaves_temp_files_the_next_run_removes(tmp_path: Path) -> None:
    """#11 repro 6: kill -9 left `.tasks/*.json.<pid>.tmp` forever (and in DVC outputs)."""
    manifest = tmp_path / "tiny.yaml"
    manifest.write_text(yaml.safe_dump(TINY))
    pulled = tmp_path / "pulled"
    argv = ["pull", "--manifest", str(manifest), "--out", str(pulled), "--shard-size", "30",
            "--scheduler", "sync", "--no-progress"]
    _run_until_blocked(argv, ".tasks/train-00001", tmp_path)
    left = list(pulled.rglob("*.tmp"))
    assert left and all(p.parent.name == ".tasks" for p in left)
    m = parse_manifest(TINY, path="tiny.yaml")
    pull(m, pulled, scheduler="sync", shard_size=30, progress=False)
    assert not list(pulled.rglob("*.tmp"))
    assert not any(f.endswith(".tmp") for f in read_marker(pulled) or ())
    ref = tmp_path / "ref"
    pull(m, ref, scheduler="sync", shard_size=30, progress=False)
    shards = sorted(p.name for p in (ref / "clean").glob("*.parquet"))
    assert sorted(p.name for p in (pulled / "clean").glob("*.parquet")) == shards
    for s in shards:
        assert (pulled / "clean" / s).read_bytes() == (ref / "clean" / s).read_bytes()


@pytest.mark.slow
def test_killed_publish_keeps_the_old_benchmark(work: Path, tmp_path: Path) -> None:
    """A publish killed mid-assembly leaves the old complete folder and a marked temp folder."""
    out = tmp_path / "bench"
    _publish(work, out)
    before = {f: (out / f).read_bytes() for f in _files(out)}
    manifest = tmp_path / "tiny.yaml"
    manifest.write_text(yaml.safe_dump(TINY))
    argv = ["publish", "--manifest", str(manifest), "--inputs", str(work / "pulled"),
            str(work / "corrupted"), "--out", str(out)]
    _run_until_blocked(argv, "README.md", tmp_path)
    temps = list(tmp_path.glob(".bench.benchsmith-tmp-*"))
    assert len(temps) == 1 and read_marker(temps[0]) is not None
    assert not (temps[0] / "benchmark.json").exists()  # visibly incomplete
    assert {f: (out / f).read_bytes() for f in _files(out)} == before
    _publish(work, out)
    assert not list(tmp_path.glob(".bench.benchsmith-*"))
    assert json.loads((out / "benchmark.json").read_text())["complete"] is True


# --------------------------------------------------------------------------- fingerprints


def test_rebuild_notices_changed_local_parquet(work: Path, tmp_path: Path) -> None:
    """#11 repro 3: labels changed in place (same row count) were not republished."""
    src = tmp_path / "src" / "train.parquet"
    src.parent.mkdir()
    shard = next((work / "pulled" / "clean").glob("*.parquet"))
    tables = [pq.read_table(p) for p in sorted((work / "pulled" / "clean").glob("*.parquet"))]
    pq.write_table(pa.concat_tables(tables), src)
    data = {"name": "local", "seed": 0, "sources": [
        {"source": "parquet", "splits": ["train"], "options": {"files": {"train": str(src)}}}]}
    root, out = tmp_path / "w", tmp_path / "bench"
    _stages(root, data, shard_size=1000)
    _publish(root, out, data)
    old = pq.read_table(next((out / "clean").glob("*.parquet")))["label"].to_pylist()
    table = pq.read_table(src)
    flipped = pa.array([(y + 1) % 10 for y in table["label"].to_pylist()], table["label"].type)
    table = table.set_column(table.column_names.index("label"), "label", flipped)
    pq.write_table(table, src)  # same row count, every label changed
    _stages(root, data, shard_size=1000)
    _publish(root, out, data)
    new = pq.read_table(next((out / "clean").glob("*.parquet")))["label"].to_pylist()
    assert new == [(y + 1) % 10 for y in old] and len(new) == 90
    inputs = json.loads((root / "pulled" / "inputs.json").read_text())["clean"]
    assert [i["sha256"] for i in inputs] == [file_digest(src, "sha256")]
    meta = json.loads((out / "clean" / "manifest.json").read_text())
    assert meta["inputs"] == inputs
    assert shard.name  # the bundled-source build is untouched


def test_sources_name_every_local_file_they_read(shared_dir: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from pipeline.sources import make_source

    mnist = shared_dir / "datasets/mnist"
    idx = make_source("mnist", {"path": str(mnist)}).input_files(["test"])
    assert sorted(p.name for p in idx) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    cifar = tmp_path / "cifar" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in ("batches.meta", "test_batch"):
        (cifar / name).write_bytes(b"")
    got = make_source("cifar10", {"path": str(cifar.parent)}).input_files(["test"])
    assert got == [cifar / "batches.meta", cifar / "test_batch"]
    root, depth = tmp_path / "folder", tmp_path / "depth"
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        for d in (root / cls, depth / cls):
            d.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)).save(root / cls / "a.png")
        Image.fromarray(np.full((6, 6), 500, np.uint16)).save(depth / cls / "a.png")
    data = {"name": "folder", "seed": 0, "sources": [{
        "source": "imagefolder", "splits": ["train"],
        "options": {"root": str(root), "depth_root": str(depth)}}]}
    src = make_source("imagefolder", data["sources"][0]["options"])
    assert sorted(src.input_files(["train"])) == sorted(
        [root / "cat/a.png", root / "dog/a.png", depth / "cat/a.png", depth / "dog/a.png"])
    m = parse_manifest(data, path="folder.yaml")
    pull(m, tmp_path / "pulled", scheduler="sync", progress=False)
    shard = next((tmp_path / "pulled" / "clean").glob("*.parquet"))
    before = shard.read_bytes()
    Image.fromarray(np.full((6, 6), 900, np.uint16)).save(depth / "dog" / "a.png")  # in place
    pull(m, tmp_path / "pulled", scheduler="sync", progress=False)
    assert shard.read_bytes() != before  # the changed depth map reran its shard
