"""Occlusion in the 3DCC motion blurs (``corruptions.motion3d``), on a synthetic RGB-D scene.

A red square (depth 1) in front of a textured grey plane (depth 4). With a
two-frame path (``path_frames = n_frames = 2``: times 0 and 1) the output is the
mean of the first frame (the image) and the last, so the last frame is
``2 * out - image`` and can be checked pixel by pixel: the moved square must be
red all over (near in front of far), the plane must move by its own, smaller
parallax, and the background the square uncovers must be filled with plane-like
values (no zeros, no NaN, no red). The previous layered blur
(:mod:`layered_motion_baseline`) is run through the same checks and must fail
them, so the checks can fail.
"""

from __future__ import annotations

import layered_motion_baseline as baseline
import numpy as np
import pytest

from corruptions import apply, motion3d
from corruptions.depth import xy_motion_blur, z_motion_blur

RED = np.array([250.0, 40.0, 40.0])
SIDE, LO, HI = 64, 22, 42  # square rows/cols LO:HI


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    grey = rng.integers(40, 161, (SIDE, SIDE), dtype=np.uint8)  # far texture in 40..160
    img = np.repeat(grey[..., None], 3, axis=2)
    img[LO:HI, LO:HI] = RED.astype(np.uint8)
    depth = np.full((SIDE, SIDE), 4.0)
    depth[LO:HI, LO:HI] = 1.0
    return img, depth


def _last_frame_xy(kernel, img, depth, u):
    # Two frames, |u| = u px for the square (the nearest depth), v = 0.
    out = kernel(img, n_frames=2, path_frames=2, u_min=u, u_max=u, v_max=0.0, n_layers=6,
                 depth=depth, rng=np.random.default_rng(1))
    sign = -1.0 if np.random.default_rng(1).integers(2) else 1.0
    return 2.0 * out.astype(np.float64) - img, int(sign * u)


def _xy_violations(last, img, shift):
    """Count the pixels of the last frame that break occlusion (0 = all fine)."""
    far_shift = shift // 4  # the plane at depth 4 moves a quarter as far
    cols = np.arange(SIDE)
    moved = (cols - shift >= LO) & (cols - shift < HI)  # columns the square covers now
    square_now = np.zeros((SIDE, SIDE), bool)
    square_now[LO:HI] = moved[None, :]
    ring = np.zeros_like(square_now)  # 2 px feather ring around the moved square
    ring[LO - 2 : HI + 2] = ((cols - shift >= LO - 2) & (cols - shift < HI + 2))[None, :]
    was = np.zeros_like(square_now)
    was[LO:HI, LO:HI] = True
    uncovered = was & ~ring
    plane = ~ring & ~was
    plane[:, :4] = plane[:, -4:] = False  # reflected border
    want_plane = np.roll(img.astype(np.float64), far_shift, axis=1)
    bad = {
        "moved square not red": int((np.abs(last[square_now] - RED).max(axis=1) > 0.5).sum()),
        "uncovered not plane-like": int((~np.isfinite(last[uncovered]).all(axis=1)
                                         | (last[uncovered] < 39).any(axis=1)
                                         | (last[uncovered] > 161).any(axis=1)).sum()),
        "plane not at its parallax": int((np.abs(last[plane] - want_plane[plane]).max(axis=1)
                                          > 0.5).sum()),
    }
    return bad


def test_xy_near_square_occludes_the_plane_and_holes_are_filled():
    img, depth = _scene()
    before = img.copy()
    last, shift = _last_frame_xy(xy_motion_blur, img, depth, 8.0)
    np.testing.assert_array_equal(img, before)  # input untouched
    assert np.isfinite(last).all() and last.min() > 30  # no holes left at 0 anywhere
    bad = _xy_violations(last, img, shift)
    print("occlusion-aware:", bad)
    assert bad == {k: 0 for k in bad}, bad


def test_xy_old_layered_blur_fails_the_occlusion_checks():
    img, depth = _scene()
    last, shift = _last_frame_xy(baseline.xy_motion_blur, img, depth, 8.0)
    bad = _xy_violations(last, img, shift)
    print("old layered:", bad)
    # Far pixels use the far level's shift, so the far texture shows through where the
    # square has moved to (its leading strip is 8 - 2 = 6 columns of 20 rows).
    assert bad["moved square not red"] >= 6 * (HI - LO) - 10, bad


def _last_frame_z(kernel, img, depth):
    out = kernel(img, n_frames=2, path_frames=2, zoom_min=0.5, zoom_max=0.5, jitter=0.0,
                 n_layers=6, depth=depth, rng=np.random.default_rng(2))
    return 2.0 * out.astype(np.float64) - img


@pytest.mark.parametrize("which", ("new", "old"))
def test_z_near_square_is_magnified_on_top(which):
    # Crop scale 0.5 at the path's end: the square (nearest depth) is magnified 2x about
    # the centre (31.5, 31.5) in the last frame: rows/cols 12.5..51.5. Its interior must be
    # red (the plane, magnified only 1/(1 - 0.25 * 0.5) = 1.14x, stays behind it).
    img, depth = _scene()
    kernel = z_motion_blur if which == "new" else baseline.z_motion_blur
    last = _last_frame_z(kernel, img, depth)
    inner = last[14:50, 14:50].reshape(-1, 3)
    red = float((np.abs(inner - RED).max(axis=1) <= 0.5).mean())
    print(f"{which}: magnified square interior red on {red:.1%} of its pixels")
    assert np.isfinite(last).all() and last.min() > 30
    if which == "new":
        assert red == 1.0
    else:
        assert red < 0.5  # zoomed out and mixed with the plane


def test_severity_path_keeps_the_square_interior_and_no_holes():
    # The registry path at every severity: the square's interior (never reached by the
    # plane within the travel) keeps its colour; nothing is 0 or non-finite.
    img, depth = _scene()
    for name in ("xy_motion_blur", "z_motion_blur"):
        for s in (1, 5):
            out = apply(name, img, severity=s, preset="tiny64", rng=np.random.default_rng(s),
                        depth=depth)
            assert out.shape == img.shape and out.dtype == np.uint8
            assert out.min() >= 30, (name, s)
    out = xy_motion_blur(img, n_frames=60, path_frames=60, u_min=4.0, u_max=4.0, v_max=0.0,
                         n_layers=6, depth=depth, rng=np.random.default_rng(0))
    np.testing.assert_allclose(out[LO + 1 : HI - 1, LO + 5 : HI - 5], np.broadcast_to(
        RED, (HI - LO - 2, HI - LO - 10, 3)), atol=0.01)


def test_layers_and_frame_times():
    img, depth = _scene()
    layers = motion3d.split_layers(img, depth.astype(np.float32), 6)
    assert [lay.depth for lay in layers] == [4.0, 1.0]  # far to near, ties merged
    assert layers[0].alpha is None and layers[1].alpha is not None
    # The far layer's colour under the square is inpainted from the plane, not red.
    assert np.abs(layers[0].colour[LO + 5 : HI - 5, LO + 5 : HI - 5] - RED).max() > 60
    assert layers[1].alpha[LO:HI, LO:HI].min() == 1.0
    assert layers[1].alpha[0, 0] == 0.0
    t = motion3d.frame_times(40, 60, travel_px=3.0)
    assert len(t) == 7 and t[-1] == pytest.approx(39 / 59)
    assert motion3d.frame_times(40, 60, travel_px=100.0).size == 40
    with pytest.raises(ValueError, match="n_frames"):
        motion3d.frame_times(61, 60, travel_px=1.0)
    with pytest.raises(ValueError, match="n_layers"):
        motion3d.split_layers(img, depth.astype(np.float32), 0)


@pytest.mark.parametrize("kind", ("xy", "z"))
def test_band_fill_renders_like_full_fill(kind):
    # Inpainting each layer only where the path can reveal it must not change a pixel.
    import cv2

    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
    depth = cv2.GaussianBlur(rng.random((80, 80)).astype(np.float32), (0, 0), 6) + 0.05
    near = motion3d.principal_depth(depth)
    warp = (motion3d.xy_warp(9.0, -6.0, near) if kind == "xy"
            else motion3d.z_warp(0.5, 4.0, -3.0, near, (39.5, 39.5)))
    times = motion3d.frame_times(40, 60, travel_px=1e3)
    band = motion3d.split_layers(img, depth, 6, warp=warp, t_end=float(times[-1]))
    full = motion3d.split_layers(img, depth, 6)
    # The band fill really is smaller (the far layer's colour differs deep inside the fill).
    assert any(np.abs(a.colour - b.colour).max() > 0 for a, b in zip(band, full, strict=True))
    np.testing.assert_allclose(motion3d.render_path(band, warp, times),
                               motion3d.render_path(full, warp, times), rtol=0, atol=1e-3)


def test_z_warp_magnifies_and_caps_layers_the_camera_would_reach():
    warp = motion3d.z_warp(0.5, 0.0, 0.0, 1.0, (10.0, 10.0))
    # The closest plane ends magnified 1 / 0.5 = 2x, a plane 4x as far 1 / (1 - 0.125).
    assert 1.0 / warp(1.0, 1.0)[0, 0] == pytest.approx(2.0)
    assert 1.0 / warp(4.0, 1.0)[0, 0] == pytest.approx(1.0 / 0.875)
    assert 1.0 / warp(0.3, 1.0)[0, 0] == pytest.approx(10.0)  # would pass the camera
    img, depth = _scene()
    depth[-6:] = 0.01  # a strip far nearer than the central square, at the bottom
    out = z_motion_blur(img, n_frames=38, path_frames=60, zoom_min=0.5, zoom_max=0.6,
                        jitter=2.0, n_layers=6, depth=depth, rng=np.random.default_rng(0))
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 255.5
