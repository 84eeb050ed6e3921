"""Output-folder ownership: benchsmith deletes or overwrites only files it wrote.

The proof is the marker ``<folder>/.benchsmith`` (JSON ``{"tool": "benchsmith", "files":
[relative paths]}``). :func:`prepare_output` claims a stage's output folder (refusing a
non-empty folder without the marker), removes temporary files a killed run left, removes the
owned files the new plan no longer writes (stale shards and configs) and records the planned
files *before* they are written, so a crash never leaves an unlisted benchsmith file;
:func:`refuse_overlap` refuses an output folder that overlaps the stage's inputs. Part of the
shared stage runner: :mod:`pipeline.stage` re-exports every name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from pipeline.errors import BenchsmithError
from pipeline.shards import atomic_write_json

__all__ = [
    "MARKER",
    "TOOL",
    "TEMP_RE",
    "OwnershipError",
    "read_marker",
    "write_marker",
    "is_owned",
    "is_plain_relative",
    "claim_folder",
    "pid_alive",
    "remove_temp_files",
    "refuse_overlap",
    "prepare_output",
]

MARKER = ".benchsmith"
TOOL = "benchsmith"
#: Temporary names of :func:`pipeline.shards.atomic_write_bytes` / ``write_shard``.
TEMP_RE = re.compile(r"^\..+\.(?P<pid>\d+)\.tmp$")


class OwnershipError(BenchsmithError):
    """benchsmith was asked to delete, overwrite or write outside what it owns."""


def read_marker(folder: Path) -> set[str] | None:
    """Relative paths the ``.benchsmith`` marker of ``folder`` lists, or ``None`` if unowned."""
    path = Path(folder) / MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return None
    files = data.get("files", [])
    if not isinstance(files, list):
        return set()
    # an edited marker must not make benchsmith delete anything outside the folder
    return {str(f) for f in files if isinstance(f, str) and is_plain_relative(f)}


def is_plain_relative(rel: str) -> bool:
    """Return whether ``rel`` is a relative path that stays inside its folder (no ``..``)."""
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\x00" not in rel


def write_marker(folder: Path, files: Iterable[str | Path]) -> None:
    """Write ``folder/.benchsmith`` listing ``files`` (relative paths, sorted)."""
    rel = sorted({Path(f).as_posix() for f in files})
    atomic_write_json(Path(folder) / MARKER, {"tool": TOOL, "files": rel})


def is_owned(folder: Path) -> bool:
    """Return whether ``folder`` carries a benchsmith ownership marker."""
    return read_marker(folder) is not None


def claim_folder(folder: Path, *, what: str = "output folder") -> set[str]:
    """Create or adopt ``folder`` as benchsmith's; return the files its marker lists.

    A missing or empty folder is created and marked. A non-empty folder without
    the marker is refused: benchsmith never writes into (or cleans) a folder it
    cannot prove it owns.

    Raises:
        OwnershipError: ``folder`` is a file, or non-empty and not benchsmith's.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OwnershipError(f"{what} {folder} is a file; pass a folder path")
    owned = read_marker(folder) if folder.is_dir() else None
    if owned is not None:
        return owned
    if folder.is_dir() and any(folder.iterdir()):
        sample = sorted(p.name for p in folder.iterdir())[:5]
        raise OwnershipError(
            f"{what} {folder} is not empty ({', '.join(sample)}, ...) and has no {MARKER} "
            "marker, so benchsmith did not write it and will not write into or clean it; "
            "choose a new or empty folder, or move its contents away (if an older benchsmith "
            "wrote it, delete it and rerun)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, [])
    return set()


def pid_alive(pid: int) -> bool:
    """Return whether process ``pid`` runs (our own pid counts as gone: no temp of ours yet)."""
    if pid == os.getpid():
        return False  # our own temp files cannot exist before we write them
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def remove_temp_files(folder: Path) -> list[Path]:
    """Remove the ``.<name>.<pid>.tmp`` files a killed run left under an owned ``folder``.

    Files of a process that is still running are kept (a concurrent writer).

    Returns:
        The removed paths.
    """
    removed = []
    for dirpath, _, files in os.walk(folder):
        for f in files:
            m = TEMP_RE.match(f)
            if m and not pid_alive(int(m.group("pid"))):
                p = Path(dirpath) / f
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _prune_empty(path: Path, root: Path) -> None:
    """Remove ``path``'s now-empty parent folders up to (not including) ``root``."""
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def refuse_overlap(out: Path | str, inputs: Iterable[Path | str], *, flag: str = "--out",
                   inputs_flag: str = "input") -> None:
    """Refuse an output folder that is, contains or sits inside one of the stage's inputs.

    A stage deletes the files it owns that its plan no longer writes, and reads every config
    under its inputs: an output folder overlapping an input would delete or re-read what the
    stage reads (``reannotate --clean data/pulled --out data/pulled`` deleted the clean config).

    Args:
        out: The stage's output folder.
        inputs: Its input folders.
        flag: How messages name the output option.
        inputs_flag: How messages name the input option.

    Raises:
        BenchsmithError: An overlap, naming both folders.
    """
    o = Path(os.path.abspath(out))
    for inp in inputs:
        i = Path(os.path.abspath(inp))
        if o == i or o in i.parents or i in o.parents:
            raise BenchsmithError(
                f"{flag} {out} overlaps the {inputs_flag} folder {inp}: the stage would delete or "
                "re-read what it reads; write to a folder of its own beside it "
                "(e.g. data/<stage>)")


def prepare_output(
    root: Path, planned: Iterable[Path | str], *, what: str = "output folder"
) -> set[str]:
    """Claim a stage's output folder for a run that writes ``planned``.

    Steps, in order: claim (or refuse) ``root``; remove temporary files a killed
    run left; refuse to overwrite a planned path that exists but is not in the
    marker (a file benchsmith did not write); delete owned files the plan no longer
    writes (stale shards, task records, whole stale configs) and the folders they
    leave empty; record the planned files in the marker *before* the stage writes
    them. Files the marker does not list are never touched.

    Args:
        root: The stage's output folder.
        planned: Every file the run will write, as paths under ``root`` (``root / ...``).
        what: How messages name the folder.

    Returns:
        The relative paths now listed in the marker.

    Raises:
        OwnershipError: ``root`` is not benchsmith's, a planned path escapes it, or
            a planned file exists without benchsmith having written it.
    """
    root = Path(root)
    owned = claim_folder(root, what=what)
    remove_temp_files(root)
    base = root.resolve()
    rel: set[str] = set()
    for p in planned:
        try:
            r = Path(p).resolve().relative_to(base)
        except ValueError:
            raise OwnershipError(
                f"{p} is outside the {what} {root}; refusing to write it"
            ) from None
        if r == Path("."):
            raise OwnershipError(f"{p} is the {what} itself, not a file in it")
        rel.add(r.as_posix())
    foreign = sorted(r for r in rel if r not in owned and (root / r).exists())
    if foreign:
        raise OwnershipError(
            f"{what} {root} holds {len(foreign)} file(s) benchsmith would overwrite but did not "
            f"write ({', '.join(foreign[:5])}); move them away and rerun"
        )
    for stale in sorted(owned - rel):
        path = root / stale
        if path.parent.resolve() != base and base not in path.parent.resolve().parents:
            continue  # reached through a link out of the folder: not benchsmith's to delete
        if path.is_file() or path.is_symlink():
            path.unlink()
            _prune_empty(path, root)
    write_marker(root, rel)
    return rel
