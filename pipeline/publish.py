"""The ``publish`` stage: assemble config folders into one loadable benchmark folder.

Input: folders written by earlier stages (``data/pulled``, ``data/corrupted/*``,
``data/audit``, ...), searched for config folders (a folder holding
``manifest.json``). Output ``<out>/``: one folder per config (its shards and
``manifest.json``), ``README.md`` (the dataset card), ``contact_sheet.png``
when there are corruption configs, and ``benchmark.json`` (config list, seed,
code version). Files are copied to temporary names and renamed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.card import render_card
from pipeline.errors import BenchsmithError
from pipeline.manifest import Manifest
from pipeline.shards import atomic_write_bytes, atomic_write_json, list_shards, read_shard
from pipeline.sources.hf import decode_image
from pipeline.version import code_version

__all__ = ["find_configs", "publish", "contact_sheet_rows", "main"]

KIND_ORDER = {"clean": 0, "corruption": 1, "shift": 2, "audit": 3, "labels": 4, "slice": 5}


def find_configs(inputs: list[Path]) -> dict[str, Path]:
    """Config name -> folder for every config folder under ``inputs``.

    Raises:
        BenchsmithError: Two inputs hold a config of the same name.
    """
    found: dict[str, Path] = {}
    for root in inputs:
        root = Path(root)
        if not root.is_dir():
            raise BenchsmithError(
                f"publish input {root} is not a folder; run the stage that writes it"
            )
        for m in sorted(root.rglob("manifest.json")):
            if any(part.startswith(".") for part in m.relative_to(root).parts):
                continue
            name = m.parent.name
            if name in found and found[name] != m.parent:
                raise BenchsmithError(f"config {name!r} is in both {found[name]} and {m.parent}")
            found[name] = m.parent
    return found


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def contact_sheet_rows(
    configs: dict[str, dict[str, Any]], folders: dict[str, Path], n_samples: int = 3
) -> tuple[list[tuple[str, list[np.ndarray]]], list[str]]:
    """Return contact-sheet rows and column labels.

    Rows are one per corruption, with cells one per severity, each a strip of ``n_samples``
    images; the column labels are ``severity <n>``.
    """
    grid: dict[str, dict[int, np.ndarray]] = {}
    for config, m in configs.items():
        if m.get("kind") != "corruption":
            continue
        split_shards = list_shards(folders[config])
        first = next(iter(split_shards.values()))[0]
        table, _ = read_shard(first, ["image"])
        images = [decode_image(d["bytes"]) for d in table["image"].to_pylist()[:n_samples]]
        images = [im if im.ndim == 3 else np.repeat(im[..., None], 3, axis=2) for im in images]
        gap = np.full((images[0].shape[0], 2, 3), 255, np.uint8)
        strip = np.concatenate([x for im in images for x in (im, gap)][:-1], axis=1)
        grid.setdefault(m["corruption"], {})[int(m["severity"])] = strip
    severities = sorted({s for row in grid.values() for s in row})
    rows = []
    for corruption, cells in grid.items():
        blank = np.full_like(next(iter(cells.values())), 255)
        rows.append((corruption, [cells.get(s, blank) for s in severities]))
    return rows, [f"severity {s}" for s in severities]


def publish(manifest: Manifest, inputs: list[Path], out: Path) -> dict[str, Any]:
    """Publish every config under ``inputs`` into ``out``; return ``benchmark.json`` content."""
    folders = find_configs(inputs)
    if not folders:
        raise BenchsmithError(f"no config folders (with manifest.json) under {inputs}")
    metas = {c: json.loads((p / "manifest.json").read_text()) for c, p in folders.items()}
    order = sorted(metas, key=lambda c: (KIND_ORDER.get(metas[c].get("kind", ""), 9), c))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        if stale.is_dir() and stale.name not in folders:
            shutil.rmtree(stale)
    for config in order:
        dst = out / config
        dst.mkdir(exist_ok=True)
        listed = {s["file"] for split in metas[config]["splits"].values() for s in split["shards"]}
        for f in dst.iterdir():
            if f.is_file() and f.name not in listed and f.name != "manifest.json":
                f.unlink()
        for name in sorted(listed):
            _copy_atomic(folders[config] / name, dst / name)
        _copy_atomic(folders[config] / "manifest.json", dst / "manifest.json")
    ordered = {c: metas[c] for c in order}
    sheet = None
    if any(m.get("kind") == "corruption" for m in metas.values()):
        from pipeline.contact_sheet import render_contact_sheet

        rows, labels = contact_sheet_rows(ordered, folders)
        render_contact_sheet(rows, column_labels=labels, path=out / "contact_sheet.png", scale=2)
        sheet = "contact_sheet.png"
    default = next((c for c in order if metas[c].get("kind") == "clean"), order[0])
    card = render_card(manifest.name, manifest.description, ordered, default=default,
                       contact_sheet=sheet)
    atomic_write_bytes(out / "README.md", card.encode())
    info = {
        "name": manifest.name,
        "configs": order,
        "default": default,
        "seed": manifest.seed,
        "code_version": code_version(),
        "manifest": manifest.raw,
    }
    atomic_write_json(out / "benchmark.json", info)
    return info


def main(argv: list[str] | None = None) -> int:
    """``benchsmith publish``: assemble config folders and the dataset card."""
    from pipeline.manifest import load_manifest

    parser = argparse.ArgumentParser(prog="benchsmith publish", description=main.__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--inputs", nargs="+", required=True, type=Path,
                        help="folders holding config folders (data/pulled data/corrupted ...)")
    parser.add_argument("--out", required=True, type=Path, help="benchmark folder to write")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    info = publish(manifest, args.inputs, args.out)
    print(f"published {len(info['configs'])} configs to {args.out}")
    return 0
