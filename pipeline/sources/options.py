"""Typed source options: bool is bool, int is int, strings are strings, nothing coerced.

Each option of the source registry is an :class:`Opt` saying its kind and range;
:func:`check_option` refuses any other value with a message naming the key, the
value, what is allowed and the fix. YAML writes ``download: no`` as a bool but
``download: "no"`` as a string: the string is refused, never taken as truthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import OptionError

__all__ = ["Opt", "check_option", "check_int", "check_str", "check_str_list", "describe"]

#: kind -> how it is written in YAML (for messages)
_EXAMPLES = {
    "bool": "true or false (unquoted)",
    "int": "an integer",
    "str": "a string",
    "str_list": "a list of strings, e.g. [a, b]",
    "str_map": "a mapping of strings, e.g. {test: data/*.parquet}",
}


@dataclass(frozen=True)
class Opt:
    """One typed option.

    Attributes:
        kind: ``bool``, ``int``, ``str``, ``str_list`` (distinct, non-empty strings)
            or ``str_map`` (non-empty mapping string -> string).
        help: One-line meaning, listed in errors.
        nullable: ``null`` is allowed (means "not given").
        minimum: Smallest allowed int.
        maximum: Largest allowed int.
        choices: Allowed string values.
    """

    kind: str
    help: str
    nullable: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None

    def __str__(self) -> str:
        """Return the help text (so option tables print like the plain-string ones did)."""
        return self.help


def describe(opt: Opt | str) -> str:
    """One-line help of an option (plain strings are untyped legacy entries)."""
    return opt if isinstance(opt, str) else opt.help


def _fail(where: str, value: Any, expected: str, fix: str = "") -> OptionError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    tail = f"; {fix}" if fix else ""
    return OptionError(
        f"{where}: {shown} ({type(value).__name__}) is not allowed; expected {expected}{tail}"
    )


def check_int(
    value: Any, where: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` if it is an int (not a bool, not a float) within range.

    Example:
        >>> check_int(3, "limit", minimum=1)
        3
    """
    if minimum is not None and maximum is not None:
        expected = f"an integer in {minimum}..{maximum}"
    elif minimum is not None:
        expected = f"an integer >= {minimum}"
    elif maximum is not None:
        expected = f"an integer <= {maximum}"
    else:
        expected = "an integer"
    if isinstance(value, bool) or not isinstance(value, int):
        fix = "write it without quotes or decimals" if isinstance(value, (str, float)) else ""
        raise _fail(where, value, expected, fix)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise _fail(where, value, expected)
    return value


def check_str(value: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
    """Return ``value`` if it is a non-empty string (one of ``choices`` when given)."""
    expected = f"one of {list(choices)}" if choices else "a non-empty string"
    if not isinstance(value, str) or not value:
        raise _fail(where, value, expected, "quote it if YAML read it as a number or bool")
    if choices is not None and value not in choices:
        raise _fail(where, value, expected)
    return value


def check_str_list(value: Any, where: str) -> list[str]:
    """Return ``value`` if it is a non-empty list of distinct non-empty strings."""
    expected = _EXAMPLES["str_list"]
    if not isinstance(value, list) or not value:
        fix = "a single string is not a list of names: write [a, b, ...]" if isinstance(
            value, str) else ""
        raise _fail(where, value, expected, fix)
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise _fail(f"{where}[{i}]", item, "a non-empty string", "quote numbers")
    dupes = sorted({x for x in value if value.count(x) > 1})
    if dupes:
        raise OptionError(f"{where}: duplicate entries {dupes}; every entry must be distinct")
    return list(value)


def check_option(name: str, value: Any, opt: Opt | str, where: str) -> Any:
    """Check one option value against its :class:`Opt`; return it unchanged.

    Args:
        name: The option name.
        value: The value from the manifest.
        opt: Its spec (a plain string means an untyped legacy entry: not checked).
        where: Key path for messages, e.g. ``manifests/x.yaml: sources[0]``.

    Raises:
        OptionError: Wrong type or value; the message names key, value, allowed values and fix.
    """
    key = f"{where}.options.{name}"
    if isinstance(opt, str):
        return value
    if value is None:
        if opt.nullable:
            return None
        raise _fail(key, value, _EXAMPLES.get(opt.kind, opt.kind), "remove the key to use the "
                    "default")
    if opt.kind == "bool":
        if not isinstance(value, bool):
            raise _fail(key, value, _EXAMPLES["bool"], f"write `{name}: true` or `{name}: false`")
        return value
    if opt.kind == "int":
        return check_int(value, key, minimum=opt.minimum, maximum=opt.maximum)
    if opt.kind == "str":
        return check_str(value, key, opt.choices)
    if opt.kind == "str_list":
        return check_str_list(value, key)
    if opt.kind == "str_map":
        if not isinstance(value, Mapping) or not value:
            raise _fail(key, value, _EXAMPLES["str_map"])
        for k, v in value.items():
            check_str(k, f"{key} key", None)
            check_str(v, f"{key}.{k}", None)
        return value
    raise AssertionError(f"unknown option kind {opt.kind!r}")  # registry bug, not user input
