"""Many ``derive_rng`` generators at a fraction of the cost, same streams.

:func:`corruptions.rng.derive_rng` builds ``PCG64(SeedSequence([seed,
stable_u32(sample_id), stable_u32(op), severity]))`` per image: about 12 us, most
of it in Python-level SeedSequence hashing and a fresh bit generator. A stage
needs one per image and config, so :func:`derive_rngs` computes the same
SeedSequence pool and PCG64 seeding arithmetic for a whole shard with NumPy
(vectorised over images) and loads each resulting 128-bit state into one reused
bit generator. The state of every generator equals ``derive_rng``'s exactly
(checked in ``tests/pipeline/test_corrupt_stage.py`` on thousands of ids), so
every draw is the same.

Reference: O'Neill, PCG (pcg-random.org, ``pcg_setseq_128_srandom_r``); NumPy
``numpy/random/bit_generator.pyx`` (``SeedSequence.mix_entropy``,
``generate_state``) and ``_pcg64.pyx`` (``PCG64._seed_seq``), read, not copied.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from corruptions.rng import derive_rng, stable_u32

__all__ = ["derive_rngs", "seed_states"]

_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = 0xCA01F9DD
_MIX_MULT_R = 0x4973F715
_POOL = 4
_M32 = 0xFFFFFFFF
_M128 = (1 << 128) - 1
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _hash_consts(count: int, init: int, mult: int) -> list[int]:
    """Return the running SeedSequence hash constant before each of ``count`` hashmix steps."""
    out, h = [], init
    for _ in range(count):
        out.append(h)
        h = (h * mult) & _M32
    return out


# mix_entropy uses 4 + 4 * 3 hashmix steps for a 4-word entropy and a 4-word pool.
_CONST_A = _hash_consts(_POOL + _POOL * (_POOL - 1), _INIT_A, _MULT_A)
_CONST_B = _hash_consts(2 * 4, _INIT_B, _MULT_B)


def _hashmix(value: np.ndarray, const: int) -> np.ndarray:
    value = value ^ np.uint64(const)
    value = (value * np.uint64((const * _MULT_A) & _M32)) & np.uint64(_M32)
    return value ^ (value >> np.uint64(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    diff = np.asarray(x * np.uint64(_MIX_MULT_L) - y * np.uint64(_MIX_MULT_R), dtype=np.uint64)
    r = diff & np.uint64(_M32)
    return r ^ (r >> np.uint64(16))


def seed_states(
    root_seed: int, sample_ids: Sequence[str], operation: str, severity: int
) -> list[tuple[int, int]]:
    """PCG64 ``(state, inc)`` of ``derive_rng(root_seed, sid, operation, severity)`` per id.

    Args:
        root_seed: Root seed, 0 <= seed < 2**32 (larger seeds have more entropy
            words; :func:`derive_rngs` falls back to ``derive_rng`` for them).
        sample_ids: Sample ids.
        operation: Registry key.
        severity: Severity, 0 <= severity < 2**32.

    Returns:
        One 128-bit ``(state, inc)`` pair per id, as NumPy's PCG64 holds them.
    """
    n = len(sample_ids)
    # uint64 lanes holding 32-bit values, so products wrap correctly after masking
    ent = [
        np.full(n, root_seed, np.uint64),
        np.fromiter((stable_u32(s) for s in sample_ids), np.uint64, n),
        np.full(n, stable_u32(operation), np.uint64),
        np.full(n, severity, np.uint64),
    ]
    k = 0
    pool = []
    for i in range(_POOL):
        pool.append(_hashmix(ent[i], _CONST_A[k]))
        k += 1
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], _hashmix(pool[src], _CONST_A[k]))
                k += 1
    words = []
    for i in range(8):  # generate_state(4, uint64) = 8 uint32 words from the cycled pool
        v = pool[i % _POOL] ^ np.uint64(_CONST_B[i])
        v = (v * np.uint64((_CONST_B[i] * _MULT_B) & _M32)) & np.uint64(_M32)
        words.append((v ^ (v >> np.uint64(16))).tolist())
    out = []
    for j in range(n):
        w = [words[i][j] for i in range(8)]
        s0, s1, i0, i1 = (w[0] | w[1] << 32, w[2] | w[3] << 32, w[4] | w[5] << 32,
                          w[6] | w[7] << 32)
        initstate, initseq = (s0 << 64) | s1, (i0 << 64) | i1
        inc = ((initseq << 1) | 1) & _M128
        state = inc  # 0 * MULT + inc
        state = (state + initstate) & _M128
        state = (state * _PCG_MULT + inc) & _M128
        out.append((state, inc))
    return out


def derive_rngs(
    root_seed: int, sample_ids: Sequence[str], operation: str, severity: int
) -> Iterator[np.random.Generator]:
    """Yield ``derive_rng(root_seed, sid, operation, severity)`` for every id, in order.

    The generators share one bit generator whose state is reset per id: each
    is valid until the next one is drawn (use them one image at a time, as
    the stage does; kernels never keep their generator).

    Args:
        root_seed: Root seed (>= 0).
        sample_ids: Sample ids.
        operation: Registry key.
        severity: Severity (>= 0).

    Yields:
        One generator per id, in the state ``derive_rng`` would give it.
    """
    if not (0 <= root_seed <= _M32 and 0 <= severity <= _M32):
        for sid in sample_ids:
            yield derive_rng(root_seed, sid, operation, severity)
        return
    bit_gen = np.random.PCG64(0)
    state = bit_gen.state
    for st, inc in seed_states(root_seed, sample_ids, operation, severity):
        state["state"] = {"state": st, "inc": inc}
        state["has_uint32"] = 0
        state["uinteger"] = 0
        bit_gen.state = state
        yield np.random.Generator(bit_gen)
