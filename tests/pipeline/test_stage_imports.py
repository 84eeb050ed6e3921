"""No stage command imports another stage's module: shared machinery lives in the stage
runner (``pipeline.stage``) or a library module (e.g. ``pipeline.validation``)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from pipeline.cli import COMMANDS

#: ``build`` is the one command whose job is to run the other stages in order.
COMPOSERS = {"pipeline.build"}


def _imports(module: str) -> set[str]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text())
    found = set()
    for node in ast.walk(tree):  # function-level (lazy) imports count too
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_stage_imports_another_stage() -> None:
    stages = {module for module, _ in COMMANDS.values()}
    offenders = {module: sorted(_imports(module) & (stages - {module}))
                 for module in stages - COMPOSERS}
    assert {m: o for m, o in offenders.items() if o} == {}
