"""Agreement between named reviewers: per item, Cohen's kappa per pair, Fleiss' kappa.

Each reviewer's standing decision on an item is a category: ``correct`` (the given label is
the label) or ``set:<sorted labels>`` (their own set, empty = no valid label);
abstentions and retractions (``unsure``, ``skip``, ...) are not decisions. Model-mistake
lines are not counted (they follow from the set). Anonymous crowd votes (MTurk, count
matrices) have no reviewer identity and are left out.

References:
    J. Cohen, "A coefficient of agreement for nominal scales", 1960.
    J. L. Fleiss, "Measuring nominal scale agreement among many raters", 1971 (with the
    usual generalisation to a varying number of raters per item).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import pyarrow as pa

from pipeline.label_rules import ABSTAIN

__all__ = ["decisions", "cohen_kappa", "fleiss_kappa", "reviewer_agreement"]

#: Vote sources whose annotators are named people (the review page).
NAMED_SOURCES = frozenset({"review"})


def decisions(votes: pa.Table, given: Mapping[str, int]) -> dict[str, dict[str, str]]:
    """``sample_id`` -> {annotator: decision category} for named reviewers' standing votes."""
    out: dict[str, dict[str, str]] = {}
    cols = {c: votes[c].to_pylist() for c in ("sample_id", "annotator", "labels", "verdict",
                                              "model", "source")}
    for s, a, labels, verdict, model, source in zip(*cols.values(), strict=True):
        if source not in NAMED_SOURCES or model is not None or verdict in ABSTAIN:
            continue
        lab = sorted(set(labels or ()))
        out.setdefault(s, {})[a] = "correct" if lab == [given[s]] else f"set:{lab}"
    return out


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' categories on the same items (None if undefined).

    Example:
        >>> cohen_kappa(["x", "x", "y", "y"], ["x", "x", "y", "x"])
        0.5
    """
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return None if pe == 1 else (po - pe) / (1 - pe)


def fleiss_kappa(items: list[list[str]]) -> float | None:
    """Fleiss' kappa over items rated by >= 2 raters each (numbers of raters may vary).

    Example:
        >>> round(fleiss_kappa([["x", "x"], ["y", "y"], ["x", "y"]]), 3)
        0.333
    """
    rated = [r for r in items if len(r) >= 2]
    if not rated:
        return None
    total = sum(len(r) for r in rated)
    pj = Counter(c for r in rated for c in r)
    pe = sum((v / total) ** 2 for v in pj.values())
    pbar = sum((sum(v * v for v in Counter(r).values()) - len(r)) / (len(r) * (len(r) - 1))
               for r in rated) / len(rated)
    return None if pe == 1 else (pbar - pe) / (1 - pe)


def reviewer_agreement(votes: pa.Table, given: Mapping[str, int]) -> dict[str, Any]:
    """Agreement summary of the named reviewers (recorded in the labels config and card).

    Returns:
        ``reviewers`` (names), ``items_reviewed``, ``items_multi`` (>= 2 reviewers),
        ``items_unanimous``, ``fleiss_kappa`` and ``cohen_kappa`` per pair
        (``"a|b"`` -> kappa over the items both decided), None where undefined.
    """
    dec = decisions(votes, given)
    reviewers = sorted({a for d in dec.values() for a in d})
    multi = [d for d in dec.values() if len(d) >= 2]
    pairs: dict[str, float | None] = {}
    for a, b in combinations(reviewers, 2):
        both = [d for d in dec.values() if a in d and b in d]
        pairs[f"{a}|{b}"] = cohen_kappa([d[a] for d in both], [d[b] for d in both])
    return {
        "reviewers": reviewers,
        "items_reviewed": len(dec),
        "items_multi": len(multi),
        "items_unanimous": sum(1 for d in multi if len(set(d.values())) == 1),
        "fleiss_kappa": fleiss_kappa([list(d.values()) for d in multi]),
        "cohen_kappa": pairs,
    }
