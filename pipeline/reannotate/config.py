"""The manifest's ``reannotate`` section, validated strictly.

Example::

    reannotate:
      config_name: labels            # output config (votes go to <config_name>-votes)
      clean_config: clean            # which clean config the votes are about
      sources:
        - importer: real   # real | real_raters | imagenetv2 | mturk | mistakes | counts | review
          path: refs/real.json
          options: {prefix: imagenet/validation}
        - importer: mistakes
          path: refs/vit3b_mistakes.json
          options: {prefix: imagenet/validation, model: vit3b}
      aggregate:
        rule: majority               # majority | plurality | cleanlab
        threshold: 0.5               # majority: share of judging votes above which a label is valid
        pred_probs: null             # Parquet (sample_id, probs) for cleanlab, or null
      unvoted: given                 # rows without votes: keep the given label as the set, or drop
      min_agreement: 0.5             # join check: given label in >= this share of imported sets
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ManifestError
from pipeline.manifest import check_keys
from pipeline.reannotate.aggregate import RULES
from pipeline.reannotate.importers import IMPORTERS

__all__ = ["ImportSpec", "ReannotateSpec", "parse_section"]

SECTION_KEYS = {
    "config_name": "output config name (default labels)",
    "clean_config": "clean config the votes are about (default: the manifest's only clean config)",
    "sources": "list of {importer, path, options}",
    "aggregate": "{rule: majority|plurality|cleanlab, threshold, pred_probs}",
    "unvoted": "rows without votes: given (set = [given label]) | drop",
    "min_agreement": "join check threshold in [0, 1] (default 0.5)",
}
SOURCE_KEYS = {
    "importer": f"one of {sorted(IMPORTERS)}",
    "path": "the annotation file",
    "options": "importer options (prefix, key_format, model, annotator)",
}
AGG_KEYS = {
    "rule": f"one of {list(RULES)}",
    "threshold": "majority: share of judging votes above which a label is valid, in [0, 1)",
    "pred_probs": "Parquet with sample_id and probs (list of float) for cleanlab, or null",
}
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "real": {"prefix": "imagenet/validation"},
    "real_raters": {"prefix": "imagenet/validation"},
    "mistakes": {"prefix": "imagenet/validation"},
    "mturk": {"key_format": "{id}"},
    "counts": {"key_format": "{index}", "annotator": "crowd"},  # import_counts' own defaults
}


@dataclass(frozen=True)
class ImportSpec:
    """One annotation source."""

    importer: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReannotateSpec:
    """The validated ``reannotate`` section."""

    config_name: str
    clean_config: str | None
    sources: tuple[ImportSpec, ...]
    rule: str
    threshold: float
    pred_probs: str | None
    unvoted: str
    min_agreement: float


def _fraction(value: Any, where: str, *, upper_open: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and (0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0):
        return float(value)
    rng = "[0, 1)" if upper_open else "[0, 1]"
    raise ManifestError(f"{where}: expected a number in {rng}, got {value!r}")


def parse_section(data: Any, where: str) -> ReannotateSpec:
    """Validate the ``reannotate`` section.

    Args:
        data: The parsed YAML value.
        where: Location for messages (``<file>: reannotate``).

    Raises:
        ManifestError: Unknown key, unknown importer or rule, missing option, bad value.

    Example:
        >>> spec = parse_section({"sources": [{"importer": "review", "path": "v.jsonl"}]}, "m")
        >>> spec.rule, spec.config_name
        ('majority', 'labels')

    """
    d = check_keys(data, where, SECTION_KEYS, {"sources"})
    if not isinstance(d["sources"], list) or not d["sources"]:
        raise ManifestError(f"{where}.sources: expected a non-empty list of annotation sources")
    sources = []
    for i, s in enumerate(d["sources"]):
        w = f"{where}.sources[{i}]"
        s = check_keys(s, w, SOURCE_KEYS, {"importer", "path"})
        imp = s["importer"]
        if imp not in IMPORTERS:
            raise ManifestError(f"{w}.importer: {imp!r} is not one of {sorted(IMPORTERS)}")
        if not isinstance(s["path"], str) or not s["path"]:
            raise ManifestError(f"{w}.path: expected a file path")
        if not isinstance(s.get("options") or {}, dict):
            raise ManifestError(f"{w}.options: expected a mapping of importer options, got "
                                f"{s['options']!r}")
        opts = {**DEFAULT_OPTIONS.get(imp, {}), **(s.get("options") or {})}
        allowed = IMPORTERS[imp][1]
        unknown = sorted(set(opts) - set(allowed))
        if unknown:
            raise ManifestError(
                f"{w}.options: unknown {unknown}; importer {imp!r} takes {list(allowed)}")
        missing = sorted(set(allowed) - set(opts))
        if missing:
            raise ManifestError(f"{w}.options: importer {imp!r} needs {missing}")
        for k, v in opts.items():
            if not isinstance(v, str) or not v:
                raise ManifestError(f"{w}.options.{k}: expected a non-empty string, got {v!r}")
        sources.append(ImportSpec(importer=imp, path=s["path"], options=opts))
    agg = check_keys(d.get("aggregate") or {}, f"{where}.aggregate", AGG_KEYS)
    rule = agg.get("rule", "majority")
    if rule not in RULES:
        raise ManifestError(f"{where}.aggregate.rule: {rule!r} is not one of {list(RULES)}")
    for key, user in (("threshold", "majority"), ("pred_probs", "cleanlab")):
        if key in agg and rule != user:  # it would be ignored without a word
            raise ManifestError(f"{where}.aggregate.{key}: only rule {user} uses it (rule is "
                                f"{rule}); remove it or set rule: {user}")
    pred_probs = agg.get("pred_probs")
    if pred_probs is not None and not isinstance(pred_probs, str):
        raise ManifestError(f"{where}.aggregate.pred_probs: expected a Parquet path or null")
    unvoted = d.get("unvoted", "given")
    if unvoted not in ("given", "drop"):
        raise ManifestError(f"{where}.unvoted: {unvoted!r} is not one of ['given', 'drop']")
    name = d.get("config_name", "labels")
    clean = d.get("clean_config")
    for key, val in (("config_name", name), ("clean_config", clean)):
        if val is not None and (not isinstance(val, str) or not val or "/" in val):
            raise ManifestError(f"{where}.{key}: expected a config name, got {val!r}")
    return ReannotateSpec(
        config_name=name,
        clean_config=clean,
        sources=tuple(sources),
        rule=rule,
        threshold=_fraction(agg.get("threshold", 0.5), f"{where}.aggregate.threshold",
                            upper_open=True),
        pred_probs=pred_probs,
        unvoted=unvoted,
        min_agreement=_fraction(d.get("min_agreement", 0.5), f"{where}.min_agreement",
                                upper_open=False),
    )
