"""``benchsmith validate <dir>``: the data check CI runs on a published benchmark.

Checks, per config and shard:

* the shard files are exactly those listed in ``manifest.json`` and their
  sha256 match;
* the features embedded in each shard equal the config's declared features,
  and for clean/corruption configs equal :func:`pipeline.schema.build_features`;
* row counts per shard and split equal the manifest;
* ``sample_id`` is unique within a split, and every derived config's ids are
  the ids of the clean config it came from;
* labels (and multi-label sets) are in range;
* every image decodes, with the size and mode the clean config declared.

Output: a human-readable report on stdout, optional JSON and JUnit XML; exit
status 1 when anything fails, with each failure naming the config, shard and row.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import datasets
import pyarrow.parquet as pq

from pipeline.download import file_digest
from pipeline.errors import SourceError
from pipeline.parallel import run_tasks
from pipeline.schema import build_features, features_from_arrow
from pipeline.shards import SHARD_RE
from pipeline.sources.hf import decode_image

__all__ = ["Problem", "Report", "validate", "check_shard", "main"]


@dataclass(frozen=True)
class Problem:
    """One failed check."""

    check: str
    config: str
    message: str
    shard: str = ""
    row: int | None = None

    def __str__(self) -> str:
        where = self.config + (f"/{self.shard}" if self.shard else "")
        where += f" row {self.row}" if self.row is not None else ""
        return f"[{self.check}] {where}: {self.message}"


@dataclass
class Report:
    """All checks of one validation run."""

    root: str
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    checks_run: int = 0

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "root": self.root,
            "ok": self.ok,
            "checks_run": self.checks_run,
            "configs": self.configs,
            "problems": [asdict(p) for p in self.problems],
        }

    def to_junit(self) -> str:
        """JUnit XML: one test case per config (failures listed inside)."""
        cases = []
        for config in self.configs:
            probs = [p for p in self.problems if p.config == config]
            body = "".join(
                f'<failure message="{escape(p.check, {chr(34): "&quot;"})}">'
                f"{escape(str(p))}</failure>"
                for p in probs
            )
            cases.append(
                f'<testcase classname="benchsmith.validate" name="{escape(config)}">'
                f"{body}</testcase>"
            )
        failures = sum(1 for c in self.configs if any(p.config == c for p in self.problems))
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name="benchsmith-validate" tests="{len(self.configs)}" '
            f'failures="{failures}">'
            + "".join(cases)
            + "</testsuite>\n"
        )

    def text(self) -> str:
        """Human-readable report."""
        lines = [f"validate {self.root}"]
        for config, info in self.configs.items():
            status = "FAIL" if any(p.config == config for p in self.problems) else "ok"
            rows = ", ".join(f"{s}: {n}" for s, n in info.get("rows", {}).items())
            lines.append(f"  {status:4} {config} ({info.get('kind', '?')}; {rows})")
        lines += [f"  {p}" for p in self.problems]
        lines.append(
            f"{'PASSED' if self.ok else 'FAILED'}: {len(self.configs)} configs, "
            f"{self.checks_run} checks, {len(self.problems)} problems"
        )
        return "\n".join(lines)


def check_shard(
    config: str, path: str, expected_sha: str, expected_rows: int, features: dict[str, Any],
    images: list[str],
) -> dict[str, Any]:
    """Check one shard file (a dask task); return its problems, ids and check count."""
    problems: list[Problem] = []
    name = Path(path).name
    checks = 1
    sha = file_digest(Path(path), "sha256")
    if sha != expected_sha:
        problems.append(
            Problem(
                "checksum", config, f"sha256 {sha[:16]}... != manifest {expected_sha[:16]}...", name
            )
        )
    try:
        pf = pq.ParquetFile(path)
        table = pf.read()
        shard_features = features_from_arrow(pf.schema_arrow)
    except Exception as exc:  # noqa: BLE001 - any read failure is a reported problem
        problems.append(Problem("readable", config, f"cannot read Parquet: {exc}", name))
        return {"problems": problems, "ids": [], "checks": checks + 1}
    declared = datasets.Features.from_dict(features)
    checks += 2
    if shard_features != declared:
        problems.append(
            Problem("schema", config, "embedded features differ from manifest.json", name)
        )
    if table.num_rows != expected_rows:
        problems.append(
            Problem("count", config, f"{table.num_rows} rows, manifest says {expected_rows}", name)
        )
    ids = table["sample_id"].to_pylist() if "sample_id" in table.column_names else []
    for col, feat in declared.items():
        if isinstance(feat, datasets.ClassLabel):
            checks += 1
            for i, v in enumerate(table[col].to_pylist()):
                if v is None or not 0 <= v < feat.num_classes:
                    problems.append(
                        Problem(
                            "label-range",
                            config,
                            f"{col}={v!r} outside 0..{feat.num_classes - 1}",
                            name,
                            i,
                        )
                    )
        elif isinstance(feat, datasets.List) and isinstance(feat.feature, datasets.ClassLabel):
            checks += 1
            n = feat.feature.num_classes
            for i, vs in enumerate(table[col].to_pylist()):
                if vs is None or any(v is None or not 0 <= v < n for v in vs):
                    problems.append(
                        Problem("label-range", config, f"{col}={vs!r} outside 0..{n - 1}", name, i)
                    )
        elif isinstance(feat, datasets.Image) and col == "image":
            checks += 1
            allowed = set(images)
            for i, d in enumerate(table[col].to_pylist()):
                try:
                    arr = decode_image(d["bytes"] if d else None, what=f"row {i}")
                except SourceError as exc:
                    problems.append(Problem("decode", config, str(exc), name, i))
                    continue
                mode = "L" if arr.ndim == 2 else "RGB"
                sig = f"{mode} {arr.shape[1]}x{arr.shape[0]}"
                if allowed and sig not in allowed:
                    problems.append(
                        Problem(
                            "image-size",
                            config,
                            f"image is {sig}, declared {sorted(allowed)}",
                            name,
                            i,
                        )
                    )
    return {"problems": problems, "ids": ids, "checks": checks}


def _expected_features(meta: dict[str, Any]) -> datasets.Features | None:
    feats = datasets.Features.from_dict(meta["features"])
    kind = meta.get("kind")
    if kind not in ("clean", "corruption") or "label" not in feats:
        return None
    return build_features(
        feats["label"].names, corruption=kind == "corruption", multilabel="labels" in feats,
        depth="depth" in feats,
    )


def validate(
    root: Path, *, scheduler: str = "threads", workers: int = 2, progress: bool = False
) -> Report:
    """Validate a published benchmark folder (or a folder of config folders)."""
    root = Path(root)
    report = Report(str(root))
    metas: dict[str, dict[str, Any]] = {}
    for m in sorted(root.glob("*/manifest.json")):
        try:
            metas[m.parent.name] = json.loads(m.read_text())
        except json.JSONDecodeError as exc:
            report.problems.append(
                Problem("manifest", m.parent.name, f"manifest.json is not JSON: {exc}")
            )
    if not metas:
        report.problems.append(Problem("layout", str(root), "no config folders with manifest.json"))
        return report
    if (root / "benchmark.json").is_file():
        listed = json.loads((root / "benchmark.json").read_text()).get("configs", [])
        for c in sorted(set(listed) - set(metas)):
            report.problems.append(Problem("layout", c, "listed in benchmark.json but missing"))
    tasks = []
    for config, meta in metas.items():
        report.configs[config] = {
            "kind": meta.get("kind"),
            "rows": {s: v["num_rows"] for s, v in meta["splits"].items()},
        }
        expected = _expected_features(meta)
        report.checks_run += 1
        if expected is not None and expected != datasets.Features.from_dict(meta["features"]):
            report.problems.append(
                Problem("schema", config, "features differ from the benchsmith schema")
            )
        images = meta.get("images") or metas.get(meta.get("clean_config", ""), {}).get("images", [])
        listed = set()
        for split, info in meta["splits"].items():
            total = 0
            for s in info["shards"]:
                listed.add(s["file"])
                total += s["num_rows"]
                path = root / config / s["file"]
                if not path.is_file():
                    report.problems.append(
                        Problem(
                            "layout", config, "shard listed in manifest.json is missing", s["file"]
                        )
                    )
                    continue
                tasks.append(
                    (config, str(path), s["sha256"], s["num_rows"], meta["features"], images)
                )
            if total != info["num_rows"]:
                report.problems.append(
                    Problem(
                        "count",
                        config,
                        f"split {split}: shards sum to {total}, manifest says {info['num_rows']}",
                    )
                )
        for p in (root / config).glob("*.parquet"):
            if p.name not in listed:
                kind = "not in manifest.json" if SHARD_RE.match(p.name) else "unexpected file"
                report.problems.append(Problem("layout", config, kind, p.name))
    results = run_tasks(
        check_shard, tasks, scheduler=scheduler, workers=workers, desc="validate", progress=progress
    )
    ids: dict[str, set[str]] = {}
    for task, res in zip(tasks, results, strict=True):
        config = task[0]
        report.problems.extend(res["problems"])
        report.checks_run += res["checks"]
        seen = ids.setdefault(config, set())
        for i, sid in enumerate(res["ids"]):
            if sid in seen:
                report.problems.append(
                    Problem(
                        "unique-id",
                        config,
                        f"sample_id {sid!r} appears twice",
                        Path(task[1]).name,
                        i,
                    )
                )
            seen.add(sid)
    for config, meta in metas.items():
        parent = meta.get("clean_config")
        if parent:
            report.checks_run += 1
            if parent not in ids:
                report.problems.append(
                    Problem("ids", config, f"clean config {parent!r} is not in this folder")
                )
            elif not ids.get(config, set()) <= ids[parent]:
                extra = sorted(ids[config] - ids[parent])[:3]
                report.problems.append(
                    Problem("ids", config, f"sample_ids not in {parent}: {extra}...")
                )
            elif meta.get("kind") == "corruption" and ids[config] != ids[parent]:
                missing = sorted(ids[parent] - ids[config])[:3]
                report.problems.append(
                    Problem("ids", config, f"rows of {parent} missing: {missing}...")
                )
    return report


def main(argv: list[str] | None = None) -> int:
    """``benchsmith validate``: check a published benchmark folder."""
    parser = argparse.ArgumentParser(prog="benchsmith validate", description=main.__doc__)
    parser.add_argument("root", type=Path, help="benchmark folder written by `benchsmith publish`")
    parser.add_argument("--json", type=Path, default=None, help="write the report as JSON here")
    parser.add_argument("--junit", type=Path, default=None, help="write JUnit XML here")
    parser.add_argument("--scheduler", default="threads")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    report = validate(args.root, scheduler=args.scheduler, workers=args.workers)
    print(report.text())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(report.to_junit())
    sys.stdout.flush()
    return 0 if report.ok else 1
