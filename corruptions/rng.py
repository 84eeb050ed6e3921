"""Content-derived random generators.

Every random draw in benchsmith comes from a generator derived from
``(root_seed, sample_id, operation, severity)`` so that the same inputs give the
same bytes whichever scheduler, worker count, chunking or order ran them.
Nothing here (or anywhere in the package) touches global random state.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stable_u32", "derive_rng", "derive_seed_sequence"]


def stable_u32(text: str) -> int:
    """Map a string to an unsigned 32-bit integer, stable across processes.

    Python's ``hash()`` is salted per process, so it can never seed anything
    that must be reproducible; CRC-32 of the UTF-8 bytes is.

    Args:
        text: Any string (a sample id, an operation name).

    Returns:
        An integer in ``[0, 2**32)``.

    Example:
        >>> stable_u32("mnist/test/0")
        3849281751
    """
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF


def derive_seed_sequence(
    root_seed: int, sample_id: str, operation: str, severity: int
) -> np.random.SeedSequence:
    """Build the seed sequence for one (sample, operation, severity) draw.

    Args:
        root_seed: The manifest's seed (non-negative integer).
        sample_id: The stable id of the image, ``<source>/<split>/<key>``.
        operation: The registry key of the operation (e.g. ``"fog"``).
        severity: Severity level (or an intensity index for shifts), >= 0.

    Returns:
        A :class:`numpy.random.SeedSequence` whose entropy is the four values.

    Raises:
        ValueError: If ``root_seed`` or ``severity`` is negative.
    """
    if root_seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {root_seed}")
    if severity < 0:
        raise ValueError(f"severity must be non-negative, got {severity}")
    return np.random.SeedSequence(
        [int(root_seed), stable_u32(sample_id), stable_u32(operation), int(severity)]
    )


def derive_rng(
    root_seed: int, sample_id: str, operation: str, severity: int
) -> np.random.Generator:
    """Return the generator for one (sample, operation, severity) draw.

    Args:
        root_seed: The manifest's seed (non-negative integer).
        sample_id: The stable id of the image.
        operation: The registry key of the operation.
        severity: Severity level, >= 0.

    Returns:
        A fresh PCG64 :class:`numpy.random.Generator`.

    Example:
        >>> a = derive_rng(0, "mnist/test/0", "fog", 3).integers(1 << 30)
        >>> b = derive_rng(0, "mnist/test/0", "fog", 3).integers(1 << 30)
        >>> bool(a == b)
        True
    """
    return np.random.default_rng(derive_seed_sequence(root_seed, sample_id, operation, severity))
