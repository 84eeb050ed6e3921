"""Time the ``audit`` stage (built-in route) on MNIST and CIFAR-10 test, and reproduce the paper.

Usage::

    python3 benchmarks/bench_audit.py [--shared ../shared] [--work /tmp/bench_audit]
        [--datasets mnist cifar10] [--limit N] [--grid out.png]

For each dataset: pull the 10,000 test images from shared/ (MNIST IDX via the
``mnist`` source, the JPEG-decoded CIFAR-10 parquet via the ``parquet`` source),
then time ``benchsmith audit`` with the built-in route (random k-means
convolutional features + 5-fold logistic regression, folds on dask threads,
2 workers). Reports held-out accuracy, stage time per step, counts, and how the
built-in flags overlap the paper's (label-errors) candidates. Also reproduces
the paper's MNIST candidate set from its published probabilities and reports
the CIFAR-10 counterpart numbers. Writes ``benchmarks/results/audit.md`` and a
PNG grid of the first flagged MNIST rows for eye review.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

SETTINGS = {
    "mnist": {"source": {"source": "mnist", "splits": ["test"]},
              "options": lambda s: {"path": str(s / "datasets/mnist")},
              "featurizer_params": {"filters": 128, "patch": 5}, "candidates": 100},
    "cifar10": {"source": {"source": "parquet", "name": "cifar10", "splits": ["test"]},
                "options": lambda s: {"files": {"test": str(
                    s / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")}},
                "featurizer_params": {"filters": 128, "patch": 6}, "candidates": 275},
}


def paper_numbers(shared: Path) -> dict:
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues

    from pipeline.audit.reference import load_release, mturk_records, paper_candidates

    rel_dir = shared / "reference/label-errors"
    out = {}
    for ds, k in (("mnist", 100), ("cifar10", 275)):
        rel = load_release(rel_dir, ds, prefix=ds)
        p = rel.pred_probs / rel.pred_probs.sum(axis=1, keepdims=True)
        cand = {rel.sample_ids[i] for i in paper_candidates(rel.labels, rel.pred_probs, k)}
        row = {
            "k": k,
            "accuracy_of_paper_probs": float((p.argmax(1) == rel.labels).mean()),
            "num_label_issues_estimated": int(num_label_issues(rel.labels, p)),
            "find_label_issues": {fb: int(find_label_issues(rel.labels, p, filter_by=fb).sum())
                                  for fb in ("prune_by_noise_rate", "prune_by_class", "both",
                                             "confident_learning", "predicted_neq_given")},
        }
        if (rel_dir / f"{ds}_mturk.json").is_file():
            mt = mturk_records(rel_dir, ds, prefix=ds)
            published = {r["sample_id"] for r in mt}
            validated = {r["sample_id"] for r in mt if r["validated_error"]}
            row.update(published=len(published), reproduced=len(cand & published),
                       exact=cand == published, validated=len(validated),
                       validated_in_candidates=len(validated & cand))
        else:
            row["published"] = None  # no candidate list for this dataset in shared/
        out[ds] = {"row": row, "candidates": cand}
    return out


def run_dataset(ds: str, shared: Path, work: Path, limit: int | None) -> dict:
    from pipeline.audit.stage import run_audit
    from pipeline.manifest import load_manifest
    from pipeline.pull import pull

    cfg = SETTINGS[ds]
    root = work / ds
    root.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": f"{ds}-audit", "seed": 0,
        "sources": [{**cfg["source"], "options": cfg["options"](shared), "limit": limit}],
        "audit": {"probs": {"route": "builtin", "featurizer": "random_conv",
                            "featurizer_params": cfg["featurizer_params"], "pca_dims": 256,
                            "folds": 5, "C": 0.01},
                  "filter_by": "prune_by_noise_rate", "rank_by": "normalized_margin",
                  "candidates": cfg["candidates"], "report": {"max_rows": 300}},
    }
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    m = load_manifest(root / "manifest.yaml")
    t = time.perf_counter()
    pull(m, root / "pulled", scheduler="threads", workers=2, progress=False)
    pull_s = time.perf_counter() - t
    metrics = run_audit(root / "pulled/clean", root / "audit", m.sections["audit"], seed=0,
                        scheduler="threads", workers=2)
    return {"pull_s": round(pull_s, 2), **metrics, "out": str(root / "audit")}


def flagged_ids(out: Path) -> tuple[list[str], set[str]]:
    from pipeline.shards import list_shards, read_shard

    table, _ = read_shard(list_shards(out / "audit")["test"][0])
    rows = sorted(zip(table["rank"].to_pylist(), table["sample_id"].to_pylist(),
                      table["review_candidate"].to_pylist(), strict=True))
    issues = {s for s, f in zip(table["sample_id"].to_pylist(),
                                table["label_issue"].to_pylist(), strict=True) if f}
    return [s for _, s, c in rows if c], issues


def grid(out: Path, ids: list[str], png: Path, cols: int = 10) -> None:
    """Upscaled grid of flagged rows with 'rank: given->suggested' captions."""
    from PIL import Image, ImageDraw

    from pipeline.shards import list_shards, read_shard
    from pipeline.sources.hf import decode_image

    table, feats = read_shard(list_shards(out / "audit")["test"][0])
    names = feats["label"].names
    info = {s: (g, q, r) for s, g, q, r in zip(
        table["sample_id"].to_pylist(), table["label"].to_pylist(),
        table["suggested_label"].to_pylist(), table["rank"].to_pylist(), strict=True)}
    images = {}
    for path in list_shards(out.parent / "pulled/clean")["test"]:
        clean, _ = read_shard(path, ["sample_id", "image"])
        images.update(zip(clean["sample_id"].to_pylist(),
                          [d["bytes"] for d in clean["image"].to_pylist()], strict=True))
    cell, cap = 84, 26
    rows = (len(ids) + cols - 1) // cols
    canvas = Image.new("RGB", (cols * cell, rows * (cell + cap)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, sid in enumerate(ids):
        img = Image.fromarray(decode_image(images[sid])).convert("RGB").resize((cell - 4, cell - 4),
                                                                               Image.NEAREST)
        x, y = (j % cols) * cell, (j // cols) * (cell + cap)
        canvas.paste(img, (x + 2, y + 2))
        g, q, r = info[sid]
        draw.text((x + 2, y + cell), f"#{sid.rsplit('/', 1)[1]} r{r}", fill="black")
        draw.text((x + 2, y + cell + 12), f"{names[g]}->{names[q]}", fill="red")
    canvas.save(png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default=str(REPO.parent / "shared"))
    parser.add_argument("--work", default="/tmp/bench_audit")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--grid", default=None, help="PNG grid of the first 60 MNIST candidates")
    args = parser.parse_args()
    shared, work = Path(args.shared), Path(args.work)
    paper = paper_numbers(shared)
    lines = ["# audit stage benchmark", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"load average at start {os.getloadavg()[0]:.1f} (shared machine)", "",
             "## Paper reproduction (label-errors release probabilities)", "",
             "```", json.dumps({k: v["row"] for k, v in paper.items()}, indent=1), "```", ""]
    results = {}
    for ds in args.datasets:
        res = run_dataset(ds, shared, work, args.limit)
        cand, issues = flagged_ids(Path(res["out"]))
        pc = paper[ds]["candidates"]
        res["overlap_with_paper_candidates"] = len(set(cand) & pc)
        if ds == "mnist":
            from pipeline.audit.reference import mturk_records

            mt = mturk_records(shared / "reference/label-errors", "mnist", prefix="mnist")
            val = {r["sample_id"] for r in mt if r["validated_error"]}
            res["validated_errors_in_builtin_candidates"] = len(val & set(cand))
            res["validated_errors_in_builtin_label_issues"] = len(val & issues)
            if args.grid:
                grid(Path(res["out"]), cand[:60], Path(args.grid))
        results[ds] = res
        print(ds, json.dumps(res, indent=1), flush=True)
    lines += ["## Built-in route (random k-means conv features + 5-fold logistic regression)", "",
              "```", json.dumps(results, indent=1), "```", ""]
    out = REPO / "benchmarks/results/audit.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
