"""Findings of ``benchsmith validate`` and the three ways they are written out.

* :meth:`Report.metrics` — the compact, counts-only metric DVC tracks
  (``--json``): ``passed``, ``configs``, ``rows``, ``problems``, ``checks_run``,
  ``by_check`` (problems per check, every check listed) and ``recompute``
  (rows regenerated / skipped). No strings, so ``dvc metrics diff`` stays readable.
* :meth:`Report.findings` — every finding with its config, file and row (``--report``).
* :meth:`Report.to_junit` — one JUnit test case per config, failures inside (``--junit``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["CHECKS", "ROOT", "Problem", "Report"]

#: Every check ``validate`` runs; each finding names one of them.
CHECKS: tuple[str, ...] = (
    "completion",  # benchmark.json present, parses, complete: true, files map
    "files",  # the files map matches the folder (missing, extra, changed files)
    "benchmark",  # benchmark.json config list / default equal the folder
    "card",  # README.md header: configs, data_files, dataset_info equal the manifests
    "layout",  # config folders, shard files listed / present
    "manifest",  # manifest.json present, parses, has the keys validate needs
    "schema",  # features embedded in shards equal the manifest and the benchsmith schema
    "checksum",  # shard sha256 equals manifest.json
    "readable",  # shard is readable Parquet
    "count",  # rows per shard / split equal manifest.json
    "unique-id",  # sample_id unique within a config
    "label-range",  # labels inside the class list
    "ids",  # derived config rows are rows of their clean config
    "labels",  # derived config labels equal the clean labels
    "decode",  # image bytes decode
    "encoding",  # image bytes are in the declared encoding
    "image-size",  # image size and mode as the clean config declared
    "recompute",  # a regenerated row equals the published bytes
)

#: ``Problem.config`` of findings about the benchmark folder itself (card, benchmark.json).
ROOT = "<benchmark>"
#: Files of the benchmark folder itself that findings may point at.
FOLDER_FILES = ("README.md", "benchmark.json")


@dataclass(frozen=True)
class Problem:
    """One failed check.

    Attributes:
        check: One of :data:`CHECKS`.
        config: The config the finding is about, or :data:`ROOT`.
        message: What is wrong and, where it helps, how to fix it.
        shard: The file inside the config folder (or the benchmark folder for ``ROOT``).
        row: 0-based row inside ``shard``.
    """

    check: str
    config: str
    message: str
    shard: str = ""
    row: int | None = None

    def __str__(self) -> str:
        if self.shard in FOLDER_FILES:  # a file of the benchmark folder, about a config
            where = self.shard if self.config == ROOT else f"{self.config} ({self.shard})"
        else:
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
    recompute: dict[str, int] = field(
        default_factory=lambda: {"rows": 0, "skipped_rows": 0}
    )
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.problems

    def add(self, check: str, config: str, message: str, shard: str = "",
            row: int | None = None) -> None:
        """Record one finding."""
        self.problems.append(Problem(check, config, message, shard, row))

    def metrics(self) -> dict[str, Any]:
        """Return the compact, counts-only metric (``--json``)."""
        by_check = dict.fromkeys(CHECKS, 0)
        for p in self.problems:
            by_check[p.check] = by_check.get(p.check, 0) + 1
        rows = sum(sum(c.get("rows", {}).values()) for c in self.configs.values())
        return {
            "passed": self.ok,
            "configs": len(self.configs),
            "rows": rows,
            "problems": len(self.problems),
            "checks_run": self.checks_run,
            "by_check": by_check,
            "recompute": dict(self.recompute),
        }

    def findings(self) -> list[dict[str, Any]]:
        """Every finding as a dict with ``check``, ``config``, ``shard``, ``row``, ``message``."""
        return [asdict(p) for p in self.problems]

    def to_junit(self) -> str:
        """JUnit XML: one test case per config (failures listed inside), one for the folder."""
        names = [ROOT, *self.configs]
        names += sorted({p.config for p in self.problems} - set(names))
        cases, failures = [], 0
        for config in names:
            probs = [p for p in self.problems if p.config == config]
            failures += bool(probs)
            body = "".join(
                f'<failure message="{escape(p.check, {chr(34): "&quot;"})}">'
                f"{escape(str(p))}</failure>"
                for p in probs
            )
            cases.append(
                f'<testcase classname="benchsmith.validate" '
                f'name="{escape(config, {chr(34): "&quot;"})}">{body}</testcase>'
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name="benchsmith-validate" tests="{len(names)}" '
            f'failures="{failures}">' + "".join(cases) + "</testsuite>\n"
        )

    def text(self, max_problems: int = 200) -> str:
        """Human-readable report (at most ``max_problems`` findings listed)."""
        lines = [f"validate {self.root}"]
        for config, info in self.configs.items():
            status = "FAIL" if any(p.config == config for p in self.problems) else "ok"
            rows = ", ".join(f"{s}: {n}" for s, n in info.get("rows", {}).items())
            lines.append(f"  {status:4} {config} ({info.get('kind', '?')}; {rows})")
        lines += [f"  {p}" for p in self.problems[:max_problems]]
        if len(self.problems) > max_problems:
            lines.append(f"  ... {len(self.problems) - max_problems} more (see --report)")
        lines += [f"  note: {n}" for n in self.notes]
        if self.recompute["rows"] or self.recompute["skipped_rows"]:
            lines.append(
                f"  recompute: {self.recompute['rows']} rows regenerated, "
                f"{self.recompute['skipped_rows']} skipped"
            )
        lines.append(
            f"{'PASSED' if self.ok else 'FAILED'}: {len(self.configs)} configs, "
            f"{self.checks_run} checks, {len(self.problems)} problems"
        )
        return "\n".join(lines)
