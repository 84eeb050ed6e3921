"""The compiled kernels of ``corruptions._jit`` give scipy's bytes, and the corruptions
that use them give the same bytes as on their scipy/numpy paths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from corruptions import _jit, apply
from corruptions.rng import derive_rng


def test_numba_is_installed():
    # a dependency: without it every build still gives the same bytes, only slower
    assert _jit.AVAILABLE


def _scipy(plane, coords):
    return map_coordinates(plane, coords, output=np.float32, order=1, mode="reflect")


def test_map_coordinates_reflect_is_scipys_bytes_past_every_edge():
    """Random planes and coordinates from inside to hundreds of periods outside, with
    exact integers, halves and exact multiples of the period (scipy's 1e-15 guard)."""
    rng = np.random.default_rng(11)
    for _ in range(400):
        n, m = (int(v) for v in rng.integers(1, 40, 2))
        plane = rng.random((n, m)).astype(np.float32)
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        scale = float(rng.choice([0.1, 1.0, 3.0, 100.0]))
        coords = np.stack([rng.uniform(-scale * n, (1 + scale) * n, (h, w)),
                           rng.uniform(-scale * m, (1 + scale) * m, (h, w))])
        flat = coords.reshape(-1)
        flat[::7] = np.round(flat[::7] * 2) / 2
        flat[3::11] = np.round(flat[3::11])
        flat[5::13] = -2 * np.array([n, m]).repeat(flat[5::13].size // 2 + 1)[: flat[5::13].size]
        got = _jit.map_coordinates_reflect(plane, coords)
        assert got.dtype == np.float32 and got.shape == (h, w)
        assert got.tobytes() == _scipy(plane, coords).tobytes(), (n, m)


def test_map_coordinates_reflect_non_finite_coordinates():
    plane = np.arange(12, dtype=np.float32).reshape(3, 4)
    coords = np.array([[[np.nan, 1.0, 0.5]], [[1.0, np.nan, 0.25]]])
    np.testing.assert_array_equal(_jit.map_coordinates_reflect(plane, coords),
                                  _scipy(plane, coords))


@pytest.mark.parametrize("preset,n", [("imagenet224", 224), ("cifar32", 32), ("tiny64", 64)])
def test_elastic_transform_same_bytes_on_both_paths(preset, n, monkeypatch):
    rng = np.random.default_rng(n)
    img = rng.integers(0, 256, (n, n, 3), dtype=np.uint8)
    compiled = [apply("elastic_transform", img, severity=s, preset=preset,
                      rng=derive_rng(0, "e", "elastic_transform", s)) for s in (1, 3, 5)]
    monkeypatch.setattr(_jit, "AVAILABLE", False)
    reference = [apply("elastic_transform", img, severity=s, preset=preset,
                       rng=derive_rng(0, "e", "elastic_transform", s)) for s in (1, 3, 5)]
    for a, b in zip(compiled, reference, strict=True):
        assert a.tobytes() == b.tobytes()


def test_gaussian_filter_is_scipys_bytes():
    """``_filters.gaussian_filter`` (compiled) and ``reflect_gaussian``'s direct route
    against scipy's ``gaussian_filter`` on random images: 2-D and 3-D, float32 and
    float64, one-pixel lines, radii beyond the image (nearest), sigma 0 on either axis."""
    from scipy import ndimage

    from corruptions._filters import gaussian_filter, reflect_gaussian

    rng = np.random.default_rng(5)
    for _ in range(150):
        nd = int(rng.choice([2, 3]))
        shape = tuple(int(v) for v in rng.integers(1, 50, 2))
        shape += (int(rng.choice([1, 3])),) if nd == 3 else ()
        dtype = rng.choice([np.float32, np.float64])
        x = (rng.random(shape) * rng.choice([1.0, 255.0])).astype(dtype)
        sy, sx = (float(v) for v in rng.choice([0.0, 0.4, 1.0, 1.5, 3.0, 12.0], 2))
        want = ndimage.gaussian_filter(x, (sy, sx) + (0.0,) * (nd - 2), mode="nearest",
                                       truncate=4.0, output=x.dtype)
        got = gaussian_filter(x, sy, sx)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (shape, sy, sx)
        if nd == 2:
            field = x.astype(np.float64)
            s = float(rng.choice([0.5, 2.0, 8.0]))
            want = ndimage.gaussian_filter(field, s, mode="reflect", truncate=3.0)
            assert reflect_gaussian(field, s, 3.0).tobytes() == want.tobytes(), (shape, s)


def test_compiled_correlation_refuses_what_it_does_not_reproduce():
    x = np.zeros((4, 6))
    with pytest.raises(ValueError, match="symmetric"):
        _jit.gaussian_rows(x, np.empty_like(x), np.array([0.2, 0.5, 0.3]), reflect=False)
    with pytest.raises(ValueError, match="radius"):
        _jit.gaussian_columns(x, np.empty_like(x), np.full(15, 1 / 15), 1, reflect=True)
