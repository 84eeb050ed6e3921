"""Noise family of the 2-D common corruptions: Gaussian, shot, impulse and speckle noise.

The kernels reproduce ``gaussian_noise``, ``shot_noise``, ``impulse_noise`` and
``speckle_noise`` of the ImageNet-C, Tiny-ImageNet-C and CIFAR-10-C generation
scripts (hendrycks/robustness ``ImageNet-C/create_c/make_{imagenet,tinyimagenet,cifar}_c.py``)
and of MNIST-C (google-research/mnist-c ``corruptions.py``). All four upstream
variants share the same function bodies and differ only in their severity
constants, which live in the tables below.

Every kernel is element-wise and works on any channel count (``layout="any"``):
a grayscale image gets one noise draw per pixel, as MNIST-C does on its
(28, 28) digits, instead of three draws averaged back to luma.

Values are returned on the 0..255 scale, unclipped; the registry's ``apply``
clips and truncates like the upstream ``np.uint8(np.clip(x, 0, 1) * 255)``.

Reference:
    D. Hendrycks and T. Dietterich, "Benchmarking Neural Network Robustness to
    Common Corruptions and Perturbations", ICLR 2019. N. Mu and J. Gilmer,
    "MNIST-C: A Robustness Benchmark for Computer Vision", 2019.
"""

from __future__ import annotations

import numpy as np

from corruptions.image import FloatImage, U8Image
from corruptions.registry import CorruptionSpec, SeverityTable

__all__ = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "SPECS"]

_IMAGENET = "hendrycks/robustness ImageNet-C/create_c/make_imagenet_c.py"
_TINY = "hendrycks/robustness ImageNet-C/create_c/make_tinyimagenet_c.py"
_CIFAR = "hendrycks/robustness ImageNet-C/create_c/make_cifar_c.py"
_MNIST = "google-research/mnist-c corruptions.py"
_INCEPTION = "hendrycks/robustness ImageNet-C/create_c/make_imagenet_c_inception.py"


def gaussian_noise(image: U8Image, *, sigma: float, rng: np.random.Generator) -> FloatImage:
    """Add zero-mean Gaussian noise, independently per pixel and channel.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        sigma: Noise standard deviation as a fraction of full scale
            (1.0 = 255 gray levels), >= 0.
        rng: Source of the noise.

    Returns:
        float64 image on the 0..255 scale (unclipped), same shape. Computed as
        upstream does, ``(x / 255. + sigma * z) * 255`` in float64 (``normal(scale=c)``
        is ``0 + c * z``), so that truncation to uint8 gives upstream's levels
        exactly for the same normal draws ``z`` (drawn as float32, used as float64).

    Reference:
        ``gaussian_noise`` in make_imagenet_c.py: ``x/255 + N(0, c)``.

    Example:
        >>> img = np.full((2, 2), 100, np.uint8)
        >>> gaussian_noise(img, sigma=0.0, rng=np.random.default_rng(0)).tolist()
        [[100.0, 100.0], [100.0, 100.0]]

    """
    # float32 draws (the faster ziggurat) used in float64, as upstream's normal(scale=c).
    noise = np.multiply(rng.standard_normal(size=image.shape, dtype=np.float32), sigma,
                        dtype=np.float64)
    out = image / 255.0
    out += noise
    out *= 255.0
    return out


def shot_noise(image: U8Image, *, photons: float, rng: np.random.Generator) -> FloatImage:
    """Replace each value by a Poisson photon count rescaled to intensity.

    A pixel of intensity ``v`` in [0, 1] becomes ``Poisson(v * photons) / photons``.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        photons: Expected photon count at full intensity (> 0); fewer photons
            means more noise.
        rng: Source of the noise.

    Returns:
        float64 image on the 0..255 scale (unclipped), same shape. Computed in
        float64 with the upstream operation order, so that truncation to uint8
        gives the same levels as upstream for the same counts.

    Reference:
        ``shot_noise`` in make_imagenet_c.py: ``poisson(x/255 * c) / c``.

    Example:
        >>> img = np.array([[0, 255]], np.uint8)
        >>> shot_noise(img, photons=1e12, rng=np.random.default_rng(0)).round().tolist()
        [[0.0, 255.0]]

    """
    if photons <= 0:
        raise ValueError(f"photons must be > 0, got {photons}")
    lam = image / 255.0
    lam *= photons
    out = rng.poisson(lam) / float(photons)
    out *= 255.0
    return out


def impulse_noise(
    image: U8Image, *, amount: float, salt_vs_pepper: float, rng: np.random.Generator
) -> FloatImage:
    """Set random values to black (pepper) or white (salt).

    Each value (pixel and channel independently) is replaced with probability
    ``amount``; a replaced value is salt with probability ``salt_vs_pepper``.
    This is the distribution of ``skimage.util.random_noise(mode="s&p")`` since
    scikit-image 0.13 (scikit-image#2223: independent "flipped" and "salted"
    Bernoulli masks), drawn here with one uniform number per value.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        amount: Probability that a value is replaced, in [0, 1].
        salt_vs_pepper: Probability that a replaced value becomes 255 rather
            than 0, in [0, 1].
        rng: Source of the noise.

    Returns:
        float32 image on the 0..255 scale, same shape; upstream's levels exactly for
        the same masks (its ``x / 255. * 255`` gives back every uint8 value in float64).

    Reference:
        ``impulse_noise`` in make_imagenet_c.py:
        ``sk.util.random_noise(x/255, mode='s&p', amount=c)``.

    Example:
        >>> img = np.full((1, 3), 7, np.uint8)
        >>> rng = np.random.default_rng(0)
        >>> impulse_noise(img, amount=1.0, salt_vs_pepper=1.0, rng=rng).tolist()
        [[255.0, 255.0, 255.0]]

    """
    if not (0.0 <= amount <= 1.0 and 0.0 <= salt_vs_pepper <= 1.0):
        raise ValueError(
            f"amount and salt_vs_pepper must be in [0, 1], got {amount} and {salt_vs_pepper}"
        )
    u = rng.random(size=image.shape, dtype=np.float32)
    out = image.astype(np.float32)
    pepper_below = np.float32(amount * (1.0 - salt_vs_pepper))
    out[u < np.float32(amount)] = 255.0
    out[u < pepper_below] = 0.0
    return out


def speckle_noise(image: U8Image, *, sigma: float, rng: np.random.Generator) -> FloatImage:
    """Add multiplicative Gaussian noise: ``v + v * N(0, sigma)``.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        sigma: Standard deviation of the relative noise (1.0 = 100 %), >= 0.
        rng: Source of the noise.

    Returns:
        float64 image on the 0..255 scale (unclipped), same shape: upstream's
        ``(x + x * (sigma * z)) * 255`` with ``x = image / 255.`` in float64, exact
        for the same normal draws ``z``.

    Reference:
        ``speckle_noise`` in make_imagenet_c.py.

    Example:
        >>> img = np.zeros((2, 2), np.uint8)
        >>> speckle_noise(img, sigma=0.5, rng=np.random.default_rng(0)).tolist()
        [[0.0, 0.0], [0.0, 0.0]]

    """
    x = image / 255.0
    out = np.multiply(rng.standard_normal(size=image.shape, dtype=np.float32), sigma,
                      dtype=np.float64)
    out *= x
    out += x  # x + x * (sigma * z): + and * commute exactly
    out *= 255.0
    return out


def _tables(
    field: str,
    imagenet: tuple[float, ...],
    tiny: tuple[float, ...],
    cifar: tuple[float, ...],
    mnist: tuple[float, ...],
    inception: tuple[float, ...],
    *,
    mnist_note: str,
    extra: tuple[str, object] | None = None,
) -> dict[str, SeverityTable]:
    """Build the five preset tables of a one-parameter noise (plus a fixed column)."""
    fields = (field,) if extra is None else (field, extra[0])

    def rows(values: tuple[float, ...]) -> tuple[tuple[object, ...], ...]:
        return tuple((v,) if extra is None else (v, extra[1]) for v in values)

    fixed = "" if extra is None else f"{extra[0]}={extra[1]} is the upstream default, fixed. "
    return {
        "imagenet224": SeverityTable(fields, rows(imagenet), _IMAGENET, notes=fixed),
        "tiny64": SeverityTable(fields, rows(tiny), _TINY, notes=fixed),
        "cifar32": SeverityTable(fields, rows(cifar), _CIFAR, notes=fixed),
        "mnist28": SeverityTable(fields, rows(mnist), _MNIST, notes=fixed + mnist_note),
        "imagenet299": SeverityTable(fields, rows(inception), _INCEPTION, notes=fixed),
    }


_MNIST_SAME = "Same constants as ImageNet-C; MNIST-C applies them to the (28, 28) gray digit. "

SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="gaussian_noise",
        family="noise",
        kernel=gaussian_noise,
        tables=_tables(
            "sigma",
            (0.08, 0.12, 0.18, 0.26, 0.38),
            (0.04, 0.08, 0.12, 0.15, 0.18),
            (0.04, 0.06, 0.08, 0.09, 0.10),
            (0.08, 0.12, 0.18, 0.26, 0.38),
            (0.09, 0.13, 0.19, 0.27, 0.40),
            mnist_note=_MNIST_SAME + "Optional in MNIST-C (default severity 5).",
        ),
        stochastic=True,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py gaussian_noise",
    ),
    CorruptionSpec(
        name="shot_noise",
        family="noise",
        kernel=shot_noise,
        tables=_tables(
            "photons",
            (60, 25, 12, 5, 3),
            (250, 100, 50, 30, 15),
            (500, 250, 100, 75, 50),
            (60, 25, 12, 5, 3),
            (50, 20, 10, 5, 3),
            mnist_note=_MNIST_SAME + "MNIST-C benchmark corruption at severity 5.",
        ),
        stochastic=True,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py shot_noise", cost=7,
    ),
    CorruptionSpec(
        name="impulse_noise",
        family="noise",
        kernel=impulse_noise,
        tables=_tables(
            "amount",
            (0.03, 0.06, 0.09, 0.17, 0.27),
            (0.01, 0.02, 0.05, 0.08, 0.14),
            (0.01, 0.02, 0.03, 0.05, 0.07),
            (0.03, 0.06, 0.09, 0.17, 0.27),
            (0.04, 0.07, 0.10, 0.18, 0.28),
            mnist_note=_MNIST_SAME + "MNIST-C benchmark corruption at severity 4.",
            extra=("salt_vs_pepper", 0.5),
        ),
        stochastic=True,
        layout="any",
        suites=frozenset({"imagenet_c", "mnist_c"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py impulse_noise",
    ),
    CorruptionSpec(
        name="speckle_noise",
        family="noise",
        kernel=speckle_noise,
        tables=_tables(
            "sigma",
            (0.15, 0.2, 0.35, 0.45, 0.6),
            (0.15, 0.2, 0.25, 0.3, 0.35),
            (0.06, 0.1, 0.12, 0.16, 0.2),
            (0.15, 0.2, 0.35, 0.45, 0.6),
            (0.16, 0.21, 0.36, 0.46, 0.61),
            mnist_note=_MNIST_SAME + "Optional in MNIST-C (default severity 5).",
        ),
        stochastic=True,
        layout="any",
        suites=frozenset({"imagenet_c_extra", "mnist_c_extra"}),
        reference="Hendrycks & Dietterich 2019, make_imagenet_c.py speckle_noise",
    ),
)
