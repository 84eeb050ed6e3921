"""Small helpers shared by the shift kernels (counts, stratified draws, pixel vectors)."""

from __future__ import annotations

import numpy as np

__all__ = ["largest_remainder", "class_shares", "stratified_draw", "as_vectors", "from_vectors"]


def largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to ``total`` closest to ``shares * total`` (Hamilton's method).

    Args:
        shares: Non-negative weights (normalised here).
        total: Number of items to distribute (>= 0).

    Returns:
        int64 counts, one per share.

    Example:
        >>> largest_remainder(np.array([0.5, 0.3, 0.2]), 7).tolist()
        [4, 2, 1]

    """
    p = np.asarray(shares, dtype=np.float64)
    if p.ndim != 1 or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"shares must be non-negative with a positive sum, got {p}")
    exact = p / p.sum() * total
    counts = np.floor(exact).astype(np.int64)
    rest = total - int(counts.sum())
    if rest:
        order = np.lexsort((np.arange(len(p)), -(exact - counts)))  # ties: lowest index first
        counts[order[:rest]] += 1
    return counts


def class_shares(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Class proportions of ``labels`` (float64, sums to 1)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    return counts / max(1, counts.sum())


def stratified_draw(
    labels: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
    *,
    eligible: np.ndarray | None = None,
    what: str = "shift",
) -> np.ndarray:
    """Draw ``counts[c]`` distinct row indices of each class ``c`` (sorted result).

    Args:
        labels: ``(N,)`` class index per row.
        counts: Rows wanted per class.
        rng: Generator for the draw.
        eligible: Optional boolean ``(N,)`` mask of rows that may be drawn.
        what: Name used in the error message.

    Raises:
        ValueError: A class has fewer eligible rows than requested (names the
            class, the counts and the fix).

    """
    labels = np.asarray(labels)
    mask = (
        np.ones(len(labels), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    )
    picked = []
    for c, want in enumerate(np.asarray(counts, dtype=np.int64)):
        if want == 0:
            continue
        rows = np.flatnonzero(mask & (labels == c))
        if len(rows) < want:
            raise ValueError(
                f"{what}: class {c} needs {want} rows but only {len(rows)} are available; "
                "lower `size` or use a larger source (more rows, or a larger pool fraction)"
            )
        picked.append(rng.choice(rows, size=int(want), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def as_vectors(images: np.ndarray) -> np.ndarray:
    """Flatten uint8 images ``(N, ...)`` to float64 vectors on the 0..1 scale."""
    return np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0


def from_vectors(vectors: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Clip 0..1 vectors to [0, 1] and round them to uint8 images of ``shape`` (per image)."""
    pixels = np.clip(np.rint(np.asarray(vectors) * 255.0), 0, 255).astype(np.uint8)
    return pixels.reshape((len(pixels), *shape))
