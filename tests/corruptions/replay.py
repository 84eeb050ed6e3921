"""Feed the reference scripts' random draws to our kernels (test-only).

The ImageNet-C / CIFAR-10-C / Tiny-ImageNet-C scripts draw from NumPy's legacy
global ``RandomState`` (``np.random.uniform``, ``randint``, ``normal``); our
kernels draw from an ``np.random.Generator``. :class:`ScriptDraws` stands in for
the generator: each Generator method a kernel calls is answered by the legacy
call the script makes at that point, from a ``RandomState`` seeded like the
script's run. Same order, same shapes, same values: the kernel then sees
exactly the draws the reference saw, and its output can be compared with the
reference's to the gray level. Every call is recorded in :attr:`calls`, so a
test can also check the order of draws. Nothing in the product imports this.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ScriptDraws:
    """A ``np.random.Generator`` stand-in answering with a legacy ``RandomState``'s draws."""

    def __init__(self, seed: int) -> None:
        self._rs = np.random.RandomState(seed)
        self.calls: list[tuple[str, Any]] = []

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> Any:
        self.calls.append(("uniform", size))
        return self._rs.uniform(low, high, size)

    def integers(self, low: int, high: int | None = None, size: Any = None) -> Any:
        self.calls.append(("randint", size))
        return self._rs.randint(low, high, size)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> Any:
        self.calls.append(("normal", size))
        return self._rs.normal(loc, scale, size)

    def random(self, size: Any = None, dtype: Any = np.float64) -> Any:
        self.calls.append(("random_sample", size))
        return np.asarray(self._rs.random_sample(size)).astype(dtype)
