"""Strict YAML for manifests: PyYAML's safe loader without anchors and aliases."""

from __future__ import annotations

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
