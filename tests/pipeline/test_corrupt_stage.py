"""The corrupt stage engine: per-image parity with ``apply``, encodings, schedulers, resume."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from corruptions.registry import apply, get_registry
from corruptions.rng import derive_rng
from pipeline.corrupt import corrupt
from pipeline.encoding import JPEG_RELEASE, PNG_FAST, PNG_LEGACY, describe, encode_image
from pipeline.manifest import parse_manifest
from pipeline.pull import pull
from pipeline.seeding import derive_rngs, seed_states
from pipeline.sources.hf import decode_image

REPO = Path(__file__).resolve().parents[2]
# one op per family that runs on RGB, severities 2 and 5; fog_3d needs (pseudo-)depth
CONFIGS = {"gaussian_noise": [2, 5], "impulse_noise": [2], "defocus_blur": [2], "fog": [5],
           "contrast": [3], "jpeg_compression": [4], "fog_3d": [3]}


def _manifest(shared: Path, limit: int, corruptions: dict, encoding: dict | None = None) -> dict:
    files = str(shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    data = {
        "name": "cifar-engine",
        "seed": 11,
        "sources": [{"source": "parquet", "name": "cifar10", "splits": ["test"], "limit": limit,
                     "options": {"files": {"test": files}}}],
        "corrupt": {"preset": "cifar32", "depth": "pseudo",
                    "suites": [{"corruptions": corruptions}]},
    }
    if encoding is not None:
        data["encoding"] = encoding
    return data


def _shards(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def pulled(shared_dir: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pulled")
    m = parse_manifest(_manifest(shared_dir, 60, CONFIGS), path="t.yaml")
    pull(m, root, scheduler="sync", shard_size=25, progress=False)
    return root


@pytest.fixture(scope="module")
def reference_build(shared_dir: Path, pulled: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sync")
    m = parse_manifest(_manifest(shared_dir, 60, CONFIGS), path="t.yaml")
    corrupt(m, pulled, out, scheduler="sync", progress=False)
    return out


def _clean_images(pulled: Path) -> dict[str, np.ndarray]:
    out = {}
    for shard in sorted((pulled / "clean").glob("*.parquet")):
        t = pq.read_table(shard, columns=["sample_id", "image"])
        for sid, img in zip(t["sample_id"].to_pylist(), t["image"].to_pylist(), strict=True):
            out[sid] = decode_image(img["bytes"])
    return out


@pytest.mark.parametrize("encoding", [PNG_LEGACY, PNG_FAST, JPEG_RELEASE],
                         ids=["png-legacy", "png-fast", "jpeg85"])
def test_stage_equals_apply_then_encode(shared_dir, pulled, tmp_path, encoding) -> None:
    """Every stored image is encode_image(apply(...)) of its clean image, for every encoding.

    For JPEG-85 that is the ImageNet-C release save, so configs decode to the same
    pixels as ``PIL.Image.save(quality=85, optimize=True)`` of the same array.
    """
    m = parse_manifest(_manifest(shared_dir, 60, CONFIGS, dict(encoding.settings())),
                       path="t.yaml")
    res = corrupt(m, pulled, tmp_path, scheduler="sync", progress=False)
    clean = _clean_images(pulled)
    from corruptions import pseudo_depth

    assert len(res) == 8
    for config, meta in res.items():
        assert meta["encoding"] == describe(encoding)
        assert encoding.format.upper() in meta["description"]
        name, sev = meta["corruption"], meta["severity"]
        rows = 0
        for shard in sorted((tmp_path / config).glob("*.parquet")):
            t = pq.read_table(shard).to_pylist()
            rows += len(t)
            for row in t:
                img = clean[row["sample_id"]]
                aux = {"depth": pseudo_depth.pseudo_depth(img)} if name == "fog_3d" else {}
                rng = derive_rng(11, row["sample_id"], name, sev)
                ref = apply(name, img, severity=sev, preset="cifar32", rng=rng, **aux)
                assert row["image"]["bytes"] == encode_image(ref, encoding), (config, row)
                params = json.loads(row["params"])
                assert params["_encoding"] == describe(encoding)
                assert row["preset"] == "cifar32" and row["severity"] == sev
        assert rows == 60
    if encoding is JPEG_RELEASE:  # decoded pixels equal the reference save's, stated directly
        row = pq.read_table(next((tmp_path / "fog_5").glob("*.parquet"))).to_pylist()[0]
        ref = apply("fog", clean[row["sample_id"]], severity=5, preset="cifar32",
                    rng=derive_rng(11, row["sample_id"], "fog", 5))
        buf = io.BytesIO()
        Image.fromarray(np.uint8(ref)).save(buf, quality=85, optimize=True, format="JPEG")
        with Image.open(io.BytesIO(row["image"]["bytes"])) as a, Image.open(buf) as b:
            assert a.format == "JPEG"
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_seed_states_equal_derive_rng() -> None:
    ids = [f"cifar10/test/{i}" for i in range(3000)] + ["", "ü/é", "x" * 500]
    for seed, op, sev in [(0, "gaussian_noise", 3), (2**32 - 1, "spatter", 5), (9, "fog", 0)]:
        states = seed_states(seed, ids, op, sev)
        for sid, (state, inc) in zip(ids, states, strict=True):
            ref = derive_rng(seed, sid, op, sev).bit_generator.state["state"]
            assert ref == {"state": state, "inc": inc}
    # the generators draw the same numbers; seeds beyond 32 bits fall back to derive_rng
    for seed in (3, 2**40 + 5):
        got = [g.normal(size=4).tolist() for g in derive_rngs(seed, ids[:50], "fog", 2)]
        assert got == [derive_rng(seed, s, "fog", 2).normal(size=4).tolist() for s in ids[:50]]


@pytest.mark.slow
def test_byte_identical_sync_processes_localcluster(shared_dir, pulled, reference_build,
                                                    tmp_path) -> None:
    m = parse_manifest(_manifest(shared_dir, 60, CONFIGS), path="t.yaml")
    ref = _shards(reference_build)
    assert len(ref) == 8 * 3
    for scheduler in ("processes", "local"):
        out = tmp_path / scheduler
        corrupt(m, pulled, out, scheduler=scheduler, workers=2, progress=False)
        assert _shards(out) == ref, scheduler


def test_fingerprint_covers_encoding_and_rerun_skips(shared_dir, pulled, tmp_path) -> None:
    cfg = {"gaussian_noise": [1], "contrast": [2]}
    out = tmp_path / "o"
    m = parse_manifest(_manifest(shared_dir, 60, cfg), path="t.yaml")
    corrupt(m, pulled, out, scheduler="sync", progress=False)
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    corrupt(m, pulled, out, scheduler="sync", progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == first
    before = _shards(out)
    jpeg = parse_manifest(_manifest(shared_dir, 60, cfg, {"format": "jpeg"}), path="t.yaml")
    corrupt(jpeg, pulled, out, scheduler="sync", progress=False)
    after = _shards(out)
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in after)
    meta = json.loads((out / "contrast_2" / "manifest.json").read_text())
    assert meta["encoding"]["format"] == "jpeg" and meta["encoding"]["quality"] == 85


_KILL_SCRIPT = """
import sys
from pathlib import Path
from pipeline.corrupt import corrupt
from pipeline.manifest import parse_manifest
import json
m = parse_manifest(json.loads(sys.argv[1]), path="t.yaml")
corrupt(m, Path(sys.argv[2]), Path(sys.argv[3]), scheduler="sync", progress=False)
"""


def test_resume_after_kill_mid_task(shared_dir, tmp_path) -> None:
    """A task killed after some of its outputs keeps them; the rerun writes only the rest."""
    noise = {n: [1, 2, 3, 4, 5] for n in ("gaussian_noise", "shot_noise", "impulse_noise")}
    data = _manifest(shared_dir, 300, noise)
    m = parse_manifest(data, path="t.yaml")
    pull(m, tmp_path / "pulled", scheduler="sync", shard_size=300, progress=False)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, json.dumps(data),
                             str(tmp_path / "pulled"), str(out)], env=env)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/.tasks/*.json")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.parent.parent.name for p in out.glob("*/.tasks/*.json")}
    assert 1 <= len(done) < 15, "the single task was not killed mid-way"
    kept = {p: p.stat().st_mtime_ns for c in done for p in (out / c).glob("*.parquet")}
    corrupt(m, tmp_path / "pulled", out, scheduler="sync", progress=False)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished outputs not rewritten
    fresh = tmp_path / "fresh"
    corrupt(m, tmp_path / "pulled", fresh, scheduler="sync", progress=False)
    assert _shards(out) == _shards(fresh) and len(_shards(fresh)) == 15


def test_every_registered_kernel_takes_read_only_input() -> None:
    """The stage shares decoded images between configs read-only: no kernel may write to them."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    for img in (rgb, gray):
        img.setflags(write=False)
        for name, spec in get_registry().items():
            aux = {}
            if "depth" in spec.needs:
                aux["depth"] = np.linspace(1, 9, img.shape[0] * img.shape[1],
                                           dtype=np.float32).reshape(img.shape[:2])
                aux["depth"].setflags(write=False)
            if "source_rng" in spec.needs:
                aux["source_rng"] = derive_rng(0, "x", spec.family, 0)
            out = apply(name, img, severity=3, preset="auto", rng=derive_rng(0, "x", name, 3),
                        **aux)
            assert out.shape == img.shape and not np.shares_memory(out, img), name


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_video_configs_share_one_source_and_equal_apply(shared_dir, pulled, tmp_path) -> None:
    """The stage runs the video family through its batch hook: each stored image equals
    ``apply`` on the image alone with the family generator ``derive_rng(seed, id, "video",
    0)``, and the clean shard's images are encoded to H.264 once for all its configs."""
    import corruptions.video as video

    video.clear_memos()
    configs = {"h265_crf": [2], "h265_abr": [4], "bit_error": [5]}
    m = parse_manifest(_manifest(shared_dir, 60, configs, None), path="t.yaml")
    res = corrupt(m, pulled, tmp_path, scheduler="sync", progress=False)
    assert len(res) == 3 and len(video._SOURCES) == 60  # one source per image, not per config
    clean = _clean_images(pulled)
    video.clear_memos()
    for config, meta in res.items():
        name, sev = meta["corruption"], meta["severity"]
        rows = [r for shard in sorted((tmp_path / config).glob("*.parquet"))
                for r in pq.read_table(shard).to_pylist()]
        assert len(rows) == 60
        ids = [r["sample_id"] for r in rows]
        refs = video.apply_many(name, [clean[i] for i in ids], severity=sev, preset="cifar32",
                                rngs=[derive_rng(11, i, name, sev) for i in ids],
                                source_rngs=[derive_rng(11, i, "video", 0) for i in ids])
        alone = apply(name, clean[ids[0]], severity=sev, preset="cifar32",
                      rng=derive_rng(11, ids[0], name, sev),
                      source_rng=derive_rng(11, ids[0], "video", 0))
        np.testing.assert_array_equal(refs[0], alone)
        for row, ref in zip(rows, refs, strict=True):
            assert row["image"]["bytes"] == encode_image(ref, PNG_FAST), (config, row["sample_id"])


def test_jpeg_build_publishes_and_validates(shared_dir, pulled, tmp_path) -> None:
    """A JPEG-85 benchmark goes through publish and validate like a PNG one."""
    from pipeline.publish import publish
    from pipeline.validate import validate

    m = parse_manifest(_manifest(shared_dir, 60, {"fog": [2], "contrast": [4]},
                                 {"format": "jpeg", "quality": 85, "optimize": True}),
                       path="t.yaml")
    corrupt(m, pulled, tmp_path / "corrupted", scheduler="sync", progress=False)
    publish(m, [pulled, tmp_path / "corrupted"], tmp_path / "out")
    report = validate(tmp_path / "out")
    assert report.ok, report.text()
    card = (tmp_path / "out" / "README.md").read_text()
    assert "stored as JPEG (quality 85, optimize True" in card
    clean = pq.read_table(next((tmp_path / "out" / "clean").glob("*.parquet")))
    assert clean["image"][0].as_py()["bytes"][:4] == b"\x89PNG"  # clean stays lossless PNG


def test_tasks_start_costliest_first(shared_dir, pulled, tmp_path, monkeypatch) -> None:
    """The stage hands run_tasks a cost per (shard, family) task: rows x (kernel cost + write)
    summed over its outputs, so a glass/zoom blur task starts before a cheap noise task of
    the same shard and a 25-row shard before the 10-row one."""
    import pipeline.corrupt as stage

    seen = {}

    def capture(fn, args, *, cost=None, **kw):
        seen["tasks"], seen["cost"] = [(Path(a[0]).name, [o[1] for o in a[1]]) for a in args], cost
        return [[None] * len(a[1]) for a in args]

    monkeypatch.setattr(stage, "run_tasks", capture)
    monkeypatch.setattr(stage, "write_config_manifest", lambda *a, **k: {})
    configs = {"gaussian_noise": [1], "zoom_blur": [1, 2], "glass_blur": [1]}
    m = parse_manifest(_manifest(shared_dir, 60, configs), path="t.yaml")
    corrupt(m, pulled, tmp_path / "out", scheduler="sync", progress=False)
    reg = get_registry()
    rows = {"test-00000-of-00003.parquet": 25, "test-00001-of-00003.parquet": 25,
            "test-00002-of-00003.parquet": 10}
    for (shard, ops), c in zip(seen["tasks"], seen["cost"], strict=True):
        assert c == pytest.approx(rows[shard] * sum(reg[o].cost + stage._WRITE_MS for o in ops))
    order = sorted(range(len(seen["cost"])), key=lambda i: -seen["cost"][i])
    first = [seen["tasks"][i] for i in order[:2]]
    assert {tuple(sorted(ops)) for _, ops in first} == {("glass_blur", "zoom_blur", "zoom_blur")}
    assert seen["tasks"][order[-1]] == ("test-00002-of-00003.parquet", ["gaussian_noise"])
