"""3DCC video corruptions (H.265 CRF/ABR, bit errors) through a real ffmpeg.

Skipped where ffmpeg is missing, except the test of the error message itself.
Each call runs ffmpeg three times on a 120-frame clip, so the image count is small.
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


def _clip_kw(side):
    p = resolve_params("h265_crf", severity=1, preset="auto", shape=(side, side, 3))
    return {k: p[k] for k in video._CLIP_KEYS}


def test_missing_ffmpeg_is_a_clear_error(monkeypatch):
    kw = _clip_kw(16)  # before the patch: resolve_params caches the ffmpeg version
    monkeypatch.setattr(video.shutil, "which", lambda name: None)
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(video.FFmpegNotFoundError, match="apt-get install ffmpeg"):
        video.h265_crf(img, crf=24, rng=np.random.default_rng(0),
                       source_rng=np.random.default_rng(0), **kw)


def test_camera_clip_is_the_scripts_forward_backward_clip():
    # 60 views out, 59 back, plus moviepy's repeated last frame: 120 frames, and frames 0,
    # 118 and 119 (the kept input00120.png) are the original view.
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    clip = video.camera_clip(img, **_clip_kw(32), rng=np.random.default_rng(1))
    assert clip.shape == (120, 32, 32, 3)
    for k in (0, 118, 119):
        np.testing.assert_array_equal(clip[k], img)
    np.testing.assert_array_equal(clip[59 - 10], clip[59 + 10])
    assert not np.array_equal(clip[59], img)
    # moviepy's frame times: arange over the float sum of 119 durations gives 120 frames.
    assert len(np.arange(0, np.cumsum([0] + [1 / 25] * 119)[-1], 1 / 25)) == 120


@needs_ffmpeg
def test_mdat_span_is_every_packet_byte(tmp_path):
    # The bit-error model walks the mp4's packet bytes: the mdat payload must be exactly the
    # sum of the packet sizes ffprobe reports.
    import json
    import subprocess

    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    clip = video.camera_clip(img, **_clip_kw(32), rng=np.random.default_rng(1))
    (tmp_path / "c.rgb").write_bytes(clip.tobytes())
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", "32x32", "-r", "25", "-i", str(tmp_path / "c.rgb"), "-c:v", "libx264",
                    "-threads", "1", "-pix_fmt", "yuv420p", str(tmp_path / "s.mp4")], check=True)
    probe = subprocess.run(["ffprobe", "-v", "quiet", "-print_format", "json", "-show_packets",
                            "-show_format", str(tmp_path / "s.mp4")],
                           capture_output=True, check=True)
    info = json.loads(probe.stdout)
    data = (tmp_path / "s.mp4").read_bytes()
    start, end = video.mdat_span(data)
    assert end - start == sum(int(p["size"]) for p in info["packets"])
    assert len(info["packets"]) == 120
    # and the ABR source bitrate is ffprobe's format.bit_rate
    assert int(video._source_bitrate(len(data))) == int(info["format"]["bit_rate"])
    with pytest.raises(ValueError, match="mdat"):
        video.mdat_span(b"\x00\x00\x00\x08free")


@needs_ffmpeg
def test_provenance_records_ffmpeg_build():
    p = resolve_params("h265_crf", severity=3, preset="imagenet224", shape=(224, 224, 3))
    assert p["crf"] == 32 and p["_ffmpeg"].startswith("ffmpeg version")
    assert p["path_frames"] == 60 and p["u_max"] == pytest.approx(75 * 224 / 512, abs=1e-3)


@needs_ffmpeg
@pytest.mark.parametrize("name", VIDEO_OPS)
def test_shape_and_determinism_on_odd_sizes(name, photos224):
    img = np.ascontiguousarray(photos224[0][::5, ::4][:31, :45])  # 31 x 45 (padded to 32 x 64)
    before = img.copy()
    a = apply(name, img, severity=5, preset="cifar32", rng=np.random.default_rng(1),
              source_rng=np.random.default_rng(7))
    b = apply(name, img, severity=5, preset="cifar32", rng=np.random.default_rng(1),
              source_rng=np.random.default_rng(7))
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(img, before)


@needs_ffmpeg
@pytest.mark.parametrize("name", VIDEO_OPS)
def test_apply_many_matches_apply_whatever_the_batch(name, cifar10_test):
    # Per-sample determinism: an image's bytes do not depend on which images share its batch
    # (nor on their order), and equal apply() on the image alone.
    images = [np.ascontiguousarray(im) for im in cifar10_test[0][:3]]
    seeds = {0: 10, 1: 11, 2: 12}
    video.clear_memos()  # computed here, not taken from an earlier test's memo
    full = video.apply_many(name, images, severity=5, preset="cifar32",
                            rngs=[np.random.default_rng(seeds[i]) for i in range(3)],
                            source_rngs=[np.random.default_rng(seeds[i] + 5) for i in range(3)])
    video.clear_memos()
    swapped = video.apply_many(name, [images[2], images[0]], severity=5, preset="cifar32",
                               rngs=[np.random.default_rng(seeds[i]) for i in (2, 0)],
                               source_rngs=[np.random.default_rng(seeds[i] + 5) for i in (2, 0)])
    video.clear_memos()
    alone = apply(name, images[1], severity=5, preset="cifar32",
                  rng=np.random.default_rng(seeds[1]), source_rng=np.random.default_rng(16))
    np.testing.assert_array_equal(full[2], swapped[0])
    np.testing.assert_array_equal(full[0], swapped[1])
    np.testing.assert_array_equal(full[1], alone)
    with pytest.raises(ValueError, match="one source_rng per image"):
        video.apply_many(name, images, severity=1, preset="cifar32", rngs=[], source_rngs=[])


@needs_ffmpeg
def test_h265_quality_falls_with_severity(photos224):
    imgs = photos224[:2]
    for name in ("h265_crf", "h265_abr"):
        psnr = []
        for s in (1, 5):
            gens = range(len(imgs))
            outs = video.apply_many(name, imgs, severity=s, preset="imagenet224",
                                    rngs=[np.random.default_rng(i) for i in gens],
                                    source_rngs=[np.random.default_rng(i) for i in gens])
            psnr.append(float(np.mean([_psnr(o, im) for o, im in zip(outs, imgs, strict=True)])))
        print(f"{name}: PSNR severity 1 {psnr[0]:.2f} dB, severity 5 {psnr[1]:.2f} dB")
        assert psnr[0] > 28.0, name  # two generations (x264 CRF 23 then x265) keep the view
        assert psnr[0] > psnr[1] + 3.0, name


@needs_ffmpeg
def test_kept_frame_is_the_original_view(photos224):
    # Frame 120 shows the original view, compressed: far closer to the image than to a
    # shifted copy of it.
    img = photos224[0]
    out = video.h265_crf(img, crf=24, rng=np.random.default_rng(0),
                         source_rng=np.random.default_rng(0), **_clip_kw(224))
    shifted = np.roll(img, 3, axis=1)
    assert _psnr(out, img) > _psnr(out, shifted) + 5


@needs_ffmpeg
def test_bit_error_corrupts_only_when_bytes_are_hit(photos224):
    img = photos224[1]
    kw = _clip_kw(224)
    src = {"source_rng": np.random.default_rng(2)}
    clean = video.bit_error(img, period=10**12, rng=np.random.default_rng(2), **src, **kw)
    # A 1e12 period hits nothing: the plain H.264 (CRF 23) decode of frame 120.
    src = {"source_rng": np.random.default_rng(2)}
    h264 = video.h265_crf(img, crf=0, rng=np.random.default_rng(2), **src, **kw)
    src = {"source_rng": np.random.default_rng(2)}
    hit = video.bit_error(img, period=2000, rng=np.random.default_rng(2), **src, **kw)
    print(f"bit_error: PSNR clean {_psnr(clean, img):.2f} dB, period 2000 {_psnr(hit, img):.2f} "
          f"dB; lossless x265 of the source {_psnr(h264, img):.2f} dB")
    assert abs(_psnr(clean, img) - _psnr(h264, img)) < 0.5
    assert _psnr(hit, img) < _psnr(clean, img) - 3.0


@needs_ffmpeg
def test_one_source_video_per_image_for_all_15_outputs(cifar10_test, monkeypatch):
    """As the script (create_video.py), every video corruption and severity of an image
    starts from one clip and one H.264 source: x264 runs once per image, not 15 times, and
    the source depends on the family generator only, never on the (corruption, severity) one.
    """
    images = [np.ascontiguousarray(im) for im in cifar10_test[0][:2]]
    calls = []
    real = video._run
    monkeypatch.setattr(video, "_run", lambda args: (calls.append(args), real(args))[1])
    video.clear_memos()
    outs = {}
    for name in VIDEO_OPS:
        for s in (1, 5):
            outs[name, s] = video.apply_many(
                name, images, severity=s, preset="cifar32",
                rngs=[np.random.default_rng(100 + s) for _ in images],
                source_rngs=[np.random.default_rng(i) for i in range(len(images))])
    x264 = [a for a in calls if "libx264" in a]
    assert len(x264) == 1 and x264[0].count("libx264") == len(images)
    assert len(calls) == 1 + 2 * len(VIDEO_OPS) * 2 - 2  # bit_error has no x265 step
    # The memo changes nothing: the same output computed from scratch.
    video.clear_memos()
    again = video.apply_many("h265_crf", images, severity=5, preset="cifar32",
                             rngs=[np.random.default_rng(7) for _ in images],
                             source_rngs=[np.random.default_rng(i) for i in range(len(images))])
    for a, b in zip(again, outs["h265_crf", 5], strict=True):
        np.testing.assert_array_equal(a, b)
    # Another family generator is another clip.
    other = video.apply_many("h265_crf", images, severity=5, preset="cifar32",
                             rngs=[np.random.default_rng(7) for _ in images],
                             source_rngs=[np.random.default_rng(50 + i) for i in range(2)])
    assert any(not np.array_equal(a, b) for a, b in zip(other, again, strict=True))


@needs_ffmpeg
def test_h265_steps_read_the_source_decoded_once(cifar10_test, photos224, monkeypatch):
    """After the first x265 step of an image, later ones feed x265 the H.264 source's frames
    decoded once (rawvideo yuv420p) instead of decoding the mp4 again, with byte-identical
    outputs at every severity of both H.265 corruptions, at 32 px, at sizes the clip pads
    (odd height, width not a multiple of 32) and at 224 px; without room for a batch's
    frames every step decodes the mp4 as before."""
    small = [np.ascontiguousarray(im) for im in cifar10_test[0][:2]]
    small.append(np.ascontiguousarray(cifar10_test[0][2][:27, :30]))
    cases = [(small, "cifar32", (1, 3, 5)), (photos224[:1], "imagenet224", (1, 5))]
    calls = []
    real = video._run
    monkeypatch.setattr(video, "_run", lambda args: (calls.append(args), real(args))[1])

    def run(images, preset, name, s):
        return video.apply_many(name, images, severity=s, preset=preset,
                                rngs=[np.random.default_rng(s) for _ in images],
                                source_rngs=[np.random.default_rng(i) for i in range(len(images))])

    for images, preset, severities in cases:
        video.clear_memos()
        calls.clear()
        memo = {(n, s): run(images, preset, n, s)
                for n in ("h265_crf", "h265_abr") for s in severities}
        x265 = [a for a in calls if "libx265" in a]
        assert x265[0].count("yuv420p") == len(images)  # first step: mp4 in, frames kept
        assert all(a.count("rawvideo") == len(images) for a in x265[1:])  # later: frames in
        assert len(video._YUV) == len(images)
        with monkeypatch.context() as m:
            m.setattr(video, "_YUV_MAX_BYTES", 0)
            video.clear_memos()
            calls.clear()
            for (n, s), outs in memo.items():
                for a, b in zip(run(images, preset, n, s), outs, strict=True):
                    np.testing.assert_array_equal(a, b, err_msg=f"{n} s{s} {preset}")
            assert not any("rawvideo" in a and "libx265" in a for a in calls)
            assert not video._YUV
    # A batch of other images drops the earlier batch's frames (an earlier shard's images
    # never come back), so the memo holds at most one batch.
    video.clear_memos()
    run(small, "cifar32", "h265_crf", 1)
    assert len(video._YUV) == len(small)
    run(photos224[:1], "imagenet224", "h265_crf", 1)
    assert len(video._YUV) == 1
