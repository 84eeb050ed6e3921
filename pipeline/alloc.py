"""Keep freed memory in the process for reuse instead of handing it back after every image.

A corruption kernel at 224 px allocates a dozen float64 temporaries of ~1.2 MB per image.
glibc's ``malloc`` serves blocks above its mmap threshold (128 KiB at start, raised only
as far as the largest block freed so far) with fresh ``mmap`` pages and trims the heap top
back to the system once more than 128 KiB are free, so a worker page-faults and zeroes the
same megabytes again on every call: ~40,000 minor faults per 300 calls, 5-9% of a corrupt
task's CPU time at 224 px (``benchmarks/results/corrupt_stage_95.md``). Fixing the
thresholds (``mallopt``) makes those blocks come from, and go back to, the heap.

This changes where memory comes from, never a computed value; on a C library without
``mallopt`` (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

#: glibc ``malloc.h`` parameter numbers.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: Blocks up to this size come from the heap (glibc's ceiling for the threshold on 64-bit).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the heap top kept before trimming, and the extra asked for on growth.
TRIM_THRESHOLD = 256 * 2**20
TOP_PAD = 16 * 2**20

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Set the allocator thresholds for this process once (idempotent, cheap after the first).

    Returns:
        ``True`` if glibc accepted all three settings, ``False`` where ``mallopt`` is
        missing or refused one (the process then keeps its defaults for that one).
    """
    global _done
    if _done is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            _done = False
        else:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _done = all(mallopt(param, value) == 1 for param, value in (
                (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                (_M_TOP_PAD, TOP_PAD)))
    return _done
