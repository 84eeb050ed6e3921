"""Control+Shift's three latent families: truncation, extend and overlap.

Control+Shift (Friedman & Chowers 2024, ``generate_dist_shift.py`` of
friedmanroy/ctrl-shift) generates a training set and every test set with *one*
class-conditional generator from latents ``w`` in a space shared by all of
them, and moves only the latent distribution:

* ``truncation``: ``w = R g``, ``g ~ N(0, I)``; the training set uses ``R = 0.9``
  (``train_scale``); the knob grows ``R`` linearly to ``max_scale``.
* ``extend``: ``w`` = spherical interpolation from a fixed ``target`` direction
  towards ``g`` by the fraction ``t``: the angle of ``w`` to the target is ``t``
  times the angle of ``g``, so the support is a cap around the target whose
  angular radius grows with ``t`` and always contains the training cap
  (``t = 0.5``, ``train_extent``). The knob grows ``t`` to ``max_extent``
  (``t = 1`` is the whole Gaussian).
* ``overlap``: a cap of fixed extent (``t = 0.5``, ``extent``) whose centre
  slerps from ``target1`` towards ``target2`` by the fraction ``s``; the
  training set is ``s = 0`` and the knob grows ``s`` to ``max_slerp``.

Differences from the paper, all forced by a CPU-sized generator: the latent is
``q``-dimensional (``components``; the paper's is EDM's 3072-dim initial noise),
so the slerp keeps ``|g|`` and interpolates directions (in 3072 dimensions the
paper's slerp of two Gaussian vectors does this implicitly: their norms agree to
~1%); the two targets are orthonormal (in 3072 dimensions two random targets are
orthogonal to within ~1 degree); and the decoder is a
:class:`~corruptions.shifts.copula.CopulaPPCA` fitted once on the reference
rows (a model sample, not its mean; see that module), or the user's own
class-conditional diffusion denoiser (``decoder: {model: <path>}``,
:mod:`corruptions.shifts.diffusion`), whose latent is the initial noise as in the
paper. Labels are the class the decoder was conditioned on.

**Latent non-overlap** (the paper's shift measure, computed from the known
latent distributions, not from images): with ``s(w)`` the family's support
statistic (``|w|`` for truncation, the angle to the training target for extend
and overlap) the training support is ``{s <= Q}``, ``Q`` the ``support_mass``
quantile of ``s`` under the training latent law; the non-overlap of a test law
is its mass outside that support, ``P_test(s > Q)`` (``1 - support_mass`` at
knob 0). Both are evaluated by Monte Carlo with common random numbers on a fixed
stream (``NON_OVERLAP_DRAWS`` draws), so the curve is exactly reproducible and
monotone wherever the geometry is.

Reference: Friedman, Chowers. Control+Shift: Generating Controllable
Distribution Shifts. arXiv:2409.07940, 2024 (Sec. 3; ``trunc_coords``,
``extend_coords``, ``overlap_coords``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from corruptions.shifts import ShiftData, ShiftRandom, ShiftResult, ShiftSpec
from corruptions.shifts.common import class_shares, from_vectors, largest_remainder
from corruptions.shifts.copula import CopulaPPCA, fit_copula_ppca

if TYPE_CHECKING:
    from corruptions.shifts.diffusion import DiffusionDecoder

__all__ = [
    "SPECS",
    "FAMILIES",
    "NON_OVERLAP_DRAWS",
    "targets",
    "slerp_directions",
    "truncation_latents",
    "extend_latents",
    "overlap_latents",
    "family_latents",
    "support_statistic",
    "latent_non_overlap",
    "check_params",
    "control_shift",
    "control_shift_training",
]

FAMILIES = ("truncation", "extend", "overlap")
#: Monte Carlo draws of the latent non-overlap (fixed stream, common random numbers), for
#: latents of up to ``NON_OVERLAP_VALUES / NON_OVERLAP_DRAWS`` dimensions; pixel-sized latents
#: (a user's diffusion model) get ``max(NON_OVERLAP_MIN_DRAWS, NON_OVERLAP_VALUES // dim)``
#: draws (standard error <= 0.005 at 10,000 draws).
NON_OVERLAP_DRAWS = 100_000
NON_OVERLAP_VALUES = 1 << 24
NON_OVERLAP_MIN_DRAWS = 10_000
DECODERS = ("ppca_copula",)


def targets(rand: ShiftRandom, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Seed-derived orthonormal ``(target1, target2)`` of the latent space (knob-independent).

    Shared by every family and class (one latent space, as in the paper, which draws
    its targets from one fixed seed).
    """
    if dim < 2:
        raise ValueError(f"Control+Shift latents need components >= 2, got {dim}")
    a, b = rand.fixed("targets").standard_normal((2, dim))
    t1 = a / np.linalg.norm(a)
    t2 = b - (b @ t1) * t1
    return t1, t2 / np.linalg.norm(t2)


def slerp_directions(target: np.ndarray, g: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Return unit directions at fraction ``t`` of the great circle from ``target`` to ``g`` rows.

    Args:
        target: ``(q,)`` unit vector.
        g: ``(N, q)`` nonzero rows.
        t: Fraction(s) in [0, 1] (scalar or ``(N,)``); 0 gives ``target``, 1 gives ``g/|g|``.

    Returns:
        ``(N, q)`` unit rows whose angle to ``target`` is ``t`` times the angle of ``g``.

    Example:
        >>> d = slerp_directions(np.array([1.0, 0.0]), np.array([[0.0, 2.0]]), 0.5)
        >>> np.round(d, 4).tolist()
        [[0.7071, 0.7071]]

    """
    u = g / np.linalg.norm(g, axis=1, keepdims=True)
    cos = np.clip(u @ target, -1.0, 1.0)
    omega = np.arccos(cos)
    t = np.asarray(t, dtype=np.float64)
    perp = u - cos[:, None] * target
    norm = np.linalg.norm(perp, axis=1, keepdims=True)
    # g parallel to the target: any orthogonal direction is a great circle; omega is 0 or pi.
    perp = np.where(norm > 1e-12, perp / np.maximum(norm, 1e-300), 0.0)
    ang = (t * omega)[:, None] if t.ndim else t * omega[:, None]
    return np.cos(ang) * target + np.sin(ang) * perp


def truncation_latents(g: np.ndarray, scale: float) -> np.ndarray:
    """Paper's ``trunc_coords``: ``R g`` (``scale`` = R > 0)."""
    if not scale > 0:
        raise ValueError(f"truncation scale R must be > 0, got {scale}")
    return scale * g


def extend_latents(g: np.ndarray, target: np.ndarray, extent: float) -> np.ndarray:
    """Paper's ``extend_coords``: ``|g|`` times the direction at fraction ``extent`` to ``g``."""
    if not 0 < extent <= 1:
        raise ValueError(f"extend fraction t must be in (0, 1], got {extent}")
    return np.linalg.norm(g, axis=1, keepdims=True) * slerp_directions(target, g, extent)


def overlap_latents(
    g: np.ndarray, target1: np.ndarray, target2: np.ndarray, slerp: float, extent: float
) -> np.ndarray:
    """Paper's ``overlap_coords``: the ``extent`` cap around ``slerp(target1, target2, s)``.

    ``target1`` and ``target2`` are orthonormal, so the cap centre moves by
    ``s * 90`` degrees (``s`` up to 2: the antipode of ``target1``).
    """
    if not 0 <= slerp <= 2:
        raise ValueError(f"overlap slerp fraction s must be in [0, 2], got {slerp}")
    ang = slerp * np.pi / 2.0
    centre = np.cos(ang) * target1 + np.sin(ang) * target2
    return extend_latents(g, centre, extent)


def _knob_value(family: str, knob: float, params: dict[str, Any]) -> float:
    """Return the paper's controlling value at ``knob``: R, t or s."""
    if family == "truncation":
        lo, hi = params["train_scale"], params["max_scale"]
    elif family == "extend":
        lo, hi = params["train_extent"], params["max_extent"]
    else:
        lo, hi = 0.0, params["max_slerp"]
    return float(lo + knob * (hi - lo))


def family_latents(
    family: str, g: np.ndarray, knob: float, rand: ShiftRandom, params: dict[str, Any]
) -> np.ndarray:
    """Latents of ``family`` at ``knob`` from standard-normal draws ``g`` ``(N, q)``."""
    value = _knob_value(family, knob, params)
    t1, t2 = targets(rand, g.shape[1])
    if family == "truncation":
        return truncation_latents(g, value)
    if family == "extend":
        return extend_latents(g, t1, value)
    if family == "overlap":
        return overlap_latents(g, t1, t2, value, params["extent"])
    raise ValueError(f"unknown Control+Shift family {family!r}; valid: {list(FAMILIES)}")


def support_statistic(family: str, w: np.ndarray, target1: np.ndarray) -> np.ndarray:
    """Return the support statistic: ``|w|`` (truncation) or the angle to ``target1``."""
    if family == "truncation":
        return np.linalg.norm(w, axis=1)
    u = w / np.linalg.norm(w, axis=1, keepdims=True)
    return np.arccos(np.clip(u @ target1, -1.0, 1.0))


def latent_non_overlap(
    family: str, knob: float, *, dim: int, rand: ShiftRandom, params: dict[str, Any]
) -> float:
    """Mass of the knob's latent law outside the training latent support (see module doc).

    Args:
        family: ``truncation``, ``extend`` or ``overlap``.
        knob: Intensity in [0, 1].
        dim: Latent dimension ``q``.
        rand: Generators (the targets and the Monte Carlo stream are knob-independent).
        params: The family's parameters (``support_mass`` among them).

    Returns:
        A fraction in [0, 1]; ``1 - support_mass`` (up to Monte Carlo error) at knob 0.

    """
    t1, _ = targets(rand, dim)
    draws = min(NON_OVERLAP_DRAWS, max(NON_OVERLAP_MIN_DRAWS, NON_OVERLAP_VALUES // dim))

    def stats(stream: str, k: float) -> np.ndarray:
        # row chunks of one generator draw the same numbers as one (N, dim) call, with
        # bounded memory for pixel-sized latents (a user's diffusion model)
        gen = rand.fixed(stream)
        chunk = max(1, min(draws, (1 << 22) // dim))
        parts = []
        for start in range(0, draws, chunk):
            g = gen.standard_normal((min(chunk, draws - start), dim))
            parts.append(support_statistic(family, family_latents(family, g, k, rand, params), t1))
        return np.concatenate(parts)

    bound = float(np.quantile(stats("non-overlap/train", 0.0), params["support_mass"]))
    return float(np.mean(stats("non-overlap/test", knob) > bound))


def check_params(family: str, params: dict[str, Any]) -> None:
    """Validate a family's parameters (the stage calls this when it reads the manifest).

    Raises:
        ValueError: A bad value; the message names the parameter and what is allowed.

    """
    decoder = params["decoder"]
    if isinstance(decoder, Mapping):
        from corruptions.shifts.diffusion import check_decoder_spec

        check_decoder_spec(decoder)
    elif decoder not in DECODERS:
        raise ValueError(
            f"{family}: decoder {decoder!r} unknown; valid: {list(DECODERS)} or "
            "{model: <local TorchScript/ONNX denoiser>, steps, sigma_min, sigma_max, rho}"
        )
    if not 0 < params["support_mass"] < 1:
        raise ValueError(f"{family}: support_mass must be in (0, 1), got {params['support_mass']}")
    if family == "truncation" and not 0 < params["train_scale"] < params["max_scale"]:
        raise ValueError("truncation: need 0 < train_scale < max_scale")
    if family == "extend" and not 0 < params["train_extent"] < params["max_extent"] <= 1:
        raise ValueError("extend: need 0 < train_extent < max_extent <= 1")
    if family == "overlap" and not (0 < params["max_slerp"] <= 2 and 0 < params["extent"] <= 1):
        raise ValueError("overlap: need 0 < max_slerp <= 2 and 0 < extent <= 1")


def _decoder(reference: ShiftData, params: dict[str, Any]) -> CopulaPPCA | DiffusionDecoder:
    """Return the decoder: the PPCA copula fitted on ``reference``, or the user's denoiser."""
    decoder = params["decoder"]
    if isinstance(decoder, Mapping):
        from corruptions.shifts.diffusion import (
            DiffusionDecoder,
            check_decoder_spec,
            file_sha256,
        )

        spec = check_decoder_spec(decoder)
        return DiffusionDecoder(
            spec, file_sha256(spec["model"]), tuple(reference.images.shape[1:]),
            reference.num_classes,
        )
    return fit_copula_ppca(
        reference.images, reference.labels, reference.num_classes, params["components"]
    )


def _generate(
    family: str,
    reference: ShiftData,
    knob: float,
    size: int,
    rand: ShiftRandom,
    rng: np.random.Generator,
    params: dict[str, Any],
    *,
    training: bool = False,
) -> ShiftResult:
    check_params(family, params)
    model = _decoder(reference, params)
    counts = largest_remainder(class_shares(reference.labels, reference.num_classes), size)
    images, labels = [], []
    for c, n in enumerate(counts):
        if n == 0:
            continue
        g = rng.standard_normal((int(n), model.dim))
        w = family_latents(family, g, knob, rand, params)
        images.append(from_vectors(model.decode(c, w, rng), model.image_shape))
        labels.append(np.full(int(n), c, dtype=np.int64))
    labs = np.concatenate(labels)
    summary: dict[str, Any] = {"family": family, "paper_value": _knob_value(family, knob, params)}
    if not training:  # the training set is the support itself
        summary["latent_non_overlap"] = latent_non_overlap(
            family, knob, dim=model.dim, rand=rand, params=params
        )
    summary["decoder"] = model.describe()
    return ShiftResult(
        images=np.concatenate(images),
        labels=labs,
        origin=tuple("" for _ in labs),
        info=tuple({} for _ in labs),
        summary=summary,
    )


def control_shift(
    family: str,
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    **params: Any,
) -> ShiftResult:
    """Decode ``size`` latents of ``family`` at ``knob`` (the test set of one intensity).

    Args:
        family: ``truncation``, ``extend`` or ``overlap``.
        reference: Rows the decoder is fitted on (once per process: cached by content).
        pool: Unused (the shifted set is synthetic).
        knob: Intensity in [0, 1]; 0 is the training latent law.
        size: Rows, split over classes in the reference's class shares.
        rand: Generators: targets from ``rand.fixed``, samples from ``rand.draw``.
        **params: The family's parameters (see the registry's ``param_doc``).

    """
    del pool
    return _generate(family, reference, knob, size, rand, rand.draw(), params)


def control_shift_training(
    family: str,
    reference: ShiftData,
    pool: ShiftData,
    *,
    size: int,
    rand: ShiftRandom,
    **params: Any,
) -> ShiftResult:
    """Generate the training set: the knob-0 latent law, its own random stream."""
    del pool
    return _generate(
        family, reference, 0.0, size, rand, rand.fixed("training"), params, training=True
    )


def _bind(family: str, fn: Callable[..., ShiftResult]) -> Callable[..., ShiftResult]:
    def kernel(*args: Any, **kwargs: Any) -> ShiftResult:
        return fn(family, *args, **kwargs)

    kernel.__name__ = f"{family}_{fn.__name__}"
    kernel.__doc__ = fn.__doc__
    return kernel


_COMMON = {"components": 16, "decoder": "ppca_copula", "support_mass": 0.99}
_COMMON_DOC = {
    "components": "latent dimension q of the class-conditional decoder (int >= 2)",
    "decoder": "ppca_copula (class-conditional PPCA sample with a real image's intensity "
    "histogram, corruptions.shifts.copula) | {model: <local TorchScript/ONNX class-conditional "
    "EDM denoiser>, steps, sigma_min, sigma_max, rho} (latent = initial noise, EDM Heun "
    "sampler, corruptions.shifts.diffusion; components is then unused)",
    "support_mass": "training latent mass that defines the training support of the "
    "latent non-overlap measure, in (0, 1)",
}
_REF = (
    "Friedman & Chowers, Control+Shift, arXiv:2409.07940 (2024), generate_dist_shift.py; "
    "Tipping & Bishop, PPCA, JRSS-B 61(3) 1999"
)
_TRACKS = (
    " The recorded latent_non_overlap (mass of the test latent law outside the training "
    "latent support) is the paper's intensity and the measure that tracks degradation: per "
    "family it rises strictly while a classifier trained on the generated training set loses "
    "accuracy strictly, and pooled over the three families its rank correlation with that "
    "accuracy is -0.92 on MNIST and -0.77 on CIFAR-10, against -0.82 / -0.64 for image-space "
    "MMD² and -0.62 / -0.41 for the two-sample AUC (benchmarks/results/shift_families.md)."
)

SPECS: tuple[ShiftSpec, ...] = (
    ShiftSpec(
        name="truncation",
        description=(
            "Control+Shift truncation: synthetic images decoded from latents R g, g ~ N(0, I); "
            "the training set (R = train_scale, the paper's 0.9) and every test set come from "
            "the same class-conditional decoder fitted once on the reference images." + _TRACKS
        ),
        knob="R = train_scale + knob * (max_scale - train_scale): the latent scale",
        kernel=_bind("truncation", control_shift),
        training=_bind("truncation", control_shift_training),
        params={**_COMMON, "train_scale": 0.9, "max_scale": 2.0},
        param_doc={
            **_COMMON_DOC,
            "train_scale": "latent scale R of the training set (> 0; paper 0.9)",
            "max_scale": "latent scale R at knob 1 (> train_scale)",
        },
        synthetic=True,
        reference=_REF,
    ),
    ShiftSpec(
        name="extend",
        description=(
            "Control+Shift extend: synthetic images from latents on a cap around a fixed target "
            "direction (slerp from the target towards g ~ N(0, I) by the fraction t); the cap "
            "grows with the knob and always contains the training cap (t = 0.5)." + _TRACKS
        ),
        knob="t = train_extent + knob * (max_extent - train_extent): slerp fraction (cap size)",
        kernel=_bind("extend", control_shift),
        training=_bind("extend", control_shift_training),
        params={**_COMMON, "train_extent": 0.5, "max_extent": 1.0},
        param_doc={
            **_COMMON_DOC,
            "train_extent": "slerp fraction t of the training cap, in (0, 1) (paper 0.5)",
            "max_extent": "slerp fraction at knob 1, in (train_extent, 1] (1 = whole Gaussian)",
        },
        synthetic=True,
        reference=_REF,
    ),
    ShiftSpec(
        name="overlap",
        description=(
            "Control+Shift overlap: synthetic images from latents on a cap of fixed extent "
            "(t = 0.5) whose centre slerps from target1 (the training cap) towards an orthogonal "
            "target2 by the fraction s, so train and test supports overlap less and less."
            + _TRACKS
        ),
        knob="s = knob * max_slerp: the cap centre is rotated by s * 90 degrees from target1",
        kernel=_bind("overlap", control_shift),
        training=_bind("overlap", control_shift_training),
        params={**_COMMON, "extent": 0.5, "max_slerp": 1.0},
        param_doc={
            **_COMMON_DOC,
            "extent": "slerp fraction t of the cap, in (0, 1] (paper 0.5)",
            "max_slerp": "slerp fraction s at knob 1, in (0, 2] (1 = target2, paper's end; "
            "2 = the antipode of target1)",
        },
        synthetic=True,
        reference=_REF,
    ),
)
