"""pipeline.alloc: freed kernel temporaries are reused instead of faulted in again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_LOOP = """
import resource, sys
import numpy as np
from pipeline.alloc import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
x = np.ones((224, 224, 3))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):  # a kernel's pattern: a few 1.2 MB float64 temporaries per image
    y = x / 255.0
    z = y * 2.0 + y
    del y, z
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _LOOP, mode], capture_output=True, text=True,
                         check=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""})
    tuned, faults = out.stdout.split()
    return tuned, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_stops_refaulting_temporaries() -> None:
    """Without the setting, glibc maps and zeroes fresh pages for the temporaries again and
    again (hundreds of faults per image); with it, they come from the heap (a few dozen in
    all). Fails if the call stops reaching mallopt or the thresholds stop covering 1.2 MB."""
    _, default = _faults("default")
    tuned, faults = _faults("tuned")
    assert tuned == "True"
    assert default > 20_000, default  # ~300 pages x 2 temporaries x 200 loops, unless reused
    assert faults < default / 20, (faults, default)


def test_keep_freed_memory_is_idempotent() -> None:
    from pipeline.alloc import keep_freed_memory

    first = keep_freed_memory()
    assert keep_freed_memory() is first
