"""Shifts that select real rows: label shift and covariate shift by biased selection.

Both keep every pixel and label as published; only *which* pool rows enter the
shifted set changes, so they are exact and cheap.

* ``label_shift``: class shares move from the reference's ``p`` towards a
  target ``q`` as ``p_k = (1 - k) p + k q``; ``q`` is one class (``one_class``,
  share of that class grows from ``p_c`` to 1) or a seed-derived draw from a
  symmetric Dirichlet(``alpha``) (``dirichlet``). ``p(x | y)`` is unchanged.
  Reference: Lipton, Wang, Smola. Detecting and Correcting for Label Shift with
  Black Box Predictors. ICML 2018 (Dirichlet-shifted test sets).
* ``covariate_selection``: each pool row gets a standardised score ``s`` from a
  class-agnostic PPCA fitted on the reference (``atypicality``: Mahalanobis
  distance under the PPCA covariance; ``principal``: first principal
  coordinate); rows are drawn without replacement with weights
  ``exp(s / T)``, temperature ``T = 1 / (knob * beta_max)`` (knob 0: uniform).
  Selection depends on ``x`` only, so ``p(y | x)`` is preserved exactly.
  Reference: Shimodaira. Improving predictive inference under covariate shift
  by weighting the log-likelihood function. J. Stat. Plan. Inference 90, 2000;
  Efraimidis & Spirakis. Weighted random sampling with a reservoir. IPL 97, 2006
  (the Gumbel-top-k draw).
"""

from __future__ import annotations

import numpy as np

from corruptions.shifts import ShiftData, ShiftRandom, ShiftResult, ShiftSpec
from corruptions.shifts.common import (
    as_vectors,
    class_shares,
    largest_remainder,
    stratified_draw,
)
from corruptions.shifts.ppca import PPCA, fit_ppca

__all__ = ["SPECS", "label_shift", "target_shares", "covariate_selection", "selection_scores"]

LABEL_MODES = ("one_class", "dirichlet")
SCORES = ("atypicality", "principal")


def target_shares(
    num_classes: int, rand: ShiftRandom, *, mode: str, target_class: int | None, alpha: float
) -> np.ndarray:
    """Return the class shares ``q`` the label shift moves towards (the same at every knob).

    Args:
        num_classes: Number of classes.
        rand: Generators (``q`` comes from ``rand.fixed("target")``).
        mode: ``one_class`` or ``dirichlet``.
        target_class: Class index for ``one_class`` (``None``: seed-derived).
        alpha: Symmetric Dirichlet concentration for ``dirichlet`` (> 0; small is skewed).

    Example:
        >>> target_shares(3, ShiftRandom(0, "label_shift", 0.0), mode="one_class",
        ...               target_class=1, alpha=1.0).tolist()
        [0.0, 1.0, 0.0]

    """
    rng = rand.fixed("target")
    if mode == "one_class":
        c = int(rng.integers(num_classes)) if target_class is None else int(target_class)
        if not 0 <= c < num_classes:
            raise ValueError(f"target_class {c} outside 0..{num_classes - 1}")
        q = np.zeros(num_classes)
        q[c] = 1.0
        return q
    if mode == "dirichlet":
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        return rng.dirichlet(np.full(num_classes, float(alpha)))
    raise ValueError(f"label_shift mode {mode!r} unknown; valid: {list(LABEL_MODES)}")


def label_shift(
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    mode: str,
    target_class: int | None,
    alpha: float,
) -> ShiftResult:
    """Draw pool rows with class shares ``(1 - knob) p_reference + knob q``.

    Args:
        reference: Gives the training class shares ``p``.
        pool: Rows to draw from (without replacement, per class).
        knob: Mixing weight towards ``q`` in [0, 1].
        size: Rows in the shifted set.
        rand: Generators (``q`` fixed across knobs, the draw per knob).
        mode: ``one_class`` or ``dirichlet``.
        target_class: Class for ``one_class`` (``None``: seed-derived).
        alpha: Dirichlet concentration for ``dirichlet``.

    Returns:
        The drawn rows (pixels and labels unchanged).

    """
    p = class_shares(reference.labels, reference.num_classes)
    q = target_shares(
        reference.num_classes, rand, mode=mode, target_class=target_class, alpha=alpha
    )
    shares = (1.0 - knob) * p + knob * q
    counts = largest_remainder(shares, size)
    idx = stratified_draw(pool.labels, counts, rand.draw(), what="label_shift")
    out = pool.take(idx)
    return ShiftResult(
        out.images,
        out.labels.astype(np.int64),
        out.ids,
        tuple({} for _ in idx),
        {
            "reference_shares": p.round(6).tolist(),
            "target_shares": q.round(6).tolist(),
            "shares": shares.round(6).tolist(),
            "counts": counts.tolist(),
            "label_tv_distance": float(0.5 * np.abs(shares - p).sum()),
        },
    )


#: The pooled PPCA is fitted on at most this many reference rows (a seed-derived subset): its
#: cost grows as rows x pixels x min(rows, pixels), and 32 components need far fewer rows.
POOLED_FIT_ROWS = 1500


def _pooled_model(reference: ShiftData, components: int, rand: ShiftRandom) -> PPCA:
    rows = np.sort(rand.fixed("pooled-fit-rows").permutation(len(reference))[:POOLED_FIT_ROWS])
    return fit_ppca(as_vectors(reference.images[rows]), components)


def selection_scores(model: PPCA, images: np.ndarray, *, score: str) -> np.ndarray:
    """Raw covariate scores of ``images`` under a pooled PPCA (before standardising).

    Args:
        model: Class-agnostic PPCA fitted on the reference.
        images: uint8 images.
        score: ``atypicality`` (Mahalanobis distance under ``W W^T + sigma^2 I``)
            or ``principal`` (first posterior-mean latent coordinate).

    """
    x = as_vectors(images) - model.mean
    if score == "principal":
        return model.encode(x + model.mean)[:, 0]
    if score == "atypicality":
        m = model.W.T @ model.W + model.sigma2 * np.eye(model.dim)
        xw = x @ model.W
        quad = ((x * x).sum(axis=1) - (xw * np.linalg.solve(m, xw.T).T).sum(axis=1)) / model.sigma2
        return np.sqrt(np.maximum(quad, 0.0))
    raise ValueError(f"covariate score {score!r} unknown; valid: {list(SCORES)}")


def covariate_selection(
    reference: ShiftData,
    pool: ShiftData,
    *,
    knob: float,
    size: int,
    rand: ShiftRandom,
    score: str,
    beta_max: float,
    components: int,
) -> ShiftResult:
    """Biased selection of pool rows with weights ``exp(knob * beta_max * s)``.

    Args:
        reference: Rows the pooled PPCA (a seed-derived subset of at most
            :data:`POOLED_FIT_ROWS`) and the score standardisation are fitted on.
        pool: Candidate rows (at least ``size``).
        knob: Inverse temperature as a share of ``beta_max``, in [0, 1].
        size: Rows in the shifted set.
        rand: Generators (the Gumbel keys come from ``rand.draw``).
        score: ``atypicality`` or ``principal``.
        beta_max: Inverse temperature at knob 1 (per standard deviation of the score, > 0).
        components: Latent dimension of the pooled PPCA.

    Returns:
        The selected rows (pixels and labels unchanged).

    """
    if len(pool) < size:
        raise ValueError(f"covariate_selection: pool has {len(pool)} rows, size is {size}")
    if not beta_max > 0:
        raise ValueError(f"beta_max must be > 0, got {beta_max}")
    model = _pooled_model(reference, components, rand)
    ref_s = selection_scores(model, reference.images, score=score)
    s = (selection_scores(model, pool.images, score=score) - ref_s.mean()) / ref_s.std()
    beta = knob * beta_max
    keys = beta * s + rand.draw().gumbel(size=len(pool))
    idx = np.sort(np.argsort(-keys, kind="stable")[:size])
    out = pool.take(idx)
    w = np.exp(beta * (s - s.max()))
    return ShiftResult(
        out.images,
        out.labels.astype(np.int64),
        out.ids,
        tuple({"score": round(float(v), 6)} for v in s[idx]),
        {
            "beta": beta,
            "temperature": (1.0 / beta) if beta > 0 else None,
            "mean_selected_score": float(s[idx].mean()),
            "weight_ess_fraction": float(w.sum() ** 2 / (len(w) * (w**2).sum())),
            "label_shares": class_shares(out.labels, pool.num_classes).round(6).tolist(),
        },
    )


SPECS: tuple[ShiftSpec, ...] = (
    ShiftSpec(
        name="label_shift",
        description=(
            "Real images drawn so that the class shares move from the reference's towards a "
            "target (one class, or a Dirichlet draw) as the knob grows; images and labels are "
            "unchanged, only p(y) shifts."
        ),
        knob="mixing weight k of the class shares p_k = (1 - k) p_reference + k q",
        kernel=label_shift,
        params={"mode": "one_class", "target_class": None, "alpha": 1.0},
        param_doc={
            "mode": "one_class (q puts all mass on target_class) | dirichlet (q ~ Dir(alpha))",
            "target_class": "class index for one_class (int, or null for a seed-derived class)",
            "alpha": "symmetric Dirichlet concentration for dirichlet (> 0; smaller = more skewed)",
        },
        reference="Lipton, Wang, Smola, ICML 2018 (BBSE; Dirichlet label shift)",
    ),
    ShiftSpec(
        name="covariate_selection",
        description=(
            "Real images drawn without replacement with probability proportional to "
            "exp(score / T), where the score is a class-agnostic covariate (PPCA atypicality or "
            "first principal coordinate) and the temperature T falls as the knob grows; the "
            "selection depends on the image only, so p(y | x) is preserved."
        ),
        knob="inverse temperature beta = knob * beta_max of the selection weights "
        "exp(beta * z-score)",
        kernel=covariate_selection,
        params={"score": "atypicality", "beta_max": 3.0, "components": 32},
        param_doc={
            "score": "atypicality (Mahalanobis distance under a pooled PPCA) | principal "
            "(first principal coordinate)",
            "beta_max": "inverse temperature at knob 1, per standard deviation of the score (> 0)",
            "components": "latent dimension of the pooled PPCA (int >= 1)",
        },
        reference="Shimodaira 2000 (covariate shift); Efraimidis & Spirakis 2006 (weighted "
        "sampling without replacement)",
    ),
)
