"""MNIST-C drawings and filters: identity, stripe, (dotted) line, zigzag, Canny, inverse, quantize.

The kernels reproduce the parameter-free corruptions of google-research/mnist-c
``corruptions.py`` (and ``quantize``, its one table). The line drawings share
upstream's ``line_from_points``: for the line through (c0, r0) and (c1, r1)
every pixel gets ``clip(log(1 - d / 2.3) + 1, 0, 1)`` with ``d`` the
*vertical* distance ``|r - f(c)|`` to the line (not the perpendicular one),
columns left of ``floor(c0)`` and from ``ceil(c1)`` on are cleared, and a
vertical segment (c0 == c1) draws nothing. These quirks are kept.

Random choices (end points) are drawn from the explicit ``rng`` by small
``sample_*`` functions; the drawings themselves are deterministic public
functions (:func:`draw_line`, :func:`draw_dotted_line`, :func:`draw_zigzag`)
so tests can pin the draws.

Layout is ``gray`` (the 28x28 digit). On other sizes the upstream 28-pixel
geometry (end-point ranges, zigzag start/stop columns) is scaled by
``s = min(H, W) / 28``, and the pixel-valued table fields (line fall-off
2.3 px, dash 2 px, zigzag period and amplitude 2 px, stripe widths 7 px,
Canny sigma 1 px) are scaled by the registry with the same factor.

Reference:
    N. Mu and J. Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision",
    ICML 2019 Workshop on Uncertainty and Robustness in Deep Learning,
    arXiv:1906.02337; code: google-research/mnist-c ``corruptions.py``.
"""

from __future__ import annotations

import math

import numpy as np

from corruptions.image import FloatImage, U8Image
from corruptions.registry import CorruptionSpec, SeverityTable

__all__ = [
    "line_intensity",
    "draw_line",
    "draw_dotted_line",
    "draw_zigzag",
    "sample_line",
    "sample_dotted_line",
    "sample_zigzag",
    "identity",
    "stripe",
    "line",
    "dotted_line",
    "zigzag",
    "canny_edges",
    "inverse",
    "quantize_bits",
    "SPECS",
]

_MNIST = "google-research/mnist-c corruptions.py"
_SIDE = 28  # upstream geometry is written for 28x28 digits


def _unit(shape: tuple[int, ...]) -> float:
    return min(shape[0], shape[1]) / _SIDE


def line_intensity(
    shape: tuple[int, ...], c0: float, r0: float, c1: float, r1: float, *, falloff: float
) -> np.ndarray:
    """Upstream ``line_from_points``: a soft line between two points, in [0, 1].

    Args:
        shape: Image shape (H, W, ...).
        c0: Start column, pixels (c0 < c1 expected; c0 == c1 draws nothing).
        r0: Start row, pixels.
        c1: End column, pixels.
        r1: End row, pixels.
        falloff: Vertical distance (pixels) at which the intensity reaches 0;
            2.3 upstream. Intensity ``clip(log(1 - d / falloff) + 1, 0, 1)``.

    Returns:
        float64 array (H, W) in [0, 1].

    Example:
        >>> line_intensity((3, 4), 0, 1, 3, 1, falloff=2.3)[:, 1].round(3).tolist()
        [0.429, 1.0, 0.429]

    """
    h, w = shape[0], shape[1]
    if c1 == c0:
        return np.zeros((h, w))
    cc = np.arange(w, dtype=np.float64)[None, :]
    rr = np.arange(h, dtype=np.float64)[:, None]
    slope = (r1 - r0) / (c1 - c0)
    dist = np.clip(np.abs(rr - (slope * (cc - c0) + r0)), 0, falloff - 1e-10)
    out = np.clip(np.log(1 - dist / falloff) + 1, 0, 1)
    out[:, : max(int(math.floor(c0)), 0)] = 0
    out[:, max(int(math.ceil(c1)), 0) :] = 0
    return out


def _finish(x01: np.ndarray) -> FloatImage:
    return (np.clip(x01, 0, 1) * 255.0).astype(np.float32)


def draw_line(
    image: U8Image, *, c0: float, r0: float, c1: float, r1: float, falloff: float
) -> FloatImage:
    """Add one soft line (upstream ``line`` once its end points are drawn).

    Args:
        image: uint8 (H, W); not modified.
        c0: Start column, pixels.
        r0: Start row, pixels.
        c1: End column, pixels.
        r1: End row, pixels.
        falloff: Line fall-off distance, pixels.

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    return _finish(image / 255.0 + line_intensity(image.shape, c0, r0, c1, r1, falloff=falloff))


def draw_dotted_line(
    image: U8Image, *, r0: float, r1: float, falloff: float, dash: float
) -> FloatImage:
    """Add a dashed line across the image (upstream ``dotted_line`` after its draws).

    The line runs from column 0 to column ``W - 1`` (so, by the upstream
    clearing rule, the last column stays empty); columns whose index
    ``floor(col / dash)`` is even are cleared (upstream ``np.arange(0, 30, 2)``
    loop: dashes at columns 2-3, 6-7, ...).

    Args:
        image: uint8 (H, W); not modified.
        r0: Row at the left edge, pixels.
        r1: Row at the right edge, pixels.
        falloff: Line fall-off distance, pixels.
        dash: Dash and gap length, pixels (2 upstream).

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    w = image.shape[1]
    corruption = line_intensity(image.shape, 0, r0, w - 1, r1, falloff=falloff)
    gaps = (np.floor(np.arange(w) / dash) % 2) == 0
    corruption[:, gaps] = 0
    return _finish(image / 255.0 + corruption)


def zigzag_points(
    c0: float, r0: float, c1: float, r1: float, *, half_period: float, amplitude: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of upstream's zigzag between two points.

    Along the straight line of length ``d``, vertices sit at distances
    ``(2i + 1) a`` with offsets ``(-1)^i b``; a last vertex at ``d`` gets the
    upstream offset ``r_i / (2 (d - max_c))`` (kept as written); the polyline
    is then rotated by the line's angle and moved to (c0, r0).

    Args:
        c0: Start column, pixels.
        r0: Start row, pixels.
        c1: End column, pixels (> c0).
        r1: End row, pixels.
        half_period: ``a``, half the zigzag period, pixels.
        amplitude: ``b``, the zigzag amplitude, pixels.

    Returns:
        ``(cols, rows)`` float64 arrays of the vertices, start point first.

    """
    a, b = half_period, amplitude
    theta = np.arctan((r1 - r0) / (c1 - c0))
    d = (c1 - c0) / np.cos(theta)
    points = [(0.0, 0.0)]
    r_i = 0.0
    for i in range(int((d - a) // (2 * a)) + 1):
        r_i = (-1) ** i * b
        points.append(((2 * i + 1) * a, r_i))
    max_c = (2 * a) * (d // (2 * a))
    if d != max_c:
        points.append((d, r_i / (2 * (d - max_c))))
    ends = np.array(points).T
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cs, rs = rot.dot(ends)
    return cs + c0, rs + r0


def draw_zigzag(
    image: U8Image,
    *,
    r0: float,
    r1: float,
    falloff: float,
    half_period: float,
    amplitude: float,
) -> FloatImage:
    """Add a zigzag (upstream ``zigzag`` after its draws).

    The zigzag runs from column ``2 s`` to ``25 s`` (s = min(H, W) / 28),
    each segment drawn with :func:`line_intensity`, added and clipped to
    [0, 1] one segment at a time like upstream.

    Args:
        image: uint8 (H, W); not modified.
        r0: Start row, pixels.
        r1: End row, pixels.
        falloff: Line fall-off distance, pixels.
        half_period: Zigzag half period ``a``, pixels.
        amplitude: Zigzag amplitude ``b``, pixels.

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    u = _unit(image.shape)
    cs, rs = zigzag_points(2 * u, r0, 25 * u, r1, half_period=half_period, amplitude=amplitude)
    x = image / 255.0
    for i in range(1, cs.size):
        x = np.clip(
            x + line_intensity(image.shape, cs[i - 1], rs[i - 1], cs[i], rs[i], falloff=falloff),
            0,
            1,
        )
    return _finish(x)


def sample_line(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, float]:
    """Draw upstream ``line``'s end points: c0 in {0..4}, c1 in {22..26}, r0, r1 in {0..25}.

    Integers on the 28-pixel grid (``np.random.randint`` ranges, high
    exclusive), scaled by min(H, W) / 28.

    Args:
        rng: Source of the draws.
        shape: Image shape.

    Returns:
        ``{"c0", "r0", "c1", "r1"}`` in pixels.

    """
    u = _unit(shape)
    c0 = int(rng.integers(0, 5))
    c1 = int(rng.integers(22, 27))
    r0, r1 = (int(v) for v in rng.integers(0, 27, size=2))
    return {"c0": c0 * u, "r0": r0 * u, "c1": c1 * u, "r1": r1 * u}


def sample_dotted_line(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, float]:
    """Draw upstream ``dotted_line``'s rows: r0, r1 in {0..26}, scaled by min(H, W) / 28.

    Args:
        rng: Source of the draws.
        shape: Image shape.

    Returns:
        ``{"r0", "r1"}`` in pixels.

    """
    u = _unit(shape)
    r0, r1 = (int(v) for v in rng.integers(0, 27, size=2))
    return {"r0": r0 * u, "r1": r1 * u}


def sample_zigzag(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, float]:
    """Draw upstream ``zigzag``'s rows: r0 in {0..26}, r1 = r0 + {-5..4}, scaled by min(H, W) / 28.

    Args:
        rng: Source of the draws.
        shape: Image shape.

    Returns:
        ``{"r0", "r1"}`` in pixels.

    """
    u = _unit(shape)
    r0 = int(rng.integers(0, 27))
    r1 = r0 + int(rng.integers(-5, 5))
    return {"r0": r0 * u, "r1": r1 * u}


def identity(image: U8Image) -> U8Image:
    """MNIST-C ``identity``: the clean image (a copy).

    Args:
        image: uint8 image; not modified.

    Returns:
        A copy of ``image``.

    """
    return image.copy()


def stripe(image: U8Image, *, left_width: float, right_width: float) -> FloatImage:
    """MNIST-C ``stripe``: invert the leftmost and rightmost column bands.

    Args:
        image: uint8 (H, W); not modified.
        left_width: Width of the inverted left band, pixels (7 upstream: ``x[:, :7]``).
        right_width: Width of the inverted right band, pixels (7 upstream: ``x[:, 21:]``).

    Returns:
        float32 (H, W) on the 0..255 scale.

    Example:
        >>> stripe(np.zeros((1, 4), np.uint8), left_width=1, right_width=1).tolist()
        [[255.0, 0.0, 0.0, 255.0]]

    """
    x = image.astype(np.float32)
    w = x.shape[1]
    left = int(round(left_width))
    right = min(int(round(right_width)), w)
    x[:, :left] = 255.0 - x[:, :left]
    x[:, w - right :] = 255.0 - x[:, w - right :]
    return x


def line(image: U8Image, *, falloff: float, rng: np.random.Generator) -> FloatImage:
    """MNIST-C ``line``: one soft line between random points near the left and right edges.

    Args:
        image: uint8 (H, W); not modified.
        falloff: Line fall-off distance, pixels.
        rng: Draws the end points (:func:`sample_line`).

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    return draw_line(image, falloff=falloff, **sample_line(rng, image.shape))


def dotted_line(
    image: U8Image, *, falloff: float, dash: float, rng: np.random.Generator
) -> FloatImage:
    """MNIST-C ``dotted_line``: a dashed line across the image, random end rows.

    Args:
        image: uint8 (H, W); not modified.
        falloff: Line fall-off distance, pixels.
        dash: Dash and gap length, pixels.
        rng: Draws the end rows (:func:`sample_dotted_line`).

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    return draw_dotted_line(
        image, falloff=falloff, dash=dash, **sample_dotted_line(rng, image.shape)
    )


def zigzag(
    image: U8Image,
    *,
    falloff: float,
    half_period: float,
    amplitude: float,
    rng: np.random.Generator,
) -> FloatImage:
    """MNIST-C ``zigzag``: a zigzag line with a random start row and slope.

    Args:
        image: uint8 (H, W); not modified.
        falloff: Line fall-off distance, pixels.
        half_period: Zigzag half period, pixels.
        amplitude: Zigzag amplitude, pixels.
        rng: Draws the end rows (:func:`sample_zigzag`).

    Returns:
        float32 (H, W) on the 0..255 scale.

    """
    return draw_zigzag(
        image,
        falloff=falloff,
        half_period=half_period,
        amplitude=amplitude,
        **sample_zigzag(rng, image.shape),
    )


def canny_edges(
    image: U8Image, *, sigma: float, low_threshold: float, high_threshold: float
) -> FloatImage:
    """MNIST-C ``canny_edges``: the Canny edge map, edges white (255) on black.

    Args:
        image: uint8 (H, W); not modified.
        sigma: Gaussian smoothing, pixels (1.0 upstream, scikit-image's default).
        low_threshold: Hysteresis low threshold on the Sobel gradient
            magnitude of the [0, 1] image (0.1 upstream default).
        high_threshold: Hysteresis high threshold (0.2 upstream default).

    Returns:
        float32 (H, W), values 0 or 255.

    Reference:
        mnist-c ``canny_edges``: ``feature.canny(x / 255.) * 255``.

    """
    from skimage.feature import canny

    edges = canny(
        np.asarray(image, dtype=np.float64) / 255.0,
        sigma=sigma,
        low_threshold=low_threshold,
        high_threshold=high_threshold,
    )
    return edges.astype(np.float32) * 255.0


def inverse(image: U8Image) -> FloatImage:
    """MNIST-C ``inverse``: ``255 - x``.

    Args:
        image: uint8 image; not modified.

    Returns:
        float32 image on the 0..255 scale.

    Example:
        >>> inverse(np.array([[0, 55]], np.uint8)).tolist()
        [[255.0, 200.0]]

    """
    return 255.0 - image.astype(np.float32)


def quantize_bits(image: U8Image, *, bits: int) -> FloatImage:
    """MNIST-C ``quantize``: round to ``2**bits`` evenly spaced gray levels.

    Args:
        image: uint8 image; not modified.
        bits: Bits per pixel kept, 1..8.

    Returns:
        float32 image on the 0..255 scale (``round(x * (2^b - 1) / 255) * 255 / (2^b - 1)``,
        round half to even like ``np.round``).

    Example:
        >>> quantize_bits(np.array([[0, 100, 128, 255]], np.uint8), bits=1).tolist()
        [[0.0, 0.0, 255.0, 255.0]]

    """
    if not 1 <= int(bits) <= 8:
        raise ValueError(f"bits must be an integer in 1..8, got {bits!r}")
    levels = 2 ** int(bits) - 1
    # Upstream scales a float32 array by Python floats: the constants become float32.
    x = image.astype(np.float32) * np.float32(levels / 255.0)
    return np.round(x) * np.float32(255.0 / levels)


def _fixed(fields: tuple[str, ...], values: tuple, note: str, pixel: tuple[str, ...] = ()) -> dict:
    return {
        "mnist28": SeverityTable(
            fields=fields,
            rows=(tuple(values),) * 5,
            source=f"{_MNIST} (constants in the function body)",
            pixel_fields=frozenset(pixel),
            notes="Parameter-free in MNIST-C: all five rows are the same. " + note,
        )
    }


_LINE_NOTE = (
    "falloff: 2.3 px, the distance at which log(1 - d/2.3) + 1 fades to 0 in line_from_points. "
)

SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec(
        name="identity",
        family="strokes",
        kernel=identity,
        tables=_fixed((), (), "The clean image; the MNIST-C reference row."),
        stochastic=False,
        layout="any",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py identity",
    ),
    CorruptionSpec(
        name="stripe",
        family="strokes",
        kernel=stripe,
        tables=_fixed(
            ("left_width", "right_width"),
            (7, 7),
            "Inverts x[:, :7] and x[:, 21:] on 28x28. MNIST-C benchmark corruption.",
            pixel=("left_width", "right_width"),
        ),
        stochastic=False,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py stripe",
    ),
    CorruptionSpec(
        name="dotted_line",
        family="strokes",
        kernel=dotted_line,
        tables=_fixed(
            ("falloff", "dash"),
            (2.3, 2),
            _LINE_NOTE + "dash: 2 px (np.arange(0, 30, 2)). MNIST-C benchmark corruption.",
            pixel=("falloff", "dash"),
        ),
        stochastic=True,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py dotted_line",
    ),
    CorruptionSpec(
        name="zigzag",
        family="strokes",
        kernel=zigzag,
        tables=_fixed(
            ("falloff", "half_period", "amplitude"),
            (2.3, 2.0, 2.0),
            _LINE_NOTE + "half_period a = 2 px, amplitude b = 2 px. MNIST-C benchmark corruption.",
            pixel=("falloff", "half_period", "amplitude"),
        ),
        stochastic=True,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py zigzag",
    ),
    CorruptionSpec(
        name="canny_edges",
        family="strokes",
        kernel=canny_edges,
        tables=_fixed(
            ("sigma", "low_threshold", "high_threshold"),
            (1.0, 0.1, 0.2),
            "skimage.feature.canny defaults (sigma 1 px; thresholds 10 % / 20 % of the float "
            "image's range). MNIST-C benchmark corruption.",
            pixel=("sigma",),
        ),
        stochastic=False,
        layout="gray",
        suites=frozenset({"mnist_c"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py canny_edges",
    ),
    CorruptionSpec(
        name="line",
        family="strokes",
        kernel=line,
        tables=_fixed(
            ("falloff",), (2.3,), _LINE_NOTE + "Optional in MNIST-C.", pixel=("falloff",)
        ),
        stochastic=True,
        layout="gray",
        suites=frozenset({"mnist_c_extra"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py line",
    ),
    CorruptionSpec(
        name="inverse",
        family="strokes",
        kernel=inverse,
        tables=_fixed((), (), "255 - x. Optional in MNIST-C."),
        stochastic=False,
        layout="any",
        suites=frozenset({"mnist_c_extra"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py inverse",
    ),
    CorruptionSpec(
        name="quantize",
        family="strokes",
        kernel=quantize_bits,
        tables={
            "mnist28": SeverityTable(
                fields=("bits",),
                rows=((5,), (4,), (3,), (2,), (1,)),
                source=f"{_MNIST} quantize bits = [5, 4, 3, 2, 1]",
                notes="Optional in MNIST-C, default severity 5 (1 bit). corruption-params.md lists "
                "it as table-free; the reference function does have this bits table.",
            )
        },
        stochastic=False,
        layout="any",
        suites=frozenset({"mnist_c_extra"}),
        reference="Mu & Gilmer 2019, google-research/mnist-c corruptions.py quantize",
    ),
)
