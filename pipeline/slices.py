"""The ``slices`` stage: curated subsets as rules over the label and vote tables.

Manifest section (each entry becomes one config folder, ``kind: slice``, with its
definition in ``manifest.json`` ``description``)::

    slices:
      - name: major                 # ImageNet-Major style (Vasudevan et al., 2022)
        rule: major
        models: [vit3b, greedy_soups]
        min_models: 2               # >= k of the listed models' predictions judged major
      - name: multi_label           # > 1 valid label in the aggregated set
        rule: multi_label
      - name: label_error           # re-annotation rejected the given label
        rule: label_error
        audit_column: null          # or a boolean column of the audit config that must also hold
      - name: clean                 # every row in none of the slices above
        rule: clean

Rows carry ``sample_id``, ``label``, ``labels`` (the aggregated set, or ``[label]`` for
rows without votes) and ``reason``; ``images: true`` copies the clean images in, so
the slice loads as a stand-alone benchmark.

References:
    Vasudevan et al., "When does dough become a bagel? Analyzing the remaining mistakes on
    ImageNet", NeurIPS 2022 Datasets and Benchmarks (ImageNet-Major).

"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa

from pipeline.errors import BenchsmithError, ManifestError
from pipeline.manifest import NAME_RE, check_keys
from pipeline.reannotate.tables import class_names, find_configs, pick_config, read_config
from pipeline.schema import build_features
from pipeline.shards import shard_name, write_config_manifest, write_shard
from pipeline.stage import contained, prepare_output, refuse_overlap
from pipeline.version import code_version

__all__ = ["RULES", "SliceSpec", "parse_section", "select", "write_slices", "main"]

RULES: dict[str, str] = {
    "major": "at least min_models of the listed models' predictions were judged major mistakes",
    "multi_label": "more than one valid label in the aggregated set",
    "label_error": "the given label is a validated error: re-annotation did not confirm it by a "
    "strict majority of votes (the label-errors paper's rule, pipeline.label_rules)",
    "clean": "every row in none of the other slices of the manifest",
}
SLICE_KEYS = {
    "name": "config name ([a-z0-9_-])",
    "rule": f"one of {list(RULES)}",
    "models": "major: model names as in the votes' model column",
    "min_models": "major: how many of the models must make a major mistake (int >= 1)",
    "audit_column": "label_error: boolean column of the audit config that must also be true",
    "images": "copy the clean images into the slice (default false)",
    "description": "extra text for the dataset card",
}


@dataclass(frozen=True)
class SliceSpec:
    """One validated slice definition."""

    name: str
    rule: str
    models: tuple[str, ...] = ()
    min_models: int = 1
    audit_column: str | None = None
    images: bool = False
    description: str = ""

    def definition(self) -> str:
        """One sentence defining the slice, for the dataset card."""
        if self.rule == "major":
            return (f"rows where at least {self.min_models} of {list(self.models)} predicted a "
                    "label that reviewers judged a major mistake (ImageNet-Major style)")
        if self.rule == "label_error" and self.audit_column:
            return f"{RULES['label_error']}, among rows the audit flagged ({self.audit_column})"
        return RULES[self.rule]


def parse_section(data: Any, where: str) -> tuple[SliceSpec, ...]:
    """Validate the ``slices`` section (a list of slice definitions).

    Raises:
        ManifestError: Unknown key or rule, missing models, duplicate names.

    Example:
        >>> parse_section([{"name": "ml", "rule": "multi_label"}], "m: slices")[0].rule
        'multi_label'

    """
    if not isinstance(data, list) or not data:
        raise ManifestError(f"{where}: expected a non-empty list of slice definitions")
    out = []
    for i, s in enumerate(data):
        w = f"{where}[{i}]"
        d = check_keys(s, w, SLICE_KEYS, {"name", "rule"})
        if not isinstance(d["name"], str) or not NAME_RE.match(d["name"]):
            raise ManifestError(f"{w}.name: {d['name']!r} must match {NAME_RE.pattern}")
        if d["rule"] not in RULES:
            raise ManifestError(f"{w}.rule: {d['rule']!r} is not one of {list(RULES)}")
        models = d.get("models") or []
        if d["rule"] == "major":
            if not isinstance(models, list) or not models or not all(isinstance(m, str)
                                                                      for m in models):
                raise ManifestError(f"{w}.models: rule major needs a non-empty list of models")
            if len(set(models)) != len(models):
                raise ManifestError(f"{w}.models: {models} names a model twice; list each once")
            k = d.get("min_models", 1)
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(models):
                raise ManifestError(f"{w}.min_models: expected an integer in 1..{len(models)}")
        elif "models" in d or "min_models" in d:
            raise ManifestError(f"{w}: models/min_models go with rule major only")
        if "audit_column" in d and d["rule"] != "label_error":
            raise ManifestError(f"{w}: audit_column goes with rule label_error only")
        if not isinstance(d.get("images", False), bool):
            raise ManifestError(f"{w}.images: expected true or false")
        out.append(SliceSpec(name=d["name"], rule=d["rule"], models=tuple(models),
                             min_models=int(d.get("min_models", 1)),
                             audit_column=d.get("audit_column"), images=d.get("images", False),
                             description=str(d.get("description", ""))))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ManifestError(f"{where}: slice names must be distinct, got {names}")
    return tuple(out)


def _major_counts(votes: Any, models: tuple[str, ...]) -> dict[str, list[str]]:
    """sample_id -> models whose prediction most reviewers judged a major mistake."""
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s, m, v, sev in zip(votes["sample_id"], votes["model"], votes["verdict"],
                            votes["severity"], strict=True):
        if m in models and v == "mistake" and sev is not None:
            t = tally[(s, m)]
            t[0] += sev == "major"
            t[1] += 1
    out: dict[str, list[str]] = defaultdict(list)
    for (s, m), (major, n) in sorted(tally.items()):
        if major * 2 > n:
            out[s].append(m)
    return out


def select(
    specs: tuple[SliceSpec, ...],
    rows: dict[str, list[Any]],
    votes: dict[str, list[Any]] | None,
    audit: dict[str, bool] | None = None,
) -> dict[str, dict[str, str]]:
    """Apply the slice rules.

    Args:
        specs: Slice definitions.
        rows: Columns ``sample_id``, ``label``, ``labels`` (set or None), ``num_votes``.
        votes: Votes columns (``sample_id``, ``model``, ``verdict``, ``severity``) or None.
        audit: ``sample_id`` -> audit flag, for ``audit_column``.

    Returns:
        Slice name -> {sample_id: reason}, in row order.

    """
    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        sel: dict[str, str] = {}
        if spec.rule == "major":
            if votes is None:
                raise BenchsmithError(f"slice {spec.name}: rule major needs the votes config")
            majors = _major_counts(votes, spec.models)
            for s in rows["sample_id"]:
                if len(majors.get(s, ())) >= spec.min_models:
                    sel[s] = "major mistake by " + ", ".join(majors[s])
        elif spec.rule == "multi_label":
            for s, lab in zip(rows["sample_id"], rows["labels"], strict=True):
                if lab is not None and len(lab) > 1:
                    sel[s] = f"{len(lab)} valid labels"
        elif spec.rule == "label_error":
            if spec.audit_column and audit is None:
                raise BenchsmithError(f"slice {spec.name}: audit_column needs the audit config")
            errs = rows.get("label_error") or [None] * len(rows["sample_id"])
            for s, y, lab, n, err in zip(rows["sample_id"], rows["label"], rows["labels"],
                                         rows["num_votes"], errs, strict=True):
                # The validated-error flag of the labels config (pipeline.label_rules, the
                # paper's rule) when it has one; else "the given label is not in the set".
                wrong = bool(err) if err is not None else (
                    bool(n) and lab is not None and y not in lab)
                if n and lab is not None and wrong and (audit is None or audit.get(s)):
                    sel[s] = ("no valid label" if not lab else
                              "given label rejected" if y not in lab else
                              "given label not confirmed by a majority (multi-label)")
        out[spec.name] = sel
    taken = {s for sel in out.values() for s in sel}
    for spec in specs:
        if spec.rule == "clean":
            out[spec.name] = {s: "in no other slice" for s in rows["sample_id"] if s not in taken}
    return out


def write_slices(
    specs: tuple[SliceSpec, ...],
    roots: list[Path],
    out: Path,
    *,
    benchmark: str = "",
) -> dict[str, dict[str, Any]]:
    """Read the clean, labels, votes and audit configs under ``roots``; write each slice.

    Returns:
        Slice name -> written ``manifest.json``.

    """
    refuse_overlap(out, roots, inputs_flag="--inputs")
    configs = find_configs(roots)
    cname, cdir, cmeta = pick_config(configs, "clean")
    names = class_names(cmeta)
    needs_images = any(s.images for s in specs)
    cols = ["sample_id", "label", "split"] + ["image", "source", "key"] * needs_images
    clean = read_config(cdir, cols)
    rows: dict[str, list[Any]] = {c: clean[c].to_pylist() for c in ("sample_id", "label", "split")}
    labels_cfg = [n for n, (_, m) in configs.items() if m.get("kind") == "labels"]
    sets: dict[str, tuple[list[int], int]] = {}
    has_err = False
    votes = None
    if labels_cfg:
        lname, ldir, lmeta = pick_config(configs, "labels", labels_cfg[0] if len(labels_cfg) == 1
                                         else None)
        has_err = "label_error" in lmeta.get("features", {})
        t = read_config(ldir, ["sample_id", "labels", "num_votes", "votes"]
                        + ["label_error"] * has_err)
        sets = {s: (lab, n) for s, lab, n in zip(t["sample_id"].to_pylist(),
                                                 t["labels"].to_pylist(),
                                                 t["num_votes"].to_pylist(), strict=True)}
        clean_ids = set(rows["sample_id"])
        foreign = [s for s in sets if s not in clean_ids]
        if len(sets) != t.num_rows or foreign:
            raise BenchsmithError(
                f"{ldir}: " + (f"{t.num_rows - len(sets)} duplicate sample_ids" if
                               len(sets) != t.num_rows else
                               f"{len(foreign)} sample_ids not in {cname} (e.g. {foreign[0]!r})")
                + "; the labels config does not belong to this clean config: rerun "
                "`benchsmith reannotate` on it")
        if has_err:
            errs = dict(zip(t["sample_id"].to_pylist(), t["label_error"].to_pylist(),
                            strict=True))
        votes = {"sample_id": [], "model": [], "verdict": [], "severity": []}
        for s, vs in zip(t["sample_id"].to_pylist(), t["votes"].to_pylist(), strict=True):
            for v in vs:
                votes["sample_id"].append(s)
                for c in ("model", "verdict", "severity"):
                    votes[c].append(v[c])
    rows["labels"] = [sets[s][0] if s in sets else None for s in rows["sample_id"]]
    rows["num_votes"] = [sets[s][1] if s in sets else 0 for s in rows["sample_id"]]
    if labels_cfg and has_err:
        rows["label_error"] = [errs.get(s) for s in rows["sample_id"]]
    audit = None
    col = next((s.audit_column for s in specs if s.audit_column), None)
    if col:
        if not any(m.get("kind") == "audit" for _, m in configs.values()):
            raise BenchsmithError(f"audit_column {col!r} needs the audit config (run `benchsmith "
                                  "audit`, pass its folder to --inputs)")
        _, adir, _ = pick_config(configs, "audit")
        at = read_config(adir, ["sample_id", col])
        if not pa.types.is_boolean(at[col].type) or at[col].null_count:
            raise BenchsmithError(f"{adir}: audit_column {col!r} is {at[col].type} with "
                                  f"{at[col].null_count} nulls; name a boolean flag column")
        audit = dict(zip(at["sample_id"].to_pylist(), at[col].to_pylist(), strict=True))
    for spec in specs:
        if spec.rule in ("multi_label", "label_error") and not labels_cfg:
            raise BenchsmithError(f"slice {spec.name}: rule {spec.rule} needs the labels config "
                                  "(run `benchsmith reannotate`, pass its folder to --inputs)")
        if spec.rule == "major" and votes is not None:
            missing = sorted(set(spec.models) - set(votes["model"]))
            if missing:
                raise BenchsmithError(
                    f"slice {spec.name}: models {missing} have no votes in {labels_cfg[0]}; the "
                    f"votes name models {sorted({m for m in votes['model'] if m is not None})}")
    chosen = select(specs, rows, votes, audit)
    index = {s: i for i, s in enumerate(rows["sample_id"])}
    out = Path(out)
    planned, split_names = [], {}
    for spec in specs:
        sdir = contained(out, spec.name, key=f"slices: {spec.name} name")
        sp = sorted({rows["split"][index[s]] for s in chosen[spec.name]})
        split_names[spec.name] = sp or [rows["split"][0] if rows["split"] else "test"]
        planned += [sdir / "manifest.json"] + [sdir / shard_name(x, 0, 1)
                                               for x in split_names[spec.name]]
    prepare_output(out, planned, what="slices output folder")
    results = {}
    for spec in specs:
        sel = chosen[spec.name]
        idx = [index[s] for s in sel]
        if spec.images:
            feats = build_features(names, multilabel=True)
            feats["reason"] = datasets.Value("string")
        else:
            feats = datasets.Features({
                "sample_id": datasets.Value("string"), "label": datasets.ClassLabel(names=names),
                "labels": datasets.List(datasets.ClassLabel(names=names)),
                "reason": datasets.Value("string")})
        part_all: dict[str, list[Any]] = {
            "sample_id": [rows["sample_id"][i] for i in idx],
            "label": [rows["label"][i] for i in idx],
            "labels": [rows["labels"][i] if rows["labels"][i] is not None else [rows["label"][i]]
                       for i in idx],
            "reason": list(sel.values()),
            "split": [rows["split"][i] for i in idx],
        }
        if spec.images:
            for c in ("image", "source", "key"):
                vals = clean[c].to_pylist()
                part_all[c] = [vals[i] for i in idx]
        sdir = out / spec.name
        records = []
        for split in split_names[spec.name]:
            j = [k for k, sp in enumerate(part_all["split"]) if sp == split]
            part = {c: [v[k] for k in j] for c, v in part_all.items()}
            name = shard_name(split, 0, 1)
            sha = write_shard(sdir / name, part, feats)
            records.append({"split": split, "file": name, "num_rows": len(j), "sha256": sha,
                            "rejects": []})
        desc = (f"Slice `{spec.name}` of `{cname}` ({len(idx)} rows): {spec.definition()}."
                + (f" {spec.description}" if spec.description else ""))
        results[spec.name] = write_config_manifest(
            sdir, config=spec.name, features=feats, shards=records,
            extra={"kind": "slice", "benchmark": benchmark, "rule": spec.rule,
                   "definition": {k: v for k, v in spec.__dict__.items()},
                   "clean_config": cname, "code_version": code_version(),
                   "images": cmeta.get("images", []) if spec.images else [],
                   "description": desc})
    return results


def main(argv: list[str] | None = None) -> int:
    """``benchsmith slices``: write the manifest's slices as config folders."""
    from pipeline.manifest import load_manifest
    from pipeline.stage import add_common_args, skip_stage

    parser = argparse.ArgumentParser(prog="benchsmith slices", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--inputs", required=True, action="append", type=Path,
                        help="folder with clean / labels / votes / audit configs; repeatable")
    parser.add_argument("--out", required=True, type=Path, help="output folder, e.g. data/slices")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    specs = manifest.sections.get("slices")
    if not specs:
        if args.optional:
            return skip_stage(args.out, "slices", manifest.path)
        raise BenchsmithError(f"{manifest.path} has no slices section")
    res = write_slices(specs, args.inputs, args.out, benchmark=manifest.name)
    for name, m in res.items():
        print(f"slice {name}: {sum(s['num_rows'] for s in m['splits'].values())} rows")
    return 0
