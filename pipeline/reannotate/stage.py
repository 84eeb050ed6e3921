"""The ``reannotate`` stage: votes -> a ``labels`` config with the raw votes beside the sets.

Output: ``<out>/<config_name>/``, one row per clean row (or per voted row with
``unvoted: drop``): ``sample_id``, ``label`` (given), ``labels`` (List(ClassLabel);
empty = no valid label), ``num_votes``, ``agreement`` (share of vote decisions that
agree with the set), ``label_error`` (the given label is a validated error by
:mod:`pipeline.label_rules`; null without counted votes) and ``votes``: the raw
votes of the row (every imported vote that joined; the columns of
:data:`~pipeline.reannotate.importers.VOTE_SCHEMA` but ``sample_id``).
``manifest.json`` has ``kind: labels``, the rule, its parameters, per-source join
reports and counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pipeline.errors import BenchsmithError
from pipeline.label_rules import validated_errors
from pipeline.manifest import Manifest
from pipeline.reannotate.aggregate import aggregate
from pipeline.reannotate.agreement import reviewer_agreement
from pipeline.reannotate.config import ReannotateSpec
from pipeline.reannotate.importers import (
    IMPORTERS,
    VOTE_SCHEMA,
    check_join,
    concat_votes,
    import_review,
)
from pipeline.reannotate.tables import class_names, find_configs, pick_config, read_config
from pipeline.shards import shard_name, write_config_manifest, write_shard
from pipeline.stage import contained, prepare_output, refuse_overlap
from pipeline.version import code_version

__all__ = ["label_features", "reannotate", "main"]


VOTE_FIELDS = tuple(n for n in VOTE_SCHEMA.names if n != "sample_id")


def label_features(names: list[str]) -> datasets.Features:
    """Return the features of a ``labels`` config.

    Class indices inside ``votes`` are plain int32, not ClassLabel: ``offered`` is null for
    complete-set votes.
    """
    vote = {n: datasets.Value("string") for n in VOTE_FIELDS}
    vote.update({"labels": datasets.List(datasets.Value("int32")),
                 "offered": datasets.List(datasets.Value("int32")),
                 "given": datasets.Value("int32")})
    return datasets.Features({
        "sample_id": datasets.Value("string"),
        "label": datasets.ClassLabel(names=names),
        "labels": datasets.List(datasets.ClassLabel(names=names)),
        "num_votes": datasets.Value("int32"),
        "agreement": datasets.Value("float32"),
        "label_error": datasets.Value("bool"),
        "votes": datasets.List({n: vote[n] for n in VOTE_FIELDS}),
    })


def _pred_probs(path: str, ids: set[str], num_classes: int) -> dict[str, np.ndarray]:
    from pipeline.reannotate.tables import read_predictions

    t = read_predictions(path, num_classes)
    if t["probs"].null_count:
        raise BenchsmithError(f"{path}: pred_probs needs a probs column on every row")
    out = {s: np.asarray(p, np.float32) for s, p in zip(
        t["sample_id"].to_pylist(), t["probs"].to_pylist(), strict=True) if s in ids}
    return out


def reannotate(
    spec: ReannotateSpec,
    clean_roots: list[Path],
    out: Path,
    *,
    extra_votes: list[Path] | None = None,
    benchmark: str = "",
) -> dict[str, Any]:
    """Import, join, aggregate and write the labels and votes configs.

    Args:
        spec: The validated ``reannotate`` section.
        clean_roots: Folders holding the clean config.
        out: Output folder.
        extra_votes: Review vote files (JSON lines) added to the manifest's sources.
        benchmark: Benchmark name for the manifests.

    Returns:
        The labels config's ``manifest.json`` content.

    """
    refuse_overlap(out, clean_roots, inputs_flag="--clean")
    configs = find_configs(clean_roots)
    cname, cdir, cmeta = pick_config(configs, "clean", spec.clean_config)
    names = class_names(cmeta)
    clean = read_config(cdir, ["sample_id", "label", "split"])
    sids = clean["sample_id"].to_pylist()
    given = dict(zip(sids, clean["label"].to_pylist(), strict=True))
    if len(given) != len(sids):
        raise BenchsmithError(f"{cdir}: duplicate sample_ids; run `benchsmith validate`")
    tables, reports = [], []
    sources = [(s.importer, s.path, s.options) for s in spec.sources]
    sources += [("review", str(p), {}) for p in extra_votes or []]
    skipped_lines = 0
    for importer, path, options in sources:
        if importer == "review":
            votes, skipped = import_review(path)
            skipped_lines += skipped
        else:
            votes = IMPORTERS[importer][0](path, **options)
            if not votes.num_rows:
                raise BenchsmithError(f"{importer}:{path} holds no votes; check the file (an "
                                      "empty list or matrix) and the importer")
        matched, rep = check_join(votes, given, source=f"{importer}:{path}",
                                  num_classes=len(names), min_agreement=spec.min_agreement)
        tables.append(matched)
        reports.append(rep.as_dict())
    votes = concat_votes(tables)
    probs = (_pred_probs(spec.pred_probs, set(votes["sample_id"].to_pylist()), len(names))
             if spec.pred_probs else None)
    agg = aggregate(votes, given, rule=spec.rule, threshold=spec.threshold, pred_probs=probs,
                    sample_order=sids)
    by_sample: dict[str, list[dict[str, Any]]] = {}
    vcols = {c: votes[c].to_pylist() for c in VOTE_SCHEMA.names}
    for i, s in enumerate(vcols["sample_id"]):
        by_sample.setdefault(s, []).append({n: vcols[n][i] for n in VOTE_FIELDS})
    agreement = reviewer_agreement(votes, given)
    errors = validated_errors(
        ({"sample_id": s, "labels": vcols["labels"][i], "offered": vcols["offered"][i],
          "verdict": vcols["verdict"][i]} for i, s in enumerate(vcols["sample_id"])), given)
    rows: dict[str, list[Any]] = {k: [] for k in ("sample_id", "label", "labels", "num_votes",
                                                  "agreement", "label_error", "votes", "split")}
    for s, lab, split in zip(sids, clean["label"].to_pylist(), clean["split"].to_pylist(),
                             strict=True):
        voted = s in agg.labels
        if not voted and spec.unvoted == "drop":
            continue
        rows["sample_id"].append(s)
        rows["label"].append(lab)
        rows["labels"].append(agg.labels[s] if voted else [lab])
        rows["num_votes"].append(agg.num_votes.get(s, 0))
        rows["agreement"].append(agg.agreement.get(s, float("nan")))
        rows["label_error"].append(errors.get(s))
        rows["votes"].append(by_sample.get(s, []))
        rows["split"].append(split)
    feats = label_features(names)
    ldir = contained(Path(out), spec.config_name, key="reannotate.config_name")
    shards = _write_by_split(ldir, rows, feats)
    sets = [x for x, n in zip(rows["labels"], rows["num_votes"], strict=True) if n]
    counts = {
        "rows": len(rows["sample_id"]),
        "voted_rows": len(sets),
        "empty_sets": sum(1 for x in sets if not x),
        "multi_label": sum(1 for x in sets if len(x) > 1),
        "given_not_valid": sum(1 for s, x, n in zip(rows["sample_id"], rows["labels"],
                                                    rows["num_votes"], strict=True)
                               if n and given[s] not in x),
        "validated_errors": sum(1 for e in errors.values() if e),
        "votes": votes.num_rows,
        "review_lines_skipped": skipped_lines,
    }
    rule_text = (f"majority vote (a label is valid when more than {spec.threshold:.0%} of the "
                 "votes that judged it marked it valid)" if spec.rule == "majority" else
                 "plurality vote (the label(s) most votes marked valid, ties kept)"
                 if spec.rule == "plurality" else
                 "cleanlab multi-annotator consensus (CROWDLAB) over (sample, class) questions"
                 + (" with model pred_probs" if probs is not None
                    else ", majority without pred_probs"))
    src_text = ", ".join(sorted({f"{i}" for i, _, _ in sources}))
    return write_config_manifest(ldir, config=ldir.name, features=feats, shards=shards, extra={
        "benchmark": benchmark,
        "clean_config": cname,
        "code_version": code_version(),
        "kind": "labels",
        "rule": spec.rule,
        "params": {"threshold": spec.threshold, "pred_probs": spec.pred_probs,
                   "unvoted": spec.unvoted, "min_agreement": spec.min_agreement},
        "sources": [{"importer": i, "path": p, "options": o} for i, p, o in sources],
        "joins": reports,
        "counts": counts,
        "reviewer_agreement": agreement,
        "description": (
            f"ReaL-style sets of valid labels for `{cname}` ({counts['voted_rows']} re-annotated "
            f"rows: {counts['multi_label']} multi-label, {counts['empty_sets']} with no valid "
            f"label, {counts['given_not_valid']} whose given label is not in the set, "
            f"{counts['validated_errors']} validated label errors by the label-errors paper's "
            "rule: the given label is wrong unless a strict majority of the votes confirmed it "
            "as the label, a 'both' vote not confirming it), aggregated by "
            f"{rule_text} from {src_text}; rows without votes keep their given label; each "
            "row keeps its raw votes (annotator, labels, verdict, category, severity, source)."
            + _agreement_text(agreement)),
    })


def _agreement_text(a: dict[str, Any]) -> str:
    """One sentence on the named reviewers' agreement, for the card ("" without reviewers)."""
    if not a["reviewers"]:
        return ""
    fk = a["fleiss_kappa"]
    pairs = "; ".join(f"{k}: {v:.2f}" for k, v in a["cohen_kappa"].items() if v is not None)
    return (f" Reviewers {', '.join(a['reviewers'])} decided {a['items_reviewed']} rows; "
            f"{a['items_multi']} by two or more ({a['items_unanimous']} unanimous"
            + (f", Fleiss' kappa {fk:.2f}" if fk is not None else "")
            + (f"; Cohen's kappa {pairs}" if pairs else "") + ").")


def _write_by_split(cdir: Path, cols: dict[str, list[Any]], feats: datasets.Features) -> list[dict]:
    splits = cols.pop("split")
    records = []
    names = sorted(set(splits)) or ["votes"]  # ownership and stale removal: pipeline/stage.py
    prepare_output(cdir.parent, [cdir / "manifest.json", *(cdir / shard_name(s, 0, 1)
                                                           for s in names)])
    for split in names:
        idx = [i for i, s in enumerate(splits) if s == split]
        part = {k: [v[i] for i in idx] for k, v in cols.items()}
        name = shard_name(split, 0, 1)
        sha = write_shard(cdir / name, part, feats)
        records.append({"split": split, "file": name, "num_rows": len(idx), "sha256": sha,
                        "rejects": []})
    return records


def main(argv: list[str] | None = None) -> int:
    """``benchsmith reannotate``: aggregate annotation votes into multi-label sets."""
    from pipeline.manifest import load_manifest
    from pipeline.stage import add_common_args, skip_stage

    parser = argparse.ArgumentParser(prog="benchsmith reannotate", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--clean", required=True, action="append", type=Path,
                        help="folder holding the clean config (e.g. data/pulled); repeatable")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder, e.g. data/reannotate")
    parser.add_argument("--votes", action="append", type=Path, default=[],
                        help="extra review votes file (JSON lines from `benchsmith review`)")
    args = parser.parse_args(argv)
    manifest: Manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    spec = manifest.sections.get("reannotate")
    if spec is None:
        if args.optional:
            return skip_stage(args.out, "reannotate", manifest.path)
        raise BenchsmithError(f"{manifest.path} has no reannotate section")
    m = reannotate(spec, args.clean, args.out, extra_votes=args.votes, benchmark=manifest.name)
    print(f"reannotate {m['config']}: {m['counts']}")
    for j in m["joins"]:  # dropped votes are counted in manifest.json; say so here too
        if j["votes"] != j["matched_votes"]:
            print(f"reannotate: {j['source']}: {j['votes'] - j['matched_votes']} of {j['votes']} "
                  f"votes name sample_ids not in the clean config (e.g. "
                  f"{j['unmatched_examples'][:2]}); dropped and counted in manifest.json joins",
                  file=sys.stderr)
    return 0


