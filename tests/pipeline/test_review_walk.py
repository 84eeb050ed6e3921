"""Two reviewers walk 20 audit items keyboard-only in headless Chromium; reannotate and
slices on their votes give the expected label sets, slice members and agreement counts."""

from __future__ import annotations

import threading
from pathlib import Path

import datasets
import numpy as np
import pytest

from pipeline.reannotate.config import parse_section
from pipeline.reannotate.stage import reannotate
from pipeline.reannotate.tables import read_config
from pipeline.review.app import VotesFile, build_queue, make_server
from pipeline.schema import build_features
from pipeline.shards import encode_png, shard_name, write_config_manifest, write_shard
from pipeline.slices import parse_section as parse_slices
from pipeline.slices import write_slices

NAMES = ["cat", "dog", "rocket", "coffee", "person"]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
N = 24  # rows; the audit flags 20 of them


def _config(d: Path, cols: dict, feats: datasets.Features, kind: str) -> None:
    name = shard_name("test", 0, 1)
    sha = write_shard(d / name, cols, feats)
    write_config_manifest(d, config=d.name, features=feats, shards=[
        {"split": "test", "file": name, "num_rows": len(cols["sample_id"]), "sha256": sha,
         "rejects": []}], extra={"kind": kind})


@pytest.fixture()
def build(photo_crops224: list[np.ndarray], tmp_path: Path) -> Path:
    """24 real photo crops (label = row % 5); an audit whose top-20 queue ranks row 19 first."""
    ids = [f"photos/test/{i}" for i in range(N)]
    labels = [i % 5 for i in range(N)]
    _config(tmp_path / "b/clean", {
        "sample_id": ids,
        "image": [{"bytes": encode_png(p[::4, ::4]), "path": None} for p in photo_crops224[:N]],
        "label": labels, "source": ["photos"] * N, "split": ["test"] * N,
        "key": [str(i) for i in range(N)]}, build_features(NAMES), "clean")
    _config(tmp_path / "b/audit", {
        "sample_id": ids, "review_candidate": [i < 20 for i in range(N)],
        "rank": [20 - i if i < 20 else i + 1 for i in range(N)],
        "suggested_label": [(y + 1) % 5 for y in labels]}, datasets.Features({
            "sample_id": datasets.Value("string"), "review_candidate": datasets.Value("bool"),
            "rank": datasets.Value("int32"), "suggested_label": datasets.Value("int64")}),
        "audit")
    return tmp_path / "b"


def _serve(root: Path, votes: Path, annotator: str):
    q = build_queue([root], predictions=None, audit_column=None)
    server = make_server(q, VotesFile(votes), annotator=annotator, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return q, server


def test_two_reviewers_walk_twenty_items_then_labels_and_slices(build: Path,
                                                                 tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    q, server_a = _serve(build, tmp_path / "ann.jsonl", "ann")
    # Audit-rank order (review_candidate is the default queue): row 19 has rank 1.
    assert [it.sample_id for it in q.items] == [f"photos/test/{r}" for r in range(19, -1, -1)]
    _, server_b = _serve(build, tmp_path / "bob.jsonl", "bob")
    try:
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page()
            saved = [0]

            def open_page(server) -> None:
                saved[0] = 0
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
                page.wait_for_selector("body[data-ready='1']")

            def at(row: int) -> None:
                assert page.inner_text("#sid") == f"photos/test/{row}"

            def press(*keys: str, lines: int = 0) -> None:
                for k in keys:
                    page.keyboard.press(k)
                if lines:
                    saved[0] += lines
                    page.wait_for_selector(f"body[data-saved='{saved[0]}']")

            def given(row: int) -> str:
                return str(row % 5)

            def sugg(row: int) -> str:
                return str((row % 5 + 1) % 5)

            # Reviewer "ann": all 20 items.
            open_page(server_a)
            at(19)
            assert "rank 1" in page.inner_text("#kind")
            assert page.inner_text("#choice") == "given label correct (default)"
            press("Enter", lines=1)                                  # 19: given correct
            at(18)
            press("n")
            assert page.inner_text("#choice") == "no label is valid"
            press("Enter", lines=1)                                  # 18: no valid label
            at(17)
            press(sugg(17), "Enter", lines=1)                        # 17: the suggestion
            at(16)
            press("u", lines=1)                                      # 16: unsure
            at(15)                                                   # 15: a class not offered
            assert "rocket" not in page.inner_text("#cands")
            press("/")
            page.keyboard.type("rock")
            assert "2 rocket" in page.inner_text("#matches")
            press("Enter")
            assert page.inner_text("#choice") == "valid: 2 rocket"
            press("Enter", lines=1)
            at(14)
            press(given(14), sugg(14), "Enter", lines=1)             # 14: both labels valid
            at(13)
            press("s", "Shift+M")                                    # 13: category + severity
            assert "on" in page.locator("#sevs .opt[data-value='major']").get_attribute("class")
            press("Enter", lines=1)
            at(12)
            press(sugg(12), "Enter", lines=1)                        # 12: a slip ...
            at(11)
            press("z", lines=1)                                      # ... undone
            at(12)
            assert "reviewed" not in page.inner_text("#kind")
            press("Enter", lines=1)                                  # 12: given correct
            for row in range(11, -1, -1):
                at(row)
                press("Enter", lines=1)
            progress = page.inner_text("#progress")
            assert progress.startswith("20 / 20 reviewed")
            assert "unsure 1" in progress and "other set 4" in progress
            # Reviewer "bob": the first six items.
            open_page(server_b)
            at(19)
            press("Enter", lines=1)                                  # 19: agrees
            press("Enter", lines=1)                                  # 18: disagrees (correct)
            press(sugg(17), "Enter", lines=1)                        # 17: agrees
            press("Enter", lines=1)                                  # 16: correct (ann unsure)
            press("2", "Enter", lines=1)                             # 15: agrees (class id 2)
            press(given(14), sugg(14), "Enter", lines=1)             # 14: agrees
            browser.close()
    finally:
        for s in (server_a, server_b):
            s.shutdown()
            s.server_close()

    spec = parse_section({"sources": [{"importer": "review", "path": str(tmp_path / "ann.jsonl")}],
                          "aggregate": {"rule": "majority"}}, "m: reannotate")
    meta = reannotate(spec, [build], tmp_path / "labels", extra_votes=[tmp_path / "bob.jsonl"])
    t = read_config(tmp_path / "labels/labels", ["sample_id", "labels", "label_error"])
    sets = dict(zip(t["sample_id"].to_pylist(), t["labels"].to_pylist(), strict=True))
    err = dict(zip(t["sample_id"].to_pylist(), t["label_error"].to_pylist(), strict=True))

    def sid(r: int) -> str:
        return f"photos/test/{r}"

    expected = {19: [4], 18: [], 17: [3], 16: [1], 15: [2], 14: [0, 4], 13: [3], 12: [2]}
    expected.update({r: [r % 5] for r in range(12)})
    assert {r: sets[sid(r)] for r in range(20)} == expected
    assert {r for r in range(20) if err[sid(r)]} == {18, 17, 15, 14}
    assert all(err[sid(r)] is None for r in range(20, N))  # never reviewed
    c = meta["counts"]
    assert (c["voted_rows"], c["empty_sets"], c["multi_label"], c["given_not_valid"],
            c["validated_errors"]) == (20, 1, 1, 3, 4)
    a = meta["reviewer_agreement"]
    assert a["reviewers"] == ["ann", "bob"]
    assert (a["items_reviewed"], a["items_multi"], a["items_unanimous"]) == (20, 5, 4)
    assert a["cohen_kappa"]["ann|bob"] == pytest.approx(0.75)
    assert a["fleiss_kappa"] == pytest.approx((0.8 - 0.22) / 0.78)
    assert "Fleiss' kappa 0.74" in meta["description"]
    # The category and severity ann gave on row 13 travel with its vote.
    votes = read_config(tmp_path / "labels/labels", ["sample_id", "votes"])
    row13 = [v for s, vs in zip(votes["sample_id"].to_pylist(), votes["votes"].to_pylist(),
                                strict=True) if s == sid(13) for v in vs]
    assert [(v["category"], v["severity"]) for v in row13] == [("spurious_correlation", "major")]

    specs = parse_slices([{"name": "label_error", "rule": "label_error"},
                          {"name": "multi_label", "rule": "multi_label"},
                          {"name": "clean", "rule": "clean"}], "m: slices")
    res = write_slices(specs, [build, tmp_path / "labels"], tmp_path / "slices")
    members = {n: set(read_config(tmp_path / "slices" / n, ["sample_id"])["sample_id"]
                      .to_pylist()) for n in res}
    assert members["label_error"] == {sid(r) for r in (18, 17, 15, 14)}
    assert members["multi_label"] == {sid(14)}
    assert len(members["clean"]) == N - 4
