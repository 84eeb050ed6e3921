"""The reference implementation (PyPI ``imagecorruptions`` 1.1.2) as a test oracle.

``imagecorruptions`` is a test-only dependency, installed with ``--no-deps``
(it pins the GUI ``opencv-python`` build, which would shadow our headless one).
Two shims make it run on today's libraries, without changing what it computes:

* scikit-image >= 0.19 renamed ``gaussian(..., multichannel=True)`` to
  ``channel_axis=-1`` (the old keyword is gone in 0.26).
* setuptools >= 81 dropped ``pkg_resources``, which it imports to find its
  frost photographs; a minimal ``resource_filename`` stands in when missing.
* NumPy 2 removed ``np.float_``; the module gets a numpy proxy that maps it to
  ``float64`` (the same type), everything else delegates to numpy.
* It draws from NumPy's global RandomState; :func:`reference` seeds that state
  (test code only, never the product) so a call is repeatable.
"""

from __future__ import annotations

import numpy as np
import pytest


def _ensure_pkg_resources() -> None:
    """Provide ``pkg_resources.resource_filename`` where setuptools >= 81 no longer ships it.

    imagecorruptions only uses it to locate its bundled frost photographs.
    """
    try:
        import pkg_resources  # noqa: F401
    except ModuleNotFoundError:
        import importlib.util
        import sys
        import types
        from pathlib import Path

        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, resource: str) -> str:
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                raise ModuleNotFoundError(package)
            return str(Path(spec.origin).parent / resource)  # beside the module, as before

        shim.resource_filename = resource_filename  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim


def _load():
    _ensure_pkg_resources()
    try:
        import imagecorruptions  # noqa: F401
    except ImportError as exc:  # a fidelity test must not pass by skipping
        pytest.fail(
            f"the reference implementation is not importable ({exc}); `make test` installs it "
            "(pip install --no-deps imagecorruptions==1.1.2)"
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
