"""``benchsmith validate --recompute FRACTION``: regenerate sampled rows and compare bytes.

Generation is deterministic, so a corruption row is a function of its clean row,
the config's ``manifest.json`` (corruption, severity, preset, rounding, seed,
encoding) and the depth source recorded in the row's ``params``. For a
seed-chosen sample of each corruption config's rows this module redoes exactly
what :mod:`pipeline.corrupt` did —
``apply(corruption, image, severity=, preset=, rng=derive_rng(seed, sample_id,
corruption, severity), rounding=, depth=)`` — encodes the result in the declared
encoding and compares it with the published bytes. That catches swapped,
edited or re-encoded images even when someone also updated every sha256.

A row is sampled when ``sha256(f"{sample_seed}/{config}/{sample_id}")`` read
as a fraction of 2**64 is below ``FRACTION``: the sample does not depend on
shard layout or order, and differs per config. Rows whose depth came from a
user's depth model (not part of the published folder) are skipped and counted.
Configs built by another code version are still compared (an edited
``code_version`` must not switch the check off); the report notes the versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import BenchsmithError
from pipeline.parallel import run_tasks
from pipeline.shards import encode_png
from pipeline.sources.hf import decode_image, read_depth_png
from pipeline.validate_report import Report
from pipeline.validate_shards import Findings
from pipeline.version import code_version

__all__ = ["sampled", "_encode_like", "recompute_shard", "recompute_configs"]


def sampled(sample_seed: int, config: str, sample_id: str, fraction: float) -> bool:
    """Whether ``sample_id`` of ``config`` is in the seed-chosen sample.

    Example:
        >>> sampled(0, "fog_2", "digits/train/0", 1.0), sampled(0, "fog_2", "digits/train/0", 0.0)
        (True, False)
    """
    digest = hashlib.sha256(f"{sample_seed}/{config}/{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2.0**64


def _encode_like(config_manifest: Mapping[str, Any], array: np.ndarray) -> bytes:
    """Encode pixels exactly as the stage that wrote ``config_manifest``'s config did.

    The config's ``manifest.json`` ``encoding`` (``{format, ...settings, library}``) names
    the encoder settings; absent means the PNG benchsmith wrote before encodings were
    recorded (:func:`pipeline.shards.encode_png` at zlib level 6).

    Args:
        config_manifest: The config's ``manifest.json``.
        array: uint8 pixels.

    Returns:
        The encoded bytes.

    Raises:
        BenchsmithError: The encoding is unknown or malformed, or this benchsmith has no
            encoder for it.
    """
    recorded = config_manifest.get("encoding")
    try:
        from pipeline import encoding as enc  # type: ignore[attr-defined]
    except ImportError:
        enc = None
    if enc is None:
        if recorded is None or recorded.get("format") == "png" and set(recorded) <= {"format"}:
            return encode_png(array)
        raise BenchsmithError(f"encoding {recorded!r} needs pipeline.encoding; update benchsmith")
    if recorded is None:
        return bytes(enc.encode_image(array, enc.PNG_LEGACY))
    settings = {k: v for k, v in dict(recorded).items() if k != "library"}
    try:
        spec = enc.parse_section(settings, "manifest.json encoding")
    except BenchsmithError as exc:
        raise BenchsmithError(f"cannot re-encode: {exc}") from exc
    return bytes(enc.encode_image(array, spec))


def _stamp(path: str) -> tuple[str, int, int]:
    st = Path(path).stat()
    return path, st.st_size, st.st_mtime_ns


@lru_cache(maxsize=4)
def _clean_rows(stamp: tuple[str, int, int]) -> tuple[pa.Table, dict[Any, int]]:
    """Read a clean shard once per process (every corruption config reuses it): table, id -> row.

    Keyed by path, size and mtime, so a rewritten file is read again.
    """
    table = pq.read_table(stamp[0])
    cols = [c for c in ("sample_id", "image", "depth") if c in table.column_names]
    table = table.select(cols)
    return table, {sid: i for i, sid in enumerate(table["sample_id"].to_pylist())}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _depth(source: str, image: np.ndarray, clean_row: dict[str, Any]) -> np.ndarray | None:
    """Return the depth map the stage used, or ``None`` when it cannot be had here."""
    if source == "column":
        d = clean_row.get("depth")
        if not d or not d.get("bytes"):
            return None
        arr = read_depth_png(None, d["bytes"])
        arr[arr <= 0] = np.nan  # as pipeline.corrupt: 0 = unknown
        return arr
    from corruptions import pseudo_depth

    if source == f"pseudo:v{pseudo_depth.PSEUDO_DEPTH_VERSION}":
        return pseudo_depth.pseudo_depth(image)
    return None  # model:<method> (the user's file) or another pseudo-depth version


def recompute_shard(config: str, path: str, clean_path: str, meta: dict[str, Any],
                    fraction: float, sample_seed: int) -> dict[str, Any]:
    """Regenerate the sampled rows of one corruption shard (a dask task).

    Args:
        config: Config name.
        path: The published corruption shard.
        clean_path: The clean shard of the same name.
        meta: The config's ``manifest.json``.
        fraction: Share of rows to regenerate.
        sample_seed: Seed of the sample.

    Returns:
        ``{"problems": [...], "rows": regenerated, "skipped": {reason: count}}``.
    """
    sink = Findings(config, Path(path).name)
    skipped: dict[str, int] = {}
    try:
        rows = _recompute(sink, skipped, config, path, clean_path, meta, fraction, sample_seed)
    except Exception as exc:  # noqa: BLE001 - a malformed manifest or shard is a finding
        sink.add("recompute", f"cannot regenerate: {type(exc).__name__}: {exc}"[:300])
        rows = 0
    return {"problems": sink.close(), "rows": rows, "skipped": skipped}


def _recompute(sink: Findings, skipped: dict[str, int], config: str, path: str,
               clean_path: str, meta: dict[str, Any], fraction: float, sample_seed: int) -> int:
    from corruptions.registry import apply, get_registry, resolve_params, resolve_preset
    from corruptions.rng import derive_rng

    rows = 0
    try:
        table = pq.read_table(path, columns=["sample_id", "image", "params"])
        clean, index = _clean_rows(_stamp(clean_path))
    except Exception as exc:  # noqa: BLE001 - reported by the shard checks too
        sink.add("recompute", f"cannot read: {exc}"[:300])
        return 0
    corruption, severity = meta["corruption"], int(meta["severity"])
    spec = get_registry()[corruption]
    ids = table["sample_id"].to_pylist()
    chosen = [i for i, sid in enumerate(ids) if sampled(sample_seed, config, str(sid), fraction)]
    picked = table.take(chosen).to_pylist() if chosen else []
    for i, row in zip(chosen, picked, strict=True):
        sid = row["sample_id"]
        if sid not in index:
            continue  # the ids check reports it
        crow = clean.slice(index[sid], 1).to_pylist()[0]
        try:
            recorded = json.loads(row["params"]) if row["params"] else {}
            image = decode_image(crow["image"]["bytes"], what=f"clean row {sid}")
            aux: dict[str, Any] = {}
            source = recorded.get("_depth_source")
            if "depth" in spec.needs:
                depth = _depth(str(source), image, crow)
                if depth is None:
                    reason = f"depth source {source}"
                    skipped[reason] = skipped.get(reason, 0) + 1
                    continue
                aux["depth"] = depth
            if "source_rng" in spec.needs:  # the family's generator, shared by its configs
                aux["source_rng"] = derive_rng(meta["seed"], sid, spec.family, 0)
            rng = derive_rng(meta["seed"], sid, corruption, severity) if spec.stochastic else None
            result = apply(corruption, image, severity=severity, preset=meta["preset"], rng=rng,
                           rounding=meta.get("rounding", "truncate"), **aux)
            data = _encode_like(meta, result)
        except BenchsmithError as exc:
            skipped[str(exc)] = skipped.get(str(exc), 0) + 1
            continue
        except Exception as exc:  # noqa: BLE001 - a bad row or param is a finding
            sink.add("recompute", f"cannot regenerate {sid!r}: {type(exc).__name__}: {exc}"[:300],
                     i)
            continue
        rows += 1
        stored = (row.get("image") or {}).get("bytes")
        if stored != data:
            sink.add("recompute", f"image of {sid!r} is not what {corruption} severity "
                     f"{severity} gives from the clean row ({_how_differs(stored, result)})", i)
        used = resolve_params(corruption, severity=severity, preset=meta["preset"],
                              shape=image.shape)
        preset, scale = resolve_preset(spec, meta["preset"], image.shape)
        want = json.loads(json.dumps({**used, "_preset": preset, "_pixel_scale": scale},
                                     sort_keys=True, default=_jsonable))
        bad = sorted(k for k, v in want.items() if recorded.get(k) != v)
        if bad:
            sink.add("recompute", f"params of {sid!r} differ from what the recorded corruption/"
                     f"severity/preset give, at {bad}", i)
    return rows


def _how_differs(stored: bytes | None, result: np.ndarray) -> str:
    if not stored:
        return "no stored bytes"
    try:
        arr = decode_image(stored)
    except Exception:  # noqa: BLE001 - undecodable bytes are their own answer
        return "stored bytes do not decode"
    want = result[..., 0] if result.ndim == 3 and result.shape[2] == 1 else result
    if arr.shape != want.shape:
        return f"stored image is {arr.shape}, regenerated {want.shape}"
    diff = int(np.abs(arr.astype(np.int16) - want.astype(np.int16)).max())
    return "same pixels, other encoding bytes" if diff == 0 else f"pixels differ by up to {diff}"


def recompute_configs(root: Path, metas: Mapping[str, dict[str, Any]], report: Report, *,
                      fraction: float, seed: int, scheduler: str, workers: int,
                      progress: bool) -> None:
    """Regenerate a ``fraction`` of every corruption config's rows; findings go to ``report``.

    Args:
        root: The benchmark folder.
        metas: Config name -> well-formed ``manifest.json``.
        report: Findings and the ``recompute`` counts are added here.
        fraction: Share of rows, (0, 1].
        seed: Seed of the row sample.
        scheduler: Dask scheduler.
        workers: Worker count.
        progress: Show a progress bar.
    """
    from corruptions.registry import get_registry

    registry = get_registry()
    here = code_version()
    other: dict[str, int] = {}
    tasks = []
    for config, meta in metas.items():
        if meta.get("kind") != "corruption":
            continue
        parent = meta.get("clean_config")
        missing = [k for k in ("corruption", "severity", "preset", "seed") if k not in meta]
        if missing or meta.get("corruption") not in registry or parent not in metas:
            report.add("recompute", config, f"cannot regenerate: manifest.json lacks {missing} or "
                       "names an unknown corruption / absent clean config", "manifest.json")
            continue
        if meta.get("code_version") != here:
            other[str(meta.get("code_version"))] = other.get(str(meta.get("code_version")), 0) + 1
        for split in meta["splits"].values():
            for s in split["shards"]:
                path, clean = root / config / s["file"], root / str(parent) / s["file"]
                if path.is_file() and clean.is_file():
                    tasks.append((config, str(path), str(clean), meta, fraction, seed))
    tasks.sort(key=lambda t: t[2])  # by clean shard: consecutive tasks share the cached read
    results = run_tasks(recompute_shard, tasks, scheduler=scheduler, workers=workers,
                        desc="recompute", progress=progress)
    reasons: dict[str, int] = {}
    for res in results:
        report.problems.extend(res["problems"])
        report.recompute["rows"] += res["rows"]
        report.checks_run += res["rows"]
        for reason, n in res["skipped"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    report.recompute["skipped_rows"] += sum(reasons.values())
    report.notes += [f"recompute skipped {n} rows: {r}" for r, n in sorted(reasons.items())]
    report.notes += [f"{n} configs were built by code {v}, recomputed with {here}: a finding "
                     "there may be a code change, not tampering" for v, n in sorted(other.items())]
