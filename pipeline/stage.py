"""The shared stage runner: CLI arguments, shard planning, resume, ownership and inputs.

Every stage (``pull``, ``corrupt``, ``slices``, ``shift``, ...) is a short recipe on
top of this module:

* **CLI** — :func:`add_common_args` (validated: ``--workers >= 1``, a known
  ``--scheduler``, ``--shard-size >= 1``; bad flags exit 2 with a message),
  :func:`skip_stage` / :func:`skip_outputs` for ``--optional`` stages.
* **Planning** — :func:`plan_shards` splits ``n`` rows into shard tasks named
  ``{split}-{i:05d}-of-{n:05d}.parquet``; :func:`fingerprint` is a task's identity
  (every input that changes bytes); :func:`shard_done` / :func:`record_shard`
  resume a crashed stage (a shard is reused when fingerprint and sha256 match).
* **Ownership** (:mod:`pipeline.ownership`, re-exported here) — benchsmith deletes
  or overwrites only files it wrote, proven by
  the marker ``<folder>/.benchsmith`` (JSON ``{"tool": "benchsmith", "files":
  [relative paths]}``). :func:`prepare_output` claims a stage's output folder
  (refusing a non-empty folder without the marker), removes temporary files a
  killed run left, removes the owned files the new plan no longer writes
  (stale shards and configs) and records the planned files *before* they are
  written, so a crash never leaves an unlisted benchsmith file.
* **Containment** — :func:`contained` resolves a config/output name inside its
  folder and refuses ``..``, ``/`` and absolute names, naming the manifest key.
* **Inputs** — :func:`input_hashes` hashes the local files a source reads
  (sha256, cached by path, size, mtime and ctime in ``$BENCHSMITH_CACHE``) so a
  content change reaches the task fingerprint and the provenance.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from pipeline.download import cache_dir, file_digest
from pipeline.errors import BenchsmithError
from pipeline.ownership import (
    MARKER,
    OwnershipError,
    claim_folder,
    is_owned,
    is_plain_relative,
    pid_alive,
    prepare_output,
    read_marker,
    refuse_overlap,
    remove_temp_files,
    write_marker,
)
from pipeline.parallel import SCHEDULERS
from pipeline.shards import (
    atomic_write_bytes,
    atomic_write_json,
    fingerprint,
    record_shard,
    shard_done,
    shard_name,
    write_config_manifest,
    write_shard,
)

__all__ = [
    "MARKER",
    "OwnershipError",
    "ShardPlan",
    "add_common_args",
    "positive_int",
    "scheduler_arg",
    "skip_outputs",
    "skip_stage",
    "plan_shards",
    "task_files",
    "resume",
    "finish_shard",
    "fingerprint",
    "shard_done",
    "record_shard",
    "write_config_manifest",
    "contained",
    "read_marker",
    "write_marker",
    "is_owned",
    "is_plain_relative",
    "claim_folder",
    "remove_temp_files",
    "pid_alive",
    "prepare_output",
    "refuse_overlap",
    "input_hashes",
    "display_path",
    "link_or_copy",
]

_ADDRESS_RE = re.compile(r"^(tcp|tls)://[^\s:/]+:\d{1,5}$")


# ----------------------------------------------------------------------------- CLI


def positive_int(text: str) -> int:
    """Parse an integer >= 1 for argparse (clear message otherwise).

    Example:
        >>> positive_int("3")
        3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def scheduler_arg(text: str) -> str:
    """Check a scheduler name for argparse: ``sync | threads | processes | local | tcp://host:port``.

    Example:
        >>> scheduler_arg("tcp://10.0.0.1:8786")
        'tcp://10.0.0.1:8786'
    """
    if text in SCHEDULERS or _ADDRESS_RE.match(text):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a scheduler; use one of {' | '.join(SCHEDULERS)} or the address of "
        "a dask.distributed scheduler (tcp://host:port)"
    )


def add_common_args(parser: argparse.ArgumentParser, *, shard_size: int | None = None) -> None:
    """Add the arguments every stage command shares, validated by argparse (exit 2).

    Args:
        parser: The stage's parser.
        shard_size: If given, also add ``--shard-size`` (rows per shard, >= 1) with
            this default.
    """
    parser.add_argument("--manifest", required=True, help="benchmark manifest (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="override a manifest value (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="override the manifest seed")
    parser.add_argument("--scheduler", default="threads", type=scheduler_arg,
                        help="sync | threads | processes | local | tcp://host:port")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="workers for local schedulers (>= 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--optional", action="store_true",
                        help="if the manifest lacks this stage's section, write an empty output "
                        "with a note and exit 0 (how dvc.yaml runs stages a manifest may not use)")
    if shard_size is not None:
        parser.add_argument("--shard-size", type=positive_int, default=shard_size,
                            help="rows per shard (>= 1)")


def skip_outputs(
    stage: str,
    manifest_path: str,
    *,
    json_paths: Sequence[Path | None] = (),
    png_paths: Sequence[Path | None] = (),
    html_paths: Sequence[Path | None] = (),
) -> None:
    """Write the side outputs (metrics, plot, report) of a skipped ``--optional`` stage.

    Each says, in its own format, that the manifest has no section for the stage.
    """
    from PIL import Image, ImageDraw

    note = f"{manifest_path} has no `{stage}:` section; nothing to do"
    for p in json_paths:
        if p is not None:
            atomic_write_json(Path(p), {"stage": stage, "skipped": note})
    for p in html_paths:
        if p is not None:
            atomic_write_bytes(
                Path(p), f"<!doctype html><title>{stage}</title><p>{note}</p>\n".encode()
            )
    for p in png_paths:
        if p is not None:
            img = Image.new("RGB", (8 * len(note) + 16, 32), "white")
            ImageDraw.Draw(img).text((8, 10), note, fill="black")
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            img.save(p)


def skip_stage(out: Path, stage: str, manifest_path: str,
               also: Iterable[Path | None] = ()) -> int:
    """Write the marker of a stage the manifest does not use and return exit status 0.

    DVC needs every stage's outputs to exist, so ``--optional`` stages leave
    ``<out>/stage.json`` saying why they did nothing. Configs an earlier run of the
    stage wrote there are removed (they would otherwise be published as current).
    ``also`` names side outputs the caller writes next (metrics, report); those inside
    ``out`` are claimed with it.
    """
    note = f"{manifest_path} has no `{stage}:` section; nothing to do"
    root = Path(out).resolve()
    inside = [Path(p) for p in also if p is not None and root in Path(p).resolve().parents]
    prepare_output(Path(out), [Path(out) / "stage.json", *inside],
                   what=f"{stage} output folder")
    atomic_write_json(Path(out) / "stage.json", {"stage": stage, "skipped": note, "configs": []})
    print(f"{stage}: {note}")
    return 0


# ------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class ShardPlan:
    """One shard task of a split: rows ``[start, stop)`` written to ``name``."""

    split: str
    index: int
    count: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        """The shard file name, ``{split}-{index:05d}-of-{count:05d}.parquet``."""
        return shard_name(self.split, self.index, self.count)


def plan_shards(split: str, num_rows: int, shard_size: int) -> list[ShardPlan]:
    """Split ``num_rows`` rows of ``split`` into shards of at most ``shard_size`` rows.

    An empty split still gets one (empty) shard, so every split is loadable.

    Example:
        >>> [(p.name, p.start, p.stop) for p in plan_shards("test", 5, 2)][-1]
        ('test-00002-of-00003.parquet', 4, 5)
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    count = max(1, -(-num_rows // shard_size))
    return [
        ShardPlan(split, i, count, i * shard_size, min(num_rows, (i + 1) * shard_size))
        for i in range(count)
    ]


def task_files(config_dir: Path, shard: str) -> list[Path]:
    """Return the files one shard task writes: the shard and its ``.tasks`` record."""
    return [Path(config_dir) / shard, Path(config_dir) / ".tasks" / f"{shard}.json"]


def resume(path: Path, task_fp: str) -> dict[str, Any] | None:
    """Return the record of the shard task at ``path`` if it can be reused, else ``None``.

    Reused means: its ``.tasks`` record has fingerprint ``task_fp`` and the shard on
    disk still has the recorded sha256 (see :func:`pipeline.shards.shard_done`).
    """
    path = Path(path)
    return shard_done(path.parent, path.name, task_fp)


def finish_shard(
    path: Path,
    columns: Mapping[str, Sequence[Any]],
    features: datasets.Features,
    *,
    split: str,
    task_fp: str,
    rejects: Sequence[Mapping[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """Write one shard atomically and its ``.tasks`` record; return the record.

    Args:
        path: Final shard path.
        columns: Column name -> values (``sample_id`` gives the row count).
        features: The shard's features.
        split: Split name recorded for the config manifest.
        task_fp: The task fingerprint (what :func:`resume` compares).
        rejects: Quarantined rows ``{"sample_id", "key", "reason"}``.
        **extra: More record fields (e.g. ``images`` signatures).
    """
    path = Path(path)
    sha = write_shard(path, columns, features)
    record = {
        "split": split,
        "file": path.name,
        "num_rows": len(columns["sample_id"]),
        "sha256": sha,
        "rejects": list(rejects),
        **extra,
        "fingerprint": task_fp,
    }
    record_shard(path.parent, path.name, record)
    return record


# --------------------------------------------------------------------- containment


def contained(root: Path, name: str, *, key: str) -> Path:
    """Return ``root / name`` after checking ``name`` is one plain path segment inside ``root``.

    Args:
        root: The output folder.
        name: A config or file name (e.g. from a ``config_name`` template).
        key: The manifest key it came from, for the message.

    Raises:
        OwnershipError: ``name`` is empty, absolute, ``.``/``..``, holds a path
            separator, or resolves outside ``root``.

    Example:
        >>> contained(Path("/tmp/out"), "fog_3", key="corrupt.suites[0].config_name").name
        'fog_3'
    """
    bad = (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or os.path.isabs(name)
    )
    target = Path(root) / str(name)
    if not bad:
        base = Path(root).resolve()
        resolved = target.resolve()
        bad = resolved.parent != base
    if bad:
        raise OwnershipError(
            f"{key}: {name!r} is not a plain folder name inside {root} (no '/', '..' or "
            "absolute paths); fix the name in the manifest"
        )
    return target


# -------------------------------------------------------------------------- inputs


def display_path(path: Path) -> str:
    """Return how provenance names a local input (machine-independent where possible).

    ``$BENCHSMITH_CACHE/...`` in the download cache; relative to the working folder
    when inside it or beside it (``../shared/...``, as CI clones lay data out); else
    absolute.

    Example:
        >>> display_path(Path.cwd() / "data" / "x.parquet")
        'data/x.parquet'
    """
    p = Path(path).resolve()
    cwd = Path.cwd().resolve()
    bases = ((cache_dir().resolve(), "$BENCHSMITH_CACHE/"), (cwd, ""), (cwd.parent, "../"))
    for base, label in bases:
        if base == Path(base.anchor):
            continue  # never "relative to /"
        try:
            return label + p.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def _hash_cache_path() -> Path:
    return cache_dir() / "input-hashes.json"


def input_hashes(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """sha256 and size of each local input file, in sorted display-path order.

    Hashes are cached by (resolved path, size, mtime_ns, ctime_ns, inode) in
    ``$BENCHSMITH_CACHE/input-hashes.json``, so a rebuild re-reads only changed
    files; any write to a file changes its ctime, so an in-place edit is never
    missed even if the mtime is reset.

    Returns:
        ``[{"path": display path, "bytes": size, "sha256": hex}, ...]``.
    """
    files = sorted({Path(p).resolve() for p in paths})
    if not files:
        return []
    cache_file = _hash_cache_path()
    try:
        cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    except (OSError, json.JSONDecodeError):
        cache = {}
    if not isinstance(cache, dict):
        cache = {}
    changed = False
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            raise BenchsmithError(f"input file {f} cannot be read ({exc}); fix the path") from exc
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        hit = cache.get(str(f))
        if isinstance(hit, list) and len(hit) == 5 and hit[:4] == key:
            sha = hit[4]
        else:
            sha = file_digest(f, "sha256")
            cache[str(f)] = [*key, sha]
            changed = True
        out.append({"path": display_path(f), "bytes": st.st_size, "sha256": sha})
    if changed:
        try:
            atomic_write_json(cache_file, cache)
        except OSError:
            pass  # a read-only cache only costs speed
    return sorted(out, key=lambda d: d["path"])


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same filesystem), else copy it; ``dst`` must not exist.

    Every benchsmith write replaces files by rename, never in place, so a linked
    file is never changed under the other name.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
