"""Planted-flip selection measure for the ``cnn`` route's digits setting (MNIST test).

Choosing the digits setting on the 15 MTurk-validated MNIST errors would tune to the test
(15 is far too few). This bench plants its own errors instead: a fixed 2% of MNIST test
(200 of 10,000 rows, numpy ``default_rng(PLANT_SEED)``, rows drawn without replacement,
each new label uniform over the 9 other classes) get a wrong label, the 5-fold route runs
on the noisy labels, and the measure is the fraction of the planted rows in the top-K of
the product's ranking (``prune_by_noise_rate`` + ``normalized_margin``, K = 200 planted).
No MTurk information is used. The genuine errors of MNIST test (a few dozen) stay in the
labels as they are; they compete for the same top-K in every candidate alike.

Beside it: held-out accuracy against the original labels and against the noisy ones, ECE
(against the noisy, as the product reports it), wall and CPU seconds and the load average.
``--real`` also runs the setting on the original labels and counts the 15 validated errors
in the top-100 (reported, never selected on).

Each run appends one JSON line to ``--log``; ``--render`` prints the markdown table of the
log (pasted into ``benchmarks/results/audit_routes.md``).

Run: ``python benchmarks/bench_audit_planted.py --name a --params '{"flip": false}'
[--real]``; ``python benchmarks/bench_audit_planted.py --render``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_audit_cnn import SHARED, _cpu_seconds, _mnist  # noqa: E402

from pipeline.audit.issues import label_issues  # noqa: E402
from pipeline.audit.probs import fold_ids  # noqa: E402
from pipeline.audit.reference import mturk_records  # noqa: E402
from pipeline.audit.stage import model_adequacy  # noqa: E402

#: Seed of the planted flips (fixed, so every candidate sees the same noisy labels).
PLANT_SEED = 20261201
#: Fraction of rows planted.
PLANT_RATE = 0.02


def plant_flips(labels: np.ndarray, *, rate: float = PLANT_RATE, seed: int = PLANT_SEED,
                n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``rate`` of the labels uniformly to another class.

    Returns:
        ``(noisy labels, planted row indices)``.
    """
    rng = np.random.default_rng(seed)
    n = int(round(rate * len(labels)))
    rows = np.sort(rng.choice(len(labels), size=n, replace=False))
    noisy = labels.copy()
    noisy[rows] = (labels[rows] + rng.integers(1, n_classes, size=n)) % n_classes
    return noisy, rows


def _run(images: np.ndarray, labels: np.ndarray, ids: list[str],
         params: dict) -> tuple[np.ndarray, dict]:
    from pipeline.audit.cnn import cnn_pred_probs

    fid = fold_ids(ids, labels, folds=5, seed=0)
    load, t, cpu = os.getloadavg()[0], time.perf_counter(), _cpu_seconds()
    probs, _ = cnn_pred_probs(images, labels, fid, n_classes=10, seed=0, params=params,
                              scheduler="processes", workers=2)
    cost = {"wall_s": time.perf_counter() - t, "cpu_s": _cpu_seconds() - cpu,
            "load_start": load, "load_end": os.getloadavg()[0]}
    return probs, cost


def selection_parser(log: str) -> argparse.ArgumentParser:
    """The options every selection bench takes: ``--name``, ``--params``, ``--log``, ``--render``.

    Args:
        log: Default log file name under ``benchmarks/results/``.
    """
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="")
    ap.add_argument("--params", default="{}", help="audit.probs.cnn overrides (JSON)")
    ap.add_argument("--log", type=Path, default=Path(__file__).parent / "results" / log)
    ap.add_argument("--render", action="store_true")
    return ap


def main() -> None:
    ap = selection_parser("audit_planted.jsonl")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--reason", default="")
    ap.add_argument("--real", action="store_true", help="also run on the original labels")
    ap.add_argument("--no-planted", action="store_true")
    args = ap.parse_args()
    if args.render:
        render(args.log)
        return
    params = json.loads(args.params)
    images, labels = _mnist(args.shared)
    ids = [f"mnist/test/{i}" for i in range(len(labels))]
    row: dict = {"name": args.name, "reason": args.reason, "params": params,
                 "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if not args.no_planted:
        noisy, planted = plant_flips(labels)
        probs, cost = _run(images, noisy, ids, params)
        li = label_issues(noisy, probs, ids, filter_by="prune_by_noise_rate",
                          rank_by="normalized_margin", candidates=len(planted))
        trust = model_adequacy(probs, noisy)
        row["planted"] = {
            "k": len(planted), "found": int(li["review_candidate"][planted].sum()),
            "acc_original": float((probs.argmax(1) == labels).mean()),
            "acc_noisy": trust["heldout_accuracy"], "ece": trust["ece"], **cost}
        print(json.dumps(row["planted"]), flush=True)
    if args.real:
        probs, cost = _run(images, labels, ids, params)
        li = label_issues(labels, probs, ids, filter_by="prune_by_noise_rate",
                          rank_by="normalized_margin", candidates=100)
        rel = args.shared / "reference/label-errors"
        errs = sorted(r["index"] for r in mturk_records(rel, "mnist", prefix="mnist")
                      if r["validated_error"])
        ranks = [int(li["rank"][i]) for i in errs]
        trust = model_adequacy(probs, labels)
        row["real"] = {"found": sum(r <= 100 for r in ranks), "n": len(errs),
                       "missed_ranks": sorted(r for r in ranks if r > 100),
                       "acc": trust["heldout_accuracy"], "ece": trust["ece"], **cost}
        print(json.dumps(row["real"]), flush=True)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _tail(d: dict, date: str) -> str:
    """The accuracy, cost and time cells both tables end with."""
    return (f"{d['ece']:.3f} | {d['wall_s']:.0f} | {d['cpu_s']:.0f} | "
            f"{d['load_start']:.1f}-{d['load_end']:.1f} | {date} |")


def _planted_row(r: dict) -> str:
    p = r["planted"]
    return (f"| {r['name']} | `{json.dumps(r['params'])}` | {p['found']} / {p['k']} "
            f"({p['found'] / p['k']:.1%}) | {p['acc_original']:.2%} / {p['acc_noisy']:.2%} | "
            + _tail(p, r["date"]))


def _real_row(r: dict) -> str:
    q = r["real"]
    return (f"| {r['name']} | {q['found']} / {q['n']} | "
            f"{', '.join(map(str, q['missed_ranks'])) or '-'} | {q['acc']:.2%} | "
            + _tail(q, r["date"]))


def render(log: Path) -> None:
    """Print the log as two markdown tables (planted selection; real labels, reported only)."""
    rows = [json.loads(s) for s in log.read_text().splitlines() if s.strip()]
    tables = (
        ("planted", _planted_row, "| candidate | overrides | planted in top-K | held-out acc "
         "(original / noisy) | ECE | wall s | CPU s | load avg | when |"),
        ("real", _real_row, "| candidate | validated errors in top-100 | missed ranks | "
         "held-out acc | ECE | wall s | CPU s | load avg | when |"),
    )
    for key, fmt, header in tables:
        lines = [header, "|---" * 9 + "|", *(fmt(r) for r in rows if key in r)]
        print("\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
