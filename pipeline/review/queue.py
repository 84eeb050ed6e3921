"""What the review page shows and what a saved verdict writes.

Items come from a build's configs:

* ``audit``: rows of the ``audit`` config flagged in the audit column (default
  ``review_candidate`` when the audit config has it), in audit-rank order (``rank``
  column, 1 = review first); a ``suggested_label`` column becomes a candidate;
* ``mistake``: rows where a model in the predictions file predicted a label outside the
  row's valid set (the ``labels`` config) or, without one, other than the given label,
  in clean-row order after the audit items.

A verdict is one of

* ``correct``: the given label is the label (``labels = [given]``);
* ``set``: the reviewer's own set of valid labels (any classes, offered or not; empty =
  no valid label);
* ``unsure``: an abstention;
* ``retract``: undo of an earlier save (an abstention that supersedes it).

Per save the votes file gets one line with the valid-label set (``offered`` = the
candidates shown plus any class the reviewer picked), the mistake category and severity
when the reviewer gave them, and for every model whose prediction was not marked valid one
``mistake`` line with that model, the category and severity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import BenchsmithError
from pipeline.reannotate.importers import SEVERITIES
from pipeline.reannotate.tables import (
    class_names,
    find_configs,
    pick_config,
    read_config,
    read_predictions,
)

__all__ = ["CATEGORIES", "VERDICTS", "Item", "ReviewQueue", "build_queue", "vote_records"]

CATEGORIES = ("fine_grained", "fine_grained_oov", "spurious_correlation", "non_prototypical")
#: Verdicts a save may carry (see the module docstring).
VERDICTS = ("correct", "set", "unsure", "retract")
#: Recorded verdict per save verdict (the importers' vocabulary: ABSTAIN holds the last two).
RECORDED = {"correct": "valid", "set": "valid", "unsure": "unsure", "retract": "skip"}


@dataclass
class Item:
    """One thing to review."""

    index: int
    sample_id: str
    kind: str  # audit | mistake
    given: int
    predictions: list[tuple[str, int]]
    candidates: list[tuple[int, str]]  # (label, why shown)
    rank: int | None = None  # audit rank (1 = first), when the item came from the audit
    image: bytes = field(repr=False, default=b"")


@dataclass
class ReviewQueue:
    """Items plus the class names, and why the queue is what it is."""

    items: list[Item]
    names: list[str]
    notes: list[str] = field(default_factory=list)


def _audit_rows(configs: dict, audit_column: str | None, row: dict[str, int],
                notes: list[str]) -> list[tuple[str, str, list[tuple[int, str]], int | None]]:
    audits = [n for n, (_, m) in configs.items() if m.get("kind") == "audit"]
    if not audits:
        if audit_column:
            raise BenchsmithError(f"--audit-column {audit_column!r} given but the build has no "
                                  "audit config; run `benchsmith audit` first")
        notes.append("no audit config in the build: showing model mistakes only")
        return []
    _, adir, _ = pick_config(configs, "audit")
    at = read_config(adir)
    if audit_column is None:
        if "review_candidate" not in at.column_names:
            notes.append("the audit config has no review_candidate column; pass --audit-column")
            return []
        audit_column = "review_candidate"
        notes.append("audit items: rows with review_candidate (the audit's top-K queue)")
    if audit_column not in at.column_names:
        raise BenchsmithError(f"audit config has no column {audit_column!r}; "
                              f"columns: {at.column_names}")
    n = at.num_rows
    sugg = at["suggested_label"].to_pylist() if "suggested_label" in at.column_names else [None] * n
    ranks = at["rank"].to_pylist() if "rank" in at.column_names else [None] * n
    out = [(s, "audit", [(int(g), "suggested")] if g is not None else [], r)
           for s, flag, g, r in zip(at["sample_id"].to_pylist(), at[audit_column].to_pylist(),
                                    sugg, ranks, strict=True) if flag and s in row]
    # Audit-rank order (rank 1 first); rows without a rank keep clean-row order after them.
    out.sort(key=lambda t: (t[3] is None, t[3] if t[3] is not None else 0, row[t[0]]))
    return out


def build_queue(
    roots: list[Path],
    *,
    predictions: Path | None,
    audit_column: str | None,
    limit: int | None = None,
) -> ReviewQueue:
    """Collect the audit candidates (rank order) and model mistakes of a build.

    Args:
        roots: Build folder(s).
        predictions: Predictions Parquet (model mistakes), or None.
        audit_column: Boolean column of the audit config that flags candidates; None =
            ``review_candidate`` when the audit config has it.
        limit: At most this many items, or None.

    Returns:
        The queue: audit candidates in rank order, then mistakes in clean-row order.
    """
    configs = find_configs(roots)
    cname, cdir, cmeta = pick_config(configs, "clean")
    names = class_names(cmeta)
    clean = read_config(cdir, ["sample_id", "label", "image"])
    sids = clean["sample_id"].to_pylist()
    labels = clean["label"].to_pylist()
    row = {s: i for i, s in enumerate(sids)}
    sets: dict[str, list[int]] = {}
    label_cfgs = [n for n, (_, m) in configs.items() if m.get("kind") == "labels"]
    if len(label_cfgs) == 1:
        t = read_config(configs[label_cfgs[0]][0], ["sample_id", "labels"])
        sets = dict(zip(t["sample_id"].to_pylist(), t["labels"].to_pylist(), strict=True))
    preds: dict[str, list[tuple[str, int]]] = {}
    if predictions is not None:
        p = read_predictions(predictions, len(names))
        unknown = []
        for s, m, y, c in zip(p["sample_id"].to_pylist(), p["model"].to_pylist(),
                              p["prediction"].to_pylist(), p["config"].to_pylist(), strict=True):
            if c in (None, cname):
                if s not in row:
                    unknown.append(s)
                    continue
                preds.setdefault(s, []).append((m, int(y)))
        if unknown:
            raise BenchsmithError(f"{predictions}: {len(unknown)} predictions on {cname} name "
                                  f"sample_ids not in it (e.g. {unknown[0]!r}); predictions of "
                                  "another build?")
    notes: list[str] = []
    order = _audit_rows(configs, audit_column, row, notes)
    in_audit = {s for s, _, _, _ in order}
    for s in sids:
        valid = sets.get(s, [labels[row[s]]])
        if s not in in_audit and any(y not in valid for _, y in preds.get(s, [])):
            order.append((s, "mistake", [], None))
    if predictions is None:
        notes.append("no --predictions file: no model mistakes to review")
    images = clean["image"]
    items = []
    for s, kind, extra, rank in order[:limit]:
        i = row[s]
        cands: list[tuple[int, str]] = [(labels[i], "given")]
        cands += [(y, m) for m, y in preds.get(s, [])]
        cands += [(y, "ReaL set") for y in sets.get(s, [])]
        cands += extra
        uniq: dict[int, str] = {}
        for y, why in cands:
            uniq[y] = f"{uniq[y]}, {why}" if y in uniq else why
        image = (images[i].as_py() or {}).get("bytes")
        if not image:
            raise BenchsmithError(f"{cdir}: row {s} has no image bytes; `benchsmith validate` "
                                  "the build")
        items.append(Item(index=len(items), sample_id=s, kind=kind, given=labels[i],
                          predictions=preds.get(s, []), candidates=list(uniq.items()),
                          rank=rank, image=image))
    return ReviewQueue(items=items, names=names, notes=notes)


def vote_records(item: Item, body: dict[str, Any], annotator: str,
                 num_classes: int) -> list[dict[str, Any]]:
    """Votes-file records for one saved item (see the module docstring).

    Args:
        item: The item saved.
        body: The page's request: ``verdict`` (one of :data:`VERDICTS`), ``valid`` (class
            ids, for ``set``), ``category`` and ``severity`` (or null).
        annotator: The reviewer.
        num_classes: Number of classes (valid ids are 0..num_classes-1).

    Raises:
        ValueError: An unknown verdict, category or severity, or a class id out of range.
    """
    verdict = body.get("verdict", "set")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} not in {list(VERDICTS)}")
    valid = sorted({int(y) for y in body.get("valid") or []})
    if any(not 0 <= y < num_classes for y in valid):
        raise ValueError(f"valid labels {valid} outside 0..{num_classes - 1}")
    if verdict == "correct":
        valid = [item.given]
    elif verdict in ("unsure", "retract"):
        valid = []
    category, severity = body.get("category"), body.get("severity")
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category {category!r} not in {list(CATEGORIES)}")
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} not in {list(SEVERITIES)}")
    shown = [y for y, _ in item.candidates]
    offered = shown + [y for y in valid if y not in shown]
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    base = {"sample_id": item.sample_id, "annotator": annotator, "given": item.given,
            "time": now, "save": f"{time.time_ns():x}-{item.index}"}
    if body.get("note"):  # the importer keeps it in the vote's raw provenance
        base["note"] = body["note"]
    out = [{**base, "labels": valid, "offered": offered, "verdict": RECORDED[verdict],
            "model": None, "category": category, "severity": severity}]
    if RECORDED[verdict] == "valid":
        for model, y in item.predictions:
            if y not in valid:
                out.append({**base, "labels": [], "offered": [y], "verdict": "mistake",
                            "model": model, "category": category, "severity": severity})
    return out
