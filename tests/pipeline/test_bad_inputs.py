"""Each case of the bad-input corpus (``bad_input_cases``): a clear error or a counted quarantine.

The corpus rebuilds issue #14's list of bad sources, files, manifests and command
lines; each case runs through the real CLI entry point in-process. ``python
tests/pipeline/bad_input_cases.py`` prints the outcome counts by group (used to compare
a checkout before and after a change).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from bad_inputs import Case, shared

if not (shared() / "datasets").is_dir():  # the corpus mutates real files from shared/
    _REASON = (f"shared reference data not found at {shared()}: set BENCHSMITH_SHARED to the "
               "shared/ folder")
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{_REASON} (CI=true requires it: CI runs every test)", pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

from bad_input_cases import CASES, GOOD, run_case  # noqa: E402 - needs shared/ (above)


def _known_names() -> set[str]:
    from pipeline import manifest as m
    from pipeline.sources import SOURCES

    names = {opt for entry in SOURCES.values() for opt in entry.options}
    for table in (m.TOP_KEYS, m.SOURCE_KEYS, m.CORRUPT_KEYS, m.SUITE_KEYS, m.PREPROCESS_KEYS):
        names |= set(table)
    return names | {"datasets"}  # the library named in "re-export it with `datasets`"


HINT = re.compile(r"(?<!`)`([A-Za-z_][\w-]*)(?::|`)")


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(reason=case.owner, strict=False)] if case.owner else []
    return pytest.param(case, id=f"{case.group}-{case.id}", marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_refused_or_counted(case: Case, tmp_path: Path, shared_dir: Path) -> None:
    outcome, detail = run_case(case, tmp_path)
    assert outcome in GOOD, f"{case.id}: {outcome}\n{detail}"
    assert outcome == case.expect, f"{case.id}: expected {case.expect}, got {outcome}\n{detail}"
    if outcome == "error":
        assert "Traceback" not in detail and detail.strip(), detail
    unknown = {h for h in HINT.findall(detail) if h not in _known_names()}
    assert not unknown, f"{case.id}: the message names options that do not exist: {unknown}"
    if case.match is not None:
        assert re.search(case.match, detail), f"{case.id}: {case.match!r} not in\n{detail}"


def test_corpus_covers_every_group_of_the_issue() -> None:
    groups = {c.group for c in CASES}
    assert groups == {"decode", "parquet", "imagefolder", "cifar", "idx", "manifest", "cli"}
    assert len(CASES) >= 124 and len({c.id for c in CASES}) == len(CASES)
