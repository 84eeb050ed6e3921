"""Dataset-level distribution shifts with one intensity knob in [0, 1].

This is a second registry, separate from the per-image corruption registry
(:mod:`corruptions.registry`): a shift acts on a *set* of images. Each entry is a
frozen :class:`ShiftSpec` with a name, a description, the meaning of its knob,
a pure kernel, documented default parameters (a manifest may override them) and
an optional *training* function that draws the training distribution the knob
is measured from (for shifts whose training distribution is not the clean
source itself, e.g. Colored-MNIST or Control+Shift latent regions).

Kernel contract::

    kernel(reference: ShiftData, pool: ShiftData, *, knob: float, size: int,
           rand: ShiftRandom, **params) -> ShiftResult

``reference`` is the held-out half of the source that stands for the training
distribution (models are fitted on it); ``pool`` is the disjoint half the shifted
set is built from (real rows are selected or modified; synthetic rows are
decoded). Knob 0 is the training distribution; the knob grows the shift
monotonically. Kernels never mutate their inputs and draw randomness only from
``rand`` (content-derived :class:`numpy.random.SeedSequence`).

Example:
    >>> sorted(get_shift_registry())  # doctest: +NORMALIZE_WHITESPACE
    ['covariate_selection', 'extend', 'fourier_amplitude', 'label_shift', 'latent_overlap',
     'latent_select', 'overlap', 'spurious_correlation', 'truncation']

"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from corruptions.rng import stable_u32

__all__ = [
    "SHIFT_MODULES",
    "KNOB_RESOLUTION",
    "ShiftData",
    "ShiftResult",
    "ShiftRandom",
    "ShiftSpec",
    "ShiftRegistry",
    "check_knob",
    "get_shift_registry",
    "resolve_shift_params",
    "apply_shift",
    "training_set",
]

#: Modules whose ``SPECS`` make up the shift registry, in listing order.
SHIFT_MODULES: tuple[str, ...] = (
    "corruptions.shifts.control_shift",
    "corruptions.shifts.latent",
    "corruptions.shifts.selection",
    "corruptions.shifts.pixel",
)
#: The knob enters the seed as ``round(knob * KNOB_RESOLUTION)``.
KNOB_RESOLUTION = 10_000


def check_knob(knob: object) -> float:
    """Validate an intensity knob.

    Args:
        knob: The requested intensity.

    Returns:
        The knob as ``float``.

    Raises:
        ValueError: Unless ``knob`` is a real number in [0, 1].

    Example:
        >>> check_knob(0.25)
        0.25

    """
    if isinstance(knob, bool) or not isinstance(knob, (int, float, np.integer, np.floating)):
        raise ValueError(f"shift intensity must be a number in [0, 1], got {knob!r}")
    value = float(knob)
    if not 0.0 <= value <= 1.0 or value != value:
        raise ValueError(f"shift intensity must be in [0, 1], got {value}")
    return value


@dataclass(frozen=True)
class ShiftData:
    """A labelled image set a shift reads.

    Attributes:
        images: uint8 ``(N, H, W)`` gray or ``(N, H, W, C)`` colour.
        labels: int ``(N,)`` class indices in ``0..num_classes - 1``.
        ids: ``N`` stable sample ids (``<source>/<split>/<key>``).
        num_classes: Number of classes of the dataset.

    """

    images: np.ndarray
    labels: np.ndarray
    ids: tuple[str, ...]
    num_classes: int

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise ValueError(
                f"images must be uint8 (N, H, W) or (N, H, W, C), got {self.images.dtype} "
                f"{self.images.shape}"
            )
        n = len(self.images)
        if self.labels.shape != (n,) or len(self.ids) != n:
            raise ValueError(
                f"{n} images but labels {self.labels.shape} and {len(self.ids)} ids; "
                "they must pair up"
            )
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> ShiftData:
        """Rows ``index`` (in that order) as a new :class:`ShiftData`."""
        idx = np.asarray(index, dtype=np.int64)
        return ShiftData(
            self.images[idx], self.labels[idx], tuple(self.ids[i] for i in idx), self.num_classes
        )


@dataclass(frozen=True)
class ShiftResult:
    """A shifted (or training) set.

    Attributes:
        images: uint8 images, same height and width as the input.
        labels: int64 ``(M,)`` labels.
        origin: Per row, the sample id of the real image it came from, or ``""``
            for a synthetic (decoded) image.
        info: Per row, JSON-friendly provenance (colour used, partner id, ...).
        summary: Set-level provenance (target class shares, analytic overlap, ...).

    """

    images: np.ndarray
    labels: np.ndarray
    origin: tuple[str, ...]
    info: tuple[dict[str, Any], ...]
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.labels.shape != (n,) or len(self.origin) != n or len(self.info) != n:
            raise ValueError("ShiftResult columns do not pair up (a bug in the kernel)")


@dataclass(frozen=True)
class ShiftRandom:
    """Content-derived generators for one (seed, shift, knob) draw.

    ``draw()`` depends on the knob; ``fixed(stream)`` does not, so structure
    shared by every intensity (latent directions, class colours, the rows a
    pixel shift edits) is the same at every knob and the shift grows
    monotonically instead of being re-drawn.

    Example:
        >>> r = ShiftRandom(0, "label_shift", 0.5)
        >>> bool(r.draw().integers(1 << 30) == r.draw().integers(1 << 30))
        True

    """

    seed: int
    operation: str
    knob: float

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or int(self.seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        check_knob(self.knob)

    def draw(self, stream: str = "draw") -> np.random.Generator:
        """Return the generator for this knob: seed + operation + knob (+ stream name)."""
        code = int(round(self.knob * KNOB_RESOLUTION))
        return np.random.default_rng(
            np.random.SeedSequence(
                [int(self.seed), stable_u32(self.operation), code, stable_u32(stream)]
            )
        )

    def fixed(self, stream: str) -> np.random.Generator:
        """Return a knob-independent generator: seed + operation + stream name."""
        return np.random.default_rng(
            np.random.SeedSequence(
                [
                    int(self.seed),
                    stable_u32(self.operation),
                    KNOB_RESOLUTION + 1,
                    stable_u32(stream),
                ]
            )
        )


@dataclass(frozen=True)
class ShiftSpec:
    """One shift registry entry.

    Attributes:
        name: Registry key; also the prefix of the configs the ``shift`` stage writes.
        description: One paragraph for the dataset card.
        knob: What the intensity in [0, 1] means, in physical terms.
        kernel: ``kernel(reference, pool, *, knob, size, rand, **params) -> ShiftResult``.
        params: Default parameters (name -> value); a manifest may override them.
        param_doc: Parameter name -> meaning, units and valid values.
        training: ``training(reference, pool, *, size, rand, **params) -> ShiftResult``
            drawing the training distribution (knob 0 region), or ``None`` when the
            training distribution is the reference (clean) set itself.
        synthetic: Whether the kernel decodes new pixels rather than selecting or
            editing real images.
        preserves_labels: Whether every output row keeps the label of the image it
            came from (or of the class-conditional model that decoded it).
        reference: Paper(s) the operation follows.

    """

    name: str
    description: str
    knob: str
    kernel: Callable[..., ShiftResult]
    params: Mapping[str, Any]
    param_doc: Mapping[str, str]
    training: Callable[..., ShiftResult] | None = None
    synthetic: bool = False
    preserves_labels: bool = True
    reference: str = ""

    def __post_init__(self) -> None:
        if set(self.params) != set(self.param_doc):
            raise ValueError(f"shift {self.name!r}: params and param_doc name different keys")


class ShiftRegistry(Mapping[str, ShiftSpec]):
    """A name -> :class:`ShiftSpec` mapping that refuses duplicates and lists valid keys."""

    def __init__(self) -> None:
        self._specs: dict[str, ShiftSpec] = {}

    def register(self, spec: ShiftSpec) -> None:
        """Add one spec; registering a name twice raises ``ValueError``."""
        if spec.name in self._specs:
            raise ValueError(f"shift {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> ShiftSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(
                f"unknown shift {name!r}; valid keys: {', '.join(sorted(self._specs))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


@cache
def get_shift_registry() -> ShiftRegistry:
    """Build (once) and return the shift registry from :data:`SHIFT_MODULES`."""
    registry = ShiftRegistry()
    for module_name in SHIFT_MODULES:
        for spec in importlib.import_module(module_name).SPECS:
            registry.register(spec)
    return registry


def resolve_shift_params(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge a spec's default parameters with manifest overrides.

    Args:
        name: Shift registry key.
        overrides: Parameter name -> value.

    Returns:
        The full parameter dict.

    Raises:
        KeyError: Unknown shift (lists the valid ones).
        ValueError: Unknown parameter (lists the valid ones with their meaning).

    Example:
        >>> resolve_shift_params("label_shift", {"mode": "dirichlet"})["mode"]
        'dirichlet'

    """
    spec = get_shift_registry()[name]
    extra = sorted(set(overrides or {}) - set(spec.params))
    if extra:
        listing = "; ".join(f"{k}: {v}" for k, v in spec.param_doc.items())
        raise ValueError(f"shift {name!r} has no parameter(s) {extra}; valid -- {listing}")
    return {**dict(spec.params), **dict(overrides or {})}


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < 1:
        raise ValueError(f"size must be a positive integer (rows per shifted set), got {size!r}")
    return int(size)


def apply_shift(
    name: str,
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> ShiftResult:
    """Build one shifted set.

    Args:
        name: Shift registry key (see :func:`get_shift_registry`).
        reference: The training-side rows (models are fitted on them).
        pool: The disjoint rows the shifted set is built from.
        knob: Intensity in [0, 1]; 0 is the training distribution.
        size: Rows in the shifted set (>= 1).
        seed: Root seed (>= 0).
        params: Overrides of the spec's default parameters.

    Returns:
        The shifted set.

    """
    spec = get_shift_registry()[name]
    knob = check_knob(knob)
    if reference.num_classes != pool.num_classes:
        raise ValueError("reference and pool must have the same number of classes")
    rand = ShiftRandom(seed, name, knob)
    return spec.kernel(
        reference,
        pool,
        knob=knob,
        size=_check_size(size),
        rand=rand,
        **resolve_shift_params(name, params),
    )


def training_set(
    name: str,
    reference: ShiftData,
    pool: ShiftData,
    *,
    size: int,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> ShiftResult:
    """Draw the training distribution a shift's knob is measured from.

    For shifts without a ``training`` function this is the reference set itself
    (its first ``size`` rows in a seed-derived order).

    Args:
        name: Shift registry key.
        reference: The training-side rows.
        pool: The rows the shifted sets are built from (unused by most shifts).
        size: Maximum rows.
        seed: Root seed.
        params: Overrides of the spec's default parameters.

    """
    spec = get_shift_registry()[name]
    size = _check_size(size)
    rand = ShiftRandom(seed, name, 0.0)
    if spec.training is not None:
        return spec.training(
            reference, pool, size=size, rand=rand, **resolve_shift_params(name, params)
        )
    order = rand.fixed("training-order").permutation(len(reference))[:size]
    ref = reference.take(np.sort(order))
    return ShiftResult(ref.images, ref.labels.astype(np.int64), ref.ids, tuple({} for _ in ref.ids))
