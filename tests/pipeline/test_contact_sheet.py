from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.contact_sheet import contact_sheet_array, render_contact_sheet, sheet_layout


def _digit(seed: int, shape=(28, 28)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros(shape, np.uint8)
    img[6:22, 10:18] = rng.integers(60, 255, size=(16, 8), dtype=np.uint8)
    return img


def _rows():
    rgb = np.stack([_digit(9), np.zeros((28, 28), np.uint8), _digit(10)], axis=2)
    return [
        ("identity", [_digit(0), _digit(1), _digit(2)]),
        ("rotate", [_digit(3), rgb, _digit(4)]),
        ("fog (missing s3)", [_digit(5), _digit(6)]),
    ]


LABELS = ["severity 1", "severity 2", "severity 3"]


def test_render_and_read_back(tmp_path):
    rows = _rows()
    path = render_contact_sheet(
        rows, column_labels=LABELS, path=tmp_path / "sub" / "sheet.png", scale=2
    )
    assert path.exists() and [p.name for p in path.parent.iterdir()] == ["sheet.png"]
    layout = sheet_layout(rows, column_labels=LABELS, scale=2)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == (layout.width, layout.height)
        sheet = np.asarray(im)
    assert layout.width >= 3 * 56 and layout.height >= 3 * 56
    for (_, images), boxes in zip(rows, layout.cells, strict=True):
        for c, box in enumerate(boxes):
            if c >= len(images):
                assert box is None
                continue
            left, top, right, bottom = box
            assert (right - left, bottom - top) == (56, 56)
            cell = sheet[top:bottom, left:right]
            src = images[c] if images[c].ndim == 3 else np.repeat(images[c][..., None], 3, 2)
            expected = np.repeat(np.repeat(src, 2, axis=0), 2, axis=1)
            assert np.array_equal(cell, expected)  # nearest upscaling, pixel exact
            assert cell.std() > 0  # non-blank
    # The missing cell is drawn as a flat light-gray slot.
    sl, st, sr, sb = layout.slots[2][2]
    assert (sheet[st:sb, sl:sr] == 224).all()
    # Labels are drawn (dark pixels left of the grid and above it).
    first_cell_left = layout.cells[0][0][0]
    assert (sheet[:, :first_cell_left] < 128).any()
    assert (sheet[: layout.cells[0][0][1], :] < 128).any()


def test_same_inputs_same_bytes(tmp_path):
    a = render_contact_sheet(_rows(), column_labels=LABELS, path=tmp_path / "a.png", scale=3)
    b = render_contact_sheet(_rows(), column_labels=LABELS, path=tmp_path / "b.png", scale=3)
    assert a.read_bytes() == b.read_bytes()
    # Overwriting is atomic and leaves no temporary file behind.
    render_contact_sheet(_rows()[:1], column_labels=LABELS, path=a, scale=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_mixed_sizes_are_centred():
    rows = [
        ("wide strip", [np.full((10, 40), 200, np.uint8)]),
        ("small", [np.full((4, 4), 50, np.uint8)]),
    ]
    layout = sheet_layout(rows, column_labels=["s1"], scale=1)
    (l0, _, r0, _), (l1, t1, r1, b1) = layout.cells[0][0], layout.cells[1][0]
    assert r0 - l0 == 40 and r1 - l1 == 4
    assert abs((l1 + r1) / 2 - (l0 + r0) / 2) <= 1
    arr = contact_sheet_array(rows, column_labels=["s1"], scale=1)
    assert (arr[t1:b1, l1:r1] == 50).all()


@pytest.mark.parametrize(
    "rows, labels, scale, err",
    [
        ([], ["a"], 1, ValueError),
        ([("r", [np.zeros((4, 4), np.uint8)] * 2)], ["a"], 1, ValueError),
        ([("r", [np.zeros((4, 4), np.float32)])], ["a"], 1, TypeError),
        ([("r", [np.zeros((4, 4, 2), np.uint8)])], ["a"], 1, ValueError),
        ([("r", [np.zeros((4, 4), np.uint8)])], ["a"], 0, ValueError),
        ([("r", [np.zeros((4, 4), np.uint8)])], ["a"], 1.5, ValueError),
    ],
)
def test_bad_input_is_refused(tmp_path, rows, labels, scale, err):
    with pytest.raises(err):
        render_contact_sheet(rows, column_labels=labels, path=tmp_path / "x.png", scale=scale)
    assert not (tmp_path / "x.png").exists()
