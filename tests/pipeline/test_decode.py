"""The decoding front door: pixel limit before decoding, one rule per mode, clear errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import jpeg_bomb, png_bomb, real_jpegs, real_pixels
from PIL import Image

from pipeline.decode import DEFAULT_MAX_PIXELS, declared_size, decode_image, read_depth_png
from pipeline.errors import DecodeError, SourceError

REPO = Path(__file__).resolve().parents[2]


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_png_bomb_refused_fast_with_bounded_memory(shared_dir: Path, tmp_path: Path) -> None:
    bomb = png_bomb()
    assert 800_000 < len(bomb) < 900_000 and declared_size(bomb) == (30000, 30000)
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    # A fresh interpreter so its peak RSS is this decode's, not the test session's.
    code = (
        "import json, resource, sys, time\n"
        "from pipeline.decode import decode_image\n"
        "from pipeline.errors import DecodeError\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "t = time.perf_counter()\n"
        "try:\n    decode_image(data, what='bomb'); msg = None\n"
        "except DecodeError as exc:\n    msg = str(exc)\n"
        "print(json.dumps({'s': time.perf_counter() - t, 'msg': msg, 'kb': "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""})
    res = json.loads(out.stdout)
    assert res["msg"] and "30000x30000" in res["msg"] and "max_pixels" in res["msg"]
    assert res["s"] < 1.0, res  # the unguarded decode took 34 s
    assert res["kb"] < 20_000, res  # < 20 MB above the baseline (the unguarded decode: 1.9 GB)


def test_jpeg_bomb_refused_from_its_sof_marker(shared_dir: Path) -> None:
    assert declared_size(jpeg_bomb()) == (60000, 60000)
    with pytest.raises(DecodeError, match=r"60000x60000 = 3,600,000,000 pixels.*max_pixels"):
        decode_image(jpeg_bomb(), what="row 3")


def test_limit_is_configurable_per_call_and_by_environment(
    shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = _png(real_pixels()[0][0])  # 32x32 = 1024 pixels
    assert decode_image(img).shape == (32, 32, 3)
    with pytest.raises(DecodeError, match=r"32x32 = 1,024 pixels, over the limit of 1,000"):
        decode_image(img, max_pixels=1000)
    monkeypatch.setenv("BENCHSMITH_MAX_PIXELS", "1000")
    with pytest.raises(DecodeError, match="limit of 1,000"):
        decode_image(real_jpegs()[0])
    monkeypatch.setenv("BENCHSMITH_MAX_PIXELS", "lots")
    with pytest.raises(DecodeError, match=r"BENCHSMITH_MAX_PIXELS='lots' must be a positive"):
        decode_image(img)
    assert DEFAULT_MAX_PIXELS == Image.MAX_IMAGE_PIXELS


def test_sixteen_bit_gray_uses_one_rule_for_every_image() -> None:
    for value in (200, 300, 32768, 65535):
        got = decode_image(_png(np.full((3, 3), value, np.uint16)))
        assert got.dtype == np.uint8 and got.shape == (3, 3)
        assert int(got[0, 0]) == round(value * 255 / 65535)  # never the image's own maximum


def test_wide_modes_refused_not_clipped() -> None:
    def tiff(arr: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="TIFF")
        return buf.getvalue()

    with pytest.raises(DecodeError, match="mode F"):
        decode_image(tiff(np.full((2, 2), 0.5, np.float32)))
    with pytest.raises(DecodeError, match="outside the 16-bit range"):
        decode_image(tiff(np.full((2, 2), 100_000, np.int32)))


def test_fast_path_equals_pillow_and_alpha_is_dropped(shared_dir: Path) -> None:
    rgb = real_pixels()[0][1]
    for arr in (rgb, rgb[..., 0]):
        data = _png(arr)
        np.testing.assert_array_equal(decode_image(data), arr)
        np.testing.assert_array_equal(decode_image(data), np.asarray(Image.open(io.BytesIO(data))))
    rgba = np.concatenate([rgb, np.full((32, 32, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(decode_image(_png(rgba)), rgb)
    jpeg = real_jpegs()[2]
    np.testing.assert_array_equal(decode_image(jpeg),
                                  np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")))


def test_errors_are_deterministic_and_name_what(tmp_path: Path) -> None:
    msgs = set()
    for _ in range(2):
        with pytest.raises(DecodeError) as info:
            decode_image(b"not an image", what="x.parquet row 7")
        msgs.add(str(info.value))
    (msg,) = msgs  # same message every time: no object addresses
    assert msg.startswith("x.parquet row 7: cannot decode image") and "0x7f" not in msg
    with pytest.raises(DecodeError, match="row 2: image value is int"):
        decode_image(5, what="row 2")  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="cannot read the file"):
        decode_image(None, path=tmp_path / "missing.png", what="missing.png")
    assert issubclass(DecodeError, SourceError)  # sources quarantine it


def test_path_and_bytes_decode_alike(tmp_path: Path, shared_dir: Path) -> None:
    p = tmp_path / "a.jpg"
    p.write_bytes(real_jpegs()[3])
    np.testing.assert_array_equal(decode_image(None, path=p), decode_image(real_jpegs()[3]))
    big = tmp_path / "big.jpg"
    with open(big, "wb") as fh:  # sparse: 9 MB that no 1,000-pixel image can need
        fh.write(real_jpegs()[3])
        fh.truncate(9_000_000)
    with pytest.raises(DecodeError, match=r"file is 9,000,000 bytes.*it was not read"):
        decode_image(None, path=big, max_pixels=1000)


def test_depth_png_limit_and_format() -> None:
    depth = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    np.testing.assert_array_equal(read_depth_png(None, _png(depth)), depth.astype(np.float32))
    with pytest.raises(DecodeError, match="over the limit of 5"):
        read_depth_png(None, _png(depth), max_pixels=5)
    with pytest.raises(DecodeError, match="not a PNG depth map"):
        read_depth_png(None, b"\xff\xd8junk")
