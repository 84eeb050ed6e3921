"""``benchsmith build``: every stage the manifest defines, in one command (no DVC).

pull -> corrupt -> audit -> shift -> reannotate -> slices -> publish -> validate,
the order and arguments of ``dvc.yaml``. A stage whose manifest section is
absent is skipped and said so (with the section it would need), never silently.
Intermediate data goes to ``<work>/<stage>``; the benchmark lands in ``--out``.
The run ends with a summary: stages run and skipped, configs and rows
published, quarantined rows, and the validation verdict. ``dvc repro`` runs the
same stages one by one with caching; this command is for one-off builds and CI.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.corrupt import corrupt
from pipeline.manifest import Manifest, load_manifest
from pipeline.publish import check_target, publish
from pipeline.pull import pull
from pipeline.stage import add_common_args
from pipeline.validation import validate

__all__ = ["OPTIONAL_STAGES", "main", "quarantined_rows"]

#: stage -> (manifest section that enables it, CLI module whose ``main`` runs it)
OPTIONAL_STAGES: dict[str, tuple[str, str]] = {
    "audit": ("audit", "pipeline.audit.stage"),
    "shift": ("shift", "pipeline.shift"),
    "reannotate": ("reannotate", "pipeline.reannotate.stage"),
    "slices": ("slices", "pipeline.slices"),
}


def _stage_argv(stage: str, work: Path, common: list[str]) -> list[str]:
    """Return the arguments ``dvc.yaml`` gives the stage, with paths under ``work``."""
    pulled = str(work / "pulled")
    if stage == "audit":
        return [*common, "--clean", f"{pulled}/clean", "--out", str(work / "audit"),
                "--metrics", str(work / "audit_metrics.json"),
                "--report", str(work / "audit_report.html")]
    if stage == "shift":
        return [*common, "--in", pulled, "--out", str(work / "shift"),
                "--metrics", str(work / "shift_metrics.json"),
                "--plot", str(work / "shift_plot.png")]
    if stage == "reannotate":
        return [*common, "--clean", pulled, "--out", str(work / "reannotate")]
    inputs = [pulled, str(work / "reannotate"), str(work / "audit")]
    return [*common, *[a for p in inputs for a in ("--inputs", p)], "--out", str(work / "slices")]


def quarantined_rows(out: Path) -> dict[str, int]:
    """Config -> rows quarantined (``rejects.count`` of its ``manifest.json``), non-zero only."""
    counts: dict[str, int] = {}
    for path in sorted(out.glob("*/manifest.json")):
        try:
            n = int(json.loads(path.read_text()).get("rejects", {}).get("count", 0) or 0)
        except (OSError, ValueError, AttributeError):
            continue
        if n:
            counts[path.parent.name] = n
    return counts


def _run_optional(
    stage: str, manifest: Manifest, work: Path, common: list[str]
) -> tuple[bool, str]:
    """Run one optional stage if its section is present; return (ran, note)."""
    import importlib

    section, module = OPTIONAL_STAGES[stage]
    if manifest.sections.get(section) is None:
        return False, f"the manifest has no `{section}:` section"
    run: Callable[[list[str]], Any] = importlib.import_module(module).main
    status = int(run(_stage_argv(stage, work, common)) or 0)
    if status:
        return False, f"exited with status {status}"
    return True, ""


def main(argv: list[str] | None = None) -> int:
    """``benchsmith build``: build a benchmark from a manifest end to end."""
    parser = argparse.ArgumentParser(prog="benchsmith build", description=main.__doc__)
    add_common_args(parser, shard_size=2000)
    parser.add_argument("--out", required=True, type=Path, help="benchmark folder to write")
    parser.add_argument("--work", type=Path, default=Path("data"), help="intermediate folder")
    parser.add_argument("--force", action="store_true",
                        help="replace benchsmith's files in an --out that also holds others "
                        "(never deletes files benchsmith did not write)")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    check_target(args.out, force=args.force)  # refuse a foreign --out before any work
    kw = {"scheduler": args.scheduler, "workers": args.workers, "progress": not args.no_progress}
    common = ["--manifest", str(args.manifest), *[a for o in args.overrides for a in ("--set", o)],
              "--seed", str(manifest.seed), "--scheduler", args.scheduler,
              "--workers", str(args.workers), *(["--no-progress"] if args.no_progress else [])]
    timings: dict[str, float] = {}
    skipped: dict[str, str] = {}
    steps = ["pull", "corrupt", *OPTIONAL_STAGES, "publish", "validate"]

    def step(name: str) -> float:
        print(f"benchsmith build: [{steps.index(name) + 1}/{len(steps)}] {name}", flush=True)
        return time.perf_counter()

    t0 = step("pull")
    pull(manifest, args.work / "pulled", shard_size=args.shard_size, **kw)
    timings["pull"] = time.perf_counter() - t0
    inputs = [args.work / "pulled"]
    if manifest.corrupt is not None:
        t0 = step("corrupt")
        corrupt(manifest, args.work / "pulled", args.work / "corrupted", **kw)
        timings["corrupt"] = time.perf_counter() - t0
        inputs.append(args.work / "corrupted")
    else:
        skipped["corrupt"] = "the manifest has no `corrupt:` section"
    for stage in OPTIONAL_STAGES:
        t0 = step(stage)
        ran, note = _run_optional(stage, manifest, args.work, common)
        if ran:
            timings[stage] = time.perf_counter() - t0
            inputs.append(args.work / stage)
        else:
            skipped[stage] = note
            print(f"benchsmith build: SKIPPED {stage}: {note}")
    t0 = step("publish")
    publish(manifest, inputs, args.out, force=args.force)
    timings["publish"] = time.perf_counter() - t0
    t0 = step("validate")
    report = validate(args.out, scheduler=args.scheduler, workers=args.workers)
    timings["validate"] = time.perf_counter() - t0
    print(report.text())

    quarantined = quarantined_rows(args.out)
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"summary: ran {len(timings)} stages ({', '.join(timings)}); "
          f"skipped {len(skipped)}" + (f" ({', '.join(skipped)})" if skipped else ""))
    for stage, note in skipped.items():
        print(f"  skipped {stage}: {note}")
    if quarantined:
        print(f"  quarantined {sum(quarantined.values())} rows in {len(quarantined)} configs: "
              + ", ".join(f"{c} {n}" for c, n in quarantined.items())
              + " (reasons in each config's manifest.json)")
    else:
        print("  quarantined 0 rows")
    verdict = "PASSED" if report.ok else "FAILED"
    if report.ok and quarantined:
        verdict = f"PASSED with {sum(quarantined.values())} rows quarantined"
    print(f"build {verdict}: {args.out}")
    return 0 if report.ok else 1
