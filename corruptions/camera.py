"""Camera family of the 3D Common Corruptions: low light, ISO noise, colour quantization.

These three 3DCC corruptions need only the RGB image. The kernels follow the
formulas of the paper's generation script (EPFL-VILAB/3DCommonCorruptions
``create_3dcc/create_non3d.py``), re-implemented here; the parameters are the
table "3D Common Corruptions" of ``shared/reference/corruption-params.md``.

* ``low_light``: stretch to ``[0, c]`` with gamma 2 (MATLAB ``imadjust``), then
  Poisson-Gaussian sensor noise with fixed 120 photons and sigma 0.018
  (the script's ``poisson_gaussian_noise`` at its severity 3).
* ``iso_noise``: Poisson noise with 25 photons per unit intensity, then
  Gaussian read noise whose sigma grows with severity (0.7 x the ImageNet-C
  Gaussian-noise sigmas).
* ``color_quantization``: per-channel posterize to ``bits`` bits
  (``PIL.ImageOps.posterize``: keep the top ``bits`` bits of each value).

Every kernel is element-wise over channels (``layout="any"``) and returns values
on the 0..255 scale; the registry's ``apply`` clips and truncates, as the
script's final ``np.uint8`` does. Noise kernels compute in float64 in the
script's operation order, so the same draws give the same uint8 levels.

Reference:
    O. F. Kar, T. Yeo, A. Atanov, A. Zamir, "3D Common Corruptions and Data
    Augmentation", CVPR 2022.
"""

from __future__ import annotations

import numpy as np

from corruptions.image import FloatImage, U8Image
from corruptions.registry import PRESETS, CorruptionSpec, SeverityTable

__all__ = ["low_light", "iso_noise", "color_quantization", "SPECS"]

_SOURCE = "Kar et al. CVPR 2022, EPFL-VILAB/3DCommonCorruptions create_3dcc/create_non3d.py"


def low_light(
    image: U8Image,
    *,
    gain: float,
    gamma: float,
    photons: float,
    read_noise: float,
    rng: np.random.Generator,
) -> FloatImage:
    """Darken an image with a gamma stretch and add Poisson-Gaussian sensor noise.

    With ``x`` the image in [0, 1] and ``lo``, ``hi`` its minimum and maximum
    over all pixels and channels: ``y = gain * ((x - lo) / (hi - lo)) ** gamma``,
    then ``y = clip(Poisson(photons * y) / photons, 0, 1)`` and
    ``y = clip(y + N(0, read_noise), 0, 1)``. A constant image (``hi == lo``)
    is stretched to 0 (the script divides by zero there).

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        gain: Brightness of the brightest value after the stretch, in (0, 1].
        gamma: Stretch exponent (2 in the paper), > 0.
        photons: Expected photon count at full intensity (> 0).
        read_noise: Gaussian noise sigma, fraction of full scale, >= 0.
        rng: Source of the Poisson draws (first, whole array) and the Gaussian
            draws (second, whole array).

    Returns:
        float64 image on the 0..255 scale, same shape.

    Reference:
        ``low_light`` and ``poisson_gaussian_noise(severity=3)`` in
        create_non3d.py (``imadjust(x, min, max, 0, c, gamma=2)``).

    Example:
        >>> img = np.array([[0, 255]], np.uint8)
        >>> out = low_light(img, gain=0.5, gamma=2.0, photons=1e12, read_noise=0.0,
        ...                 rng=np.random.default_rng(0))
        >>> out.round(1).tolist()
        [[0.0, 127.5]]

    """
    if photons <= 0:
        raise ValueError(f"photons must be > 0, got {photons}")
    x = image / 255.0
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo
    stretched = ((x - lo) / span) ** gamma * gain if span > 0 else np.zeros_like(x)
    scaled = stretched * 255.0
    y = np.clip(rng.poisson((scaled / 255.0) * photons) / photons, 0.0, 1.0) * 255.0
    y = y / 255.0
    return np.clip(y + rng.normal(size=y.shape, scale=read_noise), 0.0, 1.0) * 255.0


def iso_noise(
    image: U8Image, *, photons: float, sigma: float, rng: np.random.Generator
) -> FloatImage:
    """Add photon (Poisson) noise and high-ISO electronic (Gaussian) noise.

    With ``x`` the image in [0, 1]: ``y = clip(Poisson(photons * x) / photons, 0, 1)``
    then ``y = clip(y + N(0, sigma), 0, 1)``.

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        photons: Expected photon count at full intensity (25 in the paper), > 0.
        sigma: Gaussian noise sigma, fraction of full scale, >= 0.
        rng: Source of the Poisson draws (first) and Gaussian draws (second).

    Returns:
        float64 image on the 0..255 scale, same shape.

    Reference:
        ``iso_noise`` in create_non3d.py (sigma = 0.7 x ImageNet-C Gaussian sigma).

    Example:
        >>> img = np.array([[0, 255]], np.uint8)
        >>> iso_noise(img, photons=1e12, sigma=0.0, rng=np.random.default_rng(0)).round().tolist()
        [[0.0, 255.0]]

    """
    if photons <= 0:
        raise ValueError(f"photons must be > 0, got {photons}")
    x = image / 255.0
    y = np.clip(rng.poisson(x * photons) / photons, 0.0, 1.0) * 255.0
    y = y / 255.0
    return np.clip(y + rng.normal(size=y.shape, scale=sigma), 0.0, 1.0) * 255.0


def color_quantization(image: U8Image, *, bits: int) -> U8Image:
    """Posterize each channel to ``bits`` bits (keep the top bits, zero the rest).

    Args:
        image: uint8 image, (H, W) or (H, W, C); not modified.
        bits: Bits kept per channel, integer in 1..8.

    Returns:
        uint8 image, same shape; equal to ``PIL.ImageOps.posterize(img, bits)``.

    Reference:
        ``color_quant`` in create_non3d.py (``bits = 6 - severity``).

    Example:
        >>> color_quantization(np.array([[255, 130, 7]], np.uint8), bits=1).tolist()
        [[128, 128, 0]]

    """
    if not 1 <= int(bits) <= 8:
        raise ValueError(f"bits must be an integer in 1..8, got {bits}")
    mask = np.uint8((0xFF << (8 - int(bits))) & 0xFF)
    return image & mask


def _tables(
    fields: tuple[str, ...], rows: tuple[tuple[float, ...], ...], notes: str
) -> dict[str, SeverityTable]:
    # The 3DCC script has one parameter set; none is in pixels, so every preset
    # (the paper ran them on 512 px Taskonomy and 224 px ImageNet) shares it.
    table = SeverityTable(fields=fields, rows=rows, source=_SOURCE, notes=notes)
    return dict.fromkeys(PRESETS, table)


SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="low_light",
        family="camera",
        kernel=low_light,
        tables=_tables(
            ("gain", "gamma", "photons", "read_noise"),
            tuple((c, 2.0, 120.0, 0.018) for c in (0.60, 0.50, 0.40, 0.30, 0.20)),
            "gain = c of low_light; photons = 10 x 12 and read_noise = 0.1 x 0.18 are "
            "poisson_gaussian_noise at its severity 3, fixed for every low_light severity. "
            "Constant images stretch to 0 (upstream divides by zero).",
        ),
        stochastic=True,
        layout="any",
        suites=frozenset({"3dcc"}),
        reference="Kar et al. 2022, create_non3d.py low_light",
    ),
    CorruptionSpec(
        name="iso_noise",
        family="camera",
        kernel=iso_noise,
        tables=_tables(
            ("photons", "sigma"),
            tuple((25.0, s) for s in (0.056, 0.084, 0.126, 0.182, 0.266)),
            "sigma = 0.7 x (.08, .12, .18, .26, .38), the ImageNet-C Gaussian-noise sigmas; "
            "photons fixed at 25 (ISO does not change photon noise).",
        ),
        stochastic=True,
        layout="any",
        suites=frozenset({"3dcc"}),
        reference="Kar et al. 2022, create_non3d.py iso_noise",
    ),
    CorruptionSpec(
        name="color_quantization",
        family="camera",
        kernel=color_quantization,
        tables=_tables(
            ("bits",),
            ((5,), (4,), (3,), (2,), (1,)),
            "bits = 6 - severity, PIL.ImageOps.posterize (upstream key color_quant).",
        ),
        stochastic=False,
        layout="any",
        suites=frozenset({"3dcc"}),
        reference="Kar et al. 2022, create_non3d.py color_quant",
    ),
)
