"""A small class-conditional convolutional VAE: the learned decoder ``latent_overlap`` can use.

Optional: needs PyTorch (``pip install 'benchsmith[shift-vae]'``); torch is imported
inside the functions that need it, never at import time.

Model (Kingma & Welling 2014; conditional form after Sohn et al. 2015): an encoder
``q(z | x, y) = N(mu, diag(sigma^2))`` of two stride-2 convolutions (32 and 64
channels, 4x4 kernels) whose flattened features are joined with the one-hot label,
and a decoder ``p(x | z, y)`` that maps ``[z, onehot(y)]`` through a linear layer and
two stride-2 transposed convolutions back to pixel logits (Bernoulli likelihood on
the 0..1 pixel scale, the usual MNIST VAE loss; KL weight 1). Images must be square
with a side divisible by 4 (28x28 gray and 32x32 RGB are the targets).

The Control+Shift regions of :mod:`corruptions.shifts.latent` are defined for a
standard-normal latent ``w ~ N(0, I_q)``. After training, each class ``c`` gets a
Gaussian fitted to the posterior means of its reference rows (mean ``m_c``, Cholesky
factor ``L_c`` of the covariance; "ex-post density estimation", Ghosh et al. 2020),
and :class:`ClassLatentDecoder` decodes ``z = m_c + L_c w`` with label ``c``. So the
knob-0 region of ``w`` maps onto where the class's real images sit in latent space,
the same region logic as the PPCA decoder applies unchanged, and the label of every
decoded image is the class the decoder was conditioned on.

Determinism: training runs on CPU with one thread, ``torch.use_deterministic_algorithms``,
parameters initialised after ``torch.manual_seed(seed)`` inside a forked RNG state
(the caller's global torch RNG and thread settings are restored), and minibatch
order from a NumPy generator of the same seed. Same seed, data and torch build ->
identical weights and bytes (different CPU instruction sets may round differently).

Reference: Kingma, Welling. Auto-Encoding Variational Bayes. ICLR 2014; Sohn, Lee,
Yan. Learning Structured Output Representation using Deep Conditional Generative
Models. NeurIPS 2015; Ghosh et al. From Variational to Deterministic Autoencoders.
ICLR 2020.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "EXTRA",
    "VAERecipe",
    "FittedVAE",
    "ClassLatentDecoder",
    "fit_vae",
    "fit_class_vae",
    "class_decoders",
]

#: The pyproject extra that installs the VAE's dependency.
EXTRA = "shift-vae"
#: Fitted models kept per process, keyed by a hash of the data and the recipe, so every
#: knob of one shift (and its training set) decodes through the same network fitted once.
_CACHE_SIZE = 2
_CACHE: OrderedDict[str, FittedVAE] = OrderedDict()


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError(
            f"the convolutional VAE decoder (decoder='vae') needs PyTorch, which is not "
            f"installed: pip install 'benchsmith[{EXTRA}]' (CPU build is enough), or use "
            "decoder='ppca'"
        ) from None
    return torch


@dataclass(frozen=True)
class VAERecipe:
    """How the VAE is trained.

    Attributes:
        dim: Latent dimension (>= 2).
        epochs: Passes over the training rows (>= 1).
        batch_size: Rows per Adam step.
        learning_rate: Adam step size.
        channels: Channels of the two convolution stages.

    """

    dim: int
    epochs: int
    batch_size: int = 64
    learning_rate: float = 2e-3
    channels: tuple[int, int] = (32, 64)

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 2:
            raise ValueError(
                f"VAE latent dimension (components) must be an int >= 2, got {self.dim!r}"
            )
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"vae_epochs must be a positive integer, got {self.epochs!r}")


def _check_images(images: np.ndarray, labels: np.ndarray, num_classes: int) -> None:
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(
            f"VAE images must be uint8 (N, H, W[, C]), got {images.dtype} {images.shape}"
        )
    h, w = images.shape[1:3]
    if h != w or h % 4:
        raise ValueError(
            f"the VAE needs square images with a side divisible by 4 (28x28, 32x32), got {h}x{w}; "
            "use decoder='ppca' for other shapes"
        )
    if len(images) < 2 or labels.shape != (len(images),):
        raise ValueError(
            f"need >= 2 images with one label each, got {len(images)} / {labels.shape}"
        )
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")


def _to_tensor(torch: Any, images: np.ndarray) -> Any:
    """uint8 ``(N, H, W[, C])`` -> float32 ``(N, C, H, W)`` on the 0..1 scale."""
    x = images[..., None] if images.ndim == 3 else images
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float() / 255.0


def _build(torch: Any, channels: int, side: int, recipe: VAERecipe, num_classes: int) -> Any:
    nn = torch.nn
    c1, c2 = recipe.channels
    s = side // 4
    flat = c2 * s * s

    class CVAE(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.num_classes = num_classes
            self.encoder = nn.Sequential(
                nn.Conv2d(channels, c1, 4, 2, 1),
                nn.ReLU(),
                nn.Conv2d(c1, c2, 4, 2, 1),
                nn.ReLU(),
                nn.Flatten(),
            )
            self.head = nn.Linear(flat + num_classes, 2 * recipe.dim)
            self.expand = nn.Linear(recipe.dim + num_classes, flat)
            self.decoder = nn.Sequential(
                nn.ReLU(),
                nn.Unflatten(1, (c2, s, s)),
                nn.ConvTranspose2d(c2, c1, 4, 2, 1),
                nn.ReLU(),
                nn.ConvTranspose2d(c1, channels, 4, 2, 1),
            )

        def onehot(self, y: Any) -> Any:
            return nn.functional.one_hot(y, self.num_classes).float()

        def encode(self, x: Any, y: Any) -> tuple[Any, Any]:
            stats = self.head(torch.cat([self.encoder(x), self.onehot(y)], 1))
            return stats.chunk(2, 1)

        def decode_logits(self, z: Any, y: Any) -> Any:
            return self.decoder(self.expand(torch.cat([z, self.onehot(y)], 1)))

    return CVAE()


@dataclass(frozen=True, eq=False)
class FittedVAE:
    """A trained class-conditional VAE.

    Attributes:
        net: The torch module (eval mode).
        image_shape: Shape of one image ``(H, W)`` or ``(H, W, C)``.
        num_classes: Number of classes (one-hot width).
        recipe: How it was trained.
        seed: Training seed.
        train_mse: Mean squared reconstruction error (0..1 pixel scale) of the
            training rows, decoding the posterior mean.
        train_seconds: Wall-clock training time.

    """

    net: Any
    image_shape: tuple[int, ...]
    num_classes: int
    recipe: VAERecipe
    seed: int
    train_mse: float
    train_seconds: float

    @property
    def dim(self) -> int:
        """Latent dimension."""
        return self.recipe.dim

    def encode(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Posterior means ``(N, dim)`` (float64) of uint8 images under their labels."""
        torch = _torch()
        with torch.no_grad():
            mu, _ = self.net.encode(
                _to_tensor(torch, images), torch.from_numpy(np.asarray(labels, dtype=np.int64))
            )
        return mu.double().numpy()

    def decode(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Pixel means ``(N, D)`` on the 0..1 scale (HWC order, as ``as_vectors``) of latents."""
        torch = _torch()
        with torch.no_grad():
            logits = self.net.decode_logits(
                torch.from_numpy(np.asarray(z, dtype=np.float32)),
                torch.from_numpy(np.asarray(labels, dtype=np.int64)),
            )
        x = torch.sigmoid(logits).double().numpy().transpose(0, 2, 3, 1)
        return x.reshape(len(x), -1)

    def reconstruct(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Return the decoded posterior means of ``images``, ``(N, D)`` on the 0..1 scale."""
        return self.decode(self.encode(images, labels), labels)


@dataclass(frozen=True, eq=False)
class ClassLatentDecoder:
    """One class of a :class:`FittedVAE` behind a standard-normal latent ``w``.

    Duck-types :class:`corruptions.shifts.ppca.PPCA` (``dim``, ``encode``, ``decode``)
    so the latent region logic treats both decoders alike.

    Attributes:
        vae: The fitted network.
        label: The class every decoded image belongs to.
        mean: ``(q,)`` mean of the class's posterior means.
        chol: ``(q, q)`` lower Cholesky factor of their covariance.
        noise_std: Pixel noise added by ``decode(..., noise_rng=...)``: the RMS
            reconstruction error of the training rows (the analogue of PPCA's sigma).

    """

    vae: FittedVAE
    label: int
    mean: np.ndarray
    chol: np.ndarray
    noise_std: float

    @property
    def dim(self) -> int:
        """Latent dimension ``q``."""
        return int(self.mean.shape[0])

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Whitened latents ``w`` of uint8 images ``x`` of this class."""
        z = self.vae.encode(x, np.full(len(x), self.label, dtype=np.int64))
        return np.linalg.solve(self.chol, (z - self.mean).T).T

    def decode(self, w: np.ndarray, *, noise_rng: np.random.Generator | None = None) -> np.ndarray:
        """Decode whitened latents ``(N, q)`` to pixel vectors ``(N, D)`` on the 0..1 scale.

        Args:
            w: Standard-normal-scale latents; ``z = mean + chol @ w`` is decoded.
            noise_rng: If given, add ``noise_std * N(0, I)`` per pixel.

        """
        w = np.asarray(w, dtype=np.float64)
        x = self.vae.decode(self.mean + w @ self.chol.T, np.full(len(w), self.label))
        if noise_rng is not None:
            x = x + self.noise_std * noise_rng.standard_normal(x.shape)
        return x


def _key(
    images: np.ndarray, labels: np.ndarray, num_classes: int, recipe: VAERecipe, seed: int
) -> str:
    h = hashlib.sha256()
    for part in (images, np.asarray(labels, dtype=np.int64)):
        h.update(repr((part.dtype.str, part.shape)).encode())
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(repr((num_classes, recipe, int(seed))).encode())
    return h.hexdigest()


def fit_vae(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    recipe: VAERecipe,
    seed: int,
    cache: bool = True,
) -> FittedVAE:
    """Train the class-conditional VAE deterministically on CPU (cached per process).

    Args:
        images: uint8 ``(N, H, W)`` or ``(N, H, W, C)``, square, side divisible by 4.
        labels: ``(N,)`` class indices in ``0..num_classes - 1``.
        num_classes: One-hot width.
        recipe: Latent dimension, epochs and optimiser settings.
        seed: Training seed (parameter init, reparameterisation noise, batch order).
        cache: Reuse (and keep) the model fitted on the same data, recipe and seed in
            this process; false always trains afresh and keeps nothing.

    Returns:
        The fitted model.

    Raises:
        ImportError: PyTorch is missing (names the extra to install).
        ValueError: Unsupported image shape or labels out of range.

    """
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    _check_images(images, labels, num_classes)
    torch = _torch()
    key = _key(images, labels, num_classes, recipe, seed)
    if cache and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    start = time.perf_counter()
    x_all = _to_tensor(torch, images)
    y_all = torch.from_numpy(labels)
    order_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            net = _build(torch, x_all.shape[1], x_all.shape[2], recipe, num_classes)
            opt = torch.optim.Adam(net.parameters(), lr=recipe.learning_rate)
            net.train()
            n, bs = len(x_all), recipe.batch_size
            for _ in range(recipe.epochs):
                perm = torch.from_numpy(order_rng.permutation(n))
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    x, y = x_all[idx], y_all[idx]
                    mu, logvar = net.encode(x, y)
                    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                    rec = torch.nn.functional.binary_cross_entropy_with_logits(
                        net.decode_logits(z, y), x, reduction="sum"
                    )
                    kl = -0.5 * torch.sum(1.0 + logvar - mu.pow(2) - logvar.exp())
                    opt.zero_grad()
                    ((rec + kl) / len(idx)).backward()
                    opt.step()
            net.eval()
            with torch.no_grad():
                mse = 0.0
                for i in range(0, n, 1024):
                    x, y = x_all[i : i + 1024], y_all[i : i + 1024]
                    mu, _ = net.encode(x, y)
                    mse += float(((torch.sigmoid(net.decode_logits(mu, y)) - x) ** 2).sum())
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    fitted = FittedVAE(
        net=net,
        image_shape=tuple(images.shape[1:]),
        num_classes=num_classes,
        recipe=recipe,
        seed=int(seed),
        train_mse=mse / x_all.numel(),
        train_seconds=time.perf_counter() - start,
    )
    if not cache:
        return fitted
    _CACHE[key] = fitted
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return fitted


def class_decoders(
    vae: FittedVAE, images: np.ndarray, labels: np.ndarray
) -> list[ClassLatentDecoder]:
    """Per-class standard-normal latent decoders from a fitted VAE.

    Args:
        vae: The fitted network.
        images: uint8 rows whose posterior means define each class's latent Gaussian.
        labels: Their labels; every class needs more than ``vae.dim`` rows.

    """
    labels = np.asarray(labels, dtype=np.int64)
    z = vae.encode(images, labels)
    noise_std = float(np.sqrt(vae.train_mse))
    out = []
    for c in range(vae.num_classes):
        zc = z[labels == c]
        if len(zc) <= vae.dim:
            raise ValueError(
                f"class {c} has {len(zc)} reference rows; the VAE's per-class latent Gaussian "
                f"with {vae.dim} dimensions needs more than {vae.dim}"
            )
        cov = np.cov(zc, rowvar=False) + 1e-6 * np.eye(vae.dim)
        out.append(ClassLatentDecoder(vae, c, zc.mean(axis=0), np.linalg.cholesky(cov), noise_std))
    return out


def fit_class_vae(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    dim: int,
    epochs: int,
    seed: int,
) -> list[ClassLatentDecoder]:
    """Train the VAE on ``images`` and return one standard-normal latent decoder per class.

    Args:
        images: uint8 reference images (square, side divisible by 4).
        labels: Their class indices.
        num_classes: Number of classes.
        dim: Latent dimension (>= 2).
        epochs: Training epochs (>= 1).
        seed: Training seed.

    """
    vae = fit_vae(images, labels, num_classes, recipe=VAERecipe(dim=dim, epochs=epochs), seed=seed)
    return class_decoders(vae, images, labels)
