"""Depth from a user-supplied network (ONNX or TorchScript), for the 3DCC depth corruptions.

benchsmith never downloads weights. Point :func:`load_depth_model` at a model
file you already have (e.g. a MiDaS / DPT / Depth-Anything export) and call the
returned :class:`DepthModel` on uint8 images; the result is a depth map in the
convention of :mod:`corruptions.depth` (float32 (H, W), larger = farther).

Runtimes are optional and imported only when a model is loaded:

* ``.onnx`` -> ``onnxruntime`` (extra ``benchsmith[depth-onnx]``), CPU provider
  unless others are requested.
* ``.pt`` / ``.pth`` / ``.ts`` -> ``torch.jit.load`` of a TorchScript module
  (extra ``benchsmith[depth-torch]``). Pickled ``nn.Module`` files are refused:
  unpickling runs arbitrary code; script or trace the model first.

**Pre-processing**: RGB resized (bilinear) to ``input_size``, scaled to [0, 1],
normalised by ``mean`` / ``std``, NCHW float32, batch of one. The network's
first output is squeezed to (h, w) and resized back to the image (bilinear).

**Output kinds**: ``"depth"`` is used as is (clipped at 0). ``"inverse_depth"``
(relative disparity, what MiDaS-style networks predict) is converted like the
3DCC ImageNet recipe: min-max normalised to [0, 128] (a 16-bit PNG divided by
512), then ``depth = min(0.5, 1 / (x + 1e-6))`` - see :func:`inverse_depth_to_depth`.

Record :attr:`DepthModel.method` (runtime, file name, SHA-256 prefix, output kind)
in provenance next to every corruption computed from it.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from corruptions.image import U8Image, check_image

__all__ = ["DepthModel", "load_depth_model", "inverse_depth_to_depth", "OutputKind"]

OutputKind = Literal["depth", "inverse_depth"]
_EXTRAS = {"onnx": ("onnxruntime", "depth-onnx"), "torch": ("torch", "depth-torch")}
_SUFFIX_KIND = {".onnx": "onnx", ".pt": "torch", ".pth": "torch", ".ts": "torch"}


def _import_runtime(kind: str) -> Any:
    module, extra = _EXTRAS[kind]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"a {kind} depth model needs the '{module}' package, which is not installed; "
            f"install the extra: pip install 'benchsmith[{extra}]' (or pip install {module}), "
            "or use the built-in corruptions.pseudo_depth instead"
        ) from err


def inverse_depth_to_depth(inverse: np.ndarray) -> NDArray[np.float32]:
    """Convert relative inverse depth to depth the way 3DCC does for ImageNet.

    ``x = 128 * (inv - min) / (max - min)`` (the 16-bit PNG of MiDaS output
    divided by 512), then ``depth = min(0.5, 1 / (x + 1e-6))``.

    Args:
        inverse: (H, W) relative inverse depth, larger = nearer, any affine scale.

    Returns:
        float32 (H, W) in [1/128, 0.5], larger = farther. A constant map gives 0.5.

    Reference:
        ``RGBAndDepthDataset`` in create_3dcc/dataset.py (the ImageNet branch).

    Example:
        >>> [round(float(v), 4) for v in inverse_depth_to_depth(np.array([[0.0, 1.0, 2.0]]))[0]]
        [0.5, 0.0156, 0.0078]

    """
    inv = np.asarray(inverse, dtype=np.float64)
    finite = np.isfinite(inv)
    if not finite.any():
        raise ValueError("inverse depth has no finite value")
    lo, hi = float(inv[finite].min()), float(inv[finite].max())
    x = np.where(finite, inv, lo)
    x = 128.0 * (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return np.minimum(0.5, 1.0 / (x + 1e-6)).astype(np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class DepthModel:
    """A loaded depth network; call it on a uint8 image to get depth (H, W).

    Attributes:
        path: The model file.
        kind: ``"onnx"`` or ``"torch"``.
        output: What the network predicts (``"depth"`` or ``"inverse_depth"``).
        input_size: Network input (height, width), pixels.
        mean: Per-channel mean subtracted after scaling to [0, 1].
        std: Per-channel divisor after the mean.
        sha256: Hex digest of the file.

    """

    path: Path
    kind: str
    output: OutputKind
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sha256: str
    _run: Any = field(repr=False)

    @property
    def method(self) -> str:
        """Provenance string: runtime, file name, SHA-256 prefix and output kind."""
        return f"{self.kind}:{self.path.name}:sha256={self.sha256[:16]}:{self.output}"

    def preprocess(self, image: U8Image) -> NDArray[np.float32]:
        """Turn a uint8 image into the network's NCHW float32 input."""
        check_image(image)
        rgb = image[..., :3] if image.ndim == 3 else image[..., None]
        if rgb.shape[2] == 1:
            rgb = np.repeat(rgb, 3, axis=2)
        h, w = self.input_size
        x = cv2.resize(np.ascontiguousarray(rgb), (w, h), interpolation=cv2.INTER_LINEAR)
        x = (x.astype(np.float32) / 255.0 - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def __call__(self, image: U8Image) -> NDArray[np.float32]:
        """Predict depth for one image.

        Args:
            image: uint8 image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).

        Returns:
            float32 (H, W), larger = farther.

        """
        pred = np.asarray(self._run(self.preprocess(image)), dtype=np.float32)
        pred = np.squeeze(pred)
        if pred.ndim != 2:
            raise ValueError(
                f"depth model {self.path.name} returned shape {pred.shape}; expected one "
                "(h, w) map (possibly with singleton batch/channel axes)"
            )
        pred = cv2.resize(pred, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        if self.output == "inverse_depth":
            return inverse_depth_to_depth(pred)
        return np.maximum(pred, 0.0).astype(np.float32)


def load_depth_model(
    path: str | Path,
    *,
    output: OutputKind,
    input_size: tuple[int, int] = (384, 384),
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
    providers: Sequence[str] = ("CPUExecutionProvider",),
    device: str = "cpu",
) -> DepthModel:
    """Load a local ONNX or TorchScript depth network (never downloads).

    Args:
        path: Model file: ``.onnx`` (onnxruntime) or ``.pt``/``.pth``/``.ts`` (TorchScript).
        output: ``"inverse_depth"`` (MiDaS/DPT-style disparity) or ``"depth"``.
        input_size: Network input (height, width) in pixels; MiDaS DPT uses 384 x 384.
        mean: Normalisation mean per channel (on the [0, 1] scale).
        std: Normalisation std per channel.
        providers: onnxruntime execution providers, in order of preference.
        device: torch device for TorchScript models.

    Returns:
        A :class:`DepthModel`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Unknown file type or output kind.
        ImportError: The runtime is not installed (the message names the extra).

    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"depth model file not found: {p} (benchsmith never downloads models)"
        )
    kind = _SUFFIX_KIND.get(p.suffix.lower())
    if kind is None:
        raise ValueError(
            f"unknown depth model type {p.suffix!r}; use one of {sorted(_SUFFIX_KIND)}"
        )
    if output not in ("depth", "inverse_depth"):
        raise ValueError(f"output must be 'depth' or 'inverse_depth', got {output!r}")
    runtime = _import_runtime(kind)
    if kind == "onnx":
        session = runtime.InferenceSession(str(p), providers=list(providers))
        name = session.get_inputs()[0].name

        def run(x: NDArray[np.float32]) -> np.ndarray:
            return session.run(None, {name: x})[0]

    else:
        module = runtime.jit.load(str(p), map_location=device).eval()

        def run(x: NDArray[np.float32]) -> np.ndarray:
            with runtime.inference_mode():
                out = module(runtime.from_numpy(x).to(device))
            out = out[0] if isinstance(out, (tuple, list)) else out
            return out.detach().float().cpu().numpy()

    return DepthModel(
        path=p, kind=kind, output=output, input_size=(int(input_size[0]), int(input_size[1])),
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])), sha256=_sha256(p), _run=run,
    )
