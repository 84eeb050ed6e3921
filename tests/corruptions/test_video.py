"""3DCC video corruptions (H.265 CRF/ABR, bit errors) through a real ffmpeg.

Skipped where ffmpeg is missing, except the test of the error message itself.
Each call runs ffmpeg two or three times (~0.2 s each), so the image count is small.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import corruptions.video as video
from corruptions import apply, resolve_params

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
VIDEO_OPS = ("h265_crf", "h265_abr", "bit_error")


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_missing_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(video.shutil, "which", lambda name: None)
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(video.FFmpegNotFoundError, match="apt-get install ffmpeg"):
        video.h265_crf(img, crf=24, clip_half=2, pan_px=2.0, rng=np.random.default_rng(0))


def test_slice_payload_positions_skip_parameter_sets():
    # SPS (type 7), PPS (8), IDR slice (5) with 3 payload bytes, non-IDR slice (1) with 2.
    stream = bytes([0, 0, 0, 1, 0x67, 9, 9, 0, 0, 1, 0x68, 9, 0, 0, 1, 0x65, 7, 7, 7,
                    0, 0, 0, 1, 0x41, 5, 5])
    pos = video._slice_payload_positions(stream)
    assert [stream[p] for p in pos] == [7, 7, 7, 5, 5]
    assert all(stream[p] not in (0x67, 0x68, 0x65, 0x41) for p in pos)


@needs_ffmpeg
def test_provenance_records_ffmpeg_build():
    p = resolve_params("h265_crf", severity=3, preset="imagenet224", shape=(224, 224, 3))
    assert p["crf"] == 32 and p["_ffmpeg"].startswith("ffmpeg version")


@needs_ffmpeg
@pytest.mark.parametrize("name", VIDEO_OPS)
def test_shape_and_determinism_on_odd_sizes(name):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (31, 45, 3), dtype=np.uint8)
    before = img.copy()
    a = apply(name, img, severity=5, preset="cifar32", rng=np.random.default_rng(1))
    b = apply(name, img, severity=5, preset="cifar32", rng=np.random.default_rng(1))
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(img, before)


@needs_ffmpeg
def test_h265_quality_falls_with_severity(photos224):
    imgs = photos224[:3]
    for name in ("h265_crf", "h265_abr"):
        psnr = []
        for s in (1, 5):
            vals = [_psnr(apply(name, im, severity=s, preset="imagenet224",
                                rng=np.random.default_rng(i)), im) for i, im in enumerate(imgs)]
            psnr.append(float(np.mean(vals)))
        print(f"{name}: PSNR severity 1 {psnr[0]:.2f} dB, severity 5 {psnr[1]:.2f} dB")
        assert psnr[0] > 30.0, name  # light compression keeps the view
        assert psnr[0] > psnr[1] + 3.0, name


@needs_ffmpeg
def test_h265_crf_matches_direct_encode(photos224):
    # The last decoded frame of the clip is the original view, compressed: it must be far
    # closer to the image than to a shifted copy of it.
    img = photos224[0]
    out = video.h265_crf(img, crf=24, clip_half=8, pan_px=24.0, rng=np.random.default_rng(0))
    shifted = np.roll(img, 3, axis=1)
    assert _psnr(out, img) > _psnr(out, shifted) + 5


@needs_ffmpeg
def test_bit_error_corrupts_only_when_bytes_are_hit(photos224):
    img = photos224[1]
    kw = {"clip_half": 8, "pan_px": 24.0}
    clean = video.bit_error(img, period=10**12, rng=np.random.default_rng(2), **kw)
    # With the same draws, a 1e12 period hits nothing: the plain H.264 (CRF 23) decode.
    frames = video._clip(img, 8, 24.0, np.random.default_rng(2))
    plain = video._last_frame(video._encode_h264(frames), "h264", img)
    np.testing.assert_array_equal(clean, plain)
    hit = video.bit_error(img, period=200, rng=np.random.default_rng(2), **kw)
    print(f"bit_error: PSNR clean {_psnr(clean, img):.2f} dB, period 200 {_psnr(hit, img):.2f} dB")
    assert _psnr(hit, img) < _psnr(clean, img) - 3.0
