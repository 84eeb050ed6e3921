"""torchvision-0.2-era ``Resize(256)`` + ``CenterCrop(224)`` arithmetic, on odd sizes.

Expected sizes and offsets are written out by hand from torchvision 0.2.x
``transforms/functional.py`` (``resize``: longer side ``int(size * long / short)``;
``center_crop``: ``int(round((h - th) / 2.))``), chosen where truncation differs from
rounding and where Python 3's half-to-even ``round`` differs from flooring.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import SourceError
from pipeline.preprocess import (
    INCEPTION_CROP_FRACTION,
    center_crop,
    crop_box,
    preprocess_image,
    resize_exact,
    resize_shorter,
    resized_shape,
)

#: (h, w) -> torchvision Resize(256) output (h, w); comments give the exact quotient.
RESIZE_CASES = {
    (375, 500): (256, 341),  # 341.33
    (500, 375): (341, 256),
    (3, 5): (256, 426),  # 426.67: truncated, where rounding gives 427
    (5, 3): (426, 256),
    (333, 500): (256, 384),  # 384.38
    (257, 511): (256, 509),  # 509.01
    (300, 301): (256, 256),  # 256.85: truncated to a square
    (256, 999): (256, 999),  # shorter side already 256: unchanged
    (999, 256): (999, 256),
    (256, 256): (256, 256),
    (100, 100): (256, 256),
    (1, 7): (256, 1792),
}

#: (h, w) of the resized image -> CenterCrop(224) (top, left).
CROP_CASES = {
    (256, 341): (16, 58),  # 58.5 -> 58 (half to even; floor agrees)
    (256, 343): (16, 60),  # 59.5 -> 60 (half to even; floor gives 59)
    (256, 339): (16, 58),  # 57.5 -> 58 (floor gives 57)
    (257, 256): (16, 16),  # 16.5 -> 16
    (259, 256): (18, 16),  # 17.5 -> 18
    (224, 224): (0, 0),
    (225, 225): (0, 0),  # 0.5 -> 0
    (227, 227): (2, 2),  # 1.5 -> 2
}


@pytest.mark.parametrize(("shape", "expected"), RESIZE_CASES.items())
def test_resized_shape_truncates_the_longer_side(shape, expected):
    assert resized_shape(*shape, 256) == expected


@pytest.mark.parametrize(("shape", "expected"), CROP_CASES.items())
def test_crop_offsets_round_half_to_even(shape, expected):
    assert crop_box(*shape, 224, 224) == expected


def _photo(h: int, w: int) -> np.ndarray:
    import skimage.data

    return np.asarray(Image.fromarray(skimage.data.astronaut()).resize((w, h), Image.BILINEAR))


@pytest.mark.parametrize("shape", [(375, 500), (500, 343 * 375 // 256), (301, 257), (257, 511)])
def test_pixels_are_pil_bilinear_at_torchvision_size_then_the_rounded_crop(shape):
    image = _photo(*shape)
    out = preprocess_image(image, {"resize_shorter": 256, "center_crop": 224})
    oh, ow = resized_shape(*shape, 256)
    resized = np.asarray(Image.fromarray(image).resize((ow, oh), Image.BILINEAR))
    top, left = crop_box(oh, ow, 224, 224)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, resized[top : top + 224, left : left + 224])


def test_one_pixel_shift_against_the_rounding_floor_recipe():
    """(256, 343) after resizing: torchvision's crop starts at column 60, a floor at 59."""
    image = _photo(256, 343)
    out = preprocess_image(image, {"resize_shorter": 256, "center_crop": 224})
    np.testing.assert_array_equal(out, image[16:240, 60:284])
    assert not np.array_equal(out, image[16:240, 59:283])


def test_shorter_side_already_the_size_is_returned_as_is():
    image = _photo(256, 301)
    assert resize_shorter(image, 256) is image
    gray = image[..., 0].copy()
    assert resize_shorter(gray, 100).shape == (100, int(100 * 301 / 256))


def test_inception_recipe_crops_a_fraction_then_resizes_to_299():
    """make_imagenet_c_inception.py: center_crop(0.875) with int(h * .875), then 299x299."""
    image = _photo(375, 500)
    crop = center_crop(image, INCEPTION_CROP_FRACTION)
    th, tw = int(375 * 0.875), int(500 * 0.875)  # 328, 437
    assert crop.shape[:2] == (th, tw) == (328, 437)
    top, left = int(round((375 - th) / 2.0)), int(round((500 - tw) / 2.0))  # 23.5 -> 24, 31.5 -> 32
    assert (top, left) == (24, 32)
    np.testing.assert_array_equal(crop, image[24 : 24 + th, 32 : 32 + tw])
    out = resize_exact(crop, 299, 299)
    ref = np.asarray(Image.fromarray(crop).resize((299, 299), Image.BILINEAR))
    assert out.shape == (299, 299, 3)
    np.testing.assert_array_equal(out, ref)
    recipe = {"center_crop_fraction": INCEPTION_CROP_FRACTION, "resize": 299}
    np.testing.assert_array_equal(preprocess_image(image, recipe), ref)


def test_bad_crops_are_source_errors():
    image = _photo(200, 300)
    with pytest.raises(SourceError, match="does not fit"):
        preprocess_image(image, {"center_crop": 224})
    with pytest.raises(SourceError, match="fraction"):
        center_crop(image, 1.5)
    assert preprocess_image(image, {}) is image
