"""Value checks of the annotation importers: files, class indices, ids, review lines.

Each check raises :class:`~pipeline.errors.SourceError` naming the file, the record or line
and the value, so a malformed annotation file is refused with the fix, never coerced (a
float label truncated, a duplicate record merged, an unknown verdict ignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.errors import SourceError

__all__ = ["need_file", "read_json", "class_index", "class_list", "unique", "check_review_row"]

_INT32 = 2**31


def need_file(p: Path, what: str) -> None:
    """Refuse a missing path, a folder or a pipe where an annotation file is expected."""
    if not p.exists():
        raise SourceError(f"{what} {p} not found")
    if not p.is_file():
        raise SourceError(f"{what} {p} is not a regular file (a folder or a pipe?); pass the file")


def read_json(path: str | Path) -> Any:
    """Parse a UTF-8 JSON annotation file (clear errors for other encodings and bad JSON)."""
    p = Path(path)
    need_file(p, "annotation file")
    try:
        return json.loads(p.read_bytes().decode("utf-8-sig"))  # a BOM (Windows editors) is ok
    except UnicodeDecodeError as exc:
        raise SourceError(f"{p}: not UTF-8 text ({exc}); re-save the file as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"{p}: not valid JSON ({exc})") from exc


def class_index(v: Any, where: str, *, digits: bool = False, what: str = "class index") -> int:
    """Return a class index exactly as the file states it (an int; ``digits``: or "12").

    A float, bool or other string is refused, not truncated or coerced.
    """
    if digits and isinstance(v, str) and v.isascii() and v.isdecimal():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SourceError(f"{where}: {what} {v!r} is not an integer; the file must hold "
                          f"integers there")
    if not -_INT32 <= v < _INT32:
        raise SourceError(f"{where}: {what} {v} is out of range")
    return v


def class_list(v: Any, where: str, *, digits: bool = False) -> list[int]:
    """Return a JSON list of class indices, each checked by :func:`class_index`.

    Example:
        >>> class_list(["3", 4], "f", digits=True)
        [3, 4]
    """
    if not isinstance(v, list):
        raise SourceError(f"{where}: expected a list of class indices, got {v!r}")
    return [class_index(x, where, digits=digits) for x in v]


def unique(ids: list[str], path: str | Path, what: str) -> None:
    """Refuse two records that map to one ``sample_id`` (they would be merged silently)."""
    seen: set[str] = set()
    for s in ids:
        if s in seen:
            raise SourceError(f"{path}: two {what} map to sample_id {s!r}; keep one record per "
                              "image")
        seen.add(s)


def check_review_row(row: dict[str, Any], where: str, *, verdicts: Iterable[str],
                     categories: Iterable[str], severities: Iterable[str]) -> None:
    """Type-check one review vote in place; unknown verdicts, categories, severities refused.

    Args:
        row: The line's fields (``labels`` null becomes ``[]``).
        where: ``<file>: line <n>`` for messages.
        verdicts: Allowed ``verdict`` values (null is allowed and means ``valid``).
        categories: Allowed mistake categories.
        severities: Allowed mistake severities.
    """
    for k in ("sample_id", "annotator"):
        if not isinstance(row[k], str) or not row[k]:
            raise SourceError(f"{where}: {k} must be a non-empty string, got {row[k]!r}")
    for k in ("verdict", "category", "severity", "model"):
        if row[k] is not None and not isinstance(row[k], str):
            raise SourceError(f"{where}: {k} must be a string or null, got {row[k]!r}")
    labels = row["labels"] if row["labels"] is not None else []
    row["labels"] = class_list(labels, f"{where} labels")
    if row["offered"] is not None:
        row["offered"] = class_list(row["offered"], f"{where} offered")
    if row["given"] is not None:
        row["given"] = class_index(row["given"], f"{where} given")
    allowed = {"verdict": tuple(verdicts), "category": tuple(categories),
               "severity": tuple(severities)}
    for k, values in allowed.items():
        if row[k] is not None and row[k] not in values:
            raise SourceError(f"{where}: {k} {row[k]!r} is not one of {list(values)}")
