"""The dataset card (``README.md``) of a published benchmark.

The YAML header is what :func:`datasets.load_dataset` reads: ``configs`` with
``data_files`` per split (so ``load_dataset(<dir>, <config>)`` works offline),
``dataset_info`` with the features per config (``Image`` and ``ClassLabel``
survive), plus license and tags. The body describes every config, the
sources with their citations, and links the contact sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import datasets
import yaml

__all__ = ["render_card", "HF_LICENSES"]

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


def _dataset_info(config: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
    features = datasets.Features.from_dict(manifest["features"])
    splits = datasets.SplitDict(
        {
            s: datasets.SplitInfo(s, num_examples=v["num_rows"])
            for s, v in manifest["splits"].items()
        }
    )
    return datasets.DatasetInfo(
        features=features, config_name=config, splits=splits
    )._to_yaml_dict()


def render_card(
    name: str,
    description: str,
    configs: Mapping[str, Mapping[str, Any]],
    *,
    default: str | None,
    contact_sheet: str | None = None,
    extra_sections: Sequence[str] = (),
) -> str:
    """Render the dataset card text.

    Args:
        name: Benchmark name.
        description: The manifest's description.
        configs: Config name -> its ``manifest.json`` content (ordered as listed).
        default: The default config (usually ``clean``).
        contact_sheet: Relative path of the contact-sheet PNG, if any.
        extra_sections: Markdown sections appended at the end.

    Returns:
        The whole ``README.md`` text.
    """
    sources = {}
    for m in configs.values():
        src = m.get("source")
        if isinstance(src, dict):
            sources[src["name"]] = src
    licenses = sorted({str(s.get("license", "unknown")) for s in sources.values()}) or ["unknown"]
    license_id = licenses[0] if len(licenses) == 1 and licenses[0] in HF_LICENSES else "other"
    header: dict[str, Any] = {
        "pretty_name": name,
        "license": license_id,
        "task_categories": ["image-classification"],
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
        "dataset_info": [_dataset_info(config, m) for config, m in configs.items()],
    }
    lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", ""]
    lines += [f"# {name}", "", description.strip() or "(no description)", ""]
    lines += [
        "Built by [benchsmith](https://pypi.org/project/benchsmith/). Load a config with:",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("<this folder>", "{default or next(iter(configs))}")',
        "```",
        "",
    ]
    if contact_sheet:
        lines += ["## Contact sheet", "", f"![contact sheet]({contact_sheet})", ""]
    lines += ["## Configs", "", "| config | kind | rows | description |", "|---|---|---|---|"]
    for config, m in configs.items():
        rows = ", ".join(f"{s}: {v['num_rows']}" for s, v in m["splits"].items())
        desc = str(m.get("description") or m.get("source", {}).get("description", "")).replace(
            "|", "\\|"
        )
        lines.append(f"| `{config}` | {m.get('kind', '')} | {rows} | {desc} |")
    lines.append("")
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
    lines += ["## Sources and citations", ""]
    for src in sources.values():
        lines.append(
            f"- **{src['name']}** (`{src['source']}`, license {src.get('license', 'unknown')}): "
            f"{src.get('description', '')} Cite: {src.get('citation', '')}"
        )
    lines.append("")
    lines += list(extra_sections)
    return "\n".join(lines) + "\n"
