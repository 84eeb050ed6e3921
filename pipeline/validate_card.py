"""The folder-level half of ``benchsmith validate``: completion record, files map, card.

A published benchmark folder holds, besides its config folders:

* ``benchmark.json``, written last by publish: the config list, the default
  config, ``"complete": true`` and ``"files"``, the sha256 of every file of the
  folder except ``benchmark.json`` and the ``.benchsmith`` ownership marker.
  Missing keys mean publish did not finish (``incomplete publish``).
* ``README.md``, the dataset card: its YAML header is what
  :func:`datasets.load_dataset` reads, so ``configs``/``data_files`` must select
  exactly each config's own shards and ``dataset_info`` must declare exactly the
  features (class names included) and row counts of the config manifests. A
  card whose ``fog_2`` points at ``snow_3/*`` loads snow rows as fog: a finding.

Every check appends :class:`~pipeline.validate_report.Problem` s; nothing raises.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import datasets
import yaml

from pipeline.download import file_digest
from pipeline.validate_report import ROOT, Report

__all__ = ["MARKER", "BENCHMARK", "CARD", "check_benchmark_json", "check_files", "check_card"]

MARKER = ".benchsmith"
BENCHMARK = "benchmark.json"
CARD = "README.md"
#: Keys of a card ``configs`` entry benchsmith writes; any other key (``filters``,
#: ``columns``, ``features``...) would change what ``load_dataset`` returns.
CONFIG_KEYS = {"config_name", "data_files", "default"}
INCOMPLETE = "incomplete publish (no completion record)"
#: Config kinds whose ``seed`` is the benchmark seed.
SEEDED = ("clean", "corruption", "shift")


def check_benchmark_json(root: Path, configs: Collection[str], report: Report,
                         metas: Mapping[str, Mapping[str, Any]] | None = None) -> dict | None:
    """Check ``benchmark.json``: parses, completion record, config list, default, identity.

    Args:
        root: The benchmark folder.
        configs: Names of every config folder found.
        report: Findings are appended here.
        metas: Config name -> well-formed manifest (for the name and seed cross-check).

    Returns:
        The ``files`` map (relative path -> sha256) when the record is usable, else ``None``.
    """
    path = root / BENCHMARK
    report.checks_run += 1
    if not path.is_file():
        report.add("completion", ROOT, f"{BENCHMARK} is missing: {INCOMPLETE}; rerun "
                   "`benchsmith publish`", BENCHMARK)
        return None
    try:
        info = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.add("completion", ROOT, f"not JSON ({exc}); rerun `benchsmith publish`", BENCHMARK)
        return None
    if not isinstance(info, dict):
        report.add("completion", ROOT, "not a JSON object; rerun `benchsmith publish`", BENCHMARK)
        return None
    files = info.get("files")
    if "complete" not in info or "files" not in info:
        report.add("completion", ROOT, f"{INCOMPLETE}: no `complete`/`files` keys; rerun "
                   "`benchsmith publish`", BENCHMARK)
        files = None
    else:
        if info["complete"] is not True:
            report.add("completion", ROOT, f"complete is {info['complete']!r}, not true: publish "
                       "did not finish; rerun `benchsmith publish`"[:200], BENCHMARK)
        if not (isinstance(files, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
            report.add("completion", ROOT, "`files` is not a {path: sha256} object", BENCHMARK)
            files = None
    listed = info.get("configs")
    report.checks_run += 1
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        report.add("benchmark", ROOT, "`configs` is not a list of config names", BENCHMARK)
    else:
        for c in sorted(set(listed) - set(configs)):
            report.add("benchmark", c, f"listed in {BENCHMARK} but the config folder is missing",
                       BENCHMARK)
        for c in sorted(set(configs) - set(listed)):
            report.add("benchmark", c, f"config folder present but not listed in {BENCHMARK}",
                       BENCHMARK)
        if len(set(listed)) != len(listed):
            report.add("benchmark", ROOT, "`configs` lists a config twice", BENCHMARK)
    default = info.get("default")
    if not isinstance(default, str) or default not in configs:
        report.add("benchmark", ROOT, f"default config {default!r} is not a config of the folder",
                   BENCHMARK)
    _check_identity(info, metas or {}, report)
    return files


def _check_identity(info: dict[str, Any], metas: Mapping[str, Mapping[str, Any]],
                    report: Report) -> None:
    """Check ``name``, ``seed``, ``code_version``, ``manifest`` against each other and configs."""
    report.checks_run += 1
    name, seed, manifest = info.get("name"), info.get("seed"), info.get("manifest")
    for key, typ in (("name", str), ("seed", int), ("code_version", str), ("manifest", dict)):
        val = info.get(key)
        if not isinstance(val, typ) or isinstance(val, bool) or val in ("", None):
            report.add("benchmark", ROOT, f"`{key}` is {val!r}, expected a {typ.__name__}"[:200],
                       BENCHMARK)
    if isinstance(manifest, dict):
        if manifest.get("name") != name:
            report.add("benchmark", ROOT, f"`name` {name!r} but the recorded manifest says "
                       f"{manifest.get('name')!r}"[:200], BENCHMARK)
        raw_seed = manifest.get("seed") or 0
        if raw_seed != seed:
            report.add("benchmark", ROOT, f"`seed` {seed!r} but the recorded manifest says "
                       f"{raw_seed!r}"[:200], BENCHMARK)
    for config, meta in metas.items():
        bench = meta.get("benchmark")
        if isinstance(bench, str) and bench and bench != name:
            report.add("benchmark", config, f"built for benchmark {bench!r}, {BENCHMARK} says "
                       f"{name!r}"[:200], BENCHMARK)
        if meta.get("kind") in SEEDED and "seed" in meta and meta["seed"] != seed:
            report.add("benchmark", config, f"built with seed {meta['seed']!r}, {BENCHMARK} "
                       f"says {seed!r}"[:200], BENCHMARK)


def _config_of(rel: str) -> tuple[str, str]:
    head, _, rest = rel.partition("/")
    return (head, rest) if rest else (ROOT, rel)


def check_files(
    root: Path,
    files: Mapping[str, str],
    configs: Collection[str],
    shard_sha: Mapping[str, str],
    report: Report,
) -> None:
    """Compare the completion record's ``files`` map with the folder.

    Args:
        root: The benchmark folder.
        files: Relative POSIX path -> sha256, from ``benchmark.json``.
        configs: Names of the config folders.
        shard_sha: Relative path -> sha256 already computed by the shard checks (not re-hashed).
        report: Findings are appended here.
    """
    present = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() or p.is_symlink()
    } - {BENCHMARK, MARKER}
    report.checks_run += 1
    for rel in sorted(set(files) - present):
        config, name = _config_of(rel)
        report.add("files", config, f"listed in {BENCHMARK} files but missing from the folder",
                   name)
    for rel in sorted(present - set(files)):
        config, name = _config_of(rel)
        report.add("files", config, f"not in {BENCHMARK} files: not written by publish (a "
                   "foreign, stale or temporary file); remove it or rerun `benchsmith publish`",
                   name)
    for rel in sorted(present & set(files)):
        path = root / rel
        if path.is_symlink() or not path.is_file():
            config, name = _config_of(rel)
            report.add("files", config, "is a link or not a regular file", name)
            continue
        sha = shard_sha.get(rel) or file_digest(path, "sha256")
        if sha != files[rel]:
            config, name = _config_of(rel)
            report.add("files", config, f"changed since publish: sha256 {sha[:16]}... != "
                       f"{BENCHMARK} {str(files[rel])[:16]}...", name)


def _split_header(text: str) -> str | None:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return "\n".join(lines[1:i])
    return None


def _data_files(value: Any) -> dict[str, list[str]] | None:
    """``data_files`` in any form the Hub accepts -> split -> patterns (``None``: malformed)."""
    def patterns(v: Any) -> list[str] | None:
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return list(v)
        return None

    if isinstance(value, str) or (isinstance(value, list) and value
                                  and all(isinstance(x, str) for x in value)):
        return {"train": patterns(value) or []}
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        out: dict[str, list[str]] = {}
        for item in value:
            pats = patterns(item.get("path"))
            split = item.get("split")
            if set(item) != {"split", "path"} or not isinstance(split, str) or pats is None \
                    or split in out:
                return None
            out[split] = pats
        return out
    return None


def _resolve(root: Path, pattern: str) -> set[str] | None:
    pure = PurePosixPath(pattern)
    if not pattern or pure.is_absolute() or ".." in pure.parts or "://" in pattern:
        return None
    try:
        return {p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file()}
    except (ValueError, NotImplementedError, OSError):
        return None


def _check_config_entry(root: Path, entry: Any, configs: Mapping[str, Any],
                        report: Report) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("config_name"), str):
        report.add("card", ROOT, f"a `configs` entry has no config_name: {entry!r}"[:300], CARD)
        return None
    name = entry["config_name"]
    extra = sorted(set(entry) - CONFIG_KEYS)
    if extra:
        report.add("card", name, f"card configs entry has key(s) {extra} that change what "
                   "load_dataset reads; rerun `benchsmith publish`", CARD)
    if name not in configs:
        return name
    meta = configs[name]
    data_files = _data_files(entry.get("data_files"))
    if data_files is None:
        report.add("card", name, f"card data_files malformed: {entry.get('data_files')!r}"[:300],
                   CARD)
        return name
    want_splits = set(meta["splits"])
    for split in sorted(set(data_files) ^ want_splits):
        where = "card only" if split in data_files else "manifest.json only"
        report.add("card", name, f"split {split!r} in {where}: card data_files splits "
                   f"{sorted(data_files)} != manifest {sorted(want_splits)}", CARD)
    for split in sorted(set(data_files) & want_splits):
        want = {f"{name}/{s['file']}" for s in meta["splits"][split]["shards"]}
        got: set[str] = set()
        for pattern in data_files[split]:
            matched = _resolve(root, pattern)
            if matched is None:
                report.add("card", name, f"data_files pattern {pattern!r} (split {split}) points "
                           "outside the benchmark folder", CARD)
                continue
            got |= matched
        if got != want:
            foreign = sorted(got - want)[:3]
            missing = sorted(want - got)[:3]
            report.add("card", name, f"card data_files of split {split} {data_files[split]} "
                       f"select {len(got)} files, the config has {len(want)} shards"
                       + (f"; foreign: {foreign} (load_dataset(dir, {name!r}) would return "
                          "those rows)" if foreign else "")
                       + (f"; not selected: {missing}" if missing else ""), CARD)
    return name


def _check_dataset_info(entry: Any, configs: Mapping[str, Any], report: Report) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("config_name"), str):
        report.add("card", ROOT, "a `dataset_info` entry has no config_name", CARD)
        return None
    name = entry["config_name"]
    if name not in configs:
        return name
    meta = configs[name]
    try:
        info = datasets.DatasetInfo._from_yaml_dict(dict(entry))
        declared = datasets.Features.from_dict(meta["features"])
    except Exception as exc:  # noqa: BLE001 - any malformed header is a finding
        report.add("card", name, f"card dataset_info does not parse: {exc}"[:300], CARD)
        return name
    if info.features is None or info.features != declared:
        diff = _feature_diff(info.features, declared)
        report.add("card", name, f"card dataset_info.features differ from manifest.json ({diff}); "
                   "load_dataset would return other features or class names", CARD)
    if info.splits:
        for split, si in info.splits.items():
            want = meta["splits"].get(split, {}).get("num_rows")
            if want is None or si.num_examples != want:
                report.add("card", name, f"card dataset_info split {split}: "
                           f"{si.num_examples} rows, manifest.json {want}", CARD)
    return name


def _feature_diff(got: datasets.Features | None, want: datasets.Features) -> str:
    if got is None:
        return "no features"
    cols = [c for c in dict.fromkeys([*got, *want]) if got.get(c) != want.get(c)]
    parts = []
    for c in cols[:3]:
        a, b = got.get(c), want.get(c)
        if isinstance(a, datasets.ClassLabel) and isinstance(b, datasets.ClassLabel):
            pairs = enumerate(zip(a.names, b.names, strict=False))
            bad = [(i, x, y) for i, (x, y) in pairs if x != y][:3]
            parts.append(f"{c}: class names {bad} (card, manifest)" if bad else
                         f"{c}: {a.num_classes} classes, manifest {b.num_classes}")
        else:
            parts.append(f"{c}: card {a!r}, manifest {b!r}"[:160])
    return "; ".join(parts)


def check_card(root: Path, configs: Mapping[str, Any], report: Report,
               default: str | None = None) -> None:
    """Check ``README.md``: YAML header, ``configs``/``data_files``, ``dataset_info``.

    Args:
        root: The benchmark folder.
        configs: Config name -> manifest of every well-formed config folder.
        report: Findings are appended here.
        default: The default config ``benchmark.json`` names, if any.
    """
    path = root / CARD
    report.checks_run += 1
    if not path.is_file():
        report.add("card", ROOT, "dataset card is missing: load_dataset cannot see the configs; "
                   "rerun `benchsmith publish`", CARD)
        return
    try:
        raw = _split_header(path.read_text())
        header = yaml.safe_load(raw) if raw is not None else None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        report.add("card", ROOT, f"YAML header does not parse: {exc}"[:300], CARD)
        return
    if not isinstance(header, dict):
        report.add("card", ROOT, "no YAML header (--- ... ---) with a mapping", CARD)
        return
    entries = header.get("configs")
    if not isinstance(entries, list):
        report.add("card", ROOT, "header has no `configs` list", CARD)
        entries = []
    seen = [_check_config_entry(root, e, configs, report) for e in entries]
    _missing_or_extra(seen, configs, "configs", report)
    defaults = [e["config_name"] for e in entries
                if isinstance(e, dict) and e.get("default") and "config_name" in e]
    if len(defaults) > 1 or (default is not None and defaults and defaults != [default]):
        report.add("card", ROOT, f"default config(s) {defaults} in the card, {BENCHMARK} says "
                   f"{default!r}", CARD)
    infos = header.get("dataset_info")
    infos = [infos] if isinstance(infos, dict) else infos
    if not isinstance(infos, list):
        report.add("card", ROOT, "header has no `dataset_info` list", CARD)
        infos = []
    seen = [_check_dataset_info(e, configs, report) for e in infos]
    _missing_or_extra(seen, configs, "dataset_info", report)


def _missing_or_extra(seen: list[str | None], configs: Mapping[str, Any], key: str,
                      report: Report) -> None:
    names = [s for s in seen if s is not None]
    for c in sorted(set(configs) - set(names)):
        report.add("card", c, f"config folder present but not in the card's `{key}`", CARD)
    for c in sorted(set(names) - set(configs)):
        report.add("card", c, f"in the card's `{key}` but the config folder is missing or "
                   "invalid", CARD)
    for c in sorted({n for n in names if names.count(n) > 1}):
        report.add("card", c, f"listed twice in the card's `{key}`", CARD)
