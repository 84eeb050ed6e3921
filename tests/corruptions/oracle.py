"""The reference implementation (PyPI ``imagecorruptions`` 1.1.2) as a test oracle.

``imagecorruptions`` is a test-only dependency, installed with ``--no-deps``
(it pins the GUI ``opencv-python`` build, which would shadow our headless one).
Two shims make it run on today's libraries, without changing what it computes:

* scikit-image >= 0.19 renamed ``gaussian(..., multichannel=True)`` to
  ``channel_axis=-1`` (the old keyword is gone in 0.26).
* NumPy 2 removed ``np.float_``; the module gets a numpy proxy that maps it to
  ``float64`` (the same type), everything else delegates to numpy.
* It draws from NumPy's global RandomState; :func:`reference` seeds that state
  (test code only, never the product) so a call is repeatable.
"""

from __future__ import annotations

import numpy as np
import pytest


def _load():
    pytest.importorskip(
        "imagecorruptions", reason="pip install --no-deps imagecorruptions==1.1.2"
    )
    from imagecorruptions import corruptions as icc
    from skimage.filters import gaussian as _gaussian

    if not getattr(icc, "_benchsmith_shimmed", False):

        def gaussian(image, sigma=1, multichannel=None, **kwargs):
            if multichannel:
                kwargs["channel_axis"] = -1
            return _gaussian(image, sigma=sigma, **kwargs)

        class _NumpyProxy:
            float_ = np.float64

            def __getattr__(self, attr):
                return getattr(np, attr)

        icc.gaussian = gaussian
        icc.np = _NumpyProxy()
        icc._benchsmith_shimmed = True
    return icc


def reference(name: str, image: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Run imagecorruptions' ``corrupt`` on a uint8 RGB image with a seeded global RNG.

    Returns the uint8 result (imagecorruptions truncates with ``np.uint8``).
    """
    _load()
    import imagecorruptions

    np.random.seed(seed)  # noqa: NPY002 - the oracle only knows the global RNG
    out = imagecorruptions.corrupt(image, corruption_name=name, severity=severity)
    return np.asarray(out, dtype=np.uint8)


def reference_module():
    """The shimmed ``imagecorruptions.corruptions`` module (for its helpers and tables)."""
    return _load()
