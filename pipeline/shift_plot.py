"""The measured-shift-vs-knob plot of the ``shift`` stage, drawn with Pillow (no matplotlib).

One panel per shift entry; x is the intensity knob, y is on [0, 1] for every
series: classifier two-sample AUC, fraction outside the training support, the
probe's accuracy, and MMD² divided by the entry's largest MMD² (plus the latent
non-overlap for entries that record it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SERIES", "LATENT", "draw_plot"]

SERIES = (
    ("c2st_auc", "C2ST AUC", (31, 119, 180)),
    ("outside_support", "outside support", (255, 127, 14)),
    ("probe_accuracy", "probe accuracy", (44, 160, 44)),
    ("mmd2_rel", "MMD^2 / max", (214, 39, 40)),
)
#: Drawn (and listed in the legend) only when an entry records it: the Control+Shift families'
#: mass of the test latent law outside the training latent support.
LATENT = ("latent_non_overlap", "latent non-overlap", (148, 103, 189))


def draw_plot(metrics: dict[str, list[dict[str, Any]]]) -> bytes:
    """Draw measured shift vs knob, one panel per entry, as PNG bytes (Pillow only).

    Every series is on [0, 1]: C2ST AUC, fraction outside the training support,
    probe accuracy, and MMD² divided by the entry's largest MMD².
    """
    import io

    from PIL import Image, ImageDraw

    cols = 2
    rows = max(1, -(-len(metrics) // cols))
    pw, ph, margin = 420, 300, 50
    img = Image.new("RGB", (cols * pw, rows * ph + 40), "white")
    draw = ImageDraw.Draw(img)
    x0 = 10
    series: tuple[tuple[str, str, tuple[int, int, int]], ...] = SERIES
    if any(LATENT[0] in p for points in metrics.values() for p in points):
        series = (*SERIES, LATENT)
    for _, label, colour in series:
        draw.rectangle([x0, 14, x0 + 14, 26], fill=colour)
        draw.text((x0 + 18, 14), label, fill="black")
        x0 += 28 + int(draw.textlength(label))
    for n, (name, points) in enumerate(metrics.items()):
        ox, oy = (n % cols) * pw, 40 + (n // cols) * ph
        left, top, right, bottom = ox + margin, oy + 25, ox + pw - 15, oy + ph - 35

        def px(
            k: float,
            v: float,
            left: int = left,
            right: int = right,
            top: int = top,
            bottom: int = bottom,
        ) -> tuple[float, float]:
            return left + k * (right - left), bottom - v * (bottom - top)

        draw.rectangle([left, top, right, bottom], outline="black")
        for t in (0.0, 0.25, 0.5, 0.75, 1.0):
            draw.line([px(t, 0), (px(t, 0)[0], bottom + 4)], fill="black")
            draw.text((px(t, 0)[0] - 10, bottom + 6), f"{t:.2f}", fill="black")
            draw.line([(left - 4, px(0, t)[1]), px(0, t)], fill="black")
            draw.text((left - 36, px(0, t)[1] - 6), f"{t:.2f}", fill="black")
        draw.text((left, oy + 6), f"{name}: measured shift vs knob", fill="black")
        draw.text((left + (right - left) // 2 - 20, bottom + 20), "intensity", fill="black")
        top_mmd = max((p["mmd2"] for p in points), default=0.0)
        for key, _, colour in series:
            if key == LATENT[0] and not all(key in p for p in points):
                continue
            vals = [
                (p["intensity"], max(0.0, p["mmd2"]) / top_mmd if top_mmd > 0 else 0.0)
                if key == "mmd2_rel"
                else (p["intensity"], p[key])
                for p in points
            ]
            xy = [px(k, min(max(v, 0.0), 1.0)) for k, v in vals]
            if len(xy) > 1:
                draw.line(xy, fill=colour, width=2)
            for x, y in xy:
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
