"""Aggregate votes into a ReaL-style set of valid labels per row.

Every vote judges some classes of one sample (``offered``; ``null`` = every class) and
marks a subset of them valid (``labels``). Per sample the *candidates* are the given
label plus every class any vote mentions; a complete-set vote answers "not valid" for
every candidate outside its set. Abstentions (``maybe``, ``unsure``, ``skip``) are
ignored. A candidate nobody asked about keeps its prior: the given label stays valid
until votes reject it, other classes are not valid. Two rules:

* ``majority``: a candidate is valid when more than ``threshold`` of the votes that
  judged it marked it valid (``threshold=0.5`` = strict majority; ties are not valid).
* ``plurality``: the candidate(s) marked valid by the most votes (ties are all valid; a
  sample nobody marked anything valid for gets an empty set). With single-choice votes
  (CIFAR-10H) this is the modal label, where a strict majority can leave a set empty.
* ``cleanlab``: the (sample, class) questions become a binary multi-annotator task
  (valid / not valid) solved by :func:`cleanlab.multiannotator.get_label_quality_multiannotator`
  (CROWDLAB) with the model's probability of the class as the binary ``pred_probs`` when
  given, else :func:`cleanlab.multiannotator.get_majority_vote_label`. Anonymous
  annotators that vote several times on one sample (MTurk) become distinct
  pseudo-annotators ``name#k`` for it.

References:
    Beyer et al., "Are we done with ImageNet?", 2020 (label sets; empty = no valid label).
    Goh, Tkachenko & Mueller, "CROWDLAB: Supervised learning to infer consensus labels and
    quality scores for data with multiple annotators", 2022.

"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipeline.label_rules import ABSTAIN

__all__ = ["RULES", "Aggregate", "Questions", "questions", "aggregate"]

RULES: tuple[str, ...] = ("majority", "plurality", "cleanlab")


@dataclass
class Questions:
    """The (sample, class) questions the votes answer, one row per (question, vote)."""

    sample_ids: list[str]  # per question
    classes: np.ndarray  # per question, int
    q_of_vote: np.ndarray  # per answer: question index
    annotator_of_vote: list[str]  # per answer (pseudo-annotator for repeats)
    valid: np.ndarray  # per answer: bool


@dataclass
class Aggregate:
    """Aggregated labels: per sample id, the valid-label set and vote statistics."""

    labels: dict[str, list[int]]
    num_votes: dict[str, int]
    agreement: dict[str, float]
    rule: str
    params: dict[str, object]


def questions(votes: pa.Table, given: Mapping[str, int]) -> Questions:
    """Expand votes into binary answers to (sample, candidate class) questions.

    Args:
        votes: Votes table (:data:`~pipeline.reannotate.importers.VOTE_SCHEMA`), joined.
        given: ``sample_id`` -> given label.

    Returns:
        The questions and one answer per (vote, judged candidate).

    """
    sids = votes["sample_id"].to_pylist()
    labels = votes["labels"].to_pylist()
    offered = votes["offered"].to_pylist()
    verdicts = votes["verdict"].to_pylist()
    annotators = votes["annotator"].to_pylist()
    by_sample: dict[str, list[int]] = {}
    for i, s in enumerate(sids):
        if verdicts[i] not in ABSTAIN:
            by_sample.setdefault(s, []).append(i)
    q_sid: list[str] = []
    q_cls: list[int] = []
    a_q: list[int] = []
    a_ann: list[str] = []
    a_valid: list[bool] = []
    for s, idx in by_sample.items():
        cands = {given[s]}
        for i in idx:
            cands.update(labels[i])
            cands.update(offered[i] or ())
        qid = {}
        for c in sorted(cands):
            qid[c] = len(q_sid)
            q_sid.append(s)
            q_cls.append(c)
        seen: dict[str, int] = {}
        for i in idx:
            k = seen.get(annotators[i], 0)
            seen[annotators[i]] = k + 1
            name = annotators[i] if k == 0 else f"{annotators[i]}#{k}"
            judged = cands if offered[i] is None else offered[i]
            lab = set(labels[i])
            for c in judged:
                a_q.append(qid[c])
                a_ann.append(name)
                a_valid.append(c in lab)
    return Questions(q_sid, np.asarray(q_cls, np.int64), np.asarray(a_q, np.int64), a_ann,
                     np.asarray(a_valid, bool))


def _decide_majority(q: Questions, threshold: float) -> np.ndarray:
    n = len(q.sample_ids)
    asked = np.bincount(q.q_of_vote, minlength=n)
    yes = np.bincount(q.q_of_vote, weights=q.valid, minlength=n)
    return yes > threshold * asked


def _decide_plurality(q: Questions) -> np.ndarray:
    """Per sample, the candidate(s) with the most "valid" marks (ties kept; none if 0)."""
    n = len(q.sample_ids)
    yes = np.bincount(q.q_of_vote, weights=q.valid, minlength=n)
    sample = np.unique(np.asarray(q.sample_ids, dtype=object), return_inverse=True)[1]
    best = np.zeros(int(sample.max()) + 1 if n else 0)
    np.maximum.at(best, sample, yes)
    return (yes > 0) & (yes == best[sample])


def _decide_cleanlab(q: Questions, pred_probs: Mapping[str, np.ndarray] | None) -> np.ndarray:
    import pandas as pd
    from cleanlab.multiannotator import get_label_quality_multiannotator, get_majority_vote_label

    n = len(q.sample_ids)
    asked = np.flatnonzero(np.bincount(q.q_of_vote, minlength=n) > 0)
    row = np.full(n, -1, np.int64)
    row[asked] = np.arange(len(asked))
    names = sorted(set(q.annotator_of_vote))
    col = {a: j for j, a in enumerate(names)}
    mat = np.full((len(asked), len(names)), np.nan, np.float32)
    mat[row[q.q_of_vote], [col[a] for a in q.annotator_of_vote]] = q.valid.astype(np.float32)
    frame = pd.DataFrame(mat, columns=names)
    decided = np.zeros(n, bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if pred_probs is None:
            decided[asked] = get_majority_vote_label(frame, verbose=False).astype(bool)
            return decided
        missing = [s for s in set(q.sample_ids) if s not in pred_probs]
        if missing:
            raise ValueError(
                f"pred_probs lack {len(missing)} annotated samples, e.g. {missing[0]!r}")
        p = np.array([pred_probs[q.sample_ids[i]][q.classes[i]] for i in asked], np.float64)
        p = np.clip(p, 1e-6, 1 - 1e-6)
        binary = np.stack([1 - p, p], axis=1)
        res = get_label_quality_multiannotator(frame, binary, verbose=False,
                                               return_annotator_stats=False,
                                               return_detailed_quality=False)
        decided[asked] = res["label_quality"]["consensus_label"].to_numpy().astype(bool)
        return decided


def aggregate(
    votes: pa.Table,
    given: Mapping[str, int],
    *,
    rule: str,
    threshold: float,
    pred_probs: Mapping[str, np.ndarray] | None = None,
    sample_order: Sequence[str] | None = None,
) -> Aggregate:
    """Aggregate joined votes into a set of valid labels per annotated sample.

    Args:
        votes: Joined votes (every ``sample_id`` is in ``given``).
        given: ``sample_id`` -> given label.
        rule: ``majority``, ``plurality`` or ``cleanlab``.
        threshold: ``majority``: share of judging votes above which a class is valid, in
            [0, 1). Ignored by ``cleanlab``.
        pred_probs: ``sample_id`` -> class probabilities (float32, sums to 1); used by
            ``cleanlab``.
        sample_order: Order of the output keys (default: first appearance in ``votes``).

    Returns:
        An :class:`Aggregate` over the samples with at least one vote (abstentions
        included: a sample whose votes all abstain keeps its given label).

    Example:
        >>> from pipeline.reannotate.importers import votes_from_rows
        >>> v = votes_from_rows([
        ...     {"sample_id": "s", "annotator": a, "labels": l, "offered": [0, 1],
        ...      "verdict": "x", "source": "t"}
        ...     for a, l in (("a", [0, 1]), ("b", [1]), ("c", [1]))])
        >>> aggregate(v, {"s": 0}, rule="majority", threshold=0.5).labels
        {'s': [1]}

    """
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} unknown; choose one of {list(RULES)}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold {threshold} outside [0, 1)")
    q = questions(votes, given)
    if len(q.sample_ids) == 0:
        decided = np.zeros(0, bool)
    elif rule == "majority":
        decided = _decide_majority(q, threshold)
    elif rule == "plurality":
        decided = _decide_plurality(q)
    else:
        decided = _decide_cleanlab(q, pred_probs)
    asked = np.bincount(q.q_of_vote, minlength=len(q.sample_ids))
    decided = np.where(asked == 0, [given[s] == c for s, c in zip(q.sample_ids, q.classes,
                                                                   strict=True)], decided)
    agree = q.valid == decided[q.q_of_vote] if len(q.valid) else np.zeros(0, bool)
    agree_sum = np.bincount(q.q_of_vote, weights=agree, minlength=len(q.sample_ids))
    out: dict[str, list[int]] = {}
    n_agree: dict[str, float] = {}
    n_ans: dict[str, int] = {}
    for i, s in enumerate(q.sample_ids):
        lab = out.setdefault(s, [])
        if decided[i]:
            lab.append(int(q.classes[i]))
        n_agree[s] = n_agree.get(s, 0.0) + float(agree_sum[i])
        n_ans[s] = n_ans.get(s, 0) + int(asked[i])
    sids = votes["sample_id"].to_pylist()
    counts: dict[str, int] = {}
    for s in sids:
        counts[s] = counts.get(s, 0) + 1
    order = list(sample_order) if sample_order is not None else list(dict.fromkeys(sids))
    labels, num, agreement = {}, {}, {}
    for s in order:
        if s not in counts:
            continue
        labels[s] = out.get(s, [given[s]])
        num[s] = counts[s]
        agreement[s] = n_agree[s] / n_ans[s] if n_ans.get(s) else float("nan")
    return Aggregate(labels, num, agreement, rule,
                     {"threshold": threshold, "pred_probs": pred_probs is not None})
