"""End-to-end ``benchsmith audit`` on real MNIST shards, and the report in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.audit.reference import export_pred_probs, load_release, mturk_records
from pipeline.cli import main as cli_main
from pipeline.manifest import load_manifest
from pipeline.pull import pull
from pipeline.shards import list_shards, read_config_manifest, read_shard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _manifest(path: Path, shared: Path, audit: dict, limit: int | None) -> Path:
    path.write_text(yaml.safe_dump({
        "name": "mnist-audit", "seed": 0,
        "sources": [{"source": "mnist", "splits": ["test"], "limit": limit,
                     "options": {"path": str(shared / "datasets/mnist")}}],
        "audit": audit,
    }))
    return path


@pytest.fixture(scope="module")
def mnist_full(tmp_path_factory, shared_dir):
    root = tmp_path_factory.mktemp("audit_full")
    m = _manifest(root / "m.yaml", shared_dir, {"probs": {"route": "builtin"}}, None)
    pull(load_manifest(m), root / "pulled", scheduler="threads", progress=False)
    return root


def test_file_route_reproduces_paper_candidates_end_to_end(mnist_full, shared_dir, tmp_path):
    rel_dir = shared_dir / "reference/label-errors"
    probs = export_pred_probs(load_release(rel_dir, "mnist", prefix="mnist"), tmp_path / "p.npz")
    m = _manifest(tmp_path / "m.yaml", shared_dir, {
        # The paper's own probabilities from a file, nothing else (this died with a
        # TypeError in the built-in featurizer before the file route skipped it).
        "probs": {"route": "file"},
        "rank_by": "normalized_margin", "candidates": 100, "report": {"max_rows": 120},
    }, None)
    out = tmp_path / "audit"
    rc = cli_main(["audit", "--manifest", str(m), "--clean", str(mnist_full / "pulled/clean"),
                   "--out", str(out), "--probs", str(probs), "--no-progress"])
    assert rc == 0
    cfg = read_config_manifest(out / "audit")
    assert cfg["kind"] == "audit" and cfg["description"]
    assert cfg["splits"]["test"]["num_rows"] == 10000
    (shard,) = list_shards(out / "audit")["test"]
    table, feats = read_shard(shard)
    assert list(feats) == list(table.column_names)
    assert str(table.schema.field("quality").type) == "float"
    assert str(table.schema.field("pred_probs").type) == "list<element: float>"
    ids = table["sample_id"].to_pylist()
    assert len(set(ids)) == 10000
    cand = {s for s, c in zip(ids, table["review_candidate"].to_pylist(), strict=True) if c}
    assert cand == {r["sample_id"] for r in mturk_records(rel_dir, "mnist", prefix="mnist")}
    ranks = dict(zip(ids, table["rank"].to_pylist(), strict=True))
    assert sorted(ranks.values()) == list(range(1, 10001))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_review_candidates"] == 100 and metrics["num_label_issues"] == 15
    assert metrics["heldout_accuracy"] == pytest.approx(0.9913, abs=1e-4)
    assert metrics["review_queue_k_method"] == "fixed"
    # No feature space was given: no built-in features were computed, no neighbours shown.
    assert metrics["neighbour_features"] == "none" and metrics["num_outliers"] == 0
    assert "features_s" in metrics["seconds"] and metrics["seconds"]["features_s"] < 1.0
    html = (out / "report.html").read_text()
    shown = html.count('<tr id="mnist/test/')
    assert 100 <= shown <= 120 and html.count("data-k=") == shown  # no neighbours
    assert len(html) < 200_000  # each image once, no built-in-feature neighbours
    assert "Label audit of clean" in html

    # candidates: paper -> K from cleanlab 1.0's uncalibrated confident joint (15 on MNIST).
    m2 = _manifest(tmp_path / "m2.yaml", shared_dir, {"probs": {"route": "file"},
                                                       "candidates": "paper"}, None)
    out2 = tmp_path / "audit_paper"
    assert cli_main(["audit", "--manifest", str(m2), "--clean", str(mnist_full / "pulled/clean"),
                     "--out", str(out2), "--probs", str(probs), "--no-progress"]) == 0
    m2x = json.loads((out2 / "metrics.json").read_text())
    assert m2x["num_review_candidates"] == 15 and m2x["review_queue_k_method"] == "paper"


def test_builtin_route_small_subset(tmp_path, shared_dir):
    m = _manifest(tmp_path / "m.yaml", shared_dir, {
        "probs": {"route": "builtin", "featurizer": "random_conv",
                  "featurizer_params": {"filters": 32, "patch": 5, "sample_patches": 5000},
                  "folds": 3, "pca_dims": 96},
        "filter_by": "both", "rank_by": "self_confidence",
    }, 1200)
    pull(load_manifest(m), tmp_path / "pulled", scheduler="sync", progress=False)
    out = tmp_path / "audit"
    assert cli_main(["audit", "--manifest", str(m), "--clean", str(tmp_path / "pulled/clean"),
                     "--out", str(out), "--scheduler", "threads", "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_rows"] == 1200 and metrics["heldout_accuracy"] > 0.9
    assert metrics["num_review_candidates"] == metrics["num_issues_estimated"]
    (shard,) = list_shards(out / "audit")["test"]
    table, _ = read_shard(shard)
    probs = np.asarray(table["pred_probs"].to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    # Same seed, same bytes: a rerun gives an identical table.
    out2 = tmp_path / "audit2"
    cli_main(["audit", "--manifest", str(m), "--clean", str(tmp_path / "pulled/clean"),
              "--out", str(out2), "--scheduler", "sync", "--no-progress"])
    assert read_shard(list_shards(out2 / "audit")["test"][0])[0].equals(table)
    # Embeddings route: user vectors keyed by sample_id (here: HOG of the same images, shuffled).
    from pipeline.audit.features import featurize
    from pipeline.audit.stage import load_clean

    data = load_clean(tmp_path / "pulled/clean")
    emb = featurize("hog", np.stack(data["images"]), rng=np.random.default_rng(0), cell=7)
    order = np.random.default_rng(0).permutation(len(emb))
    np.savez(tmp_path / "emb.npz", sample_id=np.asarray(data["sample_ids"])[order],
             embedding=emb[order])
    out3 = tmp_path / "audit3"
    assert cli_main(["audit", "--manifest", str(m), "--clean", str(tmp_path / "pulled/clean"),
                     "--out", str(out3), "--probs", str(tmp_path / "emb.npz"),
                     "--set", "audit.probs.route=embeddings", "--no-progress"]) == 0
    m3 = json.loads((out3 / "metrics.json").read_text())
    assert m3["route"] == "embeddings" and m3["heldout_accuracy"] > 0.85


def test_missing_section_is_a_clear_error(tmp_path, shared_dir, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump({"name": "x",
                                 "sources": [{"source": "digits", "splits": ["train"]}]}))
    rc = cli_main(["audit", "--manifest", str(m), "--clean", str(tmp_path), "--out", str(tmp_path)])
    assert rc == 2 and "no `audit:` section" in capsys.readouterr().err
    out = tmp_path / "skipped"
    assert cli_main(["audit", "--manifest", str(m), "--clean", str(tmp_path), "--out", str(out),
                     "--optional"]) == 0
    assert json.loads((out / "stage.json").read_text())["configs"] == []
    assert json.loads((out / "metrics.json").read_text()) == {"skipped": True}
    assert (out / "report.html").is_file()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install "
                    "chromium); CI must install it to test the report")
def test_report_renders_images_and_sorts_in_chromium(tmp_path, shared_dir):
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from pipeline.audit.report import ReportRow, write_report
    from pipeline.shards import encode_png
    from pipeline.sources import make_source

    src = make_source("mnist", {"path": str(shared_dir / "datasets/mnist")})
    ex = list(src.read("test", 0, 40))
    pngs = [encode_png(e.image) for e in ex]
    quality = np.random.default_rng(0).random(20)
    rows = [ReportRow(sample_id=f"mnist/test/{ex[i].key}", png=pngs[i], given=str(ex[i].label),
                      suggested=str((ex[i].label + i % 2) % 10), quality=float(quality[i]),
                      rank=i + 1, flags=("label_issue",) if i % 3 == 0 else (),
                      neighbours=tuple((str(ex[j].label), f"mnist/test/{j}", pngs[j])
                                       for j in range(20, 30)),
                      top=((str(ex[i].label), 0.7), ("3", 0.2), ("5", 0.1)))
            for i in range(20)]
    path = write_report(tmp_path / "report.html", rows, title="t", summary={"rows": 20})
    text = path.read_text()
    # Each distinct image is stored once: 20 rows + 10 shared neighbours.
    assert text.count('":"iVBOR') == 30 and text.count("data-k=") == 20 * 11
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(path.resolve().as_uri())
        widths = page.eval_on_selector_all(
            "#audit img", "els => els.map(e => e.complete && e.naturalWidth)")
        assert len(widths) == 20 * 11 and all(w == 28 for w in widths)
        assert "0.700" in page.inner_text("#audit tbody tr:first-child td.top")
        page.click("#audit tbody tr:first-child img.main")  # enlarge, then close
        assert page.is_visible("#zoom img")
        assert page.eval_on_selector("#zoom img", "e => e.getBoundingClientRect().width") > 200
        page.keyboard.press("Escape")
        assert not page.is_visible("#zoom img")
        col = "#audit tbody tr td:nth-child(7)"
        page.click("th:has-text('quality')")
        values = "els => els.map(e => e.dataset.value)"
        asc = [float(v) for v in page.eval_on_selector_all(col, values)]
        assert asc == sorted(asc) and asc != [float(f"{q:.6g}") for q in quality]
        page.click("th:has-text('quality')")
        desc = [float(v) for v in page.eval_on_selector_all(col, values)]
        assert desc == sorted(asc, reverse=True)
        page.click("th:has-text('rank')")
        ranks = page.eval_on_selector_all("#audit tbody tr td:first-child",
                                          "els => els.map(e => +e.textContent)")
        assert ranks == list(range(1, 21))
        browser.close()
