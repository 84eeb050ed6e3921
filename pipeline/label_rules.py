"""The one rule for a *validated label error*, shared by the audit and re-annotation.

"Pervasive Label Errors in Test Sets" (Northcutt, Athalye & Mueller, 2021) sent each
candidate to 5 Mechanical Turk workers, who chose the given label, the model's guess,
*both* or *neither*; a candidate is a validated label error when fewer than 3 of the 5
chose the given label. "both" does not confirm the given label as *the* label of the
image: it is kept as multi-label information (the aggregated label set may then hold
both classes) but it counts towards the error.

Generalised to every vote benchsmith imports:

* a vote that answers a *choice* among offered labels (``offered`` is a list: MTurk,
  the review page) confirms the given label when the given label is the only label it
  marks valid;
* a vote that gives a *complete set* of valid labels (``offered`` is null: ReaL,
  ImageNetV2 re-assessment) confirms the given label when the set contains it;
* abstentions (``maybe``, ``unsure``, ``skip``) and votes that did not judge the given
  label are not counted;
* the given label is a validated error when the confirming votes are not a strict
  majority of the counted votes (``2 * confirming <= counted``): for 5 votes, fewer
  than 3 confirmations, exactly the paper's rule.

Reference:
    C. G. Northcutt, A. Athalye, J. Mueller. Pervasive Label Errors in Test Sets
    Destabilize Machine Learning Benchmarks. NeurIPS Datasets and Benchmarks, 2021,
    section 4 ("validated" errors) and cleanlab/label-errors ``*_mturk.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["ABSTAIN", "confirms_given", "is_validated_error", "validated_errors"]

#: Verdicts that abstain (the vote carries no information on validity).
ABSTAIN: frozenset[str] = frozenset({"maybe", "unsure", "skip"})


def confirms_given(labels: Sequence[int], offered: Sequence[int] | None, given: int) -> bool | None:
    """Whether one vote confirms the given label; ``None`` when it did not judge it.

    Args:
        labels: Class indices the vote marks valid.
        offered: Classes the vote chose among, or ``None`` for a complete-set vote.
        given: The given label.

    Example:
        >>> confirms_given([3], [3, 5], 3), confirms_given([3, 5], [3, 5], 3)
        (True, False)
        >>> confirms_given([3, 5], None, 3), confirms_given([5], [5, 7], 3) is None
        (True, True)
    """
    if offered is None:
        return given in labels
    if given not in offered:
        return None
    return list(set(labels)) == [given]


def is_validated_error(confirming: int, counted: int) -> bool:
    """Apply the paper's rule: the given label is wrong unless a strict majority confirmed it.

    Args:
        confirming: Votes confirming the given label.
        counted: Votes that judged it (abstentions excluded), >= 1.

    Example:
        >>> [is_validated_error(k, 5) for k in range(6)]
        [True, True, True, False, False, False]
    """
    if counted < 1:
        raise ValueError("a validated-error decision needs at least one counted vote")
    return 2 * confirming <= counted


def validated_errors(
    votes: Iterable[Mapping[str, object]], given: Mapping[str, int]
) -> dict[str, bool]:
    """Decide, per ``sample_id`` with a counted vote, whether the given label is a validated error.

    Args:
        votes: Vote records with ``sample_id``, ``labels``, ``offered`` and ``verdict``
            (the votes table of :mod:`pipeline.reannotate.importers`, as rows).
        given: ``sample_id`` -> given label.

    Returns:
        ``sample_id`` -> bool, for samples some non-abstaining vote judged.
    """
    tally: dict[str, list[int]] = {}
    for v in votes:
        if v.get("verdict") in ABSTAIN:
            continue
        sid = str(v["sample_id"])
        ok = confirms_given(list(v["labels"] or ()), v["offered"], given[sid])  # type: ignore[arg-type]
        if ok is None:
            continue
        t = tally.setdefault(sid, [0, 0])
        t[0] += int(ok)
        t[1] += 1
    return {s: is_validated_error(c, n) for s, (c, n) in tally.items()}
