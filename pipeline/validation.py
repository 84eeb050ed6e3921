"""The validation engine behind ``benchsmith validate`` (:mod:`pipeline.validate`) and ``push``.

Checks a published benchmark folder against the whole contract.

Folder level (:mod:`pipeline.validate_card`):

* ``benchmark.json`` exists, parses, carries the completion record
  (``"complete": true`` and ``files``, a sha256 per file) and the record matches
  the folder: a missing, extra or changed file is a finding, and a folder
  without the record is an *incomplete publish*;
* every config listed (``benchmark.json``, card ``configs`` and ``dataset_info``)
  is present and every config folder is listed;
* the card's ``data_files`` select exactly each config's shards and its
  ``dataset_info`` features (class names included) and row counts equal the
  config manifests, so ``load_dataset(dir, config)`` returns that config's rows.

Config level (here): every folder has a well-formed ``manifest.json`` (``features``,
``splits`` with shard records); its shards are exactly the ones listed; features
equal the benchsmith schema; derived configs name a clean config that is present.

Shard level (:mod:`pipeline.validate_shards`, one dask task per shard): checksums,
counts, embedded features, label ranges, unique ``sample_id`` s, derived rows and
labels against the clean config, images in the declared encoding.

``--recompute FRACTION`` (:mod:`pipeline.recompute`) regenerates a seed-chosen
sample of each corruption config's rows and compares bytes.

:func:`validate` returns a :class:`~pipeline.validate_report.Report`; the stage
module prints and writes it, ``push`` refuses a folder that fails it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets
from tqdm.auto import tqdm

from pipeline.errors import BenchsmithError
from pipeline.parallel import run_tasks
from pipeline.schema import build_features
from pipeline.shards import SHARD_RE
from pipeline.validate_card import check_benchmark_json, check_card, check_files
from pipeline.validate_report import ROOT, Problem, Report
from pipeline.validate_shards import check_shard

__all__ = ["Problem", "Report", "validate", "check_shard"]

ENCODINGS = ("png", "jpeg")
#: kind -> how its rows relate to the clean config (see :mod:`pipeline.validate_shards`).
RELATIONS = {"corruption": "same-rows", "slice": "subset", "labels": "subset", "audit": "subset",
             "shift": "shift"}
#: kind -> keys (and types) its manifest.json must carry.
KIND_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "corruption": {"clean_config": str, "corruption": str, "severity": int, "preset": str,
                   "seed": int, "rounding": str, "code_version": str},
    "slice": {"clean_config": str},
    "labels": {"clean_config": str},
    "audit": {"input": dict},
    "shift": {"input": str},
}
#: kind -> columns its features must have (a labels config relabelled ``slice``, or the
#: reverse, would otherwise be scored as the other kind).
KIND_COLUMNS: dict[str, frozenset[str]] = {
    "labels": frozenset({"sample_id", "label", "labels", "num_votes", "agreement", "votes"}),
    "slice": frozenset({"sample_id", "label", "reason"}),
}
BATCH_TASKS = 8  # shard tasks per dask call, per worker (keeps the config bar moving)


def _manifest_error(meta: Any) -> str | None:
    """Say what makes a ``manifest.json`` unusable, or return ``None``."""
    if not isinstance(meta, dict):
        return "is not a JSON object"
    if not isinstance(meta.get("features"), dict):
        return "has no `features` object"
    try:
        datasets.Features.from_dict(meta["features"])
    except Exception as exc:  # noqa: BLE001 - any malformed features dict
        return f"`features` do not parse: {exc}"[:200]
    splits = meta.get("splits")
    if not isinstance(splits, dict):
        return "has no `splits` object (split -> num_rows, shards)"
    for split, info in splits.items():
        if not isinstance(info, dict) or not isinstance(info.get("num_rows"), int) \
                or not isinstance(info.get("shards"), list):
            return f"split {split!r} lacks `num_rows` (int) / `shards` (list)"
        for s in info["shards"]:
            if not (isinstance(s, dict) and isinstance(s.get("file"), str)
                    and isinstance(s.get("num_rows"), int) and isinstance(s.get("sha256"), str)):
                return f"split {split!r} has a shard record without file/num_rows/sha256: {s!r}"
            m = SHARD_RE.match(s["file"])
            if m is None or m["split"] != split:
                return f"split {split!r} lists {s['file']!r}, not a {split}-NNNNN-of-NNNNN.parquet"
    kind = meta.get("kind")
    if kind is not None and not isinstance(kind, str):
        return f"`kind` {kind!r} is not a string"[:200]
    for key, typ in KIND_KEYS.get(str(kind), {}).items():
        val = meta.get(key)
        if not isinstance(val, typ) or isinstance(val, bool):
            return f"{kind} config: `{key}` is {val!r}, expected {getattr(typ, '__name__', typ)}"
    if kind == "audit" and not isinstance(meta["input"].get("config"), str):
        return "audit config: `input.config` (the audited clean config) is not a string"
    images = meta.get("images")
    if images is not None and not (isinstance(images, list)
                                   and all(isinstance(x, str) for x in images)):
        return f"`images` {images!r} is not a list of \"<mode> <W>x<H>\" strings"[:200]
    enc = meta.get("encoding")
    if enc is not None and not (isinstance(enc, dict) and enc.get("format") in ENCODINGS):
        return f"`encoding` {enc!r} is not {{format: {'|'.join(ENCODINGS)}, ...}}"
    return None


def _discover(root: Path, report: Report) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Well-formed config manifests, and the names of every folder holding a manifest.json."""
    metas: dict[str, dict[str, Any]] = {}
    present: set[str] = set()
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        m = d / "manifest.json"
        if not m.is_file():
            report.add("layout", d.name, "folder has no manifest.json: not a config (a foreign "
                       "or half-written folder); remove it or rerun `benchsmith publish`")
            continue
        present.add(d.name)
        try:
            meta = json.loads(m.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.add("manifest", d.name, f"not JSON: {exc}", "manifest.json")
            continue
        err = _manifest_error(meta)
        if err:
            report.add("manifest", d.name, f"manifest.json {err}", "manifest.json")
            continue
        metas[d.name] = meta
    return metas, present


def _parent(config: str, meta: dict[str, Any], metas: dict[str, dict[str, Any]],
            root: Path, report: Report) -> dict[str, Any] | None:
    kind = meta.get("kind")
    relation = RELATIONS.get(str(kind))
    if relation is None:
        return None
    name = meta.get("input") if kind == "shift" else meta.get("clean_config")
    if kind == "audit":
        name = (meta.get("input") or {}).get("config") if isinstance(meta.get("input"), dict) \
            else None
    report.checks_run += 1
    if not isinstance(name, str):
        report.add("manifest", config, f"{kind} config names no clean config", "manifest.json")
        return None
    if name not in metas:
        report.add("ids", config, f"clean config {name!r} is not in this folder (or invalid)")
        return None
    pmeta = metas[name]
    names = _class_names(meta), _class_names(pmeta)
    if None not in names and names[0] != names[1]:
        report.add("labels", config, f"class names {names[0]} differ from {name}'s {names[1]}",
                   "manifest.json")
    files = {s["file"] for sp in pmeta["splits"].values() for s in sp["shards"]}
    out = {"config": name, "relation": relation,
           "shards": sorted(str(root / name / f) for f in files),
           "labels": kind != "shift" or bool(meta.get("preserves_labels", True))}
    if relation == "same-rows":
        own = {s["file"] for sp in meta["splits"].values() for s in sp["shards"]}
        for f in sorted(files - own):
            report.add("ids", config, f"clean shard {name}/{f} has no counterpart here", f)
        for f in sorted(own - files):
            report.add("ids", config, f"no clean shard {name}/{f} to derive it from", f)
    return out


def _class_names(meta: dict[str, Any]) -> list[str] | None:
    feat = datasets.Features.from_dict(meta["features"]).get("label")
    return list(feat.names) if isinstance(feat, datasets.ClassLabel) else None


def _expected_features(meta: dict[str, Any]) -> datasets.Features | None:
    feats = datasets.Features.from_dict(meta["features"])
    kind = meta.get("kind")
    if kind not in ("clean", "corruption") or not isinstance(feats.get("label"),
                                                             datasets.ClassLabel):
        return None
    return build_features(
        feats["label"].names, corruption=kind == "corruption", multilabel="labels" in feats,
        depth="depth" in feats,
    )


def _plan_config(config: str, meta: dict[str, Any], metas: dict[str, dict[str, Any]],
                 root: Path, report: Report) -> list[tuple[Any, ...]]:
    """Config-level checks; return the config's shard tasks."""
    report.configs[config] = {
        "kind": meta.get("kind"),
        "rows": {s: v["num_rows"] for s, v in meta["splits"].items()},
    }
    try:
        expected = _expected_features(meta)
    except ValueError as exc:  # e.g. no class names
        report.add("schema", config, f"features are not a benchsmith schema: {exc}",
                   "manifest.json")
        expected = None
    report.checks_run += 1
    if expected is not None and expected != datasets.Features.from_dict(meta["features"]):
        report.add("schema", config, "features differ from the benchsmith schema",
                   "manifest.json")
    need = KIND_COLUMNS.get(str(meta.get("kind")), frozenset()) - set(meta["features"])
    if need:
        report.add("schema", config, f"a {meta.get('kind')} config needs columns "
                   f"{sorted(need)}; its features lack them", "manifest.json")
    parent = _parent(config, meta, metas, root, report)
    clean_meta = metas.get(parent["config"], {}) if parent else {}
    images = meta.get("images") or []
    if meta.get("kind") == "corruption":  # same size and mode as the images it came from
        images = images or clean_meta.get("images") or []
    tasks, listed = [], set()
    for split, info in meta["splits"].items():
        total = 0
        for s in info["shards"]:
            listed.add(s["file"])
            total += s["num_rows"]
            path = root / config / s["file"]
            if not path.is_file():
                report.add("layout", config, "shard listed in manifest.json is missing", s["file"])
                continue
            rel = dict(parent, shard=str(root / parent["config"] / s["file"])) if parent else None
            tasks.append((config, str(path), s["sha256"], s["num_rows"], meta, images, rel))
        if total != info["num_rows"]:
            report.add("count", config, f"split {split}: shards sum to {total}, manifest.json "
                       f"says {info['num_rows']}", "manifest.json")
    for p in sorted((root / config).iterdir()):
        if p.name not in listed and p.name != "manifest.json":
            what = "shard not in manifest.json" if SHARD_RE.match(p.name) else "unexpected file"
            report.add("layout", config, f"{what}: load_dataset may read it; remove it", p.name)
    return tasks


def _run_by_config(groups: list[tuple[str, list[tuple[Any, ...]]]], *, scheduler: str,
                   workers: int, progress: bool) -> Iterable[tuple[tuple[Any, ...], Any]]:
    """Run the shard tasks in batches of whole configs, with a progress bar over configs."""
    local = scheduler in ("sync", "threads", "processes")
    bar = tqdm(total=len(groups), desc="validate", unit="config", disable=not progress)
    batch: list[tuple[Any, ...]] = []
    done = 0
    for i, (_, tasks) in enumerate(groups):
        batch += tasks
        if local and len(batch) < BATCH_TASKS * max(1, workers) and i + 1 < len(groups):
            continue
        if not local and i + 1 < len(groups):
            continue
        results = run_tasks(check_shard, batch, scheduler=scheduler, workers=workers,
                            progress=False)
        yield from zip(batch, results, strict=True)
        bar.update(i + 1 - done)
        done, batch = i + 1, []
    bar.close()


def validate(root: Path, *, scheduler: str = "threads", workers: int = 2,
             progress: bool = False, recompute: float = 0.0, recompute_seed: int = 0) -> Report:
    """Validate a published benchmark folder.

    Args:
        root: The folder ``benchsmith publish`` wrote.
        scheduler: Dask scheduler for the shard checks (see :mod:`pipeline.parallel`).
        workers: Worker count.
        progress: Show a progress bar over configs (stderr).
        recompute: Fraction (0..1] of each corruption config's rows to regenerate and
            compare byte for byte; 0 skips it.
        recompute_seed: Seed of the row sample (a different seed checks other rows).

    Returns:
        The report; ``report.ok`` is False when any check failed.

    Raises:
        BenchsmithError: ``root`` is not a folder, or ``recompute`` is outside [0, 1].
    """
    root = Path(root)
    if not root.is_dir():
        raise BenchsmithError(f"{root} is not a folder; give the folder `benchsmith publish` wrote")
    if not 0.0 <= recompute <= 1.0:
        raise BenchsmithError(f"recompute fraction {recompute} outside [0, 1]")
    report = Report(str(root))
    metas, present = _discover(root, report)
    files = check_benchmark_json(root, present, report, metas)
    default = _default(root)
    check_card(root, metas, report, default)
    if not present:
        report.add("layout", ROOT, "no config folders with manifest.json")
    groups = [(c, _plan_config(c, m, metas, root, report)) for c, m in metas.items()]
    shard_sha: dict[str, str] = {}
    ids: dict[str, dict[Any, tuple[str, int]]] = {}
    for task, res in _run_by_config(groups, scheduler=scheduler, workers=workers,
                                    progress=progress):
        config, name = task[0], Path(task[1]).name
        report.problems.extend(res["problems"])
        report.checks_run += res["checks"]
        shard_sha[f"{config}/{name}"] = res["sha"]
        seen = ids.setdefault(config, {})
        for i, sid in enumerate(res["ids"]):
            if sid in seen:
                first = seen[sid]
                report.add("unique-id", config, f"sample_id {sid!r} also in {first[0]} row "
                           f"{first[1]}", name, i)
            else:
                seen[sid] = (name, i)
    for config, meta in metas.items():
        inp = meta.get("input")
        if meta.get("kind") == "audit" and isinstance(inp, dict) and inp.get("config") in metas:
            want = sum(s["num_rows"] for s in metas[inp["config"]]["splits"].values())
            got = sum(s["num_rows"] for s in meta["splits"].values())
            report.checks_run += 1
            if got != want:
                report.add("ids", config, f"audit covers {got} rows, {inp['config']} has {want}")
    ids.clear()
    if files is not None:
        check_files(root, files, present, shard_sha, report)
    if recompute > 0:
        from pipeline.recompute import recompute_configs

        recompute_configs(root, metas, report, fraction=recompute, seed=recompute_seed,
                          scheduler=scheduler, workers=workers, progress=progress)
    return report


def _default(root: Path) -> str | None:
    try:
        info = json.loads((root / "benchmark.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    default = info.get("default") if isinstance(info, dict) else None
    return default if isinstance(default, str) else None
