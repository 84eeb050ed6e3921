"""Severity tables of the weather family (fog, frost, snow, spatter), per preset (private).

Every position of the upstream tuples is named; each table says which script it
comes from and keeps upstream quirks in its ``notes``. Split from
:mod:`corruptions.weather` (the kernels) so each module stays one responsibility.

Reference:
    hendrycks/robustness ``ImageNet-C/create_c/make_{imagenet,imagenet_c_inception,
    tinyimagenet,cifar}_c.py``; google-research/mnist-c ``corruptions.py``.
"""

from __future__ import annotations

from typing import Any

from corruptions import frost_texture
from corruptions.registry import SeverityTable

__all__ = ["FOG_TABLES", "FROST_TABLES", "FROST_PROCEDURAL_TABLES", "SNOW_TABLES", "SPATTER_TABLES"]

_HC = "hendrycks/robustness ImageNet-C/create_c/"
_INC = _HC + "make_imagenet_c_inception.py "
_MC = "google-research/mnist-c corruptions.py"


_FOG_FIELDS = ("strength", "decay", "map_size")
_FOG_PX = frozenset({"map_size"})
_FOG_NOTE = (
    "tuple = (strength, wibbledecay); map_size is the plasma_fractal mapsize of the script "
    "(rounded up to a power of two covering the image)."
)


def _fog(rows: tuple[tuple[float, float], ...], map_size: int) -> tuple[tuple[float, ...], ...]:
    return tuple((s, d, map_size) for s, d in rows)


_FOG_IMAGENET = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
_FOG_TABLES = {
    "imagenet224": SeverityTable(
        _FOG_FIELDS, _fog(_FOG_IMAGENET, 256), _HC + "make_imagenet_c.py fog c", _FOG_PX, _FOG_NOTE
    ),
    "imagenet299": SeverityTable(
        _FOG_FIELDS, _fog(((1.5, 2), (2, 2), (2.5, 1.8), (2.5, 1.6), (3, 1.5)), 512),
        _INC + "fog c", _FOG_PX, _FOG_NOTE + " the Inception script's default mapsize=512.",
    ),
    "tiny64": SeverityTable(
        _FOG_FIELDS, _fog(((0.4, 3), (0.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)), 64),
        _HC + "make_tinyimagenet_c.py fog c", _FOG_PX, _FOG_NOTE + " mapsize=64.",
    ),
    "cifar32": SeverityTable(
        _FOG_FIELDS, _fog(((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)), 32),
        _HC + "make_cifar_c.py fog c", _FOG_PX, _FOG_NOTE + " mapsize=32.",
    ),
    "mnist28": SeverityTable(
        _FOG_FIELDS, _fog(_FOG_IMAGENET, 256), _MC + " fog c (benchmark severity 5)", _FOG_PX,
        _FOG_NOTE + " quirk kept: MNIST-C uses the default mapsize=256 and crops [:28, :28], "
        "so 28 px images see a tiny corner of a large fractal (smoother fog).",
    ),
}

_FROST_FIELDS = ("image_weight", "frost_weight", "texture_scale", "texture_set")
_FROST_PX = frozenset({"texture_scale"})
_FROST_NOTE = (
    "tuple = (image weight, frost weight); texture index ~ randint(5), so frost6 is never "
    "used (quirk kept); texture_set names the pinned photographs and their hash "
    "(corruptions.frost_texture.TEXTURE_SET)."
)


def _frost(rows: tuple[tuple[float, float], ...], scale: float) -> tuple[tuple[Any, ...], ...]:
    return tuple((a, b, scale, frost_texture.TEXTURE_SET) for a, b in rows)


_FROST_IMAGENET = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))
_FROST_TABLES = {
    "imagenet299": SeverityTable(
        _FROST_FIELDS, _frost(_FROST_IMAGENET, 1.0), _INC + "frost c", _FROST_PX,
        _FROST_NOTE + " The textures are cropped unscaled.",
    ),
    "imagenet224": SeverityTable(
        _FROST_FIELDS, _frost(_FROST_IMAGENET, 1.0), _HC + "make_imagenet_c.py frost c",
        _FROST_PX,
        _FROST_NOTE + " The textures are cropped unscaled as in make_imagenet_c.py; "
        "imagecorruptions first enlarges them by 1.1 (bicubic).",
    ),
    "tiny64": SeverityTable(
        _FROST_FIELDS, _frost(((1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)), 0.3),
        _HC + "make_tinyimagenet_c.py frost c", _FROST_PX,
        _FROST_NOTE + " textures resized by fx=fy=0.3 (cv2 bilinear).",
    ),
    "cifar32": SeverityTable(
        _FROST_FIELDS, _frost(((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)), 0.2),
        _HC + "make_cifar_c.py frost c", _FROST_PX,
        _FROST_NOTE + " textures resized by fx=fy=0.2 (cv2 bilinear).",
    ),
    "mnist28": SeverityTable(
        _FROST_FIELDS, _frost(_FROST_IMAGENET, 1.0), _MC + " frost c (optional corruption)",
        _FROST_PX, _FROST_NOTE + " MNIST-C reads the texture as grayscale (cv2.imread(f, 0)).",
    ),
}

_SNOW_FIELDS = (
    "loc", "scale", "zoom", "threshold", "blur_radius", "blur_sigma", "blend",
    "angle_range", "prequantize",
)
_SNOW_PX = frozenset({"zoom", "blur_radius", "blur_sigma"})
_SNOW_NOTE = (
    "tuple = (noise mean, noise std, zoom, threshold, motion radius, motion sigma, blend); "
    "angle ~ U(-135, -45); the scripts blur the layer with ImageMagick after writing it as "
    "an 8-bit PNG (prequantize=True, truncating); imagecorruptions blurs the float layer."
)


def _snow(rows: tuple[tuple[float, ...], ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple((*r, (-135.0, -45.0), True) for r in rows)


_SNOW_IMAGENET = (
    (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
    (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
    (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
)
_SNOW_SMALL = (
    (0.1, 0.2, 1, 0.6, 8, 3),
    (0.1, 0.2, 1, 0.5, 10, 4),
    (0.15, 0.3, 1.75, 0.55, 10, 4),
    (0.25, 0.3, 2.25, 0.6, 12, 6),
    (0.3, 0.3, 1.25, 0.65, 14, 12),
)
_SNOW_TABLES = {
    "imagenet299": SeverityTable(
        _SNOW_FIELDS, _snow(_SNOW_IMAGENET), _INC + "snow c", _SNOW_PX, _SNOW_NOTE,
    ),
    "imagenet224": SeverityTable(
        _SNOW_FIELDS, _snow(_SNOW_IMAGENET), _HC + "make_imagenet_c.py snow c", _SNOW_PX,
        _SNOW_NOTE,
    ),
    "tiny64": SeverityTable(
        _SNOW_FIELDS,
        _snow(tuple((*r, b) for r, b in zip(_SNOW_SMALL, (0.8, 0.8, 0.7, 0.65, 0.6), strict=True))),
        _HC + "make_tinyimagenet_c.py snow c", _SNOW_PX, _SNOW_NOTE,
    ),
    "cifar32": SeverityTable(
        _SNOW_FIELDS,
        _snow(
            tuple((*r, b) for r, b in zip(_SNOW_SMALL, (0.95, 0.9, 0.9, 0.85, 0.8), strict=True))
        ),
        _HC + "make_cifar_c.py snow c", _SNOW_PX, _SNOW_NOTE,
    ),
    "mnist28": SeverityTable(
        _SNOW_FIELDS, _snow(_SNOW_IMAGENET), _MC + " snow c (optional corruption)", _SNOW_PX,
        _SNOW_NOTE + " MNIST-C brightens with max(x, 1.5 x + 0.5) (gray = x).",
    ),
}

_SPATTER_FIELDS = (
    "loc", "scale", "sigma", "threshold", "water_gain", "mud_sigma", "mode", "mud_rgb",
)
_SPATTER_PX = frozenset({"sigma", "mud_sigma"})
_SPATTER_NOTE = (
    "tuple = (noise mean, noise std, smoothing sigma, threshold, c4, c5): c5 = 0 selects "
    "water with c4 = water_gain, c5 = 1 selects mud with c4 = mud_sigma (the unused one is 0)."
)
_MUD = (63, 42, 20)


def _spatter(
    rows: tuple[tuple[float, ...], ...], mud_rgb: tuple[int, int, int], force_mud: bool = False
) -> tuple[tuple[Any, ...], ...]:
    out = []
    for loc, scale, sigma, thr, c4, c5 in rows:
        mud = force_mud or c5 == 1
        out.append((loc, scale, sigma, thr, 0.0 if mud else c4, c4 if mud else 0.0,
                    "mud" if mud else "water", mud_rgb))
    return tuple(out)


_SPATTER_IMAGENET = (
    (0.65, 0.3, 4, 0.69, 0.6, 0),
    (0.65, 0.3, 3, 0.68, 0.6, 0),
    (0.65, 0.3, 2, 0.68, 0.5, 0),
    (0.65, 0.3, 1, 0.65, 1.5, 1),
    (0.67, 0.4, 1, 0.65, 1.5, 1),
)
_SPATTER_TABLES = {
    "imagenet299": SeverityTable(
        _SPATTER_FIELDS,
        _spatter(
            ((0.65, 0.3, 4, 0.69, 0.9, 0), (0.65, 0.3, 3.5, 0.68, 0.9, 0),
             (0.65, 0.3, 3, 0.68, 0.8, 0), (0.65, 0.3, 1.2, 0.65, 1.8, 1),
             (0.67, 0.4, 1.2, 0.65, 1.8, 1)),
            _MUD,
        ),
        _INC + "spatter c", _SPATTER_PX, _SPATTER_NOTE,
    ),
    "imagenet224": SeverityTable(
        _SPATTER_FIELDS, _spatter(_SPATTER_IMAGENET, _MUD), _HC + "make_imagenet_c.py spatter c",
        _SPATTER_PX, _SPATTER_NOTE,
    ),
    "tiny64": SeverityTable(
        _SPATTER_FIELDS,
        _spatter(
            ((0.62, 0.1, 0.7, 0.7, 0.6, 0), (0.65, 0.1, 0.8, 0.7, 0.6, 0),
             (0.65, 0.3, 1, 0.69, 0.6, 0), (0.65, 0.1, 0.7, 0.68, 0.6, 1),
             (0.65, 0.1, 0.5, 0.67, 0.6, 1)),
            _MUD,
        ),
        _HC + "make_tinyimagenet_c.py spatter c", _SPATTER_PX, _SPATTER_NOTE,
    ),
    "cifar32": SeverityTable(
        _SPATTER_FIELDS,
        _spatter(
            ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
             (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
             (0.65, 0.1, 0.5, 0.68, 0.6, 1)),
            _MUD,
        ),
        _HC + "make_cifar_c.py spatter c", _SPATTER_PX, _SPATTER_NOTE,
    ),
    "mnist28": SeverityTable(
        _SPATTER_FIELDS, _spatter(_SPATTER_IMAGENET, (63, 63, 63), force_mud=True),
        _MC + " spatter c (benchmark severity 4)", _SPATTER_PX,
        _SPATTER_NOTE + " MNIST-C has no water branch: every severity is mud (gray 63) "
        "with c4 as the mask sigma, and c5 is ignored.",
    ),
}


def _procedural_tables(tables: dict[str, SeverityTable]) -> dict[str, SeverityTable]:
    """Copy the frost tables with the procedural stand-in textures instead of the photographs."""
    out = {}
    for preset, t in tables.items():
        rows = tuple(r[:-1] + (frost_texture.PROCEDURAL_SET,) for r in t.rows)
        out[preset] = SeverityTable(
            t.fields, rows, t.source, t.pixel_fields,
            "procedural stand-in textures (not the published photographs; statistics "
            "calibrated, pixels not comparable). " + t.notes,
        )
    return out



FOG_TABLES = _FOG_TABLES
FROST_TABLES = _FROST_TABLES
FROST_PROCEDURAL_TABLES = _procedural_tables(_FROST_TABLES)
SNOW_TABLES = _SNOW_TABLES
SPATTER_TABLES = _SPATTER_TABLES
