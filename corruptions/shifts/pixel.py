"""Shifts that edit real pixels: spurious colour/patch cues and Fourier amplitude mixing.

* ``spurious_correlation``: each class ``c`` owns a colour (hue ``c / K`` at full
  saturation and value). A row shows its class colour with probability ``rho``
  and one of the other ``K - 1`` colours (uniformly) otherwise. Gray images are
  colourised (stroke intensity times colour, Colored-MNIST style); colour
  images get a solid square patch of side ``patch_frac * min(H, W)`` in the
  top-left corner (background-patch style). The training set (published with the
  shift) uses ``rho = train_rho``; the knob moves ``rho`` linearly from
  ``train_rho`` (knob 0, no shift) to ``end_rho`` (knob 1). The same rows and the
  same uniform variates are used at every knob, so rows only ever switch from
  agreeing to disagreeing as the knob grows.
  Reference: Arjovsky, Bottou, Gulrajani, Lopez-Paz. Invariant Risk
  Minimization. arXiv:1907.02893, 2019 (Colored MNIST); Sagawa et al.
  Distributionally Robust Neural Networks. ICLR 2020 (spurious background cues).
* ``fourier_amplitude``: each row keeps its Fourier phase and mixes its
  amplitude spectrum with a partner row's inside a centred low-frequency square
  of half-width ``beta * min(H, W) / 2``: ``A = (1 - lam) A_self + lam A_partner``,
  ``lam = knob * lambda_max``. Partners and rows are the same at every knob.
  Reference: Yang, Soatto. FDA: Fourier Domain Adaptation for Semantic
  Segmentation. CVPR 2020; Xu et al. A Fourier-based Framework for Domain
  Generalization. CVPR 2021 (amplitude mix).
"""

from __future__ import annotations

import colorsys

import numpy as np

from corruptions.shifts import ShiftData, ShiftRandom, ShiftResult, ShiftSpec

__all__ = [
    "SPECS",
    "palette",
    "inject_colour",
    "spurious_correlation",
    "spurious_training",
    "amplitude_mix",
    "fourier_amplitude",
]

COLOUR_MODES = ("auto", "colorize", "patch")
_LUMA = np.array([0.299, 0.587, 0.114])


def palette(num_classes: int) -> np.ndarray:
    """Class colours: hue ``c / K``, full saturation and value, as uint8 RGB ``(K, 3)``.

    Example:
        >>> palette(3).tolist()
        [[255, 0, 0], [0, 255, 0], [0, 0, 255]]

    """
    rgb = [colorsys.hsv_to_rgb(c / num_classes, 1.0, 1.0) for c in range(num_classes)]
    return np.rint(np.array(rgb) * 255).astype(np.uint8)


def _is_gray(images: np.ndarray) -> bool:
    return images.ndim == 3 or images.shape[-1] == 1


def inject_colour(
    images: np.ndarray, colours: np.ndarray, *, mode: str, patch_frac: float
) -> np.ndarray:
    """Give each image a colour cue (pure; returns new uint8 RGB images).

    Args:
        images: uint8 ``(N, H, W)`` / ``(N, H, W, 1)`` gray or ``(N, H, W, 3)`` RGB.
        colours: uint8 ``(N, 3)`` colour per image.
        mode: ``colorize`` (gray level times colour), ``patch`` (solid corner
            square) or ``auto`` (colorize gray input, patch colour input).
        patch_frac: Patch side as a fraction of ``min(H, W)``, in (0, 1].

    Returns:
        uint8 ``(N, H, W, 3)``.

    """
    if mode not in COLOUR_MODES:
        raise ValueError(f"spurious mode {mode!r} unknown; valid: {list(COLOUR_MODES)}")
    gray = _is_gray(images)
    if mode == "auto":
        mode = "colorize" if gray else "patch"
    col = np.asarray(colours, dtype=np.float32)[:, None, None, :]
    if mode == "colorize":
        g = images.reshape(images.shape[:3]) if gray else (images[..., :3] @ _LUMA)
        return np.clip(
            np.rint(np.asarray(g, dtype=np.float32)[..., None] / 255.0 * col), 0, 255
        ).astype(np.uint8)
    if not 0 < patch_frac <= 1:
        raise ValueError(f"patch_frac must be in (0, 1], got {patch_frac}")
    rgb = (
        np.repeat(images.reshape(images.shape[:3])[..., None], 3, axis=3)
        if gray
        else images[..., :3].copy()
    )
    side = max(1, int(round(patch_frac * min(images.shape[1:3]))))
    rgb[:, :side, :side, :] = np.asarray(colours, dtype=np.uint8)[:, None, None, :]
    return rgb


def _colour_rows(
    data: ShiftData,
    idx: np.ndarray,
    rho: float,
    u: np.ndarray,
    offset: np.ndarray,
    *,
    mode: str,
    patch_frac: float,
    split_info: str,
) -> ShiftResult:
    sub = data.take(idx)
    k = data.num_classes
    agree = u < rho
    colour_class = np.where(agree, sub.labels, (sub.labels + offset) % k)
    images = inject_colour(sub.images, palette(k)[colour_class], mode=mode, patch_frac=patch_frac)
    return ShiftResult(
        images,
        sub.labels.astype(np.int64),
        sub.ids,
        tuple(
            {"colour_class": int(c), "agrees": bool(a)}
            for c, a in zip(colour_class, agree, strict=True)
        ),
        {"rho": rho, "agreement": float(agree.mean()) if len(agree) else 0.0, "set": split_info},
    )


def _end_rho(end_rho: float | str, num_classes: int) -> float:
    """Resolve ``end_rho``: a probability, or ``"independent"`` for ``1 / num_classes``."""
    if end_rho == "independent":
        return 1.0 / num_classes
    if isinstance(end_rho, str) or isinstance(end_rho, bool):
        raise ValueError(
            f"end_rho must be a probability in [0, 1] or 'independent' (1/K), got {end_rho!r}"
        )
    return float(end_rho)


def _check_rho(*values: float) -> None:
    for v in values:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"correlations rho must be in [0, 1], got {v}")


def _rows(data: ShiftData, size: int, rng: np.random.Generator, what: str) -> np.ndarray:
    if len(data) < size:
        raise ValueError(f"{what}: {len(data)} rows available, size is {size}; lower `size`")
    return np.sort(rng.permutation(len(data))[:size])


def spurious_correlation(
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    mode: str,
    train_rho: float,
    end_rho: float | str,
    patch_frac: float,
) -> ShiftResult:
    """Pool rows with a colour cue that agrees with the label with probability ``rho(knob)``.

    Args:
        reference: Unused (the training set is drawn by :func:`spurious_training`).
        pool: Rows to edit (``size`` of them, the same rows at every knob).
        knob: Moves ``rho`` linearly from ``train_rho`` (0) to ``end_rho`` (1).
        size: Rows in the shifted set.
        rand: Generators (rows and variates from ``rand.fixed``: monotone coupling).
        mode: ``auto``, ``colorize`` or ``patch``.
        train_rho: Cue-label agreement probability of the training set, in [0, 1].
        end_rho: Agreement probability at knob 1, in [0, 1], or ``"independent"``
            (``1/K``: the cue carries no information about the label). ``0`` makes the
            cue *anti*-correlated (it never shows the row's own class colour).
        patch_frac: Patch side as a fraction of ``min(H, W)``.

    """
    del reference
    end_rho = _end_rho(end_rho, pool.num_classes)
    _check_rho(train_rho, end_rho)
    idx = _rows(pool, size, rand.fixed("rows"), "spurious_correlation")
    u = rand.fixed("agree").random(size)
    offset = rand.fixed("other").integers(1, pool.num_classes, size)
    rho = train_rho + knob * (end_rho - train_rho)
    return _colour_rows(
        pool, idx, rho, u, offset, mode=mode, patch_frac=patch_frac, split_info="test"
    )


def spurious_training(
    reference: ShiftData,
    pool: ShiftData,
    *,
    size: int,
    rand: ShiftRandom,
    mode: str,
    train_rho: float,
    end_rho: float | str,
    patch_frac: float,
) -> ShiftResult:
    """Training set: reference rows with the cue agreeing with probability ``train_rho``."""
    del pool
    _check_rho(train_rho, _end_rho(end_rho, reference.num_classes))
    n = min(size, len(reference))
    idx = _rows(reference, n, rand.fixed("training-rows"), "spurious_correlation training")
    u = rand.fixed("training-agree").random(n)
    offset = rand.fixed("training-other").integers(1, reference.num_classes, n)
    return _colour_rows(
        reference, idx, train_rho, u, offset, mode=mode, patch_frac=patch_frac, split_info="train"
    )


def amplitude_mix(
    images: np.ndarray, partners: np.ndarray, *, lam: float, beta: float
) -> np.ndarray:
    """Mix each image's Fourier amplitude with its partner's, keeping its phase (pure).

    Args:
        images: uint8 ``(N, H, W)`` or ``(N, H, W, C)``.
        partners: Same shape; the amplitude donors.
        lam: Mixing weight of the partner amplitude, in [0, 1].
        beta: Half-width of the centred mixing square as a fraction of ``min(H, W) / 2``, in (0, 1].

    Returns:
        float32 images on the 0..255 scale (not clipped).

    Example:
        >>> x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
        >>> bool(np.allclose(amplitude_mix(x, x[::-1], lam=0.0, beta=1.0), x, atol=1e-4))
        True

    """
    if not 0 < beta <= 1:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    h, w = images.shape[1:3]
    fa = np.fft.fft2(np.asarray(images, dtype=np.float64), axes=(1, 2))
    fb = np.fft.fft2(np.asarray(partners, dtype=np.float64), axes=(1, 2))
    amp_a, amp_b, phase = np.abs(fa), np.abs(fb), np.angle(fa)
    fy = np.abs(np.fft.fftfreq(h))[:, None]
    fx = np.abs(np.fft.fftfreq(w))[None, :]
    band = (np.maximum(fy, fx) <= beta * 0.5 + 1e-12).astype(np.float64)
    band = band.reshape((1, h, w) + (1,) * (images.ndim - 3))
    amp = amp_a + lam * band * (amp_b - amp_a)
    return np.real(np.fft.ifft2(amp * np.exp(1j * phase), axes=(1, 2))).astype(np.float32)


def fourier_amplitude(
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    lambda_max: float,
    beta: float,
) -> ShiftResult:
    """Pool rows whose low-frequency amplitude is mixed with a partner's by ``knob * lambda_max``.

    Args:
        reference: Unused (the training distribution is the reference itself).
        pool: Rows to edit and partners (``size`` rows, same rows and partners at every knob).
        knob: Share of ``lambda_max``, in [0, 1].
        size: Rows in the shifted set.
        rand: Generators (rows and partners from ``rand.fixed``).
        lambda_max: Amplitude mixing weight at knob 1, in [0, 1].
        beta: Mixing band half-width as a fraction of the Nyquist band, in (0, 1].

    """
    del reference
    if not 0 <= lambda_max <= 1:
        raise ValueError(f"lambda_max must be in [0, 1], got {lambda_max}")
    if len(pool) < 2:
        raise ValueError("fourier_amplitude needs at least 2 pool rows")
    idx = _rows(pool, size, rand.fixed("rows"), "fourier_amplitude")
    shift = rand.fixed("partner").integers(1, len(pool), size)
    partner = (idx + shift) % len(pool)
    lam = knob * lambda_max
    mixed = amplitude_mix(pool.images[idx], pool.images[partner], lam=lam, beta=beta)
    images = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return ShiftResult(
        images,
        pool.labels[idx].astype(np.int64),
        tuple(pool.ids[i] for i in idx),
        tuple({"partner": pool.ids[j]} for j in partner),
        {"lambda": lam, "beta": beta},
    )


SPECS: tuple[ShiftSpec, ...] = (
    ShiftSpec(
        name="spurious_correlation",
        description=(
            "Real images given a class-coloured cue (gray digits colourised, colour images a "
            "corner patch) that agrees with the label with probability rho; the training set has "
            "rho = train_rho and the knob moves rho towards end_rho, breaking the shortcut. At "
            "knob 1 rho = end_rho: end_rho = 0 (the default) makes the cue anti-correlated (it "
            "never shows the row's class colour), end_rho = independent makes it independent of "
            "the label (rho = 1/K); each config records its rho in the shard summary."
        ),
        knob="rho = train_rho + knob * (end_rho - train_rho): probability the colour cue matches "
        "the label",
        kernel=spurious_correlation,
        training=spurious_training,
        params={"mode": "auto", "train_rho": 0.9, "end_rho": 0.0, "patch_frac": 0.25},
        param_doc={
            "mode": "auto (colorize gray, patch colour) | colorize | patch",
            "train_rho": "cue-label agreement probability in the training set, in [0, 1]",
            "end_rho": "agreement probability at knob 1, in [0, 1] (0 = anti-correlated), or "
            "'independent' (rho = 1/K: cue independent of the label)",
            "patch_frac": "patch side as a fraction of min(H, W), in (0, 1]",
        },
        reference="Arjovsky et al., IRM, arXiv:1907.02893 (2019, Colored MNIST); Sagawa et al., "
        "ICLR 2020",
    ),
    ShiftSpec(
        name="fourier_amplitude",
        description=(
            "Real images whose low-frequency Fourier amplitude is mixed with another image's "
            "(phase kept), so contrast and texture statistics change while shapes stay; the "
            "mixing weight is knob * lambda_max."
        ),
        knob="amplitude mixing weight lambda = knob * lambda_max",
        kernel=fourier_amplitude,
        params={"lambda_max": 1.0, "beta": 1.0},
        param_doc={
            "lambda_max": "partner amplitude weight at knob 1, in [0, 1]",
            "beta": "half-width of the centred mixing band as a fraction of the Nyquist band, "
            "in (0, 1] (FDA uses small values; 1 mixes every frequency)",
        },
        reference="Yang & Soatto, FDA, CVPR 2020; Xu et al., FACT, CVPR 2021",
    ),
)
