"""Bad inputs of score, publish, difficulty, evaluate, push and review.

The second half of the sweep of ``benchmarks/results/bad_inputs_more.md`` (the first,
votes/labels/slices/validate, is ``test_bad_inputs_more.py``): every case feeds one malformed
file or argument to the real CLI entry point (:func:`pipeline.cli.main`, in-process) on the
small real build of ``sweep_build.py`` and asserts exit status 2 with a message that names
the file, record or key at fault, never a traceback and never a silent success.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from bad_inputs import raw_http, refused, run
from sweep_build import (
    Build,
    J,
)


def _onehot(labels: list[int]) -> list[list[float]]:
    return np.eye(10, dtype=np.float32)[np.array(labels)].tolist()


def _shifted(labels: list[int]) -> list[int]:
    return [(y + 1) % 10 for y in labels]


#: (id, columns builder (ids, given) -> table | bytes, regex)
PREDICTIONS: list[tuple[str, object, str]] = [
    ("not-parquet", b"sample_id,prediction\n", r"not a Parquet predictions file"),
    ("empty-file", b"", r"not a Parquet predictions file"),
    ("zero-rows", lambda i, g: {"sample_id": pa.array([], pa.string()),
                                "prediction": pa.array([], pa.int64())}, r"0 rows"),
    ("prediction-float", lambda i, g: {"sample_id": i, "prediction": [y + 0.7 for y in g]},
     r"column prediction is double, not an integer"),
    ("prediction-string", lambda i, g: {"sample_id": i, "prediction": [str(y) for y in g]},
     r"column prediction is string"),
    ("prediction-bool", lambda i, g: {"sample_id": i, "prediction": [True] * len(i)},
     r"column prediction is bool"),
    ("prediction-list", lambda i, g: {"sample_id": i, "prediction": [[y] for y in g]},
     r"column prediction is list"),
    ("prediction-null", lambda i, g: {"sample_id": i, "prediction": [None, *g[1:]]},
     r"column prediction has 1 null rows"),
    ("sample-id-int", lambda i, g: {"sample_id": list(range(len(i))), "prediction": g},
     r"column sample_id is int64"),
    ("sample-id-null", lambda i, g: {"sample_id": [None, *i[1:]], "prediction": g},
     r"column sample_id has 1 null rows"),
    ("model-int", lambda i, g: {"sample_id": i, "prediction": g, "model": [1] * len(i)},
     r"column model is int64"),
    ("model-null", lambda i, g: {"sample_id": i, "prediction": g,
                                 "model": pa.array([None] * len(i), pa.string())},
     r"column model has \d+ null rows"),
    ("probs-negative", lambda i, g: {"sample_id": i, "probs": [
        [2.0 if c == y else (-1.0 if c == (y + 1) % 10 else 0.0) for c in range(10)] for y in g]},
     r"probs of row 0 hold 2\.0 at class \d, outside \[0, 1\]"),
    ("probs-nan", lambda i, g: {"sample_id": i, "probs": [[float("nan")] * 10] + _onehot(g[1:])},
     r"probs of row 0 hold nan"),
    ("probs-ragged", lambda i, g: {"sample_id": i, "probs": [[1.0]] + _onehot(g[1:])},
     r"rows have lengths \[1, 10\]"),
    ("probs-null-row", lambda i, g: {"sample_id": i, "probs": [None] + _onehot(g[1:])},
     r"probs is null on 1 rows"),
    ("probs-scalar", lambda i, g: {"sample_id": i, "probs": [1.0] * len(i)},
     r"probs is double; expected a list of floats"),
    ("probs-disagree", lambda i, g: {"sample_id": i, "prediction": _shifted(g),
                                     "probs": _onehot(g)},
     r"prediction is not the argmax of probs on \d+ rows"),
    ("config-labels", lambda i, g: {"sample_id": i, "prediction": g, "config": ["labels"] * len(i)},
     r"config 'labels', a labels config without images"),
    ("config-slice", lambda i, g: {"sample_id": i[:1], "prediction": g[:1],
                                   "config": ["multi_label"]}, r"a slice config without images"),
]


@pytest.mark.parametrize("case", PREDICTIONS, ids=[c[0] for c in PREDICTIONS])
def test_score_refuses_bad_predictions(case: tuple, build: Build, tmp_path: Path) -> None:
    name, make, match = case
    f = tmp_path / f"{name}.parquet"
    if isinstance(make, bytes):
        f.write_bytes(make)
    else:
        pq.write_table(pa.table(make(build.ids, build.given)), f)
    refused(["score", build.bench, "--predictions", f, "--quiet"], re.escape(str(f)) + r".*"
            + match if name not in ("config-labels", "config-slice") else match)
    # the same file as a cleanlab pred_probs input of reannotate is refused the same way
    if name in ("not-parquet", "probs-nan"):
        m = dict(build.manifest, reannotate={
            "sources": build.manifest["reannotate"]["sources"],
            "aggregate": {"rule": "cleanlab", "pred_probs": str(f)}})
        (tmp_path / "m.yaml").write_text(yaml.safe_dump(m))
        refused(["reannotate", "--manifest", tmp_path / "m.yaml", "--no-progress",
                 "--scheduler", "sync", "--clean", build.pulled, "--out", tmp_path / "o"],
                re.escape(str(f)) + r".*" + match)


def _baseline(tmp: Path, text: str | bytes) -> Path:
    f = tmp / "baseline.json"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    return f


BASELINES = [
    ("not-json", "{oops", r"baseline is not UTF-8 JSON"),
    ("not-utf8", b'\xff{"clean": 0.1}', r"baseline is not UTF-8 JSON"),
    ("clean-string", J({"clean": "x", "errors": {}}), r"clean: expected an error rate.*'x'"),
    ("clean-null", J({"clean": None, "errors": {}}), r"clean: expected an error rate.*None"),
    ("error-nan", '{"clean": 0.1, "errors": {"gaussian_noise": {"1": NaN}}}',
     r"errors\.gaussian_noise\.1: expected an error rate.*nan"),
    ("error-above-1", J({"clean": 0.1, "errors": {"gaussian_noise": {"1": 2.5}}}),
     r"errors\.gaussian_noise\.1: expected an error rate.*2\.5"),
    ("clean-negative", J({"clean": -0.5, "errors": {}}), r"clean: expected an error rate"),
]


@pytest.mark.parametrize("case", BASELINES, ids=[c[0] for c in BASELINES])
def test_score_refuses_bad_baselines(case: tuple, build: Build, tmp_path: Path) -> None:
    name, text, match = case
    p = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sample_id": build.ids, "prediction": build.given}), p)
    f = _baseline(tmp_path, text)
    refused(["score", build.bench, "--predictions", p, "--baseline", f, "--quiet"],
            re.escape(str(f)) + r".*" + match)


def test_score_ece_bins_and_zero_baseline(build: Build, tmp_path: Path) -> None:
    p = tmp_path / "p.parquet"
    n = len(build.ids)
    pq.write_table(pa.table({"sample_id": build.ids * 2, "prediction": build.given * 2,
                             "config": [None] * n + ["gaussian_noise_1"] * n}), p)
    for bins in ("0", "-3"):
        refused(["score", build.bench, "--predictions", p, "--ece-bins", bins], r"--ece-bins")
    # A baseline without errors on a corruption: CE is undefined there (was a ZeroDivisionError)
    f = _baseline(tmp_path, J({"clean": 0.0, "errors": {"gaussian_noise": {"1": 0.0}}}))
    rc, text = run(["score", build.bench, "--predictions", p, "--baseline", f, "--quiet"])
    assert rc == 0, text
    corr = json.loads(text)["models"]["model"]["corruption"]
    assert corr["CE"] == {"gaussian_noise": None} and corr["mCE"] is None
    assert any("CE of gaussian_noise undefined" in n for n in corr["notes"])
    txt = tmp_path / "baseline.txt"  # not .json: read as a baseline predictions Parquet
    txt.write_text("clean 0.1")
    refused(["score", build.bench, "--predictions", p, "--baseline", txt, "--quiet"],
            re.escape(str(txt)) + r": not a Parquet predictions file")


# ---------------------------------------------------------------- files a command writes, publish


def test_outputs_naming_a_folder_are_refused(build: Build, tmp_path: Path) -> None:
    p = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sample_id": build.ids, "prediction": build.given}), p)
    (tmp_path / "dir").mkdir()
    d = tmp_path / "dir"
    for argv in (["score", build.bench, "--predictions", p, "--quiet", "--out", d],
                 ["difficulty", build.bench, "--out", d, "--rows", "5"],
                 ["validate", build.bench, "--no-progress", "--json", d],
                 ["validate", build.bench, "--no-progress", "--report", d]):
        refused(argv, re.escape(str(d)) + r" is a folder; give a file path")
    assert not any(d.iterdir())


def test_publish_refuses_its_own_input_and_bad_config_manifests(build: Build,
                                                                 tmp_path: Path) -> None:
    m = build.root / "m.yaml"
    before = sorted(p.name for p in build.pulled.iterdir())
    refused(["publish", "--manifest", m, "--inputs", build.pulled, "--out", build.pulled],
            r"overlaps the input folder")
    refused(["publish", "--manifest", m, "--inputs", build.pulled, "--out", build.root],
            r"overlaps the input folder")
    assert sorted(p.name for p in build.pulled.iterdir()) == before  # nothing replaced
    for name, text in (("not-json", "{x"), ("list", "[1]")):
        inp = tmp_path / name
        shutil.copytree(build.pulled, inp)
        (inp / "clean/manifest.json").write_text(text)
        refused(["publish", "--manifest", m, "--inputs", inp, "--out", tmp_path / f"o-{name}"],
                re.escape(str(inp / "clean/manifest.json")) + r": (not JSON|expected a JSON obj)")


# ---------------------------------------------------------------- difficulty: tampered benchmark


def _bench_json(root: Path, fn: Callable[[dict], object]) -> None:
    info = json.loads((root / "benchmark.json").read_text())
    fn(info)
    (root / "benchmark.json").write_text(J(info))


def _rewrite_image(root: Path) -> None:
    for p in (root / "gaussian_noise_1").glob("*.parquet"):
        t = pq.read_table(p)
        imgs = t["image"].to_pylist()
        imgs[0] = {"bytes": b"notanimage", "path": None}
        i = t.schema.get_field_index("image")
        pq.write_table(t.set_column(i, "image", pa.array(imgs, t.schema.field("image").type)), p)


DIFFICULTY: list[tuple[str, Callable[[Path], object], str]] = [
    ("no-configs-key", lambda r: _bench_json(r, lambda i: i.pop("configs")),
     r"benchmark\.json: 'configs' must list config folder names"),
    ("configs-string", lambda r: _bench_json(r, lambda i: i.update(configs="clean")),
     r"benchmark\.json: 'configs' must list"),
    ("benchmark-json-list", lambda r: (r / "benchmark.json").write_text("[1]"),
     r"benchmark\.json: 'configs' must list"),
    ("config-traversal", lambda r: _bench_json(r, lambda i: i["configs"].append("../x/clean")),
     r"benchmark\.json: 'configs' must list.*\.\./x/clean"),
    ("config-folder-deleted", lambda r: shutil.rmtree(r / "gaussian_noise_1"),
     r"gaussian_noise_1/manifest\.json is missing"),
    ("config-manifest-not-json", lambda r: (r / "gaussian_noise_1/manifest.json").write_text("{x"),
     r"gaussian_noise_1/manifest\.json: not JSON"),
    ("shards-deleted", lambda r: [p.unlink() for p in (r / "gaussian_noise_1").glob("*.parquet")],
     r"gaussian_noise_1 holds no shards"),
    ("shard-garbage", lambda r: [p.write_bytes(b"garbage")
                                 for p in (r / "gaussian_noise_1").glob("*.parquet")],
     r"gaussian_noise_1/train-00000-of-00001\.parquet: unreadable shard"),
    ("image-undecodable", _rewrite_image,
     r"gaussian_noise_1/train-00000-of-00001\.parquet: digits/train/0: .*cannot decode"),
]


@pytest.mark.parametrize("case", DIFFICULTY, ids=[c[0] for c in DIFFICULTY])
def test_difficulty_refuses_a_tampered_benchmark(case: tuple, build: Build,
                                                 tmp_path: Path) -> None:
    name, tamper, match = case
    root = tmp_path / "bench"
    shutil.copytree(build.bench, root)
    tamper(root)
    refused(["difficulty", root, "--out", tmp_path / "d.json", "--rows", "5"], match)
    assert not (tmp_path / "d.json").exists()


# ---------------------------------------------------------------- evaluate: models and options


def _onnx(path: Path, *, nan: bool = False) -> Path:
    """Global average pool -> linear over 3 channels -> 10 scores (NaN weights if ``nan``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32)
    if nan:
        w[:] = np.nan
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("MatMul", ["f", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


EVALUATE = [
    ("nan-scores", {"nan": True}, [], r"non-finite scores \(NaN/inf\) for \d+ images of clean, "
     r"e\.g\. digits/train/0"),
    ("scale-0", {}, ["--scale", "0"], r"--scale 0\.0: expected a finite number > 0"),
    ("scale-nan", {}, ["--scale", "nan"], r"--scale nan"),
    ("std-0", {}, ["--std", "0"], r"--std 0\.0: expected finite numbers > 0"),
    ("mean-inf", {}, ["--mean", "inf"], r"--mean inf: expected finite numbers"),
    ("mean-two-values", {}, ["--mean", "0.1,0.2"], r"--mean has 2 values; give 1 or --channels"),
    ("resize-0", {}, ["--resize", "0"], r"--resize 0: expected a side >= 1"),
    ("crop-negative", {}, ["--crop", "-3"], r"--crop -3: expected a side >= 1"),
    ("threads-negative", {}, ["--threads", "-1"], r"--threads must be >= 0"),
    ("name-empty", {}, ["--name", ""], r"--name must not be empty"),
    ("out-folder", {}, ["--out", "@"], r"--out .* is a folder"),
]


@pytest.mark.parametrize("case", EVALUATE, ids=[c[0] for c in EVALUATE])
def test_evaluate_refuses_bad_models_and_options(case: tuple, build: Build,
                                                 tmp_path: Path) -> None:
    name, model_kw, extra, match = case
    model = _onnx(tmp_path / "m.onnx", **model_kw)
    out = tmp_path / "p.parquet"
    argv = ["evaluate", build.bench, "--model", model, "--no-progress", "--config", "clean",
            *[str(tmp_path) if a == "@" else a for a in extra]]
    if "--out" not in extra:
        argv += ["--out", out]
    refused(argv, match)
    assert not out.exists()


# ---------------------------------------------------------------- push: arguments and a dead Hub


@pytest.mark.parametrize(("repo_id", "revision", "match"), [
    ("a b/c d", None, r"--repo-id 'a b/c d': not a Hub repository id"),
    ("../..", None, r"--repo-id '\.\./\.\.': not a Hub repository id"),
    ("owner/name-", None, r"not a Hub repository id"),
    ("owner/name", "../../x", r"--revision '\.\./\.\./x': not a branch name"),
    ("owner/name", "-x", r"--revision '-x': not a branch name"),
])
def test_push_refuses_bad_repo_ids_and_revisions(repo_id: str, revision: str | None,
                                                 match: str, build: Build) -> None:
    argv = ["push", build.bench, "--repo-id", repo_id, "--dry-run"]
    refused(argv + ([f"--revision={revision}"] if revision else []), match)


def test_push_to_an_unreachable_hub_is_a_clear_error(build: Build, tmp_path: Path) -> None:
    """The Hub and the proxy are dead local ports: the push fails with exit 2, no traceback."""
    import subprocess
    import sys

    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HF_TOKEN": "hf_not_a_token",
           "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_OFFLINE", None)
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "push", str(build.bench),
                        "--repo-id", "owner/name"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(r"push to datasets/owner/name at http://127\.0\.0\.1:9 failed: .*check the "
                     r"network or proxy", r.stderr), r.stderr


# ---------------------------------------------------------------- review: arguments and requests


@pytest.fixture()
def busy_port():
    """A port something else listens on: a review that got past its checks fails to bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_review_refuses_bad_arguments_before_serving(build: Build, tmp_path: Path,
                                                     busy_port: int) -> None:
    preds = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sample_id": build.ids, "prediction": _shifted(build.given)}), preds)
    unknown = tmp_path / "u.parquet"
    pq.write_table(pa.table({"sample_id": ["digits/train/99999"], "prediction": [1]}), unknown)
    (tmp_path / "votes-dir").mkdir()
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"sample_id": "digits/train/0", "annotator": "\xe9", "labels": [0]}\n')

    def review(*extra: object, votes: Path = tmp_path / "v.jsonl", port: int = busy_port,
               annotator: str = "a") -> list[object]:
        return ["review", build.bench, "--votes", votes, "--annotator", annotator,
                "--port", str(port), *extra]

    refused(review(annotator=""), r"--annotator must name you")
    refused(review(annotator="  "), r"--annotator must name you")
    refused(review("--limit", "-1"), r"--limit -1: expected >= 1")
    refused(review("--limit", "0"), r"--limit 0: expected >= 1")
    refused(review(port=99999), r"--port 99999: expected 0\.\.65535")
    refused(review(port=-1), r"--port -1: expected 0\.\.65535")
    refused(review(votes=tmp_path / "votes-dir"), r"votes-dir is not a regular file")
    refused(review(votes=latin1), re.escape(str(latin1)) + r": line 1 is not UTF-8")
    refused(review("--predictions", unknown), re.escape(str(unknown))
            + r": 1 predictions on clean name sample_ids not in it")
    refused(review("--predictions", latin1), re.escape(str(latin1))
            + r": not a Parquet predictions file")
    refused(review("--predictions", preds), rf"cannot listen on 127\.0\.0\.1:{busy_port}")


def test_review_server_item_ids_fields_and_unwritable_votes(build: Build, tmp_path: Path) -> None:
    from pipeline.review.app import VotesFile, build_queue, make_server

    preds = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sample_id": build.ids, "prediction": _shifted(build.given)}), preds)
    q = build_queue([build.bench], predictions=preds, audit_column=None, limit=3)
    votes = tmp_path / "votes.jsonl"
    server = make_server(q, VotesFile(votes), annotator="a", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    host = f"127.0.0.1:{port}"

    def get(path: str) -> int:
        return raw_http(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())[0]

    def post(body: bytes) -> tuple[int, bytes]:
        return raw_http(port, (f"POST /api/vote HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                            f"application/json\r\nX-Benchsmith-Token: {server.token}\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n").encode() + body)

    try:
        assert get("/image/0") == 200
        for path in ("/image/-1", "/image/-0", "/image/3", "/image/\u0661", "/image/0?x=1",
                     "/image/../../etc/passwd", "/../etc/passwd"):
            assert get(path) == 404, path  # "-1" used to serve the last item
        status, body = post(b'{"index": 0, "valid": [0], "vaild": [1]}')
        assert status == 400 and b"unknown field(s) ['vaild']" in body
        assert not votes.exists() or not votes.read_bytes()
        assert post(b'{"index": 0, "valid": [0], "note": "blurry"}')[0] == 200
        assert json.loads(votes.read_text().splitlines()[0])["note"] == "blurry"
        votes.unlink()
        votes.mkdir()  # the file replaced by a folder while serving: a 500, the server stays up
        status, body = post(b'{"index": 1, "valid": [0]}')
        assert status == 500 and b"not written" in body
        assert get("/image/1") == 200
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- slices: rules and inputs


def _set_image(config: str, value: object) -> Callable[[Path], None]:
    def tamper(root: Path) -> None:
        for p in (root / config).glob("*.parquet"):
            t = pq.read_table(p)
            imgs = t["image"].to_pylist()
            imgs[0] = value
            i = t.schema.get_field_index("image")
            pq.write_table(t.set_column(i, "image", pa.array(imgs, t.schema.field("image").type)),
                           p)
    return tamper


@pytest.mark.parametrize(("name", "tamper", "match"), [
    ("shard-garbage", lambda r: [p.write_bytes(b"garbage") for p in (r / "clean").glob("*.pa*")],
     r"clean/train-00000-of-00001\.parquet: unreadable shard"),
    ("image-column-dropped", lambda r: [pq.write_table(pq.read_table(p).drop(["image"]), p)
                                        for p in (r / "clean").glob("*.parquet")],
     r"clean/train-00000-of-00001\.parquet: unreadable shard or no image column"),
    ("image-null", _set_image("clean", None),
     r"clean/train-00000-of-00001\.parquet: 1 rows have no image bytes \(e\.g\. digits/train/0\)"),
    ("clean-manifest-not-json", lambda r: (r / "clean/manifest.json").write_text("{x"),
     r"clean/manifest\.json: not JSON"),
])
def test_evaluate_refuses_a_tampered_benchmark(name: str, tamper, match: str, build: Build,
                                               tmp_path: Path) -> None:
    root = tmp_path / "bench"
    shutil.copytree(build.bench, root)
    tamper(root)
    refused(["evaluate", root, "--model", _onnx(tmp_path / "m.onnx"), "--no-progress",
             "--out", tmp_path / "p.parquet"], match)


def test_review_refuses_a_clean_row_without_image(build: Build, tmp_path: Path,
                                                  busy_port: int) -> None:
    root = tmp_path / "bench"
    shutil.copytree(build.bench, root)
    _set_image("clean", None)(root)
    preds = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sample_id": build.ids, "prediction": _shifted(build.given)}), preds)
    refused(["review", root, "--votes", tmp_path / "v.jsonl", "--annotator", "a",
             "--predictions", preds, "--port", str(busy_port)],
            r"clean: row digits/train/0 has no image bytes")
