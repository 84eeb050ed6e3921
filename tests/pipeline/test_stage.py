"""The shared stage runner: CLI validation, planning, ownership, containment, input hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import stage
from pipeline.errors import BenchsmithError
from pipeline.stage import (
    MARKER,
    contained,
    input_hashes,
    plan_shards,
    prepare_output,
    read_marker,
    write_marker,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "0"], "--workers: expected an integer >= 1, got 0"),
        (["--workers", "two"], "--workers: expected an integer >= 1, got 'two'"),
        (["--scheduler", "bogus"], "--scheduler: 'bogus' is not a scheduler"),
        (["--scheduler", "tcp://host"], "tcp://host:port"),
        (["--shard-size", "0"], "--shard-size: expected an integer >= 1, got 0"),
        (["--shard-size", "-5"], "--shard-size: expected an integer >= 1, got -5"),
    ],
)
def test_bad_stage_flags_exit_2_with_a_message(flags, message, tmp_path: Path, capsys) -> None:
    from pipeline.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["pull", "--manifest", str(REPO / "manifests/digits.yaml"),
              "--out", str(tmp_path / "o"), *flags])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bad_flag_through_the_console_script_has_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "build", "--manifest",
         str(REPO / "manifests/digits.yaml"), "--out", str(tmp_path / "o"), "--workers", "-1"],
        env=env, capture_output=True, text=True,
    )
    assert res.returncode == 2
    assert "--workers: expected an integer >= 1, got -1" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("value", ["sync", "threads", "processes", "local", "tcp://10.1.2.3:8786",
                                   "tls://sched.example.org:8786"])
def test_scheduler_values_accepted(value: str) -> None:
    assert stage.scheduler_arg(value) == value


def test_plan_shards_covers_rows_exactly_once() -> None:
    for n, size in [(0, 3), (1, 1), (7, 3), (9, 3), (2000, 2000), (2001, 2000)]:
        plan = plan_shards("train", n, size)
        assert [p.index for p in plan] == list(range(len(plan)))
        assert {p.count for p in plan} == {len(plan)}
        rows = [i for p in plan for i in range(p.start, p.stop)]
        assert rows == list(range(n))
        assert all(p.stop - p.start <= size for p in plan)
    assert plan_shards("test", 0, 5)[0].name == "test-00000-of-00001.parquet"
    with pytest.raises(ValueError, match="shard_size must be >= 1"):
        plan_shards("test", 3, 0)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/abs", "../up", "x/../..", "a\\b"])
def test_contained_refuses_names_that_leave_the_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(BenchsmithError, match="corrupt.suites\\[0\\].config_name"):
        contained(tmp_path, name, key="corrupt.suites[0].config_name")


def test_contained_refuses_a_symlink_out(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    with pytest.raises(BenchsmithError, match="key"):
        contained(tmp_path / "out", "link", key="key")
    assert contained(tmp_path / "out", "fog_3", key="key") == tmp_path / "out" / "fog_3"


def test_prepare_output_owns_only_what_it_listed(tmp_path: Path) -> None:
    root = tmp_path / "stage"
    a, b = root / "cfg" / "a.parquet", root / "old" / "b.parquet"
    assert prepare_output(root, [a, b]) == {"cfg/a.parquet", "old/b.parquet"}
    for p in (a, b):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (root / "old" / "user.txt").write_text("keep")
    (root / "gone").mkdir()
    (root / "gone" / "c.parquet").write_text("benchsmith's, removed below")
    write_marker(root, [*read_marker(root), "gone/c.parquet"])
    # a killed writer's temp (dead pid) goes; a running process's stays
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / "cfg" / f".a.parquet.{dead.pid}.tmp").write_bytes(b"partial")
    (root / "cfg" / f".a.parquet.{os.getppid()}.tmp").write_bytes(b"a live writer's")
    listed = prepare_output(root, [a])
    assert listed == {"cfg/a.parquet"} and read_marker(root) == listed
    assert a.is_file() and not b.exists() and (root / "old" / "user.txt").is_file()
    assert not (root / "gone").exists()  # emptied benchsmith folders go too
    assert not (root / "cfg" / f".a.parquet.{dead.pid}.tmp").exists()
    assert (root / "cfg" / f".a.parquet.{os.getppid()}.tmp").exists()
    with pytest.raises(BenchsmithError, match="did not write.*old/user.txt"):
        prepare_output(root, [a, root / "old" / "user.txt"])
    with pytest.raises(BenchsmithError, match="outside"):
        prepare_output(root, [tmp_path / "elsewhere.parquet"])


def test_prepare_output_refuses_unmarked_folders(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "results.csv").write_text("1\n")
    with pytest.raises(BenchsmithError, match=f"{tmp_path / 'data'} is not empty.*{MARKER}"):
        prepare_output(tmp_path / "data", [tmp_path / "data" / "x.parquet"])
    assert sorted(os.listdir(tmp_path / "data")) == ["results.csv"]
    (tmp_path / "empty").mkdir()
    prepare_output(tmp_path / "empty", [])
    assert read_marker(tmp_path / "empty") == set()


def test_input_hashes_are_cached_and_see_in_place_edits(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BENCHSMITH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    calls = []
    real = stage.file_digest
    monkeypatch.setattr(stage, "file_digest", lambda p, a: calls.append(p) or real(p, a))
    f = tmp_path / "data" / "x.bin"
    f.parent.mkdir()
    f.write_bytes(b"abcd")
    first = input_hashes([f])
    assert first == [{"path": "data/x.bin", "bytes": 4, "sha256": real(f, "sha256")}]
    assert input_hashes([f]) == first and len(calls) == 1  # second call: cached
    st = f.stat()
    f.write_bytes(b"abce")  # same size, content changed...
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # ...and the mtime put back
    assert input_hashes([f])[0]["sha256"] == real(f, "sha256") != first[0]["sha256"]
    assert (tmp_path / "cache" / "input-hashes.json").is_file()


def test_link_or_copy_falls_back_to_a_copy(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "a.parquet"
    src.write_bytes(b"shard bytes")
    stage.link_or_copy(src, tmp_path / "linked" / "a.parquet")
    assert (tmp_path / "linked" / "a.parquet").stat().st_ino == src.stat().st_ino

    def cross_device(a, b):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(stage.os, "link", cross_device)
    stage.link_or_copy(src, tmp_path / "copied" / "a.parquet")
    copied = tmp_path / "copied" / "a.parquet"
    assert copied.read_bytes() == b"shard bytes" and copied.stat().st_ino != src.stat().st_ino


def test_skip_stage_drops_configs_an_earlier_run_wrote(tmp_path: Path, capsys) -> None:
    out = tmp_path / "slices"
    old = out / "major" / "test-00000-of-00001.parquet"
    prepare_output(out, [old, out / "major" / "manifest.json"])
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old slice")
    (out / "major" / "manifest.json").write_text("{}")
    (out / "README.txt").write_text("the user's")
    assert stage.skip_stage(out, "slices", "m.yaml") == 0
    assert "m.yaml has no `slices:` section" in capsys.readouterr().out
    assert not (out / "major").exists() and (out / "README.txt").is_file()
    assert read_marker(out) == {"stage.json"}


def test_an_edited_marker_cannot_reach_outside(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.parquet").write_text("precious too")
    root = tmp_path / "stage"
    prepare_output(root, [])
    (root / "link").symlink_to(elsewhere)
    files = ["../victim.txt", str(victim), "link/x.parquet"]
    (root / MARKER).write_text(json.dumps({"tool": "benchsmith", "files": files}))
    assert read_marker(root) == {"link/x.parquet"}
    prepare_output(root, [])
    assert victim.read_text() == "precious"
    assert (elsewhere / "x.parquet").read_text() == "precious too"


@pytest.mark.parametrize("scheduler", ["processes", "threads"])
def test_run_tasks_hands_out_one_task_at_a_time(scheduler: str, monkeypatch) -> None:
    """dask's process pool batches ``chunksize`` (default 6) ready tasks into one worker: 4
    shards or 5 folds would run serially in one process. run_tasks must submit them singly."""
    import dask

    from pipeline import parallel

    seen = []
    before = dask.config.get("chunksize", None)

    def fake_compute(*tasks, **kwargs):
        seen.append((dask.config.get("chunksize", None), kwargs["num_workers"]))
        return tuple(t.compute(scheduler="sync") for t in tasks)

    monkeypatch.setattr(parallel.dask, "compute", fake_compute)
    out = parallel.run_tasks(pow, [(2, k) for k in range(5)], scheduler=scheduler, workers=2,
                             progress=False)
    assert out == [1, 2, 4, 8, 16]
    assert seen == [(1, 2)]
    assert dask.config.get("chunksize", None) == before  # the setting is scoped to the call


def _started(i: int) -> tuple[int, float]:
    """Return ``i`` and when this call started (CLOCK_MONOTONIC is shared by processes)."""
    import time

    t = time.monotonic()
    time.sleep(0.01)
    return i, t


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes", "local"])
def test_run_tasks_starts_costly_tasks_first(scheduler: str) -> None:
    """With ``cost``, one worker starts the tasks in decreasing cost (ties in input order) and
    the results still come back in input order; without it, in input order. Fails if dask's
    start order for the named keys (or the distributed priority) stops following the rank."""
    from pipeline import parallel

    cost = [3.0, 9.0, 1.0, 9.0, 5.0, 0.5, 7.0]
    out = parallel.run_tasks(_started, [(i,) for i in range(7)], scheduler=scheduler,
                             workers=1, progress=False, cost=cost)
    assert [i for i, _ in out] == list(range(7))
    assert [i for i, _ in sorted(out, key=lambda r: r[1])] == [1, 3, 6, 4, 0, 2, 5]
    if scheduler != "local":  # one LocalCluster start is enough for the distributed path
        plain = parallel.run_tasks(_started, [(i,) for i in range(7)], scheduler=scheduler,
                                   workers=1, progress=False)
        assert [i for i, _ in sorted(plain, key=lambda r: r[1])] == list(range(7))
    with pytest.raises(ValueError, match="cost has 2 entries for 7 tasks"):
        parallel.run_tasks(_started, [(i,) for i in range(7)], scheduler=scheduler,
                           workers=1, progress=False, cost=[1.0, 2.0])
