"""The corruption registry: one frozen spec per corruption, one lookup, one ``apply``.

A :class:`CorruptionSpec` ties a registry key (also the DVC stage key, the output
folder and the Hugging Face config prefix) to a pure kernel, its per-preset
severity tables, the auxiliary inputs it needs (e.g. ``{"depth"}``) and the
upstream source it reproduces. Family modules (``corruptions/noise.py``, ...)
each export ``SPECS``; :data:`FAMILY_MODULES` lists them explicitly and
:func:`get_registry` builds the registry once, on first use (nothing happens at
import time).

Severity is always an integer in 1..5 and is looked up in a named table; no
kernel has a default severity, and severity 0 is refused (the upstream scripts
silently turn it into 5 through ``c[severity - 1]``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np

from corruptions.image import Layout, Rounding, check_image, from_layout, quantize, to_layout

__all__ = [
    "PRESETS",
    "SEVERITIES",
    "FAMILY_MODULES",
    "SeverityTable",
    "CorruptionSpec",
    "Registry",
    "check_severity",
    "get_registry",
    "resolve_preset",
    "resolve_params",
    "apply",
]

#: Nominal image side (pixels) of each resolution preset.
PRESETS: Mapping[str, int] = MappingProxyType(
    {"mnist28": 28, "cifar32": 32, "tiny64": 64, "imagenet224": 224, "imagenet299": 299}
)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

#: Family modules whose ``SPECS`` make up the registry, in listing order. A spec's
#: ``family`` is its module's name, which is also the DVC ``corrupt@<family>`` stage key.
FAMILY_MODULES: tuple[str, ...] = (
    "corruptions.noise",
    "corruptions.blur",
    "corruptions.weather",
    "corruptions.digital",
    "corruptions.geometric",
    "corruptions.strokes",
    "corruptions.depth",
    "corruptions.camera",
    "corruptions.video",
)


def check_severity(severity: object) -> int:
    """Validate a severity level.

    Args:
        severity: The requested level.

    Returns:
        The level as ``int``.

    Raises:
        ValueError: Unless ``severity`` is an integer in 1..5.

    Example:
        >>> check_severity(3)
        3
    """
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)):
        raise ValueError(f"severity must be an integer in 1..5, got {severity!r}")
    if int(severity) not in SEVERITIES:
        raise ValueError(
            f"severity must be in 1..5, got {severity}; (the upstream scripts map 0 to 5 "
            "silently, benchsmith refuses it)"
        )
    return int(severity)


@dataclass(frozen=True)
class SeverityTable:
    """Per-severity parameters of one corruption at one preset.

    Attributes:
        fields: Name of each tuple position (physical parameter names, the
            kernel's keyword arguments).
        rows: Five rows, one per severity 1..5, each a tuple aligned with ``fields``.
        source: Where the numbers come from (script and variable).
        pixel_fields: Fields measured in pixels, scaled by ``side / preset side``
            when an image's size differs from the preset's.
        notes: Upstream quirks kept on purpose, and anything else a reader needs.
    """

    fields: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    source: str
    pixel_fields: frozenset[str] = frozenset()
    notes: str = ""

    def __post_init__(self) -> None:
        if len(self.rows) != len(SEVERITIES):
            raise ValueError(f"a severity table needs 5 rows, got {len(self.rows)} ({self.source})")
        for i, row in enumerate(self.rows, start=1):
            if len(row) != len(self.fields):
                raise ValueError(
                    f"severity {i} row {row!r} does not match fields {self.fields} ({self.source})"
                )
        unknown = set(self.pixel_fields) - set(self.fields)
        if unknown:
            raise ValueError(f"pixel_fields {sorted(unknown)} are not fields {self.fields}")

    def params(self, severity: int) -> dict[str, Any]:
        """Return the named parameters of one severity (1..5)."""
        row = self.rows[check_severity(severity) - 1]
        return dict(zip(self.fields, row, strict=True))


@dataclass(frozen=True)
class CorruptionSpec:
    """One registry entry.

    Attributes:
        name: Registry key; also the DVC stage key and config-name prefix.
        family: Module family (``noise``, ``blur``, ``weather``, ``digital``, ...).
        kernel: Pure function ``kernel(image, *, rng?, **params, **aux)``
            returning an array on the 0..255 scale with the input's height and width.
        tables: Severity table per preset key (see :data:`PRESETS`).
        stochastic: Whether the kernel draws from ``rng``.
        layout: Channel layout the kernel works on (``rgb``, ``gray``, ``any``).
        needs: Auxiliary inputs the kernel requires, passed by keyword (e.g. ``depth``).
        suites: Benchmark suites the entry belongs to (e.g. ``imagenet_c``,
            ``imagenet_c_extra``, ``mnist_c``).
        reference: The upstream function (paper, repository, file) it reproduces.
        param_hook: Optional function adding resolved, non-table parameters to the
            provenance (e.g. which frost textures were available).
        batch: Optional ``batch(works, kwargs) -> list`` giving, for many images at once,
            what ``kernel(work, **kw)`` gives for each alone (the corrupt stage calls it
            once per output shard; e.g. the video family, one ffmpeg process per step).
        cost: Rough CPU milliseconds of one call on a 224 x 224 RGB image (severity 3,
            one core; measured in ``benchmarks/results/corruptions.md`` and ``3dcc.md``).
            Only orders the corrupt stage's tasks (costly first); never changes output.

    Auxiliary input ``source_rng``: a generator shared by every corruption and severity
    of a family for one image, ``derive_rng(seed, sample_id, family, 0)`` (the video
    family draws its one camera clip per image from it, as the 3DCC script makes one
    source video per image).
    """

    name: str
    family: str
    kernel: Callable[..., np.ndarray]
    tables: Mapping[str, SeverityTable]
    stochastic: bool
    layout: Layout = "rgb"
    needs: frozenset[str] = frozenset()
    suites: frozenset[str] = frozenset()
    reference: str = ""
    param_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = field(
        default=None, compare=False
    )
    batch: Callable[..., list[np.ndarray]] | None = field(default=None, compare=False)
    cost: float = field(default=2.0, compare=False)

    def __post_init__(self) -> None:
        if not self.tables:
            raise ValueError(f"corruption {self.name!r} has no severity table")
        unknown = set(self.tables) - set(PRESETS)
        if unknown:
            raise ValueError(
                f"corruption {self.name!r}: unknown preset(s) {sorted(unknown)}; "
                f"valid: {sorted(PRESETS)}"
            )


class Registry(Mapping[str, CorruptionSpec]):
    """A name -> spec mapping that refuses duplicates and explains unknown keys."""

    def __init__(self, kind: str = "corruption") -> None:
        self._kind = kind
        self._specs: dict[str, CorruptionSpec] = {}

    def register(self, spec: CorruptionSpec) -> None:
        """Add one spec; registering a name twice raises ``ValueError``."""
        if spec.name in self._specs:
            raise ValueError(f"{self._kind} {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> CorruptionSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(
                f"unknown {self._kind} {name!r}; valid keys: {', '.join(sorted(self._specs))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def in_suite(self, suite: str) -> list[str]:
        """Names of the entries that belong to ``suite``, in registry order."""
        return [n for n, s in self._specs.items() if suite in s.suites]

    def suites(self) -> list[str]:
        """Every suite name used by some entry."""
        return sorted({s for spec in self._specs.values() for s in spec.suites})


@cache
def get_registry() -> Registry:
    """Build (once) and return the corruption registry from :data:`FAMILY_MODULES`."""
    registry = Registry()
    for module_name in FAMILY_MODULES:
        module = importlib.import_module(module_name)
        family = module_name.rsplit(".", 1)[1]
        for spec in module.SPECS:
            if spec.family != family:
                raise ValueError(
                    f"{module_name}: spec {spec.name!r} says family {spec.family!r}; a family is "
                    f"its module's name ({family!r}) so DVC can track one module per family"
                )
            registry.register(spec)
    return registry


def resolve_preset(spec: CorruptionSpec, preset: str, shape: tuple[int, ...]) -> tuple[str, float]:
    """Pick the preset to use for an image and the pixel-scale factor.

    Rule for images whose size is not a preset's: ``preset="auto"`` picks the
    preset (among those the corruption has) whose side is nearest to the
    image's shorter side in log scale; pixel-unit parameters are then scaled by
    ``min(H, W) / preset side``. An explicit preset is used as given, with the
    same scaling when the size differs.

    Args:
        spec: The corruption.
        preset: A preset key, or ``"auto"``.
        shape: The image shape.

    Returns:
        ``(preset_key, scale)``.
    """
    side = min(shape[0], shape[1])
    if preset == "auto":
        preset = min(spec.tables, key=lambda p: abs(math.log(side / PRESETS[p])))
    elif preset not in spec.tables:
        raise ValueError(
            f"corruption {spec.name!r} has no preset {preset!r}; it has "
            f"{sorted(spec.tables)} (or use 'auto' to pick the nearest by image size)"
        )
    return preset, side / PRESETS[preset]


def resolve_params(
    name: str, *, severity: int, preset: str, shape: tuple[int, ...]
) -> dict[str, Any]:
    """Return the physical parameters one call of ``apply`` will use.

    Args:
        name: Registry key.
        severity: 1..5.
        preset: Preset key or ``"auto"``.
        shape: Image shape.

    Returns:
        The kernel keyword arguments (JSON-friendly), after preset resolution
        and pixel scaling, plus whatever the spec's ``param_hook`` adds.
    """
    spec = get_registry()[name]
    params = dict(_table_params(name, check_severity(severity), preset, min(shape[0], shape[1])))
    if spec.param_hook is not None:
        params = spec.param_hook(params)
    return params


@lru_cache(maxsize=8192)
def _table_params(name: str, severity: int, preset: str, side: int) -> tuple[tuple[str, Any], ...]:
    """Return a table row after preset resolution and pixel scaling (cached).

    A build calls ``apply`` with the same few (name, severity, preset, side) keys
    millions of times; the lookup and scaling run once per key.
    """
    spec = get_registry()[name]
    preset_key, scale = resolve_preset(spec, preset, (side, side))
    table = spec.tables[preset_key]
    params = table.params(severity)
    if scale != 1.0:
        for key in table.pixel_fields:
            params[key] = _scale(params[key], scale)
    return tuple(params.items())


def _scale(value: Any, factor: float) -> Any:
    if isinstance(value, tuple):
        return tuple(_scale(v, factor) for v in value)
    return float(value) * factor


def apply(
    name: str,
    image: np.ndarray,
    *,
    severity: int,
    preset: str,
    rng: np.random.Generator | None,
    rounding: Rounding = "truncate",
    **aux: Any,
) -> np.ndarray:
    """Corrupt one image.

    Args:
        name: Registry key (see ``get_registry()`` for the valid ones).
        image: uint8 image, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); not modified.
        severity: Integer 1..5.
        preset: Preset key (``mnist28``, ``cifar32``, ``tiny64``, ``imagenet224``,
            ``imagenet299``) or ``"auto"``.
        rng: Generator for stochastic corruptions; derive it with
            :func:`corruptions.rng.derive_rng`. May be ``None`` for deterministic ones.
        rounding: ``"truncate"`` (upstream parity) or ``"nearest"``.
        **aux: Auxiliary inputs the spec ``needs`` (e.g. ``depth``: float array (H, W)).

    Returns:
        The corrupted image, uint8, same shape as ``image``.

    Raises:
        KeyError: Unknown corruption (the message lists the valid keys).
        ValueError: Bad severity, preset, image or missing auxiliary input.
    """
    spec = get_registry()[name]
    check_image(image)
    missing = sorted(spec.needs - set(aux))
    if missing:
        raise ValueError(
            f"corruption {name!r} needs {missing}; provide them as keyword arguments "
            "(for depth: a dataset depth column, a depth model, or the built-in pseudo-depth; "
            "for source_rng: derive_rng(seed, sample_id, <family>, 0))"
        )
    params = resolve_params(name, severity=severity, preset=preset, shape=image.shape)
    kwargs = {k: v for k, v in params.items() if not k.startswith("_")}
    if spec.stochastic:
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"corruption {name!r} is stochastic and needs rng=np.random.Generator; "
                "derive one with corruptions.rng.derive_rng(seed, sample_id, name, severity)"
            )
        kwargs["rng"] = rng
    kwargs.update({k: aux[k] for k in spec.needs})
    work, alpha = to_layout(image, spec.layout)
    out = quantize(np.asarray(spec.kernel(work, **kwargs)), rounding)
    if out.shape[:2] != work.shape[:2]:
        raise RuntimeError(
            f"kernel {name!r} returned shape {out.shape} for input {work.shape} (a bug)"
        )
    return from_layout(out, image, alpha)
