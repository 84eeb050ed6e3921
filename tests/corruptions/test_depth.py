"""3DCC depth corruptions measured on a real RGB-D pair.

The scene is the Middlebury "motorcycle" stereo pair shipped with scikit-image:
the left view and its ground-truth disparity (depth = 1 / disparity; invalid
(inf) disparities are masked out of every measurement and filled with the
nearest valid depth for the kernels). Resized to 224 rows, centre-cropped to
224 x 224.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from corruptions import apply, resolve_params
from corruptions.depth import (
    far_focus,
    flash_shading,
    fog_3d,
    near_focus,
    normalise_depth,
    xy_motion_blur,
    z_motion_blur,
)

DEPTH_OPS = ("near_focus", "far_focus", "fog_3d", "flash", "xy_motion_blur", "z_motion_blur")


@pytest.fixture(scope="module")
def scene():
    import skimage.data

    left, _, disp = skimage.data.stereo_motorcycle()
    valid = np.isfinite(disp) & (disp > 0)
    h, w = left.shape[:2]
    width = round(w * 224 / h)
    img = cv2.resize(left, (width, 224), interpolation=cv2.INTER_AREA)
    depth = np.where(valid, 1.0 / np.where(valid, disp, 1.0), 0.0).astype(np.float32)
    # Fill invalid pixels with the nearest valid depth before resizing.
    _, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
    depth = cv2.resize(depth[iy, ix], (width, 224), interpolation=cv2.INTER_NEAREST)
    valid = cv2.resize(valid.astype(np.uint8), (width, 224), interpolation=cv2.INTER_NEAREST) > 0
    x0 = (width - 224) // 2
    crop = np.s_[:, x0 : x0 + 224]
    img, depth, valid = (np.ascontiguousarray(a[crop]) for a in (img, depth, valid))
    lo, hi = np.quantile(depth[valid], [0.25, 0.75])
    near = valid & (depth <= lo)
    far = valid & (depth >= hi)
    return img, depth, near, far


def _sharpness_kept(img, out, mask):
    lap_in = cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
    lap_out = cv2.Laplacian(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
    return float(lap_out[mask].var() / lap_in[mask].var())


def _local_std(gray, k=7):
    g = gray.astype(np.float32)
    m = cv2.blur(g, (k, k))
    return np.sqrt(np.maximum(cv2.blur(g * g, (k, k)) - m * m, 0))


def _run(name, img, depth, severity, seed=7):
    rng = np.random.default_rng(seed)  # same draws at every severity: only the table changes
    return apply(name, img, severity=severity, preset="imagenet224", rng=rng, depth=depth)


@pytest.mark.parametrize("name", DEPTH_OPS)
def test_severity_monotonic(scene, name):
    img, depth, _, _ = scene
    errs = [float(np.abs(_run(name, img, depth, s).astype(np.float64) - img).mean())
            for s in (1, 2, 3, 4, 5)]
    assert all(a < b for a, b in zip(errs, errs[1:], strict=False)), errs


@pytest.mark.parametrize("severity", (1, 3, 5))
def test_near_focus_blurs_far_more_than_near(scene, severity):
    img, depth, near, far = scene
    out = _run("near_focus", img, depth, severity)
    kept_near, kept_far = _sharpness_kept(img, out, near), _sharpness_kept(img, out, far)
    print(f"near_focus s{severity}: Laplacian var kept near {kept_near:.3f} far {kept_far:.3f}")
    assert kept_near > 2 * kept_far


@pytest.mark.parametrize("severity", (1, 3, 5))
def test_far_focus_blurs_near_more_than_far(scene, severity):
    img, depth, near, far = scene
    out = _run("far_focus", img, depth, severity)
    kept_near, kept_far = _sharpness_kept(img, out, near), _sharpness_kept(img, out, far)
    print(f"far_focus s{severity}: Laplacian var kept near {kept_near:.3f} far {kept_far:.3f}")
    assert kept_far > 2 * kept_near


def test_focus_plane_is_sharp_on_a_depth_ramp():
    # A depth ramp left (near) to right (far): near focus keeps the left third, far focus
    # the 7/8 column band.
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 256, 3), dtype=np.uint8)
    depth = np.broadcast_to(np.linspace(1.0, 4.0, 256, dtype=np.float32), (64, 256))
    n = near_focus(img, aperture=4.0, depth=depth)
    f = far_focus(img, aperture=4.0, depth=depth)
    err_n = np.abs(n - img).mean(axis=(0, 2))
    err_f = np.abs(f - img).mean(axis=(0, 2))
    print(f"ramp: near_focus err left {err_n[:8].mean():.1f} right {err_n[-32:].mean():.1f}; "
          f"far_focus err at 7/8 {err_f[220:228].mean():.1f} left {err_f[:32].mean():.1f}")
    assert err_n[:8].mean() < 0.25 * err_n[-32:].mean()
    assert err_f[220:228].mean() < 0.25 * err_f[:32].mean()


@pytest.mark.parametrize("severity", (1, 3, 5))
def test_fog_3d_lowers_contrast_more_far_away(scene, severity):
    img, depth, near, far = scene
    out = _run("fog_3d", img, depth, severity)
    gi = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    go = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    ratio = _local_std(go) / (_local_std(gi) + 1e-3)
    kept_near, kept_far = float(np.median(ratio[near])), float(np.median(ratio[far]))
    print(f"fog_3d s{severity}: local contrast kept near {kept_near:.3f} far {kept_far:.3f}")
    assert kept_near > kept_far + 0.1


def test_fog_3d_formula():
    img = np.array([[[10, 20, 30], [200, 100, 50]]], np.uint8)
    depth = np.array([[1.0, 2.0]])
    out = fog_3d(img, beta=4.0, depth_unit="relative", depth=depth)
    t = np.exp(-4.0 * np.array([0.25, 0.5]))[None, :, None]
    np.testing.assert_allclose(out, t * img + (1 - t) * img.mean(), rtol=1e-5)
    # Metric depth (metres) in the Taskonomy loader's unit: d = m * 512 / 8000; 20 m >= 15.6 m
    # takes the largest nearer value (3 m).
    depth_m = np.array([[3.0, 20.0]])
    out = fog_3d(img, beta=4.0, depth_unit="metric", depth=depth_m)
    t = np.exp(-4.0 * np.array([3.0, 3.0]) * 512 / 8000)[None, :, None]
    np.testing.assert_allclose(out, t * img + (1 - t) * img.mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="depth_unit"):
        fog_3d(img, beta=4.0, depth_unit="feet", depth=depth)
    with pytest.raises(ValueError, match="15.6 m"):
        fog_3d(img, beta=4.0, depth_unit="metric", depth=np.array([[30.0, 40.0]]))


@pytest.mark.parametrize("severity", (1, 3, 5))
def test_flash_brightens_near_more_than_far(scene, severity):
    img, depth, near, far = scene
    out = _run("flash", img, depth, severity).astype(np.float64)
    gain = out.mean(axis=2) / (img.mean(axis=2) + 1.0)
    g_near, g_far = float(np.median(gain[near])), float(np.median(gain[far]))
    print(f"flash s{severity}: brightness gain near {g_near:.3f} far {g_far:.3f}")
    assert g_near > g_far + 0.05
    assert np.all(out >= img)  # a flash only adds light


def test_flash_shading_of_a_frontal_plane_is_inverse_square():
    # A fronto-parallel plane: cos(theta) * (r_ref / r)^2 falls off from the centre outwards.
    depth = np.ones((65, 65))
    r = flash_shading(depth, depth.shape, fov_deg=60.0, ref_quantile=0.0)
    assert r[32, 32] == pytest.approx(1.0, abs=1e-3)
    assert r[32, 0] < r[32, 16] < r[32, 32]
    focal = 32.5 / np.tan(np.radians(30))
    x = (0 - 32) / focal
    assert r[32, 0] == pytest.approx((1 / np.sqrt(1 + x * x)) ** 3, rel=1e-2)


def _ramp_image(h, w):
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
    img[..., 1] = np.arange(h, dtype=np.uint8)[:, None]
    return img


@pytest.mark.parametrize("kernel", ("xy", "z"))
def test_motion_blur_displaces_near_more_than_far(scene, kernel):
    # Blur a coordinate ramp: (input - output) of the x/y channels is the mean displacement.
    _, depth, near, far = scene
    ramp = _ramp_image(224, 224)
    params = resolve_params(f"{kernel}_motion_blur", severity=3, preset="imagenet224",
                            shape=ramp.shape)
    fn = xy_motion_blur if kernel == "xy" else z_motion_blur
    inner = np.zeros_like(near)
    inner[40:-40, 40:-40] = True
    yy, xx = np.mgrid[:224, :224]
    radius = np.hypot(xx - 111.5, yy - 111.5)
    if kernel == "z":
        # A zoom moves pixels in proportion to their distance from the centre (the far
        # pixels here sit farther out: median 65 vs 43 px), so compare displacement per px
        # of radius, on the zoom alone (no centre jitter).
        params["jitter"] = 0.0
        inner &= radius > 16
    out = fn(ramp, **params, depth=depth, rng=np.random.default_rng(3))
    dx, dy = out[..., 0] - ramp[..., 0], out[..., 1] - ramp[..., 1]
    disp = np.hypot(dx, dy) / (radius if kernel == "z" else 1.0)
    d_near, d_far = float(np.median(disp[near & inner])), float(np.median(disp[far & inner]))
    print(f"{kernel}_motion_blur s3: mean displacement near {d_near:.3f} far {d_far:.3f}"
          f" {'px per px of radius' if kernel == 'z' else 'px'}")
    assert d_near > 2.0 * d_far
    if kernel == "z":  # a forward dolly magnifies: pixels show content nearer the centre
        radial = dx * (xx - 111.5) + dy * (yy - 111.5)
        assert np.mean(radial[inner] < 0) > 0.95


def test_xy_motion_blur_on_flat_depth_is_a_line_average():
    # Constant depth: every pixel moves (u, v) * i / 59; the ramp output is the mean offset.
    ramp = _ramp_image(200, 200)
    depth = np.ones((200, 200))
    rng = np.random.default_rng(5)
    out = xy_motion_blur(ramp, n_frames=30, path_frames=60, u_min=50.0, u_max=75.0, v_max=10.0,
                         n_layers=6, depth=depth, rng=rng)
    twin = np.random.default_rng(5)
    sign = -1.0 if twin.integers(2) else 1.0
    u, v = sign * twin.uniform(50.0, 75.0), twin.uniform(-10.0, 10.0)
    mean_shift = np.array([u, v]) * (29 / 2) / 59
    got = np.array([ramp[100, 100, 0] - out[100, 100, 0], ramp[100, 100, 1] - out[100, 100, 1]])
    np.testing.assert_allclose(got, mean_shift, atol=0.05)


def test_depth_scale_does_not_matter(scene):
    img, depth, _, _ = scene
    for name in DEPTH_OPS:
        a = _run(name, img, depth, 3)
        b = _run(name, img, depth * 1000.0, 3)
        # Only float32 rounding of the rescaled depth may move a level by one.
        diff = np.abs(a.astype(int) - b)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01, name


def test_depth_is_validated(scene):
    img, depth, _, _ = scene
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        apply("fog_3d", img, severity=1, preset="imagenet224", rng=None, depth=depth[:10])
    with pytest.raises(ValueError, match=">= 0"):
        apply("fog_3d", img, severity=1, preset="imagenet224", rng=None, depth=-depth)
    with pytest.raises(ValueError, match="needs"):
        apply("fog_3d", img, severity=1, preset="imagenet224", rng=None)
    d = normalise_depth(np.array([[np.nan, 1.0], [3.0, 0.0]]), (2, 2))
    np.testing.assert_allclose(d, [[0.5, 1 / 6], [0.5, 1 / 128]], rtol=1e-6)


def test_pixel_fields_follow_the_scaling_rule():
    # Apertures are blur sigmas in px used as given at every size (the script uses the same
    # ones at 224 and 512 px); motion travel is px of the script's 512 px render.
    for preset, side in (("cifar32", 32), ("tiny64", 64), ("imagenet224", 224), ("auto", 512)):
        shape = (side, side, 3)
        a = resolve_params("near_focus", severity=1, preset=preset, shape=shape)["aperture"]
        assert a == pytest.approx(3.0)
        p = resolve_params("xy_motion_blur", severity=5, preset=preset, shape=shape)
        assert p["u_max"] == pytest.approx(75.0 * side / 512, abs=1e-3) and p["n_frames"] == 60
        z = resolve_params("z_motion_blur", severity=5, preset=preset, shape=shape)
        assert z["jitter"] == pytest.approx(30.0 * side / 512, abs=1e-3) and z["n_frames"] == 38


def test_severities_grow_at_every_preset(photos224):
    # Mean |change| strictly increasing over severities for every 3DCC corruption at 32, 64
    # and 224 px, on real photographs with their pseudo-depth (issue #18).
    from corruptions import get_registry
    from corruptions.pseudo_depth import pseudo_depth

    reg = get_registry()
    names = [n for n in reg.in_suite("3dcc") if reg[n].family != "video"]
    for side in (32, 64, 224):
        imgs = [cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA)
                for im in photos224[:2]]
        depths = [pseudo_depth(im) for im in imgs]
        for name in names:
            errs = []
            for s in (1, 2, 3, 4, 5):
                vals = []
                for i, (img, d) in enumerate(zip(imgs, depths, strict=True)):
                    aux = {"depth": d} if "depth" in reg[name].needs else {}
                    out = apply(name, img, severity=s, preset="auto",
                                rng=np.random.default_rng(i), **aux)
                    vals.append(np.abs(out.astype(np.float64) - img).mean())
                errs.append(float(np.mean(vals)))
            assert all(a < b for a, b in zip(errs, errs[1:], strict=False)), (name, side, errs)
            if name == "near_focus" and side == 32:
                assert errs[0] > 8.0, errs  # not a near no-op (was 0.03 with side/224 scaling)


def test_small_images_and_pseudo_depth(cifar10_test):
    from corruptions.pseudo_depth import pseudo_depth

    images, _ = cifar10_test
    for i in range(4):
        img = images[i]
        depth = pseudo_depth(img)
        for name in DEPTH_OPS:
            rng = np.random.default_rng(i)
            out = apply(name, img, severity=5, preset="cifar32", rng=rng, depth=depth)
            assert out.shape == img.shape and out.dtype == np.uint8
            assert not np.array_equal(out, img), name


# --- user-supplied depth networks (corruptions.depth_model) -------------------------------


def test_depth_model_missing_runtime_names_the_extra(tmp_path, monkeypatch):
    import sys

    from corruptions.depth_model import load_depth_model

    model = tmp_path / "midas.onnx"
    model.write_bytes(b"not a model")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"benchsmith\[depth-onnx\]"):
        load_depth_model(model, output="inverse_depth")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"benchsmith\[depth-torch\]"):
        load_depth_model(model.rename(tmp_path / "midas.pt"), output="inverse_depth")


def test_depth_model_refuses_bad_paths(tmp_path):
    from corruptions.depth_model import load_depth_model

    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_depth_model(tmp_path / "absent.onnx", output="depth")
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown depth model type"):
        load_depth_model(bad, output="depth")


def test_inverse_depth_conversion_keeps_order_on_ground_truth(scene):
    from scipy.stats import spearmanr

    from corruptions.depth_model import inverse_depth_to_depth

    _, depth, near, far = scene
    d = inverse_depth_to_depth(1.0 / depth)  # GT disparity as a network's inverse depth
    assert d.dtype == np.float32 and d.min() >= 1 / 128 - 1e-6 and d.max() <= 0.5
    assert spearmanr(d.ravel(), depth.ravel()).statistic > 0.99


def test_onnx_depth_model_real_inference(tmp_path, scene):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from corruptions.depth_model import load_depth_model

    # A tiny "network": depth = channel mean of the normalised input, (1, 1, h, w).
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)],
        "mean_depth",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 96])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 64, 96])],
        initializer=[helper.make_tensor("axes", TensorProto.INT64, [1], [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "mean_depth.onnx"
    onnx.save(model, str(path))

    net = load_depth_model(path, output="depth", input_size=(64, 96), mean=(0, 0, 0),
                           std=(1, 1, 1))
    img, _, _, _ = scene
    got = net(img)
    x = cv2.resize(img, (96, 64), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    want = cv2.resize(x.mean(axis=2), (224, 224), interpolation=cv2.INTER_LINEAR)
    assert got.shape == (224, 224)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert net.method.startswith("onnx:mean_depth.onnx:sha256=")
    out = apply("fog_3d", img, severity=3, preset="imagenet224", rng=None, depth=got)
    assert out.shape == img.shape
