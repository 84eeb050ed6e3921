"""The camera clip and mp4 box walking of the 3DCC video chain (pure helpers of ``video``).

:func:`camera_clip` builds the script's forward-backward camera clip, :func:`mdat_span` finds
the packet bytes the bit-error model walks over. Both are re-exported by
:mod:`corruptions.video`, which documents the chain.

Reference:
    O. F. Kar, T. Yeo, A. Atanov, A. Zamir, "3D Common Corruptions and Data Augmentation",
    CVPR 2022 (EPFL-VILAB/3DCommonCorruptions ``motion_video/create_motion.py``).
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
from numpy.typing import NDArray

from corruptions.image import U8Image

__all__ = ["WIDTH_MULTIPLE", "camera_clip", "mdat_span"]

#: Clip widths are padded to a multiple of this: x265 3.5 (Debian 12) corrupts its heap on
#: other widths at small sizes (see :mod:`corruptions.video`).
WIDTH_MULTIPLE = 32


def camera_clip(
    image: U8Image,
    *,
    path_frames: int,
    u_min: float,
    u_max: float,
    v_max: float,
    zoom_min: float,
    zoom_max: float,
    jitter: float,
    rng: np.random.Generator,
) -> NDArray[np.uint8]:
    """Build the script's forward-backward camera clip as moviepy writes it (120 frames).

    Args:
        image: uint8 RGB (H, W, 3), even-padded here.
        path_frames: Views on the path (60), the first being the image.
        u_min: Smallest horizontal travel of the sideways path, px.
        u_max: Largest horizontal travel, px.
        v_max: Largest vertical travel magnitude, px.
        zoom_min: Smallest end crop scale of the zoom path.
        zoom_max: Largest end crop scale.
        jitter: Largest end crop-centre shift of the zoom path, px.
        rng: Draws the path kind (one integer), then its parameters.

    Returns:
        uint8 (2 * path_frames, H', W', 3): views 0..n-1, n-2..0, and view 0 again;
        H' = H rounded up to even, W' = W rounded up to a multiple of 32 (edge replicated).
    """
    h, w = image.shape[:2]
    img = cv2.copyMakeBorder(image, 0, h % 2, 0, -w % WIDTH_MULTIPLE, cv2.BORDER_REPLICATE)
    ph, pw = img.shape[:2]
    cx, cy = (pw - 1) / 2.0, (ph - 1) / 2.0
    if rng.integers(2):  # sideways (motion_blur_vid)
        sign = -1.0 if rng.integers(2) else 1.0
        du, dv = sign * rng.uniform(u_min, u_max), rng.uniform(-v_max, v_max)
        su = sv = 1.0
    else:  # zoom (zoom_blur_vid)
        du, dv = rng.uniform(-jitter, jitter, size=2)
        su, sv = rng.uniform(zoom_min, zoom_max, size=2)
    views = []
    for t in np.linspace(0.0, 1.0, int(path_frames)):
        # crop of scale (sx, sy) centred at c + t (du, dv), shown full frame
        sx, sy = 1.0 + t * (su - 1.0), 1.0 + t * (sv - 1.0)
        mat = np.array([[sx, 0.0, cx + t * du - sx * cx], [0.0, sy, cy + t * dv - sy * cy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        views.append(
            cv2.warpAffine(img, mat, (pw, ph), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
        )
    seq = views + views[-2::-1]
    seq.append(seq[-1])  # moviepy's extra frame
    return np.stack(seq)


def mdat_span(mp4: bytes) -> tuple[int, int]:
    """Byte range ``[start, end)`` of the top-level ``mdat`` payload of an mp4.

    For the single-track files of this chain the payload is the concatenation
    of every packet (what ``-bsf noise`` walks over).

    Raises:
        ValueError: No ``mdat`` box.
    """
    pos = 0
    while pos + 8 <= len(mp4):
        size, kind = struct.unpack(">I4s", mp4[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", mp4[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = len(mp4) - pos
        if kind == b"mdat":
            return pos + header, pos + size
        if size < header:
            break
        pos += size
    raise ValueError("no mdat box in the mp4 (not an ffmpeg mp4?)")
