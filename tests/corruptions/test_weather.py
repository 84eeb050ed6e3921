"""Fidelity of the weather family against the reference scripts and imagecorruptions 1.1.2.

* Same draws, same pixels: fog, frost, snow and spatter at every preset
  (mnist28, cifar32, tiny64, imagenet224, imagenet299) and severity, fed the
  script's draws (:mod:`replay`), equal the script's output
  (:mod:`script_reference`; snow's motion blur is the real ImageMagick) to
  0 gray levels.
* Deterministic parts given identical random draws vs imagecorruptions (the
  same plasma fractal, frost crop, snow layer and angle, liquid field): fog and
  frost exact; spatter within 1 level (imagecorruptions makes the mud colour
  float64 where the scripts keep float32) and snow within 2, away from a border
  band of one motion-kernel width: ImageNet-C trims the zoomed layer to the image
  before blurring (what we do), imagecorruptions blurs the 225-pixel layer and
  crops after, which changes only that band.
* The plasma fractal equals upstream's bit for bit given the same uniforms.
* Frost uses the pinned published photographs from the cache (never an optional
  package), fails with a BenchsmithError naming the fix when they are missing,
  and its params carry the texture set's hash.
* Stochastic kernels: per-severity statistics of ``output - input`` over the
  >= 100 crops of ``photo_crops224`` within 5 % of the reference's (see
  ``test_blur.assert_stats_close``).
* The cifar32 / tiny64 / mnist28 tables equal the published numbers.
"""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np
import oracle
import pytest
from fidelity_stats import Stats, assert_stats_close, max_abs
from replay import ScriptDraws
from same_draws import SIDES, assert_same_draws, preset_images  # noqa: F401 (fixture)
from skimage.filters import gaussian

from corruptions import apply, get_registry, resolve_params
from corruptions import frost_texture as ft
from corruptions._fractal import plasma_fractal
from corruptions.image import quantize
from corruptions.rng import derive_rng
from corruptions.weather import (
    fog_from_fractal,
    frost_from_crop,
    snow_from_layer,
    spatter_from_liquid,
)
from pipeline.errors import BenchsmithError

SEVERITIES = (1, 2, 3, 4, 5)




def _params(name: str, severity: int, shape=(224, 224, 3)) -> dict:
    return resolve_params(name, severity=severity, preset="imagenet224", shape=shape)


# --------------------------------------------------------------------------- deterministic


@pytest.mark.parametrize("decay", [1.4, 1.75, 2.0, 3.0])
def test_plasma_fractal_matches_upstream(decay):
    icc = oracle.reference_module()
    np.random.seed(11)  # noqa: NPY002 - the oracle only knows the global RNG
    ref = icc.plasma_fractal(256, decay)
    ours = plasma_fractal(256, decay, ScriptDraws(11))
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_fog_same_fractal_matches_reference(severity, photos224):
    icc = oracle.reference_module()
    p = _params("fog", severity)
    worst = 0
    for seed, img in enumerate(photos224):
        np.random.seed(seed)  # noqa: NPY002 - same draws as the reference call below
        fractal = icc.plasma_fractal(p["map_size"], p["decay"])
        ours = quantize(fog_from_fractal(img, fractal, strength=p["strength"]), "truncate")
        worst = max(worst, max_abs(ours, oracle.reference("fog", img, severity, seed)))
    assert worst == 0


def _imagecorruptions_frost_crop(seed: int, shape) -> np.ndarray:
    """The crop imagecorruptions draws with this seed (its x1.1 bicubic enlargement)."""
    rs = np.random.RandomState(seed)
    index = rs.randint(5)
    tex = cv2.imread(str(ft.cache_dir() / list(ft.PINNED_SHA256)[index]))
    size = (math.ceil(tex.shape[1] * 1.1), math.ceil(tex.shape[0] * 1.1))
    tex = cv2.resize(tex, dsize=size, interpolation=cv2.INTER_CUBIC)
    y0 = rs.randint(0, tex.shape[0] - shape[0])
    x0 = rs.randint(0, tex.shape[1] - shape[1])
    return tex[y0 : y0 + shape[0], x0 : x0 + shape[1]][..., ::-1]


@pytest.mark.parametrize("severity", SEVERITIES)
def test_frost_same_crop_matches_reference(severity, photos224):
    p = _params("frost", severity)
    assert p["texture_set"] == ft.TEXTURE_SET
    worst = 0
    for seed, img in enumerate(photos224):
        crop = _imagecorruptions_frost_crop(seed, img.shape)
        ours = frost_from_crop(
            img, crop, image_weight=p["image_weight"], frost_weight=p["frost_weight"]
        )
        worst = max(worst, max_abs(quantize(ours, "truncate"),
                                   oracle.reference("frost", img, severity, seed)))
    assert worst == 0


@pytest.mark.parametrize("severity", SEVERITIES)
def test_snow_same_layer_matches_reference(severity, photos224):
    icc = oracle.reference_module()
    p = _params("snow", severity)
    band = 2 * math.ceil(p["blur_radius"]) + 1
    worst = 0
    for seed, img in enumerate(photos224):
        rs = np.random.RandomState(seed)  # the reference's draws: noise, then the angle
        layer = rs.normal(size=img.shape[:2], loc=p["loc"], scale=p["scale"])
        layer = icc.clipped_zoom(layer[..., None], p["zoom"])
        layer[layer < p["threshold"]] = 0
        layer = np.clip(layer.squeeze(), 0, 1)[: img.shape[0], : img.shape[1]]
        angle = rs.uniform(-135, -45)
        ours = snow_from_layer(
            img, layer, blur_radius=p["blur_radius"], blur_sigma=p["blur_sigma"], angle=angle,
            blend=p["blend"], prequantize=False,  # imagecorruptions blurs the float layer
        )
        ref = oracle.reference("snow", img, severity, seed)
        inner = (slice(band, -band), slice(band, -band))
        worst = max(worst, max_abs(quantize(ours, "truncate")[inner], ref[inner]))
    assert worst <= 2


@pytest.mark.parametrize("severity", SEVERITIES)
def test_spatter_same_liquid_matches_reference(severity, photos224):
    p = _params("spatter", severity)
    worst = 0
    for seed, img in enumerate(photos224):
        rs = np.random.RandomState(seed)
        liquid = gaussian(rs.normal(size=img.shape[:2], loc=p["loc"], scale=p["scale"]),
                          sigma=p["sigma"])
        ours = spatter_from_liquid(
            img, liquid, threshold=p["threshold"], water_gain=p["water_gain"],
            mud_sigma=p["mud_sigma"], mode=p["mode"], mud_rgb=p["mud_rgb"],
        )
        worst = max(worst, max_abs(quantize(ours, "truncate"),
                                   oracle.reference("spatter", img, severity, seed)))
    assert worst <= 1


# --------------------------------------------------------------------------- same draws


@pytest.mark.parametrize(
    ("name", "preset"),
    [pytest.param(n, p, marks=[pytest.mark.slow] if SIDES[p] > 64 else [])
     for n in ("fog", "frost", "snow", "spatter") for p in SIDES],
)
def test_same_draws_equal_reference_script(name, preset, preset_images):  # noqa: F811
    assert_same_draws(name, preset, preset_images[preset])


def test_script_draw_order_is_replayed():
    """Our kernels ask for the scripts' draws in the scripts' order (noise, then angle)."""
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    draws = ScriptDraws(0)
    get_registry()["snow"].kernel(img, rng=draws, **_params("snow", 1, img.shape))
    assert [c[0] for c in draws.calls] == ["normal", "uniform"]
    draws = ScriptDraws(0)
    get_registry()["frost"].kernel(img, rng=draws, **_params("frost", 1, img.shape))
    assert [c[0] for c in draws.calls] == ["randint"] * 3


# --------------------------------------------------------------------------- frost textures


def test_frost_set_hash_is_the_pinned_files():
    lines = "".join(f"{n} {h}\n" for n, h in ft.PINNED_SHA256.items()).encode()
    assert ft.TEXTURE_SET == "published-sha256:" + hashlib.sha256(lines).hexdigest()[:16]
    assert len(ft.PINNED_SHA256) == 6
    for preset in SIDES:
        assert {r["texture_set"] for r in _rows("frost", preset)} == {ft.TEXTURE_SET}


def test_frost_missing_textures_is_an_actionable_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHSMITH_CACHE", str(tmp_path))
    ft._published_folder.cache_clear()
    ft._photo.cache_clear()
    ft.texture.cache_clear()
    try:
        with pytest.raises(BenchsmithError, match=r"corruptions\.frost_texture --fetch"):
            apply("frost", np.zeros((32, 32, 3), np.uint8), severity=1, preset="cifar32",
                  rng=derive_rng(0, "x", "frost", 1))
        # a damaged file is refused too, by name
        (tmp_path / "frost").mkdir()
        for name in ft.PINNED_SHA256:
            (tmp_path / "frost" / name).write_bytes(b"not the photograph")
        ft._published_folder.cache_clear()
        with pytest.raises(BenchsmithError, match="frost1.png"):
            ft.texture(ft.TEXTURE_SET, 0, False, 1.0)
    finally:
        monkeypatch.undo()
        ft._published_folder.cache_clear()
        ft._photo.cache_clear()
        ft.texture.cache_clear()


def test_frost_fetch_verifies_and_writes_atomically(tmp_path, monkeypatch):
    """fetch() with the verified cache as its source (no network): fills an empty folder,
    repairs a damaged file, refuses bytes that do not match the pins."""
    good = {n: (ft.cache_dir() / n).read_bytes() for n in ft.PINNED_SHA256}

    def no_network(_workdir):
        raise AssertionError("fetch must not download when the files are at hand")

    monkeypatch.setattr(ft, "_from_installed", lambda: dict(good))
    monkeypatch.setattr(ft, "_from_wheel", no_network)
    target = tmp_path / "cache"
    assert ft.fetch(target) == target
    assert sorted(p.name for p in target.iterdir()) == sorted(ft.PINNED_SHA256)
    (target / "frost3.png").write_bytes(b"damaged")
    ft.fetch(target)
    assert hashlib.sha256((target / "frost3.png").read_bytes()).hexdigest() == (
        ft.PINNED_SHA256["frost3.png"])
    (target / "frost2.png").unlink()
    monkeypatch.setattr(ft, "_from_installed", lambda: {**good, "frost2.png": b"other"})
    monkeypatch.setattr(ft, "_from_wheel", lambda _w: {"frost2.png": b"other"})
    with pytest.raises(BenchsmithError, match="frost2.png"):
        ft.fetch(target)
    assert not (target / "frost2.png").exists()
    assert not list(target.glob(".*.tmp"))
    # the command `make install` runs: exit 2 with the reason, then 0 once repaired
    assert ft.main(["--fetch", "--dir", str(target)]) == 2
    monkeypatch.setattr(ft, "_from_installed", lambda: dict(good))
    assert ft.main(["--fetch", "--dir", str(target)]) == 0
    assert (target / "frost2.png").read_bytes() == good["frost2.png"]


# --------------------------------------------------------------------------- stochastic

_STOCHASTIC = ("snow", "frost", "fog", "spatter")
# Like-for-like with imagecorruptions where the table deliberately follows the
# ImageMagick scripts instead (8-bit snow layer before the blur).
_IMAGECORRUPTIONS_SEMANTICS = {"snow": {"prequantize": False}}


@pytest.fixture(scope="module")
def weather_stats(photo_crops224):
    """(ours, reference) Stats per (name, severity), computed once per module."""
    registry = get_registry()
    out = {}
    for name in _STOCHASTIC:
        spec = registry[name]
        for sev in SEVERITIES:
            ours, ref = Stats(), Stats()
            for i, img in enumerate(photo_crops224):
                ref.add(oracle.reference(name, img, sev, seed=i), img)
                rng = derive_rng(0, f"photo_crops224/{i}", name, sev)
                override = _IMAGECORRUPTIONS_SEMANTICS.get(name)
                if override:
                    p = {**_params(name, sev, img.shape), **override}
                    ours.add(quantize(spec.kernel(img, rng=rng, **p), "truncate"), img)
                else:
                    ours.add(apply(name, img, severity=sev, preset="imagenet224", rng=rng), img)
            out[name, sev] = ours, ref
    return out


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", _STOCHASTIC)
def test_statistics_match_reference(name, severity, weather_stats):
    ours, ref = weather_stats[name, severity]
    assert_stats_close(name, severity, ours, ref)


def test_procedural_frost_only_by_name():
    crop_rng = derive_rng(0, "x", "frost_procedural", 3)
    img = np.full((64, 64, 3), 100, dtype=np.uint8)
    spec = get_registry()["frost_procedural"]
    assert not spec.suites  # no suite pulls it in: a manifest must name it
    p = _params("frost_procedural", 3, img.shape)
    assert p["texture_set"] == ft.PROCEDURAL_SET != ft.TEXTURE_SET
    out = quantize(spec.kernel(img, rng=crop_rng, **p), "truncate")
    assert out.shape == img.shape
    assert 120 < out.mean() < 230  # 0.7 * 100 + 0.7 * texture (mean ~165)
    for i in range(ft.N_TEXTURES):
        tex = ft.procedural_texture(i)
        assert tex.shape == (480, 720, 3) and not tex.flags.writeable
        assert 140 < tex.mean() < 190 and 15 < tex.std() < 45


# --------------------------------------------------------------------------- tables


def _rows(name: str, preset: str) -> list[dict]:
    table = get_registry()[name].tables[preset]
    return [table.params(s) for s in SEVERITIES]


def _spatter_tuple(r: dict) -> tuple:
    c4 = r["mud_sigma"] if r["mode"] == "mud" else r["water_gain"]
    return (r["loc"], r["scale"], r["sigma"], r["threshold"], c4, int(r["mode"] == "mud"))


SNOW_KEYS = ("loc", "scale", "zoom", "threshold", "blur_radius", "blur_sigma", "blend")
PUBLISHED = {
    "tiny64": {
        "fog": [(.4, 3), (.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)],
        "frost": [(1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)],
        "snow": [(0.1, 0.2, 1, 0.6, 8, 3, 0.8), (0.1, 0.2, 1, 0.5, 10, 4, 0.8),
                 (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
                 (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6)],
        "spatter": [(0.62, 0.1, 0.7, 0.7, 0.6, 0), (0.65, 0.1, 0.8, 0.7, 0.6, 0),
                    (0.65, 0.3, 1, 0.69, 0.6, 0), (0.65, 0.1, 0.7, 0.68, 0.6, 1),
                    (0.65, 0.1, 0.5, 0.67, 0.6, 1)],
    },
    "cifar32": {
        "fog": [(.2, 3), (.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)],
        "frost": [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)],
        "snow": [(0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
                 (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
                 (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)],
        "spatter": [(0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
                    (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
                    (0.65, 0.1, 0.5, 0.68, 0.6, 1)],
    },
    "imagenet224": {
        "fog": [(1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4)],
        "frost": [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)],
        "snow": [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
                 (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
                 (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)],
        "spatter": [(0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0),
                    (0.65, 0.3, 2, 0.68, 0.5, 0), (0.65, 0.3, 1, 0.65, 1.5, 1),
                    (0.67, 0.4, 1, 0.65, 1.5, 1)],
    },
}
PUBLISHED["mnist28"] = PUBLISHED["imagenet224"]
PUBLISHED["imagenet299"] = {  # make_imagenet_c_inception.py
    "fog": [(1.5, 2), (2, 2), (2.5, 1.8), (2.5, 1.6), (3, 1.5)],
    "frost": PUBLISHED["imagenet224"]["frost"],
    "snow": PUBLISHED["imagenet224"]["snow"],
    "spatter": [(0.65, 0.3, 4, 0.69, 0.9, 0), (0.65, 0.3, 3.5, 0.68, 0.9, 0),
                (0.65, 0.3, 3, 0.68, 0.8, 0), (0.65, 0.3, 1.2, 0.65, 1.8, 1),
                (0.67, 0.4, 1.2, 0.65, 1.8, 1)],
}
MAP_SIZE = {"imagenet224": 256, "tiny64": 64, "cifar32": 32, "mnist28": 256, "imagenet299": 512}
TEXTURE_SCALE = {"imagenet224": 1.0, "tiny64": 0.3, "cifar32": 0.2, "mnist28": 1.0,
                 "imagenet299": 1.0}


@pytest.mark.parametrize("preset", ["imagenet224", "tiny64", "cifar32", "mnist28", "imagenet299"])
def test_tables_equal_published_numbers(preset):
    want = PUBLISHED[preset]
    assert [(r["strength"], r["decay"]) for r in _rows("fog", preset)] == want["fog"]
    assert {r["map_size"] for r in _rows("fog", preset)} == {MAP_SIZE[preset]}
    frost = _rows("frost", preset)
    assert [(r["image_weight"], r["frost_weight"]) for r in frost] == want["frost"]
    assert {r["texture_scale"] for r in frost} == {TEXTURE_SCALE[preset]}
    snow = _rows("snow", preset)
    assert [tuple(r[k] for k in SNOW_KEYS) for r in snow] == want["snow"]
    assert all(r["angle_range"] == (-135.0, -45.0) for r in snow)
    spatter = _rows("spatter", preset)
    if preset == "mnist28":  # MNIST-C: always mud, gray 63, c4 is the mask sigma
        assert all(r["mode"] == "mud" and r["mud_rgb"] == (63, 63, 63) for r in spatter)
        assert [r["mud_sigma"] for r in spatter] == [w[4] for w in want["spatter"]]
    else:
        assert [_spatter_tuple(r) for r in spatter] == want["spatter"]
        assert all(r["mud_rgb"] == (63, 42, 20) for r in spatter)


def test_mnist_gray_weather_keeps_shape():
    img = np.zeros((28, 28), dtype=np.uint8)
    img[6:22, 12:16] = 255
    for name in ("fog", "frost", "snow", "spatter"):
        rng = derive_rng(0, "mnist/test/0", name, 5)
        out = apply(name, img, severity=5, preset="mnist28", rng=rng)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert not np.array_equal(out, img), name
