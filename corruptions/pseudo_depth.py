"""Built-in classical pseudo-depth for datasets that ship no depth.

The 3DCC depth corruptions need a depth map. When a dataset has none and no
depth network is configured (:mod:`corruptions.depth_model`), benchsmith uses
this hand-built estimate from three classical monocular cues:

1. **Vertical-position prior** (ground-plane assumption): lower rows are
   nearer, upper rows farther (Torralba & Oliva 2002, "Depth estimation from
   image structure").
2. **Foreground cue**: pixels whose colour differs from the image border (the
   background prior of saliency methods, Wei et al. 2012 "Geodesic saliency
   using background priors") and that lie near the centre (photographer's
   framing bias) are taken as a nearer foreground.
3. **Edge-aware smoothing**: the combined score is smoothed with a guided
   filter (He, Sun & Tang 2010) steered by the image's luma, so depth edges
   follow image edges.

The result is **rank-normalised**: each pixel's value is its rank among all
pixels divided by ``H*W - 1`` (ties share their mean rank), so the map is in
[0, 1], unitless, and only the *order* carries information (0 = nearest pixel,
1 = farthest). The depth kernels (:mod:`corruptions.depth`) accept any positive
scale and normalise it themselves.

Measured quality: Spearman rank correlation with the Middlebury ground-truth
depth of ``skimage.data.stereo_motorcycle`` (224 px high) is reported and
checked in ``tests/corruptions/test_pseudo_depth.py``. It is a weak prior, not
a depth network; record :data:`PSEUDO_DEPTH_METHOD` in provenance.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from corruptions.image import U8Image, check_image

__all__ = ["PSEUDO_DEPTH_METHOD", "PSEUDO_DEPTH_VERSION", "pseudo_depth"]

#: Version of the algorithm below; bump it whenever its output changes.
PSEUDO_DEPTH_VERSION = "1"
#: Name recorded in provenance next to every corruption computed from it.
PSEUDO_DEPTH_METHOD = (
    f"benchsmith-pseudo-depth-v{PSEUDO_DEPTH_VERSION}: 0.6 vertical prior + 0.4 foreground "
    "(border-colour distance, centre prior), guided filter, rank-normalised [0,1], 1=farthest"
)

_W_VERTICAL = 0.6
_W_FOREGROUND = 0.4
_GUIDED_EPS = 1e-3  # guided-filter regulariser, for a luma guide in [0, 1]


def _box(x: NDArray[np.float32], radius: int) -> NDArray[np.float32]:
    k = 2 * radius + 1
    return cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT)


def _guided_filter(
    guide: NDArray[np.float32], src: NDArray[np.float32], radius: int, eps: float
) -> NDArray[np.float32]:
    """Gray-guide guided filter (He et al. 2010), box windows of side ``2r+1``."""
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + np.float32(eps))
    b = mean_p - a * mean_i
    return _box(a, radius) * guide + _box(b, radius)


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def pseudo_depth(image: U8Image) -> NDArray[np.float32]:
    """Estimate a rank-normalised relative depth map from one image.

    Args:
        image: uint8 image, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (alpha ignored);
            not modified.

    Returns:
        float32 array (H, W) in [0, 1]: each pixel's depth rank (0-based, ties
        get their mean rank) divided by ``H*W - 1``; unitless, bigger = farther,
        0 and 1 are reached unless the extremes are tied.
        Deterministic: the same image always gives the same bytes.

    Reference:
        Cues from Torralba & Oliva 2002 (vertical layout), Wei et al. 2012
        (background prior), He et al. 2010 (guided filter); combination and
        weights are benchsmith's own (:data:`PSEUDO_DEPTH_METHOD`).

    Example:
        >>> img = np.zeros((4, 3, 3), np.uint8)
        >>> d = pseudo_depth(img)  # featureless: only the vertical prior, rows tie
        >>> d.shape, d.dtype
        ((4, 3), dtype('float32'))
        >>> [round(float(v), 3) for v in d[:, 0]]  # top farthest, ties: mean rank
        [0.909, 0.636, 0.364, 0.091]

    """
    check_image(image)
    rgb = image[..., :3] if image.ndim == 3 else image[..., None]
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    side = min(h, w)

    rows = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None]
    vertical = np.broadcast_to(rows, (h, w))  # 1 at the top (far), 0 at the bottom (near)

    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = max(1, side // 16)
    border = np.concatenate(
        [lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3),
         lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)]
    )
    colour = np.linalg.norm(lab - np.median(border, axis=0), axis=2)
    scale = float(np.percentile(colour, 95))
    colour = np.clip(colour / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(colour)
    yy = (np.arange(h, dtype=np.float32)[:, None] - (h - 1) / 2) / (h / 2)
    xx = (np.arange(w, dtype=np.float32)[None, :] - (w - 1) / 2) / (w / 2)
    centre = 1.0 - np.clip(np.sqrt(xx**2 + yy**2) / np.sqrt(2.0), 0.0, 1.0)
    foreground = 0.5 * colour + 0.5 * centre
    foreground = cv2.GaussianBlur(foreground.astype(np.float32), (0, 0), max(0.5, side / 64))

    score = (_W_VERTICAL * vertical + _W_FOREGROUND * (1.0 - _unit(foreground))).astype(np.float32)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    smooth = _guided_filter(luma, score, max(1, round(side / 28)), _GUIDED_EPS)

    ranks = rankdata(smooth.ravel(), method="average").reshape(h, w)
    n = h * w
    return ((ranks - 1.0) / max(n - 1, 1)).astype(np.float32)
