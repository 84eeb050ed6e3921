"""The code version recorded in every provenance row."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from pipeline import __version__

__all__ = ["code_version"]


@cache
def code_version() -> str:
    """``<package version>+<first 12 hex of sha256 over corruptions/ and pipeline/ sources>``.

    A content hash, not a git commit: it is the same in a clean clone, a sdist
    or an installed wheel, and changes exactly when the code that makes the
    bytes changes.
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for pkg in ("corruptions", "pipeline"):
        for path in sorted((root / pkg).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
