"""The ``publish`` stage: assemble config folders into one loadable benchmark folder.

Input: folders written by earlier stages (``data/pulled``, ``data/corrupted/*``,
``data/audit``, ...), searched for config folders (a folder holding
``manifest.json``). Output ``<out>/``: one folder per config (its shards and
``manifest.json``), ``README.md`` (the dataset card), ``contact_sheet.png``
when there are corruption configs, ``.benchsmith`` (the ownership marker: every
file benchsmith wrote) and ``benchmark.json`` (config list, seed, code version,
``complete: true`` and the sha256 of every other file), written last.

The folder is assembled as ``.<out>.benchsmith-tmp-<pid>`` beside ``out`` and
swapped into place, so ``out`` is always either the old complete benchmark or
the new one; a killed publish leaves only the marked temporary folder, which the
next publish removes. Nothing benchsmith did not write is deleted or replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.card import render_card
from pipeline.download import file_digest
from pipeline.errors import BenchsmithError
from pipeline.manifest import Manifest
from pipeline.shards import (
    atomic_write_bytes,
    atomic_write_json,
    list_shards,
    read_config_manifest,
    read_shard,
)
from pipeline.sources.hf import decode_image
from pipeline.stage import (
    MARKER,
    OwnershipError,
    contained,
    is_owned,
    is_plain_relative,
    link_or_copy,
    pid_alive,
    read_marker,
    refuse_overlap,
    write_marker,
)
from pipeline.version import code_version

__all__ = ["find_configs", "check_target", "publish", "contact_sheet_rows", "main"]

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
            if not _written_by_stage(m, root):
                continue
            name = m.parent.name
            if name in found and found[name] != m.parent:
                raise BenchsmithError(f"config {name!r} is in both {found[name]} and {m.parent}")
            found[name] = m.parent
    return found


def _written_by_stage(manifest: Path, root: Path) -> bool:
    """Return False when the nearest marked stage folder above ``manifest`` does not list it.

    A config-shaped folder someone else put into a stage folder is not published;
    stage folders without a marker (stages not yet on the runner) are trusted.
    """
    for folder in [manifest.parent.parent, *manifest.parent.parent.parents]:
        listed = read_marker(folder)
        if listed is not None:
            return manifest.relative_to(folder).as_posix() in listed
        if folder == root or root not in folder.parents:
            return True
    return True


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


def _tree(folder: Path) -> tuple[set[str], set[str]]:
    """Relative file paths and folder paths under ``folder``."""
    files: set[str] = set()
    dirs: set[str] = set()
    for dirpath, dnames, fnames in os.walk(folder):
        base = Path(dirpath).relative_to(folder)
        dirs.update((base / d).as_posix() for d in dnames)
        files.update((base / f).as_posix() for f in fnames)
    return files, dirs


def _legacy_owned(out: Path) -> set[str]:
    """Files a benchsmith without ownership markers provably wrote (its benchmark.json lists)."""
    try:
        info = json.loads((out / "benchmark.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return set()
    if not isinstance(info, dict) or not isinstance(info.get("configs"), list):
        return set()
    owned = {"benchmark.json", "README.md", "contact_sheet.png"}
    for config in info["configs"]:
        try:
            meta = json.loads((out / str(config) / "manifest.json").read_text())
            shards = [s["file"] for sp in meta["splits"].values() for s in sp["shards"]]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                AttributeError):
            continue
        owned.add(f"{config}/manifest.json")
        owned.update(f"{config}/{f}" for f in shards)
    return {f for f in owned if is_plain_relative(f)}  # a tampered file reaches nothing outside


def check_target(out: Path, *, force: bool = False) -> tuple[str, set[str]]:
    """Decide how ``out`` may be (re)placed and which of its files benchsmith owns.

    Returns:
        ``(mode, owned)``: ``"new"`` (missing or empty), ``"swap"`` (everything in it
        is benchsmith's: the new folder replaces it whole) or ``"merge"`` (``--force``
        over a folder that also holds other files: only benchsmith's are replaced).

    Raises:
        OwnershipError: ``out`` is a file, holds files benchsmith did not write
            (without ``--force``), or is not benchsmith's at all.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OwnershipError(f"publish --out {out} is a file; pass a folder path")
    if not out.is_dir() or not any(out.iterdir()):
        return "new", set()
    marker = read_marker(out)
    legacy = marker is None
    owned = (_legacy_owned(out) if force else set()) if marker is None else marker
    if legacy:
        if not owned:
            raise OwnershipError(
                f"publish --out {out} is not empty and has no {MARKER} marker, so benchsmith did "
                "not write it and will not replace or delete anything in it; publish into a new "
                "or empty folder, or move its contents away (a folder an older benchsmith "
                "published: --force replaces only the files its benchmark.json lists)"
            )
    owned = {f for f in owned if (out / f).is_file()}
    files, dirs = _tree(out)
    parents = {p.as_posix() for f in owned for p in Path(f).parents if p != Path(".")}
    foreign = sorted((files - owned - {MARKER}) | (dirs - parents))
    if not foreign and not legacy:
        return "swap", owned
    if not force:
        raise OwnershipError(
            f"publish --out {out} holds {len(foreign)} entries benchsmith did not write "
            f"({', '.join(foreign[:5])}); move them out, or pass --force to replace only "
            "benchsmith's own files and keep them"
        )
    return "merge", owned


def _remove_leftovers(out: Path) -> None:
    """Remove the temporary folders a killed publish of ``out`` left (marked, writer gone)."""
    for p in out.parent.glob(f".{out.name}.benchsmith-*"):
        m = re.search(r"-(\d+)$", p.name)
        if p.is_dir() and m and not pid_alive(int(m.group(1))) and is_owned(p):
            shutil.rmtree(p)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _swap_into_place(tmp: Path, out: Path, mode: str, owned: set[str]) -> None:
    """Put the assembled folder ``tmp`` at ``out``; the old folder goes only once it is there."""
    if mode == "new":
        if out.is_dir():
            out.rmdir()  # empty
        os.replace(tmp, out)
        return
    if mode == "swap":
        if _exchange(tmp, out):
            shutil.rmtree(tmp)  # now the old benchmark, all of it benchsmith's
            return
        old = out.parent / f".{out.name}.benchsmith-old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
        return
    # merge: other files stay; benchmark.json goes first and comes back last, so a
    # killed run leaves a folder that is visibly incomplete.
    (out / "benchmark.json").unlink(missing_ok=True)
    new_files, _ = _tree(tmp)
    for rel in sorted(new_files - {"benchmark.json", MARKER}):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / rel, out / rel)
    for rel in sorted(owned - new_files):
        (out / rel).unlink(missing_ok=True)
        parent = (out / rel).parent
        while parent != out:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    os.replace(tmp / MARKER, out / MARKER)
    os.replace(tmp / "benchmark.json", out / "benchmark.json")
    shutil.rmtree(tmp)


def publish(
    manifest: Manifest, inputs: list[Path], out: Path, *, force: bool = False
) -> dict[str, Any]:
    """Publish every config under ``inputs`` into ``out``; return ``benchmark.json`` content.

    The folder is assembled under a temporary sibling name (shards hard-linked from
    the stage folders where the filesystem allows, else copied), ``benchmark.json``
    is written last with ``complete: true`` and the sha256 of every file, and the
    folder then replaces ``out`` (the old one is removed only after). ``out`` must
    be new, empty or benchsmith's (its ``.benchsmith`` marker lists what it wrote);
    ``force`` replaces only benchsmith's files of a folder that also holds others.

    Raises:
        OwnershipError: ``out`` holds files benchsmith did not write.
        BenchsmithError: No config folders under ``inputs``, or a clash of names.
    """
    folders = find_configs(inputs)
    if not folders:
        raise BenchsmithError(f"no config folders (with manifest.json) under {inputs}")
    metas = {c: read_config_manifest(p) for c, p in folders.items()}
    order = sorted(metas, key=lambda c: (KIND_ORDER.get(metas[c].get("kind", ""), 9), c))
    out = Path(os.path.abspath(out))
    refuse_overlap(out, inputs)
    mode, owned = check_target(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out)
    tmp = out.parent / f".{out.name}.benchsmith-tmp-{os.getpid()}"
    tmp.mkdir()
    write_marker(tmp, [])  # claims the temporary folder before anything else is in it
    digests: dict[str, str] = {}
    for config in order:
        dst = contained(tmp, config, key=f"config {config!r} of {folders[config]}")
        for split in metas[config]["splits"].values():
            for s in split["shards"]:
                name = contained(dst, s["file"], key=f"{folders[config]}/manifest.json shards")
                link_or_copy(folders[config] / s["file"], name)
                digests[f"{config}/{s['file']}"] = s["sha256"]
        link_or_copy(folders[config] / "manifest.json", dst / "manifest.json")
    ordered = {c: metas[c] for c in order}
    sheet = None
    if any(m.get("kind") == "corruption" for m in metas.values()):
        from pipeline.contact_sheet import render_contact_sheet

        rows, labels = contact_sheet_rows(ordered, folders)
        render_contact_sheet(rows, column_labels=labels, path=tmp / "contact_sheet.png", scale=2)
        sheet = "contact_sheet.png"
    default = next((c for c in order if metas[c].get("kind") == "clean"), order[0])
    card = render_card(manifest.name, manifest.description, ordered, default=default,
                       contact_sheet=sheet, root=tmp)
    atomic_write_bytes(tmp / "README.md", card.encode())
    files, _ = _tree(tmp)
    for rel in files - {MARKER} - set(digests):
        digests[rel] = file_digest(tmp / rel, "sha256")
    info = {
        "name": manifest.name,
        "configs": order,
        "default": default,
        "seed": manifest.seed,
        "code_version": code_version(),
        "manifest": manifest.raw,
        "complete": True,
        "files": dict(sorted(digests.items())),
    }
    write_marker(tmp, [*digests, "benchmark.json"])
    atomic_write_json(tmp / "benchmark.json", info)
    _swap_into_place(tmp, out, mode, owned)
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
    parser.add_argument("--force", action="store_true",
                        help="replace benchsmith's files in a folder that also holds others "
                        "(never deletes files benchsmith did not write)")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    info = publish(manifest, args.inputs, args.out, force=args.force)
    print(f"published {len(info['configs'])} configs to {args.out}")
    return 0
