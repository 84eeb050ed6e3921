"""Statistics helpers shared by the fidelity tests of the stochastic corruptions."""

from __future__ import annotations

import numpy as np


def max_abs(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


class Stats:
    """Pooled mean / std / changed fraction of ``out - in`` over many images.

    Also keeps each image's mean, for the standard error of the pooled mean.
    """

    def __init__(self) -> None:
        self.s = self.s2 = self.changed = self.n = 0.0
        self.image_means: list[float] = []

    def add(self, out: np.ndarray, inp: np.ndarray) -> None:
        d = out.astype(np.float64) - inp
        self.s += d.sum()
        self.s2 += (d * d).sum()
        self.changed += np.count_nonzero(d)
        self.n += d.size
        self.image_means.append(float(d.mean()))

    def result(self) -> tuple[float, float, float]:
        mean = self.s / self.n
        return mean, float(np.sqrt(self.s2 / self.n - mean * mean)), self.changed / self.n

    def sem(self) -> float:
        """Standard error of the mean over images."""
        m = np.asarray(self.image_means)
        return float(m.std(ddof=1) / np.sqrt(len(m)))


def assert_stats_close(
    name: str, sev: int, ours: Stats, ref: Stats | tuple, rel: float = 0.05, floor: float = 0.5
) -> None:
    """Std and changed fraction within ``rel``; the mean within ``rel``, ``floor`` gray
    levels, or 3 standard errors of the difference (means near 0 are dominated by
    border effects of the random draw, e.g. the motion direction)."""
    o = ours.result()
    if isinstance(ref, Stats):
        r, sem = ref.result(), float(np.hypot(ours.sem(), ref.sem()))
    else:
        r, sem = ref, ours.sem() * np.sqrt(2)
    for label, a, b in zip(("mean", "std", "changed"), o, r, strict=True):
        tol = rel * abs(b)
        if label == "mean":
            tol = max(tol, floor, 3 * sem)
        assert abs(a - b) <= tol, f"{name} s{sev} {label}: ours {a:.4f} vs reference {b:.4f}"
