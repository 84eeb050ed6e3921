"""Annotation importers: published re-annotation files -> ONE long votes table.

Every importer returns a :class:`pyarrow.Table` with :data:`VOTE_SCHEMA`, one row
per (annotator, sample, question):

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
sample_id    string             ``<source>/<split>/<key>`` of the judged row
annotator    string             who voted (a rater id, a paper, a reviewer name)
labels       list<int32>        the labels this vote marks *valid* (may be empty)
offered      list<int32> | null the labels the vote judged; ``null`` = every class (the
                                vote is a complete set of valid labels)
verdict      string             the raw answer: set, yes, no, maybe, given, guessed, both,
                                neither, mistake, valid, invalid, unsure, skip
category     string | null      mistake category (fine_grained, fine_grained_oov,
                                spurious_correlation, non_prototypical, ...)
severity     string | null      mistake severity: major, minor, borderline
model        string | null      the model whose prediction was judged
given        int32 | null       the given label as the annotation file states it (checked)
source       string             importer key (real, real_raters, imagenetv2, mturk, ...)
raw          string | null      JSON of the original record fields, for provenance
============ ================== ==========================================================

The published files are positional or keyed by file name; they are converted to
``sample_id`` here, once, and :func:`check_join` checks the join against the
clean config (exact given-label checks where a file states the given label,
statistical ones where it does not) before anything is aggregated.

References:
    Beyer et al., "Are we done with ImageNet?", 2020 (ReaL, ``real.json``, ``raters.npz``).
    Northcutt, Athalye & Mueller, "Pervasive Label Errors in Test Sets", 2021 (MTurk votes).
    Vasudevan et al., "When does dough become a bagel?", 2022 (mistake files).
    Anzaku et al., "Re-assessing ImageNet", 2024 (ImageNetV2 refined multi-labels).

"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import SourceError
from pipeline.reannotate.values import (
    check_review_row,
    class_index,
    class_list,
    need_file,
    read_json,
    unique,
)

__all__ = [
    "VOTE_SCHEMA",
    "CATEGORIES",
    "SEVERITIES",
    "IMPORTERS",
    "JoinReport",
    "votes_from_rows",
    "concat_votes",
    "import_real",
    "import_real_raters",
    "import_imagenetv2",
    "import_mturk",
    "import_mistakes",
    "import_review",
    "import_counts",
    "check_join",
]

VOTE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("annotator", pa.string()),
        ("labels", pa.list_(pa.int32())),
        ("offered", pa.list_(pa.int32())),
        ("verdict", pa.string()),
        ("category", pa.string()),
        ("severity", pa.string()),
        ("model", pa.string()),
        ("given", pa.int32()),
        ("source", pa.string()),
        ("raw", pa.string()),
    ]
)

#: Mistake categories of Vasudevan et al. (2022); raw spellings in the files map here.
CATEGORIES: dict[str, str] = {
    "fine-grained error": "fine_grained",
    "fine-grained with multilabel options": "fine_grained",
    "fine-grained error with oov": "fine_grained_oov",
    "fine-grained with oov": "fine_grained_oov",
    "spurious correlation": "spurious_correlation",
    "non-prototypical": "non_prototypical",
}
#: Severities; the paper folds ``borderline`` into ``minor`` in its analysis (kept raw here).
SEVERITIES: tuple[str, ...] = ("major", "minor", "borderline")
#: The raw answers a vote may carry (the ``verdict`` column).
VERDICTS: tuple[str, ...] = ("set", "yes", "no", "maybe", "given", "guessed", "both", "neither",
                             "mistake", "valid", "invalid", "unsure", "skip")
#: Most votes one count file may expand to (CIFAR-10H: ~0.5 M; ImageNet scale: a few M).
MAX_COUNT_VOTES = 20_000_000

def _stem(name: str) -> str:
    return os.path.splitext(os.path.basename(str(name)))[0]


def _sid(prefix: str, key: str) -> str:
    return f"{prefix.rstrip('/')}/{key}"


def votes_from_rows(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build a votes table from dict rows (missing optional fields become null).

    Example:
        >>> t = votes_from_rows([{"sample_id": "a/b/1", "annotator": "x", "labels": [3],
        ...                       "verdict": "set", "source": "review"}])
        >>> t.num_rows, t["offered"][0].as_py()
        (1, None)

    """
    cols: dict[str, list[Any]] = {n: [] for n in VOTE_SCHEMA.names}
    for r in rows:
        for n in VOTE_SCHEMA.names:
            cols[n].append(r.get(n))
    for n in ("sample_id", "annotator", "verdict", "source"):
        if any(v is None for v in cols[n]):
            raise SourceError(f"votes: column {n!r} must be set on every vote")
    cols["labels"] = [list(v) if v is not None else [] for v in cols["labels"]]
    return pa.Table.from_pydict(cols, schema=VOTE_SCHEMA)


def _columnar(n: int, **cols: Any) -> pa.Table:
    """Votes table from column arrays; unspecified nullable columns are all-null."""
    arrays = []
    for f in VOTE_SCHEMA:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, str):
            arrays.append(pa.array([v] * n, f.type))
        elif isinstance(v, pa.Array):
            arrays.append(v.cast(f.type))
        else:
            arrays.append(pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=VOTE_SCHEMA)


def concat_votes(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate votes tables (an empty iterable gives an empty table)."""
    tables = list(tables)
    if not tables:
        return VOTE_SCHEMA.empty_table()
    return pa.concat_tables([t.select(VOTE_SCHEMA.names).cast(VOTE_SCHEMA) for t in tables])


def import_real(path: str | Path, *, prefix: str) -> pa.Table:
    """ImageNet ReaL ``real.json``: 50,000 lists of valid labels, in file-name order.

    Args:
        path: ``real.json``.
        prefix: ``sample_id`` prefix of the validation split, e.g. ``imagenet/validation``.

    Returns:
        One complete-set vote (``offered`` null, verdict ``set``) per image, annotator
        ``real``; an empty list is kept (no valid label).

    """
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(x, list) for x in data):
        raise SourceError(f"{path}: expected a JSON list of label lists (ReaL real.json)")
    n = len(data)
    ids = [_sid(prefix, f"ILSVRC2012_val_{i + 1:08d}") for i in range(n)]
    labels = pa.array([class_list(x, f"{path}: entry {i}") for i, x in enumerate(data)],
                      pa.list_(pa.int32()))
    return _columnar(n, sample_id=ids, annotator="real", labels=labels, verdict="set",
                     source="real")


def import_real_raters(path: str | Path, *, prefix: str) -> pa.Table:
    """ReaL raw rater answers ``raters.npz``: one vote per rater and (image, label) question.

    ``tensor`` is (raters, questions, 3) one-hot over (no, maybe, yes); ``info`` holds the
    (file name, label) of each question and ``ids`` the rater ids.

    Returns:
        Votes with ``offered = [label]``, ``labels = [label]`` for *yes*, ``[]`` otherwise,
        verdict ``no``/``maybe``/``yes``; annotator ``real-rater-<id>``.

    """
    p = Path(path)
    need_file(p, "annotation file")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = {"tensor", "info", "ids"} - set(z.files)
            if missing:
                raise SourceError(f"{p}: missing arrays {sorted(missing)} (have {z.files})")
            tensor, info, rater_ids = z["tensor"], z["info"], z["ids"]
    except (ValueError, OSError, AttributeError) as exc:  # AttributeError: an .npy, not .npz
        raise SourceError(f"{p}: not a numpy .npz with tensor/info/ids ({exc})") from exc
    if (tensor.ndim != 3 or tensor.shape[2] != 3 or info.ndim != 2 or info.shape[1] < 2
            or tensor.shape[1] != len(info) or rater_ids.shape != (tensor.shape[0],)):
        raise SourceError(f"{p}: expected tensor (raters, questions, 3), info (questions, 2) and "
                          f"ids (raters,); got {tensor.shape}, {info.shape}, {rater_ids.shape}")
    if not np.isin(tensor, (0, 1)).all() or (tensor.sum(axis=2) > 1).any():
        raise SourceError(f"{p}: tensor must be one-hot over (no, maybe, yes): at most one 1 per "
                          "(rater, question)")
    r_idx, q_idx, a_idx = np.nonzero(tensor > 0)
    order = np.lexsort((r_idx, q_idx))
    r_idx, q_idx, a_idx = r_idx[order], q_idx[order], a_idx[order]
    q_label = np.array([class_index(str(v), f"{p}: info[{i}, 1]", digits=True)
                        for i, v in enumerate(info[:, 1])], np.int32)
    stems = np.array([_stem(f) for f in info[:, 0]], dtype=object)
    lab = q_label[q_idx]
    n = len(q_idx)
    offered = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), pa.array(lab))
    yes = a_idx == 2
    offsets = np.concatenate([[0], np.cumsum(yes)]).astype(np.int32)
    labels = pa.ListArray.from_arrays(pa.array(offsets), pa.array(lab[yes]))
    verdicts = np.array(["no", "maybe", "yes"], dtype=object)[a_idx]
    annot = np.array([f"real-rater-{int(r)}" for r in rater_ids], dtype=object)[r_idx]
    ids = [_sid(prefix, s) for s in stems[q_idx]]
    return _columnar(n, sample_id=ids, annotator=list(annot), labels=labels, offered=offered,
                     verdict=list(verdicts), source="real_raters")


def import_imagenetv2(path: str | Path, *, prefix: str) -> pa.Table:
    """ImageNetV2 refined multi-labels (Re-assessing ImageNet, 2024): file name -> label list.

    Args:
        path: ``imagenetv2_refined_labels.json`` (values are class indices as strings).
        prefix: ``sample_id`` prefix of the ImageNetV2 split; the key is the file stem.

    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise SourceError(f"{path}: expected a JSON object file name -> [labels]")
    keys = sorted(data)
    ids = [_sid(prefix, _stem(k)) for k in keys]
    unique(ids, path, "file names")
    labels = pa.array([class_list(data[k], f"{path}: {k!r}", digits=True) for k in keys],
                      pa.list_(pa.int32()))
    return _columnar(len(keys), sample_id=ids, annotator="reassessing-imagenet-2024", labels=labels,
                     verdict="set", source="imagenetv2")


MTURK_SETS = {"given": "g", "guessed": "s", "both": "gs", "neither": ""}


def import_mturk(path: str | Path, *, prefix: str, key_format: str) -> pa.Table:
    """Import label-errors MTurk votes: 5 workers chose given/guessed/both/neither per candidate.

    Workers are anonymous, so each vote's annotator is ``mturk`` (one pseudo-annotator per
    answer, not a person: do not estimate per-worker quality from them).

    Args:
        path: ``<dataset>_mturk.json``.
        prefix: ``sample_id`` prefix (``mnist/test``, ``imagenet/validation``).
        key_format: Format of the key from the record's ``id``: ``"{id}"`` for MNIST/CIFAR
            test indices, ``"ILSVRC2012_val_{id:08d}"`` for ImageNet file numbers.

    Returns:
        Votes with ``offered = [given, guessed]`` and the chosen subset as ``labels``;
        ``given`` holds the file's given label (checked at the join).

    """
    data = read_json(path)
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of candidate records")
    rows = []
    seen: set[str] = set()
    for i, rec in enumerate(data):
        where = f"{path}: record {i}"
        try:
            rid, g, s = rec["id"], rec["given_original_label"], rec["our_guessed_label"]
            counts = rec["mturk"]
        except (KeyError, TypeError) as exc:
            raise SourceError(f"{where} lacks id/given/guessed/mturk ({exc})") from exc
        g = class_index(g, f"{where} given_original_label")
        s = class_index(s, f"{where} our_guessed_label")
        try:
            key = key_format.format(id=class_index(rid, where, what="id"))
        except (KeyError, IndexError, ValueError) as exc:
            raise SourceError(f"{where}: key_format {key_format!r} does not format the id "
                              f"({exc}); use {{id}}") from exc
        if key in seen:
            raise SourceError(f"{path}: two records have id {rid!r}; keep one per image")
        seen.add(key)
        if not isinstance(counts, dict) or not set(counts) <= set(MTURK_SETS) or any(
                isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts.values()):
            raise SourceError(f"{where}: mturk must map {list(MTURK_SETS)} to vote counts "
                              f"(integers >= 0), got {counts!r}")
        raw = json.dumps({k: rec[k] for k in ("id", "url") if k in rec})
        for verdict, picks in MTURK_SETS.items():
            if verdict == "guessed" and s == g:
                continue  # the file repeats the "given" answers under "guessed": count once
            for _ in range(counts.get(verdict, 0)):
                chosen = [g] * ("g" in picks) + [s] * ("s" in picks)
                rows.append({"sample_id": _sid(prefix, key), "annotator": "mturk", "labels": chosen,
                             "offered": [g, s], "verdict": verdict, "given": g, "source": "mturk",
                             "raw": raw})
    return votes_from_rows(rows)


def import_mistakes(path: str | Path, *, prefix: str, model: str) -> pa.Table:
    """Dough-bagel mistake files: per mistaken image, the model's prediction, category, severity.

    Args:
        path: ``vit3b_mistakes.json`` / ``greedy_soups_mistakes.json``.
        prefix: ``sample_id`` prefix of the ImageNet validation split.
        model: Name of the model whose mistakes these are (``vit3b``, ``greedy_soups``).

    Returns:
        One vote per image: ``offered = [prediction]``, ``labels = []`` (the prediction is
        not valid), verdict ``mistake``, normalised ``category`` and ``severity``; annotator
        ``vasudevan2022``.

    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise SourceError(f"{path}: expected a JSON object file name -> mistake record")
    rows = []
    unique([_stem(k) for k in data], path, "file names")
    for name in sorted(data):
        rec = data[name]
        try:
            pred = rec["top_prediction"]
            cat_raw, sev_raw = str(rec["failure category"]), str(rec["failure severity"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"{path}: record {name!r} lacks a field ({exc})") from exc
        pred = class_index(pred, f"{path}: record {name!r} top_prediction")
        category = CATEGORIES.get(cat_raw.strip().lower())
        severity = sev_raw.strip().lower()
        if category is None or severity not in SEVERITIES:
            raise SourceError(
                f"{path}: record {name!r}: category {cat_raw!r} / severity {sev_raw!r} unknown; "
                f"known categories {sorted(CATEGORIES)}, severities {list(SEVERITIES)}"
            )
        rows.append({"sample_id": _sid(prefix, _stem(name)), "annotator": "vasudevan2022",
                     "labels": [], "offered": [pred], "verdict": "mistake", "category": category,
                     "severity": severity, "model": model, "source": "mistakes",
                     "raw": json.dumps({"failure category": cat_raw, "failure severity": sev_raw})})
    return votes_from_rows(rows)


REVIEW_FIELDS = ("sample_id", "annotator", "labels", "offered", "verdict", "category",
                 "severity", "model", "given")


def import_review(path: str | Path) -> tuple[pa.Table, int]:
    """Import benchsmith review votes (JSON lines, appended and fsynced by the review page).

    Lines written by one save of the review page share a ``save`` id; a later save by the
    same annotator on the same sample supersedes all lines of earlier ones (the reviewer
    changed their mind). Lines without ``save`` supersede per (sample, annotator, model).
    A torn line (the process was killed mid-write; the review page ends it with a newline
    when it restarts) is not JSON: it is skipped and counted, and the count is recorded in
    the labels config's manifest.

    Returns:
        ``(votes, skipped_lines)``.

    """
    p = Path(path)
    need_file(p, "review votes file")
    latest: dict[tuple[str, str], dict[str | None, dict[str, Any]]] = {}
    last_save: dict[tuple[str, str], Any] = {}
    skipped = parsed = 0
    lines = p.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n")  # a UTF-8 BOM is ok
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            try:  # a whole line in another encoding, not a torn one: refuse it
                json.loads(line.decode("utf-8", errors="replace"))
            except json.JSONDecodeError:
                skipped += 1  # a torn write that cut a multi-byte character
                continue
            raise SourceError(f"{p}: line {i + 1} is not UTF-8 ({exc}); the review page writes "
                              "UTF-8: re-save the file as UTF-8") from exc
        except json.JSONDecodeError:
            skipped += 1  # a torn write
            continue
        parsed += 1
        if not isinstance(rec, dict) or "sample_id" not in rec or "annotator" not in rec:
            raise SourceError(f"{p}: line {i + 1} lacks sample_id/annotator")
        row = {k: rec.get(k) for k in REVIEW_FIELDS}
        check_review_row(row, f"{p}: line {i + 1}", verdicts=VERDICTS,
                         categories=sorted(set(CATEGORIES.values())), severities=SEVERITIES)
        row["source"] = "review"
        row["verdict"] = row["verdict"] or "valid"
        row["raw"] = json.dumps({k: rec[k] for k in ("time", "save", "note") if k in rec})
        key = (row["sample_id"], row["annotator"])
        save = rec.get("save")
        if save is not None and last_save.get(key) != save:
            last_save[key] = save
            latest[key] = {}
        latest.setdefault(key, {})[row["model"]] = row
    if skipped and not parsed:
        raise SourceError(f"{p}: none of its {skipped} lines is a JSON vote; it is not a votes "
                          "file written by `benchsmith review`")
    return votes_from_rows(r for rows in latest.values() for r in rows.values()), skipped


def import_counts(path: str | Path, *, prefix: str, key_format: str = "{index}",
                  annotator: str = "crowd") -> pa.Table:
    """Vote-count matrices (CIFAR-10H style): ``counts[i, c]`` people chose class ``c``.

    The file is ``.npy`` of shape (N, C) with rows in the dataset's official order, or
    ``.npz`` with ``counts`` and ``sample_id`` (rows keyed explicitly; no order assumed).
    Every count becomes that many single-choice votes over all classes (``offered`` null,
    ``labels = [c]``, verdict ``set``); annotators are anonymous (``<annotator>``), so
    aggregation treats repeats as distinct pseudo-annotators. The join with the clean
    config is checked like every other importer's (an official-order file against a
    shuffled or shifted clean config fails the agreement check).

    Args:
        path: ``counts.npy`` / ``counts.npz``.
        prefix: ``sample_id`` prefix (``cifar10/test``).
        key_format: Key of row ``i`` of an ``.npy`` file (``"{index}"`` = official index).
        annotator: Annotator name recorded on every vote.

    Reference:
        Peterson et al., "Human uncertainty makes classification more robust", ICCV 2019
        (CIFAR-10H, ``cifar10h-counts.npy``).

    Example:
        >>> import tempfile, numpy as np
        >>> f = Path(tempfile.mkdtemp()) / "c.npy"
        >>> np.save(f, np.array([[2, 1], [0, 3]]))
        >>> import_counts(f, prefix="x/test").num_rows
        6
    """
    p = Path(path)
    need_file(p, "vote-count file")
    try:
        data = np.load(p, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if "counts" not in data or "sample_id" not in data:
                    raise SourceError(f"{p}: an .npz needs arrays 'counts' and 'sample_id' "
                                      f"(has {sorted(data.files)})")
                counts, keys = data["counts"], data["sample_id"]
            if keys.ndim != 1 or keys.dtype.kind != "U":
                raise SourceError(f"{p}: 'sample_id' must be a 1-D array of strings, got "
                                  f"{keys.dtype} {keys.shape}")
            ids = [str(k) for k in keys]
            unique(ids, p, "rows")
        else:
            counts, ids = data, None
    except (ValueError, OSError, EOFError) as exc:
        raise SourceError(f"{p}: not a numpy .npy/.npz file ({exc})") from exc
    if ids is None:
        try:
            ids = ([_sid(prefix, key_format.format(index=i)) for i in range(len(counts))]
                   if counts.ndim == 2 else [])
        except (KeyError, IndexError, ValueError) as exc:
            raise SourceError(f"{p}: key_format {key_format!r} does not format a row index "
                              f"({exc}); use e.g. {{index}}") from exc
    if counts.ndim != 2 or counts.dtype.kind not in "iuf" or len(ids) != len(counts):
        raise SourceError(f"{p}: expected an (N, C) count matrix, got {counts.dtype} "
                          f"{counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise SourceError(f"{p}: counts must be non-negative integers")
    total = float(counts.sum(dtype=np.float64))
    if total > MAX_COUNT_VOTES:
        raise SourceError(f"{p}: the counts add up to {total:.0f} votes (> {MAX_COUNT_VOTES:,}); "
                          "a count matrix holds how many people chose each class")
    c = counts.astype(np.int64)
    row, cls = np.nonzero(c)
    reps = c[row, cls]
    row, cls = np.repeat(row, reps), np.repeat(cls, reps)
    n = len(row)
    sid = pa.array(ids, pa.string()).take(pa.array(row))
    labels = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)),
                                      pa.array(cls.astype(np.int32)))
    return _columnar(n, sample_id=sid, annotator=annotator, labels=labels, verdict="set",
                     source="counts")


Importer = Callable[..., pa.Table]
#: importer key -> (function, the options it takes)
IMPORTERS: dict[str, tuple[Importer, tuple[str, ...]]] = {
    "real": (import_real, ("prefix",)),
    "real_raters": (import_real_raters, ("prefix",)),
    "imagenetv2": (import_imagenetv2, ("prefix",)),
    "mturk": (import_mturk, ("prefix", "key_format")),
    "mistakes": (import_mistakes, ("prefix", "model")),
    "counts": (import_counts, ("prefix", "key_format", "annotator")),
    "review": (lambda path: import_review(path)[0], ()),
}


@dataclass
class JoinReport:
    """What the join of one votes table with the clean config found."""

    source: str
    votes: int
    matched_votes: int
    samples: int
    matched_samples: int
    unmatched_examples: list[str] = field(default_factory=list)
    checks: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``manifest.json``."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def check_join(
    votes: pa.Table,
    given: Mapping[str, int],
    *,
    source: str,
    num_classes: int,
    min_agreement: float,
) -> tuple[pa.Table, JoinReport]:
    """Keep the votes whose ``sample_id`` is in the clean config, and check the join.

    Checks (each raises :class:`SourceError` naming the fix):

    * at least one vote matches a clean ``sample_id`` (else the prefix is wrong);
    * every label is in ``0..num_classes-1``;
    * where the file states the given label (``given`` column) it equals the clean label;
    * complete-set votes (``offered`` null, non-empty): the clean label is in the set for at
      least ``min_agreement`` of them (a shuffled positional join gives ~1/num_classes).

    Args:
        votes: One importer's votes.
        given: Clean ``sample_id`` -> given label.
        source: Name for messages.
        num_classes: Number of classes of the clean config.
        min_agreement: Minimum fraction for the statistical check, in [0, 1].

    Returns:
        ``(matched votes, report)``; unmatched votes are dropped and counted.

    """
    sids = votes["sample_id"].to_pylist()
    keep = np.fromiter((s in given for s in sids), bool, len(sids))
    all_samples = set(sids)
    report = JoinReport(source=source, votes=len(sids), matched_votes=int(keep.sum()),
                        samples=len(all_samples), matched_samples=0)
    report.unmatched_examples = sorted({s for s, k in zip(sids, keep, strict=True) if not k})[:5]
    if len(sids) and not keep.any():
        raise SourceError(
            f"{source}: none of {len(all_samples)} annotated sample_ids is in the clean config "
            f"(e.g. {sids[0]!r} vs clean {next(iter(given), '<empty>')!r}); fix the importer's "
            "prefix/key_format"
        )
    matched = votes.filter(pa.array(keep))
    report.matched_samples = len(set(matched["sample_id"].to_pylist()))
    for col in ("labels", "offered"):
        flat = pc.list_flatten(matched[col]).to_numpy(zero_copy_only=False)
        bad = flat[(flat < 0) | (flat >= num_classes)] if flat.size else flat
        if bad.size:
            raise SourceError(
                f"{source}: {col} hold class {int(bad[0])} outside 0..{num_classes - 1}")
    m_sids = matched["sample_id"].to_pylist()
    stated = matched["given"].to_pylist()
    wrong = [(s, g, given[s]) for s, g in zip(m_sids, stated, strict=True) if g is not None
             and g != given[s]]
    if any(g is not None for g in stated):
        report.checks["given_label_equal"] = 1.0 - len(wrong) / sum(g is not None for g in stated)
    if wrong:
        s, g, c = wrong[0]
        raise SourceError(
            f"{source}: {len(wrong)} votes state a given label that differs from the clean config "
            f"(e.g. {s}: file {g}, clean {c}); the positional join is wrong"
        )
    offered_null = matched["offered"].is_null().to_numpy(zero_copy_only=False)
    labels = matched["labels"].to_pylist()
    hits = [given[s] in lab for s, lab, o in zip(m_sids, labels, offered_null, strict=True)
            if o and lab]
    if hits:
        frac = float(np.mean(hits))
        report.checks["given_in_set"] = frac
        if frac < min_agreement:
            raise SourceError(
                f"{source}: the given label is in only {frac:.2%} of the imported label sets "
                f"(< {min_agreement:.0%}); the rows are probably joined in the wrong order "
                "(e.g. class-folder order vs file-name order)"
            )
    return matched, report
