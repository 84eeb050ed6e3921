"""Strict YAML for manifests: PyYAML's safe loader without anchors, aliases or YAML 1.1 numbers.

YAML 1.1 (PyYAML) reads ``010`` as 8 (octal), ``0x10`` as 16, ``1_000`` as 1000 and
``1:30`` as 90 (base 60); a manifest value or ``--set limit=010`` was silently turned
into another number. Here only plain decimals are numbers (the YAML 1.2 core schema's
rule); the rest stay strings, which the manifest's validators refuse by key.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from pipeline.errors import ManifestError

__all__ = ["parse_yaml"]


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases.

    Aliases let a 1 KB file expand to gigabytes ("billion laughs") or refer to
    themselves; a manifest never needs them, so the first one is refused with its line.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 - PyYAML hook
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            raise ManifestError(
                f"line {event.start_mark.line + 1}: YAML {kind} {'*&'[kind == 'anchor']}"
                f"{anchor} is not allowed in a manifest (anchors and aliases can expand without "
                "bound); write the value out in full"
            )
        return super().compose_node(parent, index)


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"),
                                    list("-+0123456789"))
_StrictLoader.add_implicit_resolver(  # PyYAML's float rule without `_` and base 60
    _FLOAT,
    re.compile(r"""^(?:[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|[-+]?\.[0-9]+(?:[eE][-+][0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def parse_yaml(text: str, *, where: str) -> Any:
    """Parse one YAML document with :class:`_StrictLoader`.

    Raises:
        ManifestError: Invalid YAML, an anchor or alias, or nesting too deep; names ``where``.
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ManifestError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{where}: not valid YAML ({exc})") from exc
    except RecursionError as exc:
        raise ManifestError(f"{where}: YAML nested too deeply to be a manifest") from exc
