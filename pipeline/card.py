"""The dataset card (``README.md``) of a published benchmark, ready for the Hub.

The YAML header is what :func:`datasets.load_dataset` and the Hub read:
``configs`` with ``data_files`` per split (so ``load_dataset(<dir>, <config>)``
works offline), ``dataset_info`` per config (features with ``Image`` and
``ClassLabel`` names, split sizes, and, given the folder, ``num_bytes`` and
``dataset_size`` from the shard files), ``pretty_name``, ``license``,
``task_categories``, ``size_categories`` and ``source_datasets``. Lists of
scalars are written inline so the header stays compact.

The body is derived from what ran: the source (its options, inputs and
checksums as the pull stage recorded them, description and citation), one
table per corruption with the parameters each severity used (resolved from the
registry for the published image size, with the table's upstream file), the
contact sheet with a caption listing the upstream quirks its rows show, and
BibTeX for every source and method.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import yaml

from pipeline.citations import BIBTEX, HUB_IDS, LINKS, PRETTY, methods_used

__all__ = ["render_card", "size_category", "HF_LICENSES"]

#: License ids the Hub knows; anything else is written as ``other``.
HF_LICENSES = {
    "mit",
    "apache-2.0",
    "cc-by-4.0",
    "cc-by-sa-3.0",
    "cc-by-sa-4.0",
    "cc-by-nc-sa-4.0",
    "unknown",
}
#: Source keys the card does not repeat under "Source details".
_SOURCE_SHOWN = {"name", "source", "description", "license", "citation"}


class _CompactDumper(yaml.SafeDumper):
    """Block style in general; lists and mappings of scalars inline (one line each)."""


def _scalars(values: Any) -> bool:
    return all(isinstance(x, str | int | float | bool) or x is None for x in values)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_scalars(data))


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    node = dumper.represent_mapping("tag:yaml.org,2002:map", data.items())
    node.flow_style = _scalars(data.values())
    return node


_CompactDumper.add_representer(list, _represent_list)
_CompactDumper.add_representer(dict, _represent_dict)


def size_category(rows: int) -> str:
    """Return the Hub's ``size_categories`` bucket for a row count.

    Example:
        >>> size_category(5000), size_category(999), size_category(480000)
        ('1K<n<10K', 'n<1K', '100K<n<1M')
    """
    buckets = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"),
               (10**6, "100K<n<1M"), (10**7, "1M<n<10M"), (10**8, "10M<n<100M"),
               (10**9, "100M<n<1B"))
    return next((name for limit, name in buckets if rows < limit), "n>1T")


def _config_bytes(root: Path | None, config: str, m: Mapping[str, Any]) -> dict[str, int] | None:
    if root is None:
        return None
    sizes: dict[str, int] = {}
    for split, v in m["splits"].items():
        files = [root / config / s["file"] for s in v.get("shards", [])]
        if not files or not all(f.is_file() for f in files):
            return None
        sizes[split] = sum(f.stat().st_size for f in files)
    return sizes


def _dataset_info(config: str, m: Mapping[str, Any], sizes: dict[str, int] | None) -> dict:
    features = datasets.Features.from_dict(m["features"])
    splits = datasets.SplitDict(
        {
            s: datasets.SplitInfo(s, num_examples=v["num_rows"],
                                  num_bytes=(sizes or {}).get(s, 0))
            for s, v in m["splits"].items()
        }
    )
    info = datasets.DatasetInfo(features=features, config_name=config, splits=splits)
    out = info._to_yaml_dict()
    if sizes is not None:  # else num_bytes stays 0: `datasets` requires the field
        out["download_size"] = sum(sizes.values())
        out["dataset_size"] = sum(sizes.values())
    return out


def _shape(m: Mapping[str, Any]) -> tuple[int, ...] | None:
    """(H, W, C) from the first ``"<mode> <W>x<H>"`` image signature of a config."""
    for sig in m.get("images") or []:
        try:
            mode, size = str(sig).split()
            w, h = (int(x) for x in size.split("x"))
        except ValueError:
            continue
        return (h, w, 1 if mode == "L" else (4 if mode == "RGBA" else 3))
    return None


def _corruption_tables(
    configs: Mapping[str, Mapping[str, Any]], shape: tuple[int, ...] | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """Markdown lines (one table per corruption), table sources, quirk notes per corruption."""
    from corruptions import get_registry, resolve_params
    from corruptions.registry import resolve_preset

    groups: dict[str, list[tuple[int, str, Mapping[str, Any]]]] = {}
    for config, m in configs.items():
        if m.get("kind") == "corruption" and "corruption" in m:
            groups.setdefault(str(m["corruption"]), []).append((int(m["severity"]), config, m))
    lines: list[str] = []
    sources: list[str] = []
    quirks: dict[str, str] = {}
    registry = get_registry()
    for name, entries in groups.items():
        entries.sort()
        first = entries[0][2]
        preset = str(first.get("preset", "auto"))
        table_note, table_source = "", ""
        if name in registry and shape is not None:
            key, scale = resolve_preset(registry[name], preset, shape)
            table = registry[name].tables[key]
            table_source, table_note = table.source, table.notes
            sources.append(table.source)
            if "quirk" in table.notes.lower():
                quirks[name] = table.notes
            where = f"preset `{key}`" + (f", pixel parameters scaled x{scale:.3g}"
                                          if scale != 1.0 else "")
        else:
            where = f"preset `{preset}`"
        lines += [f"### `{name}`", "",
                  f"{where}; parameters from {table_source or first.get('reference', '?')}.", ""]
        lines += ["| severity | config | rows | parameters |", "|---|---|---|---|"]
        for severity, config, m in entries:
            params: Mapping[str, Any] = {}
            if name in registry and shape is not None:
                params = resolve_params(name, severity=severity, preset=preset, shape=shape)
            rows = ", ".join(f"{s}: {v['num_rows']}" for s, v in m["splits"].items())
            text = ", ".join(f"{k}={_short(v)}" for k, v in params.items()) or "-"
            lines.append(f"| {severity} | `{config}` | {rows} | {_md(text)} |")
        if table_note:
            lines += ["", f"Note: {_md(table_note)}"]
        lines.append("")
    return lines, sources, quirks


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _dataset_key(src: Mapping[str, Any]) -> str:
    """Return the known dataset a source is: its registry key, else its ``name``.

    A Parquet or image-folder copy of CIFAR-10 given ``name: cifar10`` is cited,
    named and linked as CIFAR-10 (its ids join the reference files under that name too).
    """
    source = str(src.get("source", ""))
    return source if source in BIBTEX else str(src.get("name", source))


def _pretty_name(name: str, sources: Mapping[str, Mapping[str, Any]], corrupted: bool) -> str:
    names = [PRETTY.get(_dataset_key(s), str(s.get("name"))) for s in sources.values()]
    base = " + ".join(names) or name
    return f"{base}{'-C' if corrupted else ''} ({name}, rebuilt by benchsmith)"


def _source_section(
    sources: Mapping[str, Mapping[str, Any]], inputs: Mapping[str, list]
) -> list[str]:
    """Each source as pull recorded it, with the files it read and their checksums."""
    lines = ["## Source", ""]
    for src in sources.values():
        lines.append(f"**{src['name']}** (source `{src['source']}`, license "
                     f"{src.get('license', 'unknown')}). {src.get('description', '')}".rstrip())
        lines.append("")
        details = {k: v for k, v in src.items() if k not in _SOURCE_SHOWN and v not in ({}, None)}
        for key, value in details.items():
            rendered = json.dumps(value, sort_keys=True)
            lines.append(f"- {key}: `{rendered}`")
        if src.get("citation"):
            lines.append(f"- citation: {src['citation']}")
        files = [f for f in inputs.get(str(src["name"]), []) if isinstance(f, dict)]
        if files:
            lines += ["", "| input file | bytes | sha256 |", "|---|---|---|"]
            lines += [f"| `{_md(f.get('path', '?'))}` | {f.get('bytes', '?')} | "
                      f"`{f.get('sha256', '?')}` |" for f in files]
        lines.append("")
    return lines


def _storage_lines(configs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """How the corrupted images are stored (the encoding each config manifest records)."""
    seen: dict[str, list[str]] = {}
    for config, m in configs.items():
        if m.get("kind") != "corruption":
            continue
        enc = dict(m.get("encoding") or {"format": "png"})
        libs = enc.pop("library", {}) or {}
        fmt = str(enc.pop("format", "png"))
        stored = ", ".join(f"{k} {v}" for k, v in enc.items())
        text = (f"stored as {fmt.upper()} ({stored})" if stored else f"stored as {fmt.upper()}")
        if libs:
            text += "; encoder " + ", ".join(f"{k} {v}" for k, v in sorted(libs.items()))
        seen.setdefault(text, []).append(config)
    if not seen:
        return []
    if len(seen) == 1:
        return [f"Corrupted images are {next(iter(seen))}.", ""]
    return [f"- {t}: {', '.join(f'`{c}`' for c in cs)}" for t, cs in seen.items()] + [""]


def render_card(
    name: str,
    description: str,
    configs: Mapping[str, Mapping[str, Any]],
    *,
    default: str | None,
    contact_sheet: str | None = None,
    extra_sections: Sequence[str] = (),
    root: Path | None = None,
) -> str:
    """Render the dataset card text.

    Args:
        name: Benchmark name.
        description: The manifest's description.
        configs: Config name -> its ``manifest.json`` content (ordered as listed).
        default: The default config (usually ``clean``).
        contact_sheet: Relative path of the contact-sheet PNG, if any.
        extra_sections: Markdown sections appended at the end.
        root: The benchmark folder holding the shards; when given, ``num_bytes`` and
            ``dataset_size`` are the shard files' sizes (otherwise ``num_bytes`` is 0,
            the placeholder ``datasets`` requires).

    Returns:
        The whole ``README.md`` text.
    """
    from pipeline import __version__

    sources: dict[str, Mapping[str, Any]] = {}
    inputs: dict[str, list] = {}
    for m in configs.values():
        src = m.get("source")
        if isinstance(src, dict):
            sources[src["name"]] = src
            if isinstance(m.get("inputs"), list):
                inputs[src["name"]] = m["inputs"]
    licenses = sorted({str(s.get("license", "unknown")) for s in sources.values()}) or ["unknown"]
    license_id = licenses[0] if len(licenses) == 1 and licenses[0] in HF_LICENSES else "other"
    clean = next((m for m in configs.values() if m.get("kind") == "clean"), None)
    shape = _shape(clean) if clean else None
    corrupted = any(m.get("kind") == "corruption" for m in configs.values())
    total_rows = sum(v["num_rows"] for m in configs.values() for v in m["splits"].values())
    sizes = {c: _config_bytes(root, c, m) for c, m in configs.items()}
    source_datasets = sorted(
        {f"extended|{HUB_IDS[_dataset_key(s)]}" for s in sources.values()
         if _dataset_key(s) in HUB_IDS}
        | {f"extended|{s['options']['repo_id']}" for s in sources.values()
           if str(s.get("source")) == "hf" and isinstance(s.get("options"), dict)
           and s["options"].get("repo_id")}
    ) or ["original"]
    header: dict[str, Any] = {
        "pretty_name": _pretty_name(name, sources, corrupted),
        "license": license_id,
        "task_categories": ["image-classification"],
        "size_categories": [size_category(total_rows)],
        "source_datasets": source_datasets,
        "tags": ["benchsmith", "robustness", "evaluation"],
        "configs": [
            {
                "config_name": config,
                "data_files": [
                    {"split": split, "path": f"{config}/{split}-*.parquet"} for split in m["splits"]
                ],
                **({"default": True} if config == default else {}),
            }
            for config, m in configs.items()
        ],
        "dataset_info": [_dataset_info(c, m, sizes[c]) for c, m in configs.items()],
    }
    dumped = yaml.dump(header, Dumper=_CompactDumper, sort_keys=False, allow_unicode=True,
                       width=100)
    table_lines, table_sources, quirks = _corruption_tables(configs, shape)
    lines = ["---", dumped.rstrip(), "---", ""]
    lines += [f"# {name}", "", description.strip() or "(no description)", ""]
    lines += [
        f"Built with benchsmith {__version__}. Load a config offline with:",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("<this folder>", "{default or next(iter(configs))}")',
        "```",
        "",
    ]
    if contact_sheet:
        lines += ["## Contact sheet", "", f"![contact sheet]({contact_sheet})", ""]
        lines.append("One row per corruption, one column per severity, the first images of the "
                     "clean config.")
        if quirks:
            lines += ["", "Upstream quirks that show in these rows (kept on purpose, for parity "
                      "with the published benchmark):", ""]
            lines += [f"- `{c}`: {_md(note)}" for c, note in quirks.items()]
        lines.append("")
    others = {c: m for c, m in configs.items() if m.get("kind") != "corruption"}
    lines += ["## Configs", "", "| config | kind | rows | description |", "|---|---|---|---|"]
    for config, m in others.items():
        rows = ", ".join(f"{s}: {v['num_rows']}" for s, v in m["splits"].items())
        desc = m.get("description") or (m.get("source") or {}).get("description", "")
        lines.append(f"| `{config}` | {m.get('kind', '')} | {rows} | {_md(desc)} |")
    lines.append("")
    if table_lines:
        lines += ["## Corruptions", ""] + _storage_lines(configs) + table_lines
    rejects = {
        c: m["rejects"]["count"] for c, m in configs.items() if m.get("rejects", {}).get("count")
    }
    if rejects:
        lines += ["## Rejected rows", ""]
        lines += [
            f"- `{c}`: {n} rows quarantined (reasons in `{c}/manifest.json`)"
            for c, n in rejects.items()
        ]
        lines.append("")
    lines += _source_section(sources, inputs)
    methods = methods_used({str(m.get("kind", "")) for m in configs.values()}, table_sources)
    keys = [_dataset_key(s) for s in sources.values() if _dataset_key(s) in BIBTEX] + methods
    if methods:
        lines += ["## Methods", ""]
        for method in methods:
            paper, code = LINKS.get(method, ("", ""))
            lines.append(f"- `{method}`: [paper]({paper}), [reference code]({code})")
        lines.append("")
    entries = list(dict.fromkeys(BIBTEX[k] for k in keys))
    if entries:
        lines += ["## Citation", "", "```bibtex", "\n\n".join(entries), "```", ""]
    lines += list(extra_sections)
    return "\n".join(lines) + "\n"
