"""The reference scripts' blur and weather corruptions, as test oracles (test-only).

hendrycks/robustness ``make_{imagenet,imagenet_c_inception,tinyimagenet,cifar}_c.py``
and google-research/mnist-c ``corruptions.py`` differ only in their constants,
the image side and a few per-script details (fog's ``mapsize``, frost's texture
scale, MNIST-C's gray 2-D arrays). Each function here performs the scripts'
steps with the libraries they call (scikit-image ``gaussian``, ``scipy.ndimage.zoom``,
OpenCV, PIL and the real ImageMagick through :mod:`magick_oracle`), given the
constants ``c`` of one severity and a legacy ``RandomState`` in place of the
global one, and returns the uint8 array the scripts save (``np.uint8`` truncation).
Where the installed port ``imagecorruptions`` equals a script, the tests also
check this module against it at 224 px, so the restatement is itself checked.
"""

from __future__ import annotations

import io

import cv2
import magick_oracle
import numpy as np
from PIL import Image
from scipy.ndimage import zoom as scizoom
from skimage.filters import gaussian


def _u8(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).astype(np.uint8)


def _gauss(x: np.ndarray, sigma: float, multichannel: bool) -> np.ndarray:
    return gaussian(x, sigma=sigma, channel_axis=-1 if multichannel else None)


def clipped_zoom(img: np.ndarray, z: float) -> np.ndarray:
    h = img.shape[0]
    ch = int(np.ceil(h / z))
    top = (h - ch) // 2
    factors = (z, z) + (1,) * (img.ndim - 2)
    out = scizoom(img[top : top + ch, top : top + ch], factors, order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim : trim + h, trim : trim + h]


def disk(radius: float, alias_blur: float) -> np.ndarray:
    if radius <= 8:
        grid, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        grid, ksize = np.arange(-radius, radius + 1), (5, 5)
    gx, gy = np.meshgrid(grid, grid)
    d = np.array((gx**2 + gy**2) <= radius**2, dtype=np.float32)
    d /= np.sum(d)
    return cv2.GaussianBlur(d, ksize=ksize, sigmaX=alias_blur)


def plasma_fractal(mapsize: int, decay: float, rs: np.random.RandomState) -> np.ndarray:
    """The scripts' diamond-square map (float64), drawing from ``rs.uniform``."""
    a = np.empty((mapsize, mapsize), dtype=np.float64)
    a[0, 0] = 0
    step, wibble = mapsize, 100.0
    while step >= 2:
        half = step // 2

        def mean(arr, w=wibble):
            return arr / 4 + w * rs.uniform(-w, w, arr.shape)

        corner = a[0:mapsize:step, 0:mapsize:step]
        sq = corner + np.roll(corner, shift=-1, axis=0)
        sq += np.roll(sq, shift=-1, axis=1)
        a[half:mapsize:step, half:mapsize:step] = mean(sq)
        dr = a[half:mapsize:step, half:mapsize:step]
        ul = a[0:mapsize:step, 0:mapsize:step]
        a[0:mapsize:step, half:mapsize:step] = mean(
            (dr + np.roll(dr, 1, axis=0)) + (ul + np.roll(ul, -1, axis=1)))
        a[half:mapsize:step, 0:mapsize:step] = mean(
            (dr + np.roll(dr, 1, axis=1)) + (ul + np.roll(ul, -1, axis=0)))
        step //= 2
        wibble /= decay
    a -= a.min()
    return a / a.max()


# --------------------------------------------------------------------------- blur


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return _u8(np.clip(_gauss(x / 255.0, sigma, True), 0, 1) * 255)


def glass_blur(x: np.ndarray, c: tuple, rs: np.random.RandomState, coin: bool = False):
    """``c = (sigma, max_delta, iterations)``; ``coin``: MNIST-C's per-position choice."""
    sigma, d, iters = c
    y = np.uint8(_gauss(np.array(x) / 255.0, sigma, True) * 255)
    h, w = y.shape[:2]
    for _ in range(iters):
        for hh in range(h - d, d, -1):
            for ww in range(w - d, d, -1):
                if coin and not rs.choice([True, False], 1)[0]:
                    continue
                dx, dy = rs.randint(-d, d, size=(2,))
                hp, wp = hh + dy, ww + dx
                y[hh, ww], y[hp, wp] = y[hp, wp], y[hh, ww]
    return _u8(np.clip(_gauss(y / 255.0, sigma, True), 0, 1) * 255)


def defocus_blur(x: np.ndarray, c: tuple) -> np.ndarray:
    x = np.array(x) / 255.0
    k = disk(c[0], c[1])
    if x.ndim == 2:
        return _u8(np.clip(cv2.filter2D(x, -1, k), 0, 1) * 255)
    ch = np.array([cv2.filter2D(x[:, :, d], -1, k) for d in range(3)]).transpose((1, 2, 0))
    return _u8(np.clip(ch, 0, 1) * 255)


def motion_blur(x: np.ndarray, c: tuple, rs: np.random.RandomState) -> np.ndarray:
    return magick_oracle.motion_blur(x, c[0], c[1], rs.uniform(-45, 45))


def zoom_blur(x: np.ndarray, zooms) -> np.ndarray:
    x = (np.array(x) / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for z in zooms:
        out += clipped_zoom(x, z)
    x = (x + out) / (len(zooms) + 1)
    return _u8(np.clip(x, 0, 1) * 255)


# --------------------------------------------------------------------------- weather


def fog(x: np.ndarray, c: tuple, mapsize: int, rs: np.random.RandomState) -> np.ndarray:
    x = np.array(x) / 255.0
    h, w = x.shape[:2]
    top = x.max()
    frac = plasma_fractal(mapsize, c[1], rs)[:h, :w]
    x = x + c[0] * (frac[..., None] if x.ndim == 3 else frac)
    return _u8(np.clip(x * top / (top + c[0]), 0, 1) * 255)


def frost(x: np.ndarray, c: tuple, scale: float, files: list, rs: np.random.RandomState):
    idx = rs.randint(5)
    gray = x.ndim == 2
    tex = cv2.imread(str(files[idx]), 0 if gray else cv2.IMREAD_COLOR)
    if scale != 1:
        tex = cv2.resize(tex, (0, 0), fx=scale, fy=scale)
    h, w = x.shape[:2]
    y0, x0 = rs.randint(0, tex.shape[0] - h), rs.randint(0, tex.shape[1] - w)
    crop = tex[y0 : y0 + h, x0 : x0 + w]
    crop = crop if gray else crop[..., [2, 1, 0]]
    return _u8(np.clip(c[0] * np.array(x) + c[1] * crop, 0, 255))


def snow(x: np.ndarray, c: tuple, rs: np.random.RandomState) -> np.ndarray:
    gray = x.ndim == 2
    x = np.array(x, dtype=np.float32) / 255.0
    h, w = x.shape[:2]
    layer = rs.normal(size=(h, w), loc=c[0], scale=c[1])
    layer = clipped_zoom(layer if gray else layer[..., None], c[2])
    layer[layer < c[3]] = 0
    u8 = (np.clip(layer.squeeze(), 0, 1) * 255).astype(np.uint8)
    png = io.BytesIO()
    Image.fromarray(u8, mode="L").save(png, format="PNG")
    blurred = magick_oracle.motion_blur_png(png.getvalue(), c[4], c[5], rs.uniform(-135, -45))
    layer = blurred / 255.0
    if gray:
        x = c[6] * x + (1 - c[6]) * np.maximum(x, x * 1.5 + 0.5)
    else:
        layer = layer[..., None]
        g = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(h, w, 1)
        x = c[6] * x + (1 - c[6]) * np.maximum(x, g * 1.5 + 0.5)
    return _u8(np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255)


def spatter(x: np.ndarray, c: tuple, rs: np.random.RandomState, mud_gray: bool = False):
    """``c`` = the script's 6-tuple; ``mud_gray``: MNIST-C (always mud, gray 63)."""
    x = np.array(x, dtype=np.float32) / 255.0
    liquid = gaussian(rs.normal(size=x.shape[:2], loc=c[0], scale=c[1]), sigma=c[2])
    liquid[liquid < c[3]] = 0
    if c[5] == 0 and not mud_gray:
        liquid = (liquid * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.filter2D(dist, cv2.CV_8U, ker)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = cv2.cvtColor(liquid * dist, cv2.COLOR_GRAY2BGRA)
        m /= np.max(m, axis=(0, 1))
        m *= c[4]
        one = np.ones_like(m[..., :1])
        color = np.concatenate((175 / 255.0 * one, 238 / 255.0 * one, 238 / 255.0 * one), axis=2)
        color = cv2.cvtColor(color, cv2.COLOR_BGR2BGRA)
        x = cv2.cvtColor(x, cv2.COLOR_BGR2BGRA)
        return _u8(cv2.cvtColor(np.clip(x + m * color, 0, 1), cv2.COLOR_BGRA2BGR) * 255)
    m = np.where(liquid > c[3], 1, 0)
    m = gaussian(m.astype(np.float32), sigma=c[4])
    m[m < 0.8] = 0
    if mud_gray:
        color = 63 / 255.0 * np.ones_like(x) * m
        x *= 1 - m
    else:
        one = np.ones_like(x[..., :1])
        color = np.concatenate((63 / 255.0 * one, 42 / 255.0 * one, 20 / 255.0 * one), axis=2)
        color *= m[..., None]
        x *= 1 - m[..., None]
    return _u8(np.clip(x + color, 0, 1) * 255)
