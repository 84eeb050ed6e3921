"""A user's class-conditional diffusion denoiser as the Control+Shift decoder (EDM Heun sampler).

Control+Shift decodes its latents with EDM's class-conditional CIFAR-10 model: the
latent ``w`` *is* the initial noise, ``x_0 = sigma_max * w``, and the deterministic
second-order (Heun) sampler of Karras et al. 2022 (Algorithm 1, no churn) maps it to an
image, so the map from latent to image is a fixed function and the families' latent
geometry carries over to images unchanged. Whoever holds such a denoiser can run the
paper's shifts through it with ``decoder: {model: <path>}``; benchsmith never
downloads one.

Model interface (the EDM ``net(x, sigma, class_labels)`` call, exported):
``D(x, sigma, class_labels) -> denoised x`` with ``x`` float32 ``(N, C, H, W)`` on
the ``[-1, 1]`` pixel scale, ``sigma`` float32 ``(N,)`` and ``class_labels`` float32
one-hot ``(N, K)``. A TorchScript file (``.pt``/``.ts``, loaded on CPU with
``torch.jit.load``; the ``shift-vae`` extra) or an ONNX file (``.onnx``, inputs in
that order, through ``onnxruntime``) is accepted.

Sampler (EDM ``edm_sampler`` defaults): ``steps`` noise levels
``t_i = (s_max^(1/rho) + i/(steps-1) (s_min^(1/rho) - s_max^(1/rho)))^rho`` and
``t_steps = 0``, Euler step plus Heun correction except on the last step; the state
is float64, the network sees float32. Deterministic: same file, latents and labels ->
same images on the same build.

Reference: Karras, Aittala, Aila, Laine. Elucidating the Design Space of
Diffusion-Based Generative Models. NeurIPS 2022 (Algorithm 1; sigma_min 0.002,
sigma_max 80, rho 7); Friedman & Chowers, Control+Shift, arXiv:2409.07940 (2024).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SAMPLER_DEFAULTS",
    "DiffusionDecoder",
    "check_decoder_spec",
    "file_sha256",
    "heun_sample",
    "load_denoiser",
    "noise_levels",
]

#: EDM sampler settings a ``decoder: {model: ...}`` mapping may override.
SAMPLER_DEFAULTS: dict[str, float] = {
    "steps": 18,
    "sigma_min": 0.002,
    "sigma_max": 80.0,
    "rho": 7.0,
}

Denoiser = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def check_decoder_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``{model: path, steps, sigma_min, sigma_max, rho}`` and fill the defaults.

    Raises:
        ValueError: Unknown key, missing or unreadable model file, bad sampler value.

    """
    extra = sorted(set(spec) - {"model", *SAMPLER_DEFAULTS})
    if extra:
        raise ValueError(
            f"decoder mapping has unknown key(s) {extra}; valid: model, "
            + ", ".join(SAMPLER_DEFAULTS)
        )
    path = spec.get("model")
    if not isinstance(path, str) or not Path(path).is_file():
        raise ValueError(
            f"decoder.model must be the path of a local TorchScript (.pt/.ts) or ONNX (.onnx) "
            f"denoiser file; {path!r} is not a file (benchsmith never downloads models)"
        )
    if Path(path).suffix not in (".pt", ".ts", ".onnx"):
        raise ValueError(f"decoder.model {path!r}: expected a .pt, .ts or .onnx file")
    out: dict[str, Any] = {"model": path, **SAMPLER_DEFAULTS}
    for key in SAMPLER_DEFAULTS:
        if key in spec:
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"decoder.{key} must be a positive number, got {value!r}")
            out[key] = value
    if not isinstance(out["steps"], int) or out["steps"] < 2:
        raise ValueError(f"decoder.steps must be an integer >= 2, got {out['steps']!r}")
    if not out["sigma_min"] < out["sigma_max"]:
        raise ValueError("decoder: need sigma_min < sigma_max")
    return out


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the model enters fingerprints and provenance by content)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_LOADED: dict[tuple[str, str], Denoiser] = {}


def load_denoiser(path: str | Path, sha256: str | None = None) -> Denoiser:
    """Load a TorchScript or ONNX denoiser as ``D(x, sigma, onehot) -> x`` on NumPy float32.

    With ``sha256`` the loaded model is kept per process under (path, content hash).
    """
    key = (str(path), sha256 or "")
    if sha256 is not None and key in _LOADED:
        return _LOADED[key]
    fn = _load(Path(path))
    if sha256 is not None:
        _LOADED[key] = fn
    return fn


def _load(path: Path) -> Denoiser:
    if path.suffix == ".onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        names = [i.name for i in session.get_inputs()]

        def run_onnx(x: np.ndarray, sigma: np.ndarray, onehot: np.ndarray) -> np.ndarray:
            feeds = dict(zip(names, (x, sigma, onehot), strict=True))
            return np.asarray(session.run(None, feeds)[0])

        return run_onnx
    import torch

    net = torch.jit.load(str(path), map_location="cpu").eval()

    def run_torch(x: np.ndarray, sigma: np.ndarray, onehot: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = net(torch.from_numpy(x), torch.from_numpy(sigma), torch.from_numpy(onehot))
        return out.numpy()

    return run_torch


def noise_levels(steps: int, sigma_min: float, sigma_max: float, rho: float) -> np.ndarray:
    """EDM's ``steps`` noise levels from ``sigma_max`` down to ``sigma_min``, then 0.

    Example:
        >>> t = noise_levels(3, 0.002, 80.0, 7.0)
        >>> [round(float(v), 3) for v in t]
        [80.0, 2.515, 0.002, 0.0]

    """
    i = np.arange(steps, dtype=np.float64)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return np.append((a + i / (steps - 1) * (b - a)) ** rho, 0.0)


def heun_sample(
    denoise: Denoiser,
    latents: np.ndarray,
    onehot: np.ndarray,
    *,
    steps: int,
    sigma_min: float,
    sigma_max: float,
    rho: float,
) -> np.ndarray:
    """Deterministic EDM Heun sampling from initial noise ``latents`` (``x_0 = t_0 * latents``).

    Args:
        denoise: ``D(x, sigma, onehot)`` on float32 arrays.
        latents: ``(N, C, H, W)`` standard-normal-scale initial noise.
        onehot: ``(N, K)`` class one-hot.
        steps: Number of noise levels (>= 2).
        sigma_min: Smallest positive noise level.
        sigma_max: Largest noise level.
        rho: Schedule curvature.

    Returns:
        ``(N, C, H, W)`` float64 images on the ``[-1, 1]`` scale (not clipped).

    """
    t = noise_levels(steps, sigma_min, sigma_max, rho)
    labels = np.asarray(onehot, dtype=np.float32)

    def d(x: np.ndarray, sigma: float) -> np.ndarray:
        s = np.full(len(x), sigma, dtype=np.float32)
        return np.asarray(denoise(x.astype(np.float32), s, labels), dtype=np.float64)

    x = np.asarray(latents, dtype=np.float64) * t[0]
    for i in range(steps):
        t_cur, t_next = t[i], t[i + 1]
        slope = (x - d(x, t_cur)) / t_cur
        x_next = x + (t_next - t_cur) * slope
        if i < steps - 1:
            slope_next = (x_next - d(x_next, t_next)) / t_next
            x_next = x + (t_next - t_cur) * (0.5 * slope + 0.5 * slope_next)
        x = x_next
    return x


@dataclass(frozen=True)
class DiffusionDecoder:
    """A user's denoiser behind the Control+Shift decoder interface (latent = initial noise).

    Attributes:
        spec: The validated decoder mapping (model path and sampler settings).
        sha256: SHA-256 of the model file.
        image_shape: ``(H, W)`` or ``(H, W, C)`` of the images (the reference's).
        num_classes: One-hot width.

    """

    spec: dict[str, Any]
    sha256: str
    image_shape: tuple[int, ...]
    num_classes: int

    @property
    def dim(self) -> int:
        """Latent dimension: the number of pixel values ``H * W * C``."""
        return int(np.prod(self.image_shape))

    def describe(self) -> str:
        """One line for provenance."""
        s = self.spec
        return (
            f"user diffusion denoiser {Path(s['model']).name} (sha256 {self.sha256[:16]}), EDM "
            f"Heun sampler, {s['steps']} steps, sigma {s['sigma_min']}..{s['sigma_max']}, "
            f"rho {s['rho']}"
        )

    def decode(self, label: int, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sample images of class ``label`` from initial noise ``w`` ``(N, dim)`` (``rng`` unused).

        Returns:
            ``(N, H * W * C)`` pixel vectors on the 0..1 scale, HWC order.

        """
        del rng  # the sampler is deterministic: the image is a function of the latent
        h, wd = self.image_shape[:2]
        c = self.image_shape[2] if len(self.image_shape) == 3 else 1
        lat = np.asarray(w, dtype=np.float64).reshape(len(w), c, h, wd)
        onehot = np.zeros((len(w), self.num_classes), dtype=np.float32)
        onehot[:, label] = 1.0
        x = heun_sample(
            load_denoiser(self.spec["model"], self.sha256),
            lat,
            onehot,
            steps=int(self.spec["steps"]),
            sigma_min=float(self.spec["sigma_min"]),
            sigma_max=float(self.spec["sigma_max"]),
            rho=float(self.spec["rho"]),
        )
        pixels = np.clip(x * 0.5 + 0.5, 0.0, 1.0)
        return pixels.transpose(0, 2, 3, 1).reshape(len(w), -1)
