"""The ``shift:`` manifest section of the ``shift`` stage: keys, entries and validation.

See :mod:`pipeline.shift` for the section's layout; :func:`parse_section` is what
:mod:`pipeline.manifest` calls for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ManifestError
from pipeline.manifest import NAME_RE, check_keys

__all__ = [
    "SECTION_KEYS",
    "ENTRY_KEYS",
    "MEASURE_DEFAULTS",
    "ShiftEntry",
    "ShiftSection",
    "parse_section",
]

SECTION_KEYS = {
    "input": "clean config folder under --in (default: the manifest's clean config)",
    "split": "split of the input config to shift (default test)",
    "reference_fraction": "share of rows on the reference/training side, in (0, 1) (default 0.5)",
    "size": "rows per shifted config (int >= 1, default 1000)",
    "train_size": "rows of each <name>_train config (int >= 1, default 1000)",
    "intensities": "list of knob values in [0, 1]",
    "measure": "feature/measure settings: "
    + ", ".join(
        ["dim", "label_weight", "neighbors", "quantile", "permutations", "folds", "max_rows"]
    ),
    "shifts": "list of {shift, name, params, intensities, size}",
}
ENTRY_KEYS = {
    "shift": "shift registry key",
    "name": "config prefix ([a-z0-9_-]; default: the shift key)",
    "params": "shift parameters (mapping; see the registry's param_doc)",
    "intensities": "knob values for this entry (overrides the section's)",
    "size": "rows per shifted config for this entry",
}
#: Shifts whose parameters are checked when the manifest is read (decoder file, geometry).
CONTROL_SHIFT_FAMILIES = ("truncation", "extend", "overlap")
MEASURE_DEFAULTS: dict[str, Any] = {
    "dim": 32,
    "label_weight": 2.0,
    "neighbors": 10,
    "quantile": 0.95,
    "permutations": 200,
    "folds": 5,
    "max_rows": 1000,
}


@dataclass(frozen=True)
class ShiftEntry:
    """One shift of the section: a registry key, a config prefix, parameters, knobs, size."""

    shift: str
    name: str
    params: dict[str, Any]
    intensities: tuple[float, ...]
    size: int

    def config(self, knob: float) -> str:
        """Config name of one intensity: ``<name>_k<round(100 * knob):03d>``."""
        return f"{self.name}_k{round(100 * knob):03d}"

    @property
    def train_config(self) -> str:
        """Config name of the training distribution."""
        return f"{self.name}_train"


@dataclass(frozen=True)
class ShiftSection:
    """The validated ``shift:`` section."""

    entries: tuple[ShiftEntry, ...]
    input: str | None = None
    split: str = "test"
    reference_fraction: float = 0.5
    train_size: int = 1000
    measure: dict[str, Any] = field(default_factory=lambda: dict(MEASURE_DEFAULTS))


def _pos_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ManifestError(f"{where}: expected an integer >= 1, got {value!r}")
    return value


def _intensities(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ManifestError(
            f"{where}: expected a non-empty list of numbers in [0, 1], got {value!r}"
        )
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ManifestError(f"{where}: intensity {v!r} is not a number in [0, 1]")
        out.append(float(v))
    if len({round(100 * v) for v in out}) != len(out):
        raise ManifestError(f"{where}: intensities {out} collide at 0.01 resolution (config names)")
    return tuple(sorted(out))


def parse_section(data: Any, where: str) -> ShiftSection:
    """Validate the manifest's ``shift:`` section.

    Args:
        data: The parsed YAML value.
        where: Key path for messages.

    Returns:
        The :class:`ShiftSection`.

    Raises:
        ManifestError: Unknown key, unknown shift or parameter, or a bad value
            (the message names the key and the allowed values).

    Example:
        >>> s = parse_section({"intensities": [0, 1], "shifts": [{"shift": "label_shift"}]}, "m")
        >>> [s.entries[0].config(k) for k in s.entries[0].intensities]
        ['label_shift_k000', 'label_shift_k100']

    """
    from corruptions.shifts import get_shift_registry, resolve_shift_params

    d = check_keys(data, where, SECTION_KEYS, {"shifts", "intensities"})
    knobs = _intensities(d["intensities"], f"{where}.intensities")
    size = _pos_int(d.get("size", 1000), f"{where}.size")
    frac = d.get("reference_fraction", 0.5)
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
        raise ManifestError(
            f"{where}.reference_fraction: expected a number in (0, 1), got {frac!r}"
        )
    measure = dict(MEASURE_DEFAULTS)
    m = check_keys(
        d.get("measure", {}),
        f"{where}.measure",
        {k: f"default {v}" for k, v in MEASURE_DEFAULTS.items()},
    )
    for key, value in m.items():
        if key in ("label_weight", "quantile"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ManifestError(f"{where}.measure.{key}: expected a number >= 0, got {value!r}")
            if key == "quantile" and not 0 < value < 1:
                raise ManifestError(f"{where}.measure.quantile: expected (0, 1), got {value!r}")
            measure[key] = float(value)
        else:
            measure[key] = _pos_int(value, f"{where}.measure.{key}")
    if measure["folds"] < 2:
        raise ManifestError(f"{where}.measure.folds: need at least 2")
    registry = get_shift_registry()
    if not isinstance(d["shifts"], list) or not d["shifts"]:
        raise ManifestError(f"{where}.shifts: expected a non-empty list of {{shift, ...}}")
    entries = []
    for i, e in enumerate(d["shifts"]):
        w = f"{where}.shifts[{i}]"
        e = check_keys(e, w, ENTRY_KEYS, {"shift"})
        key = e["shift"]
        if key not in registry:
            raise ManifestError(
                f"{w}.shift: unknown shift {key!r}; valid: {', '.join(sorted(registry))}"
            )
        name = e.get("name", key)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ManifestError(f"{w}.name: {name!r} must match {NAME_RE.pattern}")
        try:
            params = resolve_shift_params(key, e.get("params") or {})
            if key in CONTROL_SHIFT_FAMILIES:
                from corruptions.shifts.control_shift import check_params

                check_params(key, params)
        except ValueError as exc:
            raise ManifestError(f"{w}.params: {exc}") from None
        entries.append(
            ShiftEntry(
                shift=key,
                name=name,
                params=params,
                intensities=_intensities(e["intensities"], f"{w}.intensities")
                if "intensities" in e
                else knobs,
                size=_pos_int(e.get("size", size), f"{w}.size"),
            )
        )
    if len({e.name for e in entries}) != len(entries):
        raise ManifestError(f"{where}.shifts: entries need distinct names; set `name:` on each")
    split = d.get("split", "test")
    if not isinstance(split, str):
        raise ManifestError(f"{where}.split: expected a split name, got {split!r}")
    inp = d.get("input")
    if inp is not None and not isinstance(inp, str):
        raise ManifestError(f"{where}.input: expected a config folder name, got {inp!r}")
    return ShiftSection(
        entries=tuple(entries),
        input=inp,
        split=split,
        reference_fraction=float(frac),
        train_size=_pos_int(d.get("train_size", 1000), f"{where}.train_size"),
        measure=measure,
    )
