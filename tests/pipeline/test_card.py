"""The dataset card is Hub-ready and says what actually ran."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pytest
import yaml

from corruptions import resolve_params
from pipeline.card import render_card, size_category
from pipeline.citations import BIBTEX
from pipeline.corrupt import corrupt
from pipeline.manifest import parse_manifest
from pipeline.publish import publish
from pipeline.pull import pull

SMALL = {
    "name": "card-small",
    "description": "Card test build.",
    "seed": 5,
    "sources": [{"source": "digits", "splits": ["train"], "limit": 40}],
    "corrupt": {
        "preset": "auto",
        "suites": [{"corruptions": {"gaussian_blur": [1, 3], "contrast": [2]}}],
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("card")
    m = parse_manifest(SMALL, path="card.yaml")
    pull(m, root / "pulled", scheduler="sync", shard_size=25, progress=False)
    corrupt(m, root / "pulled", root / "corrupted", scheduler="sync", progress=False)
    info = publish(m, [root / "pulled", root / "corrupted"], root / "out")
    out = root / "out"
    configs = {c: json.loads((out / c / "manifest.json").read_text()) for c in info["configs"]}
    return out, configs


def _card(built, **kw) -> tuple[str, dict]:
    out, configs = built
    text = render_card("card-small", "Card test build.", configs, default="clean",
                       contact_sheet="contact_sheet.png", **kw)
    return text, yaml.safe_load(text.split("---")[1])


def test_header_is_hub_metadata_with_real_sizes(built) -> None:
    out, configs = built
    text, header = _card(built, root=out)
    assert header["task_categories"] == ["image-classification"]
    assert header["size_categories"] == ["n<1K"]  # 4 configs x 40 rows
    assert header["source_datasets"] == ["original"]  # UCI digits has no Hub id of its own
    assert header["license"] == "cc-by-4.0"
    assert header["pretty_name"] != "card-small" and "UCI digits" in header["pretty_name"]
    for info in header["dataset_info"]:
        config = info["config_name"]
        shard_bytes = sum(p.stat().st_size for p in (out / config).glob("*.parquet"))
        assert info["splits"][0]["num_bytes"] == shard_bytes > 0
        assert info["dataset_size"] == shard_bytes
        features = datasets.Features._from_yaml_list(info["features"])
        assert features == datasets.Features.from_dict(configs[config]["features"])
    # Compact: one line per plain feature, inline class names.
    assert len(text.split("---")[1].splitlines()) < 30 * len(configs)


def test_card_header_is_what_datasets_reads(built) -> None:
    out, configs = built
    text, _ = _card(built, root=out)
    (out / "README.md").write_text(text)
    builder = datasets.load_dataset_builder(str(out), "gaussian_blur_3")
    assert builder.info.splits["train"].num_examples == 40
    assert builder.info.splits["train"].num_bytes == sum(
        p.stat().st_size for p in (out / "gaussian_blur_3").glob("*.parquet"))
    assert builder.info.features["label"].names == [str(i) for i in range(10)]


def test_one_table_per_corruption_with_the_parameters_that_ran(built) -> None:
    text, _ = _card(built)
    section = text.split("## Corruptions")[1].split("## Source")[0]
    assert re.findall(r"^### `(\w+)`$", section, re.M) == ["contrast", "gaussian_blur"]
    blur = section.split("### `gaussian_blur`")[1].split("###")[0]
    assert "google-research/mnist-c" in blur and "make_imagenet_c" not in blur
    for severity in (1, 3):
        params = resolve_params("gaussian_blur", severity=severity, preset="auto",
                                shape=(8, 8, 1))
        cells = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
        )
        assert f"| {severity} | `gaussian_blur_{severity}` | train: 40 | {cells} |" in blur


def test_contact_sheet_caption_explains_the_quirks_it_shows(built) -> None:
    text, _ = _card(built)
    caption = text.split("## Contact sheet")[1].split("## Configs")[0]
    assert "`gaussian_blur`" in caption and "rows only" in caption
    assert "`contrast`" not in caption  # no quirk noted in its table


def test_bibtex_for_source_and_method_and_no_dead_links(built) -> None:
    text, _ = _card(built)
    bib = text.split("```bibtex")[1].split("```")[0]
    assert BIBTEX["digits"] in bib and BIBTEX["mnist_c"] in bib
    assert bib.count("@") == 2
    assert "pypi.org/project/benchsmith" not in text
    assert "Cite: \n" not in text and not re.search(r"citation:\s*$", text, re.M)
    urls = set(re.findall(r"https?://[^\s)]+", text))
    assert urls <= {"https://arxiv.org/abs/1906.02337", "https://github.com/google-research/mnist-c"}


@pytest.mark.parametrize(("rows", "bucket"), [(0, "n<1K"), (1000, "1K<n<10K"),
                                               (9999, "1K<n<10K"), (950_000, "100K<n<1M")])
def test_size_category(rows: int, bucket: str) -> None:
    assert size_category(rows) == bucket


def test_a_local_copy_named_like_the_dataset_is_cited_as_it(built) -> None:
    out, configs = built
    local = json.loads(json.dumps(configs))
    local["clean"]["source"].update({"name": "cifar10", "source": "parquet", "description": "",
                                     "license": "unknown", "citation": "",
                                     "options": {"files": {"train": "/data/c10/*.parquet"}}})
    digest = "ab" * 32
    local["clean"]["inputs"] = [{"path": "/data/c10/test.parquet", "bytes": 123, "sha256": digest}]
    text = render_card("c", "d", local, default="clean")
    header = yaml.safe_load(text.split("---")[1])
    assert header["source_datasets"] == ["extended|uoft-cs/cifar10"]
    assert header["pretty_name"].startswith("CIFAR-10-C")
    assert BIBTEX["cifar10"] in text
    source = text.split("## Source")[1]
    assert '/data/c10/*.parquet' in source
    assert f"| `/data/c10/test.parquet` | 123 | `{digest}` |" in source
