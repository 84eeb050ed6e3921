"""Config manifests and metric points of the ``shift`` stage: what a card says about a config.

:func:`write_entry_manifests` writes the ``manifest.json`` of one entry's training
config and of each of its intensity configs (identity, knob meaning, the measured
shift and a one-paragraph description) and returns the entry's points of
``shift_metrics.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from pipeline.shards import write_config_manifest
from pipeline.shift_section import ShiftEntry

__all__ = ["METRIC_KEYS", "describe", "write_entry_manifests"]

#: Measured values every point of ``shift_metrics.json`` carries (plus ``latent_non_overlap``
#: for families generated from known latent laws).
METRIC_KEYS = ("outside_support", "mmd2", "mmd_p_value", "c2st_auc", "probe_accuracy")


def describe(spec: Any, entry: ShiftEntry, knob: float, m: dict[str, Any], base: str) -> str:
    """One paragraph for the card of one intensity config: the knob, the shift, the measures."""
    latent = (
        f" The generating latent law puts {100 * m['latent_non_overlap']:.1f}% of its mass "
        "outside the training latent support (Control+Shift's intensity; the measure that "
        "tracks the probe's degradation)."
        if "latent_non_overlap" in m
        else ""
    )
    return (
        f"{base} shifted by `{entry.shift}` at intensity {knob:.2f} ({spec.knob}). "
        f"{spec.description} Measured against the training distribution (config "
        f"`{entry.train_config}`) in a {m['settings']['feature']} space"
        f"{' joined with a one-hot label' if m['settings']['label_weight'] > 0 else ''}: "
        f"{100 * m['outside_support']:.1f}% of rows outside the training support "
        f"({100 * (1 - m['settings']['quantile']):.0f}% expected without shift), kernel MMD² "
        f"{m['mmd2']:.4f} (permutation p = {m['mmd_p_value']:.3f}), classifier two-sample AUC "
        f"{m['c2st_auc']:.3f}; a logistic-regression probe trained on the training set scores "
        f"{100 * m['probe_accuracy']:.1f}% here ({100 * m['probe_accuracy_train_cv']:.1f}% on "
        f"held-out training rows).{latent}"
    )


def write_entry_manifests(
    entry: ShiftEntry,
    res: dict[str, Any],
    out: Path,
    *,
    features: datasets.Features,
    common: dict[str, Any],
    base: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write the config manifests of one entry (training + every intensity).

    Args:
        entry: The manifest entry.
        res: :func:`pipeline.shift.run_entry`'s result for it.
        out: Stage output folder.
        features: Schema of the shift configs.
        common: Keys every config's ``extra`` shares (benchmark, seed, row counts, ...).
        base: The pool's description (first words of every test config's card).

    Returns:
        ``({config name: manifest dict}, [metric point per intensity])``.

    """
    from corruptions.shifts import get_shift_registry

    spec = get_shift_registry()[entry.shift]
    ident = {
        "shift": entry.shift,
        "name": entry.name,
        "params": entry.params,
        "knob_meaning": spec.knob,
        "shift_reference": spec.reference,
        "synthetic": spec.synthetic,
        "preserves_labels": spec.preserves_labels,
    }
    written: dict[str, Any] = {}
    points: list[dict[str, Any]] = []
    tdir = out / entry.train_config
    written[tdir.name] = write_config_manifest(
        tdir,
        config=tdir.name,
        features=features,
        shards=[res["train"]],
        extra={
            **common,
            **ident,
            "role": "train",
            "summary": res["train"].get("summary", {}),
            "description": (
                f"Training distribution of `{entry.name}` "
                f"({'synthetic' if spec.synthetic and spec.training else 'real'}"
                f" rows, {res['train']['num_rows']}): the intensity-0 "
                f"reference every `{entry.name}_k*` config is measured "
                f"against. {spec.description}"
            ),
        },
    )
    for c in res["configs"]:
        m = c["measured"]
        cdir = out / c["config"]
        written[c["config"]] = write_config_manifest(
            cdir,
            config=c["config"],
            features=features,
            shards=[c["record"]],
            extra={
                **common,
                **ident,
                "role": "test",
                "intensity": c["knob"],
                "measured": m,
                "summary": c["record"].get("summary", {}),
                "description": describe(spec, entry, c["knob"], m, base),
            },
        )
        points.append(
            {
                "intensity": c["knob"],
                "config": c["config"],
                **{k: m[k] for k in METRIC_KEYS},
                **({"latent_non_overlap": m["latent_non_overlap"]}
                   if "latent_non_overlap" in m else {}),
            }
        )
    return written, points
