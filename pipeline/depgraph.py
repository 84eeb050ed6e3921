"""The import closure of a module inside ``pipeline/`` and ``corruptions/``.

DVC reruns a stage when one of its listed deps changes, so a stage must list
every source file its command can execute. :func:`import_closure` computes
that set from the code itself (static ``import`` statements, including the
ones inside functions, and dotted module names written as strings such as
``"pipeline.shift:parse_section"``, which the manifest loader imports by
name); ``tests/pipeline/test_dvc.py`` checks ``dvc.yaml`` against it.

Two string tables are dispatch points, not imports, and are skipped
(:data:`DISPATCH_TABLES`): the corruption registry's ``FAMILY_MODULES`` (a
``corrupt@<family>`` stage runs one family, named by its ``--family``) and the
CLI's ``COMMANDS`` (a stage runs the one sub-command its ``cmd`` names).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

__all__ = [
    "DISPATCH_TABLES",
    "PACKAGES",
    "code_deps",
    "import_closure",
    "main",
    "module_file",
    "stage_entry_files",
    "sync_dvc_yaml",
]

#: Top-level packages whose files are followed.
PACKAGES = ("pipeline", "corruptions")
#: (file, assigned name) of module-name tables that dispatch rather than import.
DISPATCH_TABLES = frozenset(
    {("corruptions/registry.py", "FAMILY_MODULES"), ("pipeline/cli.py", "COMMANDS")}
)


def module_file(root: Path, module: str) -> Path | None:
    """Return the source file of dotted ``module`` under ``root`` (``None``: not ours)."""
    parts = module.split(".")
    if parts[0] not in PACKAGES or not all(p.isidentifier() for p in parts):
        return None
    path = root.joinpath(*parts)
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _names(root: Path, path: Path) -> Iterator[str]:
    """Dotted names a file imports or names as a string."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root).as_posix()
    package = ".".join(path.relative_to(root).parent.parts)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        if isinstance(target, ast.Name) and (rel, target.id) in DISPATCH_TABLES:
            skipped |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # Only dotted names ("pipeline.shift:parse_section"): a bare word such as
            # "corruptions" in a message or a folder list is not an import.
            if id(node) not in skipped and ("." in node.value or ":" in node.value):
                yield node.value.split(":", 1)[0]


def _imports(root: Path, path: Path) -> set[Path]:
    stat = path.stat()
    return set(_imports_cached(root, path, stat.st_mtime_ns, stat.st_size))


@cache
def _imports_cached(root: Path, path: Path, mtime_ns: int, size: int) -> frozenset[Path]:
    """Return the imports of one file version (keyed by mtime and size: edits are seen)."""
    del mtime_ns, size
    found: set[Path] = set()
    for name in _names(root, path):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            file = module_file(root, ".".join(parts[:i]))
            if file is not None:
                found.add(file)
    return frozenset(found)


def import_closure(root: Path, starts: Iterable[str]) -> set[str]:
    """Every ``pipeline/``/``corruptions/`` file reachable from ``starts``.

    Args:
        root: The repository root.
        starts: Repository-relative source files (``"pipeline/pull.py"``).

    Returns:
        Repository-relative POSIX paths, ``starts`` included.

    Example:
        >>> root = Path(__file__).resolve().parents[1]
        >>> "pipeline/errors.py" in import_closure(root, ["pipeline/cli.py"])
        True
    """
    seen: set[Path] = set()
    todo = [root / s for s in starts]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(root, path) - seen)
    return {p.relative_to(root).as_posix() for p in seen}


def stage_entry_files(root: Path, cmd: str) -> list[str]:
    """Return the files a ``benchsmith <command> ... [--family F]`` stage starts from."""
    from pipeline.cli import COMMANDS

    words = cmd.split()
    command = words[words.index("benchsmith") + 1]
    start = module_file(root, COMMANDS[command][0])
    if start is None:
        raise ValueError(f"stage command {cmd!r}: no module for {command!r}")
    files = ["pipeline/cli.py", start.relative_to(root).as_posix()]
    if "--family" in words:
        files.append(f"corruptions/{words[words.index('--family') + 1]}.py")
    return files


def code_deps(root: Path, cmd: str) -> list[str]:
    """Return the code deps ``dvc.yaml`` lists for a stage command.

    ``pipeline`` whole (every stage's closure covers nearly all of it and the code
    version hashes it into the rows), then the exact ``corruptions/`` closure, a
    sub-package listed as one folder when every module of it is in the closure.
    """
    closure = import_closure(root, stage_entry_files(root, cmd))
    corr = {f for f in closure if f.startswith("corruptions/")}
    deps = set(corr)
    for folder in {Path(f).parent for f in corr if Path(f).parent != Path("corruptions")}:
        members = {p.relative_to(root).as_posix() for p in (root / folder).rglob("*.py")}
        if members <= corr:
            deps = (deps - members) | {folder.as_posix()}
    return ["pipeline", *sorted(deps)]


_STAGE = re.compile(r"^  ([A-Za-z0-9_-]+):\s*$")


def sync_dvc_yaml(root: Path, text: str) -> str:
    """Return ``dvc.yaml`` text with every ``benchsmith`` stage's code deps recomputed.

    Non-code deps (data folders, ``${manifest}``...) keep their order and come first;
    the code deps follow (:func:`code_deps`). Comments and layout elsewhere are kept.
    """
    import yaml

    stages = yaml.safe_load(text)["stages"]
    out: list[str] = []
    lines = text.splitlines()
    stage = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _STAGE.match(line)
        if m:
            stage = m.group(1)
        if line == "    deps:" and stage in stages and "benchsmith" in stages[stage]["cmd"]:
            j = i + 1
            while j < len(lines) and lines[j].startswith("      - "):
                j += 1
            old = [x[len("      - "):] for x in lines[i + 1 : j]]
            keep = [d for d in old if not d.startswith(PACKAGES)]
            out.append(line)
            out += [f"      - {d}" for d in keep + code_deps(root, stages[stage]["cmd"])]
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.depgraph [--write]``: check (or fix) dvc.yaml's code deps."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.depgraph", description=main.__doc__)
    parser.add_argument("dvc_yaml", nargs="?", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="rewrite the deps in place")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    path = args.dvc_yaml or root / "dvc.yaml"
    text = path.read_text()
    new = sync_dvc_yaml(root, text)
    if new == text:
        print(f"{path}: code deps match the import closures")
        return 0
    if args.write:
        path.write_text(new)
        print(f"{path}: code deps rewritten from the import closures")
        return 0
    import difflib

    sys.stdout.writelines(difflib.unified_diff(
        text.splitlines(True), new.splitlines(True), str(path), f"{path} (import closures)"))
    print(f"{path}: code deps differ from the import closures; run "
          "`python -m pipeline.depgraph --write`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
