"""Property-based fuzzing of the front door: mutated real files and generated manifests.

Every example runs ``benchsmith pull`` through :func:`pipeline.cli.main` in-process
(a few through a real subprocess) and asserts the contract of issue #14:

* the exit status is 0 or 2, never a traceback;
* on success every input row is either in a shard or counted in the rejects table
  with a non-empty reason;
* nothing outside the output folder (and the download cache) is created or changed.

Seeds are real bytes: CIFAR-10 JPEGs and a PNG of a real image, a Parquet file in
the Hugging Face layout, the official CIFAR meta file, a CIFAR batch and the MNIST
IDX labels from ``shared/datasets``, and the shipped manifests. The CI variants run
a bounded, derandomized number of examples (12 per property); the ``slow`` variants
run 60 fresh random ones each (``BENCHSMITH_FUZZ_EXAMPLES=1000`` for a deep local run).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from bad_inputs import (
    argv_for,
    cifar_batch,
    manifest,
    offline,
    png,
    real_jpegs,
    real_meta,
    real_pixels,
    shared,
    write_parquet,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main

REPO = Path(__file__).resolve().parents[2]
FAST = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
#: The slow variant: 60 random examples per property, or ``$BENCHSMITH_FUZZ_EXAMPLES``.
DEEP = settings(max_examples=int(os.environ.get("BENCHSMITH_FUZZ_EXAMPLES", "60")), deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------- mutations of real bytes
@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few byte flips, a truncation, an insertion or a splice."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "zero"]))
        n = len(data)
        if n == 0:
            break
        i = draw(st.integers(0, n - 1))
        if kind == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "splice":
            j = draw(st.integers(i, min(n, i + 64)))
            data[i:j] = data[j : j + (j - i)][::-1]
        else:
            data[i : i + draw(st.integers(1, 32))] = b"\x00" * len(data[i : i + 32])
    return bytes(data)


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink():
                out[str(p.relative_to(root))] = "link:" + os.readlink(p)
            else:
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_pull(tmp: Path, argv: list[str], rows_in: int | None) -> int:
    """Run the CLI in ``tmp``; check exit status, row accounting and untouched inputs."""
    before = _snapshot(tmp)
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp)  # a stray relative write would land here and be seen
    try:
        with offline(tmp), contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(cwd)
    assert rc in (0, 2), f"exit {rc}: {err.getvalue()}"
    if rc == 2:
        assert err.getvalue().strip() and "Traceback" not in err.getvalue()
    after = _snapshot(tmp)
    changed = {k for k in before if after.get(k) != before[k]}
    created = set(after) - set(before)
    assert not changed, f"inputs changed: {sorted(changed)}"
    stray = {k for k in created if not k.startswith(("out/", "cache/"))}
    assert not stray, f"files written outside the output folder: {sorted(stray)}"
    if rc == 0 and rows_in is not None:
        for m in (tmp / "out").glob("*/manifest.json"):
            meta = json.loads(m.read_text())
            kept = sum(pq.read_metadata(p).num_rows for p in m.parent.glob("*.parquet"))
            rejects = meta["rejects"]["rows"]
            assert all(isinstance(r["reason"], str) and r["reason"] for r in rejects)
            assert kept + len(rejects) == rows_in, (kept, rejects)
    return rc


def _image_seeds() -> list[bytes]:
    return [real_jpegs()[0], png(real_pixels()[0][1]), png(real_pixels()[0][2][..., 0])]


# ---------------------------------------------------------------- properties
def _image_in_parquet(data: Any) -> None:
    seed = data.draw(st.sampled_from(_image_seeds()))
    bad = data.draw(mutated(seed))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        imgs = [{"bytes": real_jpegs()[1], "path": None}, {"bytes": bad, "path": None}]
        p = write_parquet(tmp / "in" / "x.parquet", imgs, [1, 2])
        run_pull(tmp, argv_for(tmp, manifest("parquet", {"files": {"test": str(p)}})), 2)


def _image_in_folder(data: Any) -> None:
    seed = data.draw(st.sampled_from(_image_seeds()))
    bad = data.draw(mutated(seed))
    name = data.draw(st.sampled_from(["cat/x.png", "cat/x.jpg", "dog/x", "x.png", "dog/x.heic"]))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        root = tmp / "in"
        for rel, payload in {"cat/good.png": png(real_pixels()[0][0]), name: bad}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(payload)
        argv = argv_for(tmp, manifest("imagefolder", {"root": str(root)}, ["train"]))
        run_pull(tmp, argv, 2)


def _parquet_file(data: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        good = write_parquet(tmp / "seed.parquet").read_bytes()
        (tmp / "seed.parquet").unlink()
        p = tmp / "in" / "x.parquet"
        p.parent.mkdir()
        p.write_bytes(data.draw(mutated(good)))
        run_pull(tmp, argv_for(tmp, manifest("parquet", {"files": {"test": str(p)}})), None)


def _cifar_files(data: Any) -> None:
    which = data.draw(st.sampled_from(["test_batch", "batches.meta"]))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        root = tmp / "in" / "cifar-10-batches-py"
        root.mkdir(parents=True)
        files = {"test_batch": cifar_batch(), "batches.meta": real_meta()}
        files[which] = data.draw(mutated(files[which]))
        for name, payload in files.items():
            (root / name).write_bytes(payload)
        run_pull(tmp, argv_for(tmp, manifest("cifar10", {"path": str(root.parent)})), None)


def _idx_bytes(data: Any) -> None:
    from pipeline.errors import SourceError
    from pipeline.sources.idx import read_idx

    raw = (shared() / "datasets/mnist/t10k-labels-idx1-ubyte.gz").read_bytes()
    gz = data.draw(st.booleans())
    seed = raw if gz else gzip.decompress(raw)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ("x-idx1-ubyte.gz" if gz else "x-idx1-ubyte")
        p.write_bytes(data.draw(mutated(seed)))
        with contextlib.suppress(SourceError):
            arr = read_idx(p)
            assert arr.dtype.name == "uint8"


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 4), st.integers(2**31, 2**80),
    st.floats(allow_nan=True), st.text(max_size=12), st.sampled_from(["no", "yes", "1e23", ""]),
    st.lists(st.one_of(st.text(max_size=4), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def manifests(draw: st.DrawFn) -> dict:
    """Manifests near the valid ones: every key present is sometimes of the wrong type."""
    src = draw(st.sampled_from(["mnist5k", "digits", "cifar10", "mnist", "imagefolder",
                                "parquet", "nope"]))
    maybe = lambda good: draw(st.one_of(st.just(good), _VALUES))  # noqa: E731
    source: dict[str, Any] = {"source": src, "splits": maybe(["train"]),
                              "limit": draw(st.one_of(st.integers(-1, 3), _VALUES))}
    if draw(st.booleans()):
        keys = st.sampled_from(["path", "download", "root", "files", "names", "max_pixels",
                                "follow_symlinks_outside", "label_column", "pth"])
        source["options"] = draw(st.one_of(st.dictionaries(keys, _VALUES, max_size=3), _VALUES))
    out: dict[str, Any] = {"name": maybe("fz"), "sources": [source]}
    for key, good in (("seed", 0), ("description", "d")):
        if draw(st.booleans()):
            out[key] = maybe(good)
    if draw(st.booleans()):
        name = draw(st.sampled_from(["{corruption}_{severity}", "../{corruption}",
                                     "{corruption}/x", "{severity}", "{corruption}.{severity}",
                                     "{x}", "{corruption"]))
        out["corrupt"] = {"suites": [{"corruptions": {"fog": maybe([1])}, "config_name": name}]}
    return out


def _generated_manifest(data: Any) -> None:
    m = data.draw(manifests())
    sets = data.draw(st.lists(st.sampled_from(
        ["sources.0.limit=2", "sources.3.limit=2", "seed=1e23", "sources.0.splits=test",
         "description=&a x", "name.x=1", "sources.-1.limit=1"]), max_size=2))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        argv = argv_for(tmp, m)
        for s in sets:
            argv += ["--set", s]
        run_pull(tmp, argv, None)


def _manifest_text(data: Any) -> None:
    """Mutated shipped manifests: valid or refused with a ManifestError, nothing else."""
    from pipeline.errors import BenchsmithError
    from pipeline.manifest import load_manifest

    path = data.draw(st.sampled_from(sorted((REPO / "manifests").glob("*.yaml"))))
    text = data.draw(mutated(path.read_bytes()))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.yaml"
        p.write_bytes(text)
        with contextlib.suppress(BenchsmithError):
            load_manifest(p)


PROPERTIES: dict[str, Callable[[Any], None]] = {
    "image-in-parquet": _image_in_parquet,
    "image-in-folder": _image_in_folder,
    "parquet-file": _parquet_file,
    "cifar-files": _cifar_files,
    "idx-bytes": _idx_bytes,
    "generated-manifest": _generated_manifest,
    "manifest-text": _manifest_text,
}


@pytest.mark.parametrize("name", list(PROPERTIES))
@FAST
@given(data=st.data())
def test_fuzz(name: str, data: Any, shared_dir: Path) -> None:
    PROPERTIES[name](data)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROPERTIES))
@DEEP
@given(data=st.data())
def test_fuzz_deep(name: str, data: Any, shared_dir: Path) -> None:
    PROPERTIES[name](data)


@pytest.mark.parametrize("kind", ["png-bomb", "laughs", "not-utf8"])
def test_real_process_exits_2_without_traceback(kind: str, tmp_path: Path,
                                                shared_dir: Path) -> None:
    from bad_inputs import laughs, png_bomb

    if kind == "png-bomb":
        imgs = [{"bytes": png_bomb(), "path": None}]
        p = write_parquet(tmp_path / "in" / "x.parquet", imgs, [0])
        argv = argv_for(tmp_path, manifest("parquet", {"files": {"test": str(p)}}))
        want = 0  # quarantined, counted
    else:
        text = laughs(8) if kind == "laughs" else b"name: caf\xe9\nsources: []\n"
        argv, want = argv_for(tmp_path, text), 2
    env = {**os.environ, "PYTHONPATH": str(REPO), "http_proxy": "http://127.0.0.1:9"}
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert res.returncode == want, res.stderr
    assert "Traceback" not in res.stderr
    if want == 0:
        meta = json.loads((tmp_path / "out" / "clean" / "manifest.json").read_text())
        assert meta["rejects"]["count"] == 1
        assert "30000x30000" in meta["rejects"]["rows"][0]["reason"]
