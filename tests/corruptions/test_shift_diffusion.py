"""The user-model route: a class-conditional diffusion denoiser file as the Control+Shift decoder.

Runs a tiny randomly initialised network of EDM's interface (``tiny_denoiser.py``), as
TorchScript and ONNX, through the EDM Heun sampler, the three families and the stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

pytest.importorskip("torch")

from tiny_denoiser import make_tiny_denoiser  # noqa: E402

from corruptions.shifts import ShiftData, apply_shift, training_set  # noqa: E402
from corruptions.shifts.control_shift import FAMILIES  # noqa: E402
from corruptions.shifts.diffusion import heun_sample, load_denoiser, noise_levels  # noqa: E402
from pipeline.errors import ManifestError  # noqa: E402
from pipeline.shift import parse_section  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STEPS = {"steps": 6}


@pytest.fixture(scope="module")
def nets(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("nets")
    return {ext: make_tiny_denoiser(d / f"tiny.{ext}", channels=3, num_classes=4)
            for ext in ("pt", "onnx")}


@pytest.fixture(scope="module")
def data() -> ShiftData:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    return ShiftData(rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8), labels,
                     tuple(f"toy/test/{i}" for i in range(40)), 4)


def test_heun_sampler_solves_the_gaussian_probability_flow_ode():
    # data N(0, s^2): D(x, sigma) = x s^2 / (s^2 + sigma^2), exact ODE solution
    # x(t) = x(t0) sqrt(s^2 + t^2) / sqrt(s^2 + t0^2)
    s = 0.5
    latents = np.random.default_rng(1).standard_normal((5, 1, 2, 2))
    exact = latents * 80.0 * s / np.sqrt(s**2 + 80.0**2)

    def error(steps: int) -> float:
        x = heun_sample(
            lambda x, sig, y: x * s**2 / (s**2 + sig.astype(np.float64)[:, None, None, None] ** 2),
            latents, np.ones((5, 1)), steps=steps, sigma_min=0.002, sigma_max=80.0, rho=7.0)
        return float(np.max(np.abs(x - exact) / np.abs(exact)))

    assert error(200) < 1e-3
    assert 3.0 < error(40) / error(80) < 5.0  # Heun is second order: halving the step / 4
    # point mass at mu: every trajectory ends exactly at mu
    mu = np.full((1, 2, 2), 0.3)
    x = heun_sample(lambda x, sig, y: np.broadcast_to(mu, x.shape), latents, np.ones((5, 1)),
                    steps=5, sigma_min=0.002, sigma_max=80.0, rho=7.0)
    np.testing.assert_allclose(x, np.broadcast_to(mu, x.shape), atol=1e-9)
    t = noise_levels(18, 0.002, 80.0, 7.0)
    assert t[0] == pytest.approx(80.0) and t[-2] == pytest.approx(0.002) and t[-1] == 0


def test_torchscript_and_onnx_files_agree(nets):
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    sigma = np.full(3, 2.0, dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[[0, 1, 3]]
    a, b = load_denoiser(nets["pt"])(x, sigma, y), load_denoiser(nets["onnx"])(x, sigma, y)
    assert a.shape == x.shape
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_families_through_the_user_model(family, nets, data):
    params = {"decoder": {"model": str(nets["pt"]), **STEPS}}
    with threadpool_limits(1):
        out = {k: apply_shift(family, data, data, knob=k, size=24, seed=0, params=params)
               for k in (0.0, 1.0)}
        again = apply_shift(family, data, data, knob=1.0, size=24, seed=0, params=params)
        train = training_set(family, data, data, size=24, seed=0, params=params)
    assert out[1.0].images.shape == (24, 8, 8, 3) and out[1.0].images.dtype == np.uint8
    np.testing.assert_array_equal(again.images, out[1.0].images)  # deterministic sampler
    assert not np.array_equal(out[0.0].images, out[1.0].images)
    assert not np.array_equal(train.images, out[0.0].images)  # own streams, same law
    assert out[0.0].summary["latent_non_overlap"] < out[1.0].summary["latent_non_overlap"]
    assert "tiny.pt" in out[1.0].summary["decoder"] and "6 steps" in out[1.0].summary["decoder"]
    np.testing.assert_array_equal(np.bincount(out[1.0].labels), [6, 6, 6, 6])


def test_latent_to_image_map_is_a_function_of_latent_and_label(nets, data):
    from corruptions.shifts.control_shift import _decoder

    dec = _decoder(data, {"decoder": {"model": str(nets["onnx"]), **STEPS}, "components": 2})
    assert dec.dim == 8 * 8 * 3
    w = np.random.default_rng(2).standard_normal((3, dec.dim))
    a = dec.decode(1, w, np.random.default_rng(0))
    np.testing.assert_array_equal(a, dec.decode(1, w, np.random.default_rng(99)))  # rng unused
    assert not np.array_equal(a, dec.decode(2, w, np.random.default_rng(0)))  # label matters
    assert not np.array_equal(a[:1], dec.decode(1, w[1:2], np.random.default_rng(0)))
    assert a.shape == (3, 192) and a.min() >= 0 and a.max() <= 1


def test_manifest_names_a_missing_or_bad_model(tmp_path):
    base = {"intensities": [0, 1]}
    with pytest.raises(ManifestError, match=r"shifts\[0\]\.params: .*not a file.*never downloads"):
        parse_section({**base, "shifts": [{"shift": "extend", "params": {
            "decoder": {"model": str(tmp_path / "none.pt")}}}]}, "m: shift")
    net = tmp_path / "x.pt"
    net.write_bytes(b"0")
    with pytest.raises(ManifestError, match="unknown key.*valid: model, steps"):
        parse_section({**base, "shifts": [{"shift": "overlap", "params": {
            "decoder": {"model": str(net), "churn": 1}}}]}, "m: shift")
    with pytest.raises(ManifestError, match="decoder 'gan' unknown"):
        parse_section({**base, "shifts": [{"shift": "truncation", "params": {
            "decoder": "gan"}}]}, "m: shift")


def test_stage_end_to_end_with_the_user_model(shared_dir, tmp_path):
    from pipeline.manifest import load_manifest
    from pipeline.pull import pull
    from pipeline.shards import list_shards, read_config_manifest, read_shard
    from pipeline.shift import main

    net = make_tiny_denoiser(tmp_path / "mnist.pt", channels=1, num_classes=10)
    items = [f"sources.0.options={{path: {shared_dir / 'datasets/mnist'}}}",
             "sources.0.limit=600", "shift.size=40", "shift.train_size=60",
             "shift.intensities=[0, 1]",
             "shift.measure={dim: 8, permutations: 20, folds: 2, max_rows: 40}",
             f"shift.shifts=[{{shift: overlap, params: {{decoder: {{model: {net}, steps: 4}}}}}}]"]
    manifest_path = REPO / "manifests/mnist_shift.yaml"
    with threadpool_limits(1):
        pull(load_manifest(manifest_path, items), tmp_path / "pulled", scheduler="sync",
             progress=False)
        args = ["--manifest", str(manifest_path), "--in", str(tmp_path / "pulled"),
                "--out", str(tmp_path / "s"), "--scheduler", "sync", "--no-progress"]
        for item in items:
            args += ["--set", item]
        assert main(args) == 0
    k1 = read_config_manifest(tmp_path / "s" / "overlap_k100")
    assert k1["measured"]["latent_non_overlap"] > 0.5
    assert "user diffusion denoiser mnist.pt" in k1["summary"]["decoder"]
    table, _ = read_shard(list_shards(tmp_path / "s" / "overlap_k100")["test"][0], ["source"])
    assert set(table["source"].to_pylist()) == {"overlap-diffusion"}
    # the model file's bytes enter the fingerprint: same path, new weights -> rebuilt shards
    sha = k1["splits"]["test"]["shards"][0]["sha256"]
    make_tiny_denoiser(net, channels=1, num_classes=10, seed=1)
    with threadpool_limits(1):
        assert main(args) == 0
    k1b = read_config_manifest(tmp_path / "s" / "overlap_k100")
    assert k1b["splits"]["test"]["shards"][0]["sha256"] != sha
