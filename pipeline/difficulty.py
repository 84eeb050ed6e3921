"""``benchsmith difficulty``: how far each derived config moved its images, as plot data.

For every corruption (and shift) config of a published benchmark, the first
``--rows`` rows of the clean config are joined on ``sample_id`` with the derived
rows and compared pixel by pixel: the mean absolute difference (0..255 scale)
and the fraction of pixels changed. A model-free difficulty proxy, small enough
to track in git, plotted by ``dvc plots show`` per corruption and severity.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.errors import BenchsmithError
from pipeline.shards import atomic_write_json, list_shards, read_config_manifest, read_shard
from pipeline.sources.hf import decode_image
from pipeline.stage import is_plain_relative

__all__ = ["difficulty", "main"]


def _images(folder: Path, ids: set[str] | None, limit: int | None) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    shard_lists = list_shards(folder)
    if not shard_lists:
        raise BenchsmithError(f"{folder} holds no shards; republish, or `benchsmith validate` it")
    for shards in shard_lists.values():
        for shard in shards:
            try:
                table, _ = read_shard(shard, ["sample_id", "image"])
            except (pa.ArrowException, OSError) as exc:
                raise BenchsmithError(f"{shard}: unreadable shard ({exc}); `benchsmith validate` "
                                      "the benchmark") from exc
            for sid, img in zip(table["sample_id"].to_pylist(), table["image"].to_pylist(),
                                strict=True):
                if (ids is None or sid in ids) and img is not None:
                    try:
                        found[sid] = decode_image(img["bytes"])
                    except BenchsmithError as exc:
                        raise BenchsmithError(f"{shard}: {sid}: {exc}") from exc
                if limit is not None and len(found) >= limit:
                    return found
    return found


def difficulty(root: Path, *, rows: int = 200) -> list[dict[str, Any]]:
    """Measure every derived config of ``root`` against its clean config.

    Args:
        root: A benchmark folder written by ``benchsmith publish``.
        rows: Clean rows compared (the first ``rows`` in shard order), >= 1.

    Returns:
        One record per derived config: ``config``, ``kind``, ``corruption``,
        ``severity``, ``rows`` compared, ``mean_abs_diff`` (0..255) and
        ``changed_fraction`` (0..1), rounded to 6 decimals so the file is stable.

    Raises:
        BenchsmithError: ``root`` is not a benchmark or has no clean config.
    """
    root = Path(root)
    try:
        info = json.loads((root / "benchmark.json").read_text())
    except (OSError, ValueError) as exc:
        raise BenchsmithError(f"{root}: no readable benchmark.json ({exc}); publish first") from exc
    configs = info.get("configs") if isinstance(info, dict) else None
    if not isinstance(configs, list) or not all(
            isinstance(c, str) and is_plain_relative(c) and "/" not in c for c in configs):
        raise BenchsmithError(f"{root / 'benchmark.json'}: 'configs' must list config folder "
                              f"names, got {configs!r}; republish")
    metas = {c: read_config_manifest(root / c) for c in configs}
    records: list[dict[str, Any]] = []
    clean_cache: dict[str, dict[str, np.ndarray]] = {}
    for config, m in metas.items():
        if m.get("kind") not in ("corruption", "shift"):
            continue
        clean_name = str(m.get("clean_config", info.get("default", "clean")))
        if clean_name not in metas:
            raise BenchsmithError(f"{root / config}: its clean config {clean_name!r} is missing")
        if clean_name not in clean_cache:
            clean_cache[clean_name] = _images(root / clean_name, None, rows)
        clean = clean_cache[clean_name]
        derived = _images(root / config, set(clean), None)
        diffs, changed, n = 0.0, 0.0, 0
        for sid, img in derived.items():
            ref = clean[sid]
            if ref.shape != img.shape:
                continue
            d = np.abs(img.astype(np.int16) - ref.astype(np.int16))
            diffs += float(d.mean())
            changed += float((d > 0).mean())
            n += 1
        records.append({
            "config": config,
            "kind": m.get("kind"),
            "corruption": m.get("corruption", m.get("shift", config)),
            "severity": m.get("severity", m.get("intensity")),
            "rows": n,
            "mean_abs_diff": round(diffs / n, 6) if n else None,
            "changed_fraction": round(changed / n, 6) if n else None,
        })
    return records


def main(argv: list[str] | None = None) -> int:
    """``benchsmith difficulty``: write per-config pixel-change plot data for a benchmark."""
    parser = argparse.ArgumentParser(prog="benchsmith difficulty", description=main.__doc__)
    parser.add_argument("root", type=Path, help="benchmark folder written by `benchsmith publish`")
    parser.add_argument("--out", required=True, type=Path, help="plot-data JSON to write")
    parser.add_argument("--rows", type=int, default=200, help="clean rows compared per config")
    args = parser.parse_args(argv)
    if args.rows < 1:
        raise BenchsmithError(f"--rows {args.rows}: expected >= 1")
    records = difficulty(args.root, rows=args.rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, records)
    print(f"difficulty: {len(records)} derived configs measured on up to {args.rows} rows "
          f"-> {args.out}")
    return 0
