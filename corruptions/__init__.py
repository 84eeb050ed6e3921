"""benchsmith's corruption library.

Public API::

    from corruptions import REGISTRY, apply
    from corruptions.rng import derive_rng

    rng = derive_rng(seed, sample_id, "fog", 3)
    out = apply("fog", image, severity=3, preset="cifar32", rng=rng)

``REGISTRY`` is built on first access, not at import time.
"""

from __future__ import annotations

from typing import Any

from corruptions.registry import (
    PRESETS,
    CorruptionSpec,
    SeverityTable,
    apply,
    get_registry,
    resolve_params,
)
from corruptions.rng import derive_rng

__all__ = [
    "PRESETS",
    "REGISTRY",
    "CorruptionSpec",
    "SeverityTable",
    "apply",
    "derive_rng",
    "get_registry",
    "resolve_params",
]


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return get_registry()
    raise AttributeError(f"module 'corruptions' has no attribute {name!r}")
