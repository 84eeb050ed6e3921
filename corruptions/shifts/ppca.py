"""Probabilistic PCA: the linear-Gaussian decoder the latent shifts move through.

Model (Tipping & Bishop 1999): ``z ~ N(0, I_q)``, ``x = mu + W z + eps`` with
``eps ~ N(0, sigma^2 I_D)``. The maximum-likelihood fit is closed form: with the
sample covariance eigenvalues ``l_1 >= ... >= l_D`` and eigenvectors ``U``,
``sigma^2 = mean(l_{q+1..D})`` and ``W = U_q (L_q - sigma^2 I)^{1/2}``. Encoding
uses the posterior mean ``E[z | x] = M^{-1} W^T (x - mu)``, ``M = W^T W + sigma^2 I``.

Reference: Tipping, Bishop. Probabilistic Principal Component Analysis.
J. R. Stat. Soc. B 61(3), 1999.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh

__all__ = ["PPCA", "fit_ppca", "fit_class_ppca"]


@dataclass(frozen=True)
class PPCA:
    """A fitted probabilistic PCA model.

    Attributes:
        mean: ``(D,)`` data mean.
        W: ``(D, q)`` loading matrix.
        sigma2: Isotropic noise variance (data units squared).

    """

    mean: np.ndarray
    W: np.ndarray
    sigma2: float

    @property
    def dim(self) -> int:
        """Latent dimension ``q``."""
        return int(self.W.shape[1])

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Posterior means ``E[z | x]`` of rows ``x`` ``(N, D)`` -> ``(N, q)``."""
        m = self.W.T @ self.W + self.sigma2 * np.eye(self.dim)
        return np.linalg.solve(m, self.W.T @ (np.asarray(x) - self.mean).T).T

    def decode(self, z: np.ndarray, *, noise_rng: np.random.Generator | None = None) -> np.ndarray:
        """Map latents ``(N, q)`` to data space ``(N, D)``.

        Args:
            z: Latent codes.
            noise_rng: If given, add the model's isotropic noise ``sigma * N(0, I)``
                (a full sample of the generative model); otherwise return the mean
                ``mu + W z``.

        """
        x = self.mean + np.asarray(z) @ self.W.T
        if noise_rng is not None:
            x = x + np.sqrt(self.sigma2) * noise_rng.standard_normal(x.shape)
        return x


def fit_ppca(x: np.ndarray, dim: int) -> PPCA:
    """Fit PPCA by maximum likelihood (closed form through an SVD).

    Args:
        x: ``(N, D)`` data rows, N >= 2.
        dim: Latent dimension ``q``, ``1 <= q < min(N, D)``.

    Returns:
        The fitted :class:`PPCA`.

    Raises:
        ValueError: If ``dim`` is out of range for the data.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((200, 3)) @ np.diag([3.0, 1.0, 0.1])
        >>> model = fit_ppca(x, 1)
        >>> bool(abs(abs(model.W[0, 0]) - 3.0) < 0.5)
        True

    """
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    if not 1 <= dim < min(n, d):
        raise ValueError(
            f"latent dimension {dim} must be in 1..{min(n, d) - 1} for {n} rows of dimension {d}; "
            "lower `components` or give more rows per class"
        )
    mean = x.mean(axis=0)
    xc = x - mean
    small = min(n, d)
    # Top-q eigenpairs of the smaller of the Gram (n x n) and scatter (d x d) matrices:
    # same spectrum as an SVD of xc, several times cheaper than a full SVD.
    gram = xc @ xc.T if n <= d else xc.T @ xc
    eig, vec = eigh(gram, subset_by_index=[small - dim, small - 1])
    eig, vec = np.maximum(eig[::-1], 0.0), vec[:, ::-1]
    if n <= d:
        vec = xc.T @ vec / np.sqrt(np.maximum(eig, 1e-300))  # left -> right singular vectors
    eig = eig / n
    total = float((xc**2).sum() / n)
    sigma2 = max((total - float(eig.sum())) / (d - dim), 1e-12)
    scale = np.sqrt(np.maximum(eig - sigma2, 0.0))
    return PPCA(mean=mean, W=vec * scale, sigma2=sigma2)


def fit_class_ppca(x: np.ndarray, labels: np.ndarray, num_classes: int, dim: int) -> list[PPCA]:
    """Fit one PPCA per class (class-conditional linear-Gaussian decoder).

    Args:
        x: ``(N, D)`` rows.
        labels: ``(N,)`` class indices.
        num_classes: Number of classes; every class needs more than ``dim`` rows.
        dim: Latent dimension per class.

    """
    models = []
    for c in range(num_classes):
        rows = x[np.asarray(labels) == c]
        if len(rows) <= dim:
            raise ValueError(
                f"class {c} has {len(rows)} reference rows; class-conditional PPCA with "
                f"{dim} components needs more than {dim}"
            )
        models.append(fit_ppca(rows, dim))
    return models
