"""The review page end to end in headless Chromium, and its crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bad_inputs import raw_http

from pipeline.reannotate.importers import check_join, import_review
from pipeline.review.app import VotesFile, build_queue, make_server
from pipeline.schema import build_features
from pipeline.shards import encode_png, shard_name, write_config_manifest, write_shard
from pipeline.slices import _major_counts

NAMES = ["cat", "dog", "rocket", "coffee", "person"]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def write_config(d: Path, cols: dict, feats, kind: str) -> None:
    name = shard_name("test", 0, 1)
    sha = write_shard(d / name, cols, feats)
    write_config_manifest(d, config=d.name, features=feats, shards=[
        {"split": "test", "file": name, "num_rows": len(cols["sample_id"]), "sha256": sha,
         "rejects": []}], extra={"kind": kind})


@pytest.fixture()
def build(photos224: list[np.ndarray], tmp_path: Path) -> tuple[Path, Path]:
    """9 real photos; an audit flagging rows 0-1; two models with mistakes on rows 2-4."""
    ids = [f"photos/test/{i}" for i in range(len(photos224))]
    labels = [0, 0, 2, 3, 4, 1, 4, 2, 3]
    write_config(tmp_path / "b/clean", {
        "sample_id": ids, "image": [{"bytes": encode_png(p), "path": None} for p in photos224],
        "label": labels, "source": ["photos"] * 9, "split": ["test"] * 9,
        "key": [str(i) for i in range(9)]}, build_features(NAMES), "clean")
    write_config(tmp_path / "b/audit", {
        "sample_id": ids, "is_label_issue": [i < 2 for i in range(9)],
        "suggested_label": [4, 1] + [None] * 7}, datasets.Features({
            "sample_id": datasets.Value("string"), "is_label_issue": datasets.Value("bool"),
            "suggested_label": datasets.Value("int64")}), "audit")
    pred_a = list(labels)
    pred_b = list(labels)
    pred_a[2], pred_a[3], pred_b[3], pred_b[4] = 1, 0, 0, 2
    preds = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"sample_id": ids * 2, "prediction": pred_a + pred_b,
                             "model": ["a"] * 9 + ["b"] * 9}), preds)
    return tmp_path / "b", preds


def test_queue_holds_audit_candidates_then_mistakes(build) -> None:
    root, preds = build
    q = build_queue([root], predictions=preds, audit_column="is_label_issue")
    assert [(it.sample_id, it.kind) for it in q.items] == [
        ("photos/test/0", "audit"), ("photos/test/1", "audit"), ("photos/test/2", "mistake"),
        ("photos/test/3", "mistake"), ("photos/test/4", "mistake")]
    assert q.items[0].candidates == [(0, "given, a, b"), (4, "suggested")]
    assert q.items[3].candidates == [(3, "given"), (0, "a, b")]


def test_review_page_end_to_end_in_chromium(build, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    root, preds = build
    q = build_queue([root], predictions=preds, audit_column="is_label_issue")
    votes_path = tmp_path / "votes.jsonl"
    server = make_server(q, VotesFile(votes_path), annotator="tester", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_function("document.getElementById('img').naturalWidth === 224")
            assert page.inner_text("#sid") == "photos/test/0"
            # untouched: the page shows the default it will save
            assert page.inner_text("#choice") == "given label correct (default)"
            # item 0 (audit): the given label "cat" is wrong, the suggested "person" (class
            # id 4: number keys are class ids with <= 10 classes) is right
            page.keyboard.press("4")
            assert page.locator(".cand.valid").count() == 1
            assert page.inner_text("#choice") == "valid: 4 person"
            page.keyboard.press("Enter")  # set line + both models' predictions were wrong
            page.wait_for_selector("body[data-saved='3']")
            assert page.inner_text("#sid") == "photos/test/1"
            # item 1: not sure
            page.keyboard.press("u")
            page.wait_for_selector("body[data-saved='4']")
            # item 2: given "rocket" is right (Enter on the untouched item); model a's "dog"
            # is a major spurious mistake
            assert "a: 1 dog" in page.inner_text("#preds")
            page.keyboard.press("s")
            page.keyboard.press("Shift+M")
            assert "on" in page.locator("#sevs .opt[data-value='major']").get_attribute("class")
            page.keyboard.press("Enter")
            page.wait_for_selector("body[data-saved='6']")  # set line + one mistake line
            # a reload resumes at the first unreviewed item
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            assert page.inner_text("#sid") == "photos/test/3"
            page.keyboard.press("ArrowLeft")
            assert "reviewed" in page.inner_text("#kind")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    lines = [json.loads(x) for x in votes_path.read_text().splitlines()]
    assert [(x["sample_id"], x["verdict"], x["labels"], x["model"]) for x in lines] == [
        ("photos/test/0", "valid", [4], None), ("photos/test/0", "mistake", [], "a"),
        ("photos/test/0", "mistake", [], "b"), ("photos/test/1", "unsure", [], None),
        ("photos/test/2", "valid", [2], None), ("photos/test/2", "mistake", [], "a")]
    assert (lines[5]["category"], lines[5]["severity"], lines[5]["offered"]) == (
        "spurious_correlation", "major", [1])
    assert (lines[4]["category"], lines[4]["severity"]) == ("spurious_correlation", "major")
    # the votes file is reannotate's input: it joins, and feeds the major slice rule
    votes, skipped = import_review(votes_path)
    given = {f"photos/test/{i}": y for i, y in enumerate([0, 0, 2, 3, 4, 1, 4, 2, 3])}
    matched, rep = check_join(votes, given, source="review", num_classes=5, min_agreement=0.5)
    assert skipped == 0 and rep.matched_votes == 6 and rep.checks["given_label_equal"] == 1.0
    cols = {c: matched[c].to_pylist() for c in ("sample_id", "model", "verdict", "severity")}
    assert dict(_major_counts(cols, ("a", "b"))) == {"photos/test/2": ["a"]}


def test_votes_survive_kill_9(build, tmp_path: Path) -> None:
    root, preds = build
    votes_path = tmp_path / "votes.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "review", str(root), "--votes", str(votes_path),
         "--annotator", "k", "--predictions", str(preds), "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "reviewing N items at http://127.0.0.1:PORT/ ..."
        while not line.startswith("reviewing"):  # after notes on what the queue holds
            assert line.startswith("review: "), line
            line = proc.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "api/items", timeout=10) as r:
            token = json.loads(r.read())["token"]
        for index, valid in ((0, [2]), (1, [3])):
            req = urllib.request.Request(
                url + "api/vote", data=json.dumps({"index": index, "valid": valid,
                                                   "severity": "minor"}).encode(),
                headers={"Content-Type": "application/json", "X-Benchsmith-Token": token},
                method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                assert json.loads(r.read())["lines"] >= 1
        bad = urllib.request.Request(url + "api/vote", data=b'{"index": 0, "valid": [9]}',
                                     method="POST")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(bad, timeout=10)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    votes, skipped = import_review(votes_path)  # every acknowledged vote is on disk
    assert skipped == 0
    assert sorted(set(votes["sample_id"].to_pylist())) == ["photos/test/2", "photos/test/3"]
    # a torn line left by a kill mid-write is ended on restart and skipped on import
    with open(votes_path, "ab") as fh:
        fh.write(b'{"sample_id": "photos/test/4", "annot')
    VotesFile(votes_path).append([{"sample_id": "photos/test/4", "annotator": "k", "labels": [4],
                                   "offered": [4], "verdict": "valid"}])
    votes, skipped = import_review(votes_path)
    assert skipped == 1 and "photos/test/4" in votes["sample_id"].to_pylist()


def test_review_server_refuses_foreign_hosts_cross_origin_and_bad_bodies(build, tmp_path) -> None:
    root, preds = build
    q = build_queue([root], predictions=preds, audit_column="is_label_issue")
    votes_path = tmp_path / "votes.jsonl"
    server = make_server(q, VotesFile(votes_path), annotator="sec", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port, token = server.server_address[1], server.token
    host = f"127.0.0.1:{port}"

    def post(body: bytes, *, hdrs: dict[str, str] | None = None) -> tuple[int, bytes]:
        h = {"Host": host, "Content-Type": "application/json", "X-Benchsmith-Token": token,
             "Content-Length": str(len(body)), **(hdrs or {})}
        head = "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None)
        return raw_http(port, f"POST /api/vote HTTP/1.1\r\n{head}\r\n".encode() + body)

    ok = json.dumps({"index": 0, "valid": [0]}).encode()
    try:
        # DNS rebinding: a foreign Host is not served, not even the item list.
        assert raw_http(port, b"GET /api/items HTTP/1.1\r\nHost: evil.example\r\n\r\n")[0] == 403
        assert raw_http(port, f"GET /api/items HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())[0] == 200
        # CSRF: a text/plain form post from another origin, or one without the token.
        assert post(ok, hdrs={"Origin": "http://evil.example"})[0] == 403
        assert post(ok, hdrs={"Content-Type": "text/plain"})[0] == 415
        assert post(ok, hdrs={"X-Benchsmith-Token": "guess"})[0] == 403
        assert post(ok, hdrs={"Host": "evil.example"})[0] == 403
        # Bounded bodies: a declared 50 MB body is refused before it is read.
        t = __import__("time").perf_counter()
        assert post(b"x" * 100, hdrs={"Content-Length": str(50 << 20)})[0] == 413
        assert __import__("time").perf_counter() - t < 2
        # Values that used to kill the handler.
        assert post(b'{"index": 1e309, "valid": [0]}')[0] == 400
        assert post(b'{"index": true}')[0] == 400
        deep = b"[" * 5000 + b"]" * 5000
        assert post(b'{"index": 0, "valid": ' + deep + b"}")[0] == 400
        assert post(b"\xff\xfe")[0] == 400
        assert not votes_path.exists() or votes_path.read_bytes() == b""
        # The real page's own write goes through (same origin, token).
        assert post(ok, hdrs={"Origin": f"http://{host}"})[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    assert len(votes_path.read_text().splitlines()) >= 1


def test_review_server_twenty_concurrent_voters(build, tmp_path) -> None:
    """20 reviewers x 50 votes at once: no reset, every acknowledged vote on disk."""
    from concurrent.futures import ThreadPoolExecutor

    root, preds = build
    q = build_queue([root], predictions=preds, audit_column="is_label_issue")
    votes_path = tmp_path / "votes.jsonl"
    server = make_server(q, VotesFile(votes_path), annotator="crowd", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/vote"

    def voter(v: int) -> int:
        acked = 0
        for k in range(50):
            i = (v + k) % len(q.items)
            body = json.dumps({"index": i, "valid": [q.items[i].given], "note": f"{v}-{k}"})
            req = urllib.request.Request(url, data=body.encode(), method="POST", headers={
                "Content-Type": "application/json", "X-Benchsmith-Token": server.token})
            with urllib.request.urlopen(req, timeout=30) as r:
                acked += json.loads(r.read())["lines"]
        return acked

    try:
        with ThreadPoolExecutor(20) as pool:
            acked = sum(pool.map(voter, range(20)))  # any reset raises here
    finally:
        server.shutdown()
        server.server_close()
    lines = votes_path.read_text().splitlines()
    assert len(lines) == acked >= 1000
    assert all(json.loads(x)["annotator"] == "crowd" for x in lines)
