"""Contact sheets: a labelled PNG grid of example images (corruption x severity).

Rows carry a label and one image per column (an image may itself be a strip of
several samples); columns carry labels across the top. The grid is drawn with
Pillow's built-in default font, upscaled with nearest-neighbour so single
pixels stay visible, and written atomically (temporary name in the same
folder, then :func:`os.replace`). The same inputs give the same bytes (no
timestamps or other metadata are written). No dataset I/O happens here.

Example:
    >>> import numpy as np
    >>> img = np.zeros((4, 4), np.uint8)
    >>> sheet = contact_sheet_array([("fog", [img, img])], column_labels=["s1", "s2"], scale=2)
    >>> sheet.dtype, sheet.ndim
    (dtype('uint8'), 3)

"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SheetLayout", "sheet_layout", "contact_sheet_array", "render_contact_sheet"]

Rows = Sequence[tuple[str, Sequence[np.ndarray]]]

PAD = 4  # pixels around labels and between cells
BACKGROUND = (255, 255, 255)
EMPTY_CELL = (224, 224, 224)
TEXT = (0, 0, 0)


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes on the sheet (pixels).

    Attributes:
        width: Sheet width.
        height: Sheet height.
        slots: ``slots[r][c]`` = (left, top, right, bottom) of the grid slot of
            row ``r``, column ``c`` (column width x row height).
        cells: ``cells[r][c]`` = box of the upscaled image inside its slot
            (centred), or ``None`` where the row has no image for that column.
        row_label_xy: Top-left corner of each row label.
        column_label_xy: Top-left corner of each column label.

    """

    width: int
    height: int
    slots: tuple[tuple[tuple[int, int, int, int], ...], ...]
    cells: tuple[tuple[tuple[int, int, int, int] | None, ...], ...]
    row_label_xy: tuple[tuple[int, int], ...]
    column_label_xy: tuple[tuple[int, int], ...]


def _font():
    from PIL import ImageFont

    return ImageFont.load_default()


def _text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = _font().getbbox(text)
    return int(np.ceil(right - min(left, 0))), int(np.ceil(bottom - min(top, 0)))


def _check(rows: Rows, column_labels: Sequence[str], scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(
            f"scale must be a positive integer (nearest-neighbour factor), got {scale!r}"
        )
    if not rows:
        raise ValueError("rows is empty; give at least one (row_label, images) pair")
    for label, images in rows:
        if len(images) > len(column_labels):
            raise ValueError(
                f"row {label!r} has {len(images)} images but there are only "
                f"{len(column_labels)} column labels; add labels or drop images"
            )
        for image in images:
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
                raise TypeError(f"row {label!r}: images must be uint8 numpy arrays")
            if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
                raise ValueError(
                    f"row {label!r}: image shape {image.shape} is not (H, W), (H, W, 1|3|4)"
                )


def sheet_layout(rows: Rows, *, column_labels: Sequence[str], scale: int) -> SheetLayout:
    """Compute the sheet geometry without drawing anything.

    Args:
        rows: ``(row_label, images)`` pairs; images are uint8 (H, W) or (H, W, C).
        column_labels: One label per column.
        scale: Integer nearest-neighbour upscaling factor, >= 1.

    Returns:
        The :class:`SheetLayout`.

    Raises:
        ValueError: Empty rows, a row with more images than columns, bad scale or shape.

    """
    _check(rows, column_labels, scale)
    n_cols = len(column_labels)
    label_w = max(_text_size(label)[0] for label, _ in rows)
    header_h = max([_text_size(label)[1] for label in column_labels] + [0])
    col_w = [_text_size(label)[0] for label in column_labels]
    row_h = [_text_size(label)[1] for label, _ in rows]
    for r, (_, images) in enumerate(rows):
        for c, image in enumerate(images):
            col_w[c] = max(col_w[c], image.shape[1] * scale)
            row_h[r] = max(row_h[r], image.shape[0] * scale)
    x0 = [PAD + label_w + PAD]
    for w in col_w[:-1]:
        x0.append(x0[-1] + w + PAD)
    y0 = [PAD + header_h + PAD]
    for h in row_h[:-1]:
        y0.append(y0[-1] + h + PAD)
    width = x0[-1] + col_w[-1] + PAD
    height = y0[-1] + row_h[-1] + PAD
    slots = tuple(
        tuple((x0[c], y0[r], x0[c] + col_w[c], y0[r] + row_h[r]) for c in range(n_cols))
        for r in range(len(rows))
    )
    cells = []
    for r, (_, images) in enumerate(rows):
        boxes: list[tuple[int, int, int, int] | None] = []
        for c in range(n_cols):
            if c >= len(images):
                boxes.append(None)
                continue
            h, w = images[c].shape[0] * scale, images[c].shape[1] * scale
            left = x0[c] + (col_w[c] - w) // 2
            top = y0[r] + (row_h[r] - h) // 2
            boxes.append((left, top, left + w, top + h))
        cells.append(tuple(boxes))
    row_xy = tuple(
        (PAD, y + (h - _text_size(lab)[1]) // 2)
        for (lab, _), y, h in zip(rows, y0, row_h, strict=True)
    )
    col_xy = tuple(
        (x + (w - _text_size(lab)[0]) // 2, PAD)
        for lab, x, w in zip(column_labels, x0, col_w, strict=True)
    )
    return SheetLayout(width, height, slots, tuple(cells), row_xy, col_xy)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 4:
        image = image[..., :3]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image


def contact_sheet_array(rows: Rows, *, column_labels: Sequence[str], scale: int) -> np.ndarray:
    """Draw the contact sheet into an RGB array (pure: no I/O).

    Args:
        rows: ``(row_label, images)`` pairs; a row may have fewer images than
            columns (the missing cells are drawn light gray).
        column_labels: One label per column.
        scale: Integer nearest-neighbour upscaling factor, >= 1.

    Returns:
        uint8 array (height, width, 3).

    """
    from PIL import Image, ImageDraw

    layout = sheet_layout(rows, column_labels=column_labels, scale=scale)
    canvas = np.empty((layout.height, layout.width, 3), np.uint8)
    canvas[:] = BACKGROUND
    for (_, images), slots, boxes in zip(rows, layout.slots, layout.cells, strict=True):
        for c, box in enumerate(boxes):
            if box is None:
                sl, st, sr, sb = slots[c]
                canvas[st:sb, sl:sr] = EMPTY_CELL
                continue
            left, top, right, bottom = box
            big = np.repeat(np.repeat(_rgb(images[c]), scale, axis=0), scale, axis=1)
            canvas[top:bottom, left:right] = big
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    font = _font()
    for (label, _), xy in zip(rows, layout.row_label_xy, strict=True):
        draw.text(xy, label, fill=TEXT, font=font)
    for label, xy in zip(column_labels, layout.column_label_xy, strict=True):
        draw.text(xy, label, fill=TEXT, font=font)
    return np.asarray(pil)


def render_contact_sheet(
    rows: Rows, *, column_labels: Sequence[str], path: str | os.PathLike[str], scale: int
) -> Path:
    """Render the contact sheet and write it as a PNG, atomically.

    Args:
        rows: ``(row_label, images)`` pairs (uint8 images, gray or RGB/RGBA).
        column_labels: One label per column (e.g. ``"severity 3"``).
        path: Destination ``.png``; its folder is created if needed.
        scale: Integer nearest-neighbour upscaling factor, >= 1.

    Returns:
        The written path.

    Raises:
        ValueError: Bad rows, labels or scale (the message says which).

    """
    from PIL import Image

    sheet = contact_sheet_array(rows, column_labels=column_labels, scale=scale)
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="PNG", optimize=False, compress_level=6)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
