"""Latent-overlap shifts, Control+Shift style, through a class-conditional PPCA decoder.

Control+Shift (Friedman & Chowers 2024) sets the intensity of a shift as one
minus the overlap of the training and test supports in a decoder's latent
space, ``I = 1 - |supp(p_train) ∩ supp(p_shift)| / |supp(p_shift)|``. Here the
decoder is a class-conditional probabilistic PCA (:mod:`corruptions.shifts.ppca`)
fitted on the reference rows, latents live in its whitened space
``z ~ N(0, I_q)``, and the knob *is* that intensity:

* ``mode="rotate"``: the training region is the half-space ``z·u >= 0`` for a
  seed-derived unit direction ``u`` (per class); at knob ``k`` the region is the
  half-space of ``u_k = cos(pi k) u + sin(pi k) v`` (``v ⟂ u``), rotated away so
  the Gaussian mass it shares with the training region is exactly ``1 - k``.
* ``mode="extend"``: the training region is the inner half of the latent mass
  (radius quantile in ``[0, 1/2]``); at knob ``k`` the region is the radius
  quantile band ``[k/2, (1 + k)/2]``, extending the support past the training
  region while the shared mass is exactly ``1 - k``.

``latent_overlap`` decodes latents sampled from the region (synthetic pixels,
class label = the class model that decoded them); ``latent_select`` keeps real
pool images whose posterior-mean latent falls in the region (no synthetic
pixels). Its PPCA is fitted on one seed-derived half of the reference rows; the
radius quantiles and the training set come from the other half, which the model
has not seen (like the pool), so the knob-0 band holds half of the pool's mass.

These two are **benchsmith's own extension**, not the paper's families: the
paper's truncation / extend / overlap are :mod:`corruptions.shifts.control_shift`.

``latent_overlap`` can decode through a learned decoder instead (``decoder="vae"``,
needs the ``shift-vae`` extra): a small class-conditional convolutional VAE
(:mod:`corruptions.shifts.vae`) whose per-class latent Gaussian is whitened to the same
``N(0, I_q)`` space, so the regions above apply unchanged.

Reference: Friedman, Chowers. Control+Shift: Generating Controllable
Distribution Shifts. arXiv:2409.07940, 2024; Tipping & Bishop 1999 (PPCA).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy.stats import chi2

from corruptions.shifts import ShiftData, ShiftRandom, ShiftResult, ShiftSpec
from corruptions.shifts.common import (
    as_vectors,
    class_shares,
    from_vectors,
    largest_remainder,
    stratified_draw,
)
from corruptions.shifts.ppca import PPCA, fit_class_ppca

if TYPE_CHECKING:
    from corruptions.shifts.vae import ClassLatentDecoder

__all__ = [
    "SPECS",
    "DECODERS",
    "latent_overlap",
    "latent_overlap_training",
    "latent_select",
    "latent_select_training",
    "MODES",
]

MODES = ("rotate", "extend")
DECODERS = ("ppca", "vae")


class LatentDecoder(Protocol):
    """A per-class decoder from a standard-normal latent ``N(0, I_dim)`` to 0..1 pixel vectors."""

    @property
    def dim(self) -> int:
        """Latent dimension."""
        ...

    def decode(self, z: np.ndarray, *, noise_rng: np.random.Generator | None = None) -> np.ndarray:
        """Map latents ``(N, dim)`` to pixel vectors ``(N, D)``, optionally with pixel noise."""
        ...


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"latent shift mode {mode!r} unknown; valid: {list(MODES)}")


def _directions(rand: ShiftRandom, c: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Seed-derived orthonormal pair ``(u, v)`` of class ``c`` (same at every knob)."""
    if q < 2:
        raise ValueError(f"latent shifts need components >= 2, got {q}")
    a, b = rand.fixed(f"direction/{c}").standard_normal((2, q))
    u = a / np.linalg.norm(a)
    v = b - (b @ u) * u
    return u, v / np.linalg.norm(v)


def _axis(u: np.ndarray, v: np.ndarray, knob: float) -> np.ndarray:
    return np.cos(np.pi * knob) * u + np.sin(np.pi * knob) * v


#: Class PPCAs kept per process by a SHA-256 of the rows and the dimension, so every knob of
#: an entry (and its training set) reuses one closed-form fit instead of refitting per knob.
_PPCA_CACHE: OrderedDict[str, list[PPCA]] = OrderedDict()
_PPCA_CACHE_SIZE = 4


def _fit(reference: ShiftData, components: int) -> list[PPCA]:
    h = hashlib.sha256()
    for part in (reference.images, reference.labels):
        h.update(repr((part.dtype.str, part.shape)).encode())
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(repr((reference.num_classes, int(components))).encode())
    key = h.hexdigest()
    if key in _PPCA_CACHE:
        _PPCA_CACHE.move_to_end(key)
        return _PPCA_CACHE[key]
    models = fit_class_ppca(
        as_vectors(reference.images), reference.labels, reference.num_classes, components
    )
    _PPCA_CACHE[key] = models
    while len(_PPCA_CACHE) > _PPCA_CACHE_SIZE:
        _PPCA_CACHE.popitem(last=False)
    return models


def _fit_decoder(
    reference: ShiftData, components: int, decoder: str, vae_epochs: int, rand: ShiftRandom
) -> list[PPCA] | list[ClassLatentDecoder]:
    """Class decoders of ``reference``; the VAE's seed is knob-independent (same net every knob)."""
    if decoder not in DECODERS:
        raise ValueError(f"latent_overlap decoder {decoder!r} unknown; valid: {list(DECODERS)}")
    if decoder == "ppca":
        return _fit(reference, components)
    from corruptions.shifts.vae import fit_class_vae

    seed = int(rand.fixed("vae").integers(2**31 - 1))
    return fit_class_vae(
        reference.images,
        reference.labels,
        reference.num_classes,
        dim=components,
        epochs=vae_epochs,
        seed=seed,
    )


def _sample_region(
    model: LatentDecoder,
    n: int,
    knob: float,
    mode: str,
    u: np.ndarray,
    v: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` latents from the knob's region; return ``(z, inside training region)``."""
    q = model.dim
    if mode == "rotate":
        z = rng.standard_normal((n, q))
        axis = _axis(u, v, knob)
        proj = z @ axis
        z = z - 2.0 * np.minimum(proj, 0.0)[:, None] * axis  # reflect into the half-space
        return z, z @ u >= 0.0
    quant = knob / 2.0 + rng.random(n) / 2.0
    direction = rng.standard_normal((n, q))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = np.sqrt(chi2.ppf(quant, q))
    return direction * radius[:, None], quant <= 0.5


def _generate(
    reference: ShiftData,
    knob: float,
    size: int,
    rng: np.random.Generator,
    rand: ShiftRandom,
    *,
    mode: str,
    components: int,
    decoder_noise: bool,
    decoder: str,
    vae_epochs: int,
) -> ShiftResult:
    _check_mode(mode)
    models = _fit_decoder(reference, components, decoder, vae_epochs, rand)
    counts = largest_remainder(class_shares(reference.labels, reference.num_classes), size)
    shape = reference.images.shape[1:]
    images, labels, inside = [], [], []
    for c, n in enumerate(counts):
        if n == 0:
            continue
        u, v = _directions(rand, c, components)
        z, ins = _sample_region(models[c], int(n), knob, mode, u, v, rng)
        x = models[c].decode(z, noise_rng=rng if decoder_noise else None)
        images.append(from_vectors(x, shape))
        labels.append(np.full(int(n), c, dtype=np.int64))
        inside.append(ins)
    ins_all = np.concatenate(inside)
    return ShiftResult(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        origin=tuple("" for _ in ins_all),
        info=tuple({"in_training_region": bool(b)} for b in ins_all),
        summary={
            "analytic_overlap": 1.0 - knob,
            "sampled_overlap": float(ins_all.mean()),
            "decoder": f"class-conditional PPCA, {components} components per class"
            if decoder == "ppca"
            else f"class-conditional conv VAE, {components}-dim latent, {vae_epochs} epochs, "
            "per-class latent Gaussian",
            "mode": mode,
        },
    )


def latent_overlap(
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    mode: str,
    components: int,
    decoder_noise: bool,
    decoder: str,
    vae_epochs: int,
) -> ShiftResult:
    """Decode class-conditional PPCA latents sampled from the knob's latent region.

    Args:
        reference: Rows the class-conditional PPCA is fitted on (pixels scaled to 0..1).
        pool: Unused (the shifted set is synthetic); accepted for the common contract.
        knob: Intensity = 1 - latent overlap with the training region, in [0, 1].
        size: Rows to generate, split over classes in the reference's class shares.
        rand: Generators; directions come from ``rand.fixed``, samples from ``rand.draw``.
        mode: ``rotate`` (half-space rotated by ``pi * knob``) or ``extend``
            (radius-quantile band ``[knob/2, (1 + knob)/2]``).
        components: Latent dimension per class (>= 2, below the per-class row count).
        decoder_noise: Add PPCA's isotropic noise (a full model sample) instead of
            decoding the mean ``mu + W z`` (VAE: the training RMS reconstruction error).
        decoder: ``ppca`` (closed form) or ``vae`` (class-conditional conv VAE,
            :mod:`corruptions.shifts.vae`; needs the ``shift-vae`` extra).
        vae_epochs: Training epochs of the VAE (``decoder="vae"`` only).

    Returns:
        Synthetic images with the label of the class model that decoded them.

    """
    del pool
    return _generate(
        reference,
        knob,
        size,
        rand.draw(),
        rand,
        mode=mode,
        components=components,
        decoder_noise=decoder_noise,
        decoder=decoder,
        vae_epochs=vae_epochs,
    )


def latent_overlap_training(
    reference: ShiftData,
    pool: ShiftData,
    *,
    size: int,
    rand: ShiftRandom,
    mode: str,
    components: int,
    decoder_noise: bool,
    decoder: str,
    vae_epochs: int,
) -> ShiftResult:
    """Synthetic training set: latents from the training region (knob 0), own random stream."""
    del pool
    return _generate(
        reference,
        0.0,
        size,
        rand.fixed("training"),
        rand,
        mode=mode,
        components=components,
        decoder_noise=decoder_noise,
        decoder=decoder,
        vae_epochs=vae_epochs,
    )


def _calibration_split(reference: ShiftData, rand: ShiftRandom) -> tuple[ShiftData, ShiftData]:
    """Split the reference rows in two seed-derived halves: (PPCA fit rows, calibration rows).

    Posterior-mean radii of the rows a PPCA was fitted on are larger than those of fresh rows
    (the fit spends its variance on them), so radius quantiles taken on the fit rows put ~55%
    of fresh pool rows in the knob-0 band instead of 50%. Quantiles and the training set come
    from the calibration half, which the model has not seen, like the pool.
    """
    order = rand.fixed("calibration").permutation(len(reference))
    half = len(reference) // 2
    return reference.take(np.sort(order[:half])), reference.take(np.sort(order[half:]))


def _region_mask(
    models: list[PPCA],
    reference: ShiftData,
    data: ShiftData,
    knob: float,
    mode: str,
    rand: ShiftRandom,
) -> np.ndarray:
    """Whether each row's posterior-mean latent (under its class model) is in the knob's region."""
    _check_mode(mode)
    x = as_vectors(data.images)
    x_ref = as_vectors(reference.images)
    mask = np.zeros(len(data), dtype=bool)
    for c, model in enumerate(models):
        rows = np.flatnonzero(data.labels == c)
        if not len(rows):
            continue
        z = model.encode(x[rows])
        if mode == "rotate":
            u, v = _directions(rand, c, model.dim)
            mask[rows] = z @ _axis(u, v, knob) >= 0.0
        else:
            ref_r = np.sort(np.linalg.norm(model.encode(x_ref[reference.labels == c]), axis=1))
            quant = np.searchsorted(ref_r, np.linalg.norm(z, axis=1), side="right") / len(ref_r)
            mask[rows] = (quant >= knob / 2.0) & (quant <= (1.0 + knob) / 2.0)
    return mask


def latent_select(
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    mode: str,
    components: int,
) -> ShiftResult:
    """Select real pool images whose latent falls in the knob's region (no synthetic pixels).

    Args:
        reference: Rows the class-conditional PPCA (and radius quantiles) are fitted on.
        pool: Candidate rows; each is encoded with its own class's PPCA.
        knob: Intensity = 1 - latent overlap with the training region, in [0, 1].
        size: Rows to select, split over classes in the pool's class shares.
        rand: Generators; directions from ``rand.fixed``, the draw from ``rand.draw``.
        mode: ``rotate`` or ``extend`` (see the module docstring).
        components: Latent dimension per class.

    Returns:
        The selected real rows (labels and pixels unchanged).

    """
    fit_rows, calibration = _calibration_split(reference, rand)
    models = _fit(fit_rows, components)
    region = _region_mask(models, calibration, pool, knob, mode, rand)
    train = _region_mask(models, calibration, pool, 0.0, mode, rand)
    counts = largest_remainder(class_shares(pool.labels, pool.num_classes), size)
    idx = stratified_draw(pool.labels, counts, rand.draw(), eligible=region, what="latent_select")
    out = pool.take(idx)
    return ShiftResult(
        images=out.images,
        labels=out.labels.astype(np.int64),
        origin=out.ids,
        info=tuple({"in_training_region": bool(b)} for b in train[idx]),
        summary={
            "analytic_overlap": 1.0 - knob,
            "sampled_overlap": float(train[idx].mean()),
            "mode": mode,
            "region_rows": int(region.sum()),
        },
    )


def latent_select_training(
    reference: ShiftData,
    pool: ShiftData,
    *,
    size: int,
    rand: ShiftRandom,
    mode: str,
    components: int,
) -> ShiftResult:
    """Training set: calibration-half reference rows whose latent is in the training region."""
    del pool
    fit_rows, reference = _calibration_split(reference, rand)
    models = _fit(fit_rows, components)
    region = _region_mask(models, reference, reference, 0.0, mode, rand)
    avail = np.bincount(reference.labels[region], minlength=reference.num_classes)
    want = largest_remainder(
        class_shares(reference.labels, reference.num_classes), min(size, int(region.sum()))
    )
    idx = stratified_draw(
        reference.labels,
        np.minimum(want, avail),
        rand.fixed("training"),
        eligible=region,
        what="latent_select training",
    )
    out = reference.take(idx)
    return ShiftResult(
        out.images,
        out.labels.astype(np.int64),
        out.ids,
        tuple({"in_training_region": True} for _ in idx),
        {"mode": mode},
    )


_DOC: dict[str, str] = {
    "mode": "rotate (half-space rotated by pi*knob) | extend (radius-quantile band "
    "[knob/2, (1+knob)/2])",
    "components": "latent dimension of each class's PPCA (int >= 2, below the rows per class)",
}
_KNOB = (
    "Control+Shift intensity = 1 - overlap of the shifted latent region with the training "
    "region (fraction of latent Gaussian mass shared); 0 = training distribution, 1 = disjoint"
)

SPECS: tuple[ShiftSpec, ...] = (
    ShiftSpec(
        name="latent_overlap",
        description=(
            "benchsmith's extension of Control+Shift (the paper's families are truncation, "
            "extend and overlap). Synthetic images decoded by a class-conditional probabilistic "
            "PCA fitted on the "
            "reference images, with latents drawn from a region whose overlap with the training "
            "region shrinks as the knob grows (Control+Shift with a linear-Gaussian decoder). "
            "Labels are the class of the model that decoded each image; the matching training "
            "set (latents from the training region) is published beside it."
        ),
        knob=_KNOB,
        kernel=latent_overlap,
        training=latent_overlap_training,
        params={
            "mode": "extend",
            "components": 16,
            "decoder_noise": False,
            "decoder": "ppca",
            "vae_epochs": 8,
        },
        param_doc={
            **_DOC,
            "decoder_noise": "add PPCA's isotropic pixel noise (bool); false "
            "decodes the mean mu + W z",
            "decoder": "ppca (class-conditional probabilistic PCA) | vae (small class-conditional "
            "conv VAE, latent dim = components; needs the shift-vae extra: torch)",
            "vae_epochs": "training epochs of the VAE (int >= 1; decoder=vae only; ~4-5 s per "
            "epoch of 10,000 MNIST images on one CPU thread)",
        },
        synthetic=True,
        reference="Friedman & Chowers, Control+Shift, arXiv:2409.07940 (2024); Tipping & Bishop, "
        "PPCA, JRSS-B 61(3) 1999",
    ),
    ShiftSpec(
        name="latent_select",
        description=(
            "benchsmith's extension of Control+Shift to real images. "
            "Real images selected because their latent code under a class-conditional "
            "probabilistic PCA (fitted on the reference images) falls in a region whose overlap "
            "with the training region shrinks as the knob grows (the selection variant of "
            "Control+Shift: no synthetic pixels). Pixels and labels are unchanged."
        ),
        knob=_KNOB,
        kernel=latent_select,
        training=latent_select_training,
        params={"mode": "extend", "components": 16},
        param_doc=_DOC,
        reference="Friedman & Chowers, Control+Shift, arXiv:2409.07940 (2024); Tipping & Bishop, "
        "PPCA, JRSS-B 61(3) 1999",
    ),
)
