"""The encoding contract: JPEG equals the reference save, PNG is lossless, the section is strict."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.encoding import (
    DEFAULT,
    JPEG_RELEASE,
    PNG_FAST,
    PNG_LEGACY,
    PNG_STRATEGIES,
    EncodingSpec,
    describe,
    encode_image,
    parse_section,
)
from pipeline.errors import ManifestError
from pipeline.manifest import parse_manifest
from pipeline.shards import encode_png


def _reference_jpeg(img: np.ndarray) -> bytes:
    """hendrycks/robustness make_imagenet_c.py's save, into memory."""
    buf = io.BytesIO()
    Image.fromarray(np.uint8(img)).save(buf, "JPEG", quality=85, optimize=True)
    return buf.getvalue()


def _pil_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def real_images(photos224, cifar10_test, mnist_test_images) -> list[np.ndarray]:
    return [*photos224[:4], *cifar10_test[0][:8], *mnist_test_images[:8]]


def test_jpeg_release_is_the_reference_save(real_images) -> None:
    """Bytes and pixels equal Image.fromarray(np.uint8(img)).save(quality=85, optimize=True)."""
    for img in real_images:
        ours = encode_image(img, JPEG_RELEASE)
        ref = _reference_jpeg(img)
        assert ours == ref
        np.testing.assert_array_equal(_pil_pixels(ours), _pil_pixels(ref))
    # lossy: the decoded pixels are not the input (the test above would pass for PNG otherwise)
    assert not np.array_equal(_pil_pixels(encode_image(real_images[0], JPEG_RELEASE)),
                              real_images[0])


def test_jpeg_gray_with_channel_axis_and_settings(mnist_test_images) -> None:
    img = mnist_test_images[0]
    assert encode_image(img[..., None], JPEG_RELEASE) == _reference_jpeg(img)
    q50 = encode_image(img, EncodingSpec("jpeg", quality=50))
    assert q50 != _reference_jpeg(img)
    with pytest.raises(ValueError, match="alpha"):
        encode_image(np.zeros((4, 4, 4), np.uint8), JPEG_RELEASE)


@pytest.mark.parametrize("strategy", PNG_STRATEGIES)
def test_png_is_lossless_for_every_strategy(real_images, strategy: str) -> None:
    spec = EncodingSpec("png", compression=6, strategy=strategy)
    rgba = np.dstack([real_images[0], np.arange(224 * 224, dtype=np.uint32).reshape(224, 224)
                      .astype(np.uint8)])
    depth16 = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 61).astype(np.uint16)
    for img in [*real_images, rgba, depth16]:
        back = cv2.imdecode(np.frombuffer(encode_image(img, spec), np.uint8), cv2.IMREAD_UNCHANGED)
        if back.ndim == 3:
            back = cv2.cvtColor(back, cv2.COLOR_BGR2RGB if back.shape[2] == 3 else
                                cv2.COLOR_BGRA2RGBA)
        np.testing.assert_array_equal(back, img)


def test_png_legacy_is_the_previous_encoder(real_images) -> None:
    """PNG_LEGACY is what benchsmith wrote before (OpenCV, zlib level 6, default strategy)."""
    for img in real_images:
        arr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
        old = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 6])[1].tobytes()
        assert encode_image(img, PNG_LEGACY) == old
    # the fast default is another byte stream (hence the recorded settings), same pixels
    assert encode_image(real_images[0], PNG_FAST) != encode_image(real_images[0], PNG_LEGACY)
    assert encode_png(real_images[0]) == encode_image(real_images[0], DEFAULT)


def test_describe_records_settings_and_libraries() -> None:
    jpeg = describe(JPEG_RELEASE)
    assert {k: jpeg[k] for k in ("format", "quality", "optimize", "subsampling")} == {
        "format": "jpeg", "quality": 85, "optimize": True, "subsampling": "4:2:0"}
    assert set(jpeg["library"]) == {"pillow", "libjpeg", "libjpeg_turbo"}
    png = describe(PNG_FAST)
    assert png["format"] == "png" and png["strategy"] == "rle" and "quality" not in png
    assert png["library"]["opencv"] == cv2.__version__
    assert describe(PNG_LEGACY) != png


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"format": "gif"}, r"encoding\.format: 'gif' is not one of \['png', 'jpeg'\]"),
        ({"quality": 85}, r"encoding\.format: None"),
        ({"format": "png", "quality": 85}, r"unknown key\(s\) \['quality'\].*strategy"),
        ({"format": "jpeg", "strategy": "rle"}, r"unknown key\(s\) \['strategy'\].*quality"),
        ({"format": "jpeg", "quality": 0}, r"encoding\.quality: .*1\.\.100"),
        ({"format": "jpeg", "quality": True}, r"encoding\.quality"),
        ({"format": "jpeg", "optimize": "yes"}, r"encoding\.optimize: .*true or false"),
        ({"format": "jpeg", "subsampling": "4:1:1"}, r"encoding\.subsampling: .*4:2:0"),
        ({"format": "png", "compression": 10}, r"encoding\.compression: .*0\.\.9"),
        ({"format": "png", "strategy": "zip"}, r"encoding\.strategy: .*rle"),
        ("jpeg", r"expected a mapping"),
    ],
)
def test_section_refuses_bad_input(section, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_section(section, "m.yaml: encoding")


def test_section_defaults_and_manifest_registration() -> None:
    assert parse_section({"format": "jpeg"}, "w") == JPEG_RELEASE
    assert parse_section({"format": "jpeg", "quality": 85, "optimize": True}, "w") == JPEG_RELEASE
    assert parse_section({"format": "png"}, "w") == PNG_FAST
    assert parse_section({"format": "png", "compression": 6, "strategy": "default"},
                         "w") == PNG_LEGACY
    base = {"name": "x", "sources": [{"source": "digits", "splits": ["train"]}]}
    m = parse_manifest({**base, "encoding": {"format": "jpeg", "quality": 85}}, path="m.yaml")
    assert m.sections["encoding"] == JPEG_RELEASE
    assert "encoding" not in parse_manifest(base, path="m.yaml").sections
    with pytest.raises(ManifestError, match=r"m\.yaml: encoding: unknown key"):
        parse_manifest({**base, "encoding": {"format": "png", "level": 3}}, path="m.yaml")
