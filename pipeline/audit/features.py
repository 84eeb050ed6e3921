"""Featurizers for the built-in audit route: no pretrained weights, CPU only.

Three featurizers turn uint8 images into float32 feature rows:

* ``random_conv`` — a single-layer convolutional network whose filters are
  spherical k-means centroids of whitened random image patches (Coates, Lee & Ng,
  2011), with the "soft threshold" encoder ``max(0, z - a)``, ``max(0, -z - a)``
  and sum pooling over the four image quadrants. No labels are used to learn the
  filters. The default of the shipped manifests.
* ``hog`` — histograms of oriented gradients (Dalal & Triggs, 2005) from
  :func:`skimage.feature.hog`, per channel.
* ``pca_pixels`` — raw pixels, centred and PCA-whitened.

Everything a featurizer learns (patch whitening, filters, PCA basis) is fitted
label-free on the rows being audited; the random draws come from the generator
the caller passes, so the same seed gives the same features.

Reference:
    A. Coates, H. Lee, A. Y. Ng. An Analysis of Single-Layer Networks in
    Unsupervised Feature Learning. AISTATS 2011.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["FEATURIZERS", "featurize", "to_float_nhwc", "hog_features", "pca_pixel_features",
           "random_conv_features"]


def to_float_nhwc(images: np.ndarray) -> np.ndarray:
    """Stack of uint8 images (N, H, W) or (N, H, W, C) as float32 (N, H, W, C) on 0..1.

    Raises:
        ValueError: If ``images`` is not a 3-D or 4-D uint8 array.

    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4):
        raise ValueError(
            f"expected uint8 images shaped (N, H, W) or (N, H, W, C), got {arr.dtype} {arr.shape}"
        )
    if arr.ndim == 3:
        arr = arr[..., None]
    return arr.astype(np.float32) / np.float32(255.0)


def _normalize_patches(patches: np.ndarray) -> np.ndarray:
    """Per-patch brightness and contrast normalisation (Coates et al. 2011, eq. 1)."""
    p = patches - patches.mean(axis=1, keepdims=True)
    return p / np.sqrt(p.var(axis=1, keepdims=True) + np.float32(0.01))


def _spherical_kmeans(x: np.ndarray, k: int, iters: int, rng: np.random.Generator,
                      block: int = 16384) -> np.ndarray:
    """Unit-norm centroids of ``x`` (rows) by spherical k-means, initialised from random rows.

    The similarities are computed ``block`` rows at a time (an inverted file over 1M rows
    trains 4,096 cells on 262,144 rows: 4 GB of similarities at once), which bounds memory
    and leaves the result unchanged.
    """
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-8
    for _ in range(iters):
        new = np.zeros_like(centroids)
        for s in range(0, len(x), block):
            xb = x[s : s + block]
            sims = xb @ centroids.T
            best = sims.argmax(axis=1)
            weights = sims[np.arange(len(xb)), best]
            np.add.at(new, best, xb * weights[:, None])
        norms = np.linalg.norm(new, axis=1, keepdims=True)
        empty = norms[:, 0] < 1e-8
        new[empty] = x[rng.choice(len(x), size=int(empty.sum()), replace=False)]
        norms[empty] = np.linalg.norm(new[empty], axis=1, keepdims=True)
        centroids = new / (norms + 1e-8)
    return centroids.astype(np.float32)


def random_conv_features(
    images: np.ndarray,
    *,
    rng: np.random.Generator,
    filters: int,
    patch: int,
    alpha: float = 0.25,
    sample_patches: int = 20000,
    kmeans_iters: int = 10,
    batch: int = 32,
    threads: int = 2,
) -> np.ndarray:
    """Single-layer k-means convolutional features (Coates, Lee & Ng 2011).

    Args:
        images: uint8 (N, H, W) or (N, H, W, C) images, all the same size.
        rng: Generator for the patch sample and the k-means initialisation.
        filters: Number of filters F (>= 1); the output has ``8 * F`` columns.
        patch: Filter side in pixels (odd or even, < image side).
        alpha: Soft-threshold of the encoder, in whitened units (>= 0).
        sample_patches: Random patches used to fit whitening and filters.
        kmeans_iters: Spherical k-means iterations.
        batch: Images per convolution block (bounds memory, not results; 32 keeps a
            28-32 px block's activations in cache).
        threads: Blocks encoded in parallel (NumPy releases the GIL; not results).

    Returns:
        float32 (N, 8 * F): quadrant sums of ``max(0, z - alpha)`` and ``max(0, -z - alpha)``.

    Raises:
        ValueError: If ``filters`` or ``patch`` is out of range.

    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"expected uint8 images shaped (N, H, W) or (N, H, W, C), got "
                         f"{images.dtype} {images.shape}")
    u8 = images if images.ndim == 4 else images[..., None]
    n, h, w, c = u8.shape
    if filters < 1:
        raise ValueError(f"filters must be >= 1, got {filters}")
    if not 1 <= patch < min(h, w):
        raise ValueError(f"patch must be in 1..{min(h, w) - 1} for {h}x{w} images, got {patch}")
    dim = patch * patch * c
    oh, ow = h - patch + 1, w - patch + 1
    # Fit ZCA whitening and filters on random patches.
    m = min(sample_patches, n * oh * ow)
    idx = rng.integers(0, n, size=m)
    ys = rng.integers(0, oh, size=m)
    xs = rng.integers(0, ow, size=m)
    offs = np.arange(patch)
    # Pixels become float per batch, never for the whole set (1M 28x28 rows: 3 GB).
    sample = to_float_nhwc(u8[idx[:, None, None], ys[:, None, None] + offs[None, :, None],
                              xs[:, None, None] + offs[None, None, :]]
                           .reshape(m, patch, patch, c)).reshape(m, dim)
    sample = _normalize_patches(sample)
    mean = sample.mean(axis=0)
    cov = np.cov(sample - mean, rowvar=False).astype(np.float64)
    evals, evecs = np.linalg.eigh(cov)
    zca = (evecs @ np.diag(1.0 / np.sqrt(evals + 0.1)) @ evecs.T).astype(np.float32)
    white = (sample - mean) @ zca
    centroids = _spherical_kmeans(white, min(filters, m), kmeans_iters, rng)
    # Fold whitening into the filters: z = (p - mean) @ zca @ D.T.
    proj = zca @ centroids.T
    bias = mean @ proj
    out = np.empty((n, 8 * len(centroids)), dtype=np.float32)
    encode = _Encoder(proj.astype(np.float32), bias.astype(np.float32), alpha, patch, oh, ow)
    starts = range(0, n, batch)
    with threadpool_limits(1, user_api="blas"):  # the threads are the parallelism
        if threads <= 1 or len(starts) < 2:
            for start in starts:
                out[start : start + batch] = encode(to_float_nhwc(u8[start : start + batch]))
        else:
            from concurrent.futures import ThreadPoolExecutor

            def run(start: int) -> None:
                out[start : start + batch] = encode(to_float_nhwc(u8[start : start + batch]))

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, starts))
    return out


class _Encoder:
    """Convolve a float batch with the folded filters, soft-threshold and quadrant-pool it.

    Each batch is independent of the others (so threads and batch size do not change the
    result), and the activations are touched in as few passes as possible: the patch rows
    are normalised while they are small (``patch**2 * C`` columns), and the two
    soft-threshold halves are written into one reused buffer and pooled by a single
    reduction over the quadrant axes.
    """

    def __init__(self, proj: np.ndarray, bias: np.ndarray, alpha: float, patch: int,
                 oh: int, ow: int) -> None:
        self.proj, self.patch, self.oh, self.ow = proj, patch, oh, ow
        self.pos_shift = (bias + np.float32(alpha)).astype(np.float32)
        self.neg_shift = (bias - np.float32(alpha)).astype(np.float32)
        self.hy, self.hx = oh // 2, ow // 2

    def _pool(self, act: np.ndarray) -> np.ndarray:
        """Sum (b, oh, ow, F) over the four quadrants -> (b, 4, F) in (TL, TR, BL, BR) order."""
        hy, hx = self.hy, self.hx
        return np.stack([act[:, :hy, :hx].sum(axis=(1, 2)), act[:, :hy, hx:].sum(axis=(1, 2)),
                         act[:, hy:, :hx].sum(axis=(1, 2)), act[:, hy:, hx:].sum(axis=(1, 2))],
                        axis=1)

    def __call__(self, xb: np.ndarray) -> np.ndarray:
        """Features of one float batch (b, H, W, C) on 0..1 -> float32 (b, 8 F)."""
        b, p = len(xb), self.patch
        win = np.lib.stride_tricks.sliding_window_view(xb, (p, p), axis=(1, 2))
        # win: (b, oh, ow, c, patch, patch) -> rows in (y, x, c) patch order like `sample`.
        rows = np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3))
        rows = rows.reshape(-1, win.shape[3] * p * p)
        z = _normalize_patches(rows) @ self.proj  # (b * oh * ow, F), before the bias
        act = np.empty_like(z)
        np.subtract(z, self.pos_shift, out=act)  # z - bias - alpha
        np.maximum(act, 0, out=act)
        pos = self._pool(act.reshape(b, self.oh, self.ow, -1))
        np.subtract(z, self.neg_shift, out=act)  # z - bias + alpha
        np.minimum(act, 0, out=act)  # -max(0, -(z - bias) - alpha)
        neg = self._pool(act.reshape(b, self.oh, self.ow, -1))
        np.negative(neg, out=neg)
        return np.concatenate([pos, neg], axis=1).reshape(b, -1)


def hog_features(
    images: np.ndarray, *, cell: int, orientations: int = 9, rng: np.random.Generator | None = None
) -> np.ndarray:
    """HOG descriptors per channel, concatenated (``rng`` unused, kept for a uniform call).

    Args:
        images: uint8 (N, H, W) or (N, H, W, C) images.
        cell: Cell side in pixels (>= 2); blocks are 2x2 cells, L2-Hys normalised.
        orientations: Orientation bins over 0..180 degrees.
        rng: Ignored.

    Returns:
        float32 (N, D).

    """
    from skimage.feature import hog

    x = to_float_nhwc(images)
    if cell < 2:
        raise ValueError(f"cell must be >= 2 pixels, got {cell}")
    rows = []
    for img in x:
        rows.append(np.concatenate([
            hog(img[..., ch], orientations=orientations, pixels_per_cell=(cell, cell),
                cells_per_block=(2, 2), block_norm="L2-Hys", feature_vector=True)
            for ch in range(img.shape[2])
        ]))
    return np.asarray(rows, dtype=np.float32)


def pca_pixel_features(
    images: np.ndarray, *, components: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Centred pixels projected on their top principal components, whitened.

    Args:
        images: uint8 (N, H, W) or (N, H, W, C) images.
        components: Number of components kept (clipped to min(N, pixels)).
        rng: Ignored (the SVD is exact).

    Returns:
        float32 (N, components).

    """
    from pipeline.audit.probs import whiten

    return whiten(to_float_nhwc(images).reshape(len(images), -1), components, standardize=False)


#: featurizer name -> function(images, *, rng, **params) -> float32 (N, D)
FEATURIZERS: dict[str, Callable[..., np.ndarray]] = {
    "random_conv": random_conv_features,
    "hog": hog_features,
    "pca_pixels": pca_pixel_features,
}


def featurize(
    name: str, images: np.ndarray, *, rng: np.random.Generator, **params: Any
) -> np.ndarray:
    """Run featurizer ``name`` with ``params``.

    Raises:
        KeyError: Unknown featurizer (the message lists the valid ones).

    """
    if name not in FEATURIZERS:
        raise KeyError(f"unknown featurizer {name!r}; valid: {sorted(FEATURIZERS)}")
    return FEATURIZERS[name](images, rng=rng, **params)
