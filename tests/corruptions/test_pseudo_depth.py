"""Built-in pseudo-depth: measured against Middlebury ground truth, deterministic, well-formed.

Ground truth: ``skimage.data.stereo_motorcycle`` disparity (depth = 1 / disparity;
inf disparities are excluded). Measured Spearman rank correlations when this
test was written (pseudo-depth v1): 0.699 on the whole frame resized to 224
rows, 0.561 on its 224 x 224 centre crop, 0.66 for the vertical prior alone
on the whole frame. The thresholds below sit under those with some margin;
they guard against regressions, they do not claim a depth network's quality.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from corruptions.pseudo_depth import PSEUDO_DEPTH_METHOD, PSEUDO_DEPTH_VERSION, pseudo_depth


@pytest.fixture(scope="module")
def motorcycle224():
    import skimage.data

    left, _, disp = skimage.data.stereo_motorcycle()
    valid = np.isfinite(disp) & (disp > 0)
    h, w = left.shape[:2]
    width = round(w * 224 / h)
    img = cv2.resize(left, (width, 224), interpolation=cv2.INTER_AREA)
    depth = np.where(valid, 1.0 / np.where(valid, disp, 1.0), np.nan).astype(np.float32)
    depth = cv2.resize(depth, (width, 224), interpolation=cv2.INTER_NEAREST)
    return img, depth


def _rho(pred, depth):
    ok = np.isfinite(depth)
    return float(spearmanr(pred[ok], depth[ok]).statistic)


def test_rank_correlation_with_ground_truth(motorcycle224):
    img, depth = motorcycle224
    full = _rho(pseudo_depth(img), depth)
    x0 = (img.shape[1] - 224) // 2
    crop = _rho(pseudo_depth(np.ascontiguousarray(img[:, x0 : x0 + 224])), depth[:, x0 : x0 + 224])
    print(f"pseudo-depth Spearman rho vs Middlebury GT: full {full:.3f}, centre crop {crop:.3f}")
    assert full > 0.6
    assert crop > 0.45


def test_deterministic_and_input_untouched(motorcycle224):
    img, _ = motorcycle224
    before = img.copy()
    a, b = pseudo_depth(img), pseudo_depth(img)
    assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(img, before)


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28), (28, 28, 1), (64, 48, 4), (224, 224, 3)])
def test_shape_range_and_rank_normalisation(shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    d = pseudo_depth(img)
    assert d.shape == shape[:2] and d.dtype == np.float32
    assert d.min() == 0.0 and d.max() == 1.0
    # Rank-normalised: values are (approximately uniformly) spread over [0, 1].
    assert abs(float(np.median(d)) - 0.5) < 0.02


def test_vertical_prior_on_a_flat_image():
    d = pseudo_depth(np.full((40, 40, 3), 90, np.uint8))
    assert d[:10].mean() > d[-10:].mean() + 0.5


def test_rejects_non_images():
    with pytest.raises(TypeError):
        pseudo_depth(np.zeros((8, 8, 3), np.float32))


def test_provenance_constants():
    assert PSEUDO_DEPTH_VERSION in PSEUDO_DEPTH_METHOD
    assert "rank" in PSEUDO_DEPTH_METHOD
